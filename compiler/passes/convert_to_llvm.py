"""`convert-to-llvm`: the whole lowering to the `llvm` dialect in one pass, with the patterns of
`convert-{ad,vector,memref,math,arith,func,cf}-to-llvm` in four rewrites over the module:

1. tape ops, buffer accesses and vector ops (the accesses read the memref types: shapes give strides and sizes);
2. the ops that define buffers, which then become `!llvm.ptr`s;
3. block arguments are retyped (memref and tape → `!llvm.ptr`, index → `i64`), functions get their
   error-values argument, and math, arith, func and cf ops are converted together;
4. calls and run-time checks, which branch to a failure block: last first (each splits its block).
The single passes (its `PARTS`, each marked `PART_OF = "convert-to-llvm"`) leave the IR
type-inconsistent until all of them have run (MLIR would insert `unrealized_conversion_cast`s); run
together, the result verifies. The pass manager verifies after the last of consecutive parts, and a
pipeline that stops after some of them is told so (not that a pass has a bug).

Example (`x * 2.0`, f32[4], after `loom-scf-to-cf`; the func lowering adds `%1`, the
error-values pointer, and the `i32` status result):

    func.func @f(%x: memref<4xf32>, %0: memref<4xf32>) {
      %1 = arith.constant 2.000000e+00 : f32
      …
    ^bb1(%5: index):
      %6 = arith.cmpi slt, %5, %4 : index
      cf.cond_br %6, ^bb2, ^bb3
    ^bb2:
      %7 = memref.load %x[%5] : memref<4xf32>
      %8 = arith.mulf %7, %1 fastmath<contract> : f32
      memref.store %8, %0[%5] : memref<4xf32>
      …
    ^bb3:
      func.return
    }
becomes
    llvm.func @f(%x: !llvm.ptr {llvm.noalias}, %0: !llvm.ptr {llvm.noalias}, %1: !llvm.ptr {llvm.noalias}) -> i32 {
      %2 = llvm.mlir.constant(2.000000e+00 : f32) : f32
      …
    ^bb1(%6: i64):
      %7 = llvm.icmp "slt" %6, %5 : i64
      llvm.cond_br %7, ^bb2, ^bb3
    ^bb2:
      %8 = llvm.getelementptr inbounds %x[%6] : (!llvm.ptr, i64) -> !llvm.ptr, f32
      %9 = llvm.load %8 : !llvm.ptr -> f32
      %10 = llvm.fmul %9, %2 {fastmathFlags = #llvm.fastmath<contract>} : f32
      %11 = llvm.getelementptr inbounds %0[%6] : (!llvm.ptr, i64) -> !llvm.ptr, f32
      llvm.store %10, %11 : f32, !llvm.ptr
      …
    ^bb3:
      %13 = llvm.mlir.constant(0 : i32) : i32
      llvm.return %13 : i32
    }
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from xdsl.context import Context
from xdsl.dialects.builtin import ModuleOp
from xdsl.passes import ModulePass
from xdsl.pattern_rewriter import RewritePattern

from compiler.passes import convert_ad_to_llvm, convert_arith_to_llvm, convert_cf_to_llvm, convert_func_to_llvm
from compiler.passes import convert_math_to_llvm, convert_memref_to_llvm, convert_vector_to_llvm
from compiler.passes.conversion import convert, erase_dead
from compiler.passes.llvm_types import retype_block_args
from dialects import llvm_ext


def rewrite(op: ModuleOp, patterns: dict[str, list[RewritePattern]], last_first: bool = False) -> None:
    """One rewrite over the module: each op of a dialect in `patterns` offered to that dialect's
    patterns (`Conversion`: without xDSL's walker, which visited every op twice and each op the
    conversion creates once more, 2.3 of this pass's 2.5 s CPU on the MLP train step)."""
    convert(op.body, patterns, last_first)


@dataclass(frozen=True)
class ConvertToLlvm(ModulePass):
    name = "convert-to-llvm"
    # its parts, as single passes, in an order that converts correctly (each has PART_OF = this)
    PARTS: ClassVar[tuple[str, ...]] = ("convert-ad-to-llvm", "convert-vector-to-llvm", "convert-memref-to-llvm",
                                        "convert-math-to-llvm",
                                        "convert-arith-to-llvm", "convert-func-to-llvm", "convert-cf-to-llvm")

    def apply(self, ctx: Context, op: ModuleOp) -> None:
        llvm_ext.install()
        erase_dead(op.body)
        rewrite(op, {"ad": convert_ad_to_llvm.patterns(), "memref": convert_memref_to_llvm.access_patterns(),
                     "vector": convert_vector_to_llvm.patterns()})
        # (and a pointer cast back to a memref — `builtin.unrealized_conversion_cast` — is the pointer)
        rewrite(op, {"memref": convert_memref_to_llvm.definition_patterns(),
                     "builtin": [convert_memref_to_llvm.LowerView()]})
        retype_block_args(op)
        convert_func_to_llvm.add_error_values_arg(op)
        rewrite(op, {"math": convert_math_to_llvm.patterns(), "arith": convert_arith_to_llvm.patterns(),
                     "func": [convert_func_to_llvm.LowerFunc(), convert_func_to_llvm.LowerReturn()],
                     "cf": [convert_cf_to_llvm.LowerBr(), convert_cf_to_llvm.LowerCondBr()]})
        # calls and checks (cf.assert like loom.assert) split their block before them: once their
        # operands are converted, last first (see `convert_func_to_llvm.split_before`)
        check = [convert_cf_to_llvm.LowerAssert()]
        convert_cf_to_llvm.number_checks(op)
        rewrite(op, {"func": [convert_func_to_llvm.LowerCall()], "cf": check, "loom": check}, last_first=True)
