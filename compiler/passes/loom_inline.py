"""`loom-inline`: inline `func.call`s into their callers, bottom-up, then drop private functions
that are no longer reachable from a public one. Inlined ops keep the callee's source locations
(where an error inside them is in the program). Ops inlined from a `@checkpoint` function are
tagged `ad.checkpoint` (reverse mode recomputes them).

Functions are visited callees first (Loom has no recursion), each once: when a function is
visited, its callees are final, so a call is replaced by one copy of a body without inlinable
calls, and the work is proportional to the code produced. A call is inlined when its callee is
called from one place only, or its body (after its own inlining) has at most `max-ops` ops and
at most one call left (inlining a body with several calls into several callers multiplies the
calls). Otherwise the call stays, to one shared function: a call DAG where `f_k` calls `f_{k-1}`
twice keeps O(depth) code and O(depth) calls instead of 2^depth copies of `f_0` (the native
backend and the eager executor both call functions).

    func.func @f(%x: f32) -> f32 {                        func.func @f(%x: f32) -> f32 {
      %0 = func.call @sq(%x) : (f32) -> f32       ==>       %0 = loom.mul %x, %x : ...
      func.return %0 : f32                                   func.return %0 : f32
    }                                                     }
    func.func private @sq(%x: f32) -> f32 { ... }         (@sq erased: no call left)
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Container
from dataclasses import dataclass, field

from xdsl.context import Context
from xdsl.dialects import func
from xdsl.dialects.builtin import ModuleOp, UnitAttr
from xdsl.ir import Block
from xdsl.passes import ModulePass
from xdsl.pattern_rewriter import PatternRewriter, RewritePattern, op_type_rewrite_pattern
from xdsl.traits import SymbolTable

CHECKPOINT = "ad.checkpoint"  # see ad-linearize


def inlinable(callee: object) -> bool:
    return isinstance(callee, func.FuncOp) and not callee.is_declaration and len(callee.body.blocks) == 1


@dataclass
class InlineCall(RewritePattern):
    """Replace a call by a copy of its callee's body, unless the callee is one of `keep` (calls
    inside that copy stay calls; a PatternRewriteWalker with `apply_recursively` inlines them too)."""

    keep: Container[str] = field(default_factory=frozenset)

    @op_type_rewrite_pattern
    def match_and_rewrite(self, op: func.CallOp, rewriter: PatternRewriter, /):
        callee = SymbolTable.lookup_symbol(op, op.callee)
        if not inlinable(callee) or op.callee.string_value() in self.keep:
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


def bottom_up(functions: dict[str, func.FuncOp], calls: dict[str, list[func.CallOp]]) -> list[str]:
    """Function names, every callee before its callers."""
    order: list[str] = []
    seen: set[str] = set()
    for root in functions:
        if root in seen:
            continue
        stack = [(root, iter(calls[root]))]
        seen.add(root)
        while stack:
            name, todo = stack[-1]
            callee = next((c.callee.string_value() for c in todo if c.callee.string_value() in functions
                           and c.callee.string_value() not in seen), None)
            if callee is None:
                order.append(name)
                stack.pop()
            else:
                seen.add(callee)
                stack.append((callee, iter(calls[callee])))
    return order


def call_graph(functions: dict[str, func.FuncOp]) -> dict[str, list[func.CallOp]]:
    """The calls in each function."""
    return {name: [o for o in f.walk() if isinstance(o, func.CallOp)] for name, f in functions.items()}


def kept_callees(functions: dict[str, func.FuncOp], max_ops: int,
                 keepable: Callable[[str], bool] = lambda name: True) -> set[str]:
    """The functions loom-inline keeps as calls (if `keepable`): those called from several places
    that, once their own inlinable calls are inlined, are larger than `max_ops` ops or still make
    several calls. Inlining the latter would copy their calls into every caller and multiply the
    call sites: in a call DAG (`f_k` calls `f_{k-1}` twice) every level above the first kept one
    would be inlined, leaving 2^levels calls of it in the entry; kept, each level is one small
    function with its two calls. Sizes and remaining calls are added up bottom-up without
    inlining anything: a function's size is its own ops plus, for each call it inlines, the
    callee's size less the call and the callee's return."""
    calls = call_graph(functions)
    sites = Counter(c.callee.string_value() for cs in calls.values() for c in cs)
    size: dict[str, int] = {}
    left: dict[str, int] = {}  # the calls to kept functions a function makes, its own inlined
    kept: set[str] = set()
    for name in bottom_up(functions, calls):
        n, k = sum(1 for _ in functions[name].walk()) - 1, 0
        for call in calls[name]:
            callee = call.callee.string_value()
            if not inlinable(functions.get(callee)):
                continue
            if sites[callee] > 1 and (size[callee] > max_ops or left[callee] > 1) and keepable(callee):
                kept.add(callee)
                k += 1
            else:
                n += size[callee] - 2
                k += left[callee]
        size[name], left[name] = n, k
    return kept


@dataclass(frozen=True)
class LoomInline(ModulePass):
    name = "loom-inline"

    max_ops: int = 256
    """A callee with more ops than this (after its own inlining), called from several places, is
    kept as a function and called (so is one with several calls left, `kept_callees`)."""

    def apply(self, ctx: Context, op: ModuleOp) -> None:
        functions = {f.sym_name.data: f for f in op.body.block.ops if isinstance(f, func.FuncOp)}
        kept = kept_callees(functions, self.max_ops)
        calls = call_graph(functions)
        inline = InlineCall(kept)
        for name in bottom_up(functions, calls):  # callees first: each body is final when copied
            for call in calls[name]:
                inline.match_and_rewrite(call, PatternRewriter(call))
        # private functions not reachable from a public one (by calls and derivative ops) go
        live = reachable(functions)
        for name, f in functions.items():
            if name not in live:
                f.detach()
                f.erase()


def reachable(functions: dict[str, func.FuncOp]) -> set[str]:
    """The functions reachable from the public ones through calls and derivative ops
    (`ad.jvp`/`ad.vjp` name their callee): private functions that only dead ones call (as the
    primal and intermediate derivative functions of a differentiated call DAG) are not."""
    todo = [n for n, f in functions.items() if f.sym_visibility is None or f.sym_visibility.data != "private"]
    live = set(todo)
    while todo:
        for o in functions[todo.pop()].walk():
            if isinstance(o, func.CallOp) or o.name in ("ad.jvp", "ad.vjp"):
                name = o.callee.string_value()
                if name in functions and name not in live:
                    live.add(name)
                    todo.append(name)
    return live
