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

import numpy as np

from compiler import driver
from compiler.diagnostics import LoomError, LoomInputError, LoomRuntimeError, LoomTypeError
from compiler.driver import CheckedProgram, Lowered
from compiler.frontend import ast as A
from compiler.frontend.types import StructT, TensorT, n_leaves

NP_DTYPES = {"f32": np.float32, "f64": np.float64, "i32": np.int32, "i64": np.int64, "bool": np.bool_}
DTYPE_NAMES = {np.dtype(v): k for k, v in NP_DTYPES.items()}
MODES = ("jit", "eager")  # jit: the native executor; eager: the reference executor


def load(path: str, mode: str = "jit", pipeline: str | None = None, cache: bool | None = None,
         devices: int | None = None) -> Program:
    """Load a `.loom` file. `mode="jit"` compiles to native code; `mode="eager"` runs the reference
    executor. `pipeline`: the loom-level passes (eager default `"none"`, the IR exactly as generated;
    jit default `"loom-opt"`). `cache=True` keeps compiled code on disk (default: when
    LOOM_CACHE_DIR is set). `devices=N` (the mesh's size) runs on the devices of the mesh, global-view
    functions partitioned: the ranks of a `loom launch -n N` job, else N devices simulated in this
    process (the reference executor on each, like `loom run --eager --devices N`)."""
    return Program(driver.check_file(path), mode, pipeline, cache, devices)


def loads(source: str, name: str = "<string>", mode: str = "jit", pipeline: str | None = None,
          cache: bool | None = None, devices: int | None = None) -> Program:
    """Load a program from source text; `name` is the file name used in diagnostics."""
    return Program(driver.check_source(source, name), mode, pipeline, cache, devices)


class Program:
    def __init__(self, checked: CheckedProgram, mode: str = "jit", pipeline: str | None = None,
                 cache: bool | None = None, devices: int | None = None):
        if mode not in MODES:
            raise LoomError(f"unknown mode '{mode}' (modes: {', '.join(MODES)})")
        self.mode = mode
        self.pipeline = pipeline or ("loom-opt" if mode == "jit" else "none")
        if pipeline:
            driver.check_pipeline(pipeline)  # validate early
        self.cache = driver.cache_enabled(cache)
        self.checked = checked
        self.executor = (driver.executor("native", cache=self.cache, pipeline=self.pipeline) if mode == "jit"
                         else driver.executor("eager", pipeline=self.pipeline))
        if checked.checker.mesh is not None or devices is not None:  # a mesh program (LANGUAGE.md §9.5)
            from runtime import launch  # the MPI runtime, for mesh programs only (as driver loads executors)

            # on the ranks of `loom launch -n N python …` the devices are the ranks; else @spmd functions
            # (and everything, with `devices=N`) run on simulated devices, and global-view functions
            # alone run unpartitioned in this process
            if mode == "jit" and launch.in_job():
                self.executor = driver.executor("mpi", pipeline=self.pipeline)
            elif checked.checker.spmd_funcs or devices is not None:
                self.executor = driver.executor("simulated", pipeline=self.pipeline, devices=devices)
        self._functions = {name: Function(self, name) for name in checked.functions}
        self._structs = {name: StructType(self, name) for name in checked.checker.structs}

    @property
    def ast(self) -> A.Module:
        return self.checked.ast

    @property
    def source(self) -> str:
        return self.checked.source

    @property
    def checker(self):
        return self.checked.checker

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
        self.fdef: A.FuncDef = program.checked.checker.funcs[name]
        self._cache: dict[tuple, Lowered] = {}
        # the fast path of a call: positional arguments that are already the parameters' NumPy values
        # (C-contiguous arrays, scalars of the declared type) are keyed by their shapes alone, and a key
        # that a checked call has seen runs its specialization directly (`_plain_arguments`)
        self._plain = None if any(p.type.struct for p in self.fdef.params) else \
            tuple((NP_DTYPES[p.type.dtype], np.dtype(NP_DTYPES[p.type.dtype]), p.type.dims is None)
                  for p in self.fdef.params)
        self._runs: dict[tuple, object] = {}

    def __repr__(self) -> str:
        params = ", ".join(f"{p.name}: {_decl(p.type)}" for p in self.fdef.params)
        return f"<loom function {self.name}({params})>"

    def _arguments(self, args, kwargs) -> tuple[tuple, list]:
        """The arguments' checker types (structs as `StructT`) and their flat leaves as NumPy values."""
        params, at = self.fdef.params, self.fdef.span
        if len(args) > len(params):
            raise LoomInputError(f"{self.name}() takes {len(params)} argument(s), got {len(args)}", at)
        values = dict(zip((p.name for p in params), args))
        for k, v in kwargs.items():
            if k not in {p.name for p in params}:
                raise LoomInputError(f"{self.name}() has no parameter '{k}'", at)
            if k in values:
                raise LoomInputError(f"{self.name}() got '{k}' twice", at)
            values[k] = v
        missing = [p.name for p in params if p.name not in values]
        if missing:
            raise LoomInputError(f"{self.name}() is missing argument(s): {', '.join(missing)}", at)
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
                inst = self.program.checked.specialize(self.name, list(types))
            except LoomTypeError as e:
                if e.span is not None and e.span.line == self.fdef.span.line or "argument '" in e.message:
                    raise LoomInputError(e.message, e.span, e.notes) from None
                raise
            hit = Lowered(self.program.checked, inst)
            self._cache[types] = hit
        return hit

    def __call__(self, *args, **kwargs):
        plain = self._plain_arguments(args) if not kwargs else None
        if plain is not None:
            run = self._runs.get(plain[0])
            if run is not None:
                return run(plain[1])
        types, leaves = self._arguments(args, kwargs)
        run = self._runner(types)
        if plain is not None:
            self._runs[plain[0]] = run
        return run(leaves)

    def _plain_arguments(self, args: tuple) -> tuple[tuple, list] | None:
        """(the arguments' shapes, their leaves) when every argument is already its parameter's NumPy
        value — an array of exactly the declared dtype (native byte order), C-contiguous, of rank ≥ 1 for a tensor
        parameter; a NumPy scalar of the declared type, a Python float for f64, an int in range for
        i64 or a bool for bool, for a scalar parameter — else None. `_arguments` would give these same
        leaves, so shapes that a checked call has seen need no more checks."""
        plain = self._plain
        if plain is None or len(args) != len(plain):
            return None
        key, leaves = [], []
        for (want, dtype, scalar), a in zip(plain, args):
            t = type(a)
            if scalar:
                if t is not want:
                    if not ((t is float and want is np.float64) or (t is bool and want is np.bool_)
                            or (t is int and want is np.int64 and -2 ** 63 <= a < 2 ** 63)):
                        return None
                    a = want(a)
                key.append(None)
            elif t is np.ndarray and a.dtype is dtype and a.flags.c_contiguous and a.ndim:  # (`is`: native byte order)
                key.append(a.shape)
            else:
                return None
            leaves.append(a)
        return tuple(key), leaves

    def _runner(self, types: tuple):
        """The call of this specialization: flat argument leaves → the function's results."""
        lowered = self._lower(types)
        fn = lowered.prepared(self.program.executor)
        result_types = lowered.inst.result_types
        structs = any(isinstance(t, StructT) for t in result_types)

        def run(leaves):
            try:
                results = fn(leaves)
            except MemoryError as e:
                raise LoomRuntimeError(f"out of memory running '{self.name}' ({e or 'an allocation failed'})",
                                       self.fdef.span) from None
            if structs:
                results = unflatten(list(results), result_types,
                                    lambda t, values: StructValue(self.program.structs[t.name], values))
            if len(results) == 1:
                return results[0]
            return tuple(results) if results else None
        return run


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
        finite = a[np.isfinite(a)] if kind == "f" and want is np.float32 else np.zeros(0)
        if finite.size:
            big = finite.flat[np.abs(finite).argmax()]  # the value itself, sign and all
            if abs(big) > np.finfo(np.float32).max:
                raise LoomInputError(f"{where}: {float(big)!r} is out of range for f32", span)
        a = a.astype(want)
    expected_rank = None if t.dims is None else len(t.dims)
    if t.dims is None and a.ndim != 0:
        raise LoomInputError(f"{where} expects a scalar, got an array of shape {list(a.shape)}", span)
    if expected_rank is not None and not (len(t.dims) == 1 and t.dims[0].kind == "ellipsis") and a.ndim != expected_rank:
        raise LoomInputError(f"{where} expects rank {expected_rank}, got shape {list(a.shape)}", span)
    if a.ndim == 0:
        return want(a.reshape(()))
    try:
        return np.ascontiguousarray(a)
    except MemoryError:
        raise LoomInputError(f"{where}: its contiguous copy ({a.size * a.itemsize:,} bytes, shape {list(a.shape)}) "
                             "does not fit in memory", span) from None


# ------------------------------------------------------------------ structs at the boundary
class StructType:
    """A struct type of a program (`prog.MLP`); calling it makes a `StructValue`:
    `prog.MLP(w1=…, b1=…)` or positionally in field order."""

    def __init__(self, program: Program, name: str):
        self.program = program
        self.name = name
        self.decl: A.StructDecl = program.checked.checker.structs[name]

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


def unflatten(leaves: list, types, struct) -> list:
    """Flat results back into one value per result type; `struct(t, {field: value})` makes a struct
    value (a `StructValue` here; the CLI's printer makes text)."""
    out, k = [], 0
    for t in types:
        if isinstance(t, StructT):
            n = n_leaves(t)
            chunk, k = leaves[k:k + n], k + n
            fields = unflatten(chunk, [ft for _, ft in t.fields], struct)
            out.append(struct(t, dict(zip((name for name, _ in t.fields), fields))))
        else:
            out.append(leaves[k])
            k += 1
    return out
