"""`loom-linalg-to-loops`: `linalg.generic`/`linalg.fill` on memrefs → `scf.for` nests of
`memref.load`/`memref.store` and the op's scalar body.

xDSL's `convert-linalg-to-loops` keeps the iteration-domain order (matmul i, j, k: the inner loop
strides through B's columns and does not vectorize) and needs `affine.apply`; this pass picks the
loop order for the memory layout instead: the innermost loop is the dimension that is the last
(contiguous) index of the most operands, so a matmul runs i-k-j (the inner loop is a vectorizable
axpy over a row of B and C), a row reduction runs along the row, and a column reduction
vectorizes across columns. Large contractions are also blocked for the cache (k and j in tiles).
The outer loop of a large nest is an `scf.parallel` when it is a parallel dimension (the rows of an
elementwise op or of a reduction over rows: never a loop that reduces, so a sum is never split
across threads); `loom-parallel-to-threads` runs it on the thread pool (docs/performance.md).
Indexing maps are evaluated with `arith` on `index` values. When the innermost loop reduces, an
output it does not index (a row's sum) is loaded once before that loop, carried in its `iter_args`
and stored once after (`carried_outputs`); other accumulators (a column sum's, a matmul's) are
loaded and stored per iteration.

Example (`exp(x) * 2.0 + x`, bufferized):

    %1 = arith.constant 2.000000e+00 : f32
    linalg.generic {indexing_maps = [affine_map<(d0) -> (d0)>, affine_map<(d0) -> (d0)>],
                    iterator_types = ["parallel"]} ins(%x : memref<4xf32>) outs(%0 : memref<4xf32>) {
    ^bb0(%2: f32, %3: f32):
      %4 = math.exp %2 : f32
      %5 = arith.mulf %4, %1 fastmath<contract> : f32
      %6 = arith.addf %5, %2 fastmath<contract> : f32
      linalg.yield %6 : f32
    }
becomes
    %1 = arith.constant 2.000000e+00 : f32
    %2 = arith.constant 0 : index
    %3 = arith.constant 1 : index
    %4 = arith.constant 4 : index
    scf.for %5 = %2 to %4 step %3 {
      %6 = memref.load %x[%5] : memref<4xf32>
      %7 = math.exp %6 : f32
      %8 = arith.mulf %7, %1 fastmath<contract> : f32
      %9 = arith.addf %8, %6 fastmath<contract> : f32
      memref.store %9, %0[%5] : memref<4xf32>
    }
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from xdsl.context import Context
from xdsl.dialects import arith, memref, scf
from xdsl.dialects.linalg import attrs as linalg_attrs
from xdsl.dialects.linalg import ops as linalg
from xdsl.dialects.builtin import IndexType, MemRefType, ModuleOp
from xdsl.ir import Block, Region, SSAValue
from xdsl.ir.affine import AffineBinaryOpExpr, AffineBinaryOpKind, AffineConstantExpr, AffineDimExpr, AffineExpr, AffineMap
from xdsl.passes import ModulePass
from xdsl.pattern_rewriter import (
    GreedyRewritePatternApplier,
    PatternRewriter,
    PatternRewriteWalker,
    RewritePattern,
    op_type_rewrite_pattern,
)

from compiler.passes.emitter import Emitter
from compiler.passes.loom_buffer_dealloc import root
from compiler.passes.matmul_microkernel import loop


def eval_expr(e: Emitter, x: AffineExpr, ivs: list[SSAValue]) -> SSAValue:
    if isinstance(x, AffineDimExpr):
        return ivs[x.position]
    if isinstance(x, AffineConstantExpr):
        return e.index(x.value)
    assert isinstance(x, AffineBinaryOpExpr), x
    a, b = eval_expr(e, x.lhs, ivs), eval_expr(e, x.rhs, ivs)
    ops = {AffineBinaryOpKind.Add: arith.AddiOp, AffineBinaryOpKind.Mul: arith.MuliOp,
           AffineBinaryOpKind.FloorDiv: arith.FloorDivSIOp, AffineBinaryOpKind.Mod: arith.RemSIOp,
           AffineBinaryOpKind.CeilDiv: arith.CeilDivSIOp}
    return e.add(ops[x.kind](a, b))


def loop_order(maps: list[AffineMap], n_inputs: int, n_dims: int) -> list[int]:
    """Dims outer → inner: the dim that is most often an operand's last index goes innermost."""
    votes = [0] * n_dims
    in_votes = [0] * n_dims
    for k, m in enumerate(maps):
        if m.results and isinstance(m.results[-1], AffineDimExpr):
            votes[m.results[-1].position] += 1
            if k < n_inputs:
                in_votes[m.results[-1].position] += 1
    if n_dims == 0 or max(votes) == 0:
        return list(range(n_dims))
    inner = max(range(n_dims), key=lambda d: (votes[d], in_votes[d], d))
    return [d for d in range(n_dims) if d != inner] + [inner]


# cache blocking of contractions: a TILE_K x TILE_N block of the right operand stays in L2 while
# every row of the left operand streams past it (the innermost loop stays a contiguous axpy)
TILE_N, TILE_K = 256, 128


def tiles_for(op_iters: list[bool], bounds: list[int], order: list[int]) -> dict[int, int]:
    """Tile sizes per dim: the innermost (parallel) dim and the last reduction dim of a
    contraction, when they divide evenly and are big enough to matter; else none."""
    inner = order[-1] if order else None
    reds = [d for d in order if op_iters[d]]
    if inner is None or op_iters[inner] or not reds:
        return {}
    red = reds[-1]
    if bounds[inner] >= 2 * TILE_N and bounds[inner] % TILE_N == 0 and \
            bounds[red] >= 2 * TILE_K and bounds[red] % TILE_K == 0:
        return {red: TILE_K, inner: TILE_N}
    return {}


# a loop nest of at least this many iterations runs its outer loop on threads (`scf.parallel`,
# then `loom-parallel-to-threads`): below it, waking the workers costs more than they save
PARALLEL_MIN_WORK = 1 << 16


def parallel_outer(bounds: list[int], order: list[int], reduction: list[bool]) -> bool:
    """Is the outermost loop of this nest worth running on threads, and free of races? It must be
    a parallel dim (each iteration writes its own elements: a reduction over rows keeps every
    row's sum in one thread, so results do not depend on the number of threads)."""
    return bool(order) and not reduction[order[0]] and bounds[order[0]] > 1 and \
        math.prod(bounds) >= PARALLEL_MIN_WORK


def loop_nest(e: Emitter, bounds: list[int], order: list[int], body, tiles: dict[int, int] | None = None,
              parallel: bool = False) -> None:
    """scf.for nest over `bounds` in `order`; `body(emitter, ivs_by_dim)` fills the innermost.
    `tiles` (dim → size) adds outer loops over blocks of those dims, in the same order.
    `parallel`: the outermost loop is an `scf.parallel` (its iterations are independent). A dim of
    one iteration gets no loop (its index is 0): the row ops of `loom-fuse-rows` are 1 × n."""
    tiles = tiles or {}
    zero, one = e.index(0), e.index(1)
    ivs: list[SSAValue | None] = [None] * len(bounds)
    starts: dict[int, SSAValue] = {}
    levels = [("tile", d) for d in order if d in tiles] + [("point", d) for d in order]

    def level(outer: Emitter, k: int) -> None:
        if k == len(levels):
            body(outer, ivs)
            return
        kind, d = levels[k]
        if kind == "point" and bounds[d] == 1 and d not in tiles and not (parallel and k == 0):
            ivs[d] = zero  # a loop of one iteration is its body at index 0 (scf.for's canonical form)
            level(outer, k + 1)
            return
        blk = Block(arg_types=[IndexType()])
        inner = Emitter(outer.loc)
        if kind == "tile":
            starts[d] = blk.args[0]
            lb, ub, step = zero, outer.index(bounds[d]), outer.index(tiles[d])
        elif d in tiles:
            lb, step = starts[d], one
            ub = outer.add(arith.AddiOp(starts[d], outer.index(tiles[d])))
        else:
            lb, ub, step = zero, outer.index(bounds[d]), one
        if kind == "point":
            ivs[d] = blk.args[0]
        level(inner, k + 1)
        if parallel and k == 0:
            inner.add(scf.ReduceOp())
            blk.add_ops(inner.ops)
            outer.add(scf.ParallelOp([lb], [ub], [step], Region(blk)))
            return
        inner.add(scf.YieldOp())
        blk.add_ops(inner.ops)
        outer.add(scf.ForOp(lb, ub, step, [], blk))

    level(e, 0)


_MORE_VIEWS = (memref.SubviewOp, memref.CastOp, memref.ReinterpretCastOp)  # beyond `root`'s reshapes (loom_buffer_dealloc.VIEWS)


def buffer_of(v: SSAValue) -> SSAValue:
    """The buffer `v` views: through reshapes (`root`), casts and subviews (the row views of
    `loom-fuse-rows`)."""
    v = root(v)
    while isinstance(v.owner, _MORE_VIEWS):
        v = root(v.owner.operands[0])
    return v


def carried_outputs(op: linalg.GenericOp, out_maps: list[AffineMap], order: list[int],
                    reduction: list[bool]) -> list[int]:
    """The outputs the innermost loop reduces into (positions): when that loop is a reduction dim,
    each output whose map does not mention it is the same element throughout the loop, so it is
    loaded once before it, carried as an `iter_arg` and stored once after — not loaded and stored
    every iteration (which left LLVM to prove that no other store aliases it: run-time checks and a
    scalar copy of the loop). Not when another operand of the op lives in the same buffer (an input
    would read, another output would overwrite, a stale value)."""
    if not order or not reduction[order[-1]]:
        return []
    inner = order[-1]
    bases = [buffer_of(v) for v in list(op.inputs) + list(op.outputs)]
    n_in = len(op.inputs)
    return [k for k, (out, m) in enumerate(zip(op.outputs, out_maps))
            if isinstance(out.type, MemRefType) and inner not in m.used_dims() and
            bases.count(bases[n_in + k]) == 1]


def loop_bounds(op: linalg.GenericOp) -> list[int]:
    """The trip count of each loop dim of a generic on memrefs (from the operands it indexes)."""
    maps = [m.data for m in op.indexing_maps.data]
    bounds = [None] * maps[0].num_dims
    for v, m in zip(list(op.inputs) + list(op.outputs), maps):
        shape = v.type.get_shape() if isinstance(v.type, MemRefType) else ()
        for r, size in zip(m.results, shape):
            if isinstance(r, AffineDimExpr) and bounds[r.position] is None:
                bounds[r.position] = size
    assert None not in bounds, "every loop dim must index some operand"
    return bounds


class LowerGeneric(RewritePattern):
    @op_type_rewrite_pattern
    def match_and_rewrite(self, op: linalg.GenericOp, rewriter: PatternRewriter, /):
        if op.res:
            return
        maps = [m.data for m in op.indexing_maps.data]
        operands = list(op.inputs) + list(op.outputs)
        n_dims = maps[0].num_dims
        bounds = loop_bounds(op)
        n_in = len(op.inputs)
        block = op.body.block
        e = Emitter(op.location)

        order = loop_order(maps, n_in, n_dims)
        reduction = [it.data == linalg_attrs.IteratorType.REDUCTION for it in op.iterator_types]
        tiles = tiles_for(reduction, bounds, order)
        parallel = not tiles and parallel_outer(bounds, order, reduction)
        carried = carried_outputs(op, maps[n_in:], order, reduction) if not tiles else []

        def body(be: Emitter, ivs, acc: dict[int, SSAValue] | None = None) -> list[SSAValue]:
            """The op's body at `ivs`; the outputs in `acc` (position → value) are the innermost
            loop's iter_args: read from there, and their new values returned, not stored."""
            acc = acc or {}
            vals: dict[SSAValue, SSAValue] = {}
            for k, (arg, v, m) in enumerate(zip(block.args, operands, maps)):
                if k - n_in in acc:
                    vals[arg] = acc[k - n_in]
                elif arg.uses:
                    if isinstance(v.type, MemRefType):
                        idx = [eval_expr(be, r, ivs) for r in m.results]
                        vals[arg] = be.add(memref.LoadOp.get(v, idx))
                    else:
                        vals[arg] = v
            carry_out = []
            for o in block.ops:
                if isinstance(o, linalg.IndexOp):
                    vals[o.result] = ivs[o.dim.value.data]
                    continue
                if isinstance(o, linalg.YieldOp):
                    for k, (y, out, m) in enumerate(zip(o.operands, op.outputs, maps[n_in:])):
                        if k in acc:
                            carry_out.append(vals.get(y, y))
                            continue
                        idx = [eval_expr(be, r, ivs) for r in m.results]
                        be.add(memref.StoreOp.get(vals.get(y, y), out, idx))
                    continue
                c = o.clone(value_mapper=vals)
                be.ops.append(c)
                for old, new in zip(o.results, c.results):
                    vals[old] = new
            return carry_out

        if not carried:
            loop_nest(e, bounds, order, body, tiles, parallel=parallel)
        else:  # the innermost loop reduces into these outputs: their values ride in registers
            inner = order[-1]

            def outer_body(be: Emitter, ivs):
                idx = {k: [eval_expr(be, r, ivs) for r in maps[n_in + k].results] for k in carried}
                inits = [be.add(memref.LoadOp.get(op.outputs[k], idx[k])) for k in carried]

                def inner_body(ie: Emitter, iv, args):
                    ivs[inner] = iv
                    return body(ie, ivs, dict(zip(carried, args)))
                finals = loop(be, be.index(0), be.index(bounds[inner]), be.index(1), inner_body, inits)
                for k, v in zip(carried, finals):
                    be.add(memref.StoreOp.get(v, op.outputs[k], idx[k]))
            loop_nest(e, bounds, order[:-1], outer_body, parallel=parallel)
        rewriter.replace(op, e.ops, [])


class LowerFill(RewritePattern):
    @op_type_rewrite_pattern
    def match_and_rewrite(self, op: linalg.FillOp, rewriter: PatternRewriter, /):
        if op.res:
            return
        out = op.outputs[0]
        shape = list(out.type.get_shape())
        e = Emitter(op.location)
        order = list(range(len(shape)))
        loop_nest(e, shape, order, lambda be, ivs: be.add(memref.StoreOp.get(op.inputs[0], out, list(ivs))),
                  parallel=parallel_outer(shape, order, [False] * len(shape)))
        rewriter.replace(op, e.ops, [])


@dataclass(frozen=True)
class LoomLinalgToLoops(ModulePass):
    name = "loom-linalg-to-loops"

    def apply(self, ctx: Context, op: ModuleOp) -> None:
        PatternRewriteWalker(GreedyRewritePatternApplier([LowerGeneric(), LowerFill()]),
                             apply_recursively=False).rewrite_module(op)
