"""NumPy ↔ native marshalling for compiled Loom functions.

The native convention (see `compiler/passes/convert_func_to_llvm.py`): a function takes its
inputs — a C-contiguous buffer's data pointer for a tensor, the value itself for a scalar — then
one pointer per result (a buffer, or a one-element slot for a scalar), then a pointer to four
`int64_t` where a failing check stores the values its message shows; it returns an `i32` status
(0 = success, k = run-time check number k failed). Inputs are passed without copying
(they are already C-contiguous arrays of the right dtype); outputs are allocated here with NumPy
and written in place by the native code.
"""

from __future__ import annotations

import ctypes
from dataclasses import dataclass

import numpy as np

# the `int32_t` global that compiled loops poll; setting it to 1 stops a running call
# (`compiler/passes/loom_interrupt_checks.py` emits it, the runtime sets it on Ctrl-C)
INTERRUPT_FLAG = "loom_interrupt"
DTYPES = {"f32": np.float32, "f64": np.float64, "i32": np.int32, "i64": np.int64, "i1": np.bool_}
CTYPES = {"f32": ctypes.c_float, "f64": ctypes.c_double, "i32": ctypes.c_int32, "i64": ctypes.c_int64,
          "i1": ctypes.c_bool}
C_NAMES = {"f32": "float", "f64": "double", "i32": "int32_t", "i64": "int64_t", "i1": "bool"}


@dataclass(frozen=True)
class ValueType:
    """A value crossing the boundary: element type name and shape (`()` for a scalar)."""

    dtype: str
    shape: tuple[int, ...]

    @property
    def is_scalar(self) -> bool:
        return self.shape == ()

    def to_json(self):
        return [self.dtype, list(self.shape)]

    @staticmethod
    def from_json(j) -> ValueType:
        return ValueType(j[0], tuple(j[1]))

    @staticmethod
    def from_ir(t) -> ValueType:
        from xdsl.dialects.builtin import Float32Type, Float64Type, IntegerType, MemRefType

        from dialects import loom

        e = t.element_type if isinstance(t, MemRefType) else loom.element_type(t)
        name = "f32" if isinstance(e, Float32Type) else "f64" if isinstance(e, Float64Type) else \
            f"i{e.width.data}" if isinstance(e, IntegerType) else None
        shape = loom.shape_of(t) if not hasattr(t, "get_shape") else tuple(t.get_shape())
        return ValueType(name, tuple(shape))


@dataclass(frozen=True)
class Signature:
    inputs: tuple[ValueType, ...]
    outputs: tuple[ValueType, ...]

    def ctypes_function(self, address: int):
        args = [ctypes.c_void_p if not t.is_scalar else CTYPES[t.dtype] for t in self.inputs]
        args += [ctypes.c_void_p] * (len(self.outputs) + 1)  # outputs, error values
        return ctypes.CFUNCTYPE(ctypes.c_int32, *args)(address)

    def to_json(self):
        return {"inputs": [t.to_json() for t in self.inputs], "outputs": [t.to_json() for t in self.outputs]}

    def c_declaration(self, name: str, params: list[str] | None = None) -> str:
        params = params or [f"in{i}" for i in range(len(self.inputs))]
        parts = []
        for p, t in zip(params, self.inputs):
            parts.append(f"{C_NAMES[t.dtype]} {p}" if t.is_scalar else
                         f"const {C_NAMES[t.dtype]} *{p} /* {'x'.join(map(str, t.shape))} */")
        for i, t in enumerate(self.outputs):
            dims = "x".join(map(str, t.shape)) or "scalar"
            parts.append(f"{C_NAMES[t.dtype]} *out{i} /* {dims} */")
        parts.append("int64_t error_values[4]")
        return f"int32_t {name}({', '.join(parts) or 'void'});"


def _data_address_reader():
    """`data_address(a)`: the address of a NumPy array's data. NumPy's `PyArray_DATA` is the first field
    of the array object after Python's object header, read here directly (`a.ctypes.data`, which
    builds a ctypes object, costs several microseconds a call); checked on arrays and views when this
    module loads, with `a.ctypes.data` where the layout differs (another Python implementation)."""
    offset, at = object.__basicsize__, ctypes.c_void_p.from_address

    def direct(a: np.ndarray) -> int:
        return at(id(a) + offset).value

    base = np.arange(12.0).reshape(3, 4)
    probes = (base, base[1:], base[:, 2:], np.zeros(0, np.int32), np.empty((), np.float32))
    if all(direct(a) == a.ctypes.data for a in probes):
        return direct
    return lambda a: a.ctypes.data


data_address = _data_address_reader()


class NativeCall:
    """A native function bound to its signature, its marshalling planned once:
    `call(args)` → (status, outputs, error values). The inputs are C-contiguous arrays of the
    signature's dtypes and shapes, and scalars (NumPy or Python numbers, which ctypes converts to the
    parameter's C type); the caller checks them (the Python API does, once per call, in
    `compiler/api.py`). Outputs are allocated here with NumPy and written in place by the native code."""

    def __init__(self, address: int, sig: Signature):
        self.fn = sig.ctypes_function(address)
        self.scalar_inputs = tuple(t.is_scalar for t in sig.inputs)
        self.outputs = tuple((t.shape, DTYPES[t.dtype]) for t in sig.outputs)
        self.scalar_outputs = tuple(t.is_scalar for t in sig.outputs)

    def __call__(self, args: list) -> tuple[int, list[np.ndarray], ctypes.Array]:
        cargs = [a if scalar else data_address(a) for a, scalar in zip(args, self.scalar_inputs)]
        outs = [np.empty(shape, dtype) for shape, dtype in self.outputs]
        error_values = (ctypes.c_int64 * 4)()
        status = self.fn(*cargs, *map(data_address, outs), error_values)
        return status, outs, error_values

    def results(self, outs: list[np.ndarray]) -> tuple:
        """The outputs as values: a NumPy scalar for a scalar result."""
        return tuple(o[()] if scalar else o for o, scalar in zip(outs, self.scalar_outputs))


def read_value(address: int, t: ValueType):
    """A copy of a value the native code points at (used by `print`)."""
    dt = np.dtype(DTYPES[t.dtype])
    n = int(np.prod(t.shape, dtype=np.int64)) if t.shape else 1
    buf = (ctypes.c_char * (n * dt.itemsize)).from_address(address)
    a = np.frombuffer(bytes(buf), dtype=dt)
    return a[0] if t.is_scalar else a.reshape(t.shape)
