"""The `loom` dialect: the tensor operations of the Loom language, on tensors *and* scalars.

Values are builtin `tensor<…>` types or plain scalars (`f32`, `f64`, `i32`, `i64`, `i1`); a
dimension is static or `?` (a symbolic dimension not bound in this compilation), and a rank-
polymorphic value (`f32[...S]`) is `tensor<*xf32>`. Elementwise ops broadcast like NumPy.
Control flow is `scf`, functions are `func`, scalar constants are `arith.constant`.

Canonicalization patterns live in `dialects/loom_canonicalize.py`; this file is
only the op definitions and their verifiers.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from xdsl.dialects.builtin import (
    DYNAMIC_INDEX,
    DenseArrayBase,
    Float32Type,
    Float64Type,
    IntegerType,
    MemRefType,
    StringAttr,
    TensorType,
    UnitAttr,
    UnrankedTensorType,
    i1,
    i64,
)
from xdsl.ir import Attribute, Block, Dialect, Operation, Region, SSAValue
from xdsl.irdl import (
    BaseAttr,
    IRDLOperation,
    attr_def,
    irdl_op_definition,
    operand_def,
    opt_attr_def,
    region_def,
    result_def,
    traits_def,
    var_operand_def,
)
from xdsl.traits import HasCanonicalizationPatternsTrait, NoTerminator, Pure
from xdsl.utils.exceptions import VerifyException

DYNAMIC = DYNAMIC_INDEX  # a `?` dimension

# Operand and result constraints: a loom value is a tensor (ranked; unranked for `...S` in generic
# IR) or a scalar of an element type (f32, f64, i1, i32, i64); indices and seeds are integers.
LoomValue = (BaseAttr(TensorType) | BaseAttr(UnrankedTensorType) | BaseAttr(Float32Type) | BaseAttr(Float64Type)
             | BaseAttr(IntegerType))
IntegerScalar = BaseAttr(IntegerType)
# print and assert survive bufferization: their values may also be buffers
LoomValueOrBuffer = LoomValue | BaseAttr(MemRefType)
NONE = -(2**63)  # an absent slice bound (Python's `None`) in slice/update attributes


# ------------------------------------------------------------------ type helpers
def element_type(t: Attribute) -> Attribute:
    if isinstance(t, (TensorType, UnrankedTensorType)):
        return t.element_type
    return t


def shape_of(t: Attribute) -> tuple[int, ...] | None:
    """Static shape (with -1 for `?`), `()` for a scalar, None for an unranked tensor."""
    if isinstance(t, TensorType):
        return tuple(t.get_shape())
    if isinstance(t, UnrankedTensorType):
        return None
    return ()


def is_scalar_type(t: Attribute) -> bool:
    return isinstance(t, (Float32Type, Float64Type, IntegerType))


def make_type(elem: Attribute, shape: Sequence[int] | None) -> Attribute:
    """The IR type of a value: a scalar for shape (), unranked for None, else a tensor."""
    if shape is None:
        return UnrankedTensorType(elem)
    if len(shape) == 0:
        return elem
    return TensorType(elem, list(shape))


def is_float(t: Attribute) -> bool:
    return isinstance(element_type(t), (Float32Type, Float64Type))


def is_bool(t: Attribute) -> bool:
    e = element_type(t)
    return isinstance(e, IntegerType) and e.width.data == 1


def broadcast_shapes(a: tuple[int, ...] | None, b: tuple[int, ...] | None) -> tuple[int, ...] | None:
    """NumPy broadcasting of two IR shapes; `?` matches anything; None (unranked) absorbs."""
    if a is None or b is None:
        return None
    out = []
    for i in range(1, max(len(a), len(b)) + 1):
        x = a[-i] if i <= len(a) else 1
        y = b[-i] if i <= len(b) else 1
        if x == 1:
            out.append(y)
        elif y == 1 or x == y:
            out.append(x)
        elif x == DYNAMIC or y == DYNAMIC:
            out.append(x if y == DYNAMIC else y)
        else:
            raise VerifyException(f"shapes {list(a)} and {list(b)} do not broadcast")
    return tuple(reversed(out))


def _check_result_shape(op: Operation, expected: tuple[int, ...] | None) -> None:
    got = shape_of(op.results[0].type)
    if expected is None or got is None:
        return
    if len(got) != len(expected) or any(g != e and DYNAMIC not in (g, e) for g, e in zip(got, expected)):
        raise VerifyException(f"{op.name}: result shape {list(got)} does not match expected {list(expected)}")


class _Canonicalize(HasCanonicalizationPatternsTrait):
    """Looks up the op's patterns in `dialects/loom_canonicalize.py` (imported when first asked, as xDSL's own
    dialects do: the patterns build ops of this dialect)."""

    @classmethod
    def get_canonicalization_patterns(cls):  # pragma: no cover - per-op override below
        return ()

    def get_patterns(self, op: type[Operation]):
        from dialects.loom_canonicalize import patterns_for

        return patterns_for(op)


# ------------------------------------------------------------------ elementwise
class ElementwiseBinaryOp(IRDLOperation):
    """`result = lhs ⊙ rhs` elementwise, with NumPy broadcasting; both operands share a dtype."""

    lhs = operand_def(LoomValue)
    rhs = operand_def(LoomValue)
    result = result_def(LoomValue)
    traits = traits_def(Pure(), _Canonicalize())
    assembly_format = "$lhs `,` $rhs attr-dict `:` functional-type(operands, results)"
    BOOL_RESULT: ClassVar[bool] = False

    def __init__(self, lhs: SSAValue, rhs: SSAValue, result_type: Attribute):
        super().__init__(operands=[lhs, rhs], result_types=[result_type])

    def verify_(self) -> None:
        lt, rt = self.lhs.type, self.rhs.type
        if element_type(lt) != element_type(rt):
            raise VerifyException(f"{self.name}: operand element types differ ({element_type(lt)} vs {element_type(rt)})")
        _check_result_shape(self, broadcast_shapes(shape_of(lt), shape_of(rt)))
        want = IntegerType(1) if self.BOOL_RESULT else element_type(lt)
        if element_type(self.result.type) != want:
            raise VerifyException(f"{self.name}: result element type must be {want}")


class ElementwiseUnaryOp(IRDLOperation):
    """`result = f(operand)` elementwise."""

    operand = operand_def(LoomValue)
    result = result_def(LoomValue)
    traits = traits_def(Pure(), _Canonicalize())
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
    traits = traits_def(Pure(), _Canonicalize())
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
        _check_result_shape(self, shape)


@irdl_op_definition
class ConvertOp(IRDLOperation):
    """Element-type conversion (f32(x), i64(x), …): C-style truncation toward zero for float→int,
    `x != 0` for →i1."""

    name = "loom.convert"
    operand = operand_def(LoomValue)
    result = result_def(LoomValue)
    traits = traits_def(Pure(), _Canonicalize())
    assembly_format = "$operand attr-dict `:` functional-type(operands, results)"

    def __init__(self, operand: SSAValue, result_type: Attribute):
        super().__init__(operands=[operand], result_types=[result_type])

    def verify_(self) -> None:
        _check_result_shape(self, shape_of(self.operand.type))


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
    traits = traits_def(Pure(), _Canonicalize())
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
        _check_result_shape(self, expected)


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


# ------------------------------------------------------------------ shape ops
@irdl_op_definition
class ReshapeOp(IRDLOperation):
    """Row-major reshape to the result type's shape."""

    name = "loom.reshape"
    operand = operand_def(LoomValue)
    result = result_def(LoomValue)
    traits = traits_def(Pure(), _Canonicalize())
    assembly_format = "$operand attr-dict `:` functional-type(operands, results)"

    def __init__(self, operand: SSAValue, result_type: Attribute):
        super().__init__(operands=[operand], result_types=[result_type])

    def verify_(self) -> None:
        a, b = shape_of(self.operand.type), shape_of(self.result.type)
        if a is None or b is None or DYNAMIC in a or DYNAMIC in b:
            return
        import math

        if math.prod(a) != math.prod(b):
            raise VerifyException(f"loom.reshape: {list(a)} and {list(b)} have different sizes")


@irdl_op_definition
class TransposeOp(IRDLOperation):
    """Permute dimensions: result dim i is operand dim permutation[i]."""

    name = "loom.transpose"
    operand = operand_def(LoomValue)
    result = result_def(LoomValue)
    permutation = attr_def(DenseArrayBase)
    traits = traits_def(Pure(), _Canonicalize())
    assembly_format = "$operand attr-dict `:` functional-type(operands, results)"

    def __init__(self, operand: SSAValue, perm: Sequence[int], result_type: Attribute):
        super().__init__(operands=[operand], result_types=[result_type],
                         attributes={"permutation": DenseArrayBase.from_list(i64, list(perm))})

    def perm(self) -> list[int]:
        return list(self.permutation.get_values())

    def verify_(self) -> None:
        shape = shape_of(self.operand.type)
        p = self.perm()
        if sorted(p) != list(range(len(p))):
            raise VerifyException("loom.transpose: permutation is not a permutation")
        if shape is not None:
            if len(p) != len(shape):
                raise VerifyException("loom.transpose: permutation length differs from rank")
            _check_result_shape(self, tuple(shape[i] for i in p))


@irdl_op_definition
class BroadcastToOp(IRDLOperation):
    """Broadcast to the result type's shape (NumPy rules)."""

    name = "loom.broadcast_to"
    operand = operand_def(LoomValue)
    result = result_def(LoomValue)
    traits = traits_def(Pure(), _Canonicalize())
    assembly_format = "$operand attr-dict `:` functional-type(operands, results)"

    def __init__(self, operand: SSAValue, result_type: Attribute):
        super().__init__(operands=[operand], result_types=[result_type])

    def verify_(self) -> None:
        a, b = shape_of(self.operand.type), shape_of(self.result.type)
        if a is not None and b is not None:
            if broadcast_shapes(a, b) is not None and len(a) > len(b):
                raise VerifyException("loom.broadcast_to: cannot lower the rank")
            _check_result_shape(self, broadcast_shapes(a, b))


@irdl_op_definition
class ConcatOp(IRDLOperation):
    """Concatenate along `axis`."""

    name = "loom.concat"
    inputs = var_operand_def(LoomValue)
    result = result_def(LoomValue)
    axis = attr_def(DenseArrayBase)
    traits = traits_def(Pure())
    assembly_format = "$inputs attr-dict `:` functional-type(operands, results)"

    def __init__(self, inputs: Sequence[SSAValue], axis: int, result_type: Attribute):
        super().__init__(operands=[list(inputs)], result_types=[result_type],
                         attributes={"axis": DenseArrayBase.from_list(i64, [axis])})

    def axis_value(self) -> int:
        return self.axis.get_values()[0]


@irdl_op_definition
class DimOp(IRDLOperation):
    """The size of dimension `axis` as i64 (for dimensions not known at compile time)."""

    name = "loom.dim"
    operand = operand_def(LoomValue)
    result = result_def(LoomValue)
    axis = attr_def(DenseArrayBase)
    traits = traits_def(Pure(), _Canonicalize())
    assembly_format = "$operand attr-dict `:` functional-type(operands, results)"

    def __init__(self, operand: SSAValue, axis: int):
        super().__init__(operands=[operand], result_types=[i64],
                         attributes={"axis": DenseArrayBase.from_list(i64, [axis])})

    def axis_value(self) -> int:
        return self.axis.get_values()[0]


# ------------------------------------------------------------------ creation
@irdl_op_definition
class FullOp(IRDLOperation):
    """A tensor of the result type filled with the scalar `value`."""

    name = "loom.full"
    value = operand_def(LoomValue)
    result = result_def(LoomValue)
    traits = traits_def(Pure())
    assembly_format = "$value attr-dict `:` functional-type(operands, results)"

    def __init__(self, value: SSAValue, result_type: Attribute):
        super().__init__(operands=[value], result_types=[result_type])

    def verify_(self) -> None:
        if not is_scalar_type(self.value.type) or self.value.type != element_type(self.result.type):
            raise VerifyException("loom.full: value must be a scalar of the result's element type")


@irdl_op_definition
class ArangeOp(IRDLOperation):
    """0, 1, …, n-1 as a 1-D i64 tensor of the result type's size."""

    name = "loom.arange"
    result = result_def(LoomValue)
    traits = traits_def(Pure())
    assembly_format = "attr-dict `:` type($result)"

    def __init__(self, result_type: Attribute):
        super().__init__(result_types=[result_type])


RANDOM_DISTRIBUTIONS = ("uniform", "normal")


@irdl_op_definition
class RandomOp(IRDLOperation):
    """Counter-based random numbers: element k of the result is a pure function of (seed, k).
    `uniform` is in [0, 1); `normal` is standard normal (Box–Muller). See runtime/random.py."""

    name = "loom.random"
    seed = operand_def(IntegerScalar)
    result = result_def(LoomValue)
    distribution = attr_def(StringAttr)
    traits = traits_def(Pure())
    assembly_format = "$distribution `,` $seed attr-dict `:` functional-type(operands, results)"

    def __init__(self, distribution: str, seed: SSAValue, result_type: Attribute):
        super().__init__(operands=[seed], result_types=[result_type],
                         attributes={"distribution": StringAttr(distribution)})

    def verify_(self) -> None:
        if self.distribution.data not in RANDOM_DISTRIBUTIONS:
            raise VerifyException(f"loom.random: unknown distribution '{self.distribution.data}'")
        if self.seed.type != i64:
            raise VerifyException("loom.random: seed must be i64")
        if not is_float(self.result.type):
            raise VerifyException("loom.random: result must be a float type")


# ------------------------------------------------------------------ indexing
# Per source dimension, `kinds` says what the subscript is; `starts`/`stops`/`steps` hold static
# parts, NONE for an absent bound (Python semantics, resolved against the dimension's size):
KIND_RANGE = 0  # x[a:b:c] with static (or absent) a, b, c
KIND_WINDOW = 1  # x[i:i+K]: dynamic start operand, static size K (in `stops`), step 1
KIND_INDEX = 2  # x[k], static k (negative counts from the end); drops the dimension
KIND_DYN_INDEX = 3  # x[i], dynamic i (an operand); drops the dimension


class _IndexingOp(IRDLOperation):
    kinds = attr_def(DenseArrayBase)
    starts = attr_def(DenseArrayBase)
    stops = attr_def(DenseArrayBase)
    steps = attr_def(DenseArrayBase)

    def spec(self) -> list[tuple[int, int, int, int]]:
        return list(zip(self.kinds.get_values(), self.starts.get_values(), self.stops.get_values(),
                        self.steps.get_values()))

    def _verify_spec(self, source: Attribute, n_dynamic: int) -> None:
        spec = self.spec()
        shape = shape_of(source)
        if shape is not None and len(spec) != len(shape):
            raise VerifyException(f"{self.name}: {len(spec)} subscripts for rank {len(shape)}")
        dyn = sum(1 for k, *_ in spec if k in (KIND_WINDOW, KIND_DYN_INDEX))
        if dyn != n_dynamic:
            raise VerifyException(f"{self.name}: expected {dyn} dynamic index operands, got {n_dynamic}")
        for k, _, stop, step in spec:
            if k not in (KIND_RANGE, KIND_WINDOW, KIND_INDEX, KIND_DYN_INDEX):
                raise VerifyException(f"{self.name}: unknown subscript kind {k}")
            if k == KIND_RANGE and step == 0:
                raise VerifyException(f"{self.name}: slice step cannot be zero")
            if k == KIND_WINDOW and stop <= 0:
                raise VerifyException(f"{self.name}: window size must be positive")


def _spec_attrs(spec: Sequence[tuple[int, int, int, int]]) -> dict[str, Attribute]:
    cols = list(zip(*spec)) if spec else [(), (), (), ()]
    return {name: DenseArrayBase.from_list(i64, list(col)) for name, col in zip(("kinds", "starts", "stops", "steps"), cols)}


@irdl_op_definition
class SliceOp(_IndexingOp):
    """`x[…]`: integer indices drop dimensions, slices keep them. Dynamic indices are checked at run
    time (a run-time error at this op's location when out of range)."""

    name = "loom.slice"
    source = operand_def(LoomValue)
    indices = var_operand_def(IntegerScalar)
    result = result_def(LoomValue)
    traits = traits_def(Pure())
    assembly_format = "$source (`[` $indices^ `]`)? attr-dict `:` functional-type(operands, results)"

    def __init__(self, source: SSAValue, indices: Sequence[SSAValue], spec, result_type: Attribute):
        super().__init__(operands=[source, list(indices)], result_types=[result_type], attributes=_spec_attrs(spec))

    def verify_(self) -> None:
        self._verify_spec(self.source.type, len(self.indices))


@irdl_op_definition
class UpdateOp(_IndexingOp):
    """`x[…] = v` as a value: a copy of `source` with the indexed part replaced by `value`
    (already broadcast to the part's shape)."""

    name = "loom.update"
    source = operand_def(LoomValue)
    value = operand_def(LoomValue)
    indices = var_operand_def(IntegerScalar)
    result = result_def(LoomValue)
    traits = traits_def(Pure())
    assembly_format = "$source `,` $value (`[` $indices^ `]`)? attr-dict `:` functional-type(operands, results)"

    def __init__(self, source: SSAValue, value: SSAValue, indices: Sequence[SSAValue], spec):
        super().__init__(operands=[source, value, list(indices)], result_types=[source.type],
                         attributes=_spec_attrs(spec))

    def verify_(self) -> None:
        self._verify_spec(self.source.type, len(self.indices))
        if self.result.type != self.source.type:
            raise VerifyException("loom.update: result type must equal the source type")
        if element_type(self.value.type) != element_type(self.source.type):
            raise VerifyException("loom.update: value element type differs from the source's")


# ------------------------------------------------------------------ effects
@irdl_op_definition
class PrintOp(IRDLOperation):
    """Print at run time: `format` is the text with `{}` where each operand goes."""

    name = "loom.print"
    values = var_operand_def(LoomValueOrBuffer)
    format = attr_def(StringAttr)
    assembly_format = "$format (`,` $values^ `:` type($values))? attr-dict"

    def __init__(self, fmt: str, values: Sequence[SSAValue]):
        super().__init__(operands=[list(values)], attributes={"format": StringAttr(fmt)})

    def verify_(self) -> None:
        import string

        try:
            fields = [f for _, f, _, _ in string.Formatter().parse(self.format.data) if f is not None]
        except ValueError as e:
            raise VerifyException(f"loom.print: bad format string: {e}") from None
        if any(f != "" for f in fields):
            raise VerifyException("loom.print: only '{}' fields are allowed ('{{' and '}}' are literal braces)")
        if len(fields) != len(self.values):
            raise VerifyException("loom.print: number of '{}' differs from the number of values")


@irdl_op_definition
class AssertOp(IRDLOperation):
    """A run-time check: raises a Loom run-time error with `message` at this op's location when
    `cond` (an i1) is false. The message may show run-time integers: each `{}` is replaced by the
    next of `values` (e.g. the index that was out of range)."""

    name = "loom.assert"
    cond = operand_def(i1)
    values = var_operand_def(LoomValueOrBuffer)
    message = attr_def(StringAttr)
    assembly_format = "$cond (`[` $values^ `:` type($values) `]`)? `,` $message attr-dict"

    def __init__(self, cond: SSAValue, message: str, values: Sequence[SSAValue] = ()):
        super().__init__(operands=[cond, list(values)], attributes={"message": StringAttr(message)})

    def text(self, values: Sequence[int]) -> str:
        return self.message.data.format(*values) if self.values else self.message.data

    def verify_(self) -> None:
        if not is_bool(self.cond.type) or not is_scalar_type(self.cond.type):
            raise VerifyException("loom.assert: condition must be a scalar i1")
        if any(not isinstance(v.type, IntegerType) for v in self.values):
            raise VerifyException("loom.assert: values must be scalar integers")
        if self.values and self.message.data.count("{}") != len(self.values):
            raise VerifyException("loom.assert: the message needs one '{}' per value")


@irdl_op_definition
class OnFailureOp(IRDLOperation):
    """Cleanup when the op just before it fails at run time (a check `cf.assert`/`loom.assert`, a
    `func.call` whose callee fails, a `memref.alloc` that gets no memory): `body` runs on the failing
    path only, before the function returns the failure's status (the LLVM lowering of the failing op
    puts it there). `loom-buffer-dealloc` frees in it what the function owns and holds at that point."""

    name = "loom.on_failure"
    body = region_def("single_block")
    traits = traits_def(NoTerminator())
    assembly_format = "$body attr-dict"

    def __init__(self, ops: Sequence[Operation]):
        super().__init__(regions=[Region(Block(ops))])


BINARY_OPS = (AddOp, SubOp, MulOp, DivOp, FloorDivOp, RemOp, PowOp, MaximumOp, MinimumOp, AndOp, OrOp, CmpOp)
UNARY_OPS = (NegOp, NotOp, ExpOp, LogOp, SqrtOp, RsqrtOp, TanhOp, SigmoidOp, ReluOp, GeluOp, AbsOp, SinOp, CosOp, SignOp)
REDUCTION_OPS = (SumOp, MeanOp, MaxOp, MinOp, ProdOp, AnyOp, AllOp, ArgmaxOp, ArgminOp)

Loom = Dialect(
    "loom",
    [
        *BINARY_OPS, *UNARY_OPS, SelectOp, ConvertOp, MatmulOp, *REDUCTION_OPS,
        ReshapeOp, TransposeOp, BroadcastToOp, ConcatOp, DimOp,
        FullOp, ArangeOp, RandomOp, SliceOp, UpdateOp, PrintOp, AssertOp, OnFailureOp,
    ],
)
