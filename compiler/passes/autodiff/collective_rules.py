"""JVP and transpose rules of the collectives (`shard` ops), of the `spmd.enter`/`spmd.exit`
boundary markers and of `spmd.sharding_constraint`; found by `jvp_rules.jvp_rule`,
`jvp_rules.zero_derivative` and `transpose_rules.transpose_rule` for the ops of those dialects
(this module, and with it the dialects, is imported only then).

Inside an `@spmd` program each device's value is its own variable, and the rules are the exact
derivatives of the collectives as functions of all the devices' values (LANGUAGE.md §9.3):
all_gather ↔ reduce_scatter, all_reduce(sum) ↔ itself, all_to_all(split=k, concat=j) ↔
all_to_all(split=j, concat=k), shift(o) ↔ shift(−o), broadcast ↔ the sum at the root (zero on the
other devices), all_slice ↔ the block written into zeros at this device's offset.

At the boundary, global-view values hold one value for all devices: `spmd.enter` (a global value
becomes each device's copy) transposes to the sum over all devices (then `spmd.exit`), and
`spmd.exit` (a replicated value becomes global) transposes to `spmd.enter` of the cotangent divided
by the number of devices — so the derivative of an `@spmd` function is that of the global function
it computes, and a replicated result is not counted once per device.

A sharding constraint is an identity on values: its tangent and its cotangent are constrained the
same way (so the derivative of a global-view function is a global-view function, whose gradients
lie like the values they belong to).
"""

from __future__ import annotations

from xdsl.dialects import arith
from xdsl.dialects.builtin import i64

from compiler.passes.autodiff.build import B
from dialects import loom
from dialects import shard_ext as sx
from dialects.spmd import EnterOp, ExitOp, ShardingConstraintOp


def _grid(op) -> str:
    return op.grid.root_reference.data


def _axes(op) -> list[int]:
    return [int(a) for a in op.grid_axes.get_values()]


def _like(b: B, op, x, t=None, **props):
    """`op` applied to `x` (result type `t`, default op's), with some properties replaced."""
    properties = dict(op.properties)
    properties.update(props)
    return b.add(type(op).create(operands=[x], result_types=[t or op.result.type], properties=properties))


def _positions(b: B, op) -> tuple:
    """(this device's in-group index, the group size) over `op`'s grid axes, as i64 scalars."""
    axes = _axes(op)
    idx = b.add(sx.ProcessMultiIndexOp(_grid(op), axes)).owner.results
    size = b.add(sx.GridShapeOp(_grid(op), axes)).owner.results
    as_i64 = [[b.add(arith.IndexCastOp(v, i64)) for v in vs] for vs in (idx, size)]
    lin, n = as_i64[0][0], as_i64[1][0]
    for i, s in zip(as_i64[0][1:], as_i64[1][1:]):
        lin = b.add_(b.mul(lin, s), i)
        n = b.mul(n, s)
    return lin, n


def _sum_over(b: B, op, x, axes):
    return b.add(sx.xshard.AllReduceOp.create(
        operands=[x], result_types=[x.type],
        properties={"grid": op.grid, "grid_axes": sx.axes_attr(axes),
                    "reduction": sx.ReductionKindAttr(sx.ReductionKind.SUM)}))


# ------------------------------------------------------------------ JVP
def _linear(b: B, op, t):
    """Collectives are linear (all_reduce sum, gathers, permutations): the op on the tangent."""
    return [None if t[0] is None else _like(b, op, t[0])]


def _all_reduce(b: B, op, t):
    """sum: linear. max/min: the tangent of the devices holding the extreme value, shared evenly
    among ties (like the max/min reductions)."""
    if t[0] is None:
        return [None]
    kind = op.reduction.data.value
    if kind == "sum":
        return [_like(b, op, t[0])]
    if kind not in ("max", "min"):
        raise NotImplementedError(f"no derivative for shard.all_reduce reduction {kind}")
    x, r = op.input, op.result
    mask = b.add(loom.ConvertOp(b.cmp("eq", x, r), x.type))
    count = _sum_over(b, op, mask, _axes(op))
    return [b.div(_sum_over(b, op, b.mul(t[0], mask), _axes(op)), count)]


# ------------------------------------------------------------------ transposes
def _t_all_reduce(b: B, op, ct, lin):
    assert op.reduction.data.value == "sum", "a linear program only holds all_reduce(sum)"
    return [_like(b, op, ct)]


def _t_all_gather(b: B, op, ct, lin):
    return [b.add(sx.ReduceScatterOp(ct, _grid(op), _axes(op), op.input.type, scatter_axis=op.gather_axis.value.data))]


def _t_reduce_scatter(b: B, op, ct, lin):
    assert op.reduction.data.value == "sum", "a linear program only holds reduce_scatter(sum)"
    return [b.add(sx.AllGatherOp(ct, _grid(op), _axes(op), op.input.type, gather_axis=op.scatter_axis.value.data))]


def _t_all_to_all(b: B, op, ct, lin):
    return [_like(b, op, ct, op.input.type, split_axis=op.concat_axis, concat_axis=op.split_axis)]


def _t_shift(b: B, op, ct, lin):
    return [_like(b, op, ct, offset=type(op.offset)(-op.offset.value.data, op.offset.type))]


def _t_broadcast(b: B, op, ct, lin):
    (root,) = op.root.get_values()
    i, _ = _positions(b, op)
    total = _sum_over(b, op, ct, _axes(op))
    return [b.select(b.cmp("eq", i, b.const(root, i64)), total, b.zeros(loom.make_type(loom.element_type(ct.type), ())))]


def _t_all_slice(b: B, op, ct, lin):
    axis = op.slice_axis.value.data
    size = loom.shape_of(op.result.type)[axis]
    i, _ = _positions(b, op)
    start = b.mul(i, b.const(size, i64))
    full = (loom.KIND_RANGE, loom.NONE, loom.NONE, loom.NONE)
    spec = [(loom.KIND_WINDOW, 0, size, 1) if k == axis else full for k in range(len(loom.shape_of(ct.type)))]
    return [b.add(loom.UpdateOp(b.zeros(op.input.type), ct, [start], spec))]


def _t_enter(b: B, op, ct, lin):
    total = _sum_over(b, op, ct, _axes(op))
    return [b.add(ExitOp(total, _grid(op), _axes(op)))]


def _t_exit(b: B, op, ct, lin):
    _, n = _positions(b, op)
    share = b.div(ct, b.add(loom.ConvertOp(n, loom.element_type(ct.type))))
    return [b.add(EnterOp(share, _grid(op), _axes(op)))]


def _constrained(b: B, op: ShardingConstraintOp, x):
    return b.add(ShardingConstraintOp(x, op.sharding, op.kind.data))


def _constraint(b: B, op, t):
    return [None if t[0] is None else _constrained(b, op, t[0])]


def _t_constraint(b: B, op, ct, lin):
    return [_constrained(b, op, ct)]


JVP_COLLECTIVES = {
    ShardingConstraintOp: _constraint,
    sx.xshard.AllReduceOp: _all_reduce,
    **{cls: _linear for cls in (sx.AllGatherOp, sx.ReduceScatterOp, sx.AllToAllOp, sx.AllSliceOp,
                                sx.xshard.BroadcastOp, sx.ShiftOp, EnterOp, ExitOp)},
}

TRANSPOSE_COLLECTIVES = {
    sx.xshard.AllReduceOp: _t_all_reduce, sx.AllGatherOp: _t_all_gather, sx.ReduceScatterOp: _t_reduce_scatter,
    sx.AllToAllOp: _t_all_to_all, sx.ShiftOp: _t_shift, sx.xshard.BroadcastOp: _t_broadcast,
    sx.AllSliceOp: _t_all_slice, EnterOp: _t_enter, ExitOp: _t_exit, ShardingConstraintOp: _t_constraint,
}

# positions and sizes on the mesh are integers: no derivative
ZERO_COLLECTIVES = (sx.ProcessMultiIndexOp, sx.ProcessLinearIndexOp, sx.GridShapeOp)  # (index casts: jvp_rules.ZERO)
