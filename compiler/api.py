"""The Python API: `compiler.load("f.loom")` / `compiler.loads(src)` give a `Program` whose
functions are attributes; calling one takes NumPy arrays or Python scalars and returns NumPy values.

Each call specializes the function to its arguments' shapes (symbolic dimensions bound, as
`jax.jit` does) and compiles it once per shape signature to native code (`mode="jit"`, the
default), or runs the IR with the reference executor (`mode="eager"`). With `cache=True` (or
`LOOM_CACHE_DIR` set) compiled object code is kept on disk, so another process skips compilation.

Structs: `prog.MLP` is the struct type; `prog.MLP(w1=…, b1=…)` makes a `StructValue`. A struct
argument is such a value or a dict with exactly the field names (nested dicts for nested structs);
struct results come back as `StructValue`s. At the boundary a struct is its leaves, flattened in
field order (the compiled function's native arguments and results).
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
from compiler.frontend.types import StructT, TensorT, flat_types, n_leaves
from compiler.pipeline import NAMED_PIPELINES, PassManager, env_options, parse_passes, print_module, verify, with_autodiff
from runtime.reference import run_function
from runtime.simulated import run_spmd

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
        self._structs = {name: StructType(self, name) for name in self.checker.structs}

    @property
    def functions(self) -> dict[str, Function]:
        return dict(self._functions)

    @property
    def structs(self) -> dict[str, StructType]:
        return dict(self._structs)

    def __getattr__(self, name: str) -> Function | StructType:
        fns = self.__dict__.get("_functions", {})
        if name in fns:
            return fns[name]
        structs = self.__dict__.get("_structs", {})
        if name in structs:
            return structs[name]
        raise AttributeError(f"the program has no function '{name}' (it has: {', '.join(fns) or 'none'}"
                             + (f"; structs: {', '.join(structs)})" if structs else ")"))

    def __dir__(self):
        return list(super().__dir__()) + list(self._functions) + list(self._structs)


class Function:
    def __init__(self, program: Program, name: str):
        self.program = program
        self.name = name
        self.fdef: A.FuncDef = program.checker.funcs[name]
        self._cache: dict[tuple, Lowered] = {}

    def __repr__(self) -> str:
        params = ", ".join(f"{p.name}: {_decl(p.type)}" for p in self.fdef.params)
        return f"<loom function {self.name}({params})>"

    def _arguments(self, args, kwargs) -> tuple[tuple, list]:
        """The arguments' checker types (structs as `StructT`) and their flat leaves as NumPy values."""
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
        types, leaves = [], []
        for p in params:
            t, flat = _flatten_arg(self.program, values[p.name], p.type, f"argument '{p.name}'", self.name, p.span)
            types.append(t)
            leaves.extend(flat)
        return tuple(types), leaves

    def lower(self, *args, **kwargs) -> Lowered:
        """Specialize to these arguments' types and generate the IR (cached per shape signature)."""
        types, _ = self._arguments(args, kwargs)
        return self._lower(types)

    def _lower(self, types: tuple) -> Lowered:
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
        types, arrays = self._arguments(args, kwargs)
        lowered = self._lower(types)
        if self.program.checker.spmd_funcs:  # a mesh program: every device simulated (LANGUAGE.md §9.5)
            results = run_spmd(lowered.module(self.program.pipeline), lowered.inst.symbol, arrays)
        elif self.program.mode == "jit":
            results = lowered.compiled()(arrays)
        else:
            results = run_function(lowered.module(self.program.pipeline), lowered.inst.symbol, arrays)
        results = _unflatten(self.program, list(results), lowered.inst.result_types)
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
        PassManager(parse_passes(with_autodiff(m, pipeline)), **{**env_options(), **pm_options}).run(m)
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

        return Signature(tuple(map(vt, flat_types(self.inst.param_types))),
                         tuple(map(vt, flat_types(self.inst.result_types))))

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
        if stage == "loom":  # exactly as generated (derivative ops not yet expanded)
            m = generate(self.program.checker, [self.inst])
            verify(m)
            return print_module(m, locations)
        if stage == "loom-opt":
            return print_module(self.module("loom-opt"), locations)
        return print_module(self.stage(stage), locations)


def _decl(t: A.TypeExpr) -> str:
    if t.struct:
        return t.struct
    if t.dims is None:
        return t.dtype
    return f"{t.dtype}[" + ", ".join(("..." if d.kind == "ellipsis" else "") + str(d.value) for d in t.dims) + "]"


def to_numpy(value, p: A.Param, fname: str):
    """A Python/NumPy argument as a NumPy value of the parameter's element type, or a clear error."""
    if p.type.struct is not None:
        raise LoomInputError(f"argument '{p.name}' of '{fname}' has the struct type {p.type.struct}: pass a dict "
                             f"of its fields or a struct value", p.span)
    return _to_array(value, p.type, f"argument '{p.name}' of '{fname}' (declared {_decl(p.type)})", p.span)


def _to_array(value, t: A.TypeExpr, where: str, span):
    """`value` as a NumPy value of the declared tensor type's element type and rank (`where`
    names it in errors)."""
    want = NP_DTYPES[t.dtype]
    if isinstance(value, (np.ndarray, np.generic)):
        a = np.asarray(value)
        if a.dtype != want:
            raise LoomInputError(f"{where} got a NumPy value of dtype {a.dtype} and shape {list(a.shape)}; "
                                 f"expected element type {t.dtype} ({np.dtype(want).name})", span)
    else:
        if isinstance(value, int) and not isinstance(value, bool) and t.dtype in ("i32", "i64"):
            info = np.iinfo(want)
            if not info.min <= value <= info.max:
                raise LoomInputError(f"{where}: {value} is out of range for {t.dtype}", span)
        try:
            a = np.asarray(value)
        except Exception:
            a = np.asarray(None)
        kind = a.dtype.kind
        ok = (kind == "b" and t.dtype == "bool") or (kind in "iu" and t.dtype != "bool") or (kind == "f" and t.dtype in ("f32", "f64"))
        if not ok or a.dtype == object:
            raise LoomInputError(f"{where} cannot take {type(value).__name__} value {value!r:.60}", span)
        if kind in "iu" and t.dtype in ("i32", "i64"):
            info = np.iinfo(want)
            if a.size and (a.min() < info.min or a.max() > info.max):
                raise LoomInputError(f"{where}: value out of range for {t.dtype}", span)
        a = a.astype(want)
    expected_rank = None if t.dims is None else len(t.dims)
    if t.dims is None and a.ndim != 0:
        raise LoomInputError(f"{where} expects a scalar, got an array of shape {list(a.shape)}", span)
    if expected_rank is not None and not (len(t.dims) == 1 and t.dims[0].kind == "ellipsis") and a.ndim != expected_rank:
        raise LoomInputError(f"{where} expects rank {expected_rank}, got shape {list(a.shape)}", span)
    return want(a.reshape(())) if a.ndim == 0 else np.ascontiguousarray(a)


# ------------------------------------------------------------------ structs at the boundary
class StructType:
    """A struct type of a program (`prog.MLP`); calling it makes a `StructValue`:
    `prog.MLP(w1=…, b1=…)` or positionally in field order."""

    def __init__(self, program: Program, name: str):
        self.program = program
        self.name = name
        self.decl: A.StructDecl = program.checker.structs[name]

    @property
    def fields(self) -> tuple[str, ...]:
        return tuple(f.name for f in self.decl.fields)

    def __repr__(self) -> str:
        return f"<loom struct {self.name}(" + ", ".join(f"{f.name}: {_decl(f.type)}" for f in self.decl.fields) + ")>"

    def __call__(self, *args, **kwargs) -> StructValue:
        names = self.fields
        if len(args) > len(names):
            raise LoomInputError(f"struct {self.name} has {len(names)} field(s), got {len(args)} positional values")
        values = dict(zip(names, args))
        for k, v in kwargs.items():
            if k not in names:
                raise LoomInputError(f"struct {self.name} has no field '{k}' (fields: {', '.join(names)})")
            if k in values:
                raise LoomInputError(f"struct {self.name}: field '{k}' given twice")
            values[k] = v
        return self._make(values, f"struct {self.name}")

    def _make(self, values, where: str) -> StructValue:
        """A checked value from a mapping of fields (nested mappings become nested values)."""
        _check_fields(self, values, where)
        out = {}
        for f in self.decl.fields:
            v, at = values[f.name], f"{where} field '{f.name}'"
            if f.type.struct is not None:
                sub = self.program.structs[f.type.struct]
                out[f.name] = sub._make(_field_map(sub, v, at), at)
            else:
                out[f.name] = _to_array(v, f.type, f"{at} (declared {_decl(f.type)})", f.span)
        return StructValue(self, out)


class StructValue:
    """A struct value at the Python boundary: its fields, in declaration order, as attributes
    (`v.w1`), by name (`v["w1"]`), by iteration (the values) and as `v._asdict()`; immutable
    (`v._replace(w1=…)` makes a new one). It defines no `==`."""

    __slots__ = ("_type", "_values")

    def __init__(self, stype: StructType, values: dict):
        object.__setattr__(self, "_type", stype)
        object.__setattr__(self, "_values", dict(values))

    def __getattr__(self, name: str):
        values = object.__getattribute__(self, "_values")
        if name in values:
            return values[name]
        raise AttributeError(f"struct {self._type.name} has no field '{name}' (fields: {', '.join(values)})")

    def __setattr__(self, name, value):
        raise AttributeError(f"struct values are immutable: use ._replace({name}=…)")

    def __getitem__(self, name: str):
        return self._values[name]

    def __iter__(self):
        return iter(self._values.values())

    def __len__(self) -> int:
        return len(self._values)

    def __dir__(self):
        return list(super().__dir__()) + list(self._values)

    @property
    def _fields(self) -> tuple[str, ...]:
        return tuple(self._values)

    def _asdict(self) -> dict:
        return dict(self._values)

    def _replace(self, **changes) -> StructValue:
        return self._type(**{**self._values, **changes})

    def __repr__(self) -> str:
        return f"{self._type.name}(" + ", ".join(f"{k}={v!r}" for k, v in self._values.items()) + ")"


def _field_map(st: StructType, value, where: str) -> dict:
    if isinstance(value, StructValue):
        if value._type.name != st.name:
            raise LoomInputError(f"{where} expects a {st.name} struct, got a {value._type.name} struct value")
        return value._asdict()
    if isinstance(value, dict):
        return value
    raise LoomInputError(f"{where} expects a {st.name} struct (a dict with the fields {', '.join(st.fields)}, "
                         f"or a struct value), got {type(value).__name__}")


def _check_fields(st: StructType, values: dict, where: str) -> None:
    missing = [n for n in st.fields if n not in values]
    extra = [str(k) for k in values if k not in st.fields]
    if missing:
        raise LoomInputError(f"{where} is missing field(s) {', '.join(missing)} of struct {st.name}", st.decl.span)
    if extra:
        raise LoomInputError(f"{where}: struct {st.name} has no field(s) {', '.join(extra)} "
                             f"(fields: {', '.join(st.fields)})", st.decl.span)


def _flatten_arg(program: Program, value, t: A.TypeExpr, who: str, fname: str, span, path: tuple = ()):
    """An argument's checker type and its leaves as NumPy values (a struct: depth-first, in field
    order). `who` and `path` name it in errors: `argument 'p' field 'l1.w' of 'f'`."""
    where = who + (f" field '{'.'.join(path)}'" if path else "") + f" of '{fname}'"
    if t.struct is None:
        a = _to_array(value, t, f"{where} (declared {_decl(t)})", span)
        return TensorT(DTYPE_NAMES[a.dtype], tuple(np.shape(a))), [a]
    st = program.structs[t.struct]
    values = _field_map(st, value, where)
    _check_fields(st, values, where)
    fields, leaves = [], []
    for f in st.decl.fields:
        ft, flat = _flatten_arg(program, values[f.name], f.type, who, fname, f.span, path + (f.name,))
        fields.append((f.name, ft))
        leaves.extend(flat)
    return StructT(st.name, tuple(fields)), leaves


def _unflatten(program: Program, leaves: list, types) -> list:
    """Flat results back into one value per result type (a `StructValue` for each struct)."""
    out, k = [], 0
    for t in types:
        if isinstance(t, StructT):
            n = n_leaves(t)
            chunk, k = leaves[k:k + n], k + n
            values = dict(zip((n_ for n_, _ in t.fields), _unflatten(program, chunk, [ft for _, ft in t.fields])))
            out.append(StructValue(program.structs[t.name], values))
        else:
            out.append(leaves[k])
            k += 1
    return out
