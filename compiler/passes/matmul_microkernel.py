"""The macro-kernel of `loom-matmul-kernel` (the loops over the register tiles of one block of C, the
micro-kernel: the depth loop on MR·NR/VL vector accumulators, and the update of C with the tile),
built as the body of a function the module's matmuls share (matmul_functions.py), plus the loop
builders the pass uses. C is flat (`memref<?xT>`): element (i, j) of the current matrix at
`c_base + i·ldc + j`, so one function serves every shape.

C's update runs after the depth loop. Every row's loads (and the epilogue) come before the stores:
C's rows are often a multiple of 4 KiB apart (1024 or 2048 f32), and a load after a store whose
address has the same low 12 bits waits for it (the store buffer matches on them), which serialized
the 12 vector updates of a tile (measured: 3–6 % of a 1024³ or 2048³ matmul). A tile with all NR
columns is written with vector loads and stores; the last panel of a block may have fewer rows
(M not a multiple of MR), so each row past the first is guarded by `r < rows` (rows outside C are
neither read nor written: the register tile is the edge kernel). A tile with fewer than NR columns
(N not a multiple of NR) goes through a small buffer Ct and scalar loops.

A whole-column tile (AVX2, 6 × 16; abridged: rows 2–5 like row 1; %i00 = c_base + row0·ldc + col0,
%i01 = %i00 + 8, %i10 = %i00 + ldc, …):

    %o0 = vector.load %c[%i00] : memref<?xf32>, vector<8xf32>
    %n0 = arith.addf %o0, %acc0 fastmath<reassoc,contract> : vector<8xf32>
    …
    %has1 = arith.cmpi slt, %c1, %rows : index
    %n2, %n3 = scf.if %has1 -> (vector<8xf32>, vector<8xf32>) {
      %o2 = vector.load %c[%i10] : memref<?xf32>, vector<8xf32>
      …
      scf.yield %s2, %s3 : vector<8xf32>, vector<8xf32>
    } else {
      scf.yield %zero, %zero : vector<8xf32>, vector<8xf32>
    }
    …
    vector.store %n0, %c[%i00] : memref<?xf32>, vector<8xf32>
    vector.store %n1, %c[%i01] : memref<?xf32>, vector<8xf32>
    scf.if %has1 {
      vector.store %n2, %c[%i10] : memref<?xf32>, vector<8xf32>
      …
    }
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from xdsl.dialects import arith, memref, scf, vector
from xdsl.dialects.builtin import IndexType, VectorType
from xdsl.ir import Block, Region, SSAValue
from xdsl.ir.affine import AffineMap

from compiler.passes.emitter import REASSOC, Emitter
from compiler.passes.matmul_epilogue import Epilogue
from dialects import memref_ext


@dataclass(frozen=True)
class Tile:
    """Register and cache blocking for one element type on one instruction set."""
    vl: int  # lanes of a vector register
    mr: int  # rows of the register tile: MR broadcasts of A per k step
    nr: int  # columns of the register tile: NR/VL vector loads of B per k step
    mc: int  # rows of A packed at a time (Ap: MC × KC)
    kc: int  # depth of a block (the micro-panel that stays in L1 is KC deep)
    nc: int  # columns of B packed at a time (Bp: KC × NC, for L3)
    # the macro-kernel's loop order: False, BLIS's (for each micro-panel of B, every panel of A: the
    # KC × NR micro-panel of B stays in L1, A's stream through it); True, the other way round (for
    # each MR × KC micro-panel of A, every panel of B: A's stays in L1, B's stream from L2) — for a
    # tile whose B micro-panel is too large for L1 at a useful depth (12 × 32 f32 on AVX-512:
    # 128 bytes a depth step against A's 48)
    a_in_l1: bool = False
    prefetch: int = 0  # with `a_in_l1`: prefetch the streaming Bp this many depth steps ahead
    # the depth of a block when C is larger than the caches hold (loom_matmul_kernel.LARGE_C_BYTES):
    # every depth block then passes over C in memory, so fewer, deeper blocks (0: KC)
    kc_large_c: int = 0


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


def plus(e: Emitter, a: SSAValue, k: int) -> SSAValue:
    """`a + k` (`a` itself when k is 0)."""
    return a if k == 0 else arith_op(e, arith.AddiOp, a, e.index(k))


# ------------------------------------------------------------------------------- the macro-kernel
@dataclass(frozen=True)
class Accumulators:
    """A computed register tile: its accumulators and where it lies in C."""
    acc: list[SSAValue]  # MR·NR/VL vectors, row by row
    row0: SSAValue
    rows: SSAValue  # C's rows in the tile (MR but at the edge)
    col0: SSAValue
    zero: SSAValue  # a zero vector


MACRO_ARGS = ("c_base", "ldc", "m", "ic", "mc", "jc", "nc", "kc")


class MacroKernel:
    """The body of a shared macro-kernel function: the loops over the register tiles of one block
    of C (`mc` rows from `ic`, `nc` columns from `jc`, depth `kc`), each tile computed from packed
    Ap and Bp by the micro-kernel and written to C. C is flat: element (i, j) of the current matrix
    is `c[c_base + i·ldc + j]`, `m` its rows. Arguments: `ap, bp, c`, `ct` (an MR × NR buffer for
    tiles past C's right edge, allocated by the caller: the kernel itself cannot fail, so its code
    does not depend on the program's numbering of run-time checks), `MACRO_ARGS`, `a_base`: where
    the block's first panel of A starts in `ap` (a packed Ap of the whole of A's rows holds the
    other blocks' panels too); with `direct_a`, `ap` is A itself (flat), read at
    `a_base + i·lda + p` (`lda` follows), then `first`
    (overwriting: `pc == 0`), `last` (with an epilogue: `pc + kc == K`), then per buffer of the
    epilogue (flat, base, row stride), then its scalars."""

    def __init__(self, t: Tile, elem, overwrite: bool, epilogue: Epilogue | None, direct_a: bool = False):
        self.t, self.elem, self.direct_a = t, elem, direct_a
        self.overwrite = overwrite  # C's initial value is 0: the first depth block stores, not adds
        self.epilogue = epilogue  # applied to C's tiles as the last depth block writes them
        self.vt = VectorType(elem, [t.vl])
        self.nv = t.nr // t.vl

    def build(self, e: Emitter, args: list[SSAValue]) -> None:
        t = self.t
        self.ap, self.bp, self.c, ct = args[:4]
        self.c_base, self.ldc, self.m, ic, mc, jc, nc, kc = args[4:12]
        rest = args[12:]
        self.a_base = rest.pop(0)
        if self.direct_a:  # A itself (`ap` is A flat): row i, depth step p at a_base + i·lda + p
            self.lda = rest.pop(0)
        self.first = rest.pop(0) if self.overwrite else None
        self.last = rest.pop(0) if self.epilogue else None
        n_buf = len(self.epilogue.buffers()) if self.epilogue else 0
        self.ep_buffers = [tuple(rest[3 * i:3 * i + 3]) for i in range(n_buf)]
        self.ep_scalars = rest[3 * n_buf:]
        self.kc = kc
        jq_n = e.add(arith.CeilDivSIOp(nc, e.index(t.nr)))
        iq_n = e.add(arith.CeilDivSIOp(mc, e.index(t.mr)))

        def columns(e1, jq):  # panel jq of Bp: (jq, its first column in C, its columns)
            jr = arith_op(e1, arith.MuliOp, jq, e1.index(t.nr))
            return jq, arith_op(e1, arith.AddiOp, jc, jr), arith_op(e1, arith.MinSIOp, e1.index(t.nr), arith_op(e1, arith.SubiOp, nc, jr))

        def rows(e1, iq):  # panel iq of Ap: (iq, its first row in C, its rows)
            ir = arith_op(e1, arith.MuliOp, iq, e1.index(t.mr))
            return iq, arith_op(e1, arith.AddiOp, ic, ir), arith_op(e1, arith.MinSIOp, e1.index(t.mr), arith_op(e1, arith.SubiOp, mc, ir))

        # the outer loop's panel stays in L1 while the inner loop's panels stream past it
        outer, inner = (rows, columns) if t.a_in_l1 else (columns, rows)
        outer_n, inner_n = (iq_n, jq_n) if t.a_in_l1 else (jq_n, iq_n)

        def outer_body(e1, q1, _):
            p1 = outer(e1, q1)

            def inner_body(e2, q2, _):
                p2 = inner(e2, q2)
                (iq, row0, n_rows), (jq, col0, n_cols) = (p1, p2) if t.a_in_l1 else (p2, p1)
                self.micro_kernel(e2, ct, iq, jq, row0, n_rows, col0, n_cols)
            loop(e1, e1.index(0), inner_n, e1.index(1), inner_body)
        loop(e, e.index(0), outer_n, e.index(1), outer_body)

    def c_at(self, e: Emitter, row: SSAValue, col: SSAValue) -> SSAValue:
        return arith_op(e, arith.AddiOp, arith_op(e, arith.AddiOp, self.c_base, arith_op(e, arith.MuliOp, row, self.ldc)), col)

    def micro_kernel(self, e: Emitter, ct, iq, jq, row0, rows, col0, cols) -> None:
        """Accumulate the tile from zero (the k loop never waits for C), then add it to C."""
        t, nv, vt = self.t, self.nv, self.vt
        zero = e.add(vector.BroadcastOp(e.const(0.0, self.elem), vt))
        last_row = arith_op(e, arith.SubiOp, self.m, e.index(1))
        # the tile's rows, clamped to C's last one (a prefetch never faults; a row of A past the
        # edge is read, its results discarded)
        clamped = [arith_op(e, arith.MinSIOp, plus(e, row0, r), last_row) for r in range(t.mr)]
        for row in clamped:
            e.add(memref_ext.PrefetchOp(self.c, [self.c_at(e, row, col0)], write=True))
        if self.direct_a:  # each row of A where it is
            a_rows = [arith_op(e, arith.AddiOp, self.a_base, arith_op(e, arith.MuliOp, row, self.lda)) for row in clamped]
        else:  # panel iq of Ap
            a0 = arith_op(e, arith.AddiOp, self.a_base,
                          arith_op(e, arith.MuliOp, arith_op(e, arith.MuliOp, iq, self.kc), e.index(t.mr)))
        b0 = arith_op(e, arith.MuliOp, arith_op(e, arith.MuliOp, jq, self.kc), e.index(t.nr))

        def k_step(be, p, acc):
            bp = arith_op(be, arith.AddiOp, b0, arith_op(be, arith.MuliOp, p, be.index(t.nr)))
            if not self.direct_a:
                ap = arith_op(be, arith.AddiOp, a0, arith_op(be, arith.MuliOp, p, be.index(t.mr)))
            bs = [be.add(vector.LoadOp(self.bp, [plus(be, bp, v * t.vl)], vt))
                  for v in range(nv)]
            if t.prefetch:  # Bp's cache lines `prefetch` steps ahead (past the panel: the next one)
                step = 64 // (self.elem.bitwidth // 8)
                for off in range(0, t.nr, step):
                    be.add(memref_ext.PrefetchOp(self.bp, [plus(be, bp, t.prefetch * t.nr + off)]))
            out = []
            for r in range(t.mr):
                at = arith_op(be, arith.AddiOp, a_rows[r], p) if self.direct_a else plus(be, ap, r)
                x = be.add(memref.LoadOp.get(self.ap, [at]))
                a = be.add(vector.BroadcastOp(x, vt))
                out += [be.add(vector.FMAOp(a, bs[v], acc[r * nv + v])) for v in range(nv)]
            return out

        acc = loop(e, e.index(0), self.kc, e.index(1), k_step, [zero] * (t.mr * nv))
        tile = Accumulators(acc, row0, rows, col0, zero)
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

    def finish(self, e: Emitter, x: SSAValue, row: SSAValue, col: SSAValue, vt) -> SSAValue:
        """The epilogue at C's (row, col)."""
        return self.epilogue.apply(e, x, row, col, vt, self.ep_buffers, self.ep_scalars)

    def write(self, e: Emitter, tile: Accumulators, first: bool, last: bool) -> list:
        """Every row's loads and updates, then every row's stores (with an epilogue, row by row);
        rows past C's edge are skipped."""
        t, nv, vt, c = self.t, self.nv, self.vt, self.c
        rows = [plus(e, tile.row0, r) for r in range(t.mr)]
        cols = [plus(e, tile.col0, v * t.vl) for v in range(nv)]
        idx = {(r, v): self.c_at(e, rows[r], cols[v]) for r in range(t.mr) for v in range(nv)}

        def row_exists(r, body, types):  # body(emitter) for row r of the tile, if C has it
            if r == 0:
                return body(e)
            return if_(e, e.cmp("lt", e.index(r), tile.rows), body, lambda _: [tile.zero] * len(types), types)

        def update(r):
            def body(b):
                out = []
                for v in range(nv):
                    x = tile.acc[r * nv + v]
                    if not first:
                        x = b.add(arith.AddfOp(b.add(vector.LoadOp(c, [idx[r, v]], vt)), x, REASSOC))
                    out.append(self.finish(b, x, rows[r], cols[v], vt) if last else x)
                return out
            return body

        def store(r):
            def body(b):
                for v in range(nv):
                    b.add(vector.StoreOp(new[r][v], c, [idx[r, v]]))
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
            i = arith_op(e1, arith.AddiOp, tile.row0, r)

            def col(e2, j, _):
                jj = arith_op(e2, arith.AddiOp, tile.col0, j)
                idx = [self.c_at(e2, i, jj)]
                new = e2.add(memref.LoadOp.get(ct, [r, j]))
                total = e2.add(arith.AddfOp(e2.add(memref.LoadOp.get(self.c, idx)), new, REASSOC))
                if self.first is not None:
                    total = e2.select(self.first, new, total)
                if self.last is not None:
                    total = e2.select(self.last, self.finish(e2, total, i, jj, None), total)
                e2.add(memref.StoreOp.get(total, self.c, idx))
            loop(e1, e1.index(0), cols, e1.index(1), col)
        loop(e, e.index(0), tile.rows, e.index(1), row)
        return []
