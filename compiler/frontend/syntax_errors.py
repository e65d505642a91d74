"""Syntax errors at the right `file:line:col`: what lark reports badly (tabs, NUL bytes, absurd
nesting, unclosed brackets, bad indentation) found by scanning the source, and lark's own errors
(`UnexpectedToken`) turned into messages a user can act on."""

from __future__ import annotations

from lark.exceptions import UnexpectedToken

from compiler.diagnostics import LoomSyntaxError, Span

MAX_NESTING = 200

TOKEN_NAMES = {
    "_NL": "end of line", "_INDENT": "indentation", "_DEDENT": "end of block", "$END": "end of file",
    "NAME": "a name", "NUMBER": "a number", "INT": "an integer", "STRING": "a string",
    "LPAR": "'('", "RPAR": "')'", "LSQB": "'['", "RSQB": "']'", "COLON": "':'", "COMMA": "','",
    "EQUAL": "'='", "DOT": "'.'", "AT": "'@'", "_ARROW": "'->'", "ADD_OP": "'+' or '-'",
    "MUL_OP": "an operator", "COMP_OP": "a comparison", "AUGOP": "'+='", "_POW": "'**'",
}


def describe(tok_type: str) -> str:
    if tok_type in TOKEN_NAMES:
        return TOKEN_NAMES[tok_type]
    return tok_type.lower()


def scan(text: str):
    """Each character as (offset, line, column, char, kind): kind is "code", "string" (inside a
    string literal, quotes included) or "comment". Strings and comments end at a newline."""
    line, col, quote, comment = 1, 1, None, False
    for i, ch in enumerate(text):
        if ch == "\n":
            quote, comment = None, False
            yield i, line, col, ch, "code"
            line, col = line + 1, 1
            continue
        if comment:
            kind = "comment"
        elif quote:
            kind = "string"
            if ch == quote:
                quote = None
        elif ch in "\"'":
            quote, kind = ch, "string"
        elif ch == "#":
            comment, kind = True, "comment"
        else:
            kind = "code"
        yield i, line, col, ch, kind
        col += 1


def precheck(text: str, file: str) -> None:
    """Reject what lark would report badly: tabs, NUL bytes, absurd nesting."""
    depth = 0
    for _, line, col, ch, kind in scan(text):
        if ch == "\t" and kind != "comment":
            raise LoomSyntaxError("tab character: Loom indents and separates with spaces only",
                                  Span(file, line, col, line, col + 1))
        if ch == "\x00":
            raise LoomSyntaxError("NUL byte in source file (is this a binary file?)",
                                  Span(file, line, col, line, col + 1))
        if kind == "code" and ch in "([":
            depth += 1
            if depth > MAX_NESTING:
                raise LoomSyntaxError(f"brackets nested more than {MAX_NESTING} deep",
                                      Span(file, line, col, line, col + 1))
        elif kind == "code" and ch in ")]":
            depth = max(0, depth - 1)


def offset(text: str, line: int, col: int) -> int:
    lines = text.split("\n")
    return sum(len(x) + 1 for x in lines[: line - 1]) + col - 1


def unclosed(text: str, file: str, before: int) -> LoomSyntaxError | None:
    """'(' was never closed: the first bracket still open at the end of the file, if it opens
    before offset `before` (so the error lark saw is a consequence of it)."""
    stack: list[tuple[int, int, int, str]] = []
    for i, line, col, ch, kind in scan(text):
        if kind == "code" and ch in "([":
            stack.append((i, line, col, ch))
        elif kind == "code" and ch in ")]" and stack:
            stack.pop()
    if not stack or stack[0][0] >= before:
        return None
    _, line, col, ch = stack[0]
    return LoomSyntaxError(f"'{ch}' was never closed", Span(file, line, col, line, col + 1))


TOPLEVEL_ONLY = ("def", "struct", "mesh", "const")


def token_error(e: UnexpectedToken, text: str, file: str) -> LoomSyntaxError:
    tok = e.token
    if tok.type == "$END":
        return unclosed(text, file, len(text)) or eof_error(text, file)
    lines = text.splitlines()
    line = tok.line if tok.line is not None else 1
    col = tok.column if tok.column is not None else 1
    still_open = unclosed(text, file, offset(text, line, col))
    if still_open is not None:
        return still_open
    if tok.type == "_INDENT":  # reported at the newline before it: point at the indented line
        for n in range(line + 1, len(lines) + 1):
            stripped = lines[n - 1].lstrip(" ")
            if stripped and not stripped.startswith("#"):
                c = len(lines[n - 1]) - len(stripped) + 1
                return LoomSyntaxError("unexpected indent", Span(file, n, c, n, c + 1))
    prev = [x.split("#")[0].rstrip() for x in lines[: line - 1]]
    prev = [x for x in prev if x.strip()]
    here = lines[line - 1] if 1 <= line <= len(lines) else ""
    at_line_start = col == len(here) - len(here.lstrip(" ")) + 1
    if prev and prev[-1].endswith(":") and tok.type not in ("_INDENT", "_NL", "_DEDENT") and at_line_start:
        return LoomSyntaxError("expected an indented block after ':'", Span(file, line, col, line, col + 1))
    src = lines[line - 1] if 1 <= line <= len(lines) else ""
    first = src.split()[0] if src.split() else ""
    indent = len(src) - len(src.lstrip(" "))
    if first in TOPLEVEL_ONLY and indent > 0 and col > indent + 1:
        c = len(src) - len(src.lstrip(" ")) + 1
        return LoomSyntaxError(f"'{first}' is only allowed at the top level of a file (it cannot be nested)",
                               Span(file, line, c, line, c + len(first)))
    what = {"_NL": "end of line", "_DEDENT": "end of block"}.get(tok.type, repr(str(tok)))
    expected = sorted(describe(t) for t in e.expected if not t.startswith("__"))
    msg = f"unexpected {what}"
    if 0 < len(expected) <= 6:
        msg += ", expected " + " or ".join(expected)
    if tok.type in ("_NL", "_DEDENT") and 1 <= line <= len(lines):
        col = len(lines[line - 1].split("#")[0].rstrip()) + 1
    width = 1 if tok.type in ("_NL", "_DEDENT") else max(1, len(str(tok)))
    return LoomSyntaxError(msg, Span(file, line, col, line, col + width))


def eof_error(text: str, file: str) -> LoomSyntaxError:
    lines = text.rstrip("\n").splitlines() or [""]
    line = len(lines)
    col = len(lines[-1]) + 1
    depth = sum(text.count(c) for c in "([") - sum(text.count(c) for c in ")]")
    msg = "unexpected end of file" + (" (unclosed bracket)" if depth > 0 else "")
    return LoomSyntaxError(msg, Span(file, line, col, line, col + 1))


def dedent_line(text: str) -> int:
    """The first line whose indentation matches no enclosing level."""
    levels = [0]
    depth = 0
    for i, raw in enumerate(text.splitlines(), 1):
        stripped = raw.lstrip(" ")
        if depth == 0 and stripped and not stripped.startswith("#"):
            ind = len(raw) - len(stripped)
            if ind > levels[-1]:
                levels.append(ind)
            else:
                while ind < levels[-1]:
                    levels.pop()
                if ind != levels[-1]:
                    return i
        depth += sum(stripped.count(c) for c in "([") - sum(stripped.count(c) for c in ")]")
        depth = max(depth, 0)
    return 1
