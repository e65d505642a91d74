"""JVP rules: one short function per differentiable `loom` op.

`rule(b, op, tangents) -> result tangents`: `op` is the primal op (already emitted; its operands
and results are primal values), `tangents[i]` the tangent of operand i or None (a symbolic zero).
A rule emits ops through `b` and returns one tangent (or None) per result. Every op a rule
emits that depends on a tangent is *linear* in the tangents and has a transpose rule
(transpose_rules.py) — that is what lets reverse mode reuse these rules. Ops whose results have
no derivative (comparisons, integer ops, argmax, random numbers, shapes) are listed in ZERO.
"""

from __future__ import annotations

import math

from xdsl.dialects import arith
from xdsl.ir import Operation

from compiler.passes.autodiff.build import B
from dialects import DISTRIBUTED_DIALECTS, ad, loom


def _bcast(b: B, t, op: Operation):
    return None if t is None else b.broadcast(t, op.results[0].type)


def _add(b: B, op, t):
    return [_bcast(b, b.add_(t[0], t[1]), op)] if t[0] is None or t[1] is None else [b.bin(loom.AddOp, t[0], t[1], op.result.type)]


def _sub(b: B, op, t):
    ta, tb = t
    if tb is None:
        return [_bcast(b, ta, op)]
    if ta is None:
        return [_bcast(b, b.neg(tb), op)]
    return [b.bin(loom.SubOp, ta, tb, op.result.type)]


def _mul(b: B, op, t):
    x, y = op.operands
    parts = [b.mul(t[0], y) if t[0] is not None else None, b.mul(x, t[1]) if t[1] is not None else None]
    return [_bcast(b, b.add_(*parts), op)]


def _div(b: B, op, t):
    x, y = op.operands
    r = op.result
    num = t[0]
    if t[1] is not None:
        num = b.neg(b.mul(r, t[1])) if num is None else b.sub(num, b.mul(r, t[1]))
    return [_bcast(b, b.div(num, y), op)]


def _pow(b: B, op, t):
    x, y = op.operands
    r = op.result
    parts = []
    if t[0] is not None:  # y * x^(y-1) = y * r / x, written without dividing by x
        one = b.const(1, loom.element_type(x.type))
        d = b.mul(y, b.bin(loom.PowOp, x, b.sub(y, one)))
        parts.append(b.mul(t[0], d))
    if t[1] is not None:
        parts.append(b.mul(t[1], b.mul(r, b.un(loom.LogOp, x))))
    return [_bcast(b, b.add_(*parts) if len(parts) > 1 else parts[0], op)]


def _extremum(b: B, op, t):
    """maximum/minimum: the tangent of the chosen operand; ties share it evenly."""
    x, y = op.operands
    ta = b.materialize(t[0], x.type)
    tb = b.materialize(t[1], y.type)
    first = "gt" if isinstance(op, loom.MaximumOp) else "lt"
    half = b.const(0.5, loom.element_type(x.type))
    tie = b.mul(b.add_(ta, tb), half)
    return [_bcast(b, b.select(b.cmp(first, x, y), ta, b.select(b.cmp("eq", x, y), tie, tb)), op)]


def _rem(b: B, op, t):  # a - b*floor(a/b): d/da = 1, d/db = -floor(a/b)
    x, y = op.operands
    parts = [t[0]]
    if t[1] is not None:
        parts.append(b.neg(b.mul(t[1], b.bin(loom.FloorDivOp, x, y))))
    return [_bcast(b, b.add_(*parts) if len(parts) > 1 else parts[0], op)]


def _scale(derivative):
    """Unary rules of the form t * f'(x): `derivative(b, x, r)` gives f'(x) from x and f(x)."""
    def rule(b: B, op, t):
        if t[0] is None:
            return [None]
        return [b.mul(t[0], derivative(b, op.operand, op.result))]
    return rule


def _c(b: B, v, x):
    return b.const(v, loom.element_type(x.type))


def _gelu_prime(b: B, x, r):
    # gelu = x·s with s = σ(2u) (= (1 + tanh u)/2): gelu' = s + 2x·s(1 - s)·u', no cancellation for x < 0
    k = math.sqrt(2.0 / math.pi)
    x2 = b.mul(x, x)
    inner = b.mul(_c(b, 2 * k, x), b.add_(x, b.mul(_c(b, 0.044715, x), b.mul(x2, x))))
    s = b.un(loom.SigmoidOp, inner)
    dinner = b.mul(_c(b, 2 * k, x), b.add_(_c(b, 1.0, x), b.mul(_c(b, 3 * 0.044715, x), x2)))
    return b.add_(s, b.mul(b.mul(x, dinner), b.mul(s, b.sub(_c(b, 1.0, x), s))))


def _relu(b: B, op, t):
    if t[0] is None:
        return [None]
    x = op.operand
    return [b.select(b.cmp("gt", x, _c(b, 0.0, x)), t[0], _c(b, 0.0, x))]  # relu'(0) = 0


def _linear_unary(cls):
    def rule(b: B, op, t):
        return [None if t[0] is None else b.add(cls(t[0]))]
    return rule


def _select(b: B, op, t):
    c, x, y = op.operands
    if t[1] is None and t[2] is None:
        return [None]
    tx = b.materialize(t[1], x.type)
    ty = b.materialize(t[2], y.type)
    return [b.add(loom.SelectOp(c, tx, ty, op.result.type))]


def _convert(b: B, op, t):
    if t[0] is None or not loom.is_float(op.result.type):
        return [None]
    return [b.add(loom.ConvertOp(t[0], op.result.type))]


def _matmul(b: B, op, t):
    x, y = op.operands
    parts = [b.matmul(t[0], y, op.result.type) if t[0] is not None else None,
             b.matmul(x, t[1], op.result.type) if t[1] is not None else None]
    return [b.add_(*parts)]


def _same_op(build):
    """Linear structural ops: apply the op itself to the tangent(s)."""
    def rule(b: B, op, t):
        if all(x is None for x in t[:1]):
            return [None]
        return [build(b, op, t)]
    return rule


def _sum_like(b: B, op, t):
    if t[0] is None:
        return [None]
    return [b.add(type(op)(t[0], op.axes_list(), op.keepdims is not None, op.result.type))]


def _prod(b: B, op, t):  # prod(x) * sum(t / x)  (the derivative at zeros is not defined here)
    if t[0] is None:
        return [None]
    x = op.operand
    keep = b.reduce(loom.ProdOp, x, op.axes_list(), True)
    s = b.add(loom.SumOp(b.mul(t[0], b.div(keep, x)), op.axes_list(), op.keepdims is not None, op.result.type))
    return [s]


def _max_reduce(b: B, op, t):
    """max/min over axes: the tangent of the extreme elements, ties sharing it evenly."""
    if t[0] is None:
        return [None]
    x = op.operand
    axes = op.axes_list()
    ext = b.reduce(type(op), x, axes, True)
    mask = b.add(loom.ConvertOp(b.cmp("eq", x, ext), x.type))
    keep = op.keepdims is not None
    count = b.add(loom.SumOp(mask, axes, keep, op.result.type))
    picked = b.add(loom.SumOp(b.mul(t[0], mask), axes, keep, op.result.type))
    return [b.div(picked, count)]


def _concat(b: B, op, t):
    if all(x is None for x in t):
        return [None]
    parts = [b.materialize(x, v.type) for x, v in zip(t, op.inputs)]
    return [b.add(loom.ConcatOp(parts, op.axis_value(), op.result.type))]


def _slice(b: B, op, t):
    if t[0] is None:
        return [None]
    return [b.add(loom.SliceOp(t[0], list(op.indices), op.spec(), op.result.type))]


def _update(b: B, op, t):
    if t[0] is None and t[1] is None:
        return [None]
    src = b.materialize(t[0], op.source.type)
    val = b.materialize(t[1], op.value.type)
    return [b.add(loom.UpdateOp(src, val, list(op.indices), op.spec()))]


def _full(b: B, op, t):
    return [None if t[0] is None else b.add(loom.FullOp(t[0], op.result.type))]


JVP = {
    loom.AddOp: _add, loom.SubOp: _sub, loom.MulOp: _mul, loom.DivOp: _div, loom.PowOp: _pow,
    loom.MaximumOp: _extremum, loom.MinimumOp: _extremum, loom.RemOp: _rem,
    loom.NegOp: _linear_unary(loom.NegOp),
    loom.ExpOp: _scale(lambda b, x, r: r),
    loom.LogOp: _scale(lambda b, x, r: b.div(_c(b, 1.0, x), x)),
    loom.SqrtOp: _scale(lambda b, x, r: b.div(_c(b, 0.5, x), r)),
    loom.RsqrtOp: _scale(lambda b, x, r: b.mul(_c(b, -0.5, x), b.mul(r, b.mul(r, r)))),
    loom.TanhOp: _scale(lambda b, x, r: b.sub(_c(b, 1.0, x), b.mul(r, r))),
    loom.SigmoidOp: _scale(lambda b, x, r: b.mul(r, b.sub(_c(b, 1.0, x), r))),
    loom.GeluOp: _scale(_gelu_prime),
    loom.AbsOp: _scale(lambda b, x, r: b.un(loom.SignOp, x)),  # abs'(0) = sign(0) = 0
    loom.SinOp: _scale(lambda b, x, r: b.un(loom.CosOp, x)),
    loom.CosOp: _scale(lambda b, x, r: b.neg(b.un(loom.SinOp, x))),
    loom.ReluOp: _relu,
    loom.SelectOp: _select,
    loom.ConvertOp: _convert,
    loom.MatmulOp: _matmul,
    loom.SumOp: _sum_like, loom.MeanOp: _sum_like, loom.ProdOp: _prod,
    loom.MaxOp: _max_reduce, loom.MinOp: _max_reduce,
    loom.ReshapeOp: _same_op(lambda b, op, t: b.add(loom.ReshapeOp(t[0], op.result.type))),
    loom.TransposeOp: _same_op(lambda b, op, t: b.add(loom.TransposeOp(t[0], op.perm(), op.result.type))),
    loom.BroadcastToOp: _same_op(lambda b, op, t: b.broadcast(t[0], op.result.type)),
    loom.ConcatOp: _concat,
    loom.SliceOp: _slice,
    loom.UpdateOp: _update,
    loom.FullOp: _full,
}

# ops whose results have no derivative (piecewise constant, integer/bool valued, or effects)
ZERO = (loom.FloorDivOp, loom.SignOp, loom.CmpOp, loom.AndOp, loom.OrOp, loom.NotOp, loom.AnyOp, loom.AllOp,
        loom.ArgmaxOp, loom.ArgminOp, loom.DimOp, loom.ArangeOp, loom.RandomOp, loom.PrintOp, loom.AssertOp,
        loom.OnFailureOp,  # (made after bufferization: no derivative code ever sees it)
        ad.StopGradientOp, arith.ConstantOp, arith.IndexCastOp)

# The rules of the collectives and of the spmd ops (collective_rules.py) are imported with the first
# op of DISTRIBUTED_DIALECTS that differentiation meets: a program that does not distribute never
# imports them, nor the dialects (docs/performance.md, "Compile time").


def jvp_rule(op: Operation):
    """`op`'s JVP rule, or None (then it has no derivative if `zero_derivative(op)`)."""
    rule = JVP.get(type(op))
    if rule is None and op.dialect_name() in DISTRIBUTED_DIALECTS:
        from compiler.passes.autodiff.collective_rules import JVP_COLLECTIVES

        rule = JVP_COLLECTIVES.get(type(op))
    return rule


def zero_derivative(op: Operation) -> bool:
    """Whether `op`'s results have no derivative (ZERO, and the mesh's integer positions and sizes)."""
    if isinstance(op, ZERO):
        return True
    if op.dialect_name() in DISTRIBUTED_DIALECTS:
        from compiler.passes.autodiff.collective_rules import ZERO_COLLECTIVES

        return isinstance(op, ZERO_COLLECTIVES)
    return False
