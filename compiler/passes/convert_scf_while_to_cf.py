"""`convert-scf-while-to-cf`: `scf.while` → blocks and `cf` branches (xDSL's `convert-scf-to-cf`
lowers `scf.for`/`scf.if` but leaves `scf.while`).

    ^pre:    …                      br ^before(inits)
    ^before(args): <before region>  cond_br %c, ^after(vals), ^exit(vals)
    ^after(args):  <after region>   br ^before(yielded)
    ^exit(results): <the rest of ^pre>

Regions may already hold several blocks (nested control flow lowered first): every
`scf.condition` and `scf.yield` terminator of the while's own regions is rewritten.
"""

from __future__ import annotations

from dataclasses import dataclass

from xdsl.context import Context
from xdsl.dialects import cf, scf
from xdsl.dialects.builtin import ModuleOp
from xdsl.passes import ModulePass
from xdsl.pattern_rewriter import PatternRewriter, PatternRewriteWalker, RewritePattern, op_type_rewrite_pattern
from xdsl.rewriter import BlockInsertPoint, InsertPoint


class WhileLowering(RewritePattern):
    @op_type_rewrite_pattern
    def match_and_rewrite(self, op: scf.WhileOp, rewriter: PatternRewriter, /):
        pre = op.parent_block()
        if pre is None:
            return
        exit_block = pre.split_before(op)
        for r in op.results:
            exit_block.insert_arg(r.type, len(exit_block.args))
        before, after = op.before_region.first_block, op.after_region.first_block
        before_blocks, after_blocks = list(op.before_region.blocks), list(op.after_region.blocks)
        loc = op.location
        for b in before_blocks:
            t = b.last_op
            if isinstance(t, scf.ConditionOp):
                br = cf.ConditionalBranchOp(t.condition, after, t.args, exit_block, t.args)
                br.location = loc
                rewriter.replace(t, br)
        for b in after_blocks:
            t = b.last_op
            if isinstance(t, scf.YieldOp):
                br = cf.BranchOp(before, *t.operands)
                br.location = loc
                rewriter.replace(t, br)
        rewriter.inline_region(op.before_region, BlockInsertPoint.before(exit_block))
        rewriter.inline_region(op.after_region, BlockInsertPoint.before(exit_block))
        entry = cf.BranchOp(before, *op.arguments)
        entry.location = loc
        rewriter.insert(entry, InsertPoint.at_end(pre))
        rewriter.replace(op, [], list(exit_block.args))


@dataclass(frozen=True)
class ConvertScfWhileToCf(ModulePass):
    name = "convert-scf-while-to-cf"

    def apply(self, ctx: Context, op: ModuleOp) -> None:
        PatternRewriteWalker(WhileLowering()).rewrite_module(op)
