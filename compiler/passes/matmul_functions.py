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

import math
from collections.abc import Callable
from dataclasses import dataclass, field

from xdsl.dialects import arith, func, memref, vector
from xdsl.dialects.builtin import (
    ArrayAttr,
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
        """The name of the function of `key`, built (`body(emitter, arguments)`) on first use."""
        if key in self.by_key:
            return self.by_key[key]
        name, k = stem, 1
        while name in self.names:
            name, k = f"{stem}_{k}", k + 1
        self.names.add(name)
        block = Block(arg_types=[t for _, t, _ in args])
        for arg, (hint, _, _) in zip(block.args, args):
            arg.name_hint = hint
        e = Emitter(loc)
        body(e, list(block.args))
        e.add(func.ReturnOp())
        block.add_ops(e.ops)
        attrs = ArrayAttr([NOALIAS if noalias else DictionaryAttr({}) for _, _, noalias in args])
        fn = func.FuncOp(name, ([t for _, t, _ in args], []), Region(block), visibility="private", arg_attrs=attrs)
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


def build_pack(e: Emitter, args: list[SSAValue], t: Tile, width: int, along_k: bool, vector_lanes: bool,
               across: bool = False) -> None:
    """buf[(q·kc + p)·width + j] = src[base + (start + q·width + j)·stride_mn + (pc + p)·stride_k]
    for the `size` rows of A (columns of B) from `start`, 0 past them. A whole panel is copied without
    bounds checks, with vector loads and stores when its lanes are contiguous in the operand
    (`vector_lanes`: stride_mn is 1); the last, partial panel is padded, read along k when the
    operand's rows run along k (`along_k`). With `across`, the panels are an `scf.parallel` (packed
    by all threads)."""
    src, buf, base, s_mn, s_k, start, size, pc, kc, full = args
    elem = src.type.element_type
    vt = VectorType(elem, [t.vl])
    panels = e.add(arith.CeilDivSIOp(size, e.index(width)))
    zero_f = e.const(0.0, elem)
    w = e.index(width)

    def at(b: Emitter, mn: SSAValue, k: SSAValue) -> SSAValue:
        return arith_op(b, arith.AddiOp, arith_op(b, arith.AddiOp, base, arith_op(b, arith.MuliOp, mn, s_mn)),
                        arith_op(b, arith.MuliOp, k, s_k))

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
                    for v in range(width // t.vl):
                        x = e3.add(vector.LoadOp(src, [at(e3, plus(e3, first, v * t.vl), k)], vt))
                        e3.add(vector.StoreOp(x, buf, [dest(e3, q, p, v * t.vl)]))
                    return

                def lane(e4, j, _):
                    x = e4.add(memref.LoadOp.get(src, [at(e4, arith_op(e4, arith.AddiOp, first, j), k)]))
                    e4.add(memref.StoreOp.get(x, buf, [dest(e4, q, p, j)]))
                loop(e3, e3.index(0), w, e3.index(1), lane)
            loop(e2, e2.index(0), kc, e2.index(1), step)
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
