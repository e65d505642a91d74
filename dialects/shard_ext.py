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

Loom's own (dialect `spmd`, `SPMD`): `spmd.enter %x on @M grid_axes = [0, 1]` and `spmd.exit …`,
identities on values that mark where global-view values enter and leave an `@spmd` program running
over those mesh axes (all of the mesh's); see the ops. For global-view (automatically partitioned)
functions: the attribute `#spmd.sharding<@M, [[0], []]>` (how a value is laid out on the mesh, Shardy's
`#sdy.sharding` / MLIR's `split_axes`) and the op `spmd.sharding_constraint` (a user's request for a
sharding, an identity on values like `sdy.sharding_constraint`).

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
    ArrayAttr,
    BytesAttr,
    FlatSymbolRefAttr,
    IndexType,
    IntegerAttr,
    IndexTypeConstr,
    ModuleOp,
    IntAttr,
    StringAttr,
    SymbolRefAttr,
    TensorType,
    UnitAttr,
    i16,
    i64,
    I64,
)
from xdsl.ir import Attribute, Dialect, Operation, ParametrizedAttribute, SSAValue
from xdsl.irdl import (
    AnyAttr,
    VarConstraint,
    IRDLOperation,
    attr_def,
    irdl_attr_definition,
    irdl_op_definition,
    operand_def,
    opt_prop_def,
    prop_def,
    result_def,
    traits_def,
    var_result_def,
)
from xdsl.parser import AttrParser
from xdsl.printer import Printer
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


class _Boundary(xshard.CollectiveCommunicationOp):
    T: ClassVar = VarConstraint("T", AnyAttr())
    input = operand_def(T)
    result = result_def(T)
    traits = traits_def(Pure())
    assembly_format = "$input `on` $grid (`grid_axes` `=` $grid_axes^)? attr-dict `:` type($result)"

    def __init__(self, input: SSAValue, grid: str, grid_axes: Sequence[int]):
        super().__init__(operands=[input], result_types=[input.type],
                         properties={"grid": FlatSymbolRefAttr(grid), "grid_axes": axes_attr(grid_axes)})


@irdl_op_definition
class EnterOp(_Boundary):
    """`spmd.enter %x on @M`: where a global-view value (the same on every device) enters an
    `@spmd` program as every device's own copy. The value is unchanged; only the meaning of its
    derivative changes (the cotangents a device program gives back are summed over the devices)."""

    name = "spmd.enter"


@irdl_op_definition
class ExitOp(_Boundary):
    """`spmd.exit %x on @M`: where a value every device holds identically (an assembled or
    provably replicated `@spmd` result) becomes a global-view value. The value is unchanged; its
    cotangent is shared among the devices (divided by their number), so that a replicated result
    is not counted once per device."""

    name = "spmd.exit"


# ------------------------------------------------------------------ global-view shardings
PARTIAL_KINDS = ("sum", "max", "min")


@irdl_attr_definition
class ShardingAttr(ParametrizedAttribute):
    """`#spmd.sharding<@M, [[0], []]>`: how a value of a global-view function lies on the mesh
    `@M` — per tensor dimension, the mesh axes (indices into the `shard.grid`'s shape) that split
    it, major first; `[]` is a replicated dimension, a scalar's list is empty. Optional pending
    reduction: `#spmd.sharding<@M, [[], [1]], partial = sum [0]>` — every device holds a partial
    value and the true one is the `sum` (or `max`/`min`) over the groups of mesh axis 0.
    Like Shardy's `#sdy.sharding` and MLIR's `shard.sharding` (`split_axes`, `partial_axes`)."""

    name = "spmd.sharding"
    grid_ref: SymbolRefAttr
    split_attr: ArrayAttr[ArrayAttr[IntAttr]]
    partial_attr: ArrayAttr[IntAttr]
    kind_attr: StringAttr

    def __init__(self, grid: str, split_axes: Sequence[Sequence[int]], partial: Sequence[int] = (),
                 partial_kind: str = "sum"):
        super().__init__(SymbolRefAttr(grid), ArrayAttr([ArrayAttr([IntAttr(a) for a in d]) for d in split_axes]),
                         ArrayAttr([IntAttr(a) for a in partial]), StringAttr(partial_kind))

    @staticmethod
    def replicated(grid: str, rank: int) -> ShardingAttr:
        return ShardingAttr(grid, [()] * rank)

    @property
    def grid(self) -> str:
        return self.grid_ref.root_reference.data

    @property
    def split_axes(self) -> tuple[tuple[int, ...], ...]:
        return tuple(tuple(a.data for a in d.data) for d in self.split_attr.data)

    @property
    def partial(self) -> tuple[int, ...]:
        return tuple(a.data for a in self.partial_attr.data)

    @property
    def partial_kind(self) -> str:
        return self.kind_attr.data

    @property
    def rank(self) -> int:
        return len(self.split_attr.data)

    @property
    def is_replicated(self) -> bool:
        """No dimension split and nothing pending: every device holds the whole value."""
        return not self.partial and not any(self.split_axes)

    def axes_used(self) -> tuple[int, ...]:
        """Every mesh axis the sharding names (split, then partial)."""
        return tuple(a for d in self.split_axes for a in d) + self.partial

    def local_shape(self, global_shape: Sequence[int], grid_shape: Sequence[int]) -> list[int]:
        """The shape of one device's block (a dynamic `?` dimension stays dynamic)."""
        out = []
        for size, axes in zip(global_shape, self.split_axes, strict=True):
            n = 1
            for a in axes:
                n *= grid_shape[a]
            out.append(size if size < 0 else size // n)
        return out

    def verify(self) -> None:
        used = self.axes_used()
        if any(a < 0 for a in used):
            raise VerifyException(f"{self}: a mesh axis index is negative")
        if len(set(used)) != len(used):
            raise VerifyException(f"sharding {_text(self)} {self._twice()}")
        if self.partial_kind not in PARTIAL_KINDS:
            raise VerifyException(f"sharding {_text(self)}: unknown partial kind '{self.partial_kind}' "
                                  f"(one of {', '.join(PARTIAL_KINDS)})")

    def _twice(self) -> str:
        """What is wrong with a sharding that names a mesh axis twice (a mesh axis splits at most
        one dimension, once; a value is never reduced over an axis it is split on)."""
        used = self.axes_used()
        a = next(a for a in used if used.count(a) > 1)
        dims = [i for i, d in enumerate(self.split_axes) if a in d]
        if a in self.partial:
            if dims:
                return (f"is a pending {self.partial_kind} over mesh axis {a}, which also splits dimension {dims[0]}: "
                        f"a reduction over a mesh axis that the result is split on")
            return f"names mesh axis {a} twice in its pending reduction"
        if len(dims) > 1:
            return f"splits dimensions {dims[0]} and {dims[1]} over mesh axis {a}: a mesh axis splits at most one dimension"
        return f"splits dimension {dims[0]} over mesh axis {a} twice"

    def verify_for(self, value_type: Attribute, grid: xshard.GridOp) -> None:
        """Checks against the grid and the value's type: axes exist, one list per dimension,
        static sizes split evenly."""
        shape = grid.shape.get_values()
        bad = [a for a in self.axes_used() if a >= len(shape)]
        if bad:
            raise VerifyException(f"sharding {_text(self)} names mesh axis {bad[0]}, but grid @{self.grid} "
                                  f"has {len(shape)} axes")
        dims = list(value_type.get_shape()) if isinstance(value_type, TensorType) else []
        if len(dims) != self.rank:
            raise VerifyException(f"sharding {_text(self)} has {self.rank} dimensions but the value's type "
                                  f"{value_type} has rank {len(dims)}")
        for i, (size, axes) in enumerate(zip(dims, self.split_axes)):
            n = 1
            for a in axes:
                n *= shape[a]
            if size >= 0 and size % n:
                raise VerifyException(f"sharding {_text(self)}: dimension {i} of size {size} does not split "
                                      f"evenly over mesh axes {list(axes)} ({n} devices)")

    @classmethod
    def parse_parameters(cls, parser: AttrParser) -> Sequence[Attribute]:
        with parser.in_angle_brackets():
            grid = parser.parse_symbol_name()
            parser.parse_punctuation(",")
            split = parser.parse_comma_separated_list(
                parser.Delimiter.SQUARE,
                lambda: ArrayAttr(IntAttr(a) for a in parser.parse_comma_separated_list(
                    parser.Delimiter.SQUARE, parser.parse_integer)))
            partial, kind = [], "sum"
            if parser.parse_optional_punctuation(","):
                parser.parse_keyword("partial")
                parser.parse_punctuation("=")
                kind = parser.parse_identifier()
                partial = parser.parse_comma_separated_list(parser.Delimiter.SQUARE, parser.parse_integer)
        return (SymbolRefAttr(grid), ArrayAttr(split), ArrayAttr(IntAttr(a) for a in partial), StringAttr(kind))

    def print_parameters(self, printer: Printer) -> None:
        printer.print_string(_body(self))


def _body(s: ShardingAttr) -> str:
    split = ", ".join("[" + ", ".join(map(str, d)) + "]" for d in s.split_axes)
    text = f"<@{s.grid}, [{split}]"
    if s.partial:
        text += f", partial = {s.partial_kind} [{', '.join(map(str, s.partial))}]"
    return text + ">"


def _text(s: ShardingAttr) -> str:
    return "#spmd.sharding" + _body(s)


def lookup_grid(op: Operation, grid: str) -> xshard.GridOp | None:
    """The `shard.grid @grid` visible from `op` (None when `op` is not in a module yet)."""
    found = SymbolTable.lookup_symbol(op, grid)
    return found if isinstance(found, xshard.GridOp) else None


CONSTRAINT_KINDS = ("param", "result", "reshard")


@irdl_op_definition
class ShardingConstraintOp(IRDLOperation):
    """`spmd.sharding_constraint %x <@M, [[0], []]> {kind = "param"} : tensor<8x4xf32>` (the
    declarative format prints a known attribute without its `#spmd.sharding` prefix, as MLIR and
    `sdy.sharding_constraint` do):
    the value `x`, requested to lie on the mesh as the sharding says (like `sdy.sharding_constraint`).
    An identity on values; `kind` says where it comes from: a global-view function's annotated
    parameter ("param") or result ("result"), or a `reshard(x, (dp, _))` call ("reshard"). The
    `sharding-propagation` pass spreads it to the other values; unpartitioned runs drop it."""

    name = "spmd.sharding_constraint"
    T: ClassVar = VarConstraint("T", AnyAttr())
    input = operand_def(T)
    result = result_def(T)
    sharding = prop_def(ShardingAttr)
    kind = attr_def(StringAttr)
    traits = traits_def(Pure())
    assembly_format = "$input $sharding attr-dict `:` type($result)"

    def __init__(self, input: SSAValue, sharding: ShardingAttr, kind: str):
        super().__init__(operands=[input], result_types=[input.type], properties={"sharding": sharding},
                         attributes={"kind": StringAttr(kind)})

    def verify_(self) -> None:
        if self.kind.data not in CONSTRAINT_KINDS:
            raise VerifyException(f"'{self.name}' op kind must be one of {', '.join(CONSTRAINT_KINDS)}, "
                                  f"got '{self.kind.data}'")
        if not isinstance(self.input.type, TensorType):
            raise VerifyException(f"'{self.name}' op operand must be a ranked tensor, got {self.input.type}")
        grid = lookup_grid(self, self.sharding.grid)
        if grid is None:
            if self.get_toplevel_object() is not self and isinstance(self.get_toplevel_object(), ModuleOp):
                raise VerifyException(f"'{self.name}' op refers to grid @{self.sharding.grid}, "
                                      "which is not a shard.grid of the module")
            return
        self.sharding.verify_for(self.input.type, grid)


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

SPMD = Dialect("spmd", [EnterOp, ExitOp, ShardingConstraintOp], [ShardingAttr])
"""Loom's boundary markers of `@spmd` programs (no upstream equivalent: MLIR's partitioner works from
`shard.shard` annotations instead of user-written per-device programs), and the sharding attribute and
constraint of global-view functions."""
