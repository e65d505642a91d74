"""Diagnostics: every error about a program names `file:line:col`, shows the line and a caret.

The compiler raises `LoomError` subclasses; the CLI prints `err.render()` and exits 1. A Python
traceback is only ever shown for a *compiler bug* (`InternalCompilerError`), and then it says so.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from xdsl.ir import Operation


@dataclass(frozen=True)
class Span:
    """A range of source text: 1-based line and column, end exclusive."""

    file: str
    line: int
    col: int
    end_line: int
    end_col: int

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.col}"


def span_of(op: Operation) -> Span | None:
    """The source position an op carries (its `file:line:col` location), if any."""
    # xDSL is loaded whenever there is an op; the front end, which imports this module, runs without it
    from xdsl.dialects.builtin import FileLineColLoc

    loc = op.location
    if isinstance(loc, FileLineColLoc):
        line, col = loc.line.data, loc.column.data
        return Span(loc.filename.data, line, col, line, col + 1)
    return None


class SourceRegistry:
    """Source texts by file name, so diagnostics can quote the offending line. Only texts the
    compiler itself read are quoted (the program, the .mlir given to `loom opt`): a file name in an
    MLIR `loc(...)` or in cached metadata is just a name, never a file to open (F08)."""

    _texts: dict[str, str] = {}

    @classmethod
    def add(cls, name: str, text: str) -> None:
        cls._texts[name] = text

    @classmethod
    def text(cls, name: str) -> str:
        return cls._texts.get(name, "")

    @classmethod
    def line(cls, name: str, line: int) -> str | None:
        text = cls._texts.get(name)
        if text is None:
            return None
        lines = text.splitlines()
        if 1 <= line <= len(lines):
            return lines[line - 1]
        return None


def render(span: Span | None, severity: str, message: str) -> str:
    """`file:line:col: severity: message`, then the source line and a caret under the span."""
    if span is None:
        return f"{severity}: {message}"
    out = [f"{span}: {severity}: {message}"]
    src = SourceRegistry.line(span.file, span.line)
    if src is not None:
        src = src.replace("\t", " ")
        col = max(span.col, 1)
        if span.end_line == span.line and span.end_col > span.col:
            width = span.end_col - span.col
        else:
            width = 1
        width = max(1, min(width, len(src) - col + 1)) if len(src) >= col else 1
        out.append("  " + src)
        out.append("  " + " " * (col - 1) + "^" + "~" * (width - 1))
    return "\n".join(out)


@dataclass
class Note:
    span: Span | None
    message: str


class LoomError(Exception):
    """Base of every error Loom reports to a user (program errors, bad inputs, run-time errors)."""

    kind = "error"

    def __init__(self, message: str, span: Span | None = None, notes: list[Note] | None = None):
        super().__init__(message)
        self.message = message
        self.span = span
        self.notes = list(notes or [])

    @property
    def file(self) -> str | None:
        return self.span.file if self.span else None

    @property
    def line(self) -> int | None:
        return self.span.line if self.span else None

    @property
    def column(self) -> int | None:
        return self.span.col if self.span else None

    def render(self) -> str:
        parts = [render(self.span, "error", self.message)]
        for n in self.notes:
            parts.append(render(n.span, "note", n.message))
        return "\n".join(parts)

    @property
    def diagnostic(self) -> str:
        return self.render()

    def __str__(self) -> str:
        return self.render()


class LoomSyntaxError(LoomError):
    """The text is not a Loom program (lexing, parsing, indentation, encoding)."""


class LoomTypeError(LoomError):
    """The program is well-formed but ill-typed (types, shapes, names, unsupported use)."""


class LoomRuntimeError(LoomError):
    """An error raised while running a program (index out of range, `bound` exceeded)."""


class LoomInputError(LoomError):
    """The arguments given to a Loom function do not match its signature."""


class InternalCompilerError(Exception):
    """A bug in Loom itself: shown with a traceback and a request to report it."""
