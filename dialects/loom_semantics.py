"""What each `loom` op computes, in NumPy: one short function per op, in the table `SEMANTICS`.

The reference (eager) executor runs programs with these functions, and constant folding
(`dialects/loom_canonicalize.py`) evaluates ops on constants with the same ones, so
folding cannot disagree with execution (MLIR keeps folders next to their ops; this is that place).
Each entry takes the op (for its attributes and result type) and its operand values (NumPy arrays or
scalars) and returns the result value, converted to the op's result type by `result`. A value the
op cannot produce (integer division by zero, an index out of range, …) raises `EvalError`; the
caller adds the op's source location (the executor) or leaves the op alone (the folder).

Decisions shared with the compiled code (docs/language.md §11): float `//` and `%` are NumPy's
(`np.floor_divide`, `np.mod`, also with infinities); `f32` sums and means accumulate in `f64` and
round once; `max`/`min`/`argmax`/`argmin` over an axis of size 0 are errors (as in NumPy; other
axes may be empty: a reduction of a (0, 3) tensor over axis 1 is empty).

Ops with effects or other runtime needs (`print`, `random`, tapes) are the executor's own.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from xdsl.dialects.builtin import Float32Type, Float64Type, IntegerType
from xdsl.ir import Attribute, Operation

from dialects import loom


class EvalError(Exception):
    """An op cannot produce a value for these operands (a run-time error of the program)."""


def np_dtype(t: Attribute):
    e = loom.element_type(t)
    if isinstance(e, Float32Type):
        return np.float32
    if isinstance(e, Float64Type):
        return np.float64
    if isinstance(e, IntegerType):
        return {1: np.bool_, 32: np.int32, 64: np.int64}[e.width.data]
    raise TypeError(f"no NumPy dtype for {t}")  # pragma: no cover


def result(op: Operation, value, i: int = 0):
    """`value` with the IR type of result `i`: a NumPy scalar for scalar types, else an array."""
    t = op.results[i].type
    dt = np_dtype(t)
    a = np.asarray(value)
    if a.dtype != dt:
        a = a.astype(dt)
    if loom.is_scalar_type(t):
        return dt(a.reshape(()))
    return np.ascontiguousarray(a)


def result_shape(op: Operation, i: int = 0) -> tuple[int, ...]:
    s = loom.shape_of(op.results[i].type)
    if s is None or loom.DYNAMIC in s:
        raise EvalError(f"{op.name}: the result shape is not static; specialize the function first")
    return tuple(s)


def evaluate(op: Operation, args) -> object:
    """The value of `op` on `args`, with its result type (raises `KeyError` for an op without
    semantics here, `EvalError` where the op has no value)."""
    return result(op, SEMANTICS[type(op)](op, *args))


# ---------------------------------------------------------------- elementwise
def _is_int(a) -> bool:
    return np.issubdtype(np.asarray(a).dtype, np.integer)


def _computes(a, b) -> bool:
    """Whether an elementwise op on a and b computes any element: its checks are per element, so an
    empty result has none (compiled code checks in the element loop; docs/language.md §11)."""
    return np.broadcast(a, b).size > 0


def _int_div(f: Callable) -> Callable:
    def run(op, a, b):
        if _is_int(a) and _computes(a, b) and np.any(np.asarray(b) == 0):
            raise EvalError("integer division by zero")
        return f(a, b)
    return run


def _pow(op, a, b):
    if _is_int(b) and _computes(a, b) and np.any(np.asarray(b) < 0):
        raise EvalError("integers cannot be raised to negative integer powers")
    return np.power(a, b)


def _gelu(op, x):
    # 0.5·x·(1 + tanh(u)) written as x·σ(2u) = x / (1 + exp(-2u)): the same function, without the
    # cancellation of 1 + tanh(u) for x < 0 (docs/language.md §7)
    c = np.sqrt(2.0 / np.pi).astype(x.dtype) if hasattr(x, "dtype") else np.sqrt(2.0 / np.pi)
    return x / (1.0 + np.exp(-2.0 * (c * (x + 0.044715 * x * x * x))))


def _unary(f: Callable) -> Callable:
    return lambda op, x: f(x)


def _binary(f: Callable) -> Callable:
    return lambda op, a, b: f(a, b)


_CMP = {"lt": np.less, "le": np.less_equal, "gt": np.greater, "ge": np.greater_equal, "eq": np.equal,
        "ne": np.not_equal}


def _convert(op, x):
    x = np.asarray(x)
    dt = np_dtype(op.result.type)
    if dt == np.bool_:
        return x != 0
    if np.issubdtype(dt, np.integer) and x.dtype.kind == "f":
        # the first offending element (in C order, as compiled code checks them) decides the message
        info = np.iinfo(dt)
        with np.errstate(invalid="ignore"):
            t = np.trunc(x.astype(np.float64)).reshape(-1)
            bad = ~np.isfinite(t) | (t < info.min) | (t >= -float(info.min))
        if bad.any():
            if not np.isfinite(t[np.argmax(bad)]):
                raise EvalError("cannot convert a NaN or infinite value to an integer")
            raise EvalError(f"a value is out of range for {np.dtype(dt).name}")
    return x.astype(dt)


# ---------------------------------------------------------------- reductions
def _axes(op) -> tuple[int, ...] | None:
    return tuple(op.axes_list()) if loom.shape_of(op.operand.type) is not None else None


def empty_axis_message(op: Operation) -> str:
    """The error of max/min/argmax/argmin over an axis of size 0 (the same in compiled code)."""
    return f"{op.name[5:]} over an axis of size 0"


def _check_extreme(op, x: np.ndarray, axes) -> None:
    """max/min/argmax/argmin have no value over an empty axis (as in NumPy, even when the
    result is empty); reducing a non-empty axis of an empty tensor is fine: an empty result."""
    if any(x.shape[a] == 0 for a in (range(x.ndim) if axes is None else axes)):
        raise EvalError(empty_axis_message(op))


def _sum_like(f: Callable) -> Callable:
    """sum/mean: `f32` accumulates in `f64` and rounds once (accurate for any length and axis)."""
    def run(op, x):
        x = np.asarray(x)
        wide = np.float64 if x.dtype == np.float32 else None
        return f(x, axis=_axes(op), keepdims=op.keepdims is not None, dtype=wide)
    return run


def _plain_reduction(f: Callable) -> Callable:
    return lambda op, x: f(np.asarray(x), axis=_axes(op), keepdims=op.keepdims is not None)


def _extreme(f: Callable) -> Callable:
    def run(op, x):
        x, axes = np.asarray(x), _axes(op)
        _check_extreme(op, x, axes)
        return f(x, axis=axes, keepdims=op.keepdims is not None)
    return run


def _arg_extreme(f: Callable) -> Callable:
    """The index of the first extreme: along one axis, else of the flattened tensor."""
    def run(op, x):
        x, axes = np.asarray(x), _axes(op)
        flat = axes is None or len(axes) != 1 or x.ndim == 1
        _check_extreme(op, x, None if flat else axes)
        return f(x) if flat else f(x, axis=axes[0], keepdims=op.keepdims is not None)
    return run


# ---------------------------------------------------------------- indexing
def index_tuple(op, x: np.ndarray, dyn) -> tuple:
    """The NumPy index for a loom.slice/update, checking dynamic indices against the shape."""
    idx, dyn = [], list(dyn)
    for axis, (kind, start, stop, step) in enumerate(op.spec()):
        n = x.shape[axis]
        if kind == loom.KIND_RANGE:
            idx.append(slice(*(None if v == loom.NONE else int(v) for v in (start, stop, step))))
        elif kind == loom.KIND_WINDOW:
            i = int(dyn.pop(0))
            if not 0 <= i <= n - stop:
                raise EvalError(f"slice [{i}:{i + stop}] is out of range for axis {axis} of size {n}")
            idx.append(slice(i, i + stop))
        else:
            i = int(start) if kind == loom.KIND_INDEX else int(dyn.pop(0))
            if not -n <= i < n:
                raise EvalError(f"index {i} is out of range for axis {axis} of size {n}")
            idx.append(i)
    return tuple(idx)


def _slice(op, x, *dyn):
    x = np.asarray(x)
    return np.array(x[index_tuple(op, x, dyn)])


def _update(op, x, v, *dyn):
    x = np.array(x)
    x[index_tuple(op, x, dyn)] = v
    return x


def _assert(op, cond, *values):
    if not bool(cond):
        raise EvalError(op.text([int(v) for v in values]))


# ---------------------------------------------------------------- the table
SEMANTICS: dict[type[Operation], Callable] = {
    loom.AddOp: _binary(np.add),
    loom.SubOp: _binary(np.subtract),
    loom.MulOp: _binary(np.multiply),
    loom.DivOp: _binary(np.true_divide),
    loom.FloorDivOp: _int_div(np.floor_divide),  # floats: NumPy's floor division, inf included
    loom.RemOp: _int_div(np.mod),  # the sign of the divisor, as in Python
    loom.PowOp: _pow,
    loom.MaximumOp: _binary(np.maximum),
    loom.MinimumOp: _binary(np.minimum),
    loom.AndOp: _binary(np.logical_and),
    loom.OrOp: _binary(np.logical_or),
    loom.CmpOp: lambda op, a, b: _CMP[op.predicate.data](a, b),
    loom.NegOp: _unary(np.negative),
    loom.NotOp: _unary(np.logical_not),
    loom.ExpOp: _unary(np.exp),
    loom.LogOp: _unary(np.log),
    loom.SqrtOp: _unary(np.sqrt),
    loom.RsqrtOp: _unary(lambda x: 1 / np.sqrt(x)),
    loom.TanhOp: _unary(np.tanh),
    loom.SigmoidOp: _unary(lambda x: 1 / (1 + np.exp(-x))),
    loom.ReluOp: _unary(lambda x: np.maximum(x, np.zeros_like(x))),
    loom.GeluOp: _gelu,
    loom.AbsOp: _unary(np.abs),
    loom.SinOp: _unary(np.sin),
    loom.CosOp: _unary(np.cos),
    loom.SignOp: _unary(np.sign),
    loom.SelectOp: lambda op, c, a, b: np.where(c, a, b),
    loom.ConvertOp: _convert,
    loom.SumOp: _sum_like(np.sum),
    loom.MeanOp: _sum_like(np.mean),
    loom.ProdOp: _plain_reduction(np.prod),
    loom.AnyOp: _plain_reduction(np.any),
    loom.AllOp: _plain_reduction(np.all),
    loom.MaxOp: _extreme(np.max),
    loom.MinOp: _extreme(np.min),
    loom.ArgmaxOp: _arg_extreme(np.argmax),
    loom.ArgminOp: _arg_extreme(np.argmin),
    loom.MatmulOp: _binary(np.matmul),
    loom.ReshapeOp: lambda op, x: np.reshape(x, result_shape(op)),
    loom.TransposeOp: lambda op, x: np.transpose(x, op.perm()),
    loom.BroadcastToOp: lambda op, x: np.broadcast_to(x, result_shape(op)),
    loom.ConcatOp: lambda op, *xs: np.concatenate([np.asarray(a) for a in xs], axis=op.axis_value()),
    loom.DimOp: lambda op, x: np.asarray(x).shape[op.axis_value()],
    loom.FullOp: lambda op, v: np.full(result_shape(op), v, dtype=np_dtype(op.result.type)),
    loom.ArangeOp: lambda op: np.arange(result_shape(op)[0], dtype=np.int64),
    loom.SliceOp: _slice,
    loom.UpdateOp: _update,
}

# ops that compute no value: their meaning is a check
CHECKS: dict[type[Operation], Callable] = {loom.AssertOp: _assert}
