"""`convert-func-to-llvm`: `func` → `llvm` with Loom's native calling convention.

After bufferization a function takes its inputs (buffers as pointers, scalars by value) followed by
its results' out-buffers, and returns nothing; here it gains a last argument, a pointer to an
`int64_t[4]` where a failing check stores the run-time values its message shows, and returns an
`i32` status: 0 on success, or the number of the run-time check that failed (see
`convert-cf-to-llvm`), which callers propagate, after running the `loom.on_failure` that follows
the call (the caller's frees). Public functions get external linkage (entry points: the JIT looks them
up, an object file exports them); pointer arguments are `noalias` — inputs are never written and
outputs are fresh arrays. A function with argument attributes of its own (`llvm.noalias` or none on
each buffer: a kernel of `loom-outline-loops`) keeps them, and its `no_inline` attribute becomes the
`llvm.func`'s, as upstream's func-to-llvm carries them over.

Example (tests/filecheck/backend_convert_func_cf_to_llvm.mlir):

    func.func @main(%a: i64, %c: i1) {
      func.call @helper(%a) : (i64) -> ()
      cf.assert %c, "c must hold"
      func.return
    }
    func.func private @helper(%a: i64) { … }
becomes (a failing callee's status is returned at once)
    llvm.func @main(%a: i64, %c: i1, %0: !llvm.ptr {llvm.noalias}) -> i32 {
      %1 = llvm.call @helper(%a, %0) : (i64, !llvm.ptr) -> i32
      %2 = llvm.mlir.constant(0 : i32) : i32
      %3 = llvm.icmp "eq" %1, %2 : i32
      llvm.cond_br %3, ^bb2, ^bb1
    ^bb1:
      llvm.return %1 : i32
    ^bb2:
      cf.assert %c, "c must hold"
      %4 = llvm.mlir.constant(0 : i32) : i32
      llvm.return %4 : i32
    }
    llvm.func internal @helper(%a_1: i64, %5: !llvm.ptr {llvm.noalias}) -> i32 { … }
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from xdsl.context import Context
from xdsl.dialects import func, llvm
from xdsl.dialects.builtin import ArrayAttr, DictionaryAttr, IntegerAttr, ModuleOp, UnitAttr, i32
from xdsl.passes import ModulePass
from xdsl.pattern_rewriter import (
    GreedyRewritePatternApplier,
    PatternRewriter,
    PatternRewriteWalker,
    RewritePattern,
    op_type_rewrite_pattern,
)
from xdsl.ir import Block, Operation, SSAValue
from xdsl.rewriter import InsertPoint

from compiler.passes.llvm_types import convert_type, retype_block_args, with_location
from dialects import loom

STATUS = i32
PTR = llvm.LLVMPointerType()
NO_INLINE = "no_inline"  # a `func.func` attribute carried over to the `llvm.func` (as upstream)


def error_values_arg(op) -> SSAValue:
    """The enclosing function's last argument: where a failing check stores the values its
    message shows (an `int64_t[4]`)."""
    while not isinstance(op, (func.FuncOp, llvm.FuncOp)):
        op = op.parent_op()
    return op.body.blocks[0].args[-1]


def failure_cleanup(op: Operation, rewriter: PatternRewriter) -> list[Operation]:
    """The ops of the `loom.on_failure` right after `op` (which can fail), detached for its failing
    branch; the `loom.on_failure` is erased."""
    cleanup = op.next_op
    if not isinstance(cleanup, loom.OnFailureOp):
        return []
    ops = list(cleanup.body.block.ops)
    for o in ops:
        o.detach()
    rewriter.erase(cleanup)
    return ops


def add_error_values_arg(module: ModuleOp) -> None:
    for f in module.ops:
        if isinstance(f, func.FuncOp) and not f.is_declaration:
            f.body.blocks[0].insert_arg(PTR, len(f.body.blocks[0].args))


class LowerFunc(RewritePattern):
    @op_type_rewrite_pattern
    def match_and_rewrite(self, op: func.FuncOp, rewriter: PatternRewriter, /):
        inputs = [convert_type(t) for t in op.function_type.inputs] + [PTR]
        public = op.sym_visibility is None or op.sym_visibility.data == "public"
        if op.arg_attrs is None:  # Loom's convention: every pointer is `noalias`
            attrs = [DictionaryAttr({"llvm.noalias": UnitAttr()} if isinstance(t, llvm.LLVMPointerType) else {})
                     for t in inputs]
        else:  # the function's own (`llvm.*` attributes, as upstream); the error values are its own
            attrs = [*op.arg_attrs.data, DictionaryAttr({"llvm.noalias": UnitAttr()})]
        props = {"arg_attrs": ArrayAttr(attrs)}
        if NO_INLINE in op.attributes:  # a kernel (loom-outline-loops)
            props[NO_INLINE] = UnitAttr()
        new = llvm.FuncOp(op.sym_name.data, llvm.LLVMFunctionType(inputs, STATUS),  # (a declaration: external)
                          linkage=llvm.LinkageAttr("external" if public or op.is_declaration else "internal"),
                          body=op.detach_region(op.body), other_props=props)
        rewriter.replace(op, with_location(new, op))


class LowerReturn(RewritePattern):
    @op_type_rewrite_pattern
    def match_and_rewrite(self, op: func.ReturnOp, rewriter: PatternRewriter, /):
        zero = llvm.ConstantOp(IntegerAttr(0, STATUS), STATUS)
        rewriter.replace(op, with_location([zero, llvm.ReturnOp(zero.result)], op))


class LowerCall(RewritePattern):
    """A call returns a status; a failure returns it from the caller at once."""

    @op_type_rewrite_pattern
    def match_and_rewrite(self, op: func.CallOp, rewriter: PatternRewriter, /):
        call = llvm.CallOp(op.callee.string_value(), *op.arguments, error_values_arg(op), return_type=STATUS)
        zero = llvm.ConstantOp(IntegerAttr(0, STATUS), STATUS)
        ok = llvm.ICmpOp(call.returned, zero.result, IntegerAttr(0, 64))  # eq
        block = op.parent_block()
        cleanup = failure_cleanup(op, rewriter)
        cont = split_before(op)
        fail = Block()
        fail.add_ops([*cleanup, llvm.ReturnOp(call.returned)])
        block.parent_region().insert_block_after(fail, block)
        br = llvm.CondBrOp(ok.res, cont, [], fail, [])
        rewriter.insert(with_location([call, zero, ok, br], op), InsertPoint.at_end(block))
        rewriter.erase(op)


def split_before(op: Operation) -> Block:
    """`Block.split_before(op)` without its two walks of the region's block list (to find the
    block's index and insert at it), which make a function of many calls lower in O(blocks^2):
    a new block after op's block receives op and the ops after it. The ops that split a block
    (calls, checks) are lowered last first (`walk_reverse`), as `loom-scf-to-cf` does: front to
    back, each of n calls would move the rest of the function (O(n^2) moves); back to front, the
    ops up to the split made after it, so each op moves about once."""
    block = op.parent_block()
    cont = Block()
    block.parent_region().insert_block_after(cont, block)
    moving: Operation | None = op
    while moving is not None:
        following = moving.next_op
        block.detach_op(moving)
        cont.add_op(moving)
        moving = following
    return cont


def patterns() -> list[RewritePattern]:
    return [LowerFunc(), LowerReturn(), LowerCall()]


@dataclass(frozen=True)
class ConvertFuncToLlvm(ModulePass):
    name = "convert-func-to-llvm"
    PART_OF: ClassVar[str] = "convert-to-llvm"  # verifies only once all the parts have run

    def apply(self, ctx: Context, op: ModuleOp) -> None:
        retype_block_args(op)
        add_error_values_arg(op)
        PatternRewriteWalker(GreedyRewritePatternApplier(patterns()), walk_reverse=True).rewrite_module(op)
