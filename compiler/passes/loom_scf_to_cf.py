"""`loom-scf-to-cf`: all structured control flow → `cf` branches, in one rewrite: xDSL's
`scf.if`/`scf.for`/`scf.index_switch` patterns (from its `convert-scf-to-cf`) together with ours
for `scf.while` (`convert-scf-while-to-cf`); an `scf.for` whose `iv + step` could wrap past the
largest integer gets a latch that cannot (`SafeForLowering`). Run separately, either pass leaves a multi-block
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
from xdsl.dialects import arith, cf, scf
from xdsl.dialects.builtin import ModuleOp
from xdsl.passes import ModulePass
from xdsl.pattern_rewriter import PatternRewriter
from xdsl.rewriter import InsertPoint
from xdsl.transforms.convert_scf_to_cf import ForLowering, IfLowering, SwitchLowering

from compiler.passes.conversion import convert, erase_dead
from compiler.passes.convert_scf_while_to_cf import WhileLowering
from compiler.passes.emitter import I64_MAX, int_constant




def may_step_past_max(loop: scf.ForOp) -> bool:
    """`iv + step` may not fit in 64 bits for some `iv < ub`: unless the step is 1, or the step and
    the upper bound are constants with `ub - 1 + step <= MAX`."""
    step, ub = int_constant(loop.step), int_constant(loop.ub)
    if step == 1:
        return False
    return step is None or ub is None or ub - 1 + step > I64_MAX


class SafeForLowering(ForLowering):
    """xDSL's `scf.for` lowering, whose latch steps `iv + step` and branches back to the test
    `iv < ub`. When `iv + step` may wrap past the largest integer (a step > 1 and an upper bound
    near it, e.g. `range(2**63 - 10, 2**63 - 1, 5)`), the wrapped value would pass the test and the
    loop would never end: the latch steps to `ub` instead when the distance left, `ub - iv` (exact,
    unsigned, as `iv < ub`), is not more than the step.

        ^latch:  %next = arith.addi %iv, %step
                 cf.br ^header(%next, …)
    becomes
        ^latch:  %next = arith.addi %iv, %step
                 %left = arith.subi %ub, %iv
                 %more = arith.cmpi ugt, %left, %step
                 %to = arith.select %more, %next, %ub
                 cf.br ^header(%to, …)
    """

    def match_and_rewrite(self, for_op: scf.ForOp, rewriter: PatternRewriter):
        if not isinstance(for_op, scf.ForOp) or not may_step_past_max(for_op):
            return super().match_and_rewrite(for_op, rewriter)
        header, ub, step = for_op.body.first_block, for_op.ub, for_op.step
        iv = header.args[0]
        super().match_and_rewrite(for_op, rewriter)
        back = next(u.operation for a in iv.uses if isinstance(a.operation, arith.AddiOp) and a.operation.rhs is step
                    for u in a.operation.result.uses  # the branch back, stepping the induction variable
                    if isinstance(u.operation, cf.BranchOp) and u.operation.successor is header and u.index == 0)
        left = arith.SubiOp(ub, iv)
        more = arith.CmpiOp(left, step, "ugt")
        to = arith.SelectOp(more, back.arguments[0], ub)
        for o in (left, more, to):
            o.location = back.location
        rewriter.insert([left, more, to], InsertPoint.before(back))
        back.operands[0] = to.result


@dataclass(frozen=True)
class LoomScfToCf(ModulePass):
    name = "loom-scf-to-cf"

    def apply(self, ctx: Context, op: ModuleOp) -> None:
        patterns = [IfLowering(), SafeForLowering(), SwitchLowering(), WhileLowering()]
        # last op first: lowering an op splits its block before it, moving every op after it (one
        # at a time, xDSL's `Block.split_before`) to a new block. Front to back, each of n loops
        # would move the rest of the function (O(n^2) moves); back to front, only the ops up to
        # the split made before it, so each op moves about once. The block split is then also
        # near the front of its region, where `split_before` finds its index.
        # (`convert`: each scf op once, without xDSL's walker's visits of every other op)
        erase_dead(op.body)
        convert(op.body, {"scf": patterns}, last_first=True)
