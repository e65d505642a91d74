"""`convert-print-to-llvm`: `loom.print` → a call into the runtime, `loom_rt_print(id, values)`.

The format string and the printed values' types are recorded in the module attribute
`loom.prints` (entry `id`); the call passes an array of pointers, one per value (a buffer's data
pointer, or a stack slot holding a scalar). The runtime formats the values exactly as the eager
executor does (`runtime/format.py`). Run before the memref conversion: buffers are passed through
`builtin.unrealized_conversion_cast` to `!llvm.ptr`, which `reconcile-unrealized-casts` removes.

Example (tests/filecheck/backend_convert_print_to_llvm.mlir):

    func.func @main(%x: memref<3xf32>, %n: i64, %f: f32) {
      loom.print "x = {} n = {} f = {}", %x, %n, %f : memref<3xf32>, i64, f32
      …
becomes
    builtin.module attributes {loom.prints = [["x = {} n = {} f = {}", [memref<3xf32>, i64, f32]], …]} {
      func.func @main(%x: memref<3xf32>, %n: i64, %f: f32) {
        …
        %3 = llvm.alloca %2 x !llvm.ptr {alignment = 8 : i64} : (i64) -> !llvm.ptr
        %5 = llvm.alloca %4 x i64 {alignment = 8 : i64} : (i64) -> !llvm.ptr
        …
        %8 = builtin.unrealized_conversion_cast %x : memref<3xf32> to !llvm.ptr
        %9 = llvm.getelementptr inbounds %3[0] : (!llvm.ptr) -> !llvm.ptr, !llvm.ptr
        llvm.store %8, %9 : !llvm.ptr, !llvm.ptr
        llvm.store %n, %5 : i64, !llvm.ptr
        %10 = llvm.getelementptr inbounds %3[1] : (!llvm.ptr) -> !llvm.ptr, !llvm.ptr
        llvm.store %5, %10 : !llvm.ptr, !llvm.ptr
        …                                                   (the same for %f)
        %12 = llvm.mlir.constant(0) : i64
        llvm.call @loom_rt_print(%12, %3) : (i64, !llvm.ptr) -> ()
        …
      }
      llvm.func @loom_rt_print(i64, !llvm.ptr)
"""

from __future__ import annotations

from dataclasses import dataclass

from xdsl.context import Context
from xdsl.dialects import func, llvm
from xdsl.dialects.builtin import ArrayAttr, IntegerAttr, MemRefType, ModuleOp, UnrealizedConversionCastOp, i64
from xdsl.ir import Operation, SSAValue
from xdsl.rewriter import InsertPoint
from xdsl.passes import ModulePass
from xdsl.pattern_rewriter import PatternRewriter, PatternRewriteWalker, RewritePattern, op_type_rewrite_pattern

from compiler.passes.llvm_types import declare, module_of, with_location
from dialects import loom

PRINTS = "loom.prints"
PTR = llvm.LLVMPointerType()


class LowerPrint(RewritePattern):
    @op_type_rewrite_pattern
    def match_and_rewrite(self, op: loom.PrintOp, rewriter: PatternRewriter, /):
        module = module_of(op)
        table = list(module.attributes[PRINTS].data) if PRINTS in module.attributes else []
        table.append(ArrayAttr([op.format, ArrayAttr([v.type for v in op.values])]))
        module.attributes[PRINTS] = ArrayAttr(table)
        declare(op, "loom_rt_print", [i64, PTR], None)
        ops: list[Operation] = []

        def const(v: int):
            c = llvm.ConstantOp(IntegerAttr(v, i64), i64)
            ops.append(c)
            return c.result

        # stack slots live in the entry block: a print inside a loop must not grow the stack
        entry: list[Operation] = []

        def slot(t, count: int) -> SSAValue:
            c = llvm.ConstantOp(IntegerAttr(count, i64), i64)
            a = llvm.AllocaOp(c.result, t, alignment=8)
            entry.extend([c, a])
            return a.res

        n = len(op.values)
        arr = slot(PTR, max(n, 1))
        for k, v in enumerate(op.values):
            if isinstance(v.type, MemRefType):
                cast = UnrealizedConversionCastOp.get([v], [PTR])
                ops.append(cast)
                p = cast.results[0]
            else:
                p = slot(v.type, 1)
                ops.append(llvm.StoreOp(v, p))
            gep = llvm.GEPOp(arr, [k], PTR, inbounds=True)
            ops += [gep, llvm.StoreOp(p, gep.result)]
        ops.append(llvm.CallOp("loom_rt_print", const(len(table) - 1), arr))
        f = op
        while not isinstance(f, func.FuncOp):
            f = f.parent_op()
        rewriter.insert(with_location(entry, op), InsertPoint.at_start(f.body.blocks[0]))
        rewriter.replace(op, with_location(ops, op), [])


@dataclass(frozen=True)
class ConvertPrintToLlvm(ModulePass):
    name = "convert-print-to-llvm"

    def apply(self, ctx: Context, op: ModuleOp) -> None:
        PatternRewriteWalker(LowerPrint()).rewrite_module(op)
