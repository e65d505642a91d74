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
              for ir (panels of Ap)           (on AVX-512 the other way round: for ir, for jr —
                                              A's MR × kc micro-panel stays in L1, B's stream
                                              past it, prefetched ahead: `Tile.a_in_l1`)
                micro-kernel: the MR × NR tile of C in MR·NR/VL vector registers (scf.for
                iter_args from zero), per k step NR/VL vector loads of Bp, MR broadcasts of Ap
                and MR·NR/VL `vector.fma`s; C's rows prefetched before the loop, the tile added
                to C after it: all loads, then all stores; rows past C's bottom edge guarded,
                a tile past C's right edge through a small buffer, Ct (matmul_microkernel.py)

With A's micro-panels in L1 and more columns than one block of B, A would be packed again for
every column block; instead the depth loop goes outside: `for pc: pack A[:, pc:+kc] → Ap (all of
A's rows, by all threads); for jc: pack B → Bp; for ic (parallel): macro-kernel` (`whole_a`; the
macro-kernel's `a_base` says where its block's panels start in Ap).

Packing zero-pads the last panels, so the micro-kernel always runs a full tile. A transposed
operand costs nothing extra: packing reads A and B through their strides, in the order that is
contiguous for their layout. A panel whose lanes are contiguous (B row-major, A transposed) is
copied a vector of lanes per depth step; one whose rows run along k (A row-major, B transposed in
`x @ transpose(w)`) VL depth steps at a time, one vector load per row and a transpose in registers
(`vector.shuffle`s), so that no layout packs element by element.
The packing routines and the macro-kernel (the jr/ir loops and the micro-kernel) are functions
shared by all matmuls of the module that need the same variant, called with their buffers flat and
their sizes, strides and offsets as arguments (matmul_functions.py): a program with many matmuls
compiles each kernel once (the MLP training step: eight matmuls, one macro-kernel without and one
with an epilogue). What stays at each matmul is the loops over blocks, the packed buffers and the
calls.
The tile comes from the host CPU's features (llvmlite): AVX-512 → MR×NR = 12×32 f32 / 12×16 f64
(24 of the 32 zmm registers accumulate), AVX2+FMA → 6×16 f32 / 6×8 f64 (12 of 16 ymm: BLIS's
haswell kernel); without FMA the pass changes nothing. `isa=avx2|avx512|none` overrides it.
Contractions below `min-size` (M·N·K) are left to the loops. C keeps its initial value (the
`linalg.fill` before it), so any init works.

Example (`a @ b`, f32[64, 48] @ f32[48, 40], AVX2, parallel=false; abridged:
tests/filecheck/backend_loom_matmul_kernel.mlir):

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
    %ct = memref.alloc() {alignment = 64 : i64} : memref<6x16xf32>   (the macro-kernel's edge tiles)
    scf.for %jc = %c0 to %c40 step %c4080 {
      scf.for %pc = %c0 to %c48 step %c256 {
        %b1 = memref.collapse_shape %b [[0, 1]] : memref<48x40xf32> into memref<1920xf32>
        %bf = memref.cast %b1 : memref<1920xf32> to memref<?xf32>
        …                                            (%bpf: %bp flat likewise)
        func.call @matmul_pack_b_f32_6x16(%bf, %bpf, %c0, %c1, %c40, %jc, %nc, %pc, %kc, %c40)
        scf.for %ic = %c0 to %c64 step %c66 {
          …
          func.call @matmul_pack_a_f32_6x16(%af, %apf, %c0, %c48, %c1, %ic, %mc, %pc, %kc, %c64)
          func.call @matmul_macro_f32_6x16(%apf, %bpf, %cf, %ct, %c0, %c40, %c64, %ic, %mc, %jc, %nc, %kc)
        } } }
    memref.dealloc %bp …
    …
    func.func private @matmul_macro_f32_6x16(%ap: memref<?xf32> {llvm.noalias}, %bp: memref<?xf32> {llvm.noalias},
        %c: memref<?xf32> {llvm.noalias}, %ct: memref<6x16xf32> {llvm.noalias}, %c_base: index, %ldc: index,
        %m: index, %ic: index, %mc: index, %jc: index, %nc: index, %kc: index) attributes {no_inline} {
      scf.for %jq = %c0 to %nq step %c1 {
        scf.for %iq = %c0 to %mq step %c1 {
          %z = vector.broadcast %zero : f32 to vector<8xf32>
          "memref.prefetch"(%c, %at0) <{isWrite = true, localityHint = 3 : i32, isDataCache = true}> …
          %r:12 = scf.for %p = %c0 to %kc step %c1 iter_args(%t0 = %z, …) -> (vector<8xf32>, …) {
            %b0 = vector.load %bp[%bq] : memref<?xf32>, vector<8xf32>      (%bq = jq·kc·16 + p·16)
            %b1 = vector.load %bp[%bq8] : memref<?xf32>, vector<8xf32>
            %a0 = memref.load %ap[%aq] : memref<?xf32>                     (%aq = iq·kc·6 + p·6)
            %a0v = vector.broadcast %a0 : f32 to vector<8xf32>
            %n0 = vector.fma %a0v, %b0, %t0 : vector<8xf32>
            %n1 = vector.fma %a0v, %b1, %t1 : vector<8xf32>
            …                                   (rows 1..5: 12 FMAs in all)
            scf.yield %n0, %n1, … : vector<8xf32>, …
          }
          scf.if %all_columns {
            %c0v = vector.load %c[%at00] : memref<?xf32>, vector<8xf32>     (c_base + row·ldc + col)
            %s0 = arith.addf %c0v, %r#0 fastmath<reassoc,contract> : vector<8xf32>
            …                                    (12 loads and adds, then 12 stores; rows past C guarded)
            vector.store %s0, %c[%at00] : memref<?xf32>, vector<8xf32>
            …
          } else { … (%r → %ct, then %ct's rows and columns inside C added to C) }
      } }
      func.return
    }
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

from llvmlite import binding as llvm_binding
from xdsl.context import Context
from xdsl.dialects import arith, memref
from xdsl.dialects.builtin import (
    Float32Type,
    Float64Type,
    FloatAttr,
    IndexType,
    MemRefType,
    ModuleOp,
    NoneAttr,
    i1,
)
from xdsl.dialects.linalg import attrs as linalg_attrs
from xdsl.dialects.linalg import ops as linalg
from xdsl.ir import SSAValue
from xdsl.ir.affine import AffineConstantExpr, AffineDimExpr, AffineMap
from xdsl.passes import ModulePass
from xdsl.pattern_rewriter import (
    PatternRewriter,
    PatternRewriteWalker,
    RewritePattern,
    op_type_rewrite_pattern,
)
from xdsl.rewriter import InsertPoint

from compiler.passes.emitter import Emitter
from compiler.passes.loom_linalg_to_loops import PARALLEL_MIN_WORK
from compiler.passes.matmul_epilogue import Epilogue, match_epilogue
from compiler.passes.matmul_functions import (
    SharedFunctions,
    build_pack,
    call,
    coefficients,
    distinct,
    flat,
    flat_type,
    linear,
    pack_args,
)
from compiler.passes.matmul_microkernel import (
    MACRO_ARGS,
    Contraction,
    MacroKernel,
    Tile,
    arith_op,
    loop,
    parallel_loop,
)

# BLIS's blockings (haswell for AVX2, skx for AVX-512), for row-major C: A is broadcast, B loaded.
# On AVX-512 the B micro-panel (KC × NR: 128 bytes a depth step for 12 × 32 f32) is too large for a
# 48 KiB L1 at a useful depth, so the macro-kernel keeps A's micro-panel there instead (12 × 512 f32:
# 24 KiB) and streams B's panels past it from L2 (Bp, KC × NC, about 1 MiB of a 2 MiB L2),
# prefetched 16 depth steps ahead: 3-8 % faster than BLIS's order at 512-2048 and on the MLP, its
# training step and the Transformer block (docs/performance.md, "A's micro-panel in L1")
TILES = {
    ("avx2", 32): Tile(vl=8, mr=6, nr=16, mc=168, kc=256, nc=4080, kc_large_c=512),
    ("avx2", 64): Tile(vl=4, mr=6, nr=8, mc=72, kc=256, nc=4080, kc_large_c=512),
    ("avx512", 32): Tile(vl=16, mr=12, nr=32, mc=240, kc=512, nc=512, a_in_l1=True, prefetch=16),
    ("avx512", 64): Tile(vl=8, mr=12, nr=16, mc=96, kc=384, nc=336, a_in_l1=True, prefetch=16),
}
# A C larger than this is not held by the caches between two depth blocks (with its operands, it
# exceeds an L3 share): each block's pass over C goes to memory — reading and writing 16 MiB per
# block at 2048² f32 — so tiles with `kc_large_c` use fewer, deeper blocks. AVX2, 2048³ f32 and
# f64: KC 512 took 0.87–0.95 of KC 256's time (docs/performance.md, "Deeper depth blocks for a
# large C"); at 1024² (C 4 MiB) and in the MLP it was no faster, and KC 512 for every product
# made the MLP forward 1.2× slower
LARGE_C_BYTES = 12 * 2 ** 20
# the most an Ap of all of A's rows may take (`whole_a`; above it, A is packed per block of rows):
# well below the 32 MiB up to which runtime/malloc.py keeps buffers in the heap from call to call
WHOLE_A_BYTES = 16 * 2 ** 20
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
    k = reds[0]
    n = dc[-1] if len(dc) >= 2 else None  # C's columns: its innermost dim
    if n is not None and n in da and n not in db:  # the inputs in the other order (B·A): swap them
        a, b, da, db = b, a, db, da
        maps, types = (maps[1], maps[0], maps[2]), [types[1], types[0], types[2]]
    # C's rows: of its other dims that only A has (next to n, or further out when C was written
    # transposed: `linalg-fuse-elementwise` folds `transpose(p @ v, (0, 2, 1, 3))` into C), the
    # longest, the last of equals; the others are batch dims (`transpose(x @ w, (1, 0, 2))` with a
    # batch of 1 has rows m, not the batch dim next to n)
    size = dict(zip(dc, types[2].get_shape()))
    m = max(reversed([d for d in dc[:-1] if d in da and d not in db]), key=size.__getitem__, default=None)
    batch = [d for d in dc if d not in (m, n)]
    if m is None or len(dc) != maps[2].num_dims - 1 or n not in db or n in da:
        return None
    if len(da) != len(set(da)) or len(db) != len(set(db)) or k not in da or k not in db or \
            any(d not in batch for d in da + db if d not in (m, n, k)) or \
            any(size < 0 for t in types for size in t.get_shape()) or any(not isinstance(t.layout, NoneAttr) for t in types):
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


def direct_a_pays(n: int, t: Tile, max_panels: int) -> bool:
    """Whether the micro-kernel reads A's rows where they are instead of a packed copy (BLIS's
    "sup" kernels do this for small products): packing A is a pass over A that no FMA overlaps, and
    it pays for itself only when many panels of B re-read the packed block (`max_panels`: the
    pass's `direct_a` option; docs/performance.md, "Packing: … A read without packing")."""
    return math.ceil(n / t.nr) <= max_panels


def block_depth(k: int, t: Tile, c_bytes: int = 0) -> int:
    """Depth of a block: at most KC (`kc_large_c` for a C of more than LARGE_C_BYTES), the blocks
    as equal as possible (K = 784 with KC = 384 is 3 × 262, not 384 + 384 + 16: every depth block
    reads and writes all of C, so a thin last one costs a pass over C for little work; OpenBLAS
    likewise halves the last two)."""
    kc = t.kc_large_c if t.kc_large_c and c_bytes > LARGE_C_BYTES else t.kc
    return math.ceil(k / math.ceil(k / kc)) if k else kc


# ------------------------------------------------------------------------------- the kernel
def elem_name(elem) -> str:
    return f"f{elem.bitwidth}"


class KernelBuilder:
    """Emits the loops around packing and the macro-kernel for one contraction and one tile; the
    packing routines and the macro-kernel are calls to the module's shared functions."""

    def __init__(self, e: Emitter, c: Contraction, t: Tile, parallel: bool, overwrite: bool,
                 epilogue: Epilogue | None, shared: SharedFunctions, direct_a: int):
        self.e, self.c, self.t, self.parallel = e, c, t, parallel
        self.overwrite, self.epilogue = overwrite, epilogue
        self.elem = c.c.type.element_type
        self.M, self.N, self.K = (c.bounds[d] for d in (c.m, c.n, c.k))
        self.mc = block_rows(self.M, t, parallel)
        self.kc = block_depth(self.K, t, self.M * self.N * self.elem.bitwidth // 8)
        kce = min(self.K, self.kc)
        self.ap_t = MemRefType(self.elem, [math.ceil(min(self.M, self.mc) / t.mr), kce, t.mr])
        self.bp_t = MemRefType(self.elem, [math.ceil(min(self.N, t.nc) / t.nr), kce, t.nr])
        self.coeff = [coefficients(c.maps[i], v.type) for i, v in enumerate((c.a, c.b, c.c))]
        c_dims = [r.position for r in c.maps[2].results]  # C's indices as the contraction's dims
        self.ep_coeff = [{c_dims[p]: s for p, s in coefficients(m, buf.type).items()}
                         for buf, m in (epilogue.buffers() if epilogue else [])]
        name, size = elem_name(self.elem), f"{t.mr}x{t.nr}"
        # B's panels are packed by all threads when the blocks run in parallel (else the packing,
        # ~1/MC of the work, would be serial: 5-10 % of a 512³ product on 2 cores)
        across_b = parallel and min(self.N, t.nc) * self.kc >= PARALLEL_MIN_WORK
        # A read where it is, not packed: its rows contiguous along k, few panels of B
        self.direct_a = self.coeff[0].get(c.k) == 1 and direct_a_pays(self.N, t, direct_a)
        # B does not depend on the batch (`x @ W` with x batched): the batch loops go inside B's
        # blocks, so B is packed once per block instead of once per batch element
        self.shared_b = not any(isinstance(r, AffineDimExpr) and r.position in c.batch for r in c.maps[1].results)
        # with A's micro-panels in L1 and several column blocks of B, A is packed once per depth
        # block for all of its rows, not again for every column block (`blocks`)
        a_bytes = math.ceil(self.M / t.mr) * t.mr * min(self.K, self.kc) * self.elem.bitwidth // 8
        self.whole_a = (t.a_in_l1 and not self.direct_a and self.N > t.nc and a_bytes <= WHOLE_A_BYTES
                        and not (self.shared_b and c.batch))
        if self.whole_a:
            self.ap_t = MemRefType(self.elem, [math.ceil(self.M / t.mr), kce, t.mr])
        across_a = self.whole_a and parallel and self.M * self.kc >= PARALLEL_MIN_WORK
        self.packs = [None] if self.direct_a else []
        for operand, (width, dim) in enumerate(((t.mr, c.m), (t.nr, c.n))):
            if operand == 0 and self.direct_a:
                continue
            # unit strides (the operand's rows along k; its lanes along m or n) are constants in the routine
            along_k, lanes = self.coeff[operand].get(c.k) == 1, self.coeff[operand].get(dim) == 1
            across = across_b if operand == 1 else across_a
            self.packs.append(shared.get(
                ("pack", operand, name, t, along_k, lanes, across), f"matmul_pack_{'ab'[operand]}_{name}_{size}",
                pack_args(self.elem),
                lambda be, args, w=width, ak=along_k, ln=lanes, x=across: build_pack(be, args, t, w, ak, ln, x),
                e.loc))
        noalias = epilogue is None or distinct([c.c, *[buf for buf, _ in epilogue.buffers()]])
        flat_t = flat_type(self.elem)
        self.ct_t = MemRefType(self.elem, [t.mr, t.nr])
        a_noalias = not self.direct_a or distinct([c.a, c.c])  # (Ap is a fresh buffer)
        args = [("a" if self.direct_a else "ap", flat_t, a_noalias), ("bp", flat_t, True), ("c", flat_t, noalias),
                ("ct", self.ct_t, True), *[(n, IndexType(), False) for n in MACRO_ARGS]]
        args += [("a_base", IndexType(), False)] + ([("lda", IndexType(), False)] if self.direct_a else [])
        args += [("first", i1, False)] if overwrite else []
        args += [("last", i1, False)] if epilogue else []
        for i in range(len(self.ep_coeff)):
            args += [(f"e{i}", flat_t, noalias), (f"e{i}_base", IndexType(), False), (f"e{i}_stride", IndexType(), False)]
        args += [(f"s{i}", self.elem, False) for i in range(len(epilogue.scalars()) if epilogue else 0)]
        key = ("macro", name, t, overwrite, epilogue.key() if epilogue else None, noalias, self.direct_a, a_noalias)
        self.macro = shared.get(key, f"matmul_macro_{name}_{size}", args,
                                MacroKernel(t, self.elem, overwrite, epilogue, self.direct_a).build, e.loc)

    def emit(self) -> None:
        e, c = self.e, self.c
        bp = e.alloc(self.bp_t)
        # Ap (unless A is read directly) and Ct, per thread when parallel; Ap of all of A's rows
        # (`whole_a`) one for all threads
        ap = None if self.direct_a or (self.parallel and not self.whole_a) else e.alloc(self.ap_t)
        shared = [] if self.parallel else [ap, e.alloc(self.ct_t)]
        ivs: list[SSAValue | None] = [None] * len(c.bounds)

        def batch(be: Emitter, level: int, inner: Callable[[Emitter], None]) -> None:
            if level == len(c.batch):
                inner(be)
                return

            def body(le, iv, _):
                ivs[c.batch[level]] = iv
                batch(le, level + 1, inner)
            loop(be, be.index(0), be.index(c.bounds[c.batch[level]]), be.index(1), body)

        if self.whole_a:
            batch(e, 0, lambda be: self.blocks(be, ivs, bp, shared, lambda be2, rows: rows(be2), ap))
        elif self.shared_b:  # B packed once per block, then every batch element's rows run on it
            self.blocks(e, ivs, bp, shared, lambda be, rows: batch(be, 0, rows))
        else:
            batch(e, 0, lambda be: self.blocks(be, ivs, bp, shared, lambda be2, rows: rows(be2)))
        for buf in dict.fromkeys([bp, ap, *shared]):  # (Ap is in `shared` too when not parallel)
            if buf is not None:
                e.add(memref.DeallocOp.get(buf))

    def blocks(self, e: Emitter, ivs: list, bp: SSAValue, shared: list[SSAValue],
               around_rows: Callable[[Emitter, Callable[[Emitter], None]], None], ap: SSAValue | None = None) -> None:
        """The loops over B's column blocks, depth blocks and A's row blocks; `around_rows` emits
        the row blocks' loop (with the batch loops around it, when B is the same for all). With
        `whole_a` (`ap`: an Ap of all of A's rows) the depth loop goes outside and A is packed in it,
        once per depth block, not once per column block (BLIS's loops with the operands' roles
        mirrored, as its column-major skx kernel has them: the operand kept in L1 is packed
        outside B's blocks)."""
        t = self.t

        def columns(e1, jc):
            return arith_op(e1, arith.MinSIOp, e1.index(t.nc), arith_op(e1, arith.SubiOp, e1.index(self.N), jc))

        def column_block(e2, jc, nc, pc, kc, flags):  # B's block packed, then A's row blocks on it
            self.pack(e2, 1, ivs, bp, jc, nc, pc, kc)

            def ic_body(e3, ic, _):
                mc = arith_op(e3, arith.MinSIOp, e3.index(self.mc), arith_op(e3, arith.SubiOp, e3.index(self.M), ic))
                if shared:
                    a_buf, ct = shared
                    own = []
                else:  # per thread
                    a_buf = ap if self.whole_a else None if self.direct_a else e3.alloc(self.ap_t)
                    ct = e3.alloc(self.ct_t)
                    own = [ct] if self.whole_a or self.direct_a else [a_buf, ct]
                if not (self.direct_a or self.whole_a):
                    self.pack(e3, 0, ivs, a_buf, ic, mc, pc, kc)
                self.macro_kernel(e3, ivs, a_buf, bp, ct, [ic, mc, jc, nc, kc], flags, pc)
                for buf in own:
                    e3.add(memref.DeallocOp.get(buf))

            around_rows(e2, lambda e3: (parallel_loop if self.parallel else loop)(
                e3, e3.index(0), e3.index(self.M), e3.index(self.mc), ic_body))

        if self.whole_a:
            def pc_outer(e1, pc, _):
                kc, flags = self.depth_block(e1, pc)
                self.pack(e1, 0, ivs, ap, e1.index(0), e1.index(self.M), pc, kc)
                loop(e1, e1.index(0), e1.index(self.N), e1.index(t.nc),
                     lambda e2, jc, _: column_block(e2, jc, columns(e2, jc), pc, kc, flags))
            loop(e, e.index(0), e.index(self.K), e.index(self.kc), pc_outer)
            return

        def jc_body(e1, jc, _):
            nc = columns(e1, jc)
            loop(e1, e1.index(0), e1.index(self.K), e1.index(self.kc),
                 lambda e2, pc, _: column_block(e2, jc, nc, pc, *self.depth_block(e2, pc)))
        loop(e, e.index(0), e.index(self.N), e.index(t.nc), jc_body)

    def depth_block(self, e: Emitter, pc: SSAValue) -> tuple[SSAValue, list[SSAValue]]:
        """The depth of the block from `pc`, and the macro-kernel's flags: `first` (overwriting:
        pc == 0), `last` (with an epilogue: pc + kc == K)."""
        kc = arith_op(e, arith.MinSIOp, e.index(self.kc), arith_op(e, arith.SubiOp, e.index(self.K), pc))
        flags = [e.cmp("eq", pc, e.index(0))] if self.overwrite else []
        if self.epilogue:
            flags.append(e.cmp("eq", arith_op(e, arith.AddiOp, pc, kc), e.index(self.K)))
        return kc, flags

    def pack(self, e: Emitter, operand: int, ivs: list, buf: SSAValue, start: SSAValue, size: SSAValue,
             pc: SSAValue, kc: SSAValue) -> None:
        """A call of the packing routine of A (operand 0) or B (1): see `build_pack`."""
        c, coeff = self.c, self.coeff[operand]
        dim = c.m if operand == 0 else c.n
        src = c.a if operand == 0 else c.b
        args = [flat(e, src), flat(e, buf), linear(e, coeff, ivs, c.batch), e.index(coeff[dim]), e.index(coeff[c.k]),
                start, size, pc, kc, e.index(c.bounds[dim])]
        call(e, self.packs[operand], args)

    def macro_kernel(self, e: Emitter, ivs: list, ap: SSAValue | None, bp: SSAValue, ct: SSAValue,
                     blocks: list[SSAValue], flags: list[SSAValue], pc: SSAValue) -> None:
        c = self.c
        args = [flat(e, c.a if self.direct_a else ap), flat(e, bp), flat(e, c.c), ct,
                linear(e, self.coeff[2], ivs, c.batch), e.index(self.coeff[2][c.m]), e.index(self.M), *blocks]
        if self.direct_a:  # A's batch offset plus the depth block's first column, A's row stride
            args += [arith_op(e, arith.AddiOp, linear(e, self.coeff[0], ivs, c.batch), pc), e.index(self.coeff[0][c.m])]
        else:  # the block's first panel in Ap: ic / MR panels of kc × MR in an Ap of all of A's rows
            args += [arith_op(e, arith.MuliOp, blocks[0], blocks[4]) if self.whole_a else e.index(0)]
        args += flags
        for (buf, _), coeff in zip(self.epilogue.buffers() if self.epilogue else [], self.ep_coeff):
            args += [flat(e, buf), linear(e, coeff, ivs, c.batch), e.index(coeff.get(c.m, 0))]
        args += self.epilogue.scalars() if self.epilogue else []
        call(e, self.macro, args)


class LowerContraction(RewritePattern):
    def __init__(self, isa: str, parallel: bool, min_size: int, direct_a: int, shared: SharedFunctions):
        self.isa, self.parallel, self.min_size, self.direct_a, self.shared = isa, parallel, min_size, direct_a, shared

    @op_type_rewrite_pattern
    def match_and_rewrite(self, op: linalg.GenericOp, rewriter: PatternRewriter, /):
        c = match_contraction(op)
        if c is None or self.isa == "none":
            return
        if c.bounds[c.m] * c.bounds[c.n] * c.bounds[c.k] < self.min_size or c.bounds[c.m] == 0:
            return  # (an empty C has nothing to compute: the loops do nothing, the kernel's blocks cannot)
        tile = TILES[(self.isa, c.c.type.element_type.bitwidth)]
        fill = zero_fill_of(op, c)
        epilogue = match_epilogue(op, c.c) if c.bounds[c.k] > 0 else None
        e = Emitter(op.location)
        KernelBuilder(e, c, tile, self.parallel, fill is not None, epilogue, self.shared, self.direct_a).emit()
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
    contraction is left to `loom-linalg-to-loops`), `direct-a` (A, when its rows are contiguous
    along k, is read by the micro-kernel where it is, not packed, when at most this many panels of
    B (NR columns each) re-read it; 0: A always packed)."""

    name = "loom-matmul-kernel"

    isa: str = "host"
    parallel: bool = True
    min_size: int = 32768
    direct_a: int = 16

    def __post_init__(self):
        if self.isa not in ISAS:
            raise ValueError(f"isa must be one of {', '.join(ISAS)}, not '{self.isa}'")

    def apply(self, ctx: Context, op: ModuleOp) -> None:
        isa = host_isa() if self.isa == "host" else self.isa
        shared = SharedFunctions(op)
        PatternRewriteWalker(LowerContraction(isa, self.parallel, self.min_size, self.direct_a, shared),
                             apply_recursively=False).rewrite_module(op)
        shared.finish()
