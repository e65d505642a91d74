"""Types, operand constraints and attribute encodings of the `loom` dialect (dialects/loom.py).

Values are builtin `tensor<…>` types or plain scalars (`f32`, `f64`, `i32`, `i64`, `i1`); a
dimension is static or `?` (`DYNAMIC`), and a rank-polymorphic value is `tensor<*xf32>`.
These helpers are the vocabulary of every pass that reads loom IR; `dialects.loom` re-exports them.
"""

from __future__ import annotations

from collections.abc import Sequence

from xdsl.dialects.builtin import (
    DYNAMIC_INDEX,
    DenseArrayBase,
    Float32Type,
    Float64Type,
    IntegerType,
    MemRefType,
    TensorType,
    UnrankedTensorType,
    i64,
)
from xdsl.ir import Attribute, Operation
from xdsl.irdl import BaseAttr
from xdsl.traits import HasCanonicalizationPatternsTrait
from xdsl.utils.exceptions import VerifyException

from dialects.loom_indexing import KIND_DYN_INDEX, KIND_INDEX, KIND_RANGE, KIND_WINDOW, NONE  # also as loom.*

DYNAMIC = DYNAMIC_INDEX  # a `?` dimension

# Operand and result constraints: a loom value is a tensor (ranked; unranked for `...S` in generic
# IR) or a scalar of an element type (f32, f64, i1, i32, i64); indices and seeds are integers.
LoomValue = (BaseAttr(TensorType) | BaseAttr(UnrankedTensorType) | BaseAttr(Float32Type) | BaseAttr(Float64Type)
             | BaseAttr(IntegerType))
IntegerScalar = BaseAttr(IntegerType)
# print and assert survive bufferization: their values may also be buffers
LoomValueOrBuffer = LoomValue | BaseAttr(MemRefType)


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


def check_result_shape(op: Operation, expected: tuple[int, ...] | None) -> None:
    got = shape_of(op.results[0].type)
    if expected is None or got is None:
        return
    if len(got) != len(expected) or any(g != e and DYNAMIC not in (g, e) for g, e in zip(got, expected)):
        raise VerifyException(f"{op.name}: result shape {list(got)} does not match expected {list(expected)}")


# ------------------------------------------------------------------ indexing attributes
# The subscript encoding (KIND_*, NONE) is in dialects/loom_indexing.py (no xDSL: the checker builds it).


def spec_attrs(spec: Sequence[tuple[int, int, int, int]]) -> dict[str, Attribute]:
    cols = list(zip(*spec)) if spec else [(), (), (), ()]
    return {name: DenseArrayBase.from_list(i64, list(col)) for name, col in zip(("kinds", "starts", "stops", "steps"), cols)}


class Canonicalize(HasCanonicalizationPatternsTrait):
    """Looks up the op's patterns in `dialects/loom_canonicalize.py` (imported when first asked, as xDSL's own
    dialects do: the patterns build ops of this dialect)."""

    @classmethod
    def get_canonicalization_patterns(cls):  # pragma: no cover - per-op override below
        return ()

    def get_patterns(self, op: type[Operation]):
        from dialects.loom_canonicalize import patterns_for

        return patterns_for(op)
