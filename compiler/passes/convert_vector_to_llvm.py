"""`convert-vector-to-llvm`: the 1-D `vector` ops the matmul micro-kernel uses → the `llvm` dialect
on LLVM vector types (`vector<8xf32>` stays `vector<8xf32>`, LLVM's `<8 x float>`).

- `vector.load`/`vector.store` → `llvm.getelementptr inbounds` on the linearized index of the first
  element (as `convert-memref-to-llvm` does for scalars) + an `llvm.load`/`llvm.store` of the whole
  vector, aligned to one element only (a vector may start anywhere in a row);
- `vector.broadcast` of a scalar → `llvm.insertelement` into lane 0 of an undef vector and an
  all-zero `llvm.shufflevector` (one `vbroadcastss` on x86, folded into the FMA's memory operand);
- `vector.fma` → `llvm.intr.fma` (fused, one rounding);
- 1-D `vector.shuffle` → `llvm.shufflevector` (the packing routines' in-register transposes).

Loads and stores read their buffer's memref type (shapes give strides), so `convert-to-llvm` runs
these patterns with the memref accesses, before buffers become pointers.

Example (tests/filecheck/backend_convert_vector_to_llvm.mlir):

    %v = vector.load %b[%i, %j] : memref<4x16xf32>, vector<8xf32>
    %s = vector.broadcast %x : f32 to vector<8xf32>
    %r = vector.fma %s, %v, %acc : vector<8xf32>
    vector.store %r, %c[%i, %j] : memref<4x16xf32>, vector<8xf32>
becomes
    %v = llvm.mlir.constant(16) : i64
    %v_1 = llvm.mul %i, %v : i64
    %v_2 = llvm.add %v_1, %j : i64
    %v_3 = llvm.getelementptr inbounds %b[%v_2] : (!llvm.ptr, i64) -> !llvm.ptr, f32
    %v_4 = llvm.load %v_3 {alignment = 4 : i64} : !llvm.ptr -> vector<8xf32>
    %s = llvm.mlir.undef : vector<8xf32>
    %s_1 = llvm.mlir.constant(0 : i32) : i32
    %s_2 = llvm.insertelement %x, %s[%s_1 : i32] : vector<8xf32>
    %s_3 = llvm.shufflevector %s_2, %s_2 [0, 0, 0, 0, 0, 0, 0, 0] : vector<8xf32>
    %r = llvm.intr.fma(%s_3, %v_4, %acc) : (vector<8xf32>, vector<8xf32>, vector<8xf32>) -> vector<8xf32>
    …
    llvm.store %r, %r_3 {alignment = 4 : i64} : vector<8xf32>, !llvm.ptr
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from xdsl.context import Context
from xdsl.dialects import llvm, vector
from xdsl.dialects.builtin import DenseArrayBase, IntegerAttr, ModuleOp, i32
from xdsl.ir import Operation
from xdsl.passes import ModulePass
from xdsl.pattern_rewriter import (
    GreedyRewritePatternApplier,
    PatternRewriter,
    PatternRewriteWalker,
    RewritePattern,
    op_type_rewrite_pattern,
)

from compiler.passes.convert_memref_to_llvm import element_address
from compiler.passes.llvm_types import byte_size, load, store, with_location


class LowerVectorAccess(RewritePattern):
    """`vector.load` / `vector.store`: the address of the first element, then one wide access."""

    def match_and_rewrite(self, op: Operation, rewriter: PatternRewriter, /):
        if not isinstance(op, (vector.LoadOp, vector.StoreOp)):
            return
        ops: list[Operation] = []
        t = op.base.type
        addr = element_address(ops, op.base, t, op.indices)
        align = byte_size(t.element_type)
        if isinstance(op, vector.LoadOp):
            ops.append(load(addr, op.result.type, alignment=align))
            rewriter.replace(op, with_location(ops, op), [ops[-1].results[0]])
        else:
            ops.append(store(op.vector, addr, alignment=align))
            rewriter.replace(op, with_location(ops, op), [])


class LowerBroadcast(RewritePattern):
    @op_type_rewrite_pattern
    def match_and_rewrite(self, op: vector.BroadcastOp, rewriter: PatternRewriter, /):
        vt = op.vector.type
        if op.source.type != vt.element_type or vt.get_num_dims() != 1:
            return  # only scalar → 1-D vector (all the kernel needs)
        undef = llvm.UndefOp(vt)
        lane0 = llvm.ConstantOp(IntegerAttr(0, i32), i32)
        ins = llvm.InsertElementOp(undef.res, op.source, lane0.result)
        splat = llvm.ShuffleVectorOp(ins.res, ins.res, DenseArrayBase.from_list(i32, [0] * vt.get_shape()[0]), vt)
        rewriter.replace(op, with_location([undef, lane0, ins, splat], op), [splat.res])


class LowerFma(RewritePattern):
    @op_type_rewrite_pattern
    def match_and_rewrite(self, op: vector.FMAOp, rewriter: PatternRewriter, /):
        rewriter.replace(op, with_location([llvm.FMAOp(op.lhs, op.rhs, op.acc)], op))


class LowerShuffle(RewritePattern):
    """1-D `vector.shuffle` → `llvm.shufflevector` (the same mask, as i32)."""

    @op_type_rewrite_pattern
    def match_and_rewrite(self, op: vector.ShuffleOp, rewriter: PatternRewriter, /):
        if op.v1.type.get_num_dims() != 1 or op.v2.type.get_num_dims() != 1:
            return
        mask = DenseArrayBase.from_list(i32, list(op.mask.get_values()))
        rewriter.replace(op, with_location([llvm.ShuffleVectorOp(op.v1, op.v2, mask, op.result.type)], op))


def patterns() -> list[RewritePattern]:
    """All of them; run with the memref accesses (loads and stores read the memref types)."""
    return [LowerVectorAccess(), LowerBroadcast(), LowerFma(), LowerShuffle()]


@dataclass(frozen=True)
class ConvertVectorToLlvm(ModulePass):
    name = "convert-vector-to-llvm"
    PART_OF: ClassVar[str] = "convert-to-llvm"  # before convert-memref-to-llvm: reads memref types

    def apply(self, ctx: Context, op: ModuleOp) -> None:
        PatternRewriteWalker(GreedyRewritePatternApplier(patterns())).rewrite_module(op)
