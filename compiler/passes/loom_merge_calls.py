"""`loom-merge-calls`: common-subexpression elimination of calls to pure functions.

`cse` never merges two `func.call`s (a call has unknown effects), so after `loom-inline` a call
DAG keeps every call it copied: with `f_k(x) = f_{k-1}(x) + f_{k-1}(x * 0.5)`, inlining the small
levels above a kept `f_6` leaves 2^(depth-6) calls of `f_6` in the entry, yet only depth - 5
distinct ones (`f_6(x * 0.5^j)`: the operands are equal once `cse` has merged the `x * 0.5`
chains). This pass replaces a call by an earlier call that dominates it (in the same block or an
enclosing one) with the same callee and the same operands, when the callee is pure: every op in
it, at any depth of regions, is free of side effects (its memory-effect traits, as `cse` reads
them), a return, a run-time check (`loom.assert`, `cf.assert`: equal operands fail alike, at the
earlier call) or a call of a pure function. A function that prints, or contains derivative or
tape ops, or calls an external declaration, is not pure. Run after `cse` (loom-opt pipeline),
so that equal operands are the same SSA value.

    %0 = func.call @f6(%x) : (tensor<8xf32>) -> tensor<8xf32>
    %1 = loom.mul %x, %c : ...
    %2 = func.call @f6(%1) : (tensor<8xf32>) -> tensor<8xf32>
    %3 = func.call @f6(%1) : (tensor<8xf32>) -> tensor<8xf32>     (the same call again)
    %4 = loom.add %2, %3 : ...
becomes
    %0 = func.call @f6(%x) : (tensor<8xf32>) -> tensor<8xf32>
    %1 = loom.mul %x, %c : ...
    %2 = func.call @f6(%1) : (tensor<8xf32>) -> tensor<8xf32>
    %4 = loom.add %2, %2 : ...

Like `cse`, it is one scoped walk (a table of the calls seen, copied into nested blocks), linear
in the function, rather than a rewrite pattern searching backwards from each call.
(tests/filecheck/pass_merge_calls.mlir)
"""

from __future__ import annotations

from dataclasses import dataclass

from xdsl.context import Context
from xdsl.dialects import cf, func
from xdsl.dialects.builtin import ModuleOp
from xdsl.ir import Block, Operation
from xdsl.passes import ModulePass
from xdsl.traits import RecursiveMemoryEffect, is_side_effect_free

from compiler.passes.loom_inline import bottom_up, call_graph
from dialects import loom

CHECKS = (loom.AssertOp, cf.AssertOp)


def pure_op(op: Operation, pure: set[str]) -> bool:
    """Side-effect free by itself (ops nested in a region-holding op are judged one by one)."""
    if isinstance(op, func.CallOp):
        return op.callee.string_value() in pure
    return isinstance(op, (func.ReturnOp, *CHECKS)) or op.has_trait(RecursiveMemoryEffect) \
        or is_side_effect_free(op)


def pure_functions(module: ModuleOp) -> set[str]:
    """The defined functions of `module` whose calls can be merged: no op with side effects at any
    call depth (callees are judged first)."""
    functions = {f.sym_name.data: f for f in module.body.block.ops if isinstance(f, func.FuncOp)}
    calls = call_graph(functions)
    pure: set[str] = set()
    for name in bottom_up(functions, calls):
        f = functions[name]
        if not f.is_declaration and all(pure_op(o, pure) for o in f.body.walk()):
            pure.add(name)
    return pure


def merge_calls(block: Block, pure: set[str], seen: dict | None = None) -> None:
    """Replace a call of a `pure` function by an earlier one (in this block or an enclosing one)
    with the same callee and operands."""
    seen = {} if seen is None else seen
    for op in list(block.ops):
        for region in op.regions:
            for b in region.blocks:
                merge_calls(b, pure, dict(seen))
        if isinstance(op, func.CallOp) and op.callee.string_value() in pure:
            key = (op.callee.string_value(), tuple(op.operands))
            if key in seen:
                for old, new in zip(op.results, seen[key].results):
                    old.replace_all_uses_with(new)
                op.detach()
                op.erase()
            else:
                seen[key] = op


@dataclass(frozen=True)
class LoomMergeCalls(ModulePass):
    name = "loom-merge-calls"

    def apply(self, ctx: Context, op: ModuleOp) -> None:
        pure = pure_functions(op)
        for f in op.body.block.ops:
            if isinstance(f, func.FuncOp) and not f.is_declaration:
                merge_calls(f.body.block, pure)
