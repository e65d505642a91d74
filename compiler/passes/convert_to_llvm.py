"""`convert-to-llvm`: the whole lowering to the `llvm` dialect in one pass, with the patterns of
`convert-{ad,memref,math,arith,func,cf}-to-llvm` in three rewrites over the module:

1. tape ops and buffer accesses (they read the memref types: shapes give strides and sizes);
2. the ops that define buffers, which then become `!llvm.ptr`s;
3. block arguments are retyped (memref and tape → `!llvm.ptr`, index → `i64`), functions get their
   error-values argument, and math, arith, func and cf ops are converted together.
The single passes leave the IR type-inconsistent until all of them have run (MLIR would insert
`unrealized_conversion_cast`s); run together, the result verifies.
"""

from __future__ import annotations

from dataclasses import dataclass

from xdsl.context import Context
from xdsl.dialects.builtin import ModuleOp
from xdsl.passes import ModulePass
from xdsl.pattern_rewriter import GreedyRewritePatternApplier, PatternRewriteWalker

from compiler.passes import convert_ad_to_llvm, convert_arith_to_llvm, convert_cf_to_llvm, convert_func_to_llvm
from compiler.passes import convert_math_to_llvm, convert_memref_to_llvm
from compiler.passes.llvm_types import retype_block_args
from dialects import llvm_ext


def rewrite(op: ModuleOp, patterns: list) -> None:
    PatternRewriteWalker(GreedyRewritePatternApplier(patterns)).rewrite_module(op)


@dataclass(frozen=True)
class ConvertToLlvm(ModulePass):
    name = "convert-to-llvm"

    def apply(self, ctx: Context, op: ModuleOp) -> None:
        llvm_ext.install()
        rewrite(op, convert_ad_to_llvm.patterns() + convert_memref_to_llvm.access_patterns())
        rewrite(op, convert_memref_to_llvm.definition_patterns())
        retype_block_args(op)
        convert_func_to_llvm.add_error_values_arg(op)
        rewrite(op, convert_math_to_llvm.patterns() + convert_arith_to_llvm.patterns() +
                convert_func_to_llvm.patterns() + convert_cf_to_llvm.patterns())
