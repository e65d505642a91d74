"""The `spmd` dialect: Loom's own ops and attribute for distributed programs (no upstream
equivalent: MLIR's partitioner works from `shard.shard` annotations instead of user-written
per-device programs). Collectives and meshes are the `shard` dialect's (dialects/shard_ext.py).

- `spmd.enter %x on @M grid_axes = [0, 1]` and `spmd.exit …`: identities on values that mark where
  global-view values enter and leave an `@spmd` program running over those mesh axes (all of the
  mesh's); see the ops.
- For global-view (automatically partitioned) functions: the attribute `#spmd.sharding<@M, [[0], []]>`
  (how a value is laid out on the mesh, Shardy's `#sdy.sharding` / MLIR's `split_axes`) and the op
  `spmd.sharding_constraint` (a user's request for a sharding, an identity on values like
  `sdy.sharding_constraint`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from xdsl.dialects import shard as xshard
from xdsl.dialects.builtin import (
    ArrayAttr,
    FlatSymbolRefAttr,
    IntAttr,
    ModuleOp,
    StringAttr,
    SymbolRefAttr,
    TensorType,
)
from xdsl.ir import Attribute, Dialect, Operation, ParametrizedAttribute, SSAValue
from xdsl.irdl import (
    AnyAttr,
    IRDLOperation,
    VarConstraint,
    attr_def,
    irdl_attr_definition,
    irdl_op_definition,
    operand_def,
    prop_def,
    result_def,
    traits_def,
)
from xdsl.parser import AttrParser
from xdsl.printer import Printer
from xdsl.traits import Pure, SymbolTable
from xdsl.utils.exceptions import VerifyException

from dialects.shard_ext import axes_attr


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


SPMD = Dialect("spmd", [EnterOp, ExitOp, ShardingConstraintOp], [ShardingAttr])
"""Loom's boundary markers of `@spmd` programs (no upstream equivalent: MLIR's partitioner works from
`shard.shard` annotations instead of user-written per-device programs), and the sharding attribute and
constraint of global-view functions."""

