"""The redistribution planner: the cheapest sequence of `shard` collectives that takes a value
from one sharding to another (used by `shard-partition`).

A `Layout` is what a sharding says about a value on a grid: per tensor dimension the mesh axes
that split it (major first), and the mesh axes over which the devices hold partial values whose
`kind` (sum, max, min) over the group is the true value. Each collective changes the layout of
its operand in one way (`n` = the group size of the moved axes `A`; a dimension's split can only
grow or shrink at its minor end, where the blocks of the group are contiguous):

| step                         | layout before → after                              |
|------------------------------|----------------------------------------------------|
| `all_slice` dim k over A     | split[k] → split[k] + A   (A unused; no communication) |
| `all_gather` dim k over A    | split[k] + A → split[k]                            |
| `all_to_all` s ← c over A    | split[c] + A, split[s] → split[c], split[s] + A    |
| `reduce_scatter` dim k, A    | partial ⊇ A, split[k] → partial − A, split[k] + A  |
| `all_reduce` over A          | partial ⊇ A → partial − A                          |

`plan` is a shortest-path search over layouts (Dijkstra; the cost of a step is
`cost_model.collective_time` of its operand's local bytes, ties broken by the number of steps), so
a direct collective always wins over a detour through the replicated layout: `(dp, _) → (_, dp)`
is one `all_to_all`, partial → split one `reduce_scatter`, partial → replicated one `all_reduce`.
"""

from __future__ import annotations

import heapq
import itertools
import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace

from compiler.passes.sharding.cost_model import collective_time

Split = tuple[tuple[int, ...], ...]


@dataclass(frozen=True, order=True)
class Layout:
    """A value's distribution over the grid: the search state of the planner (hashable, cheap);
    `of(sharding)` reads an `#spmd.sharding` attribute."""

    split: Split
    partial: tuple[int, ...] = ()
    kind: str = "sum"

    @staticmethod
    def of(sharding) -> Layout:
        return Layout(tuple(tuple(d) for d in sharding.split_axes), tuple(sorted(sharding.partial)),
                      sharding.partial_kind if sharding.partial else "sum")

    @staticmethod
    def replicated(rank: int) -> Layout:
        return Layout(((),) * rank)

    @property
    def is_replicated(self) -> bool:
        return not self.partial and not any(self.split)

    def whole(self) -> Layout:
        """The same split, without a pending reduction."""
        return Layout(self.split)

    def used(self) -> set[int]:
        return {a for d in self.split for a in d} | set(self.partial)

    def local_shape(self, shape: Sequence[int], grid: Sequence[int]) -> tuple[int, ...]:
        return tuple(s // math.prod(grid[a] for a in d) for s, d in zip(shape, self.split))

    def describe(self, names: Sequence[str]) -> str:
        """For diagnostics: `(dp, _)`, `((dp, tp), _)`, `replicated`, `partial sum over tp`."""
        def dim(d):
            return "_" if not d else names[d[0]] if len(d) == 1 else "(" + ", ".join(names[a] for a in d) + ")"
        parts = []
        if any(self.split):
            parts.append("(" + ", ".join(map(dim, self.split)) + ("," if len(self.split) == 1 else "") + ")")
        if self.partial:
            parts.append(f"partial {self.kind} over " + ", ".join(names[a] for a in self.partial))
        return ", ".join(parts) or "replicated"


@dataclass(frozen=True)
class Step:
    """One collective: `kind` over mesh axes `grid_axes`; `axis` is the tensor axis it slices,
    gathers or scatters (for `all_to_all` the split axis, `concat_axis` the one it concatenates);
    `before`/`after` are the layouts of its operand and result."""

    kind: str
    grid_axes: tuple[int, ...]
    before: Layout
    after: Layout
    axis: int | None = None
    concat_axis: int | None = None


def _with(split: Split, k: int, d: tuple[int, ...]) -> Split:
    return tuple(d if i == k else s for i, s in enumerate(split))


def _tuples(axes: Sequence[int]) -> Iterator[tuple[int, ...]]:
    """Every non-empty ordered selection of `axes`."""
    for r in range(1, len(axes) + 1):
        yield from itertools.permutations(sorted(axes), r)


def _moves(s: Layout, shape: Sequence[int], grid: Sequence[int]) -> Iterator[Step]:
    local = s.local_shape(shape, grid)
    free = [a for a in range(len(grid)) if a not in s.used() and grid[a] > 1]

    def divides(k: int, axes: tuple[int, ...]) -> bool:
        return local[k] % math.prod(grid[a] for a in axes) == 0

    for k, d in enumerate(s.split):
        for A in _tuples(free):
            if divides(k, A):
                yield Step("all_slice", A, s, replace(s, split=_with(s.split, k, d + A)), axis=k)
        for cut in range(len(d)):
            A = d[cut:]
            yield Step("all_gather", A, s, replace(s, split=_with(s.split, k, d[:cut])), axis=k)
            for j in range(len(s.split)):
                if j != k and divides(j, A):
                    split = _with(_with(s.split, k, d[:cut]), j, s.split[j] + A)
                    yield Step("all_to_all", A, s, replace(s, split=split), axis=j, concat_axis=k)
    for A in _tuples(s.partial):
        rest = tuple(a for a in s.partial if a not in A)
        if A == tuple(sorted(A)):
            yield Step("all_reduce", A, s, Layout(s.split, rest, s.kind if rest else "sum"))
        for k, d in enumerate(s.split):
            if divides(k, A):
                yield Step("reduce_scatter", A, s, Layout(_with(s.split, k, d + A), rest, s.kind if rest else "sum"),
                           axis=k)


def _drop_unit_axes(s: Layout, grid: Sequence[int]) -> Layout:
    partial = tuple(a for a in s.partial if grid[a] > 1)
    return Layout(tuple(tuple(a for a in d if grid[a] > 1) for d in s.split), partial, s.kind if partial else "sum")


def step_cost(step: Step, shape: Sequence[int], grid: Sequence[int], elem_bytes: int) -> float:
    nbytes = math.prod(step.before.local_shape(shape, grid)) * elem_bytes
    return collective_time(step.kind, nbytes, math.prod(grid[a] for a in step.grid_axes))


class NoPlan(ValueError):
    """No sequence of collectives reaches the target (a pending reduction cannot be created)."""


def plan(src: Layout, dst: Layout, shape: Sequence[int], grid: Sequence[int], elem_bytes: int = 4) -> list[Step]:
    """The cheapest sequence of steps from `src` to `dst` for a value of global `shape` on a grid of
    shape `grid` (empty when they are equal). A pending reduction of `dst` must be one `src` has."""
    if len(src.split) != len(shape) or len(dst.split) != len(shape):
        raise ValueError(f"layouts {src} and {dst} do not have the rank of shape {list(shape)}")
    if not set(dst.partial) <= set(src.partial) or (dst.partial and dst.kind != src.kind):
        raise NoPlan(f"cannot make a pending reduction: from {src} to {dst}")
    src, dst = _drop_unit_axes(src, grid), _drop_unit_axes(dst, grid)  # a mesh axis of size 1 splits nothing
    keep = set(dst.partial)
    best: dict[Layout, tuple[float, int]] = {src: (0.0, 0)}
    queue: list[tuple[float, int, int, Layout, tuple[Step, ...]]] = [(0.0, 0, 0, src, ())]
    tie = itertools.count(1)
    while queue:
        cost, n, _, s, steps = heapq.heappop(queue)
        if s == dst:
            return list(steps)
        if best.get(s, (math.inf, 0)) < (cost, n):
            continue
        for step in _moves(s, shape, grid):
            if not keep <= set(step.after.partial):
                continue
            key = (cost + step_cost(step, shape, grid, elem_bytes), n + 1)
            if key < best.get(step.after, (math.inf, 0)):
                best[step.after] = key
                heapq.heappush(queue, (*key, next(tie), step.after, steps + (step,)))
    raise NoPlan(f"no sequence of collectives takes {src} to {dst} on a grid {list(grid)} for shape {list(shape)}")
