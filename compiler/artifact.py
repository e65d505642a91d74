"""A specialization taken through LLVM (`Artifact`): its LLVM IR, the whole module after O3 for the
text stages and `--emit=obj`, and for the JIT the object files of its codegen units
(`runtime/codegen_units.py`: the matmul kernels compiled apart and reused); with the tables that
the llvm conversions recorded (check sites, print formats) and the C header of `--emit=obj`.
LLVM is imported by the methods that use it (`compiler.driver` imports this module)."""

from __future__ import annotations

import functools
import time
from typing import TYPE_CHECKING

from compiler.diagnostics import LoomError

if TYPE_CHECKING:
    from xdsl.dialects.builtin import ModuleOp


def tables(module: ModuleOp) -> tuple[list, list]:
    """The run-time check sites and print formats recorded by the llvm conversions."""
    from xdsl.dialects.builtin import ArrayAttr

    from runtime.abi import ValueType

    sites = [[a.data for a in entry.data] for entry in module.attributes.get("loom.error_sites", ArrayAttr([])).data]
    prints = [(entry.data[0].data, [ValueType.from_ir(t) for t in entry.data[1].data])
              for entry in module.attributes.get("loom.prints", ArrayAttr([])).data]
    return sites, prints


def signature(module: ModuleOp, symbol: str):
    """The boundary types of `@symbol`, read from loom-level IR (a generic function has none)."""
    from xdsl.dialects import func

    from runtime.abi import Signature, ValueType

    for op in module.ops:
        if isinstance(op, func.FuncOp) and op.sym_name.data == symbol:
            ft = op.function_type
            return Signature(tuple(ValueType.from_ir(t) for t in ft.inputs),
                             tuple(ValueType.from_ir(t) for t in ft.outputs))
    raise LoomError(f"the module has no function '@{symbol}'")


class Artifact:
    """One specialization taken through LLVM: IR texts, object code and (lazily) machine code. The
    JIT compiles it in codegen units (`runtime/codegen_units.py`: the matmul kernels apart, and
    reused from earlier compilations); the text stages and `--emit=obj` optimize the whole module."""

    def __init__(self, llvm_module: ModuleOp, symbol: str, sig, times: list | None = None, library=None):
        from runtime import jit

        self.symbol, self.signature = symbol, sig
        self.library = library  # the JIT's kernel library: the kernels declared from it are linked in
        self.sites, self.prints = tables(llvm_module)
        self.times = times if times is not None else []
        t0 = time.perf_counter()
        self.llvm_ir = jit.translate(llvm_module)
        self.times.append(("translate to LLVM IR (llvmlite)", time.perf_counter() - t0))

    @functools.cached_property
    def optimized(self):
        """The whole module after O3 (the text stages, `--emit=obj`)."""
        from runtime import jit

        t0 = time.perf_counter()
        mod = jit.optimize(self.llvm_ir)
        self.times.append(("LLVM O3 (whole module)", time.perf_counter() - t0))
        return mod

    def text(self, stage: str) -> str:
        from runtime import jit

        if stage == "llvm":
            return self.llvm_ir
        if stage == "llvm-opt":
            return str(self.optimized)
        return jit.assembly(self.optimized)

    def standalone_object(self) -> bytes:
        """The object code with the run-time libraries it needs linked in (`--emit=obj`)."""
        from runtime import jit

        return jit.standalone_object(self.optimized)

    def objects(self, store=None) -> list[bytes]:
        """The object files of the codegen units: the program's, then its kernels' (found in this
        process's memory or in `store`, an ObjectCache, when compiled before)."""
        from runtime import codegen_units, jit

        t0 = time.perf_counter()
        program = [0.0]  # the program's unit: LLVM's time on it, a row of its own in `--timing`

        def compile_unit(text: str, kernel: bool = False) -> bytes:
            t = time.perf_counter()
            try:
                return jit.compile_unit(text, kernel=kernel)
            finally:
                if not kernel:
                    program[0] += time.perf_counter() - t

        units = codegen_units.split(self.llvm_ir, jit.compiler_identity())
        objects, found = codegen_units.compile_units(units, compile_unit, store)
        declared = []
        if self.library is not None:
            self.library.record(units)
            declared = self.library.objects(units)
        lines = units[0].text.count("\n")
        what = f"{len(units) - 1} kernel units, {found} compiled before, {len(declared)} declared"
        self.times.append((f"LLVM O3 + codegen: the program's unit ({lines} lines of LLVM IR)", program[0]))
        self.times.append((f"LLVM O3 + codegen ({what})", time.perf_counter() - t0 - program[0]))
        return objects + declared

    def compiled(self, store=None):
        """(the native function, its object files)."""
        from runtime import jit

        objects = self.objects(store)
        t0 = time.perf_counter()
        fn = jit.CompiledFunction(jit.NativeModule(objects=objects), self.symbol, self.signature, self.sites,
                                  self.prints)
        self.times.append(("load", time.perf_counter() - t0))
        return fn, objects


def c_header(source: str, entries: dict, pool: bool = False) -> str:
    """A C header declaring compiled entry points (`loom compile --emit=obj`); `pool`: the object
    holds the thread pool (its parallel loops run on 1 thread unless the program sets more)."""
    lines = [f"/* Generated by loom from {source}. Each function returns 0 on success or the number",
             " * of the run-time check that failed; results are written to the out pointers, and a failing",
             " * check stores the values its message shows in error_values. A program may define",
             " * `int32_t loom_interrupt`: setting it to 1 makes a running call return (a nonzero status)",
             " * at its next loop iteration. */",
             "#pragma once", "#include <stdbool.h>", "#include <stdint.h>", ""]
    if pool:
        lines += ["/* Parallel loops run on a thread pool linked into the object (link with -lpthread). Threads",
                  " * per loop, the calling thread included: 1 until the program calls this (1 to 256). */",
                  "void loom_parallel_set_threads(int64_t threads);",
                  "/* How long a thread of the pool polls for the next loop before it sleeps, in nanoseconds",
                  " * (2,000,000 until the program calls this; 0: it sleeps at once). */",
                  "void loom_parallel_set_spin(int64_t nanoseconds);", ""]
    for name, (sig, params) in entries.items():
        lines.append(sig.c_declaration(name, params))
    return "\n".join(lines) + "\n"
