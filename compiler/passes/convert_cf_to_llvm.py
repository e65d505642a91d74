"""`convert-cf-to-llvm`: `cf.br`/`cf.cond_br` → `llvm.br`/`llvm.cond_br`, and `cf.assert` → a
branch to a block that returns the check's number as the function's status.

Each `cf.assert` becomes an entry of the module attribute `loom.error_sites` (its message and
source location); its number is its position + 1. The runtime turns a nonzero status into a
`LoomRuntimeError` at that location. Buffers allocated before a failing check are not freed (the
run is abandoned with an error).
"""

from __future__ import annotations

from dataclasses import dataclass

from xdsl.context import Context
from xdsl.dialects import cf, llvm
from xdsl.dialects.builtin import ArrayAttr, FileLineColLoc, IntegerAttr, ModuleOp, StringAttr, i32
from xdsl.ir import Block
from xdsl.passes import ModulePass
from xdsl.pattern_rewriter import (
    GreedyRewritePatternApplier,
    PatternRewriter,
    PatternRewriteWalker,
    RewritePattern,
    op_type_rewrite_pattern,
)
from xdsl.rewriter import InsertPoint

from compiler.passes.llvm_types import module_of, retype_block_args, with_location

SITES = "loom.error_sites"


def register_site(op: cf.AssertOp) -> int:
    module = module_of(op)
    sites = list(module.attributes[SITES].data) if SITES in module.attributes else []
    loc = op.location
    where = [loc.filename, StringAttr(str(loc.line.data)), StringAttr(str(loc.column.data))] \
        if isinstance(loc, FileLineColLoc) else [StringAttr(""), StringAttr("0"), StringAttr("0")]
    sites.append(ArrayAttr([op.msg, *where]))
    module.attributes[SITES] = ArrayAttr(sites)
    return len(sites)


class LowerBr(RewritePattern):
    @op_type_rewrite_pattern
    def match_and_rewrite(self, op: cf.BranchOp, rewriter: PatternRewriter, /):
        rewriter.replace_matched_op(with_location(llvm.BrOp(op.successor, *op.arguments), op))


class LowerCondBr(RewritePattern):
    @op_type_rewrite_pattern
    def match_and_rewrite(self, op: cf.ConditionalBranchOp, rewriter: PatternRewriter, /):
        new = llvm.CondBrOp(op.cond, op.then_block, op.then_arguments, op.else_block, op.else_arguments)
        rewriter.replace_matched_op(with_location(new, op))


class LowerAssert(RewritePattern):
    @op_type_rewrite_pattern
    def match_and_rewrite(self, op: cf.AssertOp, rewriter: PatternRewriter, /):
        code = register_site(op)
        block = op.parent_block()
        cont = block.split_before(op)
        fail = Block()
        status = llvm.ConstantOp(IntegerAttr(code, i32), i32)
        fail.add_ops(with_location([status, llvm.ReturnOp(status.result)], op))
        block.parent_region().insert_block_after(fail, block)
        rewriter.insert_op(with_location(llvm.CondBrOp(op.arg, cont, [], fail, []), op), InsertPoint.at_end(block))
        rewriter.erase_op(op)


def patterns() -> list[RewritePattern]:
    return [LowerBr(), LowerCondBr(), LowerAssert()]


@dataclass(frozen=True)
class ConvertCfToLlvm(ModulePass):
    name = "convert-cf-to-llvm"

    def apply(self, ctx: Context, op: ModuleOp) -> None:
        retype_block_args(op)
        PatternRewriteWalker(GreedyRewritePatternApplier(patterns())).rewrite_module(op)
