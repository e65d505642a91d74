"""`convert-to-llvm`: the whole lowering to the `llvm` dialect in one pass — block arguments are
retyped (memref and tape → `!llvm.ptr`, index → `i64`) after `convert-ad-to-llvm` and
`convert-memref-to-llvm` (which need the memref shapes), then `convert-{math,arith,func,cf}-to-llvm` run in turn. The single passes leave the IR type-inconsistent until all of them have run (MLIR
would insert `unrealized_conversion_cast`s); run together, the result verifies.
"""

from __future__ import annotations

from dataclasses import dataclass

from xdsl.context import Context
from xdsl.dialects.builtin import ModuleOp
from xdsl.passes import ModulePass

from compiler.passes import get_pass
from compiler.passes.llvm_types import retype_block_args

PARTS = ("convert-math-to-llvm", "convert-arith-to-llvm", "convert-func-to-llvm", "convert-cf-to-llvm")


@dataclass(frozen=True)
class ConvertToLlvm(ModulePass):
    name = "convert-to-llvm"

    def apply(self, ctx: Context, op: ModuleOp) -> None:
        get_pass("convert-ad-to-llvm")().apply(ctx, op)  # first: these read the memref types
        get_pass("convert-memref-to-llvm")().apply(ctx, op)
        retype_block_args(op)
        for name in PARTS:
            get_pass(name)().apply(ctx, op)
