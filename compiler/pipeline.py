"""Named pipelines and the pass manager: run passes over a module, verifying after each one,
printing or dumping the IR between passes and timing them (`--print-ir-after-all`, `--dump-dir`,
`--timing`). Pipelines are strings in MLIR's syntax, e.g. `loom-inline,canonicalize,cse`."""

from __future__ import annotations

import io
import os
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TextIO

from xdsl.context import Context
from xdsl.dialects import arith, builtin, cf, func, linalg, llvm, math, memref, scf, tensor, vector
from xdsl.dialects.builtin import ModuleOp
from xdsl.passes import ModulePass
from xdsl.printer import Printer
from xdsl.utils.arg_spec import parse_pipeline

from compiler.diagnostics import LoomError, span_of
from compiler.passes import PASSES, get_pass
from compiler.pipeline_config import NAMED_PIPELINES
from compiler.verifier import first_failure
from dialects.ad import AD
from dialects.arith_ext import ArithExt
from dialects.llvm_ext import LlvmExt
from dialects.memref_ext import MemrefExt
from dialects.loom import Loom


def _bufferization():
    from xdsl.dialects.bufferization import Bufferization

    return Bufferization


def _shard():
    from dialects.shard_ext import SHARD

    return SHARD


def _spmd():
    from dialects.spmd import SPMD

    return SPMD


# the dialects of distributed programs, loaded when IR that uses them is parsed (importing them costs
# ~80 ms, which a program that does not distribute need not pay: docs/performance.md, "Compile time")
LAZY_DIALECTS = {"bufferization": _bufferization, "shard": _shard, "spmd": _spmd}


def make_context() -> Context:
    ctx = Context(allow_unregistered=False)
    for d in (builtin.Builtin, func.Func, arith.Arith, scf.Scf, cf.Cf, tensor.Tensor, linalg.Linalg,
              memref.MemRef, math.Math, vector.Vector, llvm.LLVM, LlvmExt, ArithExt, MemrefExt, Loom, AD):
        ctx.load_dialect(d)
    for name, load in LAZY_DIALECTS.items():
        ctx.register_dialect(name, load)
    return ctx


def parse_passes(spec: str) -> list[ModulePass]:
    """`a,b{x=1}` (or a named pipeline) → pass instances; unknown names are a clear error."""
    spec = NAMED_PIPELINES.get(spec.strip(), spec).strip()
    if not spec:
        return []
    passes = []
    try:
        specs = list(parse_pipeline(spec))
    except Exception as e:  # xDSL raises its own parse errors
        raise LoomError(f"invalid pass pipeline '{spec}': {e}") from None
    for s in specs:
        if s.name in NAMED_PIPELINES:
            passes.extend(parse_passes(NAMED_PIPELINES[s.name]))
            continue
        if s.name not in PASSES:
            raise LoomError(f"unknown pass '{s.name}' (known: {', '.join(sorted(PASSES))})")
        cls = get_pass(s.name)  # an import error here is a bug in Loom, not a bad option
        try:
            passes.append(cls.from_pass_spec(s))
        except Exception as e:
            raise LoomError(f"bad options for pass '{s.name}': {e}") from None
    return passes


def print_module(module: ModuleOp, locations: bool = False) -> str:
    out = io.StringIO()
    Printer(stream=out, print_debuginfo=locations).print_op(module)
    return out.getvalue() + "\n"


def verify(module: ModuleOp, after: str | None = None, parts: Sequence[str] = (), exact: bool = True) -> None:
    """Verify (in time linear in the IR's size); on failure name the first failing op's source
    location (not just the message) and the pass `after` which it ran (`exact=False`: the last of
    several passes run without verifying in between). `parts`: the parts of a partial conversion
    that have run since the IR last verified (see `PassManager`)."""
    failure = first_failure(module)
    if failure is None:
        return
    culprit, message = failure
    where = ""
    if after and exact:
        where = f" after pass '{after}' (a bug in that pass)"
    elif after:
        where = (f" after the passes up to '{after}' (a bug in one of them: --verify-each or LOOM_VERIFY_EACH=1 "
                 "verifies after each pass and names it)")
    if parts:
        whole = get_pass(parts[-1]).PART_OF
        missing = [q for q in get_pass(whole).PARTS if q not in parts]
        if missing:
            raise LoomError(f"the IR after '{after}' is a partial conversion: {', '.join(parts)} "
                            f"{'is one' if len(parts) == 1 else 'are some'} of the parts of '{whole}', which leave "
                            f"the IR type-inconsistent until all of them have run (missing: {', '.join(missing)}); "
                            f"run -p {whole}, or all its parts in the order {','.join(get_pass(whole).PARTS)}")
    raise LoomError(f"invalid IR{where}: {message}", span_of(culprit))


@dataclass
class PassManager:
    passes: list[ModulePass]
    verify_each: bool = True
    verify_last: bool = True  # without verify_each: verify once, after the last pass
    print_after_all: bool = False
    print_before: set[str] = field(default_factory=set)
    print_after: set[str] = field(default_factory=set)
    dump_dir: str | None = None
    timing: bool = False
    locations: bool = False
    stream: TextIO = field(default_factory=lambda: sys.stdout)
    times: list[tuple[str, float]] = field(default_factory=list)
    verify_time: float = 0.0

    def _show(self, module: ModuleOp, header: str) -> None:
        self.stream.write(f"// -----// IR Dump {header} //----- //\n")
        self.stream.write(print_module(module, self.locations))

    def _dump(self, module: ModuleOp, index: int, name: str) -> None:
        if not self.dump_dir:
            return
        path = os.path.join(self.dump_dir, f"{index:02d}-{name}.mlir")
        try:
            os.makedirs(self.dump_dir, exist_ok=True)
            # never through a link planted in the directory: O_NOFOLLOW fails on a symlink
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | getattr(os, "O_NOFOLLOW", 0), 0o644)
        except FileExistsError:
            raise LoomError(f"--dump-dir '{self.dump_dir}' exists and is not a directory") from None
        except OSError as e:
            why = "it is a symbolic link" if os.path.islink(path) else (e.strerror or str(e))
            raise LoomError(f"cannot write the IR dump '{path}': {why}") from None
        with os.fdopen(fd, "w") as f:
            f.write(print_module(module, locations=True))

    def run(self, module: ModuleOp, ctx: Context | None = None, initial: str = "input") -> ModuleOp:
        ctx = ctx or make_context()
        self._dump(module, 0, initial)
        parts: list[str] = []  # a partial conversion's parts run since the IR last verified
        for i, p in enumerate(self.passes, 1):
            if p.name in self.print_before:
                self._show(module, f"Before {p.name}")
            t0 = time.perf_counter()
            p.apply(ctx, module)
            self.times.append((p.name, time.perf_counter() - t0))
            # a pass that is one part of a conversion (PART_OF) leaves IR that verifies only once
            # the other parts have run too: verify after the last of consecutive parts
            whole = getattr(type(p), "PART_OF", None)
            parts = parts + [p.name] if whole else []
            inside = whole and i < len(self.passes) and getattr(type(self.passes[i]), "PART_OF", None) == whole
            if self.verify_each and not inside:
                self._verify(module, p.name, parts)
            if self.print_after_all or p.name in self.print_after:
                self._show(module, f"After {p.name}")
            self._dump(module, i, p.name)
        if not self.verify_each and self.verify_last and self.passes:
            self._verify(module, self.passes[-1].name, parts, exact=len(self.passes) == 1)  # without verify-each: once
        return module

    def _verify(self, module: ModuleOp, after: str, parts: Sequence[str] = (), exact: bool = True) -> None:
        t0 = time.perf_counter()
        try:
            verify(module, after, parts, exact)
        finally:
            self.verify_time += time.perf_counter() - t0

    def all_times(self) -> list[tuple[str, float]]:
        """Each pass's wall time, then the verification after the passes as one row."""
        return self.times + ([("verify (after the passes)", self.verify_time)] if self.verify_time else [])
