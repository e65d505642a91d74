"""A small builder of `loom` ops for the differentiation rules: every op gets the location of the
op being differentiated, results get explicit types, and `None` stands for a symbolic zero."""

from __future__ import annotations

from collections.abc import Sequence

from xdsl.dialects.builtin import i1
from xdsl.ir import Attribute, SSAValue

from compiler.passes.emitter import Emitter
from dialects import loom


def differentiable(t: Attribute) -> bool:
    """Only float values have derivatives (integers and bools do not)."""
    return loom.is_float(t)


class B(Emitter):
    """The rules' builder: `loom.*` ops on tensors, on top of the scalar `Emitter`."""

    def const(self, value, t: Attribute) -> SSAValue:
        """A scalar constant of `t`'s element type."""
        return super().const(value, loom.element_type(t))

    def full(self, value, t: Attribute) -> SSAValue:
        """A value of type `t` filled with `value`."""
        c = self.const(value, loom.element_type(t))
        return c if loom.is_scalar_type(t) else self.add(loom.FullOp(c, t))

    def zeros(self, t: Attribute) -> SSAValue:
        return self.full(0, t)

    def materialize(self, v: SSAValue | None, t: Attribute) -> SSAValue:
        from dialects import ad

        if v is None and isinstance(t, ad.TapeType):
            return self.add(ad.TapeNewOp())  # the tangent of a tape: a tape of tangents
        return self.zeros(t) if v is None else v

    # ---------------------------------------------------------------- ops
    def bin(self, cls, a: SSAValue, b: SSAValue, t: Attribute | None = None) -> SSAValue:
        if t is None:
            shape = loom.broadcast_shapes(loom.shape_of(a.type), loom.shape_of(b.type))
            t = loom.make_type(loom.element_type(a.type), shape)
        return self.add(cls(a, b, t))

    def add_(self, a, b):
        if a is None:
            return b
        if b is None:
            return a
        return self.bin(loom.AddOp, a, b)

    def sub(self, a, b):
        return self.bin(loom.SubOp, a, b)

    def mul(self, a, b):
        return self.bin(loom.MulOp, a, b)

    def div(self, a, b):
        return self.bin(loom.DivOp, a, b)

    def neg(self, a):
        return self.add(loom.NegOp(a))

    def un(self, cls, a):
        return self.add(cls(a))

    def cmp(self, pred: str, a, b):
        shape = loom.broadcast_shapes(loom.shape_of(a.type), loom.shape_of(b.type))
        return self.add(loom.CmpOp(pred, a, b, loom.make_type(i1, shape)))

    def select(self, c, a, b):
        shape = loom.broadcast_shapes(loom.shape_of(c.type),
                                      loom.broadcast_shapes(loom.shape_of(a.type), loom.shape_of(b.type)))
        return self.add(loom.SelectOp(c, a, b, loom.make_type(loom.element_type(a.type), shape)))

    def broadcast(self, v: SSAValue, t: Attribute) -> SSAValue:
        """`v` broadcast to type `t` (no-op if it already has it)."""
        if v.type == t:
            return v
        if loom.is_scalar_type(v.type):
            return self.add(loom.FullOp(v, t))
        return self.add(loom.BroadcastToOp(v, t))

    def unbroadcast(self, ct: SSAValue, t: Attribute) -> SSAValue:
        """Sum `ct` over the dimensions that broadcasting added to a value of type `t`."""
        if ct.type == t:
            return ct
        cs, ts = loom.shape_of(ct.type), loom.shape_of(t)
        lead = len(cs) - len(ts)
        axes = list(range(lead)) + [lead + i for i, d in enumerate(ts) if d == 1 and cs[lead + i] != 1]
        if axes:
            kept = [d for i, d in enumerate(cs) if i not in axes]
            ct = self.add(loom.SumOp(ct, axes, False, loom.make_type(loom.element_type(t), kept)))
        if ct.type != t:
            ct = self.add(loom.ReshapeOp(ct, t))
        return ct

    def reduce(self, cls, x, axes: Sequence[int], keep: bool):
        shape = loom.shape_of(x.type)
        out = [1 if i in axes else d for i, d in enumerate(shape) if keep or i not in axes]
        return self.add(cls(x, list(axes), keep, loom.make_type(loom.element_type(x.type), out)))

    def reshape(self, x, t):
        return x if x.type == t else self.add(loom.ReshapeOp(x, t))

    def transpose(self, x, perm: Sequence[int]):
        shape = loom.shape_of(x.type)
        return self.add(loom.TransposeOp(x, list(perm), loom.make_type(loom.element_type(x.type), [shape[p] for p in perm])))

    def matmul(self, a, b, t):
        return self.add(loom.MatmulOp(a, b, t))

    def zero_safe_mul(self, ct, d):
        """`ct * d`, but 0 where `ct` is 0 even if `d` is inf or NaN (a cotangent that is exactly
        zero — e.g. from the branch `where` did not take — must not turn into NaN)."""
        prod = self.mul(ct, d)
        return self.select(self.cmp("eq", ct, self.zeros(loom.make_type(loom.element_type(ct.type), ()))),
                           self.zeros(loom.make_type(loom.element_type(prod.type), ())), prod)
