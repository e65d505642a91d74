"""`loom-inline`: inline every `func.call` into its caller, then drop private functions that are no
longer called. Loom has no recursion, so inlining everything terminates. Inlined ops keep the
callee's source locations (where an error inside them is in the program). Ops inlined from a
`@checkpoint` function are tagged `ad.checkpoint` (reverse mode recomputes them)."""

from __future__ import annotations

from dataclasses import dataclass

from xdsl.context import Context
from xdsl.dialects import func
from xdsl.dialects.builtin import ModuleOp
from xdsl.ir import Block
from xdsl.passes import ModulePass
from xdsl.pattern_rewriter import PatternRewriter, PatternRewriteWalker, RewritePattern, op_type_rewrite_pattern
from xdsl.dialects.builtin import UnitAttr
from xdsl.traits import SymbolTable

CHECKPOINT = "ad.checkpoint"  # see ad-linearize


class InlineCall(RewritePattern):
    @op_type_rewrite_pattern
    def match_and_rewrite(self, op: func.CallOp, rewriter: PatternRewriter, /):
        callee = SymbolTable.lookup_symbol(op, op.callee)
        if not isinstance(callee, func.FuncOp) or callee.is_declaration or len(callee.body.blocks) != 1:
            return
        body: Block = callee.body.clone().block  # fresh copies of the callee's ops
        if CHECKPOINT in callee.attributes:  # @checkpoint: differentiation recomputes these ops
            for o in body.walk():
                o.attributes[CHECKPOINT] = UnitAttr()
        ret = body.last_op
        assert isinstance(ret, func.ReturnOp)
        for arg, value in zip(body.args, op.arguments):
            arg.replace_all_uses_with(value)
        results = list(ret.arguments)
        ret.detach()
        ret.erase()
        ops = list(body.ops)
        for o in ops:
            o.detach()
        rewriter.replace(op, ops, results)


@dataclass(frozen=True)
class LoomInline(ModulePass):
    name = "loom-inline"

    def apply(self, ctx: Context, op: ModuleOp) -> None:
        PatternRewriteWalker(InlineCall(), apply_recursively=True).rewrite_module(op)
        # functions still named by a call or by a derivative op (ad.jvp/ad.vjp) stay
        called = {o.callee.string_value() for o in op.walk() if isinstance(o, func.CallOp)
                  or o.name in ("ad.jvp", "ad.vjp")}
        for f in list(op.body.block.ops):
            if isinstance(f, func.FuncOp) and f.sym_visibility is not None \
                    and f.sym_visibility.data == "private" and f.sym_name.data not in called:
                f.detach()
                f.erase()
