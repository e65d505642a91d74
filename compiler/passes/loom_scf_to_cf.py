"""`loom-scf-to-cf`: all structured control flow → `cf` branches, in one rewrite: xDSL's
`scf.if`/`scf.for`/`scf.index_switch` patterns (from its `convert-scf-to-cf`) together with ours
for `scf.while` (`convert-scf-while-to-cf`). Run separately, either pass leaves a multi-block
region inside a loop the other has not lowered yet — which the verifier rightly rejects — so
nested loops of mixed kinds are lowered together.

Example (tests/filecheck/backend_loom_scf_to_cf.mlir: an `scf.while` inside an `scf.for`):

    %t = scf.for %i = %zero to %n step %one iter_args(%t0 = %zero) -> (i64) : i64 {
      %j, %tw = scf.while (%j0 = %i, %t1 = %t0) : (i64, i64) -> (i64, i64) {
        %gt = arith.cmpi sgt, %j0, %zero : i64
        scf.condition(%gt) %j0, %t1 : i64, i64
      } do {
      ^bb0(%ja: i64, %ta: i64):
        %h = arith.shrsi %ja, %one : i64
        %t2 = arith.addi %ta, %one : i64
        scf.yield %h, %t2 : i64, i64
      }
      scf.yield %tw : i64
    }
    func.return %t : i64
becomes
    cf.br ^bb1(%zero, %zero : i64, i64)
  ^bb1(%i: i64, %t0: i64):
    %0 = arith.cmpi slt, %i, %n : i64
    cf.cond_br %0, ^bb2, ^bb6
  ^bb2:
    cf.br ^bb3(%i, %t0 : i64, i64)
  ^bb3(%j0: i64, %t1: i64):
    %gt = arith.cmpi sgt, %j0, %zero : i64
    cf.cond_br %gt, ^bb4(%j0, %t1 : i64, i64), ^bb5(%j0, %t1 : i64, i64)
  ^bb4(%ja: i64, %ta: i64):
    %h = arith.shrsi %ja, %one : i64
    %t2 = arith.addi %ta, %one : i64
    cf.br ^bb3(%h, %t2 : i64, i64)
  ^bb5(%j: i64, %tw: i64):
    %1 = arith.addi %i, %one : i64
    cf.br ^bb1(%1, %tw : i64, i64)
  ^bb6:
    func.return %t0 : i64
"""

from __future__ import annotations

from dataclasses import dataclass

from xdsl.context import Context
from xdsl.dialects.builtin import ModuleOp
from xdsl.passes import ModulePass
from xdsl.pattern_rewriter import GreedyRewritePatternApplier, PatternRewriteWalker
from xdsl.transforms.convert_scf_to_cf import ForLowering, IfLowering, SwitchLowering

from compiler.passes.convert_scf_while_to_cf import WhileLowering


@dataclass(frozen=True)
class LoomScfToCf(ModulePass):
    name = "loom-scf-to-cf"

    def apply(self, ctx: Context, op: ModuleOp) -> None:
        patterns = [IfLowering(), ForLowering(), SwitchLowering(), WhileLowering()]
        # last op first: lowering an op splits its block before it, moving every op after it (one
        # at a time, xDSL's `Block.split_before`) to a new block. Front to back, each of n loops
        # would move the rest of the function (O(n^2) moves); back to front, only the ops up to
        # the split made before it, so each op moves about once. The block split is then also
        # near the front of its region, where `split_before` finds its index.
        PatternRewriteWalker(GreedyRewritePatternApplier(patterns), walk_reverse=True).rewrite_module(op)
