"""`loom-fuse-rows`: consecutive linalg ops on buffers that share a parallel outer dimension (a
reduction over the inner axes and the elementwise ops that consume its result, as in `softmax` and
`layer_norm`) become one loop over the rows, each op applied to the current row — MLIR's
tile-and-fuse with tile sizes `[1, 0, …]` on buffers: an `scf.parallel` over rows whose body holds
the ops on `memref.subview`s of one row (indexing maps unchanged; the row dimension has extent 1).

A row of a 4096×1024 f32 array is 4 KiB: it stays in L1 through every stage, so the whole chain
reads its input once and writes its output once, instead of one sweep of memory per op.

Legality (an op joins the group of the ops before it when):
- it is a `linalg.generic` (no `linalg.index`) or `linalg.fill` on identity-layout memrefs whose
  outputs are all indexed by a parallel dim `r` first (its *row* dim) with the group's row count;
- each operand is either indexed at row `r` (its map's first result is `r`: a *row* access) or is
  read-only and does not mention `r` at all (a broadcast over rows, e.g. layer norm's gamma);
  operands indexed by a reduction dim that are not row accesses (a contraction) are not fused;
- any two accesses of the group to buffers that may alias, one of them a write, are both row
  accesses: then row `i` of every op depends only on row `i` of earlier ops, and running the ops
  row by row is the same computation (a sum over axis 0 never joins: its output is not indexed by a
  parallel dim first);
- at most one op of the group has run-time checks (a cast to an integer, integer division, …):
  row by row, a later op's check on row 0 would run before an earlier op's on row 1, and the
  error reported must be the first failing check in program order (docs/language.md §11), as in
  `linalg-fuse-elementwise`.
Between the ops, constants and allocations (with their `loom.on_failure` cleanups, which then also
free the buffers whose deallocations moved below the group) move above the loop, deallocations
below it; any other op ends the group. The loop is an `scf.parallel` (run on the thread pool by
`loom-parallel-to-threads`) when the group does at least `PARALLEL_MIN_WORK` iterations, else an
`scf.for`.

    linalg.fill ins(%ninf : f32) outs(%m : memref<4096x1xf32>)
    linalg.generic {indexing_maps = [(d0, d1) -> (d0, d1), (d0, d1) -> (d0, 0)],
                    iterator_types = ["parallel", "reduction"]} ins(%x : memref<4096x1024xf32>) outs(%m : …)
    linalg.generic {… ["parallel", "parallel"]} ins(%x, %m : …) outs(%y : memref<4096x1024xf32>)
becomes
    scf.parallel (%i) = (%c0) to (%c4096) step (%c1) {
      %mi = memref.subview %m[%i, 0] [1, 1] [1, 1] : memref<4096x1xf32> to memref<1x1xf32, strided<[1, 1], offset: ?>>
      linalg.fill ins(%ninf : f32) outs(%mi : …)
      %xi = memref.subview %x[%i, 0] [1, 1024] [1, 1] : memref<4096x1024xf32> to memref<1x1024xf32, strided<[1024, 1], offset: ?>>
      linalg.generic {… ["parallel", "reduction"]} ins(%xi : …) outs(%mi : …)
      %yi = memref.subview %y[%i, 0] [1, 1024] [1, 1] : …
      linalg.generic {… ["parallel", "parallel"]} ins(%xi, %mi : …) outs(%yi : …)
      scf.reduce
    }
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from xdsl.context import Context
from xdsl.dialects import arith, func, memref, scf
from xdsl.dialects.builtin import MemRefType, ModuleOp, NoneAttr
from xdsl.dialects.linalg import attrs as linalg_attrs
from xdsl.dialects.linalg import ops as linalg
from xdsl.ir import Block, BlockArgument, Operation, OpResult, Region, SSAValue
from xdsl.ir.affine import AffineDimExpr
from xdsl.passes import ModulePass
from xdsl.pattern_rewriter import PatternRewriter, PatternRewriteWalker, RewritePattern
from xdsl.rewriter import InsertPoint

from compiler.passes.emitter import Emitter
from compiler.passes.linalg_fuse_elementwise import can_fail
from compiler.passes.loom_linalg_to_loops import PARALLEL_MIN_WORK, loop_bounds
from dialects import loom


@dataclass(frozen=True)
class Access:
    root: SSAValue  # the buffer, through row-preserving views
    row: bool  # indexed at the op's row dim (row i of the op touches row i of the buffer only)
    write: bool


@dataclass
class RowOp:
    op: Operation
    rows: int
    row_operands: set[int]  # operand positions accessed at row i
    accesses: list[Access]
    work: int  # iterations of the whole op


def root_of(v: SSAValue) -> tuple[SSAValue, bool]:
    """The buffer a view reads, and whether its row `i` is the buffer's row `i` (each view on the
    way keeps dim 0 by itself)."""
    rows_kept = True
    while isinstance(v, OpResult) and isinstance(v.op, (memref.CollapseShapeOp, memref.ExpandShapeOp)):
        first = [a.value.data for a in v.op.reassociation.data[0].data]
        rows_kept = rows_kept and first == [0]
        v = v.op.src
    return v, rows_kept


def distinct_buffer(v: SSAValue) -> bool:
    """A buffer that aliases no other root: an allocation or an argument of the function (inputs
    are never written and outputs are distinct arrays: they are `noalias` pointers)."""
    if isinstance(v, OpResult):
        return isinstance(v.op, (memref.AllocOp, memref.AllocaOp))
    return isinstance(v, BlockArgument) and isinstance(v.owner.parent_op(), func.FuncOp)


def may_alias(a: SSAValue, b: SSAValue) -> bool:
    return a is b or not distinct_buffer(a) or not distinct_buffer(b)


def contiguous(t) -> bool:
    return isinstance(t, MemRefType) and isinstance(t.layout, NoneAttr) and t.get_num_dims() >= 1


def fill_rows(op: linalg.FillOp) -> RowOp | None:
    out = op.outputs[0]
    if op.res or not contiguous(out.type):
        return None
    root, kept = root_of(out)
    shape = out.type.get_shape()
    return RowOp(op, shape[0], {len(op.inputs)}, [Access(root, kept, True)], math.prod(shape))


def generic_rows(op: linalg.GenericOp) -> RowOp | None:
    """The row structure of a generic on buffers, or None when it has none (see the module doc)."""
    operands = list(op.inputs) + list(op.outputs)
    if op.res or any(isinstance(o, linalg.IndexOp) for o in op.body.block.ops) or \
            any(isinstance(v.type, MemRefType) and not contiguous(v.type) for v in operands):
        return None
    maps = [m.data for m in op.indexing_maps.data]
    reduction = [it.data == linalg_attrs.IteratorType.REDUCTION for it in op.iterator_types]
    first = maps[len(op.inputs)].results[0] if maps[len(op.inputs)].results else None
    if not isinstance(first, AffineDimExpr) or reduction[first.position]:
        return None
    r = first.position
    bounds = loop_bounds(op)
    row_operands, accesses = set(), []
    for k, (v, m) in enumerate(zip(operands, maps)):
        if not isinstance(v.type, MemRefType):
            continue
        write = k >= len(op.inputs)
        dims = m.used_dims()
        root, kept = root_of(v)
        if isinstance(m.results[0], AffineDimExpr) and m.results[0].position == r:
            row_operands.add(k)
            accesses.append(Access(root, kept, write))
        elif write or r in dims or any(reduction[d] for d in dims):
            return None  # a write off the row, a row read at another position, a contraction
        else:
            accesses.append(Access(root, False, False))
    return RowOp(op, bounds[r], row_operands, accesses, math.prod(bounds))


def row_op(op: Operation) -> RowOp | None:
    if isinstance(op, linalg.FillOp):
        return fill_rows(op)
    if isinstance(op, linalg.GenericOp):
        return generic_rows(op)
    return None


def compatible(group: list[RowOp], new: RowOp) -> bool:
    if new.rows != group[0].rows:
        return False
    if can_fail(new.op) and any(can_fail(g.op) for g in group):
        return False
    return all(p.row and q.row for g in group for p in g.accesses for q in new.accesses
               if (p.write or q.write) and may_alias(p.root, q.root))


@dataclass
class Group:
    members: list[RowOp]
    hoisted: list[Operation]  # constants, allocations and their on_failure cleanups: above the loop
    sunk: list[memref.DeallocOp]  # below the loop
    # on_failure cleanups hoisted above deallocations that moved below: they must free those too
    extra_frees: dict[Operation, list[SSAValue]]


def collect(first: RowOp) -> Group | None:
    """The ops from `first` on that fuse with it (see the module doc), or None if none do."""
    group = Group([first], [], [], {})
    hoisted: list[Operation] = []
    sunk: list[memref.DeallocOp] = []
    extra: dict[Operation, list[SSAValue]] = {}
    op = first.op.next_op
    while op is not None:
        if isinstance(op, (arith.ConstantOp, memref.AllocOp, memref.AllocaOp)) and not op.operands:
            hoisted.append(op)
        elif isinstance(op, loom.OnFailureOp) and hoisted and op.prev_op is hoisted[-1] and \
                isinstance(hoisted[-1], memref.AllocOp):
            hoisted.append(op)
            extra[op] = [d.memref for d in sunk]
        elif isinstance(op, memref.DeallocOp):
            sunk.append(op)
        else:
            candidate = row_op(op)
            if candidate is None or not compatible(group.members, candidate):
                break
            group.members.append(candidate)
            group.hoisted, group.sunk, group.extra_frees = list(hoisted), list(sunk), dict(extra)
        op = op.next_op
    return group if len(group.members) > 1 else None


def row_views(e: Emitter, member: RowOp, i: SSAValue, views: dict[SSAValue, SSAValue]) -> list[SSAValue]:
    """The member's operands with each row access replaced by a view of row `i` (one per buffer)."""
    new = list(member.op.operands)
    for k in member.row_operands:
        v = new[k]
        if v not in views:
            shape = list(v.type.get_shape())
            offsets, sizes, strides = [i] + [0] * (len(shape) - 1), [1] + shape[1:], [1] * len(shape)
            t = memref.SubviewOp.infer_result_type(v.type, offsets, sizes, strides)
            views[v] = e.add(memref.SubviewOp.get(v, offsets, sizes, strides, t))
        new[k] = views[v]
    return new


class FuseRows(RewritePattern):
    def match_and_rewrite(self, op: Operation, rewriter: PatternRewriter, /):
        first = row_op(op)
        group = collect(first) if first is not None else None
        if group is None:
            return
        for h in group.hoisted:
            h.detach()
            rewriter.insert(h, InsertPoint.before(op))
            for buf in group.extra_frees.get(h, ()):
                h.body.block.add_op(memref.DeallocOp.get(buf))
        e = Emitter(op.location)
        zero, rows, one = e.index(0), e.index(group.members[0].rows), e.index(1)
        body = Block(arg_types=[rows.type])
        inner = Emitter(op.location)
        views: dict[SSAValue, SSAValue] = {}
        for m in group.members:
            operands = row_views(inner, m, body.args[0], views)
            fused = m.op.clone()
            fused.operands = operands
            inner.ops.append(fused)
        parallel = group.members[0].rows > 1 and sum(m.work for m in group.members) >= PARALLEL_MIN_WORK
        if parallel:
            inner.add(scf.ReduceOp())
            body.add_ops(inner.ops)
            e.add(scf.ParallelOp([zero], [rows], [one], Region(body)))
        else:
            inner.add(scf.YieldOp())
            body.add_ops(inner.ops)
            e.add(scf.ForOp(zero, rows, one, [], body))
        last = group.members[-1].op
        rewriter.insert(e.ops, InsertPoint.after(last))
        for d in reversed(group.sunk):
            d.detach()
            rewriter.insert(d, InsertPoint.after(e.ops[-1]))
        for m in reversed(group.members):
            rewriter.erase(m.op)


@dataclass(frozen=True)
class LoomFuseRows(ModulePass):
    name = "loom-fuse-rows"

    def apply(self, ctx: Context, op: ModuleOp) -> None:
        PatternRewriteWalker(FuseRows(), apply_recursively=False).rewrite_module(op)
