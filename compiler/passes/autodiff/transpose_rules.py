"""Transpose rules: one short function per op that can appear in a linear (tangent) program.

`rule(b, op, ct, lin) -> operand cotangents`: `op` is a linear op of the linearized program, `ct`
the cotangent of its result (never None here), `lin[i]` whether operand i is linear (a tangent;
the others are primal values, constants of the linear map). The rule returns one cotangent (or
None) per operand — only linear operands get one. A linear op is linear in its linear operands:
`mul`/`div`/`matmul` have exactly one, `select`'s condition and indices are primal.
"""

from __future__ import annotations

import math

from compiler.passes.autodiff.build import B
from dialects import DISTRIBUTED_DIALECTS, loom


def _add(b: B, op, ct, lin):
    return [b.unbroadcast(ct, v.type) if l else None for v, l in zip(op.operands, lin)]


def _sub(b: B, op, ct, lin):
    x, y = op.operands
    return [b.unbroadcast(ct, x.type) if lin[0] else None,
            b.unbroadcast(b.neg(ct), y.type) if lin[1] else None]


def _neg(b: B, op, ct, lin):
    return [b.neg(ct)]


def _mul(b: B, op, ct, lin):
    x, y = op.operands
    if lin[0]:
        return [b.unbroadcast(b.zero_safe_mul(ct, y), x.type), None]
    return [None, b.unbroadcast(b.zero_safe_mul(ct, x), y.type)]


def _div(b: B, op, ct, lin):
    x, y = op.operands
    assert lin[0] and not lin[1], "a linear program divides tangents by primal values only"
    q = b.div(ct, y)
    zero = b.zeros(loom.make_type(loom.element_type(q.type), ()))
    q = b.select(b.cmp("eq", ct, zero), zero, q)  # zero-safe, like zero_safe_mul
    return [b.unbroadcast(q, x.type), None]


def _swap_last(b: B, v):
    n = len(loom.shape_of(v.type))
    return b.transpose(v, list(range(n - 2)) + [n - 1, n - 2])


def _matmul(b: B, op, ct, lin):
    """ct_x = ct @ yᵀ, ct_y = xᵀ @ ct (1-D operands as a row/column; batch dims summed back, or for
    a 2-D y, contracted together with x's rows).
    Only the primal operand's value is used; of the linear one only its type."""
    x, y = op.operands
    xs, ys = loom.shape_of(x.type), loom.shape_of(y.type)
    elem = loom.element_type(ct.type)
    x2s = (1, xs[0]) if len(xs) == 1 else xs
    y2s = (ys[0], 1) if len(ys) == 1 else ys
    batch = loom.broadcast_shapes(x2s[:-2], y2s[:-2])
    c2 = b.reshape(ct, loom.make_type(elem, (*batch, x2s[-2], y2s[-1])))
    out = [None, None]
    if lin[0]:
        y2 = b.reshape(y, loom.make_type(elem, y2s))
        gx = b.matmul(c2, _swap_last(b, y2), loom.make_type(elem, (*batch, x2s[-2], x2s[-1])))
        out[0] = b.reshape(b.unbroadcast(gx, loom.make_type(elem, x2s)), x.type)
    if lin[1]:
        x2 = b.reshape(x, loom.make_type(elem, x2s))
        gbatch = batch
        if batch and len(y2s) == 2:
            # y is shared by every batch element (`x @ W`): the batch joins the contraction, one
            # matmul xᵀ @ ct over all rows instead of one per batch element summed afterwards
            dims = (*batch, x2s[-2])
            rows = loom.DYNAMIC if loom.DYNAMIC in dims else math.prod(dims)
            x2 = b.reshape(x2, loom.make_type(elem, (rows, x2s[-1])))
            c2, gbatch = b.reshape(c2, loom.make_type(elem, (rows, y2s[-1]))), ()
        gy = b.matmul(_swap_last(b, x2), c2, loom.make_type(elem, (*gbatch, y2s[-2], y2s[-1])))
        out[1] = b.reshape(b.unbroadcast(gy, loom.make_type(elem, y2s)), y.type)
    return out


def _convert(b: B, op, ct, lin):
    return [b.add(loom.ConvertOp(ct, op.operand.type))]


def _sum(b: B, op, ct, lin):
    x = op.operand
    shape = loom.shape_of(x.type)
    axes = op.axes_list()
    kept = loom.make_type(loom.element_type(ct.type), [1 if i in axes else d for i, d in enumerate(shape)])
    g = b.broadcast(b.reshape(ct, kept), x.type) if shape else ct
    if isinstance(op, loom.MeanOp):
        count = 1
        for a in axes:
            count *= shape[a]
        g = b.div(g, b.const(count, g.type))
    return [g]


def _reshape(b: B, op, ct, lin):
    return [b.reshape(ct, op.operand.type)]


def _transpose(b: B, op, ct, lin):
    perm = op.perm()
    return [b.transpose(ct, [perm.index(i) for i in range(len(perm))])]


def _broadcast_to(b: B, op, ct, lin):
    return [b.unbroadcast(ct, op.operand.type)]


def _concat(b: B, op, ct, lin):
    axis = op.axis_value()
    shape = loom.shape_of(ct.type)
    out, start = [], 0
    for v, l in zip(op.inputs, lin):
        n = loom.shape_of(v.type)[axis]
        if l:
            spec = [(loom.KIND_RANGE, start, start + n, 1) if i == axis else (loom.KIND_RANGE, loom.NONE, loom.NONE, loom.NONE)
                    for i in range(len(shape))]
            out.append(b.add(loom.SliceOp(ct, [], spec, v.type)))
        else:
            out.append(None)
        start += n
    return out


def _slice(b: B, op, ct, lin):
    """The cotangent of a slice lands at the sliced positions (slices never repeat an element)."""
    zeros = b.zeros(op.source.type)
    return [b.add(loom.UpdateOp(zeros, ct, list(op.indices), op.spec()))] + [None] * len(op.indices)


def _update(b: B, op, ct, lin):
    out = [None, None] + [None] * len(op.indices)
    if lin[0]:
        out[0] = b.add(loom.UpdateOp(ct, b.zeros(op.value.type), list(op.indices), op.spec()))
    if lin[1]:
        out[1] = b.add(loom.SliceOp(ct, list(op.indices), op.spec(), op.value.type))
    return out


def _select(b: B, op, ct, lin):
    c, x, y = op.operands
    zero = b.zeros(loom.make_type(loom.element_type(ct.type), ()))
    return [None,
            b.unbroadcast(b.select(c, ct, zero), x.type) if lin[1] else None,
            b.unbroadcast(b.select(c, zero, ct), y.type) if lin[2] else None]


def _full(b: B, op, ct, lin):
    shape = loom.shape_of(ct.type)
    return [b.reduce(loom.SumOp, ct, list(range(len(shape))), False) if shape else ct]


TRANSPOSE = {
    loom.AddOp: _add, loom.SubOp: _sub, loom.NegOp: _neg, loom.MulOp: _mul, loom.DivOp: _div,
    loom.MatmulOp: _matmul, loom.ConvertOp: _convert, loom.SumOp: _sum, loom.MeanOp: _sum,
    loom.ReshapeOp: _reshape, loom.TransposeOp: _transpose, loom.BroadcastToOp: _broadcast_to,
    loom.ConcatOp: _concat, loom.SliceOp: _slice, loom.UpdateOp: _update, loom.SelectOp: _select,
    loom.FullOp: _full,
}


def transpose_rule(op):
    """`op`'s transpose rule, or None; the collectives' from collective_rules.py (imported only then)."""
    rule = TRANSPOSE.get(type(op))
    if rule is None and op.dialect_name() in DISTRIBUTED_DIALECTS:
        from compiler.passes.autodiff.collective_rules import TRANSPOSE_COLLECTIVES

        rule = TRANSPOSE_COLLECTIVES.get(type(op))
    return rule
