"""`loom-interrupt-checks`: the program's loops stop when the process is interrupted (Ctrl-C).

Runs on bufferized IR, before `loom-buffer-dealloc`. Each `scf.for` body and `scf.while` body (the
program's own loops: tensor ops are still `linalg` ops here, so their loops are never polled) starts
by reading the module's flag `loom_interrupt` (an `i32`, a weak global initialized to 0; the
runtime's SIGINT handler sets it while a call runs) with an atomic load that LLVM cannot hoist out
of the loop, and checks that it is zero. A failing check is an ordinary run-time check (`cf.assert`): `loom-buffer-dealloc` frees the
call's live buffers on its failing branch, and the runtime turns its status into
`KeyboardInterrupt` (the check's message is `INTERRUPTED`).

    scf.for %i = %lo to %hi step %c1 {
      ...
    }
becomes
    llvm.mlir.global weak @loom_interrupt(0 : i32) : i32
    scf.for %i = %lo to %hi step %c1 {
      %p = llvm.mlir.addressof @loom_interrupt : !llvm.ptr
      %flag = llvm.load %p atomic monotonic {alignment = 4 : i64} : !llvm.ptr -> i32
      %zero = arith.constant 0 : i32
      %running = arith.cmpi eq, %flag, %zero : i32
      cf.assert %running, "interrupted"
      ...
    }

In an object file (`loom compile --emit=obj`) the flag is a weak symbol: a C program may define its
own `int32_t loom_interrupt` and set it (e.g. from a signal handler) to stop a running call.
"""

from __future__ import annotations

from dataclasses import dataclass

from xdsl.context import Context
from xdsl.dialects import cf, llvm, scf
from xdsl.dialects.builtin import IntegerAttr, ModuleOp, StringAttr, i32
from xdsl.ir import Block
from xdsl.passes import ModulePass
from xdsl.rewriter import InsertPoint, Rewriter

from compiler.passes.emitter import Emitter
from runtime.abi import INTERRUPT_FLAG as FLAG
INTERRUPTED = "interrupted"  # the message of the check; the runtime raises KeyboardInterrupt for it
MONOTONIC = 2  # llvm.ATOMIC_ORDERING_KEYWORDS


def poll(block: Block) -> None:
    """Check the interrupt flag at the start of `block` (a loop body)."""
    first = block.first_op
    e = Emitter(first.location if first is not None else block.parent_op().location)
    ptr = e.add(llvm.AddressOfOp(FLAG, llvm.LLVMPointerType()))
    flag = e.add(llvm.LoadOp(ptr, i32, alignment=4, ordering=MONOTONIC))
    e.add(cf.AssertOp(e.cmp("eq", flag, e.const(0, i32)), INTERRUPTED))
    Rewriter.insert_op(e.ops, InsertPoint.at_start(block))


@dataclass(frozen=True)
class LoomInterruptChecks(ModulePass):
    name = "loom-interrupt-checks"

    def apply(self, ctx: Context, op: ModuleOp) -> None:
        loops = [o for o in op.walk() if isinstance(o, (scf.ForOp, scf.WhileOp))]
        for loop in loops:
            poll(loop.body.block if isinstance(loop, scf.ForOp) else loop.after_region.block)
        declared = any(isinstance(o, llvm.GlobalOp) and o.sym_name == StringAttr(FLAG) for o in op.ops)
        if loops and not declared:
            op.body.block.add_op(llvm.GlobalOp(i32, FLAG, "weak", value=IntegerAttr(0, i32)))
