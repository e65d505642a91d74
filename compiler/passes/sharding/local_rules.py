"""How `shard-partition` rebuilds each op on one device's blocks: one short function per op name.

When the partitioner reaches an op, it has already decided (from the op's sharding rule in
`rules.py`, its propagated result shardings and its operands' layouts) how every operand and
result is laid out, resharded the operands accordingly, and computed every result's local type.
A local rule builds the per-device op from those (`Rebuild`) and returns its local results:

- `same`: the same op on the local operands, with the local result types (elementwise ops,
  matmul, reductions, reshape, transpose, broadcast_to, concat, full, print, …): what each device
  computes on its block is the op itself, because the rule only splits dims the op treats
  independently (a split reduced dim gives a pending reduction, resolved by a later collective);
- `mean`: a mean over split dims is the local mean divided by the number of blocks (a pending sum);
- `dim`: the global size of the dimension, a constant (the operand may be a block);
- `indexing` (slice, update): a dim kept whole may be split; its subscript becomes `:` (the
  local block is taken whole); every other subscript is on a replicated dim and stays (a split dim
  indexed otherwise is handled before, by `split_indexing.py`, when that is cheaper than gathering);
- `arange`: the local arange plus the block's offset (this device's index in the group of the
  split axes, `shard.process_multi_index`, times the block size).

`COMPUTED_WHOLE` ops (`random`, tensor `arith.constant`) are computed whole on every device, their
values depending on global positions; consumers take their block (`all_slice`, no communication).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from xdsl.dialects import arith
from xdsl.dialects.builtin import FloatAttr, IntegerAttr, i64
from xdsl.ir import Attribute, Operation, SSAValue

from dialects import loom
from dialects import shard_ext as sx
from dialects.loom_types import spec_attrs

COMPUTED_WHOLE = frozenset({loom.RandomOp.name})


@dataclass
class Rebuild:
    """What a local rule gets: the global op, its operands on this device, the local result types,
    and the number of blocks its split reduced dims are cut into (1 when none is split)."""

    op: Operation
    operands: Sequence[SSAValue]
    result_types: Sequence[Attribute]
    reduced_blocks: int
    insert: Callable[[Operation], Operation]  # inserts an op at the partitioner's position (with the op's loc)
    grid: str = ""
    grid_shape: Sequence[int] = ()
    result_split: Sequence[Sequence[int]] = ()  # the mesh axes splitting each dim of result 0


def same(r: Rebuild) -> list[SSAValue]:
    op = r.op
    attrs = {k: v for k, v in op.attributes.items() if not k.startswith("spmd.")}
    new = r.insert(type(op).create(operands=list(r.operands), result_types=list(r.result_types),
                                   properties=dict(op.properties), attributes=attrs))
    return list(new.results)


def mean(r: Rebuild) -> list[SSAValue]:
    (local,) = same(r)
    if r.reduced_blocks == 1:
        return [local]
    elem = loom.element_type(local.type)
    n = r.insert(arith.ConstantOp(FloatAttr(float(r.reduced_blocks), elem)))
    return [r.insert(loom.DivOp(local, n.result, local.type)).result]


def dim(r: Rebuild) -> list[SSAValue]:
    op = r.op
    assert isinstance(op, loom.DimOp)
    size = op.operand.type.get_shape()[op.axis_value()]
    return [r.insert(arith.ConstantOp(IntegerAttr(size, op.result.type))).result]


def indexing(r: Rebuild) -> list[SSAValue]:
    """slice / update: whole-dim subscripts become `:` on the block."""
    op = r.op
    assert isinstance(op, (loom.SliceOp, loom.UpdateOp))
    global_shape = op.source.type.get_shape()
    local_shape = r.operands[0].type.get_shape()
    spec = [(k, loom.NONE, loom.NONE, 1) if k == loom.KIND_RANGE and g != s_ else (k, start, stop, step)
            for (k, start, stop, step), g, s_ in zip(op.spec(), global_shape, local_shape)]
    attrs = {k: v for k, v in op.attributes.items() if not k.startswith("spmd.")}
    attrs.update(spec_attrs(spec))
    new = r.insert(type(op).create(operands=list(r.operands), result_types=list(r.result_types),
                                   properties=dict(op.properties), attributes=attrs))
    return list(new.results)


def group_index(insert: Callable[[Operation], Operation], grid: str, grid_shape: Sequence[int],
                axes: Sequence[int]) -> SSAValue:
    """This device's index (an i64) in its group over mesh `axes` (the first axis major):
    `shard.process_multi_index`, combined."""
    index = [insert(arith.IndexCastOp(i, i64)).result for i in insert(sx.ProcessMultiIndexOp(grid, list(axes))).results]
    block = index[0]
    for a, i in zip(axes[1:], index[1:]):
        size = insert(arith.ConstantOp(IntegerAttr(grid_shape[a], i64))).result
        block = insert(loom.AddOp(insert(loom.MulOp(block, size, i64)).result, i, i64)).result
    return block


def arange(r: Rebuild) -> list[SSAValue]:
    (local,) = same(r)
    axes = list(r.result_split[0]) if r.result_split else []
    if not axes:
        return [local]
    block = group_index(r.insert, r.grid, r.grid_shape, axes)
    n = r.insert(arith.ConstantOp(IntegerAttr(local.type.get_shape()[0], i64))).result
    offset = r.insert(loom.MulOp(block, n, i64)).result
    return [r.insert(loom.AddOp(local, offset, local.type)).result]


LOCAL: dict[str, Callable[[Rebuild], list[SSAValue]]] = {
    **{op.name: same for op in loom.Loom.operations},
    loom.MeanOp.name: mean,
    loom.DimOp.name: dim,
    loom.ArangeOp.name: arange,
    loom.SliceOp.name: indexing,
    loom.UpdateOp.name: indexing,
}


def local_rule(op: Operation) -> Callable[[Rebuild], list[SSAValue]]:
    """The op's local rule; ops of other dialects (arith on scalars, calls, …) are `same`."""
    return LOCAL.get(op.name, same)
