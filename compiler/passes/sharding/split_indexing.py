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
from xdsl.dialects.builtin import FloatAttr, IntegerAttr, TensorType, i1, i64
from xdsl.ir import Attribute, Operation, SSAValue

from compiler.passes.sharding.cost_model import collective_time
from compiler.passes.sharding.local_rules import group_index
from compiler.passes.sharding.reshard import Layout, Split
from dialects import loom
from dialects import shard_ext as sx

Insert = Callable[[Operation], Operation]


@dataclass(frozen=True)
class Halo:
    """A static range [start, start + length) of dimension `dim` (size `size`), split over mesh
    axis `axis` of `n` devices."""

    dim: int
    axis: int
    n: int
    size: int
    start: int
    length: int

    @property
    def block(self) -> int:
        return self.size // self.n

    @property
    def out(self) -> int:
        return self.length // self.n

    def starts(self) -> list[int]:
        """s_j: where device j's part of the result starts, relative to its block."""
        return [self.start + j * (self.out - self.block) for j in range(self.n)]

    @property
    def left(self) -> int:
        return max(0, *(-s for s in self.starts()))

    @property
    def right(self) -> int:
        return max(0, *(s + self.out - self.block for s in self.starts()))


def halo(dim: int, axis: int, n: int, size: int, spec: tuple[int, int, int, int]) -> Halo | None:
    """The halo exchange of a static step-1 range, or None when it has none (a step other than 1,
    a length n does not divide, a halo wider than a block)."""
    kind, start, stop, step = spec
    if kind != loom.KIND_RANGE or step not in (loom.NONE, 1) or size < 0 or size % n:
        return None
    r = range(*slice(*(None if v == loom.NONE else v for v in (start, stop, step))).indices(size))
    if len(r) == 0 or len(r) % n:
        return None
    h = Halo(dim, axis, n, size, r.start, len(r))
    return h if h.left <= h.block and h.right <= h.block else None


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


def _whole(spec: tuple[int, int, int, int], size: int) -> bool:
    kind, start, stop, step = spec
    return (kind == loom.KIND_RANGE and start in (loom.NONE, 0) and step in (loom.NONE, 1)
            and (stop == loom.NONE or (size >= 0 and stop >= size)))


def choose(op: loom.SliceOp, lay: Layout, grid: Sequence[int], elem_bytes: int) -> Choice | None:
    """Per dimension of the source: keep its split (a whole subscript, or a halo exchange or a pick
    cheaper than gathering it) or gather it. None when no split dimension is kept by a halo or a
    pick (the partitioner's ordinary rule then applies)."""
    if lay.partial:
        return None
    shape = list(op.source.type.get_shape())
    local = list(lay.local_shape(shape, grid))
    block = math.prod(local) * elem_bytes
    split, halos, picks, dyn = [], [], [], 0
    for k, (spec, d) in enumerate(zip(op.spec(), lay.split)):
        kind = spec[0]
        n = math.prod(grid[a] for a in d)
        keep = None
        if not d or _whole(spec, shape[k]):
            keep = d
        elif len(d) == 1 and (h := halo(k, d[0], n, shape[k], spec)) is not None:
            slab = block // local[k] if local[k] else 0
            sends = sum(collective_time("shift", w * slab, n) for w in (h.left, h.right) if w)
            if sends < collective_time("all_gather", block, n):
                keep = d
                halos.append(h)
        elif kind in (loom.KIND_INDEX, loom.KIND_DYN_INDEX) and shape[k] > 0:
            part = block // local[k] if local[k] else 0
            if collective_time("all_reduce", part, n) < collective_time("all_gather", block, n):
                keep = d
                picks.append(Pick(k, d, shape[k], static=spec[1] if kind == loom.KIND_INDEX else None,
                                  operand=dyn if kind == loom.KIND_DYN_INDEX else None))
        split.append(keep if keep is not None else ())
        dyn += kind in (loom.KIND_WINDOW, loom.KIND_DYN_INDEX)
    if not halos and not picks:
        return None
    return Choice(tuple(split), halos, picks)


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


def exchange(insert: Insert, grid: str, grid_shape: Sequence[int], x: SSAValue, h: Halo,
             reason: Callable[[str], str]) -> SSAValue:
    """`x` (this device's block) cut to its part of the result along `h.dim`, after the halo exchange."""
    M, parts = h.block, [x]

    def shifted(piece: SSAValue, offset: int, side: str) -> SSAValue:
        op = insert(sx.ShiftOp(piece, grid, h.axis, offset))
        op.attributes["loom.reason"] = sx.StringAttr(reason(side))
        return op.results[0]

    if h.left:  # the left neighbour's last `left` elements: each device sends its own to the right
        parts.insert(0, shifted(_range_slice(insert, x, h.dim, M - h.left, M), 1, f"last {h.left}"))
    if h.right:  # the right neighbour's first `right` elements: each device sends its own to the left
        parts.append(shifted(_range_slice(insert, x, h.dim, 0, h.right), -1, f"first {h.right}"))
    shape = list(x.type.get_shape())
    shape[h.dim] = M + h.left + h.right
    ext = x if len(parts) == 1 else insert(loom.ConcatOp(parts, h.dim, TensorType(x.type.element_type, shape))).result
    spec = [(loom.KIND_RANGE, loom.NONE, loom.NONE, 1)] * len(shape)
    shape[h.dim] = h.out
    if len(set(h.starts())) == 1:  # the same offset on every device
        spec[h.dim] = (loom.KIND_RANGE, h.starts()[0] + h.left, h.starts()[0] + h.left + h.out, 1)
        return insert(loom.SliceOp(ext, [], spec, TensorType(x.type.element_type, shape))).result
    j = group_index(insert, grid, grid_shape, [h.axis])
    offset = _binary(insert, loom.AddOp, _const(insert, h.start + h.left),
                     _binary(insert, loom.MulOp, j, _const(insert, h.out - h.block)))
    spec[h.dim] = (loom.KIND_WINDOW, loom.NONE, h.out, 1)
    return insert(loom.SliceOp(ext, [offset], spec, TensorType(x.type.element_type, shape))).result


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


def zero_unless(insert: Insert, inside: SSAValue, y: SSAValue) -> SSAValue:
    """`y` where this device holds the picked element, else zero (NaN in another block stays there)."""
    elem = loom.element_type(y.type)
    value = FloatAttr(0.0, elem) if loom.is_float(elem) else IntegerAttr(0, elem)
    zero = insert(arith.ConstantOp(value)).result
    return insert(loom.SelectOp(inside, y, zero, y.type)).result
