"""The `shard` dialect as Loom loads it: xDSL's `shard` ops plus the upstream MLIR ops xDSL 0.74
lacks, defined here with upstream's names, properties and assembly (mlir/include/mlir/Dialect/
Shard/IR/ShardOps.td), so that IR reads like MLIR's. `SHARD` replaces `xdsl.dialects.shard.Shard`
in a Context (a Context cannot load two dialects named `shard`).

Every collective runs over the device groups of a `shard.grid`: `shard.grid @M(shape = 2x4)` is a
mesh of 8 devices, axis 0 of size 2 and axis 1 of size 4. `grid_axes = [k, …]` selects mesh axes;
the devices that take part together (a *group*) are those that differ only in their positions on
those axes, ordered by their in-group index (the first listed axis major). `n` is the group size,
`i` a device's in-group index. Types are the per-device blocks.

From xDSL (`xdsl.dialects.shard`):
- `shard.all_reduce %x on @M grid_axes = [k] reduction = sum|max|min|…` — every device of a group
  gets the elementwise reduction of the group's `x`.
- `shard.broadcast %x on @M grid_axes = [k] root = [r]` — every device gets device `r`'s `x`.
- `shard.reduce … root = [r]` — the reduction, defined on device `r` only.
- `shard.gather`, `shard.scatter`, `shard.send`, `shard.recv`; `shard.grid`, `shard.sharding`,
  `shard.shard` (sharding annotations).

Defined here:
- `shard.shift %x on @M grid_axes = [k] shift_axis = k offset = o rotate` — device `i` receives the
  `x` of device `(i - o) mod n` (it sends its own to `(i + o) mod n`); without `rotate`, device `i`
  receives that of device `i - o`, and one without such a device gets an undefined result (upstream's
  op; xDSL's requires `rotate`).
- `shard.all_gather %x on @M grid_axes = [k] gather_axis = a` — the group's blocks concatenated
  along tensor axis `a` in device order: `tensor<2x3>` → `tensor<(2n)x3>` for `a = 0`.
- `shard.reduce_scatter %x on @M grid_axes = [k] reduction = sum scatter_axis = a` — the
  elementwise reduction over the group, cut into `n` parts along `a`; device `i` keeps part `i`.
- `shard.all_to_all %x on @M grid_axes = [k] split_axis = s concat_axis = c` — `x` cut into `n`
  parts along `s`, part `j` sent to device `j`; the parts a device receives are concatenated along
  `c` in the senders' order.
- `shard.all_slice %x on @M grid_axes = [k] slice_axis = a` — no communication: device `i` keeps
  part `i` of its (replicated) `x` cut into `n` parts along `a` (the inverse of all_gather).
- `shard.process_multi_index on @M axes = [k] : index` — this device's position on mesh axis `k`.
- `shard.process_linear_index on @M : index` — this device's rank (row-major over the mesh).
- `shard.grid_shape @M axes = [k] : index` — the size of mesh axis `k`.

Loom's own `spmd` dialect (enter/exit markers, the sharding attribute and constraint) is in
dialects/spmd.py.

How Loom's IR uses them: `mesh M = (dp=2, tp=4)` is `shard.grid @M(shape = 2x4)` (axis names in a
`loom.axes` attribute). Every function runs on every device; an `@spmd(M)` function's parameters and
results are its per-device blocks. A global-view caller's call is a wrapper `@f` (global types): each
argument goes through `spmd.enter` (then `shard.all_slice` per split dimension), the per-device body
`@f.spmd` is called, and each result is assembled with `shard.all_gather` per split dimension, then
`spmd.exit`. A collective of a scalar
works on a `tensor<1xT>` (`loom.reshape` before and after); `axis_index(ax)` is
`shard.process_multi_index` then `arith.index_cast` to i64.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from xdsl.dialects import shard as xshard
from xdsl.dialects.builtin import (
    I64,
    BytesAttr,
    FlatSymbolRefAttr,
    IndexType,
    IndexTypeConstr,
    IntegerAttr,
    SymbolRefAttr,
    TensorType,
    UnitAttr,
    i16,
    i64,
)
from xdsl.ir import Attribute, Dialect, Operation, SSAValue
from xdsl.irdl import (
    IRDLOperation,
    irdl_op_definition,
    operand_def,
    opt_prop_def,
    prop_def,
    result_def,
    traits_def,
    var_result_def,
)
from xdsl.traits import Pure, SymbolTable
from xdsl.utils.exceptions import VerifyException

ShardAxesAttr = xshard.ShardAxesAttr
ReductionKind = xshard.ReductionKind
ReductionKindAttr = xshard.ReductionKindAttr


def axes_attr(axes: Sequence[int]) -> xshard.ShardAxesAttr:
    """`grid_axes = [a, b]` as the dense i16 array the shard ops store."""
    return xshard.ShardAxesAttr(i16, BytesAttr(i16.pack(list(axes))))


def index_attr(v: int) -> IntegerAttr:
    return IntegerAttr(v, IndexType())


def grid_of(op: Operation) -> xshard.GridOp | None:
    """The `shard.grid` an op refers to (None when it is not in a symbol table yet)."""
    ref = op.properties.get("grid")
    if not isinstance(ref, SymbolRefAttr):
        return None
    found = SymbolTable.lookup_symbol(op, ref)
    return found if isinstance(found, xshard.GridOp) else None


def group_size(op: Operation) -> int | None:
    """The number of devices in each of the op's groups (product of the sizes of its grid_axes)."""
    grid = grid_of(op)
    if grid is None:
        return None
    shape = grid.shape.get_values()
    n = 1
    for a in op.grid_axes.get_values():
        if not 0 <= a < len(shape):
            raise VerifyException(f"'{op.name}' op grid axis {a} out of range for grid of rank {len(shape)}")
        if shape[a] < 0:
            return None
        n *= shape[a]
    return n


def _expect_shape(op: Operation, expected: list[int]) -> None:
    got = list(op.result.type.get_shape())
    if len(got) != len(expected) or any(g != e and -1 not in (g, e) for g, e in zip(got, expected)):
        raise VerifyException(f"'{op.name}' op result shape {got} does not match the expected {expected}")


def _check_axis(op: Operation, name: str, axis: int) -> None:
    rank = op.input.type.get_num_dims()
    if not 0 <= axis < rank:
        raise VerifyException(f"'{op.name}' op {name} {axis} out of range for a tensor of rank {rank}")


def _scaled(shape: Sequence[int], axis: int, mul: int = 1, div: int = 1) -> list[int]:
    out = list(shape)
    if out[axis] >= 0:
        if out[axis] * mul % div:
            raise VerifyException(f"dimension {axis} of size {out[axis]} does not split into {div} parts")
        out[axis] = out[axis] * mul // div
    return out


class _AxisCollective(xshard.CollectiveCommunicationOp):
    """A collective between same-rank, same-element-type tensors (of non-zero rank) that scales
    some tensor axes by the group size: `SCALES` lists (property, "mul" | "div")."""

    input = operand_def(TensorType)
    result = result_def(TensorType)
    traits = traits_def(Pure())
    SCALES: ClassVar[tuple[tuple[str, str], ...]] = ()

    def __init__(self, input: SSAValue, grid: str, grid_axes: Sequence[int], result_type: Attribute,
                 reduction: ReductionKind | None = None, **axes: int):
        props = {"grid": FlatSymbolRefAttr(grid), "grid_axes": axes_attr(grid_axes)}
        props.update({k: index_attr(v) for k, v in axes.items()})
        if reduction is not None:
            props["reduction"] = ReductionKindAttr(reduction)
        super().__init__(operands=[input], result_types=[result_type], properties=props)

    def verify_(self) -> None:
        if self.input.type.get_num_dims() == 0:
            raise VerifyException(f"'{self.name}' op operand must be a tensor of non-zero rank")
        if self.input.type.element_type != self.result.type.element_type:
            raise VerifyException(f"'{self.name}' op requires the same element type for operand and result")
        if self.input.type.get_num_dims() != self.result.type.get_num_dims():
            raise VerifyException(f"'{self.name}' op requires the same rank for operand and result")
        n = group_size(self)
        shape = list(self.input.type.get_shape())
        for prop, how in self.SCALES:
            axis = self.properties[prop].value.data
            _check_axis(self, prop, axis)
            if n is not None:
                shape = _scaled(shape, axis, mul=n) if how == "mul" else _scaled(shape, axis, div=n)
        if n is not None:
            _expect_shape(self, shape)


def _format(*axes: str, reduction: bool = False) -> str:
    return ("$input `on` $grid (`grid_axes` `=` $grid_axes^)? "
            + ("(`reduction` `=` $reduction^)? " if reduction else "")
            + "".join(f"`{a}` `=` ${a} " for a in axes) + "attr-dict `:` type($input) `->` type($result)")


@irdl_op_definition
class AllGatherOp(_AxisCollective):
    """The group's blocks concatenated along `gather_axis`, in device order, on every device."""

    name = "shard.all_gather"
    gather_axis = prop_def(IntegerAttr.constr(IndexTypeConstr))
    assembly_format = _format("gather_axis")
    SCALES: ClassVar = (("gather_axis", "mul"),)


@irdl_op_definition
class AllSliceOp(_AxisCollective):
    """Device i keeps part i of its input cut into n parts along `slice_axis` (no communication)."""

    name = "shard.all_slice"
    slice_axis = prop_def(IntegerAttr.constr(IndexTypeConstr))
    assembly_format = _format("slice_axis")
    SCALES: ClassVar = (("slice_axis", "div"),)


@irdl_op_definition
class AllToAllOp(_AxisCollective):
    """Input cut into n parts along `split_axis`, part j sent to device j; received parts
    concatenated along `concat_axis` in the senders' order."""

    name = "shard.all_to_all"
    split_axis = prop_def(IntegerAttr.constr(IndexTypeConstr))
    concat_axis = prop_def(IntegerAttr.constr(IndexTypeConstr))
    assembly_format = _format("split_axis", "concat_axis")
    SCALES: ClassVar = (("split_axis", "div"), ("concat_axis", "mul"))


@irdl_op_definition
class ReduceScatterOp(_AxisCollective):
    """The elementwise reduction over the group, cut into n parts along `scatter_axis`; device i
    keeps part i."""

    name = "shard.reduce_scatter"
    reduction = prop_def(ReductionKindAttr, default_value=ReductionKindAttr(ReductionKind.SUM))
    scatter_axis = prop_def(IntegerAttr.constr(IndexTypeConstr))
    assembly_format = _format("scatter_axis", reduction=True)
    SCALES: ClassVar = (("scatter_axis", "div"),)


class _AxesQuery(IRDLOperation):
    """A query of the grid: one index per mesh axis of `axes` (all axes when it is empty)."""

    grid = prop_def(FlatSymbolRefAttr)
    axes = prop_def(ShardAxesAttr, default_value=axes_attr([]))
    result = var_result_def(IndexType)
    traits = traits_def(Pure())

    def __init__(self, grid: str, axes: Sequence[int]):
        super().__init__(result_types=[[IndexType()] * len(axes)],
                         properties={"grid": FlatSymbolRefAttr(grid), "axes": axes_attr(axes)})


@irdl_op_definition
class ProcessMultiIndexOp(_AxesQuery):
    """This device's positions on the given mesh axes."""

    name = "shard.process_multi_index"
    assembly_format = "`on` $grid (`axes` `=` $axes^)? attr-dict `:` type($result)"


@irdl_op_definition
class ProcessLinearIndexOp(IRDLOperation):
    """This device's rank: its multi-index linearized row-major over the grid shape."""

    name = "shard.process_linear_index"
    grid = prop_def(FlatSymbolRefAttr)
    result = result_def(IndexType)
    traits = traits_def(Pure())
    assembly_format = "`on` $grid attr-dict `:` type($result)"

    def __init__(self, grid: str):
        super().__init__(result_types=[IndexType()], properties={"grid": FlatSymbolRefAttr(grid)})


@irdl_op_definition
class GridShapeOp(_AxesQuery):
    """The sizes of the given mesh axes."""

    name = "shard.grid_shape"
    assembly_format = "$grid (`axes` `=` $axes^)? attr-dict `:` type($result)"


@irdl_op_definition
class ShiftOp(xshard.CollectiveCommunicationOp):
    """Upstream's `shard.shift`, with `rotate` optional as upstream has it (xDSL 0.74 requires it):
    device i of a group receives the `input` of device i − offset; with `rotate` that index is taken
    mod n, without it a device that has no such source gets an undefined result."""

    name = "shard.shift"
    input = operand_def(TensorType)
    shift_axis = prop_def(IntegerAttr.constr(IndexTypeConstr))
    offset = prop_def(IntegerAttr[I64])
    rotate = opt_prop_def(UnitAttr)
    result = result_def(TensorType)
    traits = traits_def(Pure())
    assembly_format = ("$input `on` $grid (`grid_axes` `=` $grid_axes^)? `shift_axis` `=` $shift_axis "
                       "`offset` `=` $offset (`rotate` $rotate^)? attr-dict `:` type($input) `->` type($result)")

    def __init__(self, input: SSAValue, grid: str, axis: int, offset: int, rotate: bool = False):
        props = {"grid": FlatSymbolRefAttr(grid), "grid_axes": axes_attr([axis]), "shift_axis": index_attr(axis),
                 "offset": IntegerAttr(offset, i64)}
        if rotate:
            props["rotate"] = UnitAttr()
        super().__init__(operands=[input], result_types=[input.type], properties=props)

    def verify_(self) -> None:
        if self.input.type != self.result.type:
            raise VerifyException(f"'{self.name}' op requires the same type for operand and result")
        if self.shift_axis.value.data not in self.grid_axes.get_values():
            raise VerifyException(f"'{self.name}' op shift_axis {self.shift_axis.value.data} is not one of its grid_axes")


EXTRA_OPS = [ShiftOp, AllGatherOp, AllSliceOp, AllToAllOp, ReduceScatterOp, ProcessMultiIndexOp, ProcessLinearIndexOp,
             GridShapeOp]

SHARD = Dialect("shard", [*(o for o in xshard.Shard.operations if o is not xshard.ShiftOp), *EXTRA_OPS], list(xshard.Shard.attributes))
"""xDSL's shard dialect with the upstream ops it lacks: load this instead of `xdsl.dialects.shard.Shard`."""
