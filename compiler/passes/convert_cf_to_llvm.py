"""`convert-cf-to-llvm`: `cf.br`/`cf.cond_br` → `llvm.br`/`llvm.cond_br`, and `cf.assert` (or a
`loom.assert` whose message shows run-time values, stored through the function's error-values
pointer — run after `convert-func-to-llvm`) → a branch to a block that returns the check's number
as the function's status.

Each `cf.assert` becomes an entry of the module attribute `loom.error_sites` (its message and
source location); its number is its position + 1. The runtime turns a nonzero status into a
`LoomRuntimeError` at that location. The failing branch first runs the `loom.on_failure` that
follows the check (`loom-buffer-dealloc`'s frees of the buffers and tapes live there).

Example (tests/filecheck/backend_convert_func_cf_to_llvm.mlir, after `convert-func-to-llvm`):

    ^bb2:
      cf.assert %c, "c must hold"
      %4 = llvm.mlir.constant(0 : i32) : i32
      llvm.return %4 : i32
becomes (status 1: the first entry of the module's `loom.error_sites`)
    builtin.module attributes {loom.error_sites = [["c must hold", "", "0", "0"], …]} {
    …
    ^bb2:
      llvm.cond_br %c, ^bb4, ^bb3
    ^bb3:
      %4 = llvm.mlir.constant(1 : i32) : i32
      llvm.return %4 : i32
    ^bb4:
      %5 = llvm.mlir.constant(0 : i32) : i32
      llvm.return %5 : i32
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from xdsl.context import Context
from xdsl.dialects import cf, llvm
from xdsl.dialects.builtin import ArrayAttr, FileLineColLoc, IntegerAttr, ModuleOp, StringAttr, i32, i64
from xdsl.ir import Block, Operation
from xdsl.passes import ModulePass
from xdsl.pattern_rewriter import (
    GreedyRewritePatternApplier,
    PatternRewriter,
    PatternRewriteWalker,
    RewritePattern,
    op_type_rewrite_pattern,
)
from xdsl.rewriter import InsertPoint

from compiler.passes.convert_func_to_llvm import error_values_arg, failure_cleanup, split_before
from compiler.passes.llvm_types import br, cond_br, retype_block_args, with_location
from dialects import loom

SITES = "loom.error_sites"


CODE = "loom.check_code"  # a check's number, given before the checks are lowered (last first)


def number_checks(module: ModuleOp) -> None:
    """Numbers every check of the module in textual order (its position in `loom.error_sites`, + 1),
    in one walk: the checks are then lowered last first, and appending to the sites one at a time
    copied the list each time."""
    sites = list(module.attributes[SITES].data) if SITES in module.attributes else []
    for op in module.walk():
        if isinstance(op, (cf.AssertOp, loom.AssertOp)):
            loc = op.location
            where = [loc.filename, StringAttr(str(loc.line.data)), StringAttr(str(loc.column.data))] \
                if isinstance(loc, FileLineColLoc) else [StringAttr(""), StringAttr("0"), StringAttr("0")]
            sites.append(ArrayAttr([op.msg if isinstance(op, cf.AssertOp) else op.message, *where]))
            op.attributes[CODE] = IntegerAttr(len(sites), i32)
    if sites:
        module.attributes[SITES] = ArrayAttr(sites)


class LowerBr(RewritePattern):
    @op_type_rewrite_pattern
    def match_and_rewrite(self, op: cf.BranchOp, rewriter: PatternRewriter, /):
        rewriter.replace(op, with_location(br(op.successor, op.arguments), op))


class LowerCondBr(RewritePattern):
    @op_type_rewrite_pattern
    def match_and_rewrite(self, op: cf.ConditionalBranchOp, rewriter: PatternRewriter, /):
        new = cond_br(op.cond, op.then_block, op.then_arguments, op.else_block, op.else_arguments)
        rewriter.replace(op, with_location(new, op))


class LowerAssert(RewritePattern):
    """`cf.assert` / `loom.assert`: branch to a block that stores the message's values (if any)
    through the function's error-values pointer and returns the check's number."""

    def match_and_rewrite(self, op: Operation, rewriter: PatternRewriter, /):
        if not isinstance(op, (cf.AssertOp, loom.AssertOp)):
            return
        values = list(op.values) if isinstance(op, loom.AssertOp) else []
        cond = op.arg if isinstance(op, cf.AssertOp) else op.cond
        code = op.attributes[CODE].value.data  # (number_checks)
        block = op.parent_block()
        ops: list[Operation] = failure_cleanup(op, rewriter)
        cont = split_before(op)
        fail = Block()
        if values:
            err = error_values_arg(op)
            for k, v in enumerate(values):
                if v.type != i64:
                    ext = llvm.ZExtOp(v, i64) if v.type.width.data == 1 else llvm.SExtOp(v, i64)
                    ops.append(ext)
                    v = ext.res
                gep = llvm.GEPOp(err, [k], i64, inbounds=True)
                ops += [gep, llvm.StoreOp(v, gep.result)]
        status = llvm.ConstantOp(IntegerAttr(code, i32), i32)
        fail.add_ops(with_location(ops + [status, llvm.ReturnOp(status.result)], op))
        block.parent_region().insert_block_after(fail, block)
        rewriter.insert(with_location(llvm.CondBrOp(cond, cont, [], fail, []), op), InsertPoint.at_end(block))
        rewriter.erase(op)


def patterns() -> list[RewritePattern]:
    return [LowerBr(), LowerCondBr(), LowerAssert()]


@dataclass(frozen=True)
class ConvertCfToLlvm(ModulePass):
    name = "convert-cf-to-llvm"
    PART_OF: ClassVar[str] = "convert-to-llvm"  # verifies only once all the parts have run

    def apply(self, ctx: Context, op: ModuleOp) -> None:
        retype_block_args(op)
        number_checks(op)
        PatternRewriteWalker(GreedyRewritePatternApplier(patterns()), walk_reverse=True).rewrite_module(op)  # checks last first
