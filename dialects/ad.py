"""The `ad` dialect: automatic differentiation as IR.

- `ad.jvp @f {wrt}` (primals…, tangents…) → (results…, result tangents…): forward mode; one tangent
  per differentiated parameter (`wrt`, parameter positions).
- `ad.vjp @f {wrt}` (primals…, cotangents…) → (results…, parameter cotangents…): reverse mode; one
  cotangent per result of `@f`. `grad`/`value_and_grad` are a `vjp` with cotangent 1.
- `ad.stop_gradient %x`: `x`, with a zero derivative.
- Tapes, for reverse mode through control flow (`ad-linearize` pushes the primal values the
  linear program needs, in the order they are produced; the transposed program pops them in
  reverse): `ad.tape_new` → `!ad.tape`; `ad.push %tape, %v` → the tape with `v` on top;
  `ad.pop %tape` → (the tape without its top, the top value, of the stated type); `ad.tape_free`;
  `ad.tape_reserve %tape, %bytes` preallocates a loop's pushes from its trip count. Tapes are values
  threaded through loops and branches like any other, so the IR stays functional; they grow at run
  time, so a `while` loop without a bound can be differentiated in reverse mode too.

The passes `ad-jvp`, `ad-linearize` and `ad-transpose` (compiler/passes/) replace `ad.jvp`/`ad.vjp`
with calls to derivative functions built from per-op rules (compiler/passes/autodiff/).
"""

from __future__ import annotations

from collections.abc import Sequence

from xdsl.dialects.builtin import DenseArrayBase, StringAttr, SymbolRefAttr, i64
from xdsl.ir import Attribute, Dialect, ParametrizedAttribute, SSAValue, TypeAttribute
from xdsl.irdl import (
    AnyAttr,
    IRDLOperation,
    attr_def,
    irdl_attr_definition,
    irdl_op_definition,
    operand_def,
    opt_attr_def,
    result_def,
    traits_def,
    var_operand_def,
    var_result_def,
)
from xdsl.traits import Pure
from xdsl.utils.exceptions import VerifyException


@irdl_attr_definition
class TapeType(ParametrizedAttribute, TypeAttribute):
    """A stack of values (of any types) recorded by a forward sweep for the reverse sweep."""

    name = "ad.tape"


class _DerivativeOp(IRDLOperation):
    callee = attr_def(SymbolRefAttr)
    wrt = attr_def(DenseArrayBase)
    # ad.vjp only: "primal" (operands: primals, cotangents), then after ad-jvp "jvp" (callee is the
    # JVP function, same operands), after ad-linearize "linear" (operands: tape, cotangents)
    form = opt_attr_def(StringAttr)
    args = var_operand_def(AnyAttr())
    outs = var_result_def(AnyAttr())
    assembly_format = "$callee `(` $args `)` attr-dict `:` functional-type($args, $outs)"

    def __init__(self, callee: str, wrt: Sequence[int], args: Sequence[SSAValue], result_types: Sequence[Attribute],
                 form: str | None = None):
        attrs = {"callee": SymbolRefAttr(callee), "wrt": DenseArrayBase.from_list(i64, list(wrt))}
        if form is not None:
            attrs["form"] = StringAttr(form)
        super().__init__(operands=[list(args)], result_types=[list(result_types)], attributes=attrs)

    def form_name(self) -> str:
        return self.form.data if self.form is not None else "primal"

    def wrt_list(self) -> list[int]:
        return list(self.wrt.get_values())

    def verify_(self) -> None:
        w = self.wrt_list()
        if w != sorted(set(w)) or any(i < 0 for i in w):
            raise VerifyException(f"{self.name}: wrt must list distinct parameter positions in order")


@irdl_op_definition
class JvpOp(_DerivativeOp):
    name = "ad.jvp"


@irdl_op_definition
class VjpOp(_DerivativeOp):
    name = "ad.vjp"


@irdl_op_definition
class StopGradientOp(IRDLOperation):
    name = "ad.stop_gradient"
    operand = operand_def(AnyAttr())
    result = result_def(AnyAttr())
    traits = traits_def(Pure())
    assembly_format = "$operand attr-dict `:` functional-type($operand, $result)"

    def __init__(self, operand: SSAValue):
        super().__init__(operands=[operand], result_types=[operand.type])


@irdl_op_definition
class TapeNewOp(IRDLOperation):
    name = "ad.tape_new"
    tape = result_def(TapeType)
    assembly_format = "attr-dict"

    def __init__(self):
        super().__init__(result_types=[TapeType()])


@irdl_op_definition
class PushOp(IRDLOperation):
    name = "ad.push"
    tape = operand_def(TapeType)
    value = operand_def(AnyAttr())
    result = result_def(TapeType)
    assembly_format = "$tape `,` $value attr-dict `:` type($value)"

    def __init__(self, tape: SSAValue, value: SSAValue):
        super().__init__(operands=[tape, value], result_types=[TapeType()])


@irdl_op_definition
class PopOp(IRDLOperation):
    name = "ad.pop"
    tape = operand_def(TapeType)
    result_tape = result_def(TapeType)
    value = result_def(AnyAttr())
    assembly_format = "$tape attr-dict `:` type($value)"

    def __init__(self, tape: SSAValue, value_type: Attribute):
        super().__init__(operands=[tape], result_types=[TapeType(), value_type])


@irdl_op_definition
class TapeReserveOp(IRDLOperation):
    """Room for `bytes` more bytes on the tape (a hint: a loop's pushes, preallocated from its trip
    count; pushes beyond it still grow the tape)."""

    name = "ad.tape_reserve"
    tape = operand_def(TapeType)
    bytes = operand_def(i64)
    result = result_def(TapeType)
    assembly_format = "$tape `,` $bytes attr-dict"

    def __init__(self, tape: SSAValue, nbytes: SSAValue):
        super().__init__(operands=[tape, nbytes], result_types=[TapeType()])


@irdl_op_definition
class TapeFreeOp(IRDLOperation):
    """The end of a tape's life (after the reverse sweep has popped everything)."""

    name = "ad.tape_free"
    tape = operand_def(TapeType)
    assembly_format = "$tape attr-dict"

    def __init__(self, tape: SSAValue):
        super().__init__(operands=[tape])


AD = Dialect("ad", [JvpOp, VjpOp, StopGradientOp, TapeNewOp, PushOp, PopOp, TapeReserveOp, TapeFreeOp], [TapeType])

__all__ = ["AD", "JvpOp", "VjpOp", "StopGradientOp", "TapeNewOp", "PushOp", "PopOp", "TapeReserveOp", "TapeFreeOp", "TapeType"]
