"""The `loom` dialect's shape, creation, indexing and effect ops (the rest are in dialects/loom.py,
which registers all of them in one `Dialect`; MLIR splits a large dialect's ops over files the same way,
e.g. LinalgOps.td and LinalgStructuredOps.td)."""

from __future__ import annotations

from collections.abc import Sequence

from xdsl.dialects.builtin import DenseArrayBase, IntegerType, StringAttr, i1, i64
from xdsl.ir import Attribute, SSAValue
from xdsl.irdl import (
    IRDLOperation,
    attr_def,
    irdl_op_definition,
    operand_def,
    result_def,
    traits_def,
    var_operand_def,
)
from xdsl.traits import Pure
from xdsl.utils.exceptions import VerifyException

from dialects.loom_types import (
    DYNAMIC, KIND_DYN_INDEX, KIND_INDEX, KIND_RANGE, KIND_WINDOW, Canonicalize, IntegerScalar, LoomValue,
    LoomValueOrBuffer, broadcast_shapes, check_result_shape, element_type, is_bool, is_float, is_scalar_type,
    shape_of, spec_attrs,
)


# ------------------------------------------------------------------ shape ops
@irdl_op_definition
class ReshapeOp(IRDLOperation):
    """Row-major reshape to the result type's shape."""

    name = "loom.reshape"
    operand = operand_def(LoomValue)
    result = result_def(LoomValue)
    traits = traits_def(Pure(), Canonicalize())
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
    traits = traits_def(Pure(), Canonicalize())
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
            check_result_shape(self, tuple(shape[i] for i in p))


@irdl_op_definition
class BroadcastToOp(IRDLOperation):
    """Broadcast to the result type's shape (NumPy rules)."""

    name = "loom.broadcast_to"
    operand = operand_def(LoomValue)
    result = result_def(LoomValue)
    traits = traits_def(Pure(), Canonicalize())
    assembly_format = "$operand attr-dict `:` functional-type(operands, results)"

    def __init__(self, operand: SSAValue, result_type: Attribute):
        super().__init__(operands=[operand], result_types=[result_type])

    def verify_(self) -> None:
        a, b = shape_of(self.operand.type), shape_of(self.result.type)
        if a is not None and b is not None:
            if broadcast_shapes(a, b) is not None and len(a) > len(b):
                raise VerifyException("loom.broadcast_to: cannot lower the rank")
            check_result_shape(self, broadcast_shapes(a, b))


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
    traits = traits_def(Pure(), Canonicalize())
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
        super().__init__(operands=[source, list(indices)], result_types=[result_type], attributes=spec_attrs(spec))

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
                         attributes=spec_attrs(spec))

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
