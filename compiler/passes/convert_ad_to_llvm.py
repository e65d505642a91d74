"""`convert-ad-to-llvm`: tapes → calls into the tape runtime (`runtime/tape.ll`, linked into the
module by the JIT and inlined by LLVM).

`ad.tape_new` → `loom_tape_new()`; `ad.push %t, %v` → `loom_tape_push(t, &v, bytes)` (a buffer's
data pointer, or a stack slot holding a scalar); `ad.pop` → `loom_tape_pop(t, dst, bytes)` into a
fresh `memref.alloc` (freed where `loom-buffer-dealloc` decided) or a stack slot;
`ad.tape_reserve` → `loom_tape_reserve(t, bytes)`; `ad.tape_free` → `loom_tape_free(t)`. A tape is
a pointer to a growable byte stack, mutated in place: the tape results of push/pop are the same
pointer. Run before `convert-memref-to-llvm` (buffer sizes are read from the memref types).

Running out of memory is a run-time error, as for any allocation: `loom_tape_new` and
`loom_tape_push` return null when they get no memory, checked by a `cf.assert` ("out of memory
(growing an autodiff tape)"); a pop's buffer is a `memref.alloc`, checked when it is lowered. The
`loom.on_failure` that `loom-buffer-dealloc` put after the `ad` op (the call's frees) follows the
check: after the push's or tape_new's `cf.assert`, and moved after the pop's `memref.alloc`.

Example: `grad` of a loop `y = sin(y) * x` pushes two f32 per iteration and pops them in reverse
(`loom compile --emit=loops`, then `loom opt -p …,convert-to-llvm`; excerpts):

    %2 = ad.tape_new
    %17 = ad.tape_reserve %2, %16
    … forward loop:  %30 = ad.push %22, %27 : f32
                     %31 = ad.push %30, %28 : f32
    … reverse loop:  %44, %45 = ad.pop %38 : f32
                     %46, %47 = ad.pop %44 : f32
    ad.tape_free %34
becomes
    %3 = llvm.call @loom_tape_new() : () -> !llvm.ptr
    %30 = llvm.call @loom_tape_reserve(%3, %29) : (!llvm.ptr, i64) -> !llvm.ptr
    … %278 = llvm.mlir.constant(1) : i64
      %279 = llvm.alloca %278 x f32 {alignment = 8 : i64} : (i64) -> !llvm.ptr
      llvm.store %160, %279 : f32, !llvm.ptr
      %280 = llvm.mlir.constant(4) : i64
      %281 = llvm.call @loom_tape_push(%33, %279, %280) : (!llvm.ptr, !llvm.ptr, i64) -> !llvm.ptr
    … %299 = llvm.alloca %298 x f32 {alignment = 8 : i64} : (i64) -> !llvm.ptr
      %301 = llvm.call @loom_tape_pop(%290, %299, %300) : (!llvm.ptr, !llvm.ptr, i64) -> !llvm.ptr
      %302 = llvm.load %299 : !llvm.ptr -> f32
    llvm.call @loom_tape_free(%290) : (!llvm.ptr) -> ()
    llvm.func @loom_tape_push(!llvm.ptr, !llvm.ptr, i64) -> !llvm.ptr      (declarations)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from xdsl.context import Context
from xdsl.dialects import llvm, memref
from xdsl.dialects.builtin import IntegerAttr, MemRefType, ModuleOp, i64
from xdsl.ir import Operation, SSAValue
from xdsl.passes import ModulePass
from xdsl.pattern_rewriter import GreedyRewritePatternApplier, PatternRewriter, PatternRewriteWalker, RewritePattern

from compiler.passes.llvm_types import assert_not_null, declare, nbytes, with_location
from dialects import ad, loom

PTR = llvm.LLVMPointerType()
TAPE_OOM = "out of memory (growing an autodiff tape)"


class LowerTapes(RewritePattern):
    def match_and_rewrite(self, op: Operation, rewriter: PatternRewriter, /):
        ops: list[Operation] = []

        def const(v: int) -> SSAValue:
            c = llvm.ConstantOp(IntegerAttr(v, i64), i64)
            ops.append(c)
            return c.result

        def slot(t) -> SSAValue:
            a = llvm.AllocaOp(const(1), t, alignment=8)
            ops.append(a)
            return a.res

        if isinstance(op, ad.TapeNewOp):
            declare(op, "loom_tape_new", [], PTR)
            call = llvm.CallOp("loom_tape_new", return_type=PTR)
            ops += [call, *assert_not_null(call.returned, TAPE_OOM)]
            rewriter.replace(op, with_location(ops, op), [call.returned])
        elif isinstance(op, ad.PushOp):
            declare(op, "loom_tape_push", [PTR, PTR, i64], PTR)
            v = op.value
            if isinstance(v.type, MemRefType):
                src = v
            else:
                src = slot(v.type)
                ops.append(llvm.StoreOp(v, src))
            call = llvm.CallOp("loom_tape_push", op.tape, src, const(nbytes(v.type)), return_type=PTR)
            ops += [call, *assert_not_null(call.returned, TAPE_OOM)]
            rewriter.replace(op, with_location(ops, op), [call.returned])
        elif isinstance(op, ad.PopOp):
            declare(op, "loom_tape_pop", [PTR, PTR, i64], PTR)
            t = op.value.type
            n = nbytes(t)
            if isinstance(t, MemRefType):  # a fresh buffer (lowered with the other allocations)
                ops.append(memref.AllocOp.get(t.element_type, 64, list(t.get_shape())))
                dst = ops[-1].memref
                cleanup = op.next_op  # the pop's frees on failure are the allocation's
                if isinstance(cleanup, loom.OnFailureOp):
                    ops.append(cleanup.clone())
                    rewriter.erase(cleanup)
            else:
                dst = slot(t)
            call = llvm.CallOp("loom_tape_pop", op.tape, dst, const(n), return_type=PTR)
            ops.append(call)
            value = dst
            if not isinstance(t, MemRefType):
                load = llvm.LoadOp(dst, t)
                ops.append(load)
                value = load.dereferenced_value
            rewriter.replace(op, with_location(ops, op), [call.returned, value])
        elif isinstance(op, ad.TapeReserveOp):
            declare(op, "loom_tape_reserve", [PTR, i64], PTR)
            ops.append(llvm.CallOp("loom_tape_reserve", op.tape, op.bytes, return_type=PTR))
            rewriter.replace(op, with_location(ops, op), [ops[-1].returned])
        elif isinstance(op, ad.TapeFreeOp):
            declare(op, "loom_tape_free", [PTR], None)
            rewriter.replace(op, with_location([llvm.CallOp("loom_tape_free", op.tape)], op), [])


@dataclass(frozen=True)
class ConvertAdToLlvm(ModulePass):
    name = "convert-ad-to-llvm"
    PART_OF: ClassVar[str] = "convert-to-llvm"  # verifies only once all the parts have run

    def apply(self, ctx: Context, op: ModuleOp) -> None:
        PatternRewriteWalker(GreedyRewritePatternApplier(patterns())).rewrite_module(op)


def patterns() -> list[RewritePattern]:
    return [LowerTapes()]
