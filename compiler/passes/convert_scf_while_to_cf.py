"""`convert-scf-while-to-cf`: `scf.while` → blocks and `cf` branches (xDSL's `convert-scf-to-cf`
lowers `scf.for`/`scf.if` but leaves `scf.while`).

    %r = scf.while (%i = %c0) : (i64) -> i64 {
      %c = arith.cmpi slt, %i, %n : i64
      scf.condition(%c) %i : i64
    } do {
    ^bb0(%j: i64):
      %k = arith.addi %j, %c1 : i64
      scf.yield %k : i64
    }
    func.return %r : i64
  ↓
    cf.br ^bb1(%c0 : i64)                              // enter: the inits
  ^bb1(%i: i64):                                       // the `before` region
    %c = arith.cmpi slt, %i, %n : i64
    cf.cond_br %c, ^bb2(%i : i64), ^bb3(%i : i64)
  ^bb2(%j: i64):                                       // the `after` region
    %k = arith.addi %j, %c1 : i64
    cf.br ^bb1(%k : i64)
  ^bb3(%r: i64):                                       // the rest of the enclosing block
    func.return %r : i64

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
