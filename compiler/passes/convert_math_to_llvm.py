"""`convert-math-to-llvm`: scalar `math` ops → llvm intrinsics, or calls to libm.

Run `math-approximation` first: it expands exp/log/tanh/sin/cos/expm1/log1p into vectorizable
arith code; whatever survives here becomes an intrinsic (`llvm.intr.exp`, … — LLVM calls libm for
those) or, where LLVM has no intrinsic, a call to the libm function (`tanhf`, `tanh`, `atan2f`, …,
declared as an external `llvm.func`). Either way a scalar libm call blocks vectorization.

- sqrt, absf, floor, ceil, exp, exp2, log, log2, log10, sin, cos, round, roundeven, trunc →
  unary intrinsics; copysign, powf → binary intrinsics; fma → `llvm.intr.fma`;
  fpowi → `llvm.intr.pow` of the converted exponent.
- rsqrt → 1/sqrt(x); absi → select(x < 0, 0 - x, x).
- tan, tanh, sinh, cosh, asin, acos, atan, asinh, acosh, atanh, erf, cbrt, expm1, log1p, atan2
  → libm calls.

The op's fast-math flags are kept (plus `contract` on the arithmetic this pass creates).

Example (tests/filecheck/backend_convert_arith_math_to_llvm.mlir, without `math-approximation`):

    %t = math.tanh %s : f32
    %e = math.sqrt %t : f32
becomes
    %t = llvm.call @tanhf(%s) : (f32) -> f32          (no LLVM intrinsic: libm)
    %e = llvm.intr.sqrt(%t) : (f32) -> f32
    …
    llvm.func @tanhf(f32) -> f32
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from xdsl.context import Context
from xdsl.dialects import llvm, math
from xdsl.dialects.builtin import (
    Float32Type,
    Float64Type,
    FloatAttr,
    IntegerAttr,
    IntegerType,
    ModuleOp,
    i64,
)
from xdsl.dialects.utils.fast_math import FastMathFlag
from xdsl.ir import Operation
from xdsl.passes import ModulePass
from xdsl.pattern_rewriter import (
    GreedyRewritePatternApplier,
    PatternRewriter,
    PatternRewriteWalker,
    RewritePattern,
    op_type_rewrite_pattern,
)

from compiler.passes.llvm_types import declare, with_location
from dialects import llvm_ext


def _fm(op: Operation, contract: bool = False) -> llvm.FastMathAttr:
    flags = {FastMathFlag(f) for f in op.fastmath.data} if getattr(op, "fastmath", None) is not None else set()
    return llvm.FastMathAttr(flags | ({FastMathFlag.ALLOW_CONTRACT} if contract else set()))


def _is_float(t) -> bool:
    return isinstance(t, Float32Type | Float64Type)


_UNARY: dict[type[Operation], type[Operation]] = {
    math.SqrtOp: llvm.FSqrtOp, math.FloorOp: llvm.FFloorOp, math.CeilOp: llvm.FCeilOp,
    math.ExpOp: llvm.FExpOp, math.Exp2Op: llvm.FExp2Op, math.LogOp: llvm.FLogOp,
    math.Log2Op: llvm.FLog2Op, math.SinOp: llvm.FSinOp, math.CosOp: llvm.FCosOp,
    math.Log10Op: llvm_ext.Log10Op, math.RoundOp: llvm_ext.RoundOp,
    math.RoundEvenOp: llvm_ext.RoundEvenOp, math.TruncOp: llvm_ext.FTruncOp,
}

_BINARY: dict[type[Operation], type[Operation]] = {
    math.CopySignOp: llvm.FCopySignOp, math.PowFOp: llvm.FPowOp,
}

_LIBM: dict[type[Operation], str] = {
    math.TanOp: "tan", math.TanhOp: "tanh", math.SinhOp: "sinh", math.CoshOp: "cosh",
    math.AsinOp: "asin", math.AcosOp: "acos", math.AtanOp: "atan", math.AsinhOp: "asinh",
    math.AcoshOp: "acosh", math.AtanhOp: "atanh", math.ErfOp: "erf", math.CbrtOp: "cbrt",
    math.ExpM1Op: "expm1", math.Log1pOp: "log1p", math.Atan2Op: "atan2",
}


class LowerUnary(RewritePattern):
    def match_and_rewrite(self, op: Operation, rewriter: PatternRewriter, /):
        cls = _UNARY.get(type(op))
        if cls is not None and _is_float(op.results[0].type):
            rewriter.replace(op, with_location(cls(op.operands[0], _fm(op)), op))


class LowerAbsF(RewritePattern):
    @op_type_rewrite_pattern
    def match_and_rewrite(self, op: math.AbsFOp, rewriter: PatternRewriter, /):
        if _is_float(op.result.type):
            rewriter.replace(op, with_location(llvm.FAbsOp(op.operand, op.result.type, _fm(op)), op))


class LowerBinary(RewritePattern):
    def match_and_rewrite(self, op: Operation, rewriter: PatternRewriter, /):
        cls = _BINARY.get(type(op))
        if cls is not None and _is_float(op.results[0].type):
            rewriter.replace(op, with_location(cls(op.operands[0], op.operands[1], _fm(op)), op))


class LowerFma(RewritePattern):
    @op_type_rewrite_pattern
    def match_and_rewrite(self, op: math.FmaOp, rewriter: PatternRewriter, /):
        if _is_float(op.result.type):
            rewriter.replace(op, with_location(llvm.FMAOp(op.a, op.b, op.c, _fm(op)), op))


class LowerFPowI(RewritePattern):
    """pow(x, sitofp(n)): `llvm.powi` would need `__powisf2` from compiler-rt/libgcc at run time."""

    @op_type_rewrite_pattern
    def match_and_rewrite(self, op: math.FPowIOp, rewriter: PatternRewriter, /):
        t = op.result.type
        if _is_float(t) and isinstance(op.rhs.type, IntegerType):
            n = llvm.SIToFPOp(op.rhs, t)
            rewriter.replace(op, with_location([n, llvm.FPowOp(op.lhs, n.result, _fm(op))], op))


class LowerRsqrt(RewritePattern):
    @op_type_rewrite_pattern
    def match_and_rewrite(self, op: math.RsqrtOp, rewriter: PatternRewriter, /):
        t = op.result.type
        if not _is_float(t):
            return
        one = llvm.ConstantOp(FloatAttr(1.0, t), t)
        sqrt = llvm.FSqrtOp(op.operand, _fm(op))
        div = llvm.FDivOp(one.result, sqrt.res, _fm(op, contract=True))
        rewriter.replace(op, with_location([one, sqrt, div], op))


class LowerAbsI(RewritePattern):
    @op_type_rewrite_pattern
    def match_and_rewrite(self, op: math.AbsIOp, rewriter: PatternRewriter, /):
        t = op.result.type
        if not isinstance(t, IntegerType):
            return
        zero = llvm.ConstantOp(IntegerAttr(0, t), t)
        neg = llvm.SubOp(zero.result, op.operand)
        isneg = llvm.ICmpOp(op.operand, zero.result, IntegerAttr(llvm.ICmpPredicateFlag("slt").to_int(), i64))
        sel = llvm.SelectOp(isneg.res, neg.res, op.operand)
        rewriter.replace(op, with_location([zero, neg, isneg, sel], op))


class LowerToLibm(RewritePattern):
    """Functions LLVM has no intrinsic for (or that math-approximation left): call libm."""

    def match_and_rewrite(self, op: Operation, rewriter: PatternRewriter, /):
        base = _LIBM.get(type(op))
        if base is None or not _is_float(t := op.results[0].type):
            return
        name = base + ("f" if isinstance(t, Float32Type) else "")
        declare(op, name, [t] * len(op.operands), t)
        call = llvm.CallOp(name, *op.operands, return_type=t, fastmath=_fm(op))
        rewriter.replace(op, with_location(call, op))


def patterns() -> list[RewritePattern]:
    return [LowerUnary(), LowerAbsF(), LowerBinary(), LowerFma(), LowerFPowI(), LowerRsqrt(), LowerAbsI(),
            LowerToLibm()]


@dataclass(frozen=True)
class ConvertMathToLlvm(ModulePass):
    name = "convert-math-to-llvm"
    PART_OF: ClassVar[str] = "convert-to-llvm"  # verifies only once all the parts have run

    def apply(self, ctx: Context, op: ModuleOp) -> None:
        llvm_ext.install()
        PatternRewriteWalker(GreedyRewritePatternApplier(patterns()), apply_recursively=False).rewrite_module(op)
