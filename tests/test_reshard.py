"""The redistribution planner (compiler/passes/sharding/reshard.py) and the cost model: every plan
is checked by carrying it out on NumPy blocks (each collective simulated here, independently of
runtime/simulated.py), against the blocks the target layout defines; plus the cases whose answer
is known (one all_to_all, one reduce_scatter, one all_reduce, ...)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from compiler.passes.sharding import cost_model
from compiler.passes.sharding.reshard import Layout, NoPlan, Step, plan, step_cost

REDUCE = {"sum": np.add.reduce, "max": np.maximum.reduce, "min": np.minimum.reduce}


def devices(grid):
    return [tuple(int(c) for c in ix) for ix in np.ndindex(*grid)]


def index_in(c, axes, grid):
    return int(np.ravel_multi_index([c[a] for a in axes], [grid[a] for a in axes])) if axes else 0


def group(c, axes, grid):
    """The devices differing from c only on `axes`, by in-group index (first axis major)."""
    out = []
    for ix in np.ndindex(*[grid[a] for a in axes]):
        d = list(c)
        for a, v in zip(axes, ix):
            d[a] = int(v)
        out.append(tuple(d))
    return out


def block(x, layout, c, grid):
    for k, axes in enumerate(layout.split):
        n = math.prod(grid[a] for a in axes)
        x = np.split(x, n, axis=k)[index_in(c, axes, grid)]
    return x


def distribute(x, layout, grid, rng):
    """Every device's value: its block, and for a pending reduction parts whose reduction is it."""
    vals = {}
    for c in devices(grid):
        b = block(x, layout, c, grid)
        p = index_in(c, layout.partial, grid)
        if layout.partial and p > 0:
            noise = rng.integers(0, 5, size=b.shape).astype(x.dtype)
            b = noise if layout.kind == "sum" else b - 1 - noise if layout.kind == "max" else b + 1 + noise
        vals[c] = b
    if layout.partial and layout.kind == "sum":  # the first device of each group holds the rest
        for c in devices(grid):
            if index_in(c, layout.partial, grid) == 0:
                others = [vals[d] for d in group(c, layout.partial, grid)[1:]]
                vals[c] = block(x, layout, c, grid) - sum(others)
    return vals


def run(step: Step, vals, grid):
    out = {}
    for c in vals:
        members = group(c, step.grid_axes, grid)
        i = members.index(c)
        parts = [vals[d] for d in members]
        n = len(members)
        if step.kind == "all_slice":
            out[c] = np.split(vals[c], n, axis=step.axis)[i]
        elif step.kind == "all_gather":
            out[c] = np.concatenate(parts, axis=step.axis)
        elif step.kind == "all_to_all":
            out[c] = np.concatenate([np.split(p, n, axis=step.axis)[i] for p in parts], axis=step.concat_axis)
        elif step.kind == "reduce_scatter":
            out[c] = np.split(REDUCE[step.before.kind](parts), n, axis=step.axis)[i]
        elif step.kind == "all_reduce":
            out[c] = REDUCE[step.before.kind](parts)
        else:
            raise AssertionError(step.kind)
    return out


def check(src, dst, shape, grid, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.integers(-50, 50, size=shape).astype(np.float64)
    steps = plan(src, dst, shape, grid)
    vals = distribute(x, src, grid, rng)
    layout = src
    for s in steps:
        assert s.before == layout
        vals = run(s, vals, grid)
        layout = s.after
    assert layout == dst
    for c in devices(grid):
        want = block(x, dst.whole(), c, grid)
        if dst.partial:  # reduce over the pending group to compare
            got = REDUCE[dst.kind]([vals[d] for d in group(c, dst.partial, grid)])
        else:
            got = vals[c]
        np.testing.assert_array_equal(got, want)
    return steps


def kinds(steps):
    return [s.kind for s in steps]


# ------------------------------------------------------------------ analytic cases
def test_transpose_split_is_one_all_to_all():
    steps = check(Layout(((0,), ())), Layout(((), (0,))), (8, 8), (4,))
    assert kinds(steps) == ["all_to_all"] and steps[0].axis == 1 and steps[0].concat_axis == 0


def test_partial_to_split_is_one_reduce_scatter():
    steps = check(Layout(((), ()), (0,)), Layout(((0,), ())), (8, 4), (2,))
    assert kinds(steps) == ["reduce_scatter"] and steps[0].axis == 0


def test_partial_to_replicated_is_one_all_reduce():
    assert kinds(check(Layout(((), ()), (1,)), Layout(((), ())), (4, 4), (2, 2))) == ["all_reduce"]


def test_partial_max_to_replicated():
    assert kinds(check(Layout(((),), (0,), "max"), Layout(((),)), (4,), (2,))) == ["all_reduce"]


def test_replicated_to_split_is_free_and_split_to_replicated_one_gather():
    assert kinds(check(Layout(((), ())), Layout(((1,), (0,))), (4, 4), (2, 2))) == ["all_slice", "all_slice"]
    assert kinds(check(Layout(((0,), ())), Layout(((), ())), (8, 4), (2,))) == ["all_gather"]
    # two gathers of 2 (2α + 3bβ) beat one of 4 (3α + 3bβ): hierarchical, minor axis first
    assert kinds(check(Layout(((0, 1),)), Layout(((),)), (8,), (2, 2))) == ["all_gather", "all_gather"]
    assert plan(Layout(((0,),)), Layout(((0,),)), (4,), (2,)) == []


def test_gather_only_the_minor_axis():
    steps = check(Layout(((0, 1),)), Layout(((0,),)), (8,), (2, 2))
    assert kinds(steps) == ["all_gather"] and steps[0].grid_axes == (1,)


def test_scalars():
    assert kinds(check(Layout((), (1,)), Layout(()), (), (2, 2))) == ["all_reduce"]
    assert kinds(check(Layout((), (0, 1)), Layout(()), (), (2, 2))) == ["all_reduce", "all_reduce"]  # 4α < 6α
    assert plan(Layout(()), Layout(()), (), (2,)) == []


def test_no_plan_creates_a_pending_reduction():
    with pytest.raises(NoPlan):
        plan(Layout(((),)), Layout(((),), (0,)), (4,), (2,))


def test_cost_model_ring_formulas():
    a, b = cost_model.ALPHA, cost_model.BETA
    assert cost_model.collective_time("all_reduce", 1000, 4) == pytest.approx(6 * a + 1.5 * 1000 * b)
    assert cost_model.collective_time("reduce_scatter", 1000, 4) == pytest.approx(3 * a + 0.75 * 1000 * b)
    assert cost_model.collective_time("all_gather", 1000, 4) == pytest.approx(3 * a + 3 * 1000 * b)
    assert cost_model.collective_time("all_to_all", 1000, 4) == pytest.approx(3 * a + 0.75 * 1000 * b)
    assert cost_model.collective_time("all_slice", 10**9, 8) == 0.0
    assert cost_model.collective_time("all_reduce", 10**9, 1) == 0.0
    with pytest.raises(ValueError):
        cost_model.collective_time("gossip", 1, 2)


# ------------------------------------------------------------------ many pairs
GRIDS = [(2,), (4,), (2, 2), (4, 2), (2, 2, 2)]


@st.composite
def cases(draw):
    grid = draw(st.sampled_from(GRIDS))
    rank = draw(st.integers(0, 3))
    shape = tuple(draw(st.sampled_from([8, 16])) for _ in range(rank))

    def layout(partial_ok):
        choices = ["none"] + (["partial"] if partial_ok else []) + list(range(rank))
        where = {a: draw(st.sampled_from(choices)) for a in draw(st.permutations(range(len(grid))))}
        split = tuple(tuple(a for a in where if where[a] == k) for k in range(rank))
        partial = tuple(sorted(a for a in where if where[a] == "partial"))
        lay = Layout(split, partial, draw(st.sampled_from(["sum", "max"])) if partial else "sum")
        ok = all(s % math.prod(grid[a] for a in d) == 0 for s, d in zip(shape, split))
        return lay if ok else Layout(((),) * rank, partial, lay.kind)

    src = layout(True)
    dst = layout(False)
    keep = draw(st.booleans())  # sometimes the target keeps (part of) the pending reduction
    if keep and src.partial:
        kept = tuple(a for a in src.partial if a not in dst.used())
        dst = Layout(dst.split, kept, src.kind if kept else "sum")
    return src, dst, shape, grid


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(cases(), st.integers(0, 2**16))
def test_every_plan_computes_the_target(case, seed):
    src, dst, shape, grid = case
    steps = check(src, dst, shape, grid, seed)
    # never dearer than the detour through the replicated layout (reduce, gather all, slice)
    mid = Layout(((),) * len(shape), dst.partial, dst.kind)
    naive = plan(src, mid, shape, grid) + plan(mid, dst, shape, grid)
    cost = sum(step_cost(s, shape, grid, 4) for s in steps)
    detour = sum(step_cost(s, shape, grid, 4) for s in naive)
    assert cost <= detour + 1e-15
    assert len(steps) <= 2 * len(grid) + 1
