"""Property: a random global-view program, on a random mesh, with random shardings of its
parameters and random `reshard`s, computes on simulated devices (partitioned: front end,
`sharding-propagation`, `shard-partition`) what it computes unpartitioned (LANGUAGE.md §9.2).

The programs are straight-line compositions of ops with different sharding rules — elementwise
(binary, with a scalar, unary), matmul (contracting a possibly split dimension: partial sums),
transpose (moves the split), a reduction over one axis, `reshard`, static slices, an index and a
range update (along a split dimension: halo exchanges, compiler/passes/sharding/split_indexing.py)
— over 8×8 f32 values, so every split divides. tests/test_shard_partition.py covers the partitioner alone on every op family."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import compiler

MESHES = {"dp=4": ["dp"], "dp=2": ["dp"], "dp=2, tp=2": ["dp", "tp"]}
N = 8


@st.composite
def shardings(draw, axes: list[str]) -> list[str]:
    """One entry per dimension of a rank-2 type: '_' or a mesh axis (each axis at most once)."""
    dims = ["_", "_"]
    for ax in axes:
        d = draw(st.sampled_from([None, 0, 1]))
        if d is not None and dims[d] == "_":
            dims[d] = ax
    return dims


def annotation(dims: list[str]) -> str:
    return "f32[" + ", ".join(f"{N}" if d == "_" else f"{N}@{d}" for d in dims) + "]"


@st.composite
def programs(draw) -> tuple[str, str]:
    mesh = draw(st.sampled_from(sorted(MESHES)))
    axes = MESHES[mesh]
    vals = ["x", "y"]
    lines = []
    for k in range(draw(st.integers(1, 5))):
        a, b = draw(st.sampled_from(vals)), draw(st.sampled_from(vals))
        expr = draw(st.sampled_from([
            f"{a} + {b}", f"{a} * {b}", f"{a} * 0.5 - {b}", f"relu({a})", f"tanh({a})", f"{a} @ {b} * 0.1",
            f"transpose({a})", f"{a} - mean({a}, axis=0, keepdims=true)", f"{a} + sum({b}, axis=1, keepdims=true)",
            "reshard({}, ({}))".format(a, ", ".join(draw(shardings(axes)))),
            f"{a} + sum({b}[2:6], axis=0, keepdims=true)", f"{a} * ({b}[:, 1:5] @ {b}[3:7, :])", f"{a} - {b}[5]",
            "update"]))
        if expr == "update":  # a halo exchange of the value when dimension 0 is split
            lines.append(f"    v{k} = {a} * 1.0")
            expr = f"{b}[1:5] * 0.5"
            lines.append(f"    v{k}[2:6] = {expr}")
        else:
            lines.append(f"    v{k} = {expr}")
        vals.append(f"v{k}")
    x, y = annotation(draw(shardings(axes))), annotation(draw(shardings(axes)))
    result = draw(st.sampled_from([f"f32[{N}, {N}]", annotation(draw(shardings(axes)))]))
    src = (f"mesh M = ({mesh})\n\ndef f(x: {x}, y: {y}) -> ({result}, f32):\n" + "\n".join(lines)
           + f"\n    return {vals[-1]}, sum({vals[-1]} * {vals[-1]})\n")
    return mesh, src


def devices(mesh: str) -> int:
    return int(np.prod([int(part.split("=")[1]) for part in mesh.split(",")]))


@pytest.mark.slow
@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(programs(), st.integers(0, 2**31 - 1))
def test_partitioned_equals_unpartitioned(case, seed):
    mesh, src = case
    rng = np.random.default_rng(seed)
    x, y = (rng.standard_normal((N, N)).astype(np.float32) for _ in range(2))
    want = compiler.loads(src, "prop.loom", mode="eager").f(x, y)
    got = compiler.loads(src, "prop.loom", mode="eager", devices=devices(mesh)).f(x, y)
    for g, w in zip(got, want):
        np.testing.assert_allclose(g, w, rtol=1e-4, atol=1e-4, err_msg=src)
