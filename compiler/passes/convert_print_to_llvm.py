"""`convert-print-to-llvm`: `loom.print` → a call into the runtime, `loom_rt_print(id, values)`.

The format string and the printed values' types are recorded in the module attribute
`loom.prints` (entry `id`); the call passes an array of pointers, one per value (a buffer's data
pointer, or a stack slot holding a scalar). The runtime formats the values exactly as the eager
executor does (`runtime/format.py`). Run before the memref conversion: buffers are passed through
`builtin.unrealized_conversion_cast` to `!llvm.ptr`, which `reconcile-unrealized-casts` removes.
"""

from __future__ import annotations

from dataclasses import dataclass

from xdsl.context import Context
from xdsl.dialects import llvm
from xdsl.dialects.builtin import ArrayAttr, IntegerAttr, MemRefType, ModuleOp, UnrealizedConversionCastOp, i64
from xdsl.ir import Operation
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

        n = len(op.values)
        arr = llvm.AllocaOp(const(max(n, 1)), PTR, alignment=8)
        ops.append(arr)
        for k, v in enumerate(op.values):
            if isinstance(v.type, MemRefType):
                cast = UnrealizedConversionCastOp.get([v], [PTR])
                ops.append(cast)
                p = cast.results[0]
            else:
                slot = llvm.AllocaOp(const(1), v.type, alignment=8)
                ops += [slot, llvm.StoreOp(v, slot.res)]
                p = slot.res
            gep = llvm.GEPOp(arr.res, [k], PTR, inbounds=True)
            ops += [gep, llvm.StoreOp(p, gep.result)]
        ops.append(llvm.CallOp("loom_rt_print", const(len(table) - 1), arr.res))
        rewriter.replace(op, with_location(ops, op), [])


@dataclass(frozen=True)
class ConvertPrintToLlvm(ModulePass):
    name = "convert-print-to-llvm"

    def apply(self, ctx: Context, op: ModuleOp) -> None:
        PatternRewriteWalker(LowerPrint()).rewrite_module(op)
