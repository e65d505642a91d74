"""`convert-arith-to-llvm`: scalar `arith` ops → `llvm` dialect ops (`index` becomes `i64`).

- constants → `llvm.mlir.constant`; integer arithmetic, shifts and bitwise ops one to one (the
  `nsw`/`nuw` flags are kept); `floordivsi`/`ceildivsi`/`ceildivui` expand to div/rem/select
  sequences; `maxsi`/`minsi`/`maxui`/`minui` to `icmp` + `select`.
- float arithmetic (`remf`, from `dialects/arith_ext.py`, is `frem`) gets fast-math flags: always
  `contract` (so LLVM forms FMAs) plus the op's own
  `fastmath` flags (e.g. `reassoc` on reduction combiners, which lets reductions vectorize). No
  `nnan`/`ninf` unless the op says so: NaN and infinity semantics are preserved.
- `maximumf`/`minimumf` (NaN-propagating, like NumPy's maximum) → `llvm.intr.maximum/minimum`;
  `maxnumf`/`minnumf` → `llvm.intr.maxnum/minnum`. All vectorize.
- `cmpi`/`cmpf` (all predicates; `cmpf false/true` become constants), `select`, and all casts:
  extf/truncf/extsi/extui/trunci/sitofp/uitofp/fptosi/fptoui/bitcast/index_cast.

Ops missing from xDSL's llvm dialect come from `dialects/llvm_ext.py`.

Example (tests/filecheck/backend_convert_arith_math_to_llvm.mlir; `math` ops are left alone):

    %m = arith.mulf %a, %b fastmath<contract> : f32
    %x = arith.maximumf %d, %b : f32
    %q = arith.floordivsi %i, %j : i64
    %f = arith.sitofp %q : i64 to f32
    %c = arith.cmpf olt, %x, %f : f32
    %s = arith.select %c, %x, %f : f32
becomes
    %m = llvm.fmul %a, %b {fastmathFlags = #llvm.fastmath<contract>} : f32
    %x = llvm.intr.maximum(%d, %b) {fastmathFlags = #llvm.fastmath<contract>} : (f32, f32) -> f32
    %q = llvm.mlir.constant(0) : i64
    %q_1 = llvm.mlir.constant(1) : i64
    %q_2 = llvm.sdiv %i, %j : i64
    %q_3 = llvm.srem %i, %j : i64
    …                                  (round down: remainder non-zero, sign unlike %j's)
    %q_8 = llvm.and %q_4, %q_7 : i1
    %q_9 = llvm.sub %q_2, %q_1 : i64
    %q_10 = llvm.select %q_8, %q_9, %q_2 : i1, i64
    %f = llvm.sitofp %q_10 : i64 to f32
    %c = llvm.fcmp "olt" %x, %f : f32
    %s = llvm.select %c, %x, %f : i1, f32
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from xdsl.context import Context
from xdsl.dialects import arith, llvm
from xdsl.dialects.builtin import (
    FloatAttr,
    IndexType,
    IntegerAttr,
    IntegerType,
    ModuleOp,
    VectorType,
    i1,
    i32,
)
from xdsl.dialects.utils.fast_math import FastMathFlag
from xdsl.ir import Attribute, Operation, SSAValue
from xdsl.passes import ModulePass
from xdsl.pattern_rewriter import (
    GreedyRewritePatternApplier,
    PatternRewriter,
    PatternRewriteWalker,
    RewritePattern,
    op_type_rewrite_pattern,
)

from compiler.passes.llvm_types import constant, convert_type, icmp, int_attr, with_location
from dialects import arith_ext, llvm_ext, loom


def _scalar(t: Attribute) -> bool:
    from xdsl.dialects.builtin import Float16Type, Float32Type, Float64Type

    return isinstance(t, IntegerType | IndexType | Float16Type | Float32Type | Float64Type)


def _scalar_or_vector(t: Attribute) -> bool:
    """A scalar, or a 1-D vector of scalars (LLVM's `<8 x float>`: the matmul kernel's tiles)."""
    return _scalar(t) or (isinstance(t, VectorType) and t.get_num_dims() == 1 and _scalar(t.element_type))


def _make(cls: type[Operation], operands: list[SSAValue], result: Attribute, **props) -> Operation:
    """An llvm op with an explicit (converted) result type."""
    return cls.create(operands=operands, result_types=[convert_type(result)], properties=props)


def fastmath_of(op: Operation) -> llvm.FastMathAttr:
    """`contract` + the op's own fast-math flags (no `contract` on an op marked `loom.NO_CONTRACT`)."""
    fm = getattr(op, "fastmath", None)
    flags = {FastMathFlag(f) for f in fm.data} if fm is not None else set()
    if loom.NO_CONTRACT in op.attributes:
        return llvm.FastMathAttr(flags - {FastMathFlag.ALLOW_CONTRACT})
    return llvm.FastMathAttr(flags | {FastMathFlag.ALLOW_CONTRACT})


def _replace(rewriter: PatternRewriter, op: Operation, new: list[Operation], result: SSAValue | None = None):
    rewriter.replace(op, with_location(new, op), [result if result is not None else new[-1].results[0]])


class LowerConstant(RewritePattern):
    @op_type_rewrite_pattern
    def match_and_rewrite(self, op: arith.ConstantOp, rewriter: PatternRewriter, /):
        t, v = op.result.type, op.value
        if not _scalar(t):
            return
        if isinstance(v, IntegerAttr):
            new = constant(v.value.data, convert_type(t))
        elif isinstance(v, FloatAttr):
            new = llvm.ConstantOp.create(properties={"value": v}, result_types=[t])
        else:
            return
        _replace(rewriter, op, [new])


_INT_BINARY: dict[type[Operation], type[Operation]] = {
    arith.AddiOp: llvm.AddOp, arith.SubiOp: llvm.SubOp, arith.MuliOp: llvm.MulOp,
    arith.DivSIOp: llvm.SDivOp, arith.DivUIOp: llvm.UDivOp, arith.RemSIOp: llvm.SRemOp,
    arith.RemUIOp: llvm.URemOp, arith.AndIOp: llvm.AndOp, arith.OrIOp: llvm.OrOp,
    arith.XOrIOp: llvm.XOrOp, arith.ShLIOp: llvm.ShlOp, arith.ShRSIOp: llvm.AShrOp,
    arith.ShRUIOp: llvm.LShrOp,
}


class LowerIntBinary(RewritePattern):
    def match_and_rewrite(self, op: Operation, rewriter: PatternRewriter, /):
        cls = _INT_BINARY.get(type(op))
        if cls is None or not _scalar(op.results[0].type):
            return
        props = {}
        of = getattr(op, "overflow_flags", None)
        if of is not None and issubclass(cls, llvm.ArithmeticBinOpOverflow):
            bits = (1 if arith.IntegerOverflowFlag.NSW in of.data else 0) | \
                   (2 if arith.IntegerOverflowFlag.NUW in of.data else 0)
            props["overflowFlags"] = int_attr(bits, i32)
        _replace(rewriter, op, [_make(cls, list(op.operands), op.results[0].type, **props)])


_FLOAT_BINARY: dict[type[Operation], type[Operation]] = {
    arith.AddfOp: llvm.FAddOp, arith.SubfOp: llvm.FSubOp, arith.MulfOp: llvm.FMulOp,
    arith.DivfOp: llvm.FDivOp, arith.MaximumfOp: llvm_ext.MaximumOp,
    arith.MinimumfOp: llvm_ext.MinimumOp, arith.MaxnumfOp: llvm.VectorFMaxOp,
    arith.MinnumfOp: llvm.VectorFMinOp, arith_ext.RemFOp: llvm.FRemOp,
}


class LowerFloatBinary(RewritePattern):
    def match_and_rewrite(self, op: Operation, rewriter: PatternRewriter, /):
        cls = _FLOAT_BINARY.get(type(op))
        if cls is None or not _scalar_or_vector(op.results[0].type):
            return
        _replace(rewriter, op, [cls(op.operands[0], op.operands[1], fastmath_of(op))])


class LowerNegf(RewritePattern):
    @op_type_rewrite_pattern
    def match_and_rewrite(self, op: arith.NegfOp, rewriter: PatternRewriter, /):
        if _scalar_or_vector(op.result.type):
            _replace(rewriter, op, [llvm.FNegOp(op.operand, fastmath_of(op))])


_MINMAX = {arith.MaxSIOp: "sgt", arith.MinSIOp: "slt", arith.MaxUIOp: "ugt", arith.MinUIOp: "ult"}


def _select(cond: SSAValue, a: SSAValue, b: SSAValue, t: Attribute) -> Operation:
    return _make(llvm.SelectOp, [cond, a, b], t, fastmathFlags=llvm.FastMathAttr(None))


class LowerIntMinMax(RewritePattern):
    def match_and_rewrite(self, op: Operation, rewriter: PatternRewriter, /):
        pred = _MINMAX.get(type(op))
        if pred is None or not _scalar(op.results[0].type):
            return
        a, b = op.operands
        cmp = icmp(a, b, pred)
        _replace(rewriter, op, [cmp, _select(cmp.res, a, b, op.results[0].type)])


class LowerCmpi(RewritePattern):
    @op_type_rewrite_pattern
    def match_and_rewrite(self, op: arith.CmpiOp, rewriter: PatternRewriter, /):
        if _scalar(op.lhs.type):
            pred = arith.CMPI_COMPARISON_OPERATIONS[op.predicate.value.data]
            _replace(rewriter, op, [icmp(op.lhs, op.rhs, pred)])


class LowerCmpf(RewritePattern):
    @op_type_rewrite_pattern
    def match_and_rewrite(self, op: arith.CmpfOp, rewriter: PatternRewriter, /):
        if not _scalar(op.lhs.type):
            return
        pred = arith.CMPF_COMPARISON_OPERATIONS[op.predicate.value.data]
        if pred in ("false", "true"):
            new = llvm.ConstantOp(IntegerAttr(int(pred == "true"), i1), i1)
        else:
            new = llvm.FCmpOp(op.lhs, op.rhs, pred)
            new.properties["fastmathFlags"] = fastmath_of(op)
        _replace(rewriter, op, [new])


class LowerSelect(RewritePattern):
    @op_type_rewrite_pattern
    def match_and_rewrite(self, op: arith.SelectOp, rewriter: PatternRewriter, /):
        if _scalar(op.result.type):
            _replace(rewriter, op, [_select(op.cond, op.lhs, op.rhs, op.result.type)])


_CASTS: dict[type[Operation], type[Operation]] = {
    arith.ExtFOp: llvm.FPExtOp, arith.TruncFOp: llvm.FPTruncOp, arith.ExtSIOp: llvm.SExtOp,
    arith.ExtUIOp: llvm.ZExtOp, arith.TruncIOp: llvm.TruncOp, arith.SIToFPOp: llvm.SIToFPOp,
    arith.UIToFPOp: llvm_ext.UIToFPOp, arith.FPToSIOp: llvm_ext.FPToSIOp,
    arith.FPToUIOp: llvm_ext.FPToUIOp, arith.BitcastOp: llvm.BitcastOp,
}


def _width(t: Attribute) -> int:
    return convert_type(t).width.data


class LowerCast(RewritePattern):
    """One-to-one casts, and index_cast (sext / trunc / nothing once index is i64)."""

    def match_and_rewrite(self, op: Operation, rewriter: PatternRewriter, /):
        if not isinstance(op, arith.IndexCastOp) and type(op) not in _CASTS:
            return
        src, dst = op.operands[0].type, op.results[0].type
        if not (_scalar(src) and _scalar(dst)):
            return
        if isinstance(op, arith.IndexCastOp):
            ws, wd = _width(src), _width(dst)
            cls = llvm.SExtOp if ws < wd else llvm.TruncOp if ws > wd else None
        else:
            cls = _CASTS[type(op)]
            if cls is llvm.BitcastOp and convert_type(src) == convert_type(dst):
                cls = None
        if cls is None:  # same type after conversion: the cast disappears
            rewriter.replace(op, [], [op.operands[0]])
            return
        _replace(rewriter, op, [_make(cls, [op.operands[0]], dst)])


def _const(value: int, t: Attribute) -> llvm.ConstantOp:
    return constant(value, convert_type(t))


def _rounded_division(op: Operation, rewriter: PatternRewriter, ceil: bool) -> None:
    """Signed division rounded toward -inf (floor) or +inf (ceil) from truncating `sdiv`:
    q = a/b, r = a%b; when r != 0 and the exact quotient lies below q (floor: r and b have
    different signs) or above it (ceil: the same sign), step q by one toward the rounding."""
    if not _scalar(op.result.type):
        return
    t, a, b = op.result.type, op.lhs, op.rhs
    zero, one = _const(0, t), _const(1, t)
    q = _make(llvm.SDivOp, [a, b], t)
    r = _make(llvm.SRemOp, [a, b], t)
    nz = icmp(r.results[0], zero.result, "ne")
    rneg = icmp(r.results[0], zero.result, "slt")
    bneg = icmp(b, zero.result, "slt")
    signs = icmp(rneg.res, bneg.res, "eq" if ceil else "ne")
    fix = llvm.AndOp(nz.res, signs.res)
    stepped = _make(llvm.AddOp if ceil else llvm.SubOp, [q.results[0], one.result], t)
    res = _select(fix.res, stepped.results[0], q.results[0], t)
    _replace(rewriter, op, [zero, one, q, r, nz, rneg, bneg, signs, fix, stepped, res])


class LowerFloorDivSI(RewritePattern):
    @op_type_rewrite_pattern
    def match_and_rewrite(self, op: arith.FloorDivSIOp, rewriter: PatternRewriter, /):
        _rounded_division(op, rewriter, ceil=False)


class LowerCeilDivSI(RewritePattern):
    @op_type_rewrite_pattern
    def match_and_rewrite(self, op: arith.CeilDivSIOp, rewriter: PatternRewriter, /):
        _rounded_division(op, rewriter, ceil=True)


class LowerCeilDivUI(RewritePattern):
    """a == 0 ? 0 : (a - 1)/b + 1."""

    @op_type_rewrite_pattern
    def match_and_rewrite(self, op: arith.CeilDivUIOp, rewriter: PatternRewriter, /):
        if not _scalar(op.result.type):
            return
        t, a, b = op.result.type, op.lhs, op.rhs
        zero, one = _const(0, t), _const(1, t)
        am1 = _make(llvm.SubOp, [a, one.result], t)
        q = _make(llvm.UDivOp, [am1.results[0], b], t)
        qp1 = _make(llvm.AddOp, [q.results[0], one.result], t)
        isz = icmp(a, zero.result, "eq")
        res = _select(isz.res, zero.result, qp1.results[0], t)
        _replace(rewriter, op, [zero, one, am1, q, qp1, isz, res])


def patterns() -> list[RewritePattern]:
    return [LowerConstant(), LowerIntBinary(), LowerFloatBinary(), LowerNegf(), LowerIntMinMax(),
            LowerCmpi(), LowerCmpf(), LowerSelect(), LowerCast(), LowerFloorDivSI(), LowerCeilDivSI(),
            LowerCeilDivUI()]


@dataclass(frozen=True)
class ConvertArithToLlvm(ModulePass):
    name = "convert-arith-to-llvm"
    PART_OF: ClassVar[str] = "convert-to-llvm"  # verifies only once all the parts have run

    def apply(self, ctx: Context, op: ModuleOp) -> None:
        llvm_ext.install()
        PatternRewriteWalker(GreedyRewritePatternApplier(patterns()), apply_recursively=False).rewrite_module(op)
