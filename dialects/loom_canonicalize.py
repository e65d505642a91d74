"""Canonicalization patterns of the `loom` dialect, used by xDSL's `canonicalize` pass.

Only rewrites that are obviously right: constant folding of scalar ops (evaluated by the op's
NumPy semantics, the table the reference executor runs, so folding cannot disagree with execution),
algebraic identities that are exact in IEEE arithmetic (x*1, x/1, x-0, --x), no-op shape ops,
and transpose(A @ B) as a transpose of Bᵀ @ Aᵀ (the same sums of the same products). Every
replacement op takes the location of the op it replaces.
"""

from __future__ import annotations

import numpy as np
from xdsl.dialects import arith
from xdsl.dialects.builtin import FloatAttr, IntegerAttr, TensorType
from xdsl.ir import Attribute, Operation, SSAValue
from xdsl.pattern_rewriter import PatternRewriter, RewritePattern

from dialects import loom
from dialects.loom_semantics import SEMANTICS, EvalError, evaluate, np_dtype


def const_value(v: SSAValue):
    """The Python value of a scalar `arith.constant`, else None."""
    op = v.owner
    if isinstance(op, arith.ConstantOp) and isinstance(op.value, (FloatAttr, IntegerAttr)):
        return op.value.value.data
    return None


def constant(value, t: Attribute) -> arith.ConstantOp:
    if loom.is_float(t):
        return arith.ConstantOp(FloatAttr(float(value), t), t)
    if loom.is_bool(t):
        return arith.ConstantOp(IntegerAttr(1 if value else 0, t), t)
    return arith.ConstantOp(IntegerAttr(int(value), t), t)


def replace(rewriter: PatternRewriter, op: Operation, new_ops: list[Operation], values=None) -> None:
    for n in new_ops:
        n.location = op.location
    rewriter.replace(op, new_ops, values)


class FoldScalarConstants(RewritePattern):
    """An elementwise op on scalar constants becomes a constant (its value from the op's entry in
    `dialects/loom_semantics.py`, so folding cannot disagree with execution)."""

    def match_and_rewrite(self, op: Operation, rewriter: PatternRewriter, /):
        if not loom.is_scalar_type(op.results[0].type) or type(op) not in SEMANTICS:
            return
        vals = [const_value(o) for o in op.operands]
        if any(v is None for v in vals):
            return
        args = [np_dtype(o.type)(v) for o, v in zip(op.operands, vals)]
        try:
            with np.errstate(all="ignore"):
                res = evaluate(op, args)
        except EvalError:
            return  # e.g. integer division by zero: keep the run-time error
        replace(rewriter, op, [constant(res.item(), op.results[0].type)])


def _is(v: SSAValue, x) -> bool:
    c = const_value(v)
    return c is not None and c == x and not (isinstance(c, float) and np.signbit(c) and x == 0)


class BinaryIdentity(RewritePattern):
    """x*1 → x, 1*x → x, x/1 → x, x-0 → x, x+0 → x (integers) — only when no broadcast is lost."""

    def match_and_rewrite(self, op: Operation, rewriter: PatternRewriter, /):
        lhs, rhs = op.operands
        t = op.results[0].type
        if isinstance(op, loom.MulOp):
            if _is(rhs, 1) and lhs.type == t:
                replace(rewriter, op, [], [lhs])
            elif _is(lhs, 1) and rhs.type == t:
                replace(rewriter, op, [], [rhs])
        elif isinstance(op, loom.DivOp) and _is(rhs, 1) and lhs.type == t:
            replace(rewriter, op, [], [lhs])
        elif isinstance(op, loom.SubOp) and _is(rhs, 0) and lhs.type == t:
            replace(rewriter, op, [], [lhs])
        elif isinstance(op, loom.AddOp) and not loom.is_float(t):
            if _is(rhs, 0) and lhs.type == t:
                replace(rewriter, op, [], [lhs])
            elif _is(lhs, 0) and rhs.type == t:
                replace(rewriter, op, [], [rhs])


class Involution(RewritePattern):
    """neg(neg(x)) → x, not(not(x)) → x."""

    def match_and_rewrite(self, op: Operation, rewriter: PatternRewriter, /):
        inner = op.operands[0].owner
        if type(inner) is type(op) and isinstance(op, (loom.NegOp, loom.NotOp)):
            replace(rewriter, op, [], [inner.operands[0]])


class NoOpShape(RewritePattern):
    """convert/reshape/broadcast_to to the operand's own type, and identity transposes, vanish."""

    def match_and_rewrite(self, op: Operation, rewriter: PatternRewriter, /):
        x = op.operands[0]
        if x.type != op.results[0].type:
            return
        shape = loom.shape_of(x.type)
        exact = isinstance(op, (loom.ConvertOp, loom.TransposeOp))  # the same type means a no-op
        if not exact and (shape is None or loom.DYNAMIC in shape):
            return
        if isinstance(op, loom.TransposeOp) and op.perm() != sorted(op.perm()):
            return
        replace(rewriter, op, [], [x])


class ComposeShape(RewritePattern):
    """reshape(reshape(x)) → reshape(x); transpose(transpose(x)) → one transpose."""

    def match_and_rewrite(self, op: Operation, rewriter: PatternRewriter, /):
        inner = op.operands[0].owner
        if isinstance(op, loom.ReshapeOp) and isinstance(inner, loom.ReshapeOp):
            replace(rewriter, op, [loom.ReshapeOp(inner.operand, op.result.type)])
        elif isinstance(op, loom.TransposeOp) and isinstance(inner, loom.TransposeOp):
            p, q = op.perm(), inner.perm()
            replace(rewriter, op, [loom.TransposeOp(inner.operand, [q[i] for i in p], op.result.type)])


def _swapped(t: Attribute) -> TensorType | None:
    """A ranked tensor type (rank ≥ 2) with its last two dims exchanged; else None."""
    shape = loom.shape_of(t)
    if shape is None or len(shape) < 2:
        return None
    return TensorType(loom.element_type(t), [*shape[:-2], shape[-1], shape[-2]])


class TransposeOfMatmul(RewritePattern):
    """transpose(A @ B) whose innermost dim is the product's rows → a transpose of Bᵀ @ Aᵀ that keeps
    the innermost dim in place (or none at all). Each entry is the same sum of the same products,
    so the result is the same; what changes is the copy: reading the product down its columns
    (a strided pass: the gradient of `k` in attention, `transpose(q' @ dS)`) becomes rows copied
    whole, and the operands' transposes are folded into the matmul's maps when it is lowered. Only
    for a product used by this transpose alone (else it would be computed twice)."""

    def match_and_rewrite(self, op: Operation, rewriter: PatternRewriter, /):
        mm = op.operand.owner
        if not isinstance(mm, loom.MatmulOp) or not op.operand.has_one_use():
            return
        p, r = op.perm(), len(op.perm())
        if r < 2 or p[-1] != r - 2:
            return
        ta, tb, tc = _swapped(mm.lhs.type), _swapped(mm.rhs.type), _swapped(mm.result.type)
        if None in (ta, tb, tc):
            return
        ra, rb = len(ta.get_shape()), len(tb.get_shape())
        at = loom.TransposeOp(mm.lhs, [*range(ra - 2), ra - 1, ra - 2], ta)
        bt = loom.TransposeOp(mm.rhs, [*range(rb - 2), rb - 1, rb - 2], tb)
        product = loom.MatmulOp(bt.result, at.result, tc)
        swap = {r - 2: r - 1, r - 1: r - 2}
        rest = loom.TransposeOp(product.result, [swap.get(i, i) for i in p], op.result.type)
        for new in (at, bt, product):
            new.location = mm.location
        rest.location = op.location
        rewriter.replace(op, [at, bt, product, rest])


class StaticDim(RewritePattern):
    """loom.dim of a static dimension is a constant."""

    def match_and_rewrite(self, op: Operation, rewriter: PatternRewriter, /):
        shape = loom.shape_of(op.operand.type)
        if shape is not None and shape[op.axis_value()] != loom.DYNAMIC:
            replace(rewriter, op, [constant(shape[op.axis_value()], op.result.type)])


class SelectConstant(RewritePattern):
    """select(true, a, b) → a, select(false, a, b) → b, and select(c, a, a) → a (one value, or two
    integer or bool constants that are equal), when the type is unchanged."""

    def match_and_rewrite(self, op: Operation, rewriter: PatternRewriter, /):
        c = const_value(op.cond)
        if c is not None:
            pick = op.true_value if c else op.false_value
        elif _same(op.true_value, op.false_value):
            pick = op.true_value
        else:
            return
        if pick.type == op.result.type:
            replace(rewriter, op, [], [pick])


def _same(a: SSAValue, b: SSAValue) -> bool:
    """One value, or equal integer/bool constants of one type (floats: only one value, -0.0 ≠ 0.0)."""
    if a == b:
        return True
    return (a.type == b.type and isinstance(a.owner, arith.ConstantOp) and isinstance(b.owner, arith.ConstantOp)
            and isinstance(a.owner.value, IntegerAttr) and a.owner.value == b.owner.value)


_FOLD = (FoldScalarConstants(),)
PATTERNS: dict[type, tuple[RewritePattern, ...]] = {
    **{cls: _FOLD for cls in loom.BINARY_OPS},
    **{cls: _FOLD for cls in loom.UNARY_OPS},
    loom.MulOp: (FoldScalarConstants(), BinaryIdentity()),
    loom.DivOp: (FoldScalarConstants(), BinaryIdentity()),
    loom.SubOp: (FoldScalarConstants(), BinaryIdentity()),
    loom.AddOp: (FoldScalarConstants(), BinaryIdentity()),
    loom.NegOp: (FoldScalarConstants(), Involution()),
    loom.NotOp: (FoldScalarConstants(), Involution()),
    loom.ConvertOp: (FoldScalarConstants(), NoOpShape()),
    loom.ReshapeOp: (NoOpShape(), ComposeShape()),
    loom.TransposeOp: (NoOpShape(), ComposeShape(), TransposeOfMatmul()),
    loom.BroadcastToOp: (NoOpShape(),),
    loom.DimOp: (StaticDim(),),
    loom.SelectOp: (SelectConstant(),),
}


def patterns_for(cls: type) -> tuple[RewritePattern, ...]:
    return PATTERNS.get(cls, ())
