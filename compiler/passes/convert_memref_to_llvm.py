"""`convert-memref-to-llvm`: memrefs → bare `!llvm.ptr`s (shapes are static, layouts row-major).

- `memref.load`/`store` → `llvm.getelementptr inbounds` on the linearized index + `llvm.load`/
  `llvm.store` (GEP, not ptrtoint arithmetic, so LLVM's vectorizer sees the access pattern);
- `memref.alloc` → `aligned_alloc(64, size rounded up to 64)` and a `cf.assert` that it succeeded
  (running out of memory is a run-time error, not a crash), `memref.dealloc` → `free`;
- `memref.global` (a constant table) → `llvm.mlir.global`, `memref.get_global` → `llvm.mlir.addressof`;
- `memref.alloca` → `llvm.alloca`; `memref.copy` → `memcpy`; `memref.prefetch` → `llvm.prefetch` (its address a
  `getelementptr` without `inbounds`: a prefetch may point past its buffer);
- `memref.subview` of a contiguous block (a row: `loom-fuse-rows`) → the address of its first
  element;
- `memref.collapse_shape`/`expand_shape`/`cast` → the same pointer (contiguous views; a cast to a
  dynamic size, `memref<?xf32>`, is indexed like any one-dimensional buffer), and so is an
  `unrealized_conversion_cast` of an `!llvm.ptr` to a memref (a buffer received through memory,
  as `loom-parallel-to-threads` passes them to a loop body on another thread).
Sizes and strides are compile-time constants.

Example (these patterns as run by `convert-to-llvm`, which also lowers the function):

    %b = memref.alloc() {alignment = 64 : i64} : memref<3x4xf32>
    %v = memref.load %a[%i, %j] : memref<3x4xf32>
    memref.store %v, %b[%i, %j] : memref<3x4xf32>
    memref.dealloc %b : memref<3x4xf32>
becomes
    %b = llvm.mlir.constant(64) : i64
    %b_1 = llvm.mlir.constant(64) : i64
    %b_2 = llvm.call @aligned_alloc(%b, %b_1) : (i64, i64) -> !llvm.ptr
    %b_3 = llvm.ptrtoint %b_2 : !llvm.ptr to i64
    %b_4 = llvm.mlir.constant(0) : i64
    …                                        (null: return the "out of memory" check's status)
    %v = llvm.mlir.constant(4) : i64
    %v_1 = llvm.mul %i, %v : i64
    %v_2 = llvm.add %v_1, %j : i64
    %v_3 = llvm.getelementptr inbounds %a[%v_2] : (!llvm.ptr, i64) -> !llvm.ptr, f32
    %v_4 = llvm.load %v_3 : !llvm.ptr -> f32
    …
    llvm.store %v_4, %5 : f32, !llvm.ptr
    llvm.call @free(%b_2) : (!llvm.ptr) -> ()
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import ClassVar

from xdsl.context import Context
from xdsl.dialects import llvm, memref
from xdsl.dialects.builtin import (
    DenseIntOrFPElementsAttr,
    IntegerAttr,
    MemRefType,
    ModuleOp,
    UnrealizedConversionCastOp,
    i32,
    i64,
)
from xdsl.ir import Operation, SSAValue
from xdsl.passes import ModulePass
from xdsl.pattern_rewriter import (
    GreedyRewritePatternApplier,
    PatternRewriter,
    PatternRewriteWalker,
    RewritePattern,
    op_type_rewrite_pattern,
)

from compiler.passes.llvm_types import (
    address,
    assert_not_null,
    constant,
    convert_type,
    declare,
    int_arith,
    load,
    nbytes,
    store,
    with_location,
)
from dialects import memref_ext

PTR = llvm.LLVMPointerType()


def const(ops: list[Operation], value: int) -> SSAValue:
    ops.append(constant(value))
    return ops[-1].results[0]


def row_major(shape: list[int]) -> list[int]:
    return [math.prod(shape[i + 1:]) for i in range(len(shape))]


def element_address(ops: list[Operation], ptr: SSAValue, t: MemRefType, indices, strides=None,
                    inbounds: bool = True) -> SSAValue:
    shape = list(t.get_shape())
    if not shape:
        return ptr
    strides = strides or row_major(shape)
    lin = None
    for idx, stride in zip(indices, strides):  # (`index` operands become `i64` with the arith ops)
        term = idx
        if stride != 1:
            ops.append(int_arith(llvm.MulOp, idx, const(ops, stride)))
            term = ops[-1].results[0]
        if lin is None:
            lin = term
        else:
            ops.append(int_arith(llvm.AddOp, lin, term))
            lin = ops[-1].results[0]
    ops.append(address(ptr, lin, convert_type(t.element_type), inbounds))
    return ops[-1].results[0]


class LowerLoad(RewritePattern):
    @op_type_rewrite_pattern
    def match_and_rewrite(self, op: memref.LoadOp, rewriter: PatternRewriter, /):
        ops: list[Operation] = []
        addr = element_address(ops, op.memref, op.memref.type, op.indices)
        ops.append(load(addr, convert_type(op.res.type)))  # (a tape: a pointer)
        rewriter.replace(op, with_location(ops, op), [ops[-1].results[0]])


class LowerStore(RewritePattern):
    @op_type_rewrite_pattern
    def match_and_rewrite(self, op: memref.StoreOp, rewriter: PatternRewriter, /):
        ops: list[Operation] = []
        addr = element_address(ops, op.memref, op.memref.type, op.indices)
        ops.append(store(op.value, addr))
        rewriter.replace(op, with_location(ops, op), [])


class LowerPrefetch(RewritePattern):
    @op_type_rewrite_pattern
    def match_and_rewrite(self, op: memref_ext.PrefetchOp, rewriter: PatternRewriter, /):
        ops: list[Operation] = []
        # a hint that never faults, so it may point past the buffer (the matmul kernel prefetches
        # the next panel's lines): a plain getelementptr, whose address outside is still defined
        addr = element_address(ops, op.memref, op.memref.type, op.indices, inbounds=False)
        flags = [IntegerAttr(1 if b.value.data else 0, i32) for b in (op.isWrite, op.isDataCache)]
        flags.insert(1, IntegerAttr(op.localityHint.value.data, i32))
        consts = [llvm.ConstantOp(f, i32) for f in flags]
        ops += [*consts, llvm.CallIntrinsicOp("llvm.prefetch.p0", [addr, *[c.result for c in consts]], [])]
        rewriter.replace(op, with_location(ops, op), [])


class LowerAlloc(RewritePattern):
    @op_type_rewrite_pattern
    def match_and_rewrite(self, op: memref.AllocOp, rewriter: PatternRewriter, /):
        t = op.memref.type
        size = max(64, (nbytes(t) + 63) // 64 * 64)  # aligned_alloc's size: a multiple of the alignment
        declare(op, "aligned_alloc", [i64, i64], PTR)
        ops: list[Operation] = []
        call = llvm.CallOp("aligned_alloc", const(ops, 64), const(ops, size), return_type=PTR)
        # the message names the buffer's size, as the reference executor's does
        ops += [call, *assert_not_null(call.returned, f"out of memory (allocating {nbytes(t)} bytes)")]
        rewriter.replace(op, with_location(ops, op), [call.returned])


class LowerAlloca(RewritePattern):
    @op_type_rewrite_pattern
    def match_and_rewrite(self, op: memref.AllocaOp, rewriter: PatternRewriter, /):
        t = op.memref.type
        ops: list[Operation] = []
        a = llvm.AllocaOp(const(ops, max(1, math.prod(t.get_shape()))), convert_type(t.element_type), alignment=64)
        ops.append(a)
        rewriter.replace(op, with_location(ops, op), [a.res])


class LowerDealloc(RewritePattern):
    @op_type_rewrite_pattern
    def match_and_rewrite(self, op: memref.DeallocOp, rewriter: PatternRewriter, /):
        declare(op, "free", [PTR], None)
        rewriter.replace(op, with_location([llvm.CallOp("free", op.memref)], op), [])


class LowerCopy(RewritePattern):
    @op_type_rewrite_pattern
    def match_and_rewrite(self, op: memref.CopyOp, rewriter: PatternRewriter, /):
        t = op.source.type
        declare(op, "memcpy", [PTR, PTR, i64], PTR)
        ops: list[Operation] = []
        n = const(ops, nbytes(t))
        ops.append(llvm.CallOp("memcpy", op.destination, op.source, n, return_type=PTR))
        rewriter.replace(op, with_location(ops, op), [])


class LowerSubview(RewritePattern):
    """A view of a contiguous block of a row-major buffer (`loom-fuse-rows`' rows, unit strides):
    the address of its first element (its source may already be a pointer, so the offset is
    computed from the view's strides, which are its source's); accesses through it use its shape's
    row-major strides, which must be its own."""

    @op_type_rewrite_pattern
    def match_and_rewrite(self, op: memref.SubviewOp, rewriter: PatternRewriter, /):
        res = op.result.type
        strides = res.get_strides()
        if strides != tuple(row_major(list(res.get_shape()))) or any(s != 1 for s in op.static_strides.get_values()):
            raise AssertionError(f"memref.subview to a non-contiguous view is not lowered: {res}")
        dynamic = iter(op.offsets)
        ops: list[Operation] = []
        offsets = [next(dynamic) if o == memref.DYNAMIC_INDEX else const(ops, o) for o in op.static_offsets.get_values()]
        element_address(ops, op.source, res, offsets, strides)
        rewriter.replace(op, with_location(ops, op), [ops[-1].results[0]])


class LowerGlobal(RewritePattern):
    """`memref.global` (a constant table: `math_payne_hanek`'s bits of 2/π) → `llvm.mlir.global` of
    an array with the same initializer; private → internal."""

    @op_type_rewrite_pattern
    def match_and_rewrite(self, op: memref.GlobalOp, rewriter: PatternRewriter, /):
        t = op.type
        if not isinstance(op.initial_value, DenseIntOrFPElementsAttr):  # (Loom makes none: a compiler bug)
            raise AssertionError(  # noqa: TRY004
                f"memref.global without a dense initializer is not lowered: @{op.sym_name.data}")
        private = op.sym_visibility is not None and op.sym_visibility.data == "private"
        g = llvm.GlobalOp(llvm.LLVMArrayType(math.prod(t.get_shape()), convert_type(t.element_type)),
                          op.sym_name, "internal" if private else "external", constant=op.constant is not None,
                          value=op.initial_value)
        rewriter.replace(op, with_location([g], op), [])


class LowerGetGlobal(RewritePattern):
    """`memref.get_global @g` → `llvm.mlir.addressof @g` (the table's address: a bare pointer)."""

    @op_type_rewrite_pattern
    def match_and_rewrite(self, op: memref.GetGlobalOp, rewriter: PatternRewriter, /):
        rewriter.replace(op, with_location([llvm.AddressOfOp(op.name_, PTR)], op))


class LowerView(RewritePattern):
    def match_and_rewrite(self, op: Operation, rewriter: PatternRewriter, /):
        if isinstance(op, (memref.CollapseShapeOp, memref.ExpandShapeOp, memref.CastOp)) or \
                isinstance(op, UnrealizedConversionCastOp) and len(op.operands) == 1 and \
                isinstance(op.operands[0].type, llvm.LLVMPointerType) and isinstance(op.results[0].type, MemRefType):
            rewriter.replace(op, [], [op.operands[0]])


@dataclass(frozen=True)
class ConvertMemrefToLlvm(ModulePass):
    """Accesses first (they read their buffer's memref type for the strides), then the ops that
    define buffers (after which the buffers are pointers)."""

    name = "convert-memref-to-llvm"
    PART_OF: ClassVar[str] = "convert-to-llvm"  # verifies only once all the parts have run

    def apply(self, ctx: Context, op: ModuleOp) -> None:
        for group in (access_patterns(), definition_patterns()):
            PatternRewriteWalker(GreedyRewritePatternApplier(group)).rewrite_module(op)


def access_patterns() -> list[RewritePattern]:
    """Loads, stores, copies and prefetches: they read their buffers' memref types (run these first)."""
    return [LowerLoad(), LowerStore(), LowerCopy(), LowerPrefetch()]


def definition_patterns() -> list[RewritePattern]:
    """The ops that define buffers (after them, buffers are pointers)."""
    return [LowerAlloc(), LowerAlloca(), LowerDealloc(), LowerSubview(), LowerView(), LowerGlobal(), LowerGetGlobal()]
