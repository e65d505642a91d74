"""Sharding rules: for each op, how the dimensions of its operands and results correspond, in the
factor notation of Shardy's `OpShardingRule`.

Every dimension of every tensor operand and result carries one *factor* (a name); dimensions that
carry the same factor are indexed together, so splitting that factor over mesh axes splits all of
them the same way. `loom.matmul` of a `tensor<8x16>` and a `tensor<16x4>` is

    ([i, k], [k, j]) -> ([i, j]) {i=8, j=4, k=16} reduction={k}

- `reduction`: factors the op sums (or maxes, …) over; when one is split, each device computes a
  partial result and the result is `partial = <reduction_kind>` over those mesh axes.
- `need_replicated`: factors that must not be split (the dimension `concat` joins along, a dimension
  a `slice` cuts other than whole or by a static step-1 range (a window, below), the dimensions
  `loom.random` generates, what `print` shows).
- `windows`: factors a static step-1 range `x[a:b]` shares between the source dimension and the
  result's (or an update's value's) (`{factor: (size, start, length, writes)}`): propagation splits them only over one mesh axis
  whose halo exchange is possible (`split_indexing.halo`), and `shard-partition` decides per op
  between the halo exchange and an all_gather by cost.
- `partial_ok`: groups of operand indices in which the op is jointly linear: when exactly the
  operands of one group hold pending sums (`partial = sum`) over the same mesh axes, the result is
  that pending sum too (`add`: both operands; `mul`: either one; `exp`: none).
- A factor of size 1 (a broadcast dimension) or of dynamic size (`?`, -1) is never split by
  propagation (sizes must divide); scalars have no dimensions, so no factors.

Reshapes split and merge dimensions: each maximal group of dimensions with equal products gets one
factor per dimension of its finer side, and the coarse side's single dimension carries the group's
*major* factor (`tensor<8>` → `tensor<2x4>` is `([i]) -> ([i, j]) {i=2, j=4} need_replicated={j}`):
a block of the major factor is a contiguous block of both. A group that neither splits nor merges
one dimension (`2x6` → `4x3`) is replicated.

`RULES` has one short function per op name: every `loom` op, `spmd.sharding_constraint`, the
`arith`/`math` ops that appear on loom-level values; `rule_for` answers every other op (collectives,
`spmd.enter`/`exit` of inlined `@spmd` bodies, tapes) with a rule that replicates everything.
`scf` ops and `func.return` are handled by the `sharding-propagation` pass itself.
"""

from __future__ import annotations

import math as pymath
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from xdsl.dialects import arith, math
from xdsl.dialects.builtin import TensorType
from xdsl.ir import Operation, SSAValue

from dialects import loom
from dialects.loom_indexing import is_whole, static_range
from dialects.spmd import ShardingConstraintOp

_NAMES = "ijklmnopqrstuvwxyzabcdefgh"


@dataclass(frozen=True)
class OpShardingRule:
    operand_factors: list[list[str]]
    result_factors: list[list[str]]
    factor_sizes: dict[str, int]
    reduction: set[str] = field(default_factory=set)
    need_replicated: set[str] = field(default_factory=set)
    partial_ok: tuple[frozenset[int], ...] = ()
    reduction_kind: str = "sum"  # of the partial result when a reduction factor is split
    windows: dict[str, tuple[int, int, int, bool]] = field(default_factory=dict)  # factor -> (size, start, length, writes)

    def __str__(self) -> str:
        def group(fs: list[list[str]]) -> str:
            return "(" + ", ".join("[" + ", ".join(d) + "]" for d in fs) + ")"

        def fset(s: set[str]) -> str:
            return "{" + ", ".join(sorted(s, key=self._order)) + "}"

        sizes = ", ".join(f"{f}={'?' if n < 0 else n}" for f, n in self.factor_sizes.items())
        text = f"{group(self.operand_factors)} -> {group(self.result_factors)} {{{sizes}}}"
        if self.reduction:
            text += f" reduction={fset(self.reduction)}"
            if self.reduction_kind != "sum":
                text += f" ({self.reduction_kind})"
        if self.need_replicated:
            text += f" need_replicated={fset(self.need_replicated)}"
        if self.windows:
            text += " windows={" + ", ".join(f"{f}=[{a}:{a + n}] of {size}"
                                             for f, (size, a, n, _) in self.windows.items()) + "}"
        return text

    def _order(self, f: str) -> int:
        return list(self.factor_sizes).index(f)

    def dims_of(self, factor: str) -> list[tuple[str, int, int]]:
        """Every (`operand`|`result`, index, dimension) that carries `factor`."""
        out = []
        for side, groups in (("operand", self.operand_factors), ("result", self.result_factors)):
            for i, dims in enumerate(groups):
                out.extend((side, i, d) for d, f in enumerate(dims) if f == factor)
        return out


class _Factors:
    """Fresh factor names (i, j, k, …) and their sizes, for building one rule."""

    def __init__(self) -> None:
        self.sizes: dict[str, int] = {}
        self.replicated: set[str] = set()

    def new(self, size: int, replicated: bool = False) -> str:
        n = len(self.sizes)
        name = _NAMES[n % len(_NAMES)] + (str(n // len(_NAMES)) if n >= len(_NAMES) else "")
        self.sizes[name] = size
        if replicated:
            self.replicated.add(name)
        return name

    def rule(self, operands, results, reduction=(), partial_ok=(), kind="sum", windows=None) -> OpShardingRule:
        return OpShardingRule([list(d) for d in operands], [list(d) for d in results], dict(self.sizes),
                              set(reduction), set(self.replicated), tuple(frozenset(g) for g in partial_ok), kind,
                              dict(windows or {}))


def shape(v: SSAValue) -> list[int]:
    """The dimensions of a value (none for a scalar, a tape or an unranked tensor)."""
    return list(v.type.get_shape()) if isinstance(v.type, TensorType) else []


def _aligned(fx: _Factors, s: Sequence[int], out: Sequence[int], res: Sequence[str]) -> list[str]:
    """An operand broadcast (NumPy rules) to the result: dims aligned right; a size-1 dim that is
    broadcast gets its own factor."""
    off = len(out) - len(s)
    return [res[off + i] if d == out[off + i] else fx.new(d) for i, d in enumerate(s)]


def _broadcasting(op: Operation, partial_ok=()) -> OpShardingRule:
    fx = _Factors()
    out = shape(op.results[0])
    res = [fx.new(d) for d in out]
    operands = [_aligned(fx, shape(v), out, res) for v in op.operands]
    others = [res if shape(r) == out else [fx.new(d, replicated=True) for d in shape(r)] for r in op.results[1:]]
    return fx.rule(operands, [res, *others], partial_ok=partial_ok)


def _elementwise(op: Operation) -> OpShardingRule:
    """Elementwise and not linear (exp, max, cmp, …): pending sums do not pass."""
    return _broadcasting(op)


def _additive(op: Operation) -> OpShardingRule:
    """add, sub: a pending sum passes when both operands hold one."""
    return _broadcasting(op, partial_ok=[range(len(op.operands))])


def _multiplicative(op: Operation) -> OpShardingRule:
    """mul: linear in either operand (the other whole)."""
    return _broadcasting(op, partial_ok=[[0], [1]])


def _linear_in_first(op: Operation) -> OpShardingRule:
    """neg, div (numerator): linear in operand 0."""
    return _broadcasting(op, partial_ok=[[0]])


def _select(op: Operation) -> OpShardingRule:
    return _broadcasting(op, partial_ok=[[1, 2]])


def _convert(op: loom.ConvertOp) -> OpShardingRule:
    linear = loom.is_float(op.operand.type) and loom.is_float(op.result.type)
    return _broadcasting(op, partial_ok=[[0]] if linear else [])


def _matmul(op: loom.MatmulOp) -> OpShardingRule:
    fx = _Factors()
    a, b, out = shape(op.lhs), shape(op.rhs), shape(op.result)
    res = [fx.new(d) for d in out]
    k = fx.new(a[-1] if a else 1)
    n_batch = len(out) - (len(a) >= 2) - (len(b) >= 2)
    m_dims = [res[n_batch]] if len(a) >= 2 else []
    n_dims = [res[-1]] if len(b) >= 2 else []
    batch_out = out[:n_batch]
    lhs = [k] if len(a) == 1 else _aligned(fx, a[:-2], batch_out, res[:n_batch]) + m_dims + [k]
    rhs = [k] if len(b) == 1 else _aligned(fx, b[:-2], batch_out, res[:n_batch]) + [k] + n_dims
    return fx.rule([lhs, rhs], [res], reduction=[k], partial_ok=[[0], [1]])


def _reduction(kind: str | None, linear: bool = False) -> Callable[[loom.ReductionOp], OpShardingRule]:
    """A reduction over `axes`; `kind` is the partial kind of a split reduced dim (None: the reduced
    dims must be whole, e.g. argmax)."""

    def rule(op: loom.ReductionOp) -> OpShardingRule:
        fx = _Factors()
        axes = set(op.axes_list())
        src = [fx.new(d, replicated=kind is None and i in axes) for i, d in enumerate(shape(op.operand))]
        keep = op.keepdims is not None
        res = [fx.new(1) if i in axes else f for i, f in enumerate(src) if keep or i not in axes]
        reduced = [f for i, f in enumerate(src) if i in axes] if kind else []
        return fx.rule([src], [res], reduction=reduced, partial_ok=[[0]] if linear else [], kind=kind or "sum")

    return rule


def _reshape_groups(fx: _Factors, a: list[int], b: list[int]) -> tuple[list[str], list[str]]:
    fa: list[str] = []
    fb: list[str] = []
    i = j = 0
    while i < len(a) or j < len(b):
        if i < len(a) and a[i] == 1:
            fa.append(fx.new(1))
            i += 1
            continue
        if j < len(b) and b[j] == 1:
            fb.append(fx.new(1))
            j += 1
            continue
        ga, gb = [a[i]], [b[j]]
        i, j = i + 1, j + 1
        while pymath.prod(ga) != pymath.prod(gb):
            if pymath.prod(ga) < pymath.prod(gb):
                ga.append(a[i])
                i += 1
            else:
                gb.append(b[j])
                j += 1
        if len(ga) == 1 or len(gb) == 1:
            fine = [fx.new(d, replicated=n > 0) for n, d in enumerate(gb if len(ga) == 1 else ga)]
            (fb if len(ga) == 1 else fa).extend(fine)
            (fa if len(ga) == 1 else fb).append(fine[0])
        else:
            fa.extend(fx.new(d, replicated=True) for d in ga)
            fb.extend(fx.new(d, replicated=True) for d in gb)
    return fa, fb


def _reshape(op: loom.ReshapeOp) -> OpShardingRule:
    fx = _Factors()
    a, b = shape(op.operand), shape(op.result)
    if a == b:
        fa = fb = [fx.new(d) for d in a]
    elif -1 in a or -1 in b:
        fa, fb = [fx.new(d, replicated=True) for d in a], [fx.new(d, replicated=True) for d in b]
    else:
        fa, fb = _reshape_groups(fx, a, b)
    return fx.rule([fa], [fb], partial_ok=[[0]])


def _transpose(op: loom.TransposeOp) -> OpShardingRule:
    fx = _Factors()
    src = [fx.new(d) for d in shape(op.operand)]
    return fx.rule([src], [[src[p] for p in op.perm()]], partial_ok=[[0]])


def _concat(op: loom.ConcatOp) -> OpShardingRule:
    fx = _Factors()
    axis = op.axis_value()
    res = [fx.new(d, replicated=i == axis) for i, d in enumerate(shape(op.result))]
    ins = [[fx.new(d, replicated=True) if i == axis else res[i] for i, d in enumerate(shape(v))] for v in op.inputs]
    return fx.rule(ins, [res], partial_ok=[range(len(op.inputs))])


def _indexed(fx: _Factors, op: loom.SliceOp | loom.UpdateOp,
             windows: dict[str, tuple[int, int, int, bool]] | None = None) -> tuple[list[str], list[str]]:
    """The source's factors and those of the part it indexes (the kept dims, in order): a dim kept
    whole shares its factor; any other subscript needs the dim whole on every device — except, when
    `windows` collects them, a static step-1 range of a static dim: its source and result dims share
    a *window* factor (of size gcd(N, L), so a split divides both), split only where a halo exchange
    can serve it (`split_indexing.halo`)."""
    src, part = [], []
    for spec, d in zip(op.spec(), shape(op.source)):
        kind = spec[0]
        whole = is_whole(spec, d)
        r = static_range(spec, d) if windows is not None and not whole else None
        if r and r.step == 1:
            src.append(fx.new(pymath.gcd(d, len(r))))
            windows[src[-1]] = (d, r.start, len(r), isinstance(op, loom.UpdateOp))
        else:
            src.append(fx.new(d, replicated=not whole))
        if kind in (loom.KIND_RANGE, loom.KIND_WINDOW):
            part.append(src[-1] if whole or src[-1] in (windows or {}) else None)
    return src, part


def _fill(fx: _Factors, part: list[str | None], s: list[int]) -> list[str]:
    """Factors of a value laid over `part` (aligned right); unshared dims get unsplittable factors."""
    off = len(part) - len(s)
    return [part[off + i] if off + i >= 0 and part[off + i] is not None else fx.new(d, replicated=True)
            for i, d in enumerate(s)]


def _slice(op: loom.SliceOp) -> OpShardingRule:
    fx = _Factors()
    windows: dict[str, tuple[int, int, int, bool]] = {}
    src, part = _indexed(fx, op, windows)
    res = _fill(fx, part, shape(op.result))
    return fx.rule([src] + [[] for _ in op.indices], [res], partial_ok=[[0]], windows=windows)


def _update(op: loom.UpdateOp) -> OpShardingRule:
    """As a slice; a window only when it is the one subscript other than `:` (a halo exchange of
    the value serves only that case)."""
    fx = _Factors()
    ranges = sum(not is_whole(s, d) for s, d in zip(op.spec(), shape(op.source)))
    windows: dict[str, tuple[int, int, int, bool]] | None = {} if ranges == 1 else None
    src, part = _indexed(fx, op, windows)
    value = _fill(fx, part, shape(op.value))
    return fx.rule([src, value] + [[] for _ in op.indices], [src], partial_ok=[[0, 1]], windows=windows)


def _dim(op: loom.DimOp) -> OpShardingRule:
    """The (global) size of a dimension: the operand may lie any way."""
    fx = _Factors()
    return fx.rule([[fx.new(d) for d in shape(op.operand)]], [[]])


def _created(replicated: bool) -> Callable[[Operation], OpShardingRule]:
    """full, arange, arith.constant (any layout: each device makes its block); loom.random (the
    generated dims stay whole: each element depends on its global position)."""

    def rule(op: Operation) -> OpShardingRule:
        fx = _Factors()
        res = [fx.new(d, replicated=replicated) for d in shape(op.results[0])]
        return fx.rule([[] for _ in op.operands], [res])

    return rule


def _replicated(op: Operation) -> OpShardingRule:
    """Everything whole: print/assert (they show or test whole values), and every op without a
    rule of its own (collectives of inlined `@spmd` bodies, tapes, …)."""
    fx = _Factors()
    return fx.rule([[fx.new(d, replicated=True) for d in shape(v)] for v in op.operands],
                   [[fx.new(d, replicated=True) for d in shape(r)] for r in op.results])


def _identity(op: Operation) -> OpShardingRule:
    fx = _Factors()
    src = [fx.new(d) for d in shape(op.operands[0])]
    return fx.rule([src], [src])


RULES: dict[str, Callable[[Operation], OpShardingRule]] = {
    **{op.name: _elementwise for op in (*loom.BINARY_OPS, *loom.UNARY_OPS)},
    loom.AddOp.name: _additive,
    loom.SubOp.name: _additive,
    loom.MulOp.name: _multiplicative,
    loom.DivOp.name: _linear_in_first,
    loom.NegOp.name: _linear_in_first,
    loom.SelectOp.name: _select,
    loom.ConvertOp.name: _convert,
    loom.MatmulOp.name: _matmul,
    loom.SumOp.name: _reduction("sum", linear=True),
    loom.MeanOp.name: _reduction("sum", linear=True),  # a partial mean: local sums / the global count
    loom.MaxOp.name: _reduction("max"),
    loom.MinOp.name: _reduction("min"),
    loom.AnyOp.name: _reduction("max"),
    loom.AllOp.name: _reduction("min"),
    loom.ProdOp.name: _reduction(None),
    loom.ArgmaxOp.name: _reduction(None),
    loom.ArgminOp.name: _reduction(None),
    loom.ReshapeOp.name: _reshape,
    loom.TransposeOp.name: _transpose,
    loom.BroadcastToOp.name: _linear_in_first,
    loom.ConcatOp.name: _concat,
    loom.DimOp.name: _dim,
    loom.FullOp.name: _created(False),
    loom.ArangeOp.name: _created(False),
    loom.RandomOp.name: _created(True),
    loom.SliceOp.name: _slice,
    loom.UpdateOp.name: _update,
    loom.PrintOp.name: _replicated,
    loom.AssertOp.name: _replicated,
    loom.OnFailureOp.name: _replicated,  # buffer level only (made by loom-buffer-dealloc): no tensors
    ShardingConstraintOp.name: _identity,
    arith.ConstantOp.name: _created(False),
    **{op.name: _elementwise for op in (*arith.Arith.operations, *math.Math.operations)
       if op.name != arith.ConstantOp.name},
}


def rule_for(op: Operation) -> OpShardingRule:
    """The op's rule from `RULES`, or everything replicated for an op without one."""
    return RULES.get(op.name, _replicated)(op)
