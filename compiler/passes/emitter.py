"""The IR builder the lowering passes share: an `Emitter` collects new ops, each given the source
location of the op being lowered (locations survive every rewrite), with small helpers for
constants, comparisons, selects and run-time checks; and the fast-math flags Loom uses.

    e = Emitter(op.location)
    zero = e.const(0.0, f32)
    ok = e.cmp("ge", x, zero)
    e.check(ok, "negative input")          # cf.assert at op's location
    rewriter.insert_op(e.ops, InsertPoint.before(op))
"""

from __future__ import annotations

from xdsl.dialects import arith, cf, memref
from xdsl.dialects.builtin import Float32Type, Float64Type, FloatAttr, IndexType, IntegerAttr, IntegerType, MemRefType
from xdsl.ir import Attribute, Operation, SSAValue

from dialects import loom

ALIGN = 64  # bytes: buffers are aligned for the widest vector loads (AVX-512)

# reductions and contractions may be reassociated (docs/language.md §11); everything may contract
CONTRACT = arith.FastMathFlagsAttr([arith.FastMathFlag.ALLOW_CONTRACT])
REASSOC = arith.FastMathFlagsAttr([arith.FastMathFlag.REASSOC, arith.FastMathFlag.ALLOW_CONTRACT])


def is_float_t(t: Attribute) -> bool:
    return isinstance(t, (Float32Type, Float64Type))


def is_bool_t(t: Attribute) -> bool:
    return isinstance(t, IntegerType) and t.width.data == 1


I64_MAX = 2 ** 63 - 1  # the largest i64 (and index: 64 bits here)


def int_constant(v: SSAValue) -> int | None:
    """The value of `v` when an `arith.constant` integer (or index) makes it."""
    op = v.owner
    if isinstance(op, arith.ConstantOp) and isinstance(op.value, IntegerAttr):
        return op.value.value.data
    return None


class Emitter:
    """Collects new ops (each given the source location of the op being lowered)."""

    def __init__(self, location):
        self.loc = location
        self.ops: list[Operation] = []

    def add(self, op: Operation) -> SSAValue | None:
        op.location = self.loc
        self.ops.append(op)
        return op.results[0] if op.results else None

    def const(self, value, t: Attribute) -> SSAValue:
        if is_float_t(t):
            return self.add(arith.ConstantOp(FloatAttr(float(value), t)))
        if isinstance(t, IntegerType) and t.width.data == 1:
            return self.add(arith.ConstantOp(IntegerAttr(-1 if value else 0, t)))
        if isinstance(t, IntegerType) and value >= 2 ** (t.width.data - 1):
            value -= 2 ** t.width.data  # unsigned bit patterns (hash constants) as signed
        return self.add(arith.ConstantOp(IntegerAttr(int(value), t)))

    def index(self, value: int) -> SSAValue:
        return self.const(value, IndexType())

    def check(self, ok: SSAValue, message: str, values: list[SSAValue] = ()) -> None:
        """A run-time check at this location (lowered to an error return): `cf.assert`, or
        `loom.assert` when the message shows run-time integers (`{}` per value)."""
        self.add(loom.AssertOp(ok, message, values) if values else cf.AssertOp(ok, message))

    def cmp(self, pred: str, a: SSAValue, b: SSAValue) -> SSAValue:
        t = a.type
        if is_float_t(t):
            fp = {"lt": "olt", "le": "ole", "gt": "ogt", "ge": "oge", "eq": "oeq", "ne": "une"}[pred]
            return self.add(arith.CmpfOp(a, b, fp))
        if is_bool_t(t):
            ip = {"lt": "ult", "le": "ule", "gt": "ugt", "ge": "uge", "eq": "eq", "ne": "ne"}[pred]
        else:
            ip = {"lt": "slt", "le": "sle", "gt": "sgt", "ge": "sge", "eq": "eq", "ne": "ne"}[pred]
        return self.add(arith.CmpiOp(a, b, ip))

    def select(self, c, a, b) -> SSAValue:
        return self.add(arith.SelectOp(c, a, b))

    def alloc(self, t: MemRefType) -> SSAValue:
        """A fresh buffer of type `t`, aligned for vector loads and stores."""
        return self.add(memref.AllocOp.get(t.element_type, ALIGN, list(t.get_shape())))


