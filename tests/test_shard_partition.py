"""shard-partition: every op family partitioned under many shardings gives the unpartitioned result.

The shardings here do not come from `sharding-propagation`: every value of a function (arguments,
every op's results, loop-carried values) gets a random valid sharding, and the per-device program
the partitioner makes (run on simulated devices, runtime/simulated.py) must compute what the
function computes unpartitioned (the reference executor), whatever the shardings: the partitioner
reshards wherever a value does not lie as an op needs it. The golden IR of the analytic cases is
in tests/filecheck/shard_partition_*.mlir; end-to-end runs from annotated sources are in
tests/test_global_view_runs.py.
"""

from __future__ import annotations

import random

import numpy as np
import pytest
from xdsl.dialects import func, scf
from xdsl.dialects.builtin import ArrayAttr, StringAttr, TensorType

from compiler import driver
from compiler.api import DTYPE_NAMES
from compiler.frontend.types import TensorT
from compiler.passes.shard_partition import REASON
from compiler.passes.sharding.local_rules import LOCAL
from dialects import loom
from dialects import shard_ext as sx
from dialects.spmd import ShardingAttr
from runtime.reference import run_function
from runtime.simulated import run_spmd

GRIDS = [(2,), (4,), (2, 2)]
COLLECTIVES = {f"shard.{k}" for k in ("all_slice", "all_gather", "all_to_all", "reduce_scatter", "all_reduce")}


def test_every_loom_op_has_a_local_rule():
    missing = [op.name for op in loom.Loom.operations if op.name not in LOCAL]
    assert not missing


def random_sharding(rng: random.Random, t, grid) -> ShardingAttr:
    shape = list(t.get_shape()) if isinstance(t, TensorType) else []
    split = [[] for _ in shape]
    for a in rng.sample(range(len(grid)), len(grid)):
        dims = [d for d, s in enumerate(shape)
                if s > 0 and s % (int(np.prod([grid[b] for b in split[d]])) * grid[a]) == 0]
        if dims and rng.random() < 0.7:
            split[rng.choice(dims)].append(a)
    return ShardingAttr("M", split)


def annotate(module, symbol: str, grid, seed: int) -> None:
    """Make @symbol a global-view function with random shardings, and give the module its grid."""
    rng = random.Random(seed)
    grid_op = sx.xshard.GridOp.create(properties={"sym_name": StringAttr("M"),
                                                  "shape": sx.xshard.DenseArrayBase.from_list(sx.xshard.i64, list(grid))})
    module.body.block.insert_op_before(grid_op, module.body.block.first_op)
    f = next(o for o in module.body.block.ops if isinstance(o, func.FuncOp) and o.sym_name.data == symbol)
    f.attributes["spmd.arg_shardings"] = ArrayAttr([random_sharding(rng, t, grid) for t in f.function_type.inputs])
    f.attributes["spmd.res_shardings"] = ArrayAttr([ShardingAttr.replicated("M", len(getattr(t, "shape", [])))
                                                    for t in f.function_type.outputs])
    for op in f.walk():
        if op.results and not isinstance(op, (func.FuncOp, scf.YieldOp)):
            op.attributes["spmd.shardings"] = ArrayAttr([random_sharding(rng, r.type, grid) for r in op.results])


def compare(src: str, entry: str, args: list, grid, seeds=range(3)) -> None:
    program = driver.check_source(src, "t.loom")
    types = [TensorT(DTYPE_NAMES[np.asarray(a).dtype], tuple(np.shape(a))) for a in args]
    lowered = driver.Lowered(program, program.specialize(entry, types))
    want = run_function(lowered.module("loom-inline"), lowered.symbol, [np.copy(a) for a in args])
    for seed in seeds:
        m = lowered.generate()
        driver.run_passes(m, "loom-inline")
        annotate(m, lowered.symbol, grid, seed)
        driver.run_passes(m, "shard-partition")
        for op in m.walk():
            if op.name in COLLECTIVES:
                assert REASON in op.attributes, op
        got = run_spmd(m, lowered.symbol, [np.copy(a) for a in args])
        assert len(got) == len(want)
        for g, w in zip(got, want):
            np.testing.assert_allclose(np.asarray(g), np.asarray(w), rtol=1e-5, atol=1e-5, err_msg=f"seed {seed}")


R = np.random.default_rng(0)
X = R.standard_normal((8, 4)).astype(np.float32)
Y = R.standard_normal((4, 8)).astype(np.float32)
V = R.standard_normal((8,)).astype(np.float32)
B = R.standard_normal((4, 8, 4)).astype(np.float32)

FAMILIES = {
    "elementwise": ("""
def f(x: f32[8, 4], v: f32[4], s: f32) -> f32[8, 4]:
    y = exp(x) * v - s / (abs(x) + 1.0)
    return where(x > 0.0, y, -y) + f32(i64(x * 3.0))
""", [X, X[0], np.float32(1.5)]),
    "matmul": ("""
def f(x: f32[8, 4], y: f32[4, 8], v: f32[8], b: f32[4, 8, 4]) -> (f32[8, 8], f32[4], f32[4, 8, 8]):
    return relu(x @ y) @ (x @ y), y @ v, b @ y
""", [X, Y, V, B]),
    "reductions": ("""
def f(x: f32[8, 4]) -> (f32, f32[4], f32[8], f32[1, 4], i64[4], f32, bool[8], f32):
    return sum(x), mean(x, axis=0), max(x, axis=1), min(x, axis=0, keepdims=true), argmax(x, axis=0), \\
        prod(x[0:2, 0:2]), any(x > 1.0, axis=1), mean(x)
""", [X]),
    "shapes": ("""
def f(x: f32[8, 4], v: f32[8]) -> (f32[4, 8], f32[32], f32[2, 4, 4], f32[3, 8, 4], f32[16, 4], f32[8, 8]):
    return transpose(x), reshape(x, (32,)), reshape(x, (2, 4, 4)), broadcast_to(x, (3, 8, 4)), \\
        concat((x, x * 2.0), axis=0), concat((x, x), axis=1)
""", [X, V]),
    "indexing": ("""
def f(x: f32[8, 4], i: i64) -> (f32[4], f32[8], f32[2, 4], f32[8, 4], f32[8, 2]):
    y = x
    y[1] = x[2] * 2.0
    y[:, 0] = zeros((8,))
    return x[i], x[:, 1], x[i:i+2], y, x[:, 1:3]
""", [X, np.int64(3)]),
    "creation": ("""
def f(x: f32[8, 4]) -> (f32[8, 4], i64[8], f32[8, 4], f32[8, 4]):
    return x + full((8, 4), 2.0), arange(8) * 2, uniform((8, 4), seed=3) + x, zeros_like(x) + ones((4,))
""", [X]),
    "control_flow": ("""
def f(x: f32[8, 4], n: i64) -> (f32[8, 4], f32, f32[8, 4]):
    y = x
    s = 0.0
    for i in range(n):
        y = tanh(y @ transpose(x) @ x * 0.01)
        s = s + sum(y)
    if s > 0.0:
        z = y * 2.0
    else:
        z = -y
    k = 0
    while k < 3 bound 10:
        z = z + 1.0
        k = k + 1
    return y, s, z
""", [X, np.int64(2)]),
}


@pytest.mark.parametrize("grid", GRIDS, ids=lambda g: "x".join(map(str, g)))
@pytest.mark.parametrize("family", list(FAMILIES))
def test_partitioned_equals_unpartitioned(family, grid):
    src, args = FAMILIES[family]
    compare(src, "f", args, grid)
