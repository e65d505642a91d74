"""The native engine: llvm-dialect IR → llvmlite → LLVM O3 for the host CPU → machine code.

- `translate(module)`: xDSL's `convert_module` (plus our llvm-dialect extensions) to LLVM IR text;
- `optimize(ir)`: parse, verify and run LLVM's O3 pipeline (loop and SLP vectorization on) with the
  host's CPU name and features;
- `NativeModule`: an MCJIT engine holding the machine code, built from an optimized module or from
  a cached object file, kept alive as long as the compiled function that uses it;
- `cache_key`: a hash of everything that determines compiled code (the caller's parts: source,
  function, argument signature, pipeline; and `compiler_identity()`: Loom's version and a hash of
  its sources, xDSL's and llvmlite's versions, the CPU)
  naming its entry in the on-disk cache (`runtime/object_cache.py`).
Native code reports run-time errors through its status; `loom_rt_print` calls back into Python.
"""

from __future__ import annotations

import ctypes
import hashlib
import importlib
import os
import re
import signal
import sys
import threading
from dataclasses import dataclass, field

import llvmlite
import llvmlite.binding as llvm

from runtime import abi, perf_map
from runtime.cache import source_digest, xdsl_version
from runtime.malloc import tune_malloc
from runtime.abi import INTERRUPT_FLAG

_lock = threading.Lock()
_state: dict[str, object] = {}
LOOM_VERSION = "0.4"


# LLVM tunes Intel's AVX-512 server cores to vectorize loops 256 bits wide (`prefer-256-bit`: on
# Skylake-X, heavy 512-bit code lowered the clock). The matmul kernels use 512-bit vectors anyway, and
# softmax and layer norm ran 15-21 % faster 512 bits wide on an Emerald Rapids core
# (docs/performance.md, "Vector width"); on other CPUs the flag changes nothing.
TUNING = "-prefer-256-bit"


def target_features() -> str:
    """The host CPU's features, and our tuning of LLVM's code generation for it."""
    return llvm.get_host_cpu_features().flatten() + "," + TUNING


def new_target_machine() -> llvm.TargetMachine:
    """A target machine for the host CPU (an MCJIT engine takes ownership of the one it gets)."""
    target = llvm.Target.from_default_triple()
    return target.create_target_machine(cpu=llvm.get_host_cpu_name(), features=target_features(),
                                        opt=3, codemodel="jitdefault")


def _init() -> llvm.TargetMachine:
    with _lock:
        tm = _state.get("tm")
        if tm is None:
            llvm.initialize_native_target()
            llvm.initialize_native_asmprinter()
            llvm.initialize_native_asmparser()  # the thread pool's spin loop has inline asm (`pause`)
            tm = new_target_machine()
            _state["tm"] = tm
            _state["print_cb"] = _PRINT_CB
            llvm.add_symbol("loom_rt_print", ctypes.cast(_PRINT_CB, ctypes.c_void_p).value)
            tune_malloc()  # compiled code's buffers reused from call to call (runtime/malloc.py)
        return tm


def target_machine() -> llvm.TargetMachine:
    return _state.get("tm") or _init()


def cpu_key() -> str:
    return f"{llvm.get_default_triple()}|{llvm.get_host_cpu_name()}|{target_features()}"


# ---------------------------------------------------------------- print callback
_print_tables = threading.local()


@ctypes.CFUNCTYPE(None, ctypes.c_int64, ctypes.c_void_p)
def _PRINT_CB(index, values):  # pragma: no cover - exercised through compiled programs
    from runtime.format import format_value

    fmt, types = _print_tables.current[index]
    ptrs = (ctypes.c_void_p * max(len(types), 1)).from_address(values)
    vals = [format_value(abi.read_value(ptrs[k], t)) for k, t in enumerate(types)]
    print(fmt.format(*vals), file=sys.stdout, flush=True)


# ---------------------------------------------------------------- Ctrl-C
# Compiled loops poll their module's flag `loom_interrupt` (`loom-interrupt-checks`). While a
# compiled call runs on the main thread, SIGINT goes to a native handler that sets the flag of the
# running module (a Python handler could not run until the call returns); the call's failing
# "interrupted" check frees its buffers and returns, and the call path raises KeyboardInterrupt.
_SIGINT_HANDLER_IR = """
@loom_rt_interrupt_target = global ptr null
define void @loom_rt_sigint(i32 %sig) {
  %flag = load atomic ptr, ptr @loom_rt_interrupt_target monotonic, align 8
  store atomic volatile i32 1, ptr %flag monotonic, align 4
  ret void
}
"""
_libc = ctypes.CDLL(None)
_libc.signal.restype = ctypes.c_void_p
_libc.signal.argtypes = [ctypes.c_int, ctypes.c_void_p]
_SIG_DFL, _SIG_IGN = 0, 1  # <signal.h>'s dispositions, as `signal()` returns them


def _sigint_handler() -> tuple[int, ctypes.c_void_p]:
    """The native handler's address and its target pointer (compiled once)."""
    h = _state.get("sigint")
    if h is None:
        native = NativeModule(optimize(_SIGINT_HANDLER_IR))
        target = ctypes.c_void_p.from_address(native.engine.get_global_value_address("loom_rt_interrupt_target"))
        h = _state["sigint"] = (native.address("loom_rt_sigint"), target, native)
    return h[0], h[1]


def _route_sigint(flag: int) -> int | None:
    """Send SIGINT to the native handler, which sets the `int32_t` at `flag`; returns the previous
    handler, for `_restore_sigint`. Not from other threads (the handler is the process's), and not
    where SIGINT is ignored (it stays so): then None, and nothing changed."""
    if threading.get_ident() != threading.main_thread().ident:
        return None
    address, target = _sigint_handler()
    target.value = flag
    previous = _libc.signal(signal.SIGINT, address)
    if previous == _SIG_IGN:
        _libc.signal(signal.SIGINT, previous)
        return None
    return previous or _SIG_DFL


def _restore_sigint(previous: int) -> None:
    _libc.signal(signal.SIGINT, previous)


# ---------------------------------------------------------------- LLVM
def translate(module) -> str:
    """llvm-dialect module → LLVM IR text."""
    from xdsl.backend.llvm.convert import convert_module

    from dialects import llvm_ext

    llvm_ext.install()
    _init()
    return sorted_fast_math(str(convert_module(module, fallback_target_triple=llvm.get_default_triple())))


# xDSL keeps an op's fast-math flags in a frozenset and writes them in its iteration order, which
# changes with the process's hash seed ("fadd reassoc contract" or "fadd contract reassoc")
_FAST_MATH = re.compile(r"\b(fadd|fsub|fmul|fdiv|frem|fneg|fcmp|call|select|phi)((?: (?:nnan|ninf|nsz|arcp|contract|"
                        r"afn|reassoc|fast)\b)+)")


def sorted_fast_math(ir: str) -> str:
    """LLVM IR with every op's fast-math flags in sorted order: the same module translates to the same
    text in every process (codegen units name kernels by their text; `--emit=llvm` is reproducible)."""
    return _FAST_MATH.sub(lambda m: m.group(1) + "".join(" " + f for f in sorted(m.group(2).split())), ir)


@dataclass(frozen=True)
class RuntimeLibrary:
    """A run-time library that compiled code calls into, needed when the code names a symbol with
    `prefix`: LLVM IR from `ll_file` is linked into the module (and then inlined by O3); `setup`
    (`"module:function"`) makes a shared library's symbols resolvable by the JIT — before the code
    is optimized, and before machine code (compiled here, cached, or sent by another MPI rank) is
    loaded."""

    prefix: str
    ll_file: str | None = None
    setup: str | None = None
    # LLVM IR linked into object files written for use outside this process (`--emit=obj`), in
    # place of what `setup` resolves in it
    object_ll_file: str | None = None

    def link(self, mod: llvm.ModuleRef) -> None:
        if self.ll_file:
            lib = llvm.parse_assembly(runtime_ll(self.ll_file, mod.triple))
            lib.triple, lib.data_layout = mod.triple, mod.data_layout
            mod.link_in(lib)
        self.load()

    def load(self) -> None:
        if self.setup:
            module, function = self.setup.split(":")
            getattr(importlib.import_module(module), function)()


# The spin-wait hint of runtime/*.ll (`pause`, x86's) on other instruction sets
CPU_RELAX = {"aarch64": "yield", "arm64": "yield"}


def runtime_ll(file: str, triple: str) -> str:
    """The LLVM IR of a run-time library in runtime/, for the target `triple`."""
    with open(os.path.join(os.path.dirname(__file__), file)) as f:
        text = f.read()
    arch = triple.split("-")[0]
    if arch not in ("x86_64", "i386", "i686"):
        text = text.replace('asm sideeffect "pause"', f'asm sideeffect "{CPU_RELAX.get(arch, "")}"')
    return text


RUNTIME_LIBRARIES = (
    RuntimeLibrary("loom_tape_", ll_file="tape.ll"),  # reverse-mode tapes: a growable byte stack
    RuntimeLibrary("loom_mpi_", setup="runtime.mpi:link_jit"),  # collectives: libmpi + communicators
    RuntimeLibrary("loom_parallel_", setup="runtime.parallel:link_jit",  # parallel loops: the thread pool
                   object_ll_file="parallel.ll"),
)


def standalone_object(mod: llvm.ModuleRef) -> bytes:
    """Object code for a program outside this process (`loom compile --emit=obj`): the run-time
    libraries that the JIT resolves to one copy per process (the thread pool) are linked in, their
    entry points `weak`, so that several such objects linked into one program share one copy (the
    linker keeps the first; its internal state goes with it). `mod` is left as it is."""
    ir = str(mod)
    out = llvm.parse_assembly(ir)
    for lib in RUNTIME_LIBRARIES:
        if lib.object_ll_file and lib.prefix in ir:
            code = llvm.parse_assembly(runtime_ll(lib.object_ll_file, out.triple))
            code.triple, code.data_layout = out.triple, out.data_layout
            for fn in code.functions:
                if not fn.is_declaration and fn.linkage == llvm.Linkage.external:
                    fn.linkage = llvm.Linkage.weak_any
            out.link_in(code)
    out.verify()
    return object_code(out)


def optimize(ir: str, unroll: bool = True) -> llvm.ModuleRef:
    """LLVM's O3 pipeline for the host; `unroll=False`: without its loop unroller (the matmul
    kernels', `compile_unit`)."""
    tm = target_machine()
    mod = llvm.parse_assembly(ir)
    mod.triple = tm.triple
    mod.data_layout = str(tm.target_data)
    for lib in RUNTIME_LIBRARIES:
        if lib.prefix in ir:
            lib.link(mod)
    mod.verify()
    pto = llvm.PipelineTuningOptions(speed_level=3)
    pto.loop_vectorization = True
    pto.slp_vectorization = True
    pto.loop_unrolling = unroll
    pb = llvm.create_pass_builder(tm, pto)
    pb.getModulePassManager().run(mod, pb)
    return mod


def assembly(mod: llvm.ModuleRef) -> str:
    return target_machine().emit_assembly(mod)


def object_code(mod: llvm.ModuleRef) -> bytes:
    return target_machine().emit_object(mod)


def compile_unit(ir: str, kernel: bool = False) -> bytes:
    """Object code of one codegen unit (`runtime/codegen_units.py`): O3, then code generation. A
    matmul kernel's unit (`kernel`) goes through O3 without LLVM's loop unroller: loom-matmul-kernel
    unrolled its loops already (the register tile's rows and columns, a packed panel's row are
    vector ops), so the unroller only copied loop bodies — a quarter to two fifths of the kernels'
    LLVM time for no run-time gain (docs/performance.md, "Kernels without LLVM's unroller")."""
    return object_code(optimize(ir, unroll=not kernel))


class NativeModule:
    """Machine code in memory (one MCJIT engine)."""

    def __init__(self, mod: llvm.ModuleRef | None = None, objects: list[bytes] = (), runtime_libraries: bool = True):
        """From an optimized module, or from object files (a program's codegen units: the engine
        resolves the calls between them). `runtime_libraries=False`: the objects are a run-time
        library's own code, which loads no other."""
        target_machine()  # initializes LLVM
        tm = new_target_machine()
        if mod is None:
            mod = llvm.parse_assembly("")
            mod.triple = tm.triple
        self.engine = llvm.create_mcjit_compiler(mod, tm)
        for lib in RUNTIME_LIBRARIES if runtime_libraries else ():
            if any(lib.prefix.encode() in obj for obj in objects):  # an object's symbol table names it
                lib.load()
        for obj in objects:
            self.engine.add_object_file(llvm.ObjectFileRef.from_data(obj))
        self.engine.finalize_object()
        if objects and perf_map.enabled():  # names for `perf` (LOOM_PERF_MAP=1)
            perf_map.record(self.engine, objects)

    def address(self, name: str) -> int:
        addr = self.engine.get_function_address(name)
        if not addr:
            raise RuntimeError(f"compiled code has no function '{name}' (a compiler bug)")
        return addr


@dataclass
class CompiledFunction:
    """A native entry point with its signature, error sites and print table."""

    native: NativeModule
    symbol: str
    signature: abi.Signature
    sites: list  # [message, file, line, col] per run-time check
    prints: list  # [format, [ValueType...]] per print
    call: abi.NativeCall = field(init=False)

    def __post_init__(self):
        self.call = abi.NativeCall(self.native.address(self.symbol), self.signature)
        # the flag its loops poll: a module without loops has none, and then nothing to interrupt (a
        # Ctrl-C during such a call raises KeyboardInterrupt as soon as it returns, from Python's handler)
        self.interrupt_flag = self.native.engine.get_global_value_address(INTERRUPT_FLAG) or None
        self._flag = ctypes.c_int32.from_address(self.interrupt_flag) if self.interrupt_flag else None

    def __call__(self, args) -> tuple:
        if self.prints:
            _print_tables.current = self.prints
        if self._flag is None:
            status, outs, values = self.call(args)
        else:  # Ctrl-C sets the flag (its loops stop, free their buffers and return a failing status)
            self._flag.value = 0
            previous = _route_sigint(self.interrupt_flag)
            try:
                status, outs, values = self.call(args)
            finally:
                if previous is not None:
                    _restore_sigint(previous)
            if self._flag.value:
                self._flag.value = 0
                signal.raise_signal(signal.SIGINT)  # now Python's handler runs (KeyboardInterrupt)
                raise KeyboardInterrupt  # (a handler that returns: the call's results are gone)
        if status != 0:
            raise self.error(status, list(values))
        return self.call.results(outs)

    def error(self, status: int, values: list[int] = ()):
        from compiler.diagnostics import LoomRuntimeError, Span

        if not 0 < status <= len(self.sites):
            return LoomRuntimeError(f"compiled code returned an unknown status {status} (a compiler bug)")
        message, file, line, col = self.sites[status - 1]
        if "{}" in message:
            message = message.format(*values[: message.count("{}")])
        span = Span(file, int(line), int(col), int(line), int(col) + 1) if file else None
        return LoomRuntimeError(message, span)


# ---------------------------------------------------------------- cache key
def compiler_identity() -> tuple[str, str, str, str, str]:
    """What, besides the program, determines compiled code: Loom's version and sources
    (`cache.source_digest`), xDSL's and llvmlite's versions, the CPU."""
    return LOOM_VERSION, source_digest(), xdsl_version(), llvmlite.__version__, cpu_key()


def cache_key(*parts: str) -> str:
    h = hashlib.sha256()
    for p in (*compiler_identity(), *parts):
        h.update(p.encode())
        h.update(b"\0")
    return h.hexdigest()[:32]
