"""llvm-dialect ops that xDSL 0.74 lacks, under their upstream MLIR names (so printed IR stays valid
MLIR), and their translation to LLVM IR.

`xdsl.backend.llvm.convert.convert_module` translates each op with the function `convert_op`, looked
up as a global of `xdsl.backend.llvm.convert`. `install()` wraps it (once): ops defined here are
translated here, everything else goes to xDSL's own translation. It also translates xDSL's float
intrinsic ops (`llvm.intr.fabs`, `llvm.intr.fma`, …) itself: xDSL does not mangle their names by
type (an f32 and an f64 `llvm.fabs` in one module clash) and drops or refuses fast-math flags.

Ops: `llvm.fptosi`, `llvm.fptoui`, `llvm.uitofp`, `llvm.freeze`, `llvm.intr.maximum`,
`llvm.intr.minimum` (NaN-propagating, −0 < +0: `arith.maximumf/minimumf`), `llvm.intr.round`,
`llvm.intr.roundeven`, `llvm.intr.trunc`, `llvm.intr.log10`, `llvm.intr.powi` (LLVM calls
`__powisf2`/`__powidf2` for a variable exponent: the JIT'd process must provide them). Atomic
`llvm.load`s keep their ordering (xDSL's translation drops it), and so does a function its linkage
(`internal`: LLVM may then change or drop it) and `no_inline`.
"""

from __future__ import annotations

from abc import ABC
from typing import ClassVar

from llvmlite import ir
from llvmlite.ir import instructions
from xdsl.backend.llvm.convert_type import convert_type as _ll_type
from xdsl.dialects import llvm
from xdsl.dialects.builtin import (
    AnyFloatConstr,
    IntegerType,
    SignlessIntegerConstraint,
    VectorType,
)
from xdsl.ir import Attribute, Dialect, Operation, SSAValue
from xdsl.irdl import (
    AnyAttr,
    IRDLOperation,
    ParsePropInAttrDict,
    VarConstraint,
    irdl_op_definition,
    operand_def,
    prop_def,
    result_def,
    traits_def,
)
from xdsl.traits import NoMemoryEffect, Pure

_FLOAT = AnyFloatConstr | VectorType.constr(AnyFloatConstr)
_INT = SignlessIntegerConstraint | VectorType.constr(SignlessIntegerConstraint)


def _fm(fast_math) -> llvm.FastMathAttr:
    return fast_math if isinstance(fast_math, llvm.FastMathAttr) else llvm.FastMathAttr(fast_math)


# --- casts -------------------------------------------------------------------------------------

class _Cast(IRDLOperation, ABC):
    arg = operand_def(Attribute)
    res = result_def(Attribute)
    traits = traits_def(NoMemoryEffect())
    assembly_format = "$arg attr-dict `:` type($arg) `to` type($res)"

    def __init__(self, arg: SSAValue | Operation, res_type: Attribute):
        super().__init__(operands=[arg], result_types=[res_type])


@irdl_op_definition
class FPToSIOp(_Cast):
    name = "llvm.fptosi"
    arg = operand_def(_FLOAT)
    res = result_def(_INT)


@irdl_op_definition
class FPToUIOp(_Cast):
    name = "llvm.fptoui"
    arg = operand_def(_FLOAT)
    res = result_def(_INT)


@irdl_op_definition
class UIToFPOp(_Cast):
    name = "llvm.uitofp"
    arg = operand_def(_INT)
    res = result_def(_FLOAT)


@irdl_op_definition
class FreezeOp(IRDLOperation):
    name = "llvm.freeze"
    T: ClassVar = VarConstraint("T", AnyAttr())
    val = operand_def(T)
    res = result_def(T)
    traits = traits_def(NoMemoryEffect())
    assembly_format = "$val attr-dict `:` type($val)"

    def __init__(self, val: SSAValue | Operation):
        super().__init__(operands=[val], result_types=[SSAValue.get(val).type])


# --- float intrinsics --------------------------------------------------------------------------

class _UnaryIntr(IRDLOperation, ABC):
    T: ClassVar = VarConstraint("T", _FLOAT)
    arg = operand_def(T)
    res = result_def(T)
    fastmathFlags = prop_def(llvm.FastMathAttr, default_value=llvm.FastMathAttr(None))
    traits = traits_def(Pure())
    assembly_format = "`(` operands `)` attr-dict `:` functional-type(operands, results)"
    irdl_options = (ParsePropInAttrDict(),)

    def __init__(self, arg: SSAValue | Operation, fast_math=None):
        super().__init__(operands=[arg], result_types=[SSAValue.get(arg).type],
                         properties={"fastmathFlags": _fm(fast_math)})


class _BinaryIntr(IRDLOperation, ABC):
    T: ClassVar = VarConstraint("T", _FLOAT)
    lhs = operand_def(T)
    rhs = operand_def(T)
    res = result_def(T)
    fastmathFlags = prop_def(llvm.FastMathAttr, default_value=llvm.FastMathAttr(None))
    traits = traits_def(Pure())
    assembly_format = "`(` operands `)` attr-dict `:` functional-type(operands, results)"
    irdl_options = (ParsePropInAttrDict(),)

    def __init__(self, lhs: SSAValue | Operation, rhs: SSAValue | Operation, fast_math=None):
        super().__init__(operands=[lhs, rhs], result_types=[SSAValue.get(lhs).type],
                         properties={"fastmathFlags": _fm(fast_math)})


@irdl_op_definition
class MaximumOp(_BinaryIntr):
    name = "llvm.intr.maximum"


@irdl_op_definition
class MinimumOp(_BinaryIntr):
    name = "llvm.intr.minimum"


@irdl_op_definition
class RoundOp(_UnaryIntr):
    name = "llvm.intr.round"


@irdl_op_definition
class RoundEvenOp(_UnaryIntr):
    name = "llvm.intr.roundeven"


@irdl_op_definition
class FTruncOp(_UnaryIntr):
    name = "llvm.intr.trunc"


@irdl_op_definition
class Log10Op(_UnaryIntr):
    name = "llvm.intr.log10"


@irdl_op_definition
class PowIOp(IRDLOperation):
    name = "llvm.intr.powi"
    T: ClassVar = VarConstraint("T", _FLOAT)
    val = operand_def(T)
    power = operand_def(IntegerType)
    res = result_def(T)
    fastmathFlags = prop_def(llvm.FastMathAttr, default_value=llvm.FastMathAttr(None))
    traits = traits_def(Pure())
    assembly_format = "`(` operands `)` attr-dict `:` functional-type(operands, results)"
    irdl_options = (ParsePropInAttrDict(),)

    def __init__(self, val: SSAValue | Operation, power: SSAValue | Operation, fast_math=None):
        super().__init__(operands=[val, power], result_types=[SSAValue.get(val).type],
                         properties={"fastmathFlags": _fm(fast_math)})


_INTRINSIC = {MaximumOp: "llvm.maximum", MinimumOp: "llvm.minimum", RoundOp: "llvm.round",
              RoundEvenOp: "llvm.roundeven", FTruncOp: "llvm.trunc", Log10Op: "llvm.log10"}

LlvmExt = Dialect("llvm_ext", [FPToSIOp, FPToUIOp, UIToFPOp, FreezeOp, MaximumOp, MinimumOp, RoundOp,
                               RoundEvenOp, FTruncOp, Log10Op, PowIOp], [])


# --- translation to LLVM IR --------------------------------------------------------------------

class _FreezeInstr(instructions.Instruction):
    def __init__(self, parent, val, name=""):
        super().__init__(parent, val.type, "freeze", [val], name=name)

    def descr(self, buf):
        op = self.operands[0]
        buf.append(f"freeze {op.type} {op.get_reference()}{self._stringify_metadata(leading_comma=True)}\n")


def _flags(op: Operation) -> list[str]:
    return sorted(str(f) for f in op.fastmathFlags.data)


def _suffix(t: ir.Type) -> str:
    if isinstance(t, ir.VectorType):
        return f"v{t.count}{_suffix(t.element)}"
    return t.intrinsic_name


def _intrinsic(builder: ir.IRBuilder, name: str, ret: ir.Type, args: list[ir.Value]) -> ir.Function:
    full = ".".join([name] + [_suffix(a.type) for a in args[:1]] +
                    ([_suffix(args[1].type)] if name == "llvm.powi" else []))
    if full in builder.module.globals:
        return builder.module.globals[full]
    return ir.Function(builder.module, ir.FunctionType(ret, [a.type for a in args]), name=full)


# xDSL's own translation declares overloaded intrinsics without the type suffix (`llvm.fabs`), so
# an f32 and an f64 use of one intrinsic in the same module clash; it also drops fast-math flags
# on them. These are translated here instead.
_XDSL_INTRINSIC = {
    llvm.FAbsOp: "llvm.fabs", llvm.FExpOp: "llvm.exp", llvm.FCeilOp: "llvm.ceil", llvm.FSinOp: "llvm.sin",
    llvm.FFloorOp: "llvm.floor", llvm.FExp2Op: "llvm.exp2", llvm.FSqrtOp: "llvm.sqrt", llvm.FLogOp: "llvm.log",
    llvm.FCosOp: "llvm.cos", llvm.FLog2Op: "llvm.log2", llvm.FPowOp: "llvm.pow", llvm.VectorFMaxOp: "llvm.maxnum",
    llvm.VectorFMinOp: "llvm.minnum", llvm.FCopySignOp: "llvm.copysign", llvm.FMAOp: "llvm.fma",
}


def _convert_ext(op: Operation, builder: ir.IRBuilder, val_map: dict) -> None:
    args = [val_map[v] for v in op.operands]
    match op:
        case FPToSIOp():
            val_map[op.res] = builder.fptosi(args[0], _ll_type(op.res.type))
        case FPToUIOp():
            val_map[op.res] = builder.fptoui(args[0], _ll_type(op.res.type))
        case UIToFPOp():
            val_map[op.res] = builder.uitofp(args[0], _ll_type(op.res.type))
        case FreezeOp():
            instr = _FreezeInstr(builder.block, args[0])
            builder._insert(instr)
            val_map[op.res] = instr
        case PowIOp():
            fn = _intrinsic(builder, "llvm.powi", args[0].type, args)
            val_map[op.res] = builder.call(fn, args, fastmath=_flags(op))
        case _:
            name = _INTRINSIC.get(type(op)) or _XDSL_INTRINSIC[type(op)]
            fn = _intrinsic(builder, name, args[0].type, args)
            val_map[op.results[0]] = builder.call(fn, args, fastmath=_flags(op))


_OURS = (FPToSIOp, FPToUIOp, UIToFPOp, FreezeOp, PowIOp, *_INTRINSIC, *_XDSL_INTRINSIC)


def install() -> None:
    """Make `convert_module` translate the ops above (idempotent)."""
    from xdsl.backend.llvm import convert

    if getattr(convert.convert_op, "_loom_llvm_ext", False):
        return
    original = convert.convert_op

    def convert_op(op, builder, val_map, block_map=None):
        if isinstance(op, _OURS):
            return _convert_ext(op, builder, val_map)
        if isinstance(op, llvm.LoadOp) and op.ordering.value.data:  # xDSL drops the ordering
            val_map[op.dereferenced_value] = builder.load_atomic(
                val_map[op.ptr], llvm.ATOMIC_ORDERING_KEYWORDS[op.ordering.value.data],
                op.alignment.value.data, typ=_ll_type(op.dereferenced_value.type))
            return None
        return original(op, builder, val_map, block_map)

    convert_op._loom_llvm_ext = True
    convert.convert_op = convert_op
    declare_func = convert._declare_func

    def _declare_func(op: llvm.FuncOp, llvm_module: ir.Module):
        declare_func(op, llvm_module)
        fn = llvm_module.get_global(op.sym_name.data)
        if op.body.blocks and op.linkage is not None and op.linkage.linkage.data != "external":
            fn.linkage = op.linkage.linkage.data  # xDSL makes every function external
        if op.no_inline is not None:  # xDSL drops it
            fn.attributes.add("noinline")

    convert._declare_func = _declare_func
