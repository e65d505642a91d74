"""The register tile of `loom-matmul-kernel`: the micro-kernel (the depth loop on MR·NR/VL vector
accumulators) and the update of C with the tile, plus the loop builders the pass shares.

C's update runs after the depth loop. Every row's loads (and the epilogue) come before the stores:
C's rows are often a multiple of 4 KiB apart (1024 or 2048 f32), and a load after a store whose
address has the same low 12 bits waits for it (the store buffer matches on them), which serialized
the 12 vector updates of a tile (measured: 3–6 % of a 1024³ or 2048³ matmul). A tile with all NR
columns is written with vector loads and stores; when M is not a multiple of MR, the last panel of
a block has fewer rows, and each row past the first is guarded by `r < rows` (rows outside C are
neither read nor written: the register tile is the edge kernel). A tile with fewer than NR columns
(only when N is not a multiple of NR) goes through a small buffer Ct and scalar loops.

A whole-column tile of `f32[13, 20] += …` (AVX2, 6 × 16; abridged: rows 2–5 like row 1):

    %o0 = vector.load %c[%r0, %j0] : memref<13x20xf32>, vector<8xf32>
    %n0 = arith.addf %o0, %acc0 fastmath<reassoc,contract> : vector<8xf32>
    …
    %has1 = arith.cmpi slt, %c1, %rows : index
    %n2, %n3 = scf.if %has1 -> (vector<8xf32>, vector<8xf32>) {
      %o2 = vector.load %c[%r1, %j0] : memref<13x20xf32>, vector<8xf32>
      …
      scf.yield %s2, %s3 : vector<8xf32>, vector<8xf32>
    } else {
      scf.yield %zero, %zero : vector<8xf32>, vector<8xf32>
    }
    …
    vector.store %n0, %c[%r0, %j0] : memref<13x20xf32>, vector<8xf32>
    vector.store %n1, %c[%r0, %j8] : memref<13x20xf32>, vector<8xf32>
    scf.if %has1 {
      vector.store %n2, %c[%r1, %j0] : memref<13x20xf32>, vector<8xf32>
      …
    }
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from xdsl.dialects import arith, memref, scf, vector
from xdsl.dialects.builtin import IndexType, VectorType
from xdsl.ir import Block, Region, SSAValue
from xdsl.ir.affine import AffineDimExpr, AffineMap

from compiler.passes.emitter import REASSOC, Emitter
from compiler.passes.loom_linalg_to_loops import eval_expr
from compiler.passes.matmul_epilogue import Epilogue
from dialects import memref_ext


@dataclass(frozen=True)
class Tile:
    """Register and cache blocking for one element type on one instruction set."""
    vl: int  # lanes of a vector register
    mr: int  # rows of the register tile: MR broadcasts of A per k step
    nr: int  # columns of the register tile: NR/VL vector loads of B per k step
    mc: int  # rows of A packed at a time (Ap: MC × KC, for L2)
    kc: int  # depth of a block (a KC × NR micro-panel of B stays in L1)
    nc: int  # columns of B packed at a time (Bp: KC × NC, for L3)


@dataclass(frozen=True)
class Contraction:
    """A matched `C[b…, m, n] += A[…m…k…] · B[…k…n…]` (A and B indexed through their maps)."""
    a: SSAValue
    b: SSAValue
    c: SSAValue
    maps: tuple[AffineMap, AffineMap, AffineMap]
    m: int
    n: int
    k: int
    batch: tuple[int, ...]
    bounds: tuple[int, ...]

    def contiguous(self, operand: int, dim: int) -> bool:
        """Is `dim` the last (contiguous) index of operand 0 (A) or 1 (B)?"""
        last = self.maps[operand].results[-1]
        return isinstance(last, AffineDimExpr) and last.position == dim


# ------------------------------------------------------------------------------- building loops
Body = Callable[[Emitter, SSAValue, list[SSAValue]], list[SSAValue] | None]


def loop(e: Emitter, lb: SSAValue, ub: SSAValue, step: SSAValue, body: Body,
         inits: list[SSAValue] = ()) -> list[SSAValue]:
    """`scf.for`; `body(emitter, iv, iter_args)` returns the values to yield."""
    blk = Block(arg_types=[IndexType(), *[v.type for v in inits]])
    inner = Emitter(e.loc)
    yields = body(inner, blk.args[0], list(blk.args[1:])) or []
    inner.add(scf.YieldOp(*yields))
    blk.add_ops(inner.ops)
    f = scf.ForOp(lb, ub, step, list(inits), blk)
    e.add(f)
    return list(f.results)


def parallel_loop(e: Emitter, lb: SSAValue, ub: SSAValue, step: SSAValue, body: Body) -> None:
    """`scf.parallel` without reductions (iterations independent)."""
    blk = Block(arg_types=[IndexType()])
    inner = Emitter(e.loc)
    body(inner, blk.args[0], [])
    inner.add(scf.ReduceOp())
    blk.add_ops(inner.ops)
    e.add(scf.ParallelOp([lb], [ub], [step], Region(blk)))


def if_(e: Emitter, cond: SSAValue, then: Callable[[Emitter], list[SSAValue]],
        other: Callable[[Emitter], list[SSAValue]], types: list) -> list[SSAValue]:
    regions = []
    for branch in (then, other):
        inner = Emitter(e.loc)
        inner.add(scf.YieldOp(*branch(inner)))
        regions.append(Region(Block(inner.ops)))
    op = scf.IfOp(cond, types, *regions)
    e.add(op)
    return list(op.results)


def arith_op(e: Emitter, cls, a: SSAValue, b: SSAValue) -> SSAValue:
    return e.add(cls(a, b))


# ------------------------------------------------------------------------------- the register tile
@dataclass(frozen=True)
class Accumulators:
    """A computed register tile: its accumulators and where it lies in C."""
    acc: list[SSAValue]  # MR·NR/VL vectors, row by row
    ivs: list  # the batch ivs
    row0: SSAValue
    rows: SSAValue  # C's rows in the tile (MR but at the edge)
    col0: SSAValue
    zero: SSAValue  # a zero vector


class MicroKernel:
    """The micro-kernel of one contraction on one tile; `KernelBuilder` adds the loops and packing."""

    def __init__(self, c: Contraction, t: Tile, overwrite: bool, epilogue: Epilogue | None = None):
        self.c, self.t = c, t
        self.overwrite = overwrite  # C's initial value is 0: the first depth block stores, not adds
        self.epilogue = epilogue  # applied to C's tiles as the last depth block writes them
        self.first: SSAValue | None = None  # `pc == 0` when overwriting
        self.last: SSAValue | None = None  # `pc + kc == K` with an epilogue
        self.elem = c.c.type.element_type
        self.vt = VectorType(self.elem, [t.vl])
        self.nv = t.nr // t.vl
        self.M, self.N, self.K = (c.bounds[d] for d in (c.m, c.n, c.k))
        self.row_edges = self.M % t.mr != 0  # a block's last panel may have fewer than MR rows
        self.col_edges = self.N % t.nr != 0  # the last panel of B may have fewer than NR columns (Ct)

    def at(self, e: Emitter, operand: int, ivs: list, **dims: SSAValue) -> list[SSAValue]:
        """Indices of operand (0 A, 1 B, 2 C) at the batch ivs with dims m/n/k set."""
        ivs = list(ivs)
        for name, v in dims.items():
            ivs[getattr(self.c, name)] = v
        return [eval_expr(e, r, ivs) for r in self.c.maps[operand].results]

    def micro_kernel(self, e: Emitter, ivs, ap, bp, ct, iq, jq, row0, rows, col0, cols, kc) -> None:
        """Accumulate the tile from zero (the k loop never waits for C), then add it to C."""
        t, nv, vt = self.t, self.nv, self.vt
        zero = e.add(vector.BroadcastOp(e.const(0.0, self.elem), vt))
        for r in range(t.mr):  # the tile's rows of C (clamped to the edge: a hint never faults)
            row = arith_op(e, arith.MinSIOp, arith_op(e, arith.AddiOp, row0, e.index(r)), e.index(self.M - 1))
            e.add(memref_ext.PrefetchOp(self.c.c, self.at(e, 2, ivs, m=row, n=col0), write=True))

        def k_step(be, p, acc):
            bs = [be.add(vector.LoadOp(bp, [jq, p, be.index(v * t.vl)], vt)) for v in range(nv)]
            out = []
            for r in range(t.mr):
                a = be.add(vector.BroadcastOp(be.add(memref.LoadOp.get(ap, [iq, p, be.index(r)])), vt))
                out += [be.add(vector.FMAOp(a, bs[v], acc[r * nv + v])) for v in range(nv)]
            return out

        acc = loop(e, e.index(0), kc, e.index(1), k_step, [zero] * (t.mr * nv))
        tile = Accumulators(acc, ivs, row0, rows, col0, zero)
        if not self.col_edges:
            self.whole_columns(e, tile)
        else:
            if_(e, e.cmp("eq", cols, e.index(t.nr)), lambda b: self.whole_columns(b, tile),
                lambda b: self.through_ct(b, tile, ct, cols), [])

    def whole_columns(self, e: Emitter, tile: Accumulators) -> list:
        """C's update by a tile with all NR columns, branching on the (run-time) first and last
        depth blocks: C = [C +] tile, then the epilogue in the last block."""
        def on_last(first: bool):
            if self.last is None:
                return lambda b: self.write(b, tile, first, False)
            return lambda b: if_(b, self.last, lambda b2: self.write(b2, tile, first, True),
                                 lambda b2: self.write(b2, tile, first, False), [])
        if self.first is None:
            return on_last(False)(e)
        return if_(e, self.first, on_last(True), on_last(False), [])

    def write(self, e: Emitter, tile: Accumulators, first: bool, last: bool) -> list:
        """Every row's loads and updates, then every row's stores (with an epilogue, row by row);
        rows past C's edge are skipped."""
        t, nv, vt, c = self.t, self.nv, self.vt, self.c.c
        idx = {(r, v): self.at(e, 2, tile.ivs, m=arith_op(e, arith.AddiOp, tile.row0, e.index(r)),
                               n=arith_op(e, arith.AddiOp, tile.col0, e.index(v * t.vl)))
               for r in range(t.mr) for v in range(nv)}

        def row_exists(r, body, types):  # body(emitter) for row r of the tile, if C has it
            if not self.row_edges or r == 0:
                return body(e)
            return if_(e, e.cmp("lt", e.index(r), tile.rows), body, lambda _: [tile.zero] * len(types), types)

        def update(r):
            def body(b):
                out = []
                for v in range(nv):
                    x = tile.acc[r * nv + v]
                    if not first:
                        x = b.add(arith.AddfOp(b.add(vector.LoadOp(c, idx[r, v], vt)), x, REASSOC))
                    out.append(self.epilogue.apply(b, x, idx[r, v], vt) if last else x)
                return out
            return body

        def store(r):
            def body(b):
                for v in range(nv):
                    b.add(vector.StoreOp(new[r][v], c, idx[r, v]))
                return []
            return body

        new: list[list[SSAValue]] = []
        if last:  # the epilogue's operands need registers too: row by row (all rows spill)
            for r in range(t.mr):
                new.append(row_exists(r, update(r), [vt] * nv))
                row_exists(r, store(r), [])
            return []
        new = [row_exists(r, update(r), [vt] * nv) for r in range(t.mr)]
        for r in range(t.mr):
            row_exists(r, store(r), [])
        return []

    def through_ct(self, e: Emitter, tile: Accumulators, ct: SSAValue, cols: SSAValue) -> list:
        """A tile with fewer than NR columns: the accumulators to Ct, then only C[row0:+rows,
        col0:+cols] updated, element by element."""
        t, nv = self.t, self.nv
        for r in range(t.mr):
            for v in range(nv):
                e.add(vector.StoreOp(tile.acc[r * nv + v], ct, [e.index(r), e.index(v * t.vl)]))

        def row(e1, r, _):
            def col(e2, j, _):
                idx = self.at(e2, 2, tile.ivs, m=arith_op(e2, arith.AddiOp, tile.row0, r),
                              n=arith_op(e2, arith.AddiOp, tile.col0, j))
                new = e2.add(memref.LoadOp.get(ct, [r, j]))
                total = e2.add(arith.AddfOp(e2.add(memref.LoadOp.get(self.c.c, idx)), new, REASSOC))
                if self.first is not None:
                    total = e2.select(self.first, new, total)
                if self.last is not None:
                    total = e2.select(self.last, self.epilogue.apply(e2, total, idx, None), total)
                e2.add(memref.StoreOp.get(total, self.c.c, idx))
            loop(e1, e1.index(0), cols, e1.index(1), col)
        loop(e, e.index(0), tile.rows, e.index(1), row)
        return []
