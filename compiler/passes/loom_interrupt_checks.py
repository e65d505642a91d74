"""`loom-interrupt-checks`: the program's loops stop when the process is interrupted (Ctrl-C).

Runs on bufferized IR, before `loom-buffer-dealloc`. A poll reads the module's flag `loom_interrupt`
(an `i32`, a weak global initialized to 0; the runtime's SIGINT handler sets it while a call runs)
with an atomic load that LLVM cannot hoist out of a loop, and checks that it is zero. A failing
check is an ordinary run-time check (`cf.assert`): `loom-buffer-dealloc` frees the call's live
buffers on its failing branch, and the runtime turns its status into `KeyboardInterrupt` (the
check's message is `INTERRUPTED`). The loops (tensor ops are still `linalg` ops here, so their loops
are not polled) are polled so that a loop body stays free of polls where it can be vectorized:

- an `scf.for` is strip-mined: an outer loop over chunks of `CHUNK` iterations polls once per chunk
  and runs the original loop over the chunk, whose body is unchanged (LLVM vectorizes it as before);
- an `scf.for` of at most `CHUNK` iterations (constant bounds) is polled once, before it;
- an `scf.while` (its trip count is unknown) polls at the start of each iteration (its `after`
  region).

    scf.for %i = %lo to %hi step %s iter_args(%a = %init) -> (f32) : i64 {
      ...
    }
becomes (%s constant: %big = %s × CHUNK, or fewer iterations if that would not fit in 64 bits)
    llvm.mlir.global weak @loom_interrupt(0 : i32) : i32
    %span = arith.subi (arith.subi %hi, %lo), %one : i64
    %count = arith.addi (arith.divui %span, %big), %one : i64   (chunks: exact, unsigned)
    %n = arith.select (arith.cmpi slt, %lo, %hi), %count, %zero : i64
    scf.for %k = %zero to %n step %one iter_args(%a0 = %init) -> (f32) : i64 {
      %p = llvm.mlir.addressof @loom_interrupt : !llvm.ptr
      %flag = llvm.load %p atomic monotonic {alignment = 4 : i64} : !llvm.ptr -> i32
      %zero = arith.constant 0 : i32
      %running = arith.cmpi eq, %flag, %zero : i32
      cf.assert %running, "interrupted"
      %c = arith.addi %lo, (arith.muli %k, %big) : i64
      %left = arith.subi %hi, %c : i64                       (c < hi: exact, unsigned)
      %end = arith.select (arith.cmpi ugt, %left, %big), (arith.addi %c, %big), %hi : i64
      %r = scf.for %i = %c to %end step %s iter_args(%a = %a0) -> (f32) : i64 {
        ...                                                    (the original body)
      }
      scf.yield %r : f32
    }
No bound computed here overflows, whatever the loop's bounds (with `range(2**63 - 10, 2**63 - 1)`,
`%c + %big` would wrap, and the chunk end with it): `%k * %big` may wrap, but `%lo + %k * %big` is a
value in `[%lo, %hi)`, which two's-complement arithmetic gets exactly.

In an object file (`loom compile --emit=obj`) the flag is a weak symbol: a C program may define its
own `int32_t loom_interrupt` and set it (e.g. from a signal handler) to stop a running call.
"""

from __future__ import annotations

from dataclasses import dataclass

from xdsl.dialects import arith, cf, llvm, scf
from xdsl.context import Context
from xdsl.dialects.builtin import IntegerAttr, ModuleOp, StringAttr, i32
from xdsl.ir import Block, Operation, Region, SSAValue
from xdsl.passes import ModulePass
from xdsl.rewriter import InsertPoint, Rewriter

from compiler.passes.emitter import I64_MAX, Emitter, int_constant
from runtime.abi import INTERRUPT_FLAG as FLAG
INTERRUPTED = "interrupted"  # the message of the check; the runtime raises KeyboardInterrupt for it
MONOTONIC = 2  # llvm.ATOMIC_ORDERING_KEYWORDS
CHUNK = 1 << 16  # iterations of an scf.for between two polls


def poll(e: Emitter) -> None:
    """Read the interrupt flag and check that it is zero."""
    ptr = e.add(llvm.AddressOfOp(FLAG, llvm.LLVMPointerType()))
    flag = e.add(llvm.LoadOp(ptr, i32, alignment=4, ordering=MONOTONIC))
    e.add(cf.AssertOp(e.cmp("eq", flag, e.const(0, i32)), INTERRUPTED))



def short(loop: scf.ForOp) -> bool:
    """At most CHUNK iterations, known at compile time."""
    lo, hi, step = int_constant(loop.lb), int_constant(loop.ub), int_constant(loop.step)
    return None not in (lo, hi, step) and step > 0 and (hi - lo + step - 1) // step <= CHUNK


def chunk_span(e: Emitter, step: SSAValue) -> SSAValue:
    """`step` × the iterations of a chunk: CHUNK, or fewer for a step so large that CHUNK of them
    would not fit in 64 bits (such a loop has at most 2**64 / step < 2 * CHUNK iterations)."""
    t, s = step.type, int_constant(step)
    if s is not None and s > 0:
        return e.const(s * min(CHUNK, I64_MAX // s), t)
    fits = e.add(arith.CmpiOp(step, e.const(I64_MAX // CHUNK, t), "ule"))
    return e.add(arith.MuliOp(step, e.select(fits, e.const(CHUNK, t), e.const(1, t))))


def strip_mine(loop: scf.ForOp) -> None:
    """`loop` runs chunk by chunk inside an outer loop that polls once per chunk. The outer loop
    counts chunks (no induction variable can step past the largest integer, whatever the bounds);
    a chunk's bounds are exact: `ub - c` is the distance left, taken unsigned, as `c < ub`."""
    e = Emitter(loop.location)
    t = loop.step.type
    lb, ub, step = loop.lb, loop.ub, loop.step
    big = chunk_span(e, step)
    one, zero = e.const(1, t), e.const(0, t)
    span = e.add(arith.SubiOp(e.add(arith.SubiOp(ub, lb)), one))  # ub - lb - 1 ≥ 0 when lb < ub
    count = e.add(arith.AddiOp(e.add(arith.DivUIOp(span, big)), one))
    chunks = e.select(e.add(arith.CmpiOp(lb, ub, "slt")), count, zero)
    body = Block(arg_types=[t, *[r.type for r in loop.results]])
    inner = Emitter(loop.location)
    poll(inner)
    c = inner.add(arith.AddiOp(lb, inner.add(arith.MuliOp(body.args[0], big))))
    left = inner.add(arith.SubiOp(ub, c))
    end = inner.select(inner.add(arith.CmpiOp(left, big, "ugt")), inner.add(arith.AddiOp(c, big)), ub)
    chunk = scf.ForOp(c, end, step, list(body.args[1:]), loop.detach_region(loop.body))
    inner.add(chunk)
    inner.add(scf.YieldOp(*chunk.results))
    body.add_ops(inner.ops)
    outer = scf.ForOp(zero, chunks, one, list(loop.iter_args), Region(body))
    e.add(outer)
    Rewriter.insert_op(e.ops, InsertPoint.before(loop))
    for old, new in zip(loop.results, outer.results):
        old.replace_all_uses_with(new)
    Rewriter.erase_op(loop)


def poll_before(op: Operation) -> None:
    e = Emitter(op.location)
    poll(e)
    Rewriter.insert_op(e.ops, InsertPoint.before(op))


def poll_each_iteration(block: Block) -> None:
    first = block.first_op
    e = Emitter(first.location if first is not None else block.parent_op().location)
    poll(e)
    Rewriter.insert_op(e.ops, InsertPoint.at_start(block))


@dataclass(frozen=True)
class LoomInterruptChecks(ModulePass):
    name = "loom-interrupt-checks"

    def apply(self, ctx: Context, op: ModuleOp) -> None:
        loops = [o for o in op.walk() if isinstance(o, (scf.ForOp, scf.WhileOp))]
        for loop in loops:
            if isinstance(loop, scf.WhileOp):
                poll_each_iteration(loop.after_region.block)
            elif short(loop):
                poll_before(loop)
            else:
                strip_mine(loop)
        declared = any(isinstance(o, llvm.GlobalOp) and o.sym_name == StringAttr(FLAG) for o in op.ops)
        if loops and not declared:
            op.body.block.add_op(llvm.GlobalOp(i32, FLAG, "weak", value=IntegerAttr(0, i32)))
