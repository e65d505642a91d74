"""The eager reference executor: runs `loom`-level IR op by op with NumPy.

This is the imperative twin of the compiled path and the oracle every compiled result is compared
with. Each op's meaning is its entry in `dialects/loom_semantics.py` (NumPy, as directly as it
allows; constant folding uses the same table); this module runs them with xDSL's interpreter (which
already runs `scf` and `func`) and adds the ops with effects (print, random numbers, tapes) and the
identities that only matter to differentiation or partitioning (`ad.stop_gradient`,
`spmd.sharding_constraint`). Errors a
program can hit at run time (an index out of range, a `while … bound` exceeded, integer division by
zero, an allocation that does not fit) raise `LoomRuntimeError` at the op's source location.
"""

from __future__ import annotations

import functools
import math
import sys
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np
from xdsl.dialects import arith, func
from xdsl.dialects.builtin import ModuleOp
from xdsl.interpreter import Interpreter, InterpreterFunctions, impl, register_impls
from xdsl.interpreters.func import FuncFunctions
from xdsl.interpreters.scf import ScfFunctions
from xdsl.ir import Operation

from compiler.diagnostics import LoomRuntimeError, span_of
from dialects import ad, loom
from dialects import shard_ext as sx
from dialects.spmd import ShardingConstraintOp
from dialects.loom_semantics import CHECKS, SEMANTICS, EvalError, evaluate, np_dtype, result, result_shape
from runtime import random as rng
from runtime.format import format_value


def fail(op: Operation, message: str) -> LoomRuntimeError:
    return LoomRuntimeError(message, span_of(op))


@register_impls
class LoomFunctions(InterpreterFunctions):
    """The loom ops, run by their meaning in `dialects/loom_semantics.py` (registered per op class
    below), and the ops with effects: constants, print, random numbers, tapes."""

    noise: Callable[[Any], Any] | None = None  # applied to each result of a loom op (run_function)

    @impl(arith.ConstantOp)
    def run_constant(self, interp: Interpreter, op: arith.ConstantOp, args):
        return (result(op, op.value.value.data),)

    @impl(loom.PrintOp)
    def run_print(self, interp, op, args):
        text = op.format.data.format(*(format_value(a) for a in args))
        print(text, file=sys.stdout, flush=True)
        return ()

    @impl(ad.StopGradientOp)
    def run_stop_gradient(self, interp, op, args):
        return (args[0],)

    @impl(ShardingConstraintOp)
    def run_sharding_constraint(self, interp, op, args):
        """Unpartitioned, a sharding request is the value itself (LANGUAGE.md §9.2)."""
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


# The ops whose float results round (the others — max, min, abs, neg, select, shape ops, constants,
# comparisons — give exactly one of their operands' values or a constant): what `noise` perturbs.
ROUNDING = frozenset({loom.AddOp, loom.SubOp, loom.MulOp, loom.DivOp, loom.FloorDivOp, loom.RemOp, loom.PowOp,
                      loom.ExpOp, loom.LogOp, loom.SqrtOp, loom.RsqrtOp, loom.TanhOp, loom.SigmoidOp, loom.GeluOp,
                      loom.SinOp, loom.CosOp, loom.ConvertOp, loom.MatmulOp, loom.SumOp, loom.MeanOp, loom.ProdOp})


def _located(run):
    """Run an op's semantics; its errors (and an allocation that does not fit) at its location.
    With `noise` set on the functions, each result of an op that rounds goes through it (see
    `run_function`)."""
    def located(self, interp, op, args):
        try:
            out = run(op, args)
            return out if self.noise is None or type(op) not in ROUNDING else tuple(self.noise(v) for v in out)
        except EvalError as e:
            raise fail(op, str(e)) from None
        except MemoryError:
            raise fail(op, f"out of memory (allocating {result_bytes(op)} bytes)") from None
    return located


def result_bytes(op: Operation) -> int:
    """The size of an op's results (what an allocation for them needs)."""
    total = 0
    for r in op.results:
        shape = loom.shape_of(r.type)
        if shape is not None and loom.DYNAMIC not in shape:
            total += math.prod(shape) * np.dtype(np_dtype(r.type)).itemsize
    return total


def _random(op: loom.RandomOp, seed):
    gen = rng.uniform if op.distribution.data == "uniform" else rng.normal
    return gen(result_shape(op), int(seed), np_dtype(op.result.type))


# one implementation per op class, registered on the functions class (xDSL looks them up by type)
for _cls in SEMANTICS:
    setattr(LoomFunctions, f"run_{_cls.name[5:]}",
            impl(_cls)(_located(lambda op, args: (evaluate(op, args),))))
LoomFunctions.run_random = impl(loom.RandomOp)(_located(lambda op, args: (result(op, _random(op, *args)),)))
for _cls, _check in CHECKS.items():
    setattr(LoomFunctions, f"run_{_cls.name[5:]}", impl(_cls)(_located(lambda op, args, c=_check: c(op, *args) or ())))
LoomFunctions = register_impls(LoomFunctions)


def supported_ops() -> set[type]:
    """The op classes this executor runs (definitions — functions, a global-view file's mesh — are
    not run: functions are called, the mesh is only named by sharding requests)."""
    ops = {func.FuncOp, sx.xshard.GridOp}
    for fns in (LoomFunctions, ScfFunctions, FuncFunctions):
        ops |= {op for op, _ in fns._impls()}
    return ops


class LoomInterpreter(Interpreter):
    """xDSL's interpreter, with the functions looked up by name once: its own lookup walks the
    module at every call, which took half the time of a program making many calls (a call DAG)."""

    @functools.cached_property
    def symbols(self) -> dict[str, Any]:
        return {f.sym_name.data: f for f in self.module.ops if isinstance(f, func.FuncOp)}

    def get_op_for_symbol(self, symbol):
        name = symbol if isinstance(symbol, str) else symbol.string_value()
        return self.symbols.get(name) or super().get_op_for_symbol(symbol)


def run_function(module: ModuleOp, name: str, args: list[Any], noise: Callable[[Any], Any] | None = None) -> tuple:
    """Run `@name` of `module` on NumPy arguments; returns its results as a tuple.

    `noise` (Monte Carlo arithmetic, for tests): every result of a loom op that rounds (`ROUNDING`)
    is replaced by `noise(result)` — e.g. a random relative perturbation of one rounding error, so
    that the spread of a few such runs measures how much rounding can move each result of this
    program. Exact ops are left alone: a perturbed `max` would equal none of its operands, and the
    derivative of `max` (the gradient shared among the elements equal to it) would divide by zero."""
    interp = LoomInterpreter(module)
    fns = LoomFunctions()
    fns.noise = noise
    interp.register_implementations(fns)
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
