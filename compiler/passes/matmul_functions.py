"""The functions `loom-matmul-kernel` shares between the matmuls of a module: each distinct packing
routine and macro-kernel is emitted once, as a `func.func private` marked `no_inline`, and called
(`func.call`) by every matmul that needs that variant (BLIS likewise compiles its kernels once and
passes them sizes and strides). What differs between call sites — shapes, C's row stride, batch
offsets, block sizes — is a run-time argument; what changes the code — the element type, the tile,
the operand's layout, overwriting C, the epilogue's body — is the variant's key.

A buffer is passed flat, as `memref<?xT>` (a `memref.collapse_shape` to one dimension, then a
`memref.cast` to the dynamic size: the same pointer), and addressed with explicit strides:
element `(i, j)` of a matrix at `base + i·stride_i + j·stride_j`. Packing one operand of
`f32[64, 48] @ f32[48, 40]` (AVX2) reads

    %a1 = memref.collapse_shape %a [[0, 1]] : memref<64x48xf32> into memref<3072xf32>
    %a2 = memref.cast %a1 : memref<3072xf32> to memref<?xf32>
    %ap1 = memref.collapse_shape %ap [[0, 1, 2]] : memref<11x48x6xf32> into memref<3168xf32>
    %ap2 = memref.cast %ap1 : memref<3168xf32> to memref<?xf32>
    func.call @matmul_pack_a_f32_6x16(%a2, %ap2, %c0, %c48, %c1, %ic, %mc, %pc, %kc, %c64)
        : (memref<?xf32>, memref<?xf32>, index, index, index, index, index, index, index, index) -> ()
    …
    func.func private @matmul_pack_a_f32_6x16(%src: memref<?xf32> {llvm.noalias},
        %buf: memref<?xf32> {llvm.noalias}, %base: index, %stride_mn: index, %stride_k: index,
        %start: index, %size: index, %pc: index, %kc: index, %full: index) attributes {no_inline} {…}

Packed buffers are written panel after panel, each `kc × width` (`Ap[q, p, i]` at
`(q·kc + p)·MR + i`). Arguments are `llvm.noalias` when no call site can pass overlapping memory:
packed buffers always (fresh allocations, one per call), C and the epilogue's operands when each is
a distinct allocation or argument of the caller (`noalias` is then part of the key).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from dataclasses import dataclass, field

from xdsl.dialects import arith, func, memref, vector
from xdsl.dialects.builtin import (
    ArrayAttr,
    DenseArrayBase,
    DictionaryAttr,
    IndexType,
    IntegerAttr,
    MemRefType,
    ModuleOp,
    UnitAttr,
    VectorType,
    i64,
)
from xdsl.ir import Attribute, Block, Operation, Region, SSAValue
from xdsl.ir.affine import AffineDimExpr, AffineMap

from compiler.passes.convert_func_to_llvm import NO_INLINE
from compiler.passes.emitter import Emitter
from compiler.passes.loom_buffer_dealloc import root
from compiler.passes.loom_outline_loops import NOALIAS, distinct_buffer
from compiler.passes.matmul_microkernel import Tile, arith_op, if_, loop, parallel_loop, plus
from runtime import kernel_library

INDEX = IndexType()


def flat_type(elem: Attribute) -> MemRefType:
    return MemRefType(elem, [memref.DYNAMIC_INDEX])


def flat(e: Emitter, v: SSAValue) -> SSAValue:
    """Buffer `v` (static, row-major) as `memref<?xT>`: the same memory, one dimension."""
    t = v.type
    shape = list(t.get_shape())
    if len(shape) != 1:
        groups = ArrayAttr([ArrayAttr([IntegerAttr(i, i64) for i in range(len(shape))])] if shape else [])
        one = MemRefType(t.element_type, [math.prod(shape)])
        if shape:
            v = e.add(memref.CollapseShapeOp(operands=[v], result_types=[one], properties={"reassociation": groups}))
        else:
            v = e.add(memref.ExpandShapeOp(operands=[v, []], result_types=[one],
                                           properties={"reassociation": groups,
                                                       "static_output_shape": memref.DenseArrayBase.from_list(i64, [1])}))
    return e.add(memref.CastOp.get(v, flat_type(t.element_type)))


def coefficients(m: AffineMap, t: MemRefType) -> dict[int, int]:
    """The stride of each iteration dim in the flat index of a row-major buffer read through `m`
    (a projection whose results are dims or the constant 0)."""
    shape = list(t.get_shape())
    out: dict[int, int] = {}
    for i, r in enumerate(m.results):
        if isinstance(r, AffineDimExpr):
            out[r.position] = out.get(r.position, 0) + math.prod(shape[i + 1:])
    return out


def linear(e: Emitter, coeff: dict[int, int], ivs: list[SSAValue | None], dims) -> SSAValue:
    """`Σ coeff[d]·ivs[d]` over `dims` (the batch offset of a buffer)."""
    total = e.index(0)
    for d in dims:
        if coeff.get(d):
            total = arith_op(e, arith.AddiOp, total, arith_op(e, arith.MuliOp, ivs[d], e.index(coeff[d])))
    return total


def distinct(buffers: list[SSAValue]) -> bool:
    """Whether the buffers are pairwise different memory: each a distinct allocation or argument of
    the enclosing function (which are `noalias`), viewed through reshapes at most."""
    roots = [root(v) for v in buffers]
    if len(set(roots)) != len(roots):
        return False
    op: Operation = buffers[0].owner if isinstance(buffers[0].owner, Operation) else buffers[0].owner.parent_op()
    while not isinstance(op, func.FuncOp):
        op = op.parent_op()
    return all(distinct_buffer(r, op.body.blocks[0]) for r in roots)


Arg = tuple[str, Attribute, bool]  # name, type, noalias


def recipe(key: tuple, stem: str, args: list[Arg]) -> str:
    """What a shared function's code is made from, as text that is the same in every process (the
    kernel library's index; sets sorted: xDSL keeps fast-math flags in one)."""
    return canonical((stem, key, [(n, t, noalias) for n, t, noalias in args]))


def canonical(x) -> str:
    if isinstance(x, (tuple, list)):
        return "(" + ",".join(map(canonical, x)) + ")"
    if isinstance(x, (set, frozenset)):
        return "{" + ",".join(sorted(map(canonical, x))) + "}"
    if isinstance(x, dict):
        return "{" + ",".join(sorted(f"{canonical(k)}:{canonical(v)}" for k, v in x.items())) + "}"
    if dataclasses.is_dataclass(x) and not isinstance(x, type):
        return type(x).__name__ + canonical([(f.name, getattr(x, f.name)) for f in dataclasses.fields(x)])
    return repr(x)


@dataclass
class SharedFunctions:
    """The module's shared matmul functions, one per key; added to the module by `finish`."""

    module: ModuleOp
    names: set[str] = field(default_factory=set)
    by_key: dict[tuple, str] = field(default_factory=dict)
    functions: list[func.FuncOp] = field(default_factory=list)

    def __post_init__(self):
        self.names = {o.sym_name.data for o in self.module.body.block.ops if hasattr(o, "sym_name")}

    def get(self, key: tuple, stem: str, args: list[Arg], body: Callable[[Emitter, list[SSAValue]], None],
            loc) -> str:
        """The name of the function of `key`, built (`body(emitter, arguments)`) on first use; only
        declared, by its compiled unit's symbol, when the JIT's kernel library has compiled it
        before (`runtime/kernel_library.py`)."""
        if key in self.by_key:
            return self.by_key[key]
        library = kernel_library.active()
        text = recipe(key, stem, args) if library is not None else ""
        found = library.find(text) if library is not None else None
        if found is not None and found in self.names:  # two recipes, one kernel: declared once
            self.by_key[key] = found
            return found
        name, k = found or stem, 1
        while name in self.names:
            name, k = f"{stem}_{k}", k + 1
        self.names.add(name)
        block = None
        if found is None:
            block = Block(arg_types=[t for _, t, _ in args])
            for arg, (hint, _, _) in zip(block.args, args):
                arg.name_hint = hint
            e = Emitter(loc)
            body(e, list(block.args))
            e.add(func.ReturnOp())
            block.add_ops(e.ops)
            if library is not None:
                library.built_as(name, text)
        attrs = ArrayAttr([NOALIAS if noalias else DictionaryAttr({}) for _, _, noalias in args])
        fn = func.FuncOp(name, ([t for _, t, _ in args], []), Region(block) if block else Region(),
                         visibility="private", arg_attrs=attrs)
        fn.attributes[NO_INLINE] = UnitAttr()
        fn.location = loc
        self.functions.append(fn)
        self.by_key[key] = name
        return name

    def finish(self) -> None:
        for fn in self.functions:
            self.module.body.block.add_op(fn)


def call(e: Emitter, name: str, args: list[SSAValue]) -> None:
    e.add(func.CallOp(name, args, []))


# ------------------------------------------------------------------------------- packing
PACK_ARGS = ("base", "stride_mn", "stride_k", "start", "size", "pc", "kc", "full")


def pack_args(elem: Attribute) -> list[Arg]:
    return [("src", flat_type(elem), True), ("buf", flat_type(elem), True), *[(n, INDEX, False) for n in PACK_ARGS]]


def shuffle(e: Emitter, a: SSAValue, b: SSAValue, mask: list[int]) -> SSAValue:
    """`vector.shuffle`: lane i of the result is lane mask[i] of `a` followed by `b`."""
    return e.add(vector.ShuffleOp(a, b, DenseArrayBase.from_list(i64, mask),
                                  result_type=VectorType(a.type.element_type, [len(mask)])))


def transpose_in_registers(e: Emitter, rows: list[SSAValue]) -> list[SSAValue]:
    """The transpose of a VL × VL block held in VL vectors (VL a power of 2): log2(VL) stages of
    two-source shuffles, stage b exchanging bit b of the row index with bit b of the lane index
    (lane l of the new row i is lane l of row i when l and i agree on bit b, else lane l ^ b of row
    i ^ b). 64 shuffles for 16 × 16 f32 (`vpermt2ps` on AVX-512), where lane-by-lane copies take
    256 loads and 256 stores."""
    vl, rows, bit = len(rows), list(rows), 1
    while bit < vl:
        for i in range(vl):
            if i & bit:
                continue
            a, b = rows[i], rows[i | bit]
            rows[i] = shuffle(e, a, b, [lane if not lane & bit else vl + (lane & ~bit) for lane in range(vl)])
            rows[i | bit] = shuffle(e, a, b, [lane | bit if not lane & bit else vl + lane for lane in range(vl)])
        bit <<= 1
    return rows


def build_pack(e: Emitter, args: list[SSAValue], t: Tile, width: int, along_k: bool, vector_lanes: bool,
               across: bool = False) -> None:
    """buf[(q·kc + p)·width + j] = src[base + (start + q·width + j)·stride_mn + (pc + p)·stride_k]
    for the `size` rows of A (columns of B) from `start`, 0 past them. A whole panel is copied without
    bounds checks, with vector loads and stores when its lanes are contiguous in the operand
    (`vector_lanes`: stride_mn is 1; MR = 12 lanes of f32 on AVX-512 are one `vector<12xf32>`); the
    last, partial panel is padded, read along k when the operand's rows run along k (`along_k`:
    stride_k is 1). A whole panel whose rows run along k but whose lanes do not (A row-major, B
    transposed) is copied VL depth steps at a time: a vector load per row, a transpose in registers
    (`transpose_in_registers`), a store per depth step; the last kc mod VL steps lane by lane. A unit
    stride is known in the routine, not read from its argument. With `across`, the panels are an
    `scf.parallel` (packed by all threads)."""
    src, buf, base, s_mn, s_k, start, size, pc, kc, full = args
    elem = src.type.element_type
    s_k = None if along_k else s_k  # a unit stride: no multiplication
    s_mn = None if vector_lanes else s_mn
    vt = VectorType(elem, [t.vl])
    chunks = [(v * t.vl, t.vl) for v in range(width // t.vl)] + ([(width - width % t.vl, width % t.vl)] if width % t.vl else [])
    panels = e.add(arith.CeilDivSIOp(size, e.index(width)))
    zero_f = e.const(0.0, elem)
    w = e.index(width)

    def scaled(b: Emitter, x: SSAValue, stride: SSAValue | None) -> SSAValue:
        return x if stride is None else arith_op(b, arith.MuliOp, x, stride)

    def at(b: Emitter, mn: SSAValue, k: SSAValue) -> SSAValue:
        return arith_op(b, arith.AddiOp, arith_op(b, arith.AddiOp, base, scaled(b, mn, s_mn)), scaled(b, k, s_k))

    def dest(b: Emitter, q: SSAValue, p: SSAValue, j: SSAValue | int) -> SSAValue:
        row = arith_op(b, arith.MuliOp, arith_op(b, arith.AddiOp, arith_op(b, arith.MuliOp, q, kc), p), w)
        return plus(b, row, j) if isinstance(j, int) else arith_op(b, arith.AddiOp, row, j)

    def panel(e1, q, _):
        first_off = arith_op(e1, arith.MuliOp, q, w)
        first = arith_op(e1, arith.AddiOp, start, first_off)

        def whole(e2):
            def step(e3, p, _):
                k = arith_op(e3, arith.AddiOp, pc, p)
                if vector_lanes:
                    for off, n in chunks:
                        x = e3.add(vector.LoadOp(src, [at(e3, plus(e3, first, off), k)], VectorType(elem, [n])))
                        e3.add(vector.StoreOp(x, buf, [dest(e3, q, p, off)]))
                    return

                def lane(e4, j, _):
                    x = e4.add(memref.LoadOp.get(src, [at(e4, arith_op(e4, arith.AddiOp, first, j), k)]))
                    e4.add(memref.StoreOp.get(x, buf, [dest(e4, q, p, j)]))
                loop(e3, e3.index(0), w, e3.index(1), lane)
            if vector_lanes or not along_k:
                loop(e2, e2.index(0), kc, e2.index(1), step)
                return []
            # the panel's rows are contiguous along k, its lanes are not: VL depth steps at a time,
            # one vector load per row, transposed in registers, one vector store per depth step;
            # the last kc mod VL steps lane by lane
            vl = e2.index(t.vl)
            blocks_end = arith_op(e2, arith.MuliOp, e2.add(arith.DivSIOp(kc, vl)), vl)
            zero_v = e2.add(vector.BroadcastOp(zero_f, vt))

            def block(e3, p0, _):
                k0 = arith_op(e3, arith.AddiOp, pc, p0)
                for g in range(0, width, t.vl):
                    n = min(t.vl, width - g)
                    rows = [e3.add(vector.LoadOp(src, [at(e3, plus(e3, first, g + r), k0)], vt)) for r in range(n)]
                    for p, col in enumerate(transpose_in_registers(e3, rows + [zero_v] * (t.vl - n))):
                        if n < t.vl:
                            col = shuffle(e3, col, col, list(range(n)))
                        e3.add(vector.StoreOp(col, buf, [dest(e3, q, plus(e3, p0, p), g)]))
            loop(e2, e2.index(0), blocks_end, vl, block)
            loop(e2, blocks_end, kc, e2.index(1), step)
            return []

        def padded(e2):
            def element(e3, p, j):
                off = arith_op(e3, arith.AddiOp, first_off, j)
                inside = e3.cmp("lt", off, size)
                last = arith_op(e3, arith.SubiOp, full, e3.index(1))
                mn = arith_op(e3, arith.MinSIOp, arith_op(e3, arith.AddiOp, start, off), last)
                x = e3.add(memref.LoadOp.get(src, [at(e3, mn, arith_op(e3, arith.AddiOp, pc, p))]))
                e3.add(memref.StoreOp.get(e3.select(inside, x, zero_f), buf, [dest(e3, q, p, j)]))

            def outer(e3, x, _):
                def inner(e4, y, _):
                    element(e4, *((x, y) if not along_k else (y, x)))
                loop(e3, e3.index(0), kc if along_k else w, e3.index(1), inner)
            loop(e2, e2.index(0), w if along_k else kc, e2.index(1), outer)
            return []

        end = arith_op(e1, arith.AddiOp, first_off, w)
        if_(e1, e1.cmp("le", end, size), whole, padded, [])
    (parallel_loop if across else loop)(e, e.index(0), panels, e.index(1), panel)
