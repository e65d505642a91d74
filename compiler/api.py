"""The Python API: `compiler.load("f.loom")` / `compiler.loads(src)` give a `Program` whose
functions are attributes; calling one takes NumPy arrays or Python scalars and returns NumPy values.

Each call specializes the function to its arguments' shapes (symbolic dimensions bound, as
`jax.jit` does) and compiles it once per shape signature to native code (`mode="jit"`, the
default), or runs the IR with the reference executor (`mode="eager"`). With `cache=True` (or
`LOOM_CACHE_DIR` set) compiled object code is kept on disk, so another process skips compilation.
"""

from __future__ import annotations

import os

import numpy as np

from xdsl.dialects.builtin import ModuleOp

from compiler import native
from compiler.diagnostics import LoomError, LoomInputError, LoomTypeError, SourceRegistry
from compiler.frontend import ast as A
from compiler.frontend.irgen import generate
from compiler.frontend.parser import parse, parse_file
from compiler.frontend.typecheck import Checker, Instance
from compiler.frontend.types import TensorT
from compiler.pipeline import NAMED_PIPELINES, PassManager, env_options, parse_passes, print_module, verify
from runtime.reference import run_function

NP_DTYPES = {"f32": np.float32, "f64": np.float64, "i32": np.int32, "i64": np.int64, "bool": np.bool_}
DTYPE_NAMES = {np.dtype(v): k for k, v in NP_DTYPES.items()}
MODES = ("jit", "eager")
STAGES = native.STAGES


def load(path: str, mode: str = "jit", pipeline: str = "none", cache: bool | None = None) -> Program:
    """Load a `.loom` file. `mode="jit"` compiles to native code; `mode="eager"` runs the reference
    executor, after the loom-level passes `pipeline` (`"none"`: the IR exactly as generated, or
    `"loom-opt"`). `cache=True` keeps compiled code on disk (default: when LOOM_CACHE_DIR is set)."""
    module = parse_file(path)
    return Program(module, mode, pipeline, SourceRegistry.text(path), cache)


def loads(source: str, name: str = "<string>", mode: str = "jit", pipeline: str = "none",
          cache: bool | None = None) -> Program:
    """Load a program from source text; `name` is the file name used in diagnostics."""
    return Program(parse(source, name), mode, pipeline, source, cache)


class Program:
    def __init__(self, module: A.Module, mode: str = "jit", pipeline: str = "none", source: str = "",
                 cache: bool | None = None):
        if mode not in MODES:
            raise LoomError(f"unknown mode '{mode}' (modes: {', '.join(MODES)})")
        self.mode = mode
        self.pipeline = pipeline
        self.source = source
        self.cache = bool(os.environ.get("LOOM_CACHE_DIR")) if cache is None else cache
        parse_passes(pipeline)  # validate early
        self.ast = module
        self.checker = Checker(module)
        self.checker.check_all()
        self._functions = {name: Function(self, name) for name in self.checker.funcs}

    @property
    def functions(self) -> dict[str, Function]:
        return dict(self._functions)

    def __getattr__(self, name: str) -> Function:
        fns = self.__dict__.get("_functions", {})
        if name in fns:
            return fns[name]
        raise AttributeError(f"the program has no function '{name}' (it has: {', '.join(fns) or 'none'})")

    def __dir__(self):
        return list(super().__dir__()) + list(self._functions)


class Function:
    def __init__(self, program: Program, name: str):
        self.program = program
        self.name = name
        self.fdef: A.FuncDef = program.checker.funcs[name]
        self._cache: dict[tuple, Lowered] = {}

    def __repr__(self) -> str:
        params = ", ".join(f"{p.name}: {_decl(p.type)}" for p in self.fdef.params)
        return f"<loom function {self.name}({params})>"

    def _arguments(self, args, kwargs) -> list:
        params = self.fdef.params
        if len(args) > len(params):
            raise LoomInputError(f"{self.name}() takes {len(params)} argument(s), got {len(args)}")
        values = dict(zip((p.name for p in params), args))
        for k, v in kwargs.items():
            if k not in {p.name for p in params}:
                raise LoomInputError(f"{self.name}() has no parameter '{k}'")
            if k in values:
                raise LoomInputError(f"{self.name}() got '{k}' twice")
            values[k] = v
        missing = [p.name for p in params if p.name not in values]
        if missing:
            raise LoomInputError(f"{self.name}() is missing argument(s): {', '.join(missing)}")
        return [to_numpy(values[p.name], p, self.name) for p in params]

    def lower(self, *args, **kwargs) -> Lowered:
        """Specialize to these arguments' types and generate the IR (cached per shape signature)."""
        arrays = self._arguments(args, kwargs)
        return self._lower(arrays)

    def _lower(self, arrays: list) -> Lowered:
        types = tuple(TensorT(DTYPE_NAMES[np.asarray(a).dtype], tuple(np.shape(a))) for a in arrays)
        hit = self._cache.get(types)
        if hit is None:
            try:
                inst = self.program.checker.specialize(self.name, list(types))
            except LoomTypeError as e:
                if e.span is not None and e.span.line == self.fdef.span.line or "argument '" in e.message:
                    raise LoomInputError(e.message, e.span, e.notes) from None
                raise
            hit = Lowered(self.program, inst)
            self._cache[types] = hit
        return hit

    def __call__(self, *args, **kwargs):
        arrays = self._arguments(args, kwargs)
        lowered = self._lower(arrays)
        if self.program.mode == "jit":
            results = lowered.compiled()(arrays)
        else:
            results = run_function(lowered.module(self.program.pipeline), lowered.inst.symbol, arrays)
        if len(results) == 0:
            return None
        return results[0] if len(results) == 1 else tuple(results)


class Lowered:
    """The IR of one specialization, at any stage."""

    def __init__(self, program: Program, inst: Instance):
        self.program = program
        self.inst = inst
        self._modules: dict[str, object] = {}
        self._stages: dict[str, ModuleOp] = {}
        self._artifact: native.Artifact | None = None
        self._compiled = None

    def module(self, pipeline: str = "none", **pm_options):
        key = pipeline if not pm_options else None
        if key in self._modules:
            return self._modules[key]
        m = generate(self.program.checker, [self.inst])
        verify(m)
        PassManager(parse_passes(pipeline), **{**env_options(), **pm_options}).run(m)
        if key is not None:
            self._modules[key] = m
        return m

    def stage(self, stage: str) -> ModuleOp:
        """The IR of this specialization at an IR stage (cached; see compiler/native.py)."""
        if stage not in self._stages:
            m = generate(self.program.checker, [self.inst])
            verify(m)
            native.lower(m, stage, env_options())
            self._stages[stage] = m
        return self._stages[stage]

    def artifact(self) -> native.Artifact:
        if self._artifact is None:
            self._artifact = native.Artifact(self.stage("llvm-dialect"), self.inst.symbol, self.signature())
        return self._artifact

    def signature(self):
        """The native boundary types, from the checked instance (no IR needed: a cache hit skips
        IR generation altogether)."""
        from runtime.abi import Signature, ValueType

        def vt(t: TensorT) -> ValueType:
            return ValueType("i1" if t.dtype == "bool" else t.dtype, tuple(t.shape))

        return Signature(tuple(map(vt, self.inst.param_types)), tuple(map(vt, self.inst.result_types)))

    def cache_key(self) -> str:
        from runtime import jit

        return jit.cache_key(self.program.source, self.inst.symbol, repr(self.signature()),
                             NAMED_PIPELINES["jit"])

    def compiled(self):
        """The native function (compiled once; from the on-disk cache when enabled)."""
        if self._compiled is None:
            from runtime import jit

            cache = jit.ObjectCache() if self.program.cache else None
            key = self.cache_key() if cache else None
            fn = cache.load(key) if cache else None
            if fn is None:
                fn, obj = self.artifact().compiled()
                if cache:
                    cache.store(key, obj, fn)
            self._compiled = fn
        return self._compiled

    def as_text(self, stage: str = "loom", locations: bool = False) -> str:
        if stage not in STAGES:
            raise LoomError(f"unknown stage '{stage}' (stages: {', '.join(STAGES)})")
        if stage in native.TEXT_STAGES:
            return self.artifact().text(stage)
        if stage in ("loom", "loom-opt"):
            return print_module(self.module("none" if stage == "loom" else "loom-opt"), locations)
        return print_module(self.stage(stage), locations)


def _decl(t: A.TypeExpr) -> str:
    if t.struct:
        return t.struct
    if t.dims is None:
        return t.dtype
    return f"{t.dtype}[" + ", ".join(("..." if d.kind == "ellipsis" else "") + str(d.value) for d in t.dims) + "]"


def to_numpy(value, p: A.Param, fname: str):
    """A Python/NumPy argument as a NumPy value of the parameter's element type, or a clear error."""
    t = p.type
    if t.struct is not None:
        raise LoomInputError(f"parameter '{p.name}' of '{fname}' has a struct type, which this version does not support")
    want = NP_DTYPES[t.dtype]
    where = f"argument '{p.name}' of '{fname}' (declared {_decl(t)})"
    if isinstance(value, (np.ndarray, np.generic)):
        a = np.asarray(value)
        if a.dtype != want:
            raise LoomInputError(f"{where} got a NumPy value of dtype {a.dtype} and shape {list(a.shape)}; "
                                 f"expected element type {t.dtype} ({np.dtype(want).name})", p.span)
    else:
        if isinstance(value, int) and not isinstance(value, bool) and t.dtype in ("i32", "i64"):
            info = np.iinfo(want)
            if not info.min <= value <= info.max:
                raise LoomInputError(f"{where}: {value} is out of range for {t.dtype}", p.span)
        try:
            a = np.asarray(value)
        except Exception:
            a = np.asarray(None)
        kind = a.dtype.kind
        ok = (kind == "b" and t.dtype == "bool") or (kind in "iu" and t.dtype != "bool") or (kind == "f" and t.dtype in ("f32", "f64"))
        if not ok or a.dtype == object:
            raise LoomInputError(f"{where} cannot take {type(value).__name__} value {value!r:.60}", p.span)
        if kind in "iu" and t.dtype in ("i32", "i64"):
            info = np.iinfo(want)
            if a.size and (a.min() < info.min or a.max() > info.max):
                raise LoomInputError(f"{where}: value out of range for {t.dtype}", p.span)
        a = a.astype(want)
    expected_rank = None if t.dims is None else len(t.dims)
    if t.dims is None and a.ndim != 0:
        raise LoomInputError(f"{where} expects a scalar, got an array of shape {list(a.shape)}", p.span)
    if expected_rank is not None and not (len(t.dims) == 1 and t.dims[0].kind == "ellipsis") and a.ndim != expected_rank:
        raise LoomInputError(f"{where} expects rank {expected_rank}, got shape {list(a.shape)}", p.span)
    return want(a.reshape(())) if a.ndim == 0 else np.ascontiguousarray(a)
