"""`ad-tape-forwarding`: resolve tape pushes and pops that meet in the same block.

Once the forward and reverse sweeps of a derivative are inlined into one function, a value pushed
on the tape and later popped in the same block (straight-line code: every residual outside loops)
needs no tape at all: the pop's result *is* the pushed value. This pass tracks, per block, the
known top of each tape (pushes since the last op that used the tape in a way it cannot follow,
such as a loop carrying it), replaces each matched pop by the pushed value, and deletes the
matched push/pop pairs (removing a nested pair from a stack keeps all other pairs matched). A
tape left with no pushes or pops is deleted with its `tape_new`/`tape_free`. Run after inlining;
`ad-jvp` also runs it on the functions it differentiates, so that forward-over-reverse
derivatives (Hessian-vector products) of straight-line code see plain dataflow.

Example (`grad` of `sum(tanh(x * w))` after the AD passes and `loom-inline`):

    %1 = ad.tape_new
    %2 = loom.mul %x, %w : (tensor<?xf32>, tensor<?xf32>) -> tensor<?xf32>
    …
    %6 = loom.sub %4, %5 : (f32, tensor<?xf32>) -> tensor<?xf32>
    %8 = ad.push %1, %x : tensor<?xf32>
    %9 = ad.push %8, %6 : tensor<?xf32>
    %10, %11 = ad.pop %9 : tensor<?xf32>
    %12, %13 = ad.pop %10 : tensor<?xf32>
    …
    %16 = loom.mul %15, %11 : (tensor<?xf32>, tensor<?xf32>) -> tensor<?xf32>
    …
    %21 = loom.mul %20, %13 : (tensor<?xf32>, tensor<?xf32>) -> tensor<?xf32>
    …
    ad.tape_free %12
becomes (no tape left)
    %1 = loom.mul %x, %w : (tensor<?xf32>, tensor<?xf32>) -> tensor<?xf32>
    …
    %5 = loom.sub %3, %4 : (f32, tensor<?xf32>) -> tensor<?xf32>
    …
    %9 = loom.mul %8, %5 : (tensor<?xf32>, tensor<?xf32>) -> tensor<?xf32>
    …
    %14 = loom.mul %13, %x : (tensor<?xf32>, tensor<?xf32>) -> tensor<?xf32>
"""

from __future__ import annotations

from dataclasses import dataclass

from xdsl.context import Context
from xdsl.dialects.builtin import ModuleOp
from xdsl.ir import Block, Operation, SSAValue
from xdsl.passes import ModulePass

from dialects import ad


def forward_block(block: Block) -> None:
    known: dict[SSAValue, list[tuple[ad.PushOp, SSAValue]]] = {}  # tape value → known pushes on top
    pairs: list[tuple[ad.PushOp, ad.PopOp]] = []
    for op in list(block.ops):
        for r in op.regions:
            for b in r.blocks:
                forward_block(b)
        if isinstance(op, ad.TapeNewOp):
            known[op.tape] = []
        elif isinstance(op, ad.PushOp):
            known[op.result] = known.get(op.tape, []) + [(op, op.value)]
        elif isinstance(op, ad.TapeReserveOp):
            known[op.result] = known.get(op.tape, [])
        elif isinstance(op, ad.PopOp):
            stack = known.get(op.tape, [])
            if stack:
                push, v = stack[-1]
                op.value.replace_all_uses_with(v)
                pairs.append((push, op))
                known[op.result_tape] = stack[:-1]
            else:
                known[op.result_tape] = []
    for push, pop in pairs:
        pop.result_tape.replace_all_uses_with(pop.tape)
        push.result.replace_all_uses_with(push.tape)
    for push, pop in pairs:
        for o in (pop, push):
            o.detach()
            o.erase()
    for op in list(block.ops):
        if isinstance(op, ad.TapeNewOp) and all(isinstance(u.operation, ad.TapeFreeOp) for u in op.tape.uses):
            for u in list(op.tape.uses):
                u.operation.detach()
                u.operation.erase()
            op.detach()
            op.erase()


def forward_tapes(op: Operation) -> None:
    for r in op.regions:
        for b in r.blocks:
            forward_block(b)


@dataclass(frozen=True)
class AdTapeForwarding(ModulePass):
    name = "ad-tape-forwarding"

    def apply(self, ctx: Context, op: ModuleOp) -> None:
        for f in op.ops:
            forward_tapes(f)
