"""Indexing along a split dimension without gathering it (used by `shard-partition` for `loom.slice`).

A subscript other than `:` on a dimension split over the mesh used to need the dimension whole on
every device (an `all_gather`). Two cases are partitioned instead, each when the cost model
(`cost_model.collective_time`) says it is cheaper than that all_gather:

**Halo exchange** (GSPMD's windowed slicing): a static step-1 range `x[a:a+L]` of a dimension of size
N split over one mesh axis of n devices (block M = N/n), with n dividing L (block m = L/n). Device
j needs source positions [a + j·m, a + (j+1)·m), which start at s_j = a + j·(m − M) relative to its
block. With hl = max_j(−s_j, 0) and hr = max_j(s_j + m − M, 0), both at most M, each device sends
its first hr elements to its left neighbour and its last hl to its right one (`shard.shift`, no
`rotate`: the device without a neighbour receives an undefined halo, which it never reads), joins
[left halo, block, right halo] and takes m elements from offset s_j + hl (a dynamic window: s_j
depends on the device's position). The result stays split like the source. No halo at all
(`x[1:7]` of 8 on 2 devices) means no communication.

    %x : tensor<8xf32> split over axis 0 of @M(shape = 4), y = x[1:5]  (M = 2, m = 1, s_j = 1 − j, hl = 2)
  ==>
    %hi = loom.slice %x {[0:2]}                                  : tensor<2xf32> -> tensor<2xf32>
    %l = shard.shift %hi on @M grid_axes = [0] shift_axis = 0 offset = 1 {loom.reason = "…"}
    %e = loom.concat %l, %x {axis = 0}                           : tensor<4xf32>
    %j = shard.process_multi_index on @M axes = [0] : index      (offset (1 + 2) + j·(1 − 2))
    %y = loom.slice %e[%off] {[%off:%off+1]}                     : tensor<1xf32>

**Picking one element** (`x[i]`, dynamic or static, on a dimension split over any mesh axes): the
device whose block holds position i (after Python's negative-index rule) takes it at the local
position, every other one takes zero (a clamped local index keeps every access in range), and one
`all_reduce(sum)` of the result's bytes over those axes replaces the all_gather of the operand. The
range check of `i` is kept (a `loom.assert` with the slice's message), so an index out of range is
the same run-time error as unpartitioned.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from xdsl.dialects import arith
from xdsl.dialects.builtin import FloatAttr, IntegerAttr, StringAttr, TensorType, i1, i64
from xdsl.ir import Attribute, Operation, SSAValue

from compiler.passes.sharding.cost_model import collective_time
from compiler.passes.sharding.local_rules import group_index
from compiler.passes.sharding.reshard import Layout, Split
from dialects import loom
from dialects import shard_ext as sx
from dialects.loom_indexing import is_whole, static_range

Insert = Callable[[Operation], Operation]


@dataclass(frozen=True)
class Halo:
    """A static range [start, start + length) of dimension `dim` (size `size`), split over mesh
    axis `axis` of `n` devices, that a slice reads (`writes` False: the source's blocks travel) or
    an update writes (`writes` True: the value's blocks travel to the blocks they land in)."""

    dim: int
    axis: int
    n: int
    size: int
    start: int
    length: int
    writes: bool = False

    @property
    def block(self) -> int:
        return self.size // self.n

    @property
    def out(self) -> int:
        return self.length // self.n

    @property
    def travels(self) -> int:
        """The block size of the operand whose halos are exchanged."""
        return self.out if self.writes else self.block

    @property
    def window(self) -> int:
        """How many of its (extended) elements each device takes."""
        return self.block if self.writes else self.out

    def starts(self) -> list[int]:
        """Per device j, where its window starts relative to the travelling block: s_j = a + j·(m − M)
        for a slice (its part of the result in its source block), −s_j for an update (its source
        block in its part of the value)."""
        return [(-1 if self.writes else 1) * (self.start + j * (self.out - self.block)) for j in range(self.n)]

    def needed(self) -> list[tuple[int, int]]:
        """Per device, the positions [lo, hi) relative to its travelling block that it reads."""
        if not self.writes:
            return [(s, s + self.out) for s in self.starts()]
        out = []
        for j, t in enumerate(self.starts()):
            lo = min(max(self.start - j * self.block, 0), self.block)
            hi = min(max(self.start + self.length - j * self.block, 0), self.block)
            if lo < hi:
                out.append((lo + t, hi + t))
        return out

    @property
    def left(self) -> int:
        return max(0, *(-lo for lo, _ in self.needed()))

    @property
    def right(self) -> int:
        return max(0, *(hi - self.travels for _, hi in self.needed()))

    def pads(self) -> tuple[int, int]:
        """Padding of the extended block so that every device's window lies inside it (an update's
        window also covers positions outside the range, which are not written)."""
        ext = self.travels + self.left + self.right
        return (max(0, *(-(s + self.left) for s in self.starts())),
                max(0, *(s + self.left + self.window - ext for s in self.starts())))


def halo(dim: int, axis: int, n: int, size: int, spec: tuple[int, int, int, int], writes: bool = False) -> Halo | None:
    """The halo exchange of a static step-1 range, or None when it has none (a step other than 1,
    a length n does not divide, a halo wider than a block)."""
    r = static_range(spec, size)
    if r is None or r.step != 1 or size % n or len(r) == 0 or len(r) % n:
        return None
    h = Halo(dim, axis, n, size, r.start, len(r), writes)
    return h if h.left <= h.travels and h.right <= h.travels else None


@dataclass(frozen=True)
class Pick:
    """One position of dimension `dim` (size `size`, split over mesh `axes`): a static index, or
    the slice's dynamic index operand number `operand`."""

    dim: int
    axes: tuple[int, ...]
    size: int
    static: int | None = None
    operand: int | None = None


@dataclass
class Choice:
    """How to slice without gathering: the layout the source must have, and the split dims."""

    split: Split
    halos: list[Halo] = field(default_factory=list)
    picks: list[Pick] = field(default_factory=list)
    widths: dict[int, tuple[int, int]] = field(default_factory=dict)  # per halo dim: (left, right) exchanged


def _halo_of_use(use, k: int, axis: int, n: int) -> Halo | None:
    """The halo a slice (of its source) or a range update (of its value) needs along `k`."""
    o, i = use.operation, use.index
    if isinstance(o, loom.SliceOp) and i == 0:
        writes = False
    elif isinstance(o, loom.UpdateOp) and i == 1 and all(
            is_whole(s, d) for j, (s, d) in enumerate(zip(o.spec(), o.source.type.get_shape())) if j != k):
        writes = True
    else:
        return None
    if len(o.spec()) <= k:
        return None
    return halo(k, axis, n, o.source.type.get_shape()[k], o.spec()[k], writes)


def widths(travelling: SSAValue, k: int, axis: int, n: int) -> tuple[int, int]:
    """The widest halos on each side that the slices and updates of `travelling` along dimension
    `k` need: exchanged once, the narrower ones are cut from them."""
    hs = [h for use in travelling.uses if (h := _halo_of_use(use, k, axis, n)) is not None]
    return max((h.left for h in hs), default=0), max((h.right for h in hs), default=0)


def choose(op: loom.SliceOp | loom.UpdateOp, lay: Layout, grid: Sequence[int], elem_bytes: int) -> Choice | None:
    """Per dimension of the source: keep its split (a whole subscript, or a halo exchange or a pick
    cheaper than gathering it) or gather it. None when no split dimension is kept by a halo or a
    pick (the partitioner's ordinary rule then applies). An update writes at a pick without any
    communication; it takes a halo only when its other subscripts are whole."""
    if lay.partial:
        return None
    writes = isinstance(op, loom.UpdateOp)
    shape = list(op.source.type.get_shape())
    local = list(lay.local_shape(shape, grid))
    block = math.prod(local) * elem_bytes
    specs = op.spec()
    split, halos, picks, dyn, exchanged = [], [], [], 0, {}
    for k, (spec, d) in enumerate(zip(specs, lay.split)):
        kind = spec[0]
        n = math.prod(grid[a] for a in d)
        slab = block // local[k] if local[k] else 0
        gather = collective_time("all_gather", block, n)
        keep = None
        if not d or is_whole(spec, shape[k]):
            keep = d
        elif len(d) == 1 and (h := halo(k, d[0], n, shape[k], spec, writes)) is not None and (
                not writes or all(is_whole(o, shape[i]) for i, o in enumerate(specs) if i != k)):
            wide = widths(op.operands[int(writes)], k, d[0], n)  # what every user of the value needs
            if sum(collective_time("shift", w * slab, n) for w in wide if w) < gather:
                keep = d
                halos.append(h)
                exchanged[k] = wide
        elif kind in (loom.KIND_INDEX, loom.KIND_DYN_INDEX) and shape[k] > 0 and (
                writes or collective_time("all_reduce", slab, n) < gather):
            keep = d
            picks.append(Pick(k, d, shape[k], static=spec[1] if kind == loom.KIND_INDEX else None,
                              operand=dyn if kind == loom.KIND_DYN_INDEX else None))
        split.append(keep if keep is not None else ())
        dyn += kind in (loom.KIND_WINDOW, loom.KIND_DYN_INDEX)
    if not halos and not picks:
        return None
    return Choice(tuple(split), halos, picks, exchanged)


def part_split(op: loom.SliceOp | loom.UpdateOp, choice: Choice) -> Split:
    """The split of the indexed part (a slice's result, an update's value): that of each kept dim."""
    return tuple(choice.split[k] for k, (kind, *_) in enumerate(op.spec())
                 if kind in (loom.KIND_RANGE, loom.KIND_WINDOW))


def subscripts(insert: Insert, grid: str, grid_shape: Sequence[int], op: loom.SliceOp | loom.UpdateOp,
               choice: Choice, dyn: Sequence[SSAValue]) -> tuple[list, list[SSAValue], SSAValue | None]:
    """The local subscript (spec, index operands) on the block, and whether this device holds
    every picked position (None without picks): a split dimension is taken whole (a halo exchange
    has cut it already), a pick at its clamped local index, a replicated one as it was."""
    picked = {p.dim: p for p in choice.picks}
    spec, operands, inside, i = [], [], None, 0
    for k, (kind, start, stop, step) in enumerate(op.spec()):
        if k in picked:
            p = picked[k]
            li, ok = local_index(insert, grid, grid_shape, p, dyn[p.operand] if p.operand is not None else None,
                                 f"index {{}} is out of range for axis {k} of size {p.size}")
            inside = ok if inside is None else insert(loom.AndOp(inside, ok, i1)).result
            spec.append((loom.KIND_DYN_INDEX, loom.NONE, loom.NONE, 1))
            operands.append(li)
        elif choice.split[k]:
            spec.append((loom.KIND_RANGE, loom.NONE, loom.NONE, 1))
        else:
            spec.append((kind, start, stop, step))
            if kind in (loom.KIND_WINDOW, loom.KIND_DYN_INDEX):
                operands.append(dyn[i])
        i += kind in (loom.KIND_WINDOW, loom.KIND_DYN_INDEX)
    return spec, operands, inside


def _const(insert: Insert, v: int) -> SSAValue:
    return insert(arith.ConstantOp(IntegerAttr(v, i64))).result


def _binary(insert: Insert, cls, a: SSAValue, b: SSAValue, t: Attribute = i64) -> SSAValue:
    return insert(cls(a, b, t)).result


def _cmp(insert: Insert, pred: str, a: SSAValue, b: SSAValue) -> SSAValue:
    return insert(loom.CmpOp(pred, a, b, i1)).result


def _range_slice(insert: Insert, x: SSAValue, dim: int, start: int, stop: int) -> SSAValue:
    shape = list(x.type.get_shape())
    spec = [(loom.KIND_RANGE, start, stop, 1) if i == dim else (loom.KIND_RANGE, loom.NONE, loom.NONE, 1)
            for i in range(len(shape))]
    shape[dim] = stop - start
    return insert(loom.SliceOp(x, [], spec, TensorType(x.type.element_type, shape))).result


def shifted(insert: Insert, grid: str, x: SSAValue, h: Halo, side: str, width: int, reason: str) -> SSAValue:
    """The `width` elements along `h.dim` of the neighbour on `side` nearest this device: each device
    sends its own to the other side (`shard.shift` without `rotate`: the end devices receive an
    undefined halo, which they never read)."""
    B = h.travels
    piece = _range_slice(insert, x, h.dim, B - width, B) if side == "left" else _range_slice(insert, x, h.dim, 0, width)
    op = insert(sx.ShiftOp(piece, grid, h.axis, 1 if side == "left" else -1))
    op.attributes["loom.reason"] = StringAttr(reason)
    return op.results[0]


def narrowed(insert: Insert, piece: SSAValue, dim: int, side: str, width: int) -> SSAValue:
    """The `width` elements nearest this device of a wider halo from the neighbour on `side`."""
    n = piece.type.get_shape()[dim]
    return _range_slice(insert, piece, dim, n - width, n) if side == "left" else _range_slice(insert, piece, dim, 0, width)


def exchange(insert: Insert, grid: str, grid_shape: Sequence[int], x: SSAValue, h: Halo,
             halo_of: Callable[[str, int], SSAValue]) -> SSAValue:
    """Each device's window of `h.window` elements along `h.dim` of the travelling operand `x` (its
    block), after the halo exchange: a slice's part of the result, or the part of an update's value
    that lands in its block (with padding where the value does not reach). `halo_of(side, width)`
    gives the neighbour's `width` elements on that side (`shifted`, or one exchanged already)."""
    B, parts = h.travels, [x]
    elem = x.type.element_type

    def sized(n: int) -> TensorType:
        shape = list(x.type.get_shape())
        shape[h.dim] = n
        return TensorType(elem, shape)

    if h.left:
        parts.insert(0, halo_of("left", h.left))
    if h.right:
        parts.append(halo_of("right", h.right))
    pad_l, pad_r = h.pads()
    if pad_l or pad_r:  # zeros where an update's value does not reach (never written)
        zero = insert(arith.ConstantOp(_zero(elem))).result
        parts = ([insert(loom.FullOp(zero, sized(pad_l))).result] if pad_l else []) + parts \
            + ([insert(loom.FullOp(zero, sized(pad_r))).result] if pad_r else [])
    total = B + h.left + h.right + pad_l + pad_r
    ext = x if len(parts) == 1 else insert(loom.ConcatOp(parts, h.dim, sized(total))).result
    starts = [s + h.left + pad_l for s in h.starts()]
    spec = [(loom.KIND_RANGE, loom.NONE, loom.NONE, 1)] * len(x.type.get_shape())
    if len(set(starts)) == 1:  # the same offset on every device
        spec[h.dim] = (loom.KIND_RANGE, starts[0], starts[0] + h.window, 1)
        return insert(loom.SliceOp(ext, [], spec, sized(h.window))).result
    j = group_index(insert, grid, grid_shape, [h.axis])
    step = starts[1] - starts[0]
    offset = _binary(insert, loom.AddOp, _const(insert, starts[0]), _binary(insert, loom.MulOp, j, _const(insert, step)))
    spec[h.dim] = (loom.KIND_WINDOW, loom.NONE, h.window, 1)
    return insert(loom.SliceOp(ext, [offset], spec, sized(h.window))).result


def written(insert: Insert, grid: str, grid_shape: Sequence[int], h: Halo, window: SSAValue, block: SSAValue) -> SSAValue:
    """An update's block: `window` where its global position lies in the range, else `block`."""
    rank = len(block.type.get_shape())
    j = group_index(insert, grid, grid_shape, [h.axis])
    pos = insert(loom.AddOp(insert(loom.ArangeOp(TensorType(i64, [h.block]))).result,
                            _binary(insert, loom.MulOp, j, _const(insert, h.block)), TensorType(i64, [h.block]))).result
    mask_t = TensorType(i1, [h.block])
    mask = insert(loom.AndOp(insert(loom.CmpOp("ge", pos, _const(insert, h.start), mask_t)).result,
                             insert(loom.CmpOp("lt", pos, _const(insert, h.start + h.length), mask_t)).result,
                             mask_t)).result
    if h.dim != rank - 1:  # broadcast along the dimensions after it (NumPy aligns shapes right)
        mask = insert(loom.ReshapeOp(mask, TensorType(i1, [h.block] + [1] * (rank - 1 - h.dim)))).result
    return insert(loom.SelectOp(mask, window, block, block.type)).result


def local_index(insert: Insert, grid: str, grid_shape: Sequence[int], p: Pick, index: SSAValue | None,
                message: str) -> tuple[SSAValue, SSAValue]:
    """This device's position for pick `p` (clamped into its block) and whether its block holds it.
    A dynamic index is range-checked first, as the unpartitioned slice checks it."""
    n = p.size
    if index is None:
        i = _const(insert, p.static + (n if p.static < 0 else 0))
    else:
        i = index if index.type == i64 else insert(loom.ConvertOp(index, i64)).result
        ok = insert(loom.AndOp(_cmp(insert, "ge", i, _const(insert, -n)), _cmp(insert, "lt", i, _const(insert, n)),
                               i1)).result
        insert(loom.AssertOp(ok, message, [i]))
        i = insert(loom.SelectOp(_cmp(insert, "lt", i, _const(insert, 0)),
                                 _binary(insert, loom.AddOp, i, _const(insert, n)), i, i64)).result
    block = n // math.prod(grid_shape[a] for a in p.axes)
    rel = _binary(insert, loom.SubOp, i, _binary(insert, loom.MulOp, group_index(insert, grid, grid_shape, list(p.axes)),
                                                 _const(insert, block)))
    inside = insert(loom.AndOp(_cmp(insert, "ge", rel, _const(insert, 0)), _cmp(insert, "lt", rel, _const(insert, block)),
                               i1)).result
    return insert(loom.SelectOp(inside, rel, _const(insert, 0), i64)).result, inside


def _zero(elem: Attribute) -> Attribute:
    return FloatAttr(0.0, elem) if loom.is_float(elem) else IntegerAttr(0, elem)


def zero_unless(insert: Insert, inside: SSAValue, y: SSAValue) -> SSAValue:
    """`y` where this device holds the picked element, else zero (NaN in another block stays there):
    −0.0 for floats, the exact neutral element of IEEE addition (x + −0.0 = x, also for x = −0.0)."""
    elem = loom.element_type(y.type)
    zero = insert(arith.ConstantOp(FloatAttr(-0.0, elem) if loom.is_float(elem) else _zero(elem))).result
    return insert(loom.SelectOp(inside, y, zero, y.type)).result
