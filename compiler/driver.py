"""The compile driver: the one path from Loom source to any stage, used by the CLI and the Python API.

    source ─parse→ ast ─check→ checked program ─irgen→ loom
        ─(semantic pipelines, chosen by the ops present: ad.* → autodiff;
          on devices, spmd.sharding_constraint → sharding-propagation, shard-partition: stage spmd)→
        loom-opt ─→ linalg ─→ bufferized ─→ loops ─→ llvm-dialect ─translate→ llvm ─O3→ llvm-opt → asm | obj

The stage table (`STAGES`) says which named pipeline produces each IR stage from the one before;
`SEMANTIC_PIPELINES` are the passes that give a module its meaning (derivative ops are the
program's meaning, not an optimization) and so run before any pipeline a module goes through.
A `Lowered` is one specialization of a function (argument types bound) at any stage; it is run by
an executor from `EXECUTORS` (the reference executor, native code, …), loaded by name.

Every phase records its wall time in one list, so `--timing` accounts for all of it: parsing,
checking, IR generation and its verification, every pass and its verification, LLVM, execution.

Importing the driver (and so `import compiler`) imports the front end only: xDSL (IR generation,
the pass manager) and LLVM are imported by the functions that need them, so that checking a
program needs neither and a call served from the compile cache needs no xDSL
(docs/performance.md, "Compile time").
"""

from __future__ import annotations

import gc
import importlib
import os
import threading
import time
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from compiler.diagnostics import LoomError, SourceRegistry, span_of
from compiler.frontend import ast as A
from compiler.frontend.derivatives import is_hidden
from compiler.frontend.parser import parse, parse_file
from compiler.frontend.typecheck import Checker, Instance
from compiler.frontend.types import TensorT, flat_types
from compiler.artifact import Artifact, c_header, signature, tables  # noqa: F401  (the driver's API)
from compiler.pipeline_config import NAMED_PIPELINES, env_options, verify_compiled_default

if TYPE_CHECKING:
    from xdsl.dialects.builtin import ModuleOp

    from compiler.pipeline import PassManager

# One compilation at a time: xDSL's IR, the passes' patterns and LLVM's set-up are not made for
# threads; compiling is Python (the GIL) anyway, so the lock costs no throughput.
COMPILE_LOCK = threading.RLock()


# ------------------------------------------------------------------ stages
@dataclass(frozen=True)
class Stage:
    name: str
    kind: str  # "ast" | "ir" (an xDSL module) | "text" (LLVM's) | "object" (machine code)
    passes: str  # the named pipeline that produces this IR stage from the previous one
    help: str


STAGES: dict[str, Stage] = {s.name: s for s in (
    Stage("ast", "ast", "", "the syntax tree, with source positions"),
    Stage("loom", "ir", "none", "the loom dialect as generated (derivative ops not yet expanded)"),
    Stage("spmd", "ir", "none", "the per-device program of a global-view function (after shard-partition)"),
    Stage("loom-opt", "ir", "loom-opt", "after inlining, folding, CSE and DCE (derivatives built)"),
    Stage("linalg", "ir", "loom-to-linalg", "linalg/tensor/arith/math on tensors, fused"),
    Stage("bufferized", "ir", "linalg-to-buffers", "memrefs: our bufferization and deallocation"),
    Stage("loops", "ir", "buffers-to-loops", "scf loops over memrefs"),
    Stage("llvm-dialect", "ir", "loops-to-llvm", "the llvm dialect"),
    Stage("llvm", "text", "", "LLVM IR as translated (llvmlite)"),
    Stage("llvm-opt", "text", "", "LLVM IR after O3 for the host CPU"),
    Stage("asm", "text", "", "host assembly"),
    Stage("obj", "object", "", "an object file (and a C header)"),
)}
IR_STAGES = tuple(n for n, s in STAGES.items() if s.kind == "ir")
TEXT_STAGES = tuple(n for n, s in STAGES.items() if s.kind == "text")


def pipeline_to(stage: str, start: str = "loom") -> str:
    """The passes that take IR at stage `start` to IR stage `stage` (named pipelines, in order)."""
    names = IR_STAGES[IR_STAGES.index(start) + 1: IR_STAGES.index(stage) + 1]
    return ",".join(STAGES[s].passes for s in names if STAGES[s].passes != "none") or "none"


NATIVE_PIPELINE = pipeline_to("llvm-dialect")


# ------------------------------------------------------------------ semantic pipelines
@dataclass(frozen=True)
class SemanticPipeline:
    """Passes that run before any pipeline when a module contains one of `ops` (those with
    `devices` only when the program runs on the devices of its mesh)."""

    name: str
    ops: frozenset[str]
    passes: str
    devices: bool = False


SEMANTIC_PIPELINES = (
    # differentiation, then inlining the derivative functions and resolving their tapes
    SemanticPipeline("autodiff", frozenset({"ad.jvp", "ad.vjp"}), "autodiff,loom-inline,ad-tape-forwarding"),
    # global-view functions on devices: a sharding for every value, then the per-device program (stage `spmd`);
    # in one process the constraints are identities and nothing is partitioned
    SemanticPipeline("sharding", frozenset({"spmd.sharding_constraint"}),
                     "loom-inline,sharding-propagation,shard-partition", devices=True),
)


def semantic_passes(module: ModuleOp, devices: bool = False) -> list[str]:
    present = {op.name for op in module.walk()}
    return [p.passes for p in SEMANTIC_PIPELINES if p.ops & present and (devices or not p.devices)]


def with_semantics(module: ModuleOp, spec: str, devices: bool = False) -> str:
    """`spec` preceded by the semantic pipelines this module needs (`devices`: run on the devices
    of its mesh, so global-view functions are partitioned)."""
    spec = "" if spec.strip() == "none" else spec.strip()
    return ",".join(semantic_passes(module, devices) + ([spec] if spec else [])) or "none"


def user_pipeline(module: ModuleOp, spec: str) -> str:
    """A `-p` given to `loom compile --emit=loom` or `loom opt`: a named pipeline other than `none`
    builds the semantic passes first; an explicit list of passes runs exactly as written (so
    `-p ad-jvp` shows that one pass, and `-p none` the derivative ops as generated)."""
    named = spec.strip() in NAMED_PIPELINES and spec.strip() != "none"
    return with_semantics(module, spec) if named else spec


def native_pipeline(module: ModuleOp, loom_passes: str = "loom-opt", stage: str = "llvm-dialect",
                    devices: bool = False) -> str:
    """The passes from generated IR to an IR stage of the native backend: the semantic pipelines,
    the loom-level passes `loom_passes` (a user's `-p`; `loom-opt` always follows, since the backend
    needs calls inlined), then the backend's stages up to `stage`. Stage `spmd` is the semantic
    pipelines on devices alone."""
    if stage == "spmd":
        return with_semantics(module, "none", devices=True)
    spec = NAMED_PIPELINES.get(loom_passes.strip(), loom_passes).strip()
    head = "loom-opt" if spec in ("", NAMED_PIPELINES["loom-opt"]) else f"{spec},loom-opt"
    backend = pipeline_to(stage, "loom-opt")
    return with_semantics(module, head + ("" if backend == "none" else "," + backend), devices)


# ------------------------------------------------------------------ front end
@dataclass
class CheckedProgram:
    """A parsed and checked program: its syntax tree, the checker (instances, structs), the source."""

    ast: A.Module
    checker: Checker
    source: str
    path: str
    times: list[tuple[str, float]] = field(default_factory=list)

    @property
    def functions(self) -> dict[str, A.FuncDef]:
        """The user's functions (helpers the compiler made, e.g. for inline derivatives, are hidden)."""
        return {n: f for n, f in self.checker.funcs.items() if not is_hidden(n)}

    def function(self, name: str) -> A.FuncDef:
        f = self.functions.get(name)
        if f is None:
            raise LoomError(f"'{self.path}' has no function '{name}' (it has: {', '.join(self.functions) or 'none'})")
        return f

    def specialize(self, name: str, types: list) -> Instance:
        with COMPILE_LOCK:  # the checker records its instances
            return self.checker.specialize(name, list(types))


def check(module: A.Module, source: str, path: str, times: list | None = None) -> CheckedProgram:
    times = [] if times is None else times
    t0 = time.perf_counter()
    checker = Checker(module)
    checker.check_all()
    times.append(("typecheck", time.perf_counter() - t0))
    return CheckedProgram(module, checker, source, path, times)


def check_file(path: str) -> CheckedProgram:
    t0 = time.perf_counter()
    module = parse_file(path)
    times = [("parse", time.perf_counter() - t0)]
    return check(module, SourceRegistry.text(path), path, times)


def check_source(source: str, name: str = "<string>") -> CheckedProgram:
    t0 = time.perf_counter()
    module = parse(source, name)
    return check(module, source, name, [("parse", time.perf_counter() - t0)])


def generate(program: CheckedProgram, instances: list[Instance], times: list | None = None) -> ModuleOp:
    """The IR of these instances (and what they call), verified."""
    from compiler.frontend.irgen import generate as irgen
    from compiler.pipeline import verify

    t0 = time.perf_counter()
    module = irgen(program.checker, instances)
    verify(module)
    if times is not None:
        times.append(("irgen (and verify)", time.perf_counter() - t0))
    return module


def check_pipeline(spec: str) -> None:
    """A `LoomError` now if `spec` names an unknown pass or gives bad options. A named pipeline is
    valid as written (tests/test_driver.py parses each), so checking one needs no xDSL."""
    if spec.strip() in NAMED_PIPELINES:
        return
    from compiler.pipeline import parse_passes

    parse_passes(spec)


def backend_passes() -> frozenset[str]:
    """The passes of the stages after loom-opt: they lower to buffers and loops, so they need every
    shape known (shapes are static inside a compilation, DESIGN.md §4)."""
    from compiler.pipeline import parse_passes

    names = IR_STAGES[IR_STAGES.index("loom-opt") + 1:]
    loom_level = {p.name for p in parse_passes(STAGES["loom-opt"].passes)}  # canonicalize, cse, … run anywhere
    return frozenset(p.name for s in names for p in parse_passes(STAGES[s].passes)) - loom_level


def require_static_shapes(module: ModuleOp, first_pass: str) -> None:
    """Generic IR (a `?` dimension, from `loom compile --emit=loom` without shapes) cannot be lowered:
    say so at the first op with a dynamic shape, and how to specialize."""
    from xdsl.dialects.builtin import TensorType, UnrankedTensorType

    for op in module.walk():
        for v in (*op.results, *(a for r in op.regions for b in r.blocks for a in b.args)):
            t = v.type
            if isinstance(t, (TensorType, UnrankedTensorType)) and (
                    isinstance(t, UnrankedTensorType) or any(d < 0 for d in t.get_shape())):
                raise LoomError(f"'{first_pass}' lowers to buffers and loops, which needs static shapes, but this "
                                f"IR has a value of type {t} (generic IR): specialize it first, e.g. `loom compile "
                                f"f.loom --emit=linalg --entry F --shape N=1024`, or call it from Python with arrays",
                                span_of(op))


def run_passes(module: ModuleOp, spec: str, pm_options: dict | None = None, times: list | None = None,
               initial: str = "irgen", verify_last: bool = True) -> PassManager:
    """Run the passes `spec` on `module`; `verify_last=False`: not even the final verification
    (unless verify-each verifies after every pass, or `pm_options` say otherwise)."""
    from compiler.pipeline import PassManager, parse_passes

    passes = parse_passes(spec)
    lowering = next((p.name for p in passes if p.name in backend_passes()), None)
    if lowering is not None:
        require_static_shapes(module, lowering)
    pm = PassManager(passes, **{**env_options(), "verify_last": verify_last, **(pm_options or {})})
    with young_collections_only():
        pm.run(module, initial=initial)
    if times is not None:
        times.extend(pm.all_times())
    return pm


@contextmanager
def young_collections_only():
    """Python's garbage collector without full (generation-2) collections, as while compiling: the
    IR being built is a growing heap of long-lived objects that each full collection scans again
    (about 0.5 s CPU of the MLP training step's first call, 4 collections). Garbage that dies young
    (most of it) is still collected by generations 0 and 1, so memory stays bounded (+5 % peak on
    that compile); what reaches generation 2 waits for the first full collection afterwards."""
    thresholds = gc.get_threshold()
    gc.set_threshold(thresholds[0], thresholds[1], NO_FULL_COLLECTIONS)
    try:
        yield
    finally:
        gc.set_threshold(*thresholds)


NO_FULL_COLLECTIONS = 1 << 30  # generation 2's threshold (collections of generation 1 between full ones)


# ------------------------------------------------------------------ one specialization
class Lowered:
    """One specialization of a function (its argument types bound), at any stage.

    `module(pipeline)` is the loom-level IR after a pipeline (semantic passes first), `stage(s)` the
    IR at a backend stage, `artifact()` the LLVM module, `as_text(stage)` any of them printed.
    Results without pass-manager options are cached; `times` collects every phase's wall time.
    `devices=True` asks for the program the devices of the mesh run (global-view functions
    partitioned); the simulated and MPI executors ask for it.
    """

    def __init__(self, program: CheckedProgram, inst: Instance):
        self.program = program
        self.inst = inst
        self.times: list[tuple[str, float]] = []
        self._modules: dict[str, ModuleOp] = {}
        self._artifacts: dict = {}
        self._prepared: dict = {}

    @property
    def name(self) -> str:
        return self.inst.fdef.name

    def generate(self) -> ModuleOp:
        from runtime.cache import source_digest

        source_digest()  # the sources as they are when this process first compiles (a cache key's part)
        return generate(self.program, [self.inst], self.times)

    @property
    def symbol(self) -> str:
        if not self.inst.symbol:
            self.generate()  # IR generation names the specialized function
        return self.inst.symbol

    def module(self, pipeline: str = "none", pm_options: dict | None = None, devices: bool = False) -> ModuleOp:
        """The loom-level IR after `pipeline` (semantic pipelines first)."""
        return self._cached(("loom", pipeline, devices), pm_options, lambda m: with_semantics(m, pipeline, devices))

    def stage(self, stage: str, pm_options: dict | None = None, loom_passes: str = "loom-opt",
              devices: bool = False, verify: bool = True, keep: bool = True) -> ModuleOp:
        """The IR at a stage of the native pipeline (`loom_passes`: the loom-level passes to use);
        `verify=False`: not verified after the last pass (for LLVM, which verifies what it gets);
        `keep=False`: not kept for later calls."""
        if STAGES.get(stage) is None or STAGES[stage].kind != "ir":
            raise LoomError(f"'{stage}' is not an IR stage (IR stages: {', '.join(IR_STAGES)})")
        if stage == "loom":  # exactly as generated: derivative ops not yet expanded
            return self._cached(("loom", None), pm_options, lambda m: "none")
        devices = devices or stage == "spmd"
        return self._cached((stage, loom_passes, devices) + (() if verify else ("unverified",)), pm_options,
                            lambda m: native_pipeline(m, loom_passes, stage, devices), verify, keep)

    def _cached(self, key, pm_options, spec: Callable[[ModuleOp], str], verify: bool = True,
                keep: bool = True) -> ModuleOp:
        keep = keep and not pm_options
        with COMPILE_LOCK:
            if keep and key in self._modules:
                return self._modules[key]
            m = self.generate()
            run_passes(m, spec(m), pm_options, self.times, verify_last=verify)
            if keep:
                self._modules[key] = m
            return m

    def signature(self):
        """The native boundary types, from the checked instance (no IR needed: a cache hit skips
        IR generation altogether)."""
        from runtime.abi import Signature, ValueType

        def vt(t: TensorT) -> ValueType:
            return ValueType("i1" if t.dtype == "bool" else t.dtype, tuple(t.shape))

        return Signature(tuple(map(vt, flat_types(self.inst.param_types))),
                         tuple(map(vt, flat_types(self.inst.result_types))))

    def artifact(self, pm_options: dict | None = None, loom_passes: str = "loom-opt", devices: bool = False,
                 library=None):
        """This specialization taken through LLVM (translated and optimized). With `library` (the
        JIT's `runtime.kernel_library.KernelLibrary`), the matmul kernels it has compiled before are
        declared, not built; such an artifact (whose text lacks their code) is not kept."""
        from runtime import kernel_library

        keep = not pm_options and library is None
        art = self._artifacts.get((loom_passes, devices)) if keep else None
        if art is None:
            with COMPILE_LOCK, young_collections_only(), kernel_library.using(library):  # IR generation, passes, translation
                module = self.stage("llvm-dialect", pm_options, loom_passes, devices, verify=verify_compiled_default(),
                                    keep=library is None)
                art = Artifact(module, self.symbol, self.signature(), self.times, library)
            if keep:
                self._artifacts[(loom_passes, devices)] = art
        return art

    def kernel_library(self, loom_passes: str = "loom-opt", store=None):
        """A kernel library for one compilation by the JIT (`store`: the disk cache, or None)."""
        from runtime import jit
        from runtime.kernel_library import KernelLibrary

        return KernelLibrary(jit.cache_key("kernels", loom_passes, NATIVE_PIPELINE), store)

    def cache_key(self, loom_passes: str = "loom-opt") -> str:
        """What determines the compiled code: the source, the function, its argument types and the
        pipeline (plus, in `runtime.jit.cache_key`, the compiler and LLVM versions and the CPU)."""
        from runtime import jit

        return jit.cache_key(self.program.source, self.program.path, self.name, repr(self.inst.param_types),
                             repr(self.signature()), loom_passes, NATIVE_PIPELINE)

    def prepared(self, executor) -> Callable[[list], tuple]:
        """The callable `executor` makes of this specialization (made once per executor)."""
        key = executor.key()
        fn = self._prepared.get(key)
        if fn is None:
            with COMPILE_LOCK:
                fn = self._prepared.get(key)
                if fn is None:
                    fn = self._prepared[key] = executor.prepare(self)
        return fn

    def compiled(self, cache: bool | None = None) -> Callable[[list], tuple]:
        """The native function (the `native` executor's; compiled once)."""
        return self.prepared(executor("native", cache=cache_enabled(cache)))

    def as_text(self, stage: str = "loom", locations: bool = False) -> str:
        s = STAGES.get(stage)
        if s is None or s.kind not in ("ir", "text"):
            printable = [n for n, x in STAGES.items() if x.kind in ("ir", "text")]
            raise LoomError(f"unknown stage '{stage}' (stages: {', '.join(printable)})")
        if s.kind == "text":
            return self.artifact().text(stage)
        from compiler.pipeline import print_module

        return print_module(self.stage(stage), locations)


# ------------------------------------------------------------------ executors
# name → (module, class): loaded on first use, so importing the driver does not import LLVM.
EXECUTORS = {
    "eager": ("runtime.executors", "EagerExecutor"),
    "native": ("runtime.executors", "NativeExecutor"),
    "simulated": ("runtime.simulated", "SimulatedExecutor"),  # every device of a mesh, in one process
    "mpi": ("runtime.mpi", "MPIExecutor"),  # every device of a mesh, one MPI rank each
}


def executor(name: str, **options):
    """An executor by name (`eager`, `native`, …) with its options."""
    if name not in EXECUTORS:
        raise LoomError(f"unknown executor '{name}' (executors: {', '.join(EXECUTORS)})")
    module, cls = EXECUTORS[name]
    return getattr(importlib.import_module(module), cls)(**options)


def cache_enabled(cache: bool | None) -> bool:
    """`cache=None` means: when LOOM_CACHE_DIR is set."""
    return bool(os.environ.get("LOOM_CACHE_DIR")) if cache is None else cache
