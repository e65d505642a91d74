"""`loom-scf-to-cf`: all structured control flow → `cf` branches, in one rewrite: xDSL's
`scf.if`/`scf.for`/`scf.index_switch` patterns (from its `convert-scf-to-cf`) together with ours
for `scf.while` (`convert-scf-while-to-cf`). Run separately, either pass leaves a multi-block
region inside a loop the other has not lowered yet — which the verifier rightly rejects — so
nested loops of mixed kinds are lowered together.
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
        PatternRewriteWalker(GreedyRewritePatternApplier(patterns)).rewrite_module(op)
