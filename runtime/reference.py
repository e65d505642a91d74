"""The eager reference executor: runs `loom`-level IR op by op with NumPy.

This is the imperative twin of the compiled path and the oracle every compiled result is compared
with, so each op's meaning is written here as directly as NumPy allows. It uses xDSL's interpreter
(which already runs `scf` and `func`) with our implementations registered for `loom` ops and
`arith.constant`. Errors a program can hit at run time (an index out of range, a `while … bound`
exceeded, integer division by zero) raise `LoomRuntimeError` at the op's source location.
"""

from __future__ import annotations

import sys
import warnings
from typing import Any

import numpy as np
from xdsl.dialects import arith
from xdsl.dialects.builtin import FileLineColLoc, Float32Type, Float64Type, IntegerType, ModuleOp
from xdsl.interpreter import Interpreter, InterpreterFunctions, impl, register_impls
from xdsl.interpreters.func import FuncFunctions
from xdsl.interpreters.scf import ScfFunctions
from xdsl.ir import Attribute, Operation

from compiler.diagnostics import LoomRuntimeError, Span
from dialects import ad, loom
from runtime import random as rng
from runtime.format import format_value


def np_dtype(t: Attribute):
    e = loom.element_type(t)
    if isinstance(e, Float32Type):
        return np.float32
    if isinstance(e, Float64Type):
        return np.float64
    if isinstance(e, IntegerType):
        return {1: np.bool_, 32: np.int32, 64: np.int64}[e.width.data]
    raise TypeError(f"no NumPy dtype for {t}")  # pragma: no cover


def span_of(op: Operation) -> Span | None:
    loc = op.location
    if isinstance(loc, FileLineColLoc):
        line, col = loc.line.data, loc.column.data
        return Span(loc.filename.data, line, col, line, col + 1)
    return None


def fail(op: Operation, message: str) -> LoomRuntimeError:
    return LoomRuntimeError(message, span_of(op))


def out(op: Operation, value, i: int = 0):
    """Give a result its IR type: a NumPy scalar for scalar types, else an array."""
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
        raise fail(op, f"{op.name}: the result shape is not static; specialize the function first")
    return tuple(s)


def _int_div(op, a, b, f):
    if np.issubdtype(np.asarray(a).dtype, np.integer) and np.any(np.asarray(b) == 0):
        raise fail(op, "integer division by zero")
    return f(a, b)


def _int_pow(op, a, b):
    if np.issubdtype(np.asarray(b).dtype, np.integer) and np.any(np.asarray(b) < 0):
        raise fail(op, "integers cannot be raised to negative integer powers")
    return np.power(a, b)


def _gelu(x):
    c = np.sqrt(2.0 / np.pi).astype(x.dtype) if hasattr(x, "dtype") else np.sqrt(2.0 / np.pi)
    return 0.5 * x * (1.0 + np.tanh(c * (x + 0.044715 * x * x * x)))


BINARY = {
    loom.AddOp: lambda op, a, b: a + b,
    loom.SubOp: lambda op, a, b: a - b,
    loom.MulOp: lambda op, a, b: a * b,
    loom.DivOp: lambda op, a, b: a / b,
    loom.FloorDivOp: lambda op, a, b: _int_div(op, a, b, np.floor_divide),
    loom.RemOp: lambda op, a, b: _int_div(op, a, b, np.mod),
    loom.PowOp: _int_pow,
    loom.MaximumOp: lambda op, a, b: np.maximum(a, b),
    loom.MinimumOp: lambda op, a, b: np.minimum(a, b),
    loom.AndOp: lambda op, a, b: np.logical_and(a, b),
    loom.OrOp: lambda op, a, b: np.logical_or(a, b),
}
CMP = {"lt": np.less, "le": np.less_equal, "gt": np.greater, "ge": np.greater_equal, "eq": np.equal,
       "ne": np.not_equal}
UNARY = {
    loom.NegOp: np.negative,
    loom.NotOp: np.logical_not,
    loom.ExpOp: np.exp,
    loom.LogOp: np.log,
    loom.SqrtOp: np.sqrt,
    loom.RsqrtOp: lambda x: 1 / np.sqrt(x),
    loom.TanhOp: np.tanh,
    loom.SigmoidOp: lambda x: 1 / (1 + np.exp(-x)),
    loom.ReluOp: lambda x: np.maximum(x, np.zeros_like(x)),
    loom.GeluOp: _gelu,
    loom.AbsOp: np.abs,
    loom.SinOp: np.sin,
    loom.CosOp: np.cos,
    loom.SignOp: np.sign,
}
REDUCE = {loom.SumOp: np.sum, loom.MeanOp: np.mean, loom.MaxOp: np.max, loom.MinOp: np.min,
          loom.ProdOp: np.prod, loom.AnyOp: np.any, loom.AllOp: np.all}


def index_tuple(op, x: np.ndarray, dyn: list) -> tuple:
    """The NumPy index for a loom.slice/update, checking dynamic indices against the shape."""
    idx, dyn = [], list(dyn)
    for axis, (kind, start, stop, step) in enumerate(op.spec()):
        n = x.shape[axis]
        if kind == loom.KIND_RANGE:
            idx.append(slice(*(None if v == loom.NONE else int(v) for v in (start, stop, step))))
        elif kind == loom.KIND_WINDOW:
            i = int(dyn.pop(0))
            if not 0 <= i <= n - stop:
                raise fail(op, f"slice [{i}:{i + stop}] is out of range for axis {axis} of size {n}")
            idx.append(slice(i, i + stop))
        else:
            i = int(start) if kind == loom.KIND_INDEX else int(dyn.pop(0))
            if not -n <= i < n:
                raise fail(op, f"index {i} is out of range for axis {axis} of size {n}")
            idx.append(i)
    return tuple(idx)


@register_impls
class LoomFunctions(InterpreterFunctions):
    """NumPy implementations of the loom ops (registered per op class below)."""

    @impl(arith.ConstantOp)
    def run_constant(self, interp: Interpreter, op: arith.ConstantOp, args):
        return (out(op, op.value.value.data),)

    @impl(loom.CmpOp)
    def run_cmp(self, interp, op: loom.CmpOp, args):
        return (out(op, CMP[op.predicate.data](*args)),)

    @impl(loom.SelectOp)
    def run_select(self, interp, op, args):
        return (out(op, np.where(*args)),)

    @impl(loom.ConvertOp)
    def run_convert(self, interp, op, args):
        x = np.asarray(args[0])
        dt = np_dtype(op.result.type)
        if dt == np.bool_:
            return (out(op, x != 0),)
        if np.issubdtype(dt, np.integer) and x.dtype.kind == "f":
            if not np.all(np.isfinite(x)):
                raise fail(op, "cannot convert a NaN or infinite value to an integer")
            info = np.iinfo(dt)
            t = np.trunc(x.astype(np.float64))
            if np.any((t < info.min) | (t >= -float(info.min))):
                raise fail(op, f"a value is out of range for {np.dtype(dt).name}")
        return (out(op, x.astype(dt)),)

    @impl(loom.MatmulOp)
    def run_matmul(self, interp, op, args):
        return (out(op, np.matmul(*args)),)

    @impl(loom.ReshapeOp)
    def run_reshape(self, interp, op, args):
        return (out(op, np.reshape(args[0], result_shape(op))),)

    @impl(loom.TransposeOp)
    def run_transpose(self, interp, op, args):
        return (out(op, np.transpose(args[0], op.perm())),)

    @impl(loom.BroadcastToOp)
    def run_broadcast_to(self, interp, op, args):
        return (out(op, np.broadcast_to(args[0], result_shape(op))),)

    @impl(loom.ConcatOp)
    def run_concat(self, interp, op, args):
        return (out(op, np.concatenate([np.asarray(a) for a in args], axis=op.axis_value())),)

    @impl(loom.DimOp)
    def run_dim(self, interp, op, args):
        return (out(op, np.asarray(args[0]).shape[op.axis_value()]),)

    @impl(loom.FullOp)
    def run_full(self, interp, op, args):
        return (out(op, np.full(result_shape(op), args[0], dtype=np_dtype(op.result.type))),)

    @impl(loom.ArangeOp)
    def run_arange(self, interp, op, args):
        return (out(op, np.arange(result_shape(op)[0], dtype=np.int64)),)

    @impl(loom.RandomOp)
    def run_random(self, interp, op, args):
        gen = rng.uniform if op.distribution.data == "uniform" else rng.normal
        return (out(op, gen(result_shape(op), int(args[0]), np_dtype(op.result.type))),)

    @impl(loom.SliceOp)
    def run_slice(self, interp, op, args):
        x = np.asarray(args[0])
        return (out(op, np.array(x[index_tuple(op, x, args[1:])])),)

    @impl(loom.UpdateOp)
    def run_update(self, interp, op, args):
        x = np.array(args[0])
        x[index_tuple(op, x, args[2:])] = args[1]
        return (out(op, x),)

    @impl(loom.PrintOp)
    def run_print(self, interp, op, args):
        text = op.format.data.format(*(format_value(a) for a in args))
        print(text, file=sys.stdout, flush=True)
        return ()

    @impl(ad.StopGradientOp)
    def run_stop_gradient(self, interp, op, args):
        return (args[0],)

    # a tape is an immutable linked list (value, rest): push and pop are O(1) and functional
    @impl(ad.TapeNewOp)
    def run_tape_new(self, interp, op, args):
        return (None,)

    @impl(ad.PushOp)
    def run_push(self, interp, op, args):
        return ((args[1], args[0]),)

    @impl(ad.PopOp)
    def run_pop(self, interp, op, args):
        if args[0] is None:
            raise fail(op, "pop from an empty tape (a compiler bug)")
        value, rest = args[0]
        return (rest, value)

    @impl(ad.TapeReserveOp)
    def run_tape_reserve(self, interp, op, args):
        return (args[0],)

    @impl(ad.TapeFreeOp)
    def run_tape_free(self, interp, op, args):
        return ()

    @impl(loom.AssertOp)
    def run_assert(self, interp, op, args):
        if not bool(args[0]):
            raise fail(op, op.text([int(v) for v in args[1:]]))
        return ()


def _reg_binary(cls):
    def run(self, interp, op, args):
        return (out(op, BINARY[type(op)](op, *args)),)
    return impl(cls)(run)


def _reg_unary(cls):
    def run(self, interp, op, args):
        return (out(op, UNARY[type(op)](args[0])),)
    return impl(cls)(run)


def _reg_reduce(cls):
    def run(self, interp, op, args):
        x = np.asarray(args[0])
        axes = tuple(op.axes_list()) if loom.shape_of(op.operand.type) is not None else None
        keep = op.keepdims is not None
        if type(op) in (loom.ArgmaxOp, loom.ArgminOp):
            f = np.argmax if type(op) is loom.ArgmaxOp else np.argmin
            if x.size == 0:
                raise fail(op, f"{op.name} of an empty tensor")
            if axes is None or len(axes) != 1 or x.ndim == 1:
                return (out(op, f(x)),)
            return (out(op, f(x, axis=axes[0], keepdims=keep)),)
        if type(op) in (loom.MaxOp, loom.MinOp) and x.size == 0:
            raise fail(op, f"{op.name} of an empty tensor")
        return (out(op, REDUCE[type(op)](x, axis=axes, keepdims=keep)),)
    return impl(cls)(run)


# one implementation per op class, registered on the functions class (xDSL looks them up by type)
for _cls in BINARY:
    setattr(LoomFunctions, f"run_{_cls.name[5:]}", _reg_binary(_cls))
for _cls in UNARY:
    setattr(LoomFunctions, f"run_{_cls.name[5:]}", _reg_unary(_cls))
for _cls in loom.REDUCTION_OPS:
    setattr(LoomFunctions, f"run_{_cls.name[5:]}", _reg_reduce(_cls))
LoomFunctions = register_impls(LoomFunctions)


def supported_ops() -> set[type]:
    """The op classes this executor runs (function definitions are not run, only called)."""
    from xdsl.dialects import func

    ops = {func.FuncOp}
    for fns in (LoomFunctions, ScfFunctions, FuncFunctions):
        ops |= {op for op, _ in fns._impls()}
    return ops


def run_function(module: ModuleOp, name: str, args: list[Any]) -> tuple:
    """Run `@name` of `module` on NumPy arguments; returns its results as a tuple."""
    interp = Interpreter(module)
    interp.register_implementations(LoomFunctions())
    interp.register_implementations(ScfFunctions())
    interp.register_implementations(FuncFunctions())
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        try:
            return tuple(interp.call_op(name, tuple(args)))
        except LoomRuntimeError:
            raise
        except RecursionError:
            raise LoomRuntimeError("call stack exhausted") from None
