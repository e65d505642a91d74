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


def call(fn, sig: Signature, args: list) -> tuple[int, list[np.ndarray]]:
    """Call a native function on NumPy arguments; returns (status, outputs, error values)."""
    cargs = []
    for a, t in zip(args, sig.inputs):
        if t.is_scalar:
            cargs.append(CTYPES[t.dtype](a.item() if hasattr(a, "item") else a))
        else:
            assert a.flags.c_contiguous and a.dtype == DTYPES[t.dtype] and a.shape == t.shape
            cargs.append(a.ctypes.data)
    outs = [np.empty(t.shape, DTYPES[t.dtype]) for t in sig.outputs]
    error_values = np.zeros(4, np.int64)
    cargs += [o.ctypes.data for o in outs] + [error_values.ctypes.data]
    status = fn(*cargs)
    return status, outs, error_values


def results(sig: Signature, outs: list[np.ndarray]):
    vals = [o[()] if t.is_scalar else o for o, t in zip(outs, sig.outputs)]
    return vals


def read_value(address: int, t: ValueType):
    """A copy of a value the native code points at (used by `print`)."""
    dt = np.dtype(DTYPES[t.dtype])
    n = int(np.prod(t.shape, dtype=np.int64)) if t.shape else 1
    buf = (ctypes.c_char * (n * dt.itemsize)).from_address(address)
    a = np.frombuffer(bytes(buf), dtype=dt)
    return a[0] if t.is_scalar else a.reshape(t.shape)
