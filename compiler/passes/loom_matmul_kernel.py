"""`loom-matmul-kernel`: a float contraction `linalg.generic` on memrefs (`C += A·B`, batched,
either operand transposed) → BLIS's five loops around a register-blocked micro-kernel on LLVM
vector types. Runs on bufferized IR, before `loom-linalg-to-loops` (which lowers what is left).

The loops (Goto/van de Geijn, "Anatomy of High-Performance Matrix Multiplication"; BLIS):

    for b…                        batch dims (scf.for)
      for jc in 0..N step NC        B's columns, a block packed per (jc, pc): Bp is kc × nc (L3)
        for pc in 0..K step KC        the depth
          pack B[pc:+kc, jc:+nc] → Bp: panels of NR columns, Bp[q, p, 0:NR] contiguous
          for ic in 0..M step MC        A's rows (scf.parallel with `parallel=true`: rows of C are
                                        disjoint, each iteration packs its own Ap)
            pack A[ic:+mc, pc:+kc] → Ap: panels of MR rows, Ap[q, p, 0:MR] contiguous (L2)
            for jr (panels of Bp)           a kc × NR micro-panel of Bp stays in L1
              for ir (panels of Ap)
                micro-kernel: the MR × NR tile of C in MR·NR/VL vector registers (scf.for
                iter_args from zero), per k step NR/VL vector loads of Bp, MR broadcasts of Ap
                and MR·NR/VL `vector.fma`s; C's rows prefetched before the loop, the tile added
                to C after it (at C's edges through a small buffer, Ct)

Packing zero-pads the last panels, so the micro-kernel always runs a full tile. A transposed
operand costs nothing extra: packing reads A and B through their indexing maps, in the order that
is contiguous for their layout (for `x @ transpose(w)`, B's panels are read along its rows).
The tile comes from the host CPU's features (llvmlite): AVX-512 → MR×NR = 12×32 f32 / 12×16 f64
(24 of the 32 zmm registers accumulate), AVX2+FMA → 6×16 f32 / 6×8 f64 (12 of 16 ymm: BLIS's
haswell kernel); without FMA the pass changes nothing. `isa=avx2|avx512|none` overrides it.
Contractions below `min-size` (M·N·K) are left to the loops. C keeps its initial value (the
`linalg.fill` before it), so any init works.

Example (`a @ b`, f32[64, 48] @ f32[48, 40], AVX2; abridged: tests/filecheck/backend_loom_matmul_kernel.mlir):

    linalg.generic {indexing_maps = [affine_map<(d0, d1, d2) -> (d0, d2)>, affine_map<(d0, d1, d2) -> (d2, d1)>,
                                     affine_map<(d0, d1, d2) -> (d0, d1)>],
                    iterator_types = ["parallel", "parallel", "reduction"]}
        ins(%a, %b : memref<64x48xf32>, memref<48x40xf32>) outs(%c : memref<64x40xf32>) {
    ^bb0(%x: f32, %y: f32, %acc: f32):
      %p = arith.mulf %x, %y : f32
      %s = arith.addf %acc, %p : f32
      linalg.yield %s : f32
    }
becomes
    %bp = memref.alloc() {alignment = 64 : i64} : memref<3x48x16xf32>
    %ap = memref.alloc() {alignment = 64 : i64} : memref<11x48x6xf32>
    %ct = memref.alloc() {alignment = 64 : i64} : memref<6x16xf32>
    scf.for %jc = %c0 to %c40 step %c4080 {
      scf.for %pc = %c0 to %c48 step %c256 {
        …                                            (pack B into %bp, panels of 16 columns)
        scf.for %ic = %c0 to %c64 step %c168 {
          …                                          (pack A into %ap, panels of 6 rows)
          scf.for %jq = %c0 to %nq step %c1 {
            scf.for %iq = %c0 to %mq step %c1 {
              %z = vector.broadcast %zero : f32 to vector<8xf32>
              "memref.prefetch"(%c, %r0, %q0) <{isWrite = true, localityHint = 3 : i32, isDataCache = true}> …
              %r:12 = scf.for %p = %c0 to %kc step %c1 iter_args(%t0 = %z, …) -> (vector<8xf32>, …) {
                %b0 = vector.load %bp[%jq, %p, %c0] : memref<3x48x16xf32>, vector<8xf32>
                %b1 = vector.load %bp[%jq, %p, %c8] : memref<3x48x16xf32>, vector<8xf32>
                %a0 = memref.load %ap[%iq, %p, %c0] : memref<11x48x6xf32>
                %a0v = vector.broadcast %a0 : f32 to vector<8xf32>
                %n0 = vector.fma %a0v, %b0, %t0 : vector<8xf32>
                %n1 = vector.fma %a0v, %b1, %t1 : vector<8xf32>
                …                                   (rows 1..5: 12 FMAs in all)
                scf.yield %n0, %n1, … : vector<8xf32>, …
              }
              scf.if %full {
                %c0v = vector.load %c[%r0, %q0] : memref<64x40xf32>, vector<8xf32>
                %s0 = arith.addf %c0v, %r#0 fastmath<reassoc,contract> : vector<8xf32>
                vector.store %s0, %c[%r0, %q0] : memref<64x40xf32>, vector<8xf32>
                …
              } else { … (%r → %ct, then %ct's rows and columns inside C added to C) }
            } } } } }
    memref.dealloc %bp …
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

from llvmlite import binding as llvm_binding
from xdsl.context import Context
from xdsl.dialects import arith, memref, scf, vector
from xdsl.dialects.builtin import Float32Type, Float64Type, FloatAttr, IndexType, MemRefType, ModuleOp, VectorType
from xdsl.dialects.linalg import attrs as linalg_attrs
from xdsl.dialects.linalg import ops as linalg
from xdsl.ir import Block, Region, SSAValue
from xdsl.ir.affine import AffineConstantExpr, AffineDimExpr, AffineMap
from xdsl.passes import ModulePass
from xdsl.rewriter import InsertPoint
from xdsl.pattern_rewriter import PatternRewriter, PatternRewriteWalker, RewritePattern, op_type_rewrite_pattern

from compiler.passes.emitter import REASSOC, Emitter
from compiler.passes.loom_linalg_to_loops import eval_expr
from compiler.passes.matmul_epilogue import Epilogue, match_epilogue
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


# BLIS's blockings (haswell for AVX2, skx for AVX-512), for row-major C: A is broadcast, B loaded.
TILES = {
    ("avx2", 32): Tile(vl=8, mr=6, nr=16, mc=168, kc=256, nc=4080),
    ("avx2", 64): Tile(vl=4, mr=6, nr=8, mc=72, kc=256, nc=4080),
    ("avx512", 32): Tile(vl=16, mr=12, nr=32, mc=144, kc=384, nc=3072),
    ("avx512", 64): Tile(vl=8, mr=12, nr=16, mc=96, kc=384, nc=3072),
}
ISAS = ("host", "avx512", "avx2", "none")


def host_isa() -> str:
    """The widest instruction set with FMA on this CPU, as LLVM sees it (llvmlite)."""
    try:
        features = llvm_binding.get_host_cpu_features()
    except RuntimeError:  # LLVM cannot tell on this host
        return "none"
    if features.get("avx512f") and features.get("fma"):
        return "avx512"
    if features.get("avx2") and features.get("fma"):
        return "avx2"
    return "none"


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


def _dims(m: AffineMap) -> list[int] | None:
    """The dims a map reads, in order; None if a result is neither a dim nor the constant 0
    (a broadcast batch dim of size 1)."""
    out = []
    for r in m.results:
        if isinstance(r, AffineDimExpr):
            out.append(r.position)
        elif not (isinstance(r, AffineConstantExpr) and r.value == 0):
            return None
    return out


def _is_mul_add(op: linalg.GenericOp) -> bool:
    x, y, acc = op.body.block.args
    ops = list(op.body.block.ops)
    if len(ops) != 3:
        return False
    mul, add, yld = ops
    return (isinstance(mul, arith.MulfOp) and {mul.lhs, mul.rhs} == {x, y} and
            isinstance(add, arith.AddfOp) and {add.lhs, add.rhs} == {acc, mul.result} and
            isinstance(yld, linalg.YieldOp) and list(yld.operands) == [add.result])


def match_contraction(op: linalg.GenericOp) -> Contraction | None:
    if op.res or len(op.inputs) != 2 or len(op.outputs) != 1:
        return None
    a, b, c = *op.inputs, op.outputs[0]
    types = [v.type for v in (a, b, c)]
    if not all(isinstance(t, MemRefType) for t in types) or \
            not isinstance(types[2].element_type, (Float32Type, Float64Type)) or \
            any(t.element_type != types[2].element_type for t in types) or not _is_mul_add(op):
        return None
    maps = tuple(m.data for m in op.indexing_maps.data)
    reds = [d for d, it in enumerate(op.iterator_types) if it.data == linalg_attrs.IteratorType.REDUCTION]
    da, db, dc = (_dims(m) for m in maps)
    if len(reds) != 1 or None in (da, db, dc) or len(dc) != len(maps[2].results) or len(set(dc)) != len(dc):
        return None
    k, batch = reds[0], dc[:-2]
    m, n = dc[-2:] if len(dc) >= 2 else (None, None)
    if m is not None and m in db and n in da:  # the inputs in the other order (B·A): swap them
        a, b, da, db = b, a, db, da
        maps, types = (maps[1], maps[0], maps[2]), [types[1], types[0], types[2]]
    if m is None or len(dc) != maps[2].num_dims - 1 or m not in da or m in db or n not in db or n in da:
        return None
    if len(da) != len(set(da)) or len(db) != len(set(db)) or k not in da or k not in db or \
            any(d not in batch for d in da + db if d not in (m, n, k)) or \
            any(size < 0 for t in types for size in t.get_shape()):
        return None
    bounds = [0] * maps[2].num_dims
    for d, size in zip(dc, types[2].get_shape()):
        bounds[d] = size
    bounds[k] = types[0].get_shape()[[isinstance(r, AffineDimExpr) and r.position == k
                                       for r in maps[0].results].index(True)]
    return Contraction(a, b, c, maps, m, n, k, tuple(batch), tuple(bounds))


def block_rows(m: int, t: Tile, parallel: bool) -> int:
    """Rows of A per block: at most MC, the blocks as equal as whole panels of MR rows allow (M = 256
    is 132 + 124 rows, not 168 + 88), and an even number of them when they run in parallel (two
    cores share the blocks evenly)."""
    blocks = math.ceil(m / t.mc)
    if parallel and blocks % 2 and m >= 2 * t.mr:
        blocks += 1
    return math.ceil(math.ceil(m / blocks) / t.mr) * t.mr


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


def _arith(e: Emitter, cls, a: SSAValue, b: SSAValue) -> SSAValue:
    return e.add(cls(a, b))


# ------------------------------------------------------------------------------- the kernel
class KernelBuilder:
    """Emits the five loops for one contraction and one tile."""

    def __init__(self, e: Emitter, c: Contraction, t: Tile, parallel: bool, overwrite: bool,
                 epilogue: Epilogue | None = None):
        self.e, self.c, self.t, self.parallel = e, c, t, parallel
        self.overwrite = overwrite  # C's initial value is 0: the first depth block stores, not adds
        self.epilogue = epilogue  # applied to C's tiles as the last depth block writes them
        self.first: SSAValue | None = None  # `pc == 0` when overwriting
        self.last: SSAValue | None = None  # `pc + kc == K` with an epilogue
        self.elem = c.c.type.element_type
        self.vt = VectorType(self.elem, [t.vl])
        self.nv = t.nr // t.vl
        M, N, K = (c.bounds[d] for d in (c.m, c.n, c.k))
        self.M, self.N, self.K = M, N, K
        kce = min(K, t.kc)
        self.mc = block_rows(M, t, parallel)
        self.ap_t = MemRefType(self.elem, [math.ceil(min(M, self.mc) / t.mr), kce, t.mr])
        self.bp_t = MemRefType(self.elem, [math.ceil(min(N, t.nc) / t.nr), kce, t.nr])
        self.ct_t = MemRefType(self.elem, [t.mr, t.nr])

    def at(self, e: Emitter, operand: int, ivs: list, **dims: SSAValue) -> list[SSAValue]:
        """Indices of operand (0 A, 1 B, 2 C) at the batch ivs with dims m/n/k set."""
        ivs = list(ivs)
        for name, v in dims.items():
            ivs[getattr(self.c, name)] = v
        return [eval_expr(e, r, ivs) for r in self.c.maps[operand].results]

    def emit(self) -> None:
        e, c = self.e, self.c
        bp = e.alloc(self.bp_t)
        shared = [] if self.parallel else [e.alloc(self.ap_t), e.alloc(self.ct_t)]
        ivs: list[SSAValue | None] = [None] * len(c.bounds)

        def batch(be: Emitter, level: int) -> None:
            if level == len(c.batch):
                self.blocks(be, ivs, bp, shared)
                return

            def body(le, iv, _):
                ivs[c.batch[level]] = iv
                batch(le, level + 1)
            loop(be, be.index(0), be.index(c.bounds[c.batch[level]]), be.index(1), body)

        batch(e, 0)
        for buf in [bp, *shared]:
            e.add(memref.DeallocOp.get(buf))

    def blocks(self, e: Emitter, ivs: list, bp: SSAValue, shared: list[SSAValue]) -> None:
        t = self.t
        zero = e.index(0)

        def jc_body(e1, jc, _):
            nc = _arith(e1, arith.MinSIOp, e1.index(t.nc), _arith(e1, arith.SubiOp, e1.index(self.N), jc))

            def pc_body(e2, pc, _):
                kc = _arith(e2, arith.MinSIOp, e2.index(t.kc), _arith(e2, arith.SubiOp, e2.index(self.K), pc))
                self.first = e2.cmp("eq", pc, e2.index(0)) if self.overwrite else None
                self.last = e2.cmp("eq", _arith(e2, arith.AddiOp, pc, kc), e2.index(self.K)) if self.epilogue else None
                self.pack(e2, 1, ivs, bp, jc, nc, pc, kc)

                def ic_body(e3, ic, _):
                    mc = _arith(e3, arith.MinSIOp, e3.index(self.mc), _arith(e3, arith.SubiOp, e3.index(self.M), ic))
                    ap, ct = shared or [e3.alloc(self.ap_t), e3.alloc(self.ct_t)]
                    self.pack(e3, 0, ivs, ap, ic, mc, pc, kc)
                    self.macro_kernel(e3, ivs, ap, bp, ct, ic, mc, jc, nc, kc)
                    if not shared:
                        e3.add(memref.DeallocOp.get(ap))
                        e3.add(memref.DeallocOp.get(ct))

                (parallel_loop if self.parallel else loop)(e2, e2.index(0), e2.index(self.M), e2.index(self.mc), ic_body)
            loop(e1, e1.index(0), e1.index(self.K), e1.index(t.kc), pc_body)
        loop(e, zero, e.index(self.N), e.index(t.nc), jc_body)

    def pack(self, e: Emitter, operand: int, ivs: list, buf: SSAValue, start: SSAValue, size: SSAValue,
             pc: SSAValue, kc: SSAValue) -> None:
        """Ap[q, p, i] = A[start + q·MR + i, pc + p] (0 past `size` rows), or
        Bp[q, p, j] = B[pc + p, start + q·NR + j] (0 past `size` columns). A whole panel is copied
        without bounds checks, with vector loads and stores when its lanes are contiguous in the
        operand (B's rows: NR/VL vectors per depth step); the last, partial panel is padded."""
        c, vl = self.c, self.t.vl
        width, dim, full = (self.t.mr, "m", self.M) if operand == 0 else (self.t.nr, "n", self.N)
        src = c.a if operand == 0 else c.b
        along_k = c.contiguous(operand, c.k)  # the operand's rows run along k: read p innermost
        vector_lanes = c.contiguous(operand, getattr(c, dim)) and width % vl == 0
        panels = e.add(arith.CeilDivSIOp(size, e.index(width)))
        zero_f = e.const(0.0, self.elem)

        def panel(e1, q, _):
            base = _arith(e1, arith.MuliOp, q, e1.index(width))
            first = _arith(e1, arith.AddiOp, start, base)

            def whole(e2):
                def step(e3, p, _):
                    k = _arith(e3, arith.AddiOp, pc, p)
                    if vector_lanes:
                        for v in range(width // vl):
                            idx = self.at(e3, operand, ivs, **{dim: _arith(e3, arith.AddiOp, first, e3.index(v * vl)), "k": k})
                            x = e3.add(vector.LoadOp(src, idx, self.vt))
                            e3.add(vector.StoreOp(x, buf, [q, p, e3.index(v * vl)]))
                        return

                    def lane(e4, j, _):
                        idx = self.at(e4, operand, ivs, **{dim: _arith(e4, arith.AddiOp, first, j), "k": k})
                        e4.add(memref.StoreOp.get(e4.add(memref.LoadOp.get(src, idx)), buf, [q, p, j]))
                    loop(e3, e3.index(0), e3.index(width), e3.index(1), lane)
                loop(e2, e2.index(0), kc, e2.index(1), step)
                return []

            def padded(e2):
                def element(e3, p, j):
                    off = _arith(e3, arith.AddiOp, base, j)
                    inside = e3.cmp("lt", off, size)
                    at = _arith(e3, arith.MinSIOp, _arith(e3, arith.AddiOp, start, off), e3.index(full - 1))
                    idx = self.at(e3, operand, ivs, **{dim: at, "k": _arith(e3, arith.AddiOp, pc, p)})
                    v = e3.select(inside, e3.add(memref.LoadOp.get(src, idx)), zero_f)
                    e3.add(memref.StoreOp.get(v, buf, [q, p, j]))

                def outer(e3, x, _):
                    def inner(e4, y, _):
                        element(e4, *((x, y) if not along_k else (y, x)))
                    loop(e3, e3.index(0), kc if along_k else e3.index(width), e3.index(1), inner)
                loop(e2, e2.index(0), e2.index(width) if along_k else kc, e2.index(1), outer)
                return []

            end = _arith(e1, arith.AddiOp, base, e1.index(width))
            if_(e1, e1.cmp("le", end, size), whole, padded, [])
        loop(e, e.index(0), panels, e.index(1), panel)

    def macro_kernel(self, e: Emitter, ivs, ap, bp, ct, ic, mc, jc, nc, kc) -> None:
        t = self.t
        jq_n = e.add(arith.CeilDivSIOp(nc, e.index(t.nr)))
        iq_n = e.add(arith.CeilDivSIOp(mc, e.index(t.mr)))

        def jr_body(e1, jq, _):
            jr = _arith(e1, arith.MuliOp, jq, e1.index(t.nr))
            cols = _arith(e1, arith.MinSIOp, e1.index(t.nr), _arith(e1, arith.SubiOp, nc, jr))
            col0 = _arith(e1, arith.AddiOp, jc, jr)

            def ir_body(e2, iq, _):
                ir = _arith(e2, arith.MuliOp, iq, e2.index(t.mr))
                rows = _arith(e2, arith.MinSIOp, e2.index(t.mr), _arith(e2, arith.SubiOp, mc, ir))
                row0 = _arith(e2, arith.AddiOp, ic, ir)
                self.micro_kernel(e2, ivs, ap, bp, ct, iq, jq, row0, rows, col0, cols, kc)
            loop(e1, e1.index(0), iq_n, e1.index(1), ir_body)
        loop(e, e.index(0), jq_n, e.index(1), jr_body)

    def micro_kernel(self, e: Emitter, ivs, ap, bp, ct, iq, jq, row0, rows, col0, cols, kc) -> None:
        """Accumulate the tile from zero (the k loop never waits for C), then add it to C."""
        t, nv, vt = self.t, self.nv, self.vt
        zero = e.add(vector.BroadcastOp(e.const(0.0, self.elem), vt))
        for r in range(t.mr):  # the tile's rows of C (clamped to the edge: a hint never faults)
            row = _arith(e, arith.MinSIOp, _arith(e, arith.AddiOp, row0, e.index(r)), e.index(self.M - 1))
            e.add(memref_ext.PrefetchOp(self.c.c, self.at(e, 2, ivs, m=row, n=col0), write=True))

        def k_step(be, p, acc):
            bs = [be.add(vector.LoadOp(bp, [jq, p, be.index(v * t.vl)], vt)) for v in range(nv)]
            out = []
            for r in range(t.mr):
                a = be.add(vector.BroadcastOp(be.add(memref.LoadOp.get(ap, [iq, p, be.index(r)])), vt))
                out += [be.add(vector.FMAOp(a, bs[v], acc[r * nv + v])) for v in range(nv)]
            return out

        acc = loop(e, e.index(0), kc, e.index(1), k_step, [zero] * (t.mr * nv))
        lanes = list(zip([(r, v) for r in range(t.mr) for v in range(nv)], acc))
        full = e.add(arith.AndIOp(e.cmp("eq", rows, e.index(t.mr)), e.cmp("eq", cols, e.index(t.nr))))

        def c_index(be, r, v):
            return self.at(be, 2, ivs, m=_arith(be, arith.AddiOp, row0, be.index(r)),
                           n=_arith(be, arith.AddiOp, col0, be.index(v * t.vl)))

        def write(first: bool, last: bool):  # C = [C +] tile, then the epilogue in the last block
            def emit(be):
                for (r, v), x in lanes:
                    idx = c_index(be, r, v)
                    if not first:
                        x = be.add(arith.AddfOp(be.add(vector.LoadOp(self.c.c, idx, vt)), x, REASSOC))
                    if last:
                        x = self.epilogue.apply(be, x, idx, vt)
                    be.add(vector.StoreOp(x, self.c.c, idx))
                return []
            return emit

        def whole_tile(be):  # branches on the (run-time) first and last depth blocks
            def on_last(first: bool):
                if self.last is None:
                    return write(first, False)
                return lambda b: if_(b, self.last, write(first, True), write(first, False), [])
            if self.first is None:
                return on_last(False)(be)
            return if_(be, self.first, on_last(True), on_last(False), [])

        def add_edge_to_c(be):  # through Ct: only C[row0:+rows, col0:+cols] is touched
            for (r, v), x in lanes:
                be.add(vector.StoreOp(x, ct, [be.index(r), be.index(v * t.vl)]))

            def row(e1, r, _):
                def col(e2, j, _):
                    idx = self.at(e2, 2, ivs, m=_arith(e2, arith.AddiOp, row0, r), n=_arith(e2, arith.AddiOp, col0, j))
                    new = e2.add(memref.LoadOp.get(ct, [r, j]))
                    total = e2.add(arith.AddfOp(e2.add(memref.LoadOp.get(self.c.c, idx)), new, REASSOC))
                    if self.first is not None:
                        total = e2.select(self.first, new, total)
                    if self.last is not None:
                        total = e2.select(self.last, self.epilogue.apply(e2, total, idx, None), total)
                    e2.add(memref.StoreOp.get(total, self.c.c, idx))
                loop(e1, e1.index(0), cols, e1.index(1), col)
            loop(be, be.index(0), rows, be.index(1), row)
            return []

        if_(e, full, whole_tile, add_edge_to_c, [])


class LowerContraction(RewritePattern):
    def __init__(self, isa: str, parallel: bool, min_size: int):
        self.isa, self.parallel, self.min_size = isa, parallel, min_size

    @op_type_rewrite_pattern
    def match_and_rewrite(self, op: linalg.GenericOp, rewriter: PatternRewriter, /):
        c = match_contraction(op)
        if c is None or self.isa == "none":
            return
        if c.bounds[c.m] * c.bounds[c.n] * c.bounds[c.k] < self.min_size:
            return
        tile = TILES[(self.isa, c.c.type.element_type.bitwidth)]
        fill = zero_fill_of(op, c)
        epilogue = match_epilogue(op, c.c) if c.bounds[c.k] > 0 else None
        e = Emitter(op.location)
        KernelBuilder(e, c, tile, self.parallel, overwrite=fill is not None, epilogue=epilogue).emit()
        if epilogue is not None:
            for const in epilogue.constants:
                const.detach()
                rewriter.insert(const, InsertPoint.before(op))
            rewriter.erase(epilogue.op)
        rewriter.replace(op, e.ops, [])
        if fill is not None:
            rewriter.erase(fill)


def zero_fill_of(op: linalg.GenericOp, c: Contraction) -> linalg.FillOp | None:
    """The `linalg.fill` of C with 0 right before the contraction (nothing reads C in between):
    the kernel then stores its first depth block instead of adding it, and the fill goes."""
    fill = op.prev_op
    if not isinstance(fill, linalg.FillOp) or fill.res or list(fill.outputs) != [c.c] or c.bounds[c.k] == 0:
        return None
    zero = fill.inputs[0].owner
    if isinstance(zero, arith.ConstantOp) and isinstance(zero.value, FloatAttr) and zero.value.value.data == 0.0:
        return fill
    return None


@dataclass(frozen=True)
class LoomMatmulKernel(ModulePass):
    """Options: `isa` (host|avx512|avx2|none: the tile; host asks LLVM for this CPU's features),
    `parallel` (default on: the loop over blocks of A's rows becomes an `scf.parallel`, which
    `loom-parallel-to-threads` runs on the thread pool), `min-size` (M·N·K below which the
    contraction is left to `loom-linalg-to-loops`)."""

    name = "loom-matmul-kernel"

    isa: str = "host"
    parallel: bool = True
    min_size: int = 32768

    def __post_init__(self):
        if self.isa not in ISAS:
            raise ValueError(f"isa must be one of {', '.join(ISAS)}, not '{self.isa}'")

    def apply(self, ctx: Context, op: ModuleOp) -> None:
        isa = host_isa() if self.isa == "host" else self.isa
        PatternRewriteWalker(LowerContraction(isa, self.parallel, self.min_size),
                             apply_recursively=False).rewrite_module(op)
