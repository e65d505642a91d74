"""The `loom` dialect: the tensor operations of the Loom language, on tensors *and* scalars.

Values are builtin `tensor<…>` types or plain scalars (`f32`, `f64`, `i32`, `i64`, `i1`); a
dimension is static or `?` (a symbolic dimension not bound in this compilation), and a rank-
polymorphic value (`f32[...S]`) is `tensor<*xf32>`. Elementwise ops broadcast like NumPy.
Control flow is `scf`, functions are `func`, scalar constants are `arith.constant`.

Canonicalization patterns live in `dialects/loom_canonicalize.py`, types, operand constraints and
attribute encodings in `dialects/loom_types.py`; this file is only the op definitions and their verifiers.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from xdsl.dialects.builtin import (
    DenseArrayBase,
    IntegerType,
    StringAttr,
    UnitAttr,
    i64,
)
from xdsl.ir import Attribute, Dialect, SSAValue
from xdsl.irdl import (
    IRDLOperation,
    attr_def,
    irdl_op_definition,
    operand_def,
    opt_attr_def,
    result_def,
    traits_def,
)
from xdsl.traits import Pure
from xdsl.utils.exceptions import VerifyException

from dialects.loom_shape_ops import (
    ArangeOp, AssertOp, BroadcastToOp, ConcatOp, DimOp, FullOp, OnFailureOp, PrintOp, RandomOp, ReshapeOp, SliceOp,
    TransposeOp, UpdateOp,
)
from dialects.loom_types import (  # the dialect's vocabulary; passes read it as `loom.shape_of(t)`
    DYNAMIC, KIND_DYN_INDEX, KIND_INDEX, KIND_RANGE, KIND_WINDOW, NONE, Canonicalize, LoomValue, broadcast_shapes,
    check_result_shape, element_type, is_bool, is_float, is_scalar_type, make_type, shape_of,
)

__all__ = [  # re-exported from loom_types (the others are used here too)
    "KIND_DYN_INDEX", "KIND_INDEX", "KIND_RANGE", "KIND_WINDOW", "NONE", "is_float", "is_scalar_type", "make_type",
]


# ------------------------------------------------------------------ elementwise
class ElementwiseBinaryOp(IRDLOperation):
    """`result = lhs ⊙ rhs` elementwise, with NumPy broadcasting; both operands share a dtype."""

    lhs = operand_def(LoomValue)
    rhs = operand_def(LoomValue)
    result = result_def(LoomValue)
    traits = traits_def(Pure(), Canonicalize())
    assembly_format = "$lhs `,` $rhs attr-dict `:` functional-type(operands, results)"
    BOOL_RESULT: ClassVar[bool] = False

    def __init__(self, lhs: SSAValue, rhs: SSAValue, result_type: Attribute):
        super().__init__(operands=[lhs, rhs], result_types=[result_type])

    def verify_(self) -> None:
        lt, rt = self.lhs.type, self.rhs.type
        if element_type(lt) != element_type(rt):
            raise VerifyException(f"{self.name}: operand element types differ ({element_type(lt)} vs {element_type(rt)})")
        check_result_shape(self, broadcast_shapes(shape_of(lt), shape_of(rt)))
        want = IntegerType(1) if self.BOOL_RESULT else element_type(lt)
        if element_type(self.result.type) != want:
            raise VerifyException(f"{self.name}: result element type must be {want}")


class ElementwiseUnaryOp(IRDLOperation):
    """`result = f(operand)` elementwise."""

    operand = operand_def(LoomValue)
    result = result_def(LoomValue)
    traits = traits_def(Pure(), Canonicalize())
    assembly_format = "$operand attr-dict `:` functional-type(operands, results)"

    def __init__(self, operand: SSAValue, result_type: Attribute | None = None):
        super().__init__(operands=[operand], result_types=[result_type or operand.type])

    def verify_(self) -> None:
        if self.result.type != self.operand.type:
            raise VerifyException(f"{self.name}: result type must equal the operand type")


def _binary(opname: str, doc: str) -> type[ElementwiseBinaryOp]:
    cls = type(opname.title().replace("_", "") + "Op", (ElementwiseBinaryOp,), {"name": f"loom.{opname}", "__doc__": doc})
    return irdl_op_definition(cls)


def _unary(opname: str, doc: str) -> type[ElementwiseUnaryOp]:
    cls = type(opname.title().replace("_", "") + "Op", (ElementwiseUnaryOp,), {"name": f"loom.{opname}", "__doc__": doc})
    return irdl_op_definition(cls)


AddOp = _binary("add", "a + b")
SubOp = _binary("sub", "a - b")
MulOp = _binary("mul", "a * b")
DivOp = _binary("div", "a / b (floats only)")
FloorDivOp = _binary("floordiv", "a // b, flooring like Python")
RemOp = _binary("rem", "a % b, with the sign of b like Python")
PowOp = _binary("pow", "a ** b")
MaximumOp = _binary("maximum", "elementwise maximum")
MinimumOp = _binary("minimum", "elementwise minimum")
AndOp = _binary("and", "logical and of i1 values")
OrOp = _binary("or", "logical or of i1 values")

NegOp = _unary("neg", "-a")
NotOp = _unary("not", "logical not of i1 values")
ExpOp = _unary("exp", "e**a")
LogOp = _unary("log", "natural logarithm")
SqrtOp = _unary("sqrt", "square root")
RsqrtOp = _unary("rsqrt", "1 / sqrt(a)")
TanhOp = _unary("tanh", "hyperbolic tangent")
SigmoidOp = _unary("sigmoid", "1 / (1 + exp(-a))")
ReluOp = _unary("relu", "max(a, 0)")
GeluOp = _unary("gelu", "GELU, tanh approximation: 0.5a(1 + tanh(√(2/π)(a + 0.044715a³)))")
AbsOp = _unary("abs", "|a|")
SinOp = _unary("sin", "sine")
CosOp = _unary("cos", "cosine")
SignOp = _unary("sign", "-1, 0 or 1")

CMP_PREDICATES = ("lt", "le", "gt", "ge", "eq", "ne")


@irdl_op_definition
class CmpOp(ElementwiseBinaryOp):
    """Elementwise comparison giving i1: predicate one of lt le gt ge eq ne."""

    name = "loom.cmp"
    predicate = attr_def(StringAttr)
    BOOL_RESULT: ClassVar[bool] = True
    assembly_format = "$predicate `,` $lhs `,` $rhs attr-dict `:` functional-type(operands, results)"

    def __init__(self, predicate: str, lhs: SSAValue, rhs: SSAValue, result_type: Attribute):
        IRDLOperation.__init__(self, operands=[lhs, rhs], result_types=[result_type],
                               attributes={"predicate": StringAttr(predicate)})

    def verify_(self) -> None:
        if self.predicate.data not in CMP_PREDICATES:
            raise VerifyException(f"loom.cmp: unknown predicate '{self.predicate.data}'")
        super().verify_()


@irdl_op_definition
class SelectOp(IRDLOperation):
    """where(cond, a, b): elementwise choice with three-way broadcasting."""

    name = "loom.select"
    cond = operand_def(LoomValue)
    true_value = operand_def(LoomValue)
    false_value = operand_def(LoomValue)
    result = result_def(LoomValue)
    traits = traits_def(Pure(), Canonicalize())
    assembly_format = "$cond `,` $true_value `,` $false_value attr-dict `:` functional-type(operands, results)"

    def __init__(self, cond: SSAValue, a: SSAValue, b: SSAValue, result_type: Attribute):
        super().__init__(operands=[cond, a, b], result_types=[result_type])

    def verify_(self) -> None:
        if not is_bool(self.cond.type):
            raise VerifyException("loom.select: condition must be i1")
        if element_type(self.true_value.type) != element_type(self.false_value.type):
            raise VerifyException("loom.select: branches have different element types")
        shape = broadcast_shapes(shape_of(self.cond.type),
                                 broadcast_shapes(shape_of(self.true_value.type), shape_of(self.false_value.type)))
        check_result_shape(self, shape)


@irdl_op_definition
class ConvertOp(IRDLOperation):
    """Element-type conversion (f32(x), i64(x), …): C-style truncation toward zero for float→int,
    `x != 0` for →i1."""

    name = "loom.convert"
    operand = operand_def(LoomValue)
    result = result_def(LoomValue)
    traits = traits_def(Pure(), Canonicalize())
    assembly_format = "$operand attr-dict `:` functional-type(operands, results)"

    def __init__(self, operand: SSAValue, result_type: Attribute):
        super().__init__(operands=[operand], result_types=[result_type])

    def verify_(self) -> None:
        check_result_shape(self, shape_of(self.operand.type))


@irdl_op_definition
class MatmulOp(IRDLOperation):
    """numpy.matmul: 1-D, 2-D and batched (broadcast batch dims)."""

    name = "loom.matmul"
    lhs = operand_def(LoomValue)
    rhs = operand_def(LoomValue)
    result = result_def(LoomValue)
    traits = traits_def(Pure())
    assembly_format = "$lhs `,` $rhs attr-dict `:` functional-type(operands, results)"

    def __init__(self, lhs: SSAValue, rhs: SSAValue, result_type: Attribute):
        super().__init__(operands=[lhs, rhs], result_types=[result_type])

    def verify_(self) -> None:
        a, b = shape_of(self.lhs.type), shape_of(self.rhs.type)
        if element_type(self.lhs.type) != element_type(self.rhs.type):
            raise VerifyException("loom.matmul: operand element types differ")
        if a is None or b is None:
            return
        if len(a) == 0 or len(b) == 0:
            raise VerifyException("loom.matmul: operands must have rank >= 1")
        k1 = a[-1]
        k2 = b[0] if len(b) == 1 else b[-2]
        if DYNAMIC not in (k1, k2) and k1 != k2:
            raise VerifyException(f"loom.matmul: contraction sizes differ ({k1} vs {k2})")


# ------------------------------------------------------------------ reductions
class ReductionOp(IRDLOperation):
    """Reduce `operand` over `axes` (non-negative, sorted); `keepdims` keeps them as size 1."""

    operand = operand_def(LoomValue)
    result = result_def(LoomValue)
    axes = attr_def(DenseArrayBase)
    keepdims = opt_attr_def(UnitAttr)
    traits = traits_def(Pure(), Canonicalize())
    assembly_format = "$operand attr-dict `:` functional-type(operands, results)"

    def __init__(self, operand: SSAValue, axes: Sequence[int], keepdims: bool, result_type: Attribute):
        attrs: dict[str, Attribute] = {"axes": DenseArrayBase.from_list(i64, list(axes))}
        if keepdims:
            attrs["keepdims"] = UnitAttr()
        super().__init__(operands=[operand], result_types=[result_type], attributes=attrs)

    def axes_list(self) -> list[int]:
        return list(self.axes.get_values())

    def verify_(self) -> None:
        shape = shape_of(self.operand.type)
        axes = self.axes_list()
        if axes != sorted(set(axes)):
            raise VerifyException(f"{self.name}: axes must be sorted and unique")
        if shape is None:
            return
        if any(a < 0 or a >= len(shape) for a in axes):
            raise VerifyException(f"{self.name}: axis out of range for rank {len(shape)}")
        if self.keepdims is not None:
            expected = tuple(1 if i in axes else d for i, d in enumerate(shape))
        else:
            expected = tuple(d for i, d in enumerate(shape) if i not in axes)
        check_result_shape(self, expected)


def _reduction(opname: str, doc: str) -> type[ReductionOp]:
    cls = type(opname.title() + "Op", (ReductionOp,), {"name": f"loom.{opname}", "__doc__": doc})
    return irdl_op_definition(cls)


SumOp = _reduction("sum", "sum over axes")
MeanOp = _reduction("mean", "arithmetic mean over axes")
MaxOp = _reduction("max", "maximum over axes")
MinOp = _reduction("min", "minimum over axes")
ProdOp = _reduction("prod", "product over axes")
AnyOp = _reduction("any", "logical or over axes")
AllOp = _reduction("all", "logical and over axes")
ArgmaxOp = _reduction("argmax", "index (i64) of the first maximum along one axis, or of the flattened tensor")
ArgminOp = _reduction("argmin", "index (i64) of the first minimum along one axis, or of the flattened tensor")


BINARY_OPS = (AddOp, SubOp, MulOp, DivOp, FloorDivOp, RemOp, PowOp, MaximumOp, MinimumOp, AndOp, OrOp, CmpOp)
UNARY_OPS = (NegOp, NotOp, ExpOp, LogOp, SqrtOp, RsqrtOp, TanhOp, SigmoidOp, ReluOp, GeluOp, AbsOp, SinOp, CosOp, SignOp)
REDUCTION_OPS = (SumOp, MeanOp, MaxOp, MinOp, ProdOp, AnyOp, AllOp, ArgmaxOp, ArgminOp)

# A float subtraction that must not be contracted with the multiply that made its operand (into an
# FMA, which would subtract from the exact product instead of the rounded one): the shift by the
# maximum in softmax, log_softmax, logsumexp and cross_entropy, so that the largest element's
# shifted value is exactly 0 — as in the reference executor — and log_softmax <= 0 holds, and the
# centering x - mean(x) in layer_norm, so that equal elements center to exactly 0. A
# discardable attribute (a unit attribute) on a `loom.sub`; lowering copies it to the `arith.subf`,
# and convert-arith-to-llvm then leaves `contract` off the `llvm.fsub`.
NO_CONTRACT = "loom.no_contract"

Loom = Dialect(
    "loom",
    [
        *BINARY_OPS, *UNARY_OPS, SelectOp, ConvertOp, MatmulOp, *REDUCTION_OPS,
        ReshapeOp, TransposeOp, BroadcastToOp, ConcatOp, DimOp,
        FullOp, ArangeOp, RandomOp, SliceOp, UpdateOp, PrintOp, AssertOp, OnFailureOp,
    ],
)
