"""Simulated devices (runtime/simulated.py): every collective of §9.3 on 1-D meshes of 2 and 4
devices and over each axis of a 2×2 mesh, each device's result against a NumPy implementation of
§9.3 written here independently of the simulator."""

import numpy as np
import pytest
from xdsl.parser import Parser

from compiler.diagnostics import LoomRuntimeError
from compiler.pipeline import make_context
from runtime.simulated import run_devices, run_spmd

MESHES = [((2,), 0), ((4,), 0), ((2, 2), 0), ((2, 2), 1)]
BLOCK = (4, 6)


def ttype(shape, dtype="f32"):
    return f"tensor<{'x'.join(map(str, shape))}x{dtype}>"


def module(mesh, body: str, in_shape, out_shape, dtype="f32"):
    text = f"""
shard.grid @M(shape = {'x'.join(map(str, mesh))})
func.func @f(%x: {ttype(in_shape, dtype)}) -> {ttype(out_shape, dtype)} {{
  %r = {body} : {ttype(in_shape, dtype)} -> {ttype(out_shape, dtype)}
  func.return %r : {ttype(out_shape, dtype)}
}}
"""
    m = Parser(make_context(), text).parse_module()
    m.verify()
    return m


def groups(mesh, axis):
    """For each rank: (the ranks of its group in order, its index in the group)."""
    ranks = np.arange(int(np.prod(mesh))).reshape(mesh)
    out = []
    for r in range(ranks.size):
        c = np.unravel_index(r, mesh)
        line = ranks[tuple(slice(None) if a == axis else c[a] for a in range(len(mesh)))]
        out.append((list(line), int(c[axis])))
    return out


def inputs(mesh, shape=BLOCK, seed=0):
    rng = np.random.default_rng(seed)
    return [rng.standard_normal(shape).astype(np.float32) for _ in range(int(np.prod(mesh)))]


def run(m, xs):
    return [r[0] for r in run_devices(m, "f", [[x] for x in xs])]


# -------------------------------------------------------- NumPy meaning of §9.3, per device
def ref_all_reduce(xs, g, op):
    f = {"sum": np.sum, "max": np.max, "min": np.min}[op]
    return [f(np.stack([xs[j] for j in members]), axis=0) for members, _ in g]


def ref_all_gather(xs, g, axis):
    return [np.concatenate([xs[j] for j in members], axis=axis) for members, _ in g]


def ref_reduce_scatter(xs, g, axis):
    out = []
    for members, i in g:
        total = sum(xs[j].astype(np.float64) for j in members)
        size = total.shape[axis] // len(members)
        out.append(np.take(total, range(i * size, (i + 1) * size), axis=axis))
    return out


def ref_all_to_all(xs, g, split, concat):
    out = []
    for members, i in g:
        n = len(members)
        size = xs[0].shape[split] // n
        received = [np.take(xs[j], range(i * size, (i + 1) * size), axis=split) for j in members]
        out.append(np.concatenate(received, axis=concat))
    return out


def ref_broadcast(xs, g, root):
    return [xs[members[root]] for members, _ in g]


def ref_shift(xs, g, offset):
    return [xs[members[(i - offset) % len(members)]] for members, i in g]


def check(got, want, tol=1e-5):
    assert len(got) == len(want)
    for r, (a, b) in enumerate(zip(got, want)):
        np.testing.assert_allclose(a, b, rtol=tol, atol=tol, err_msg=f"device {r}")


@pytest.mark.parametrize("mesh, axis", MESHES)
@pytest.mark.parametrize("op", ["sum", "max", "min"])
def test_all_reduce(mesh, axis, op):
    xs = inputs(mesh)
    m = module(mesh, f"shard.all_reduce %x on @M grid_axes = [{axis}] reduction = {op}", BLOCK, BLOCK)
    check(run(m, xs), ref_all_reduce(xs, groups(mesh, axis), op))


@pytest.mark.parametrize("mesh, axis", MESHES)
@pytest.mark.parametrize("k", [0, 1])
def test_all_gather(mesh, axis, k):
    xs = inputs(mesh)
    n = mesh[axis]
    out = tuple(d * n if i == k else d for i, d in enumerate(BLOCK))
    m = module(mesh, f"shard.all_gather %x on @M grid_axes = [{axis}] gather_axis = {k}", BLOCK, out)
    check(run(m, xs), ref_all_gather(xs, groups(mesh, axis), k))


@pytest.mark.parametrize("mesh, axis", MESHES)
@pytest.mark.parametrize("k", [0, 1])
def test_reduce_scatter(mesh, axis, k):
    shape = (8, 12)
    xs = inputs(mesh, shape)
    n = mesh[axis]
    out = tuple(d // n if i == k else d for i, d in enumerate(shape))
    m = module(mesh, f"shard.reduce_scatter %x on @M grid_axes = [{axis}] scatter_axis = {k}", shape, out)
    check(run(m, xs), ref_reduce_scatter(xs, groups(mesh, axis), k))


@pytest.mark.parametrize("mesh, axis", MESHES)
@pytest.mark.parametrize("split, concat", [(0, 1), (1, 0), (0, 0), (1, 1)])
def test_all_to_all(mesh, axis, split, concat):
    shape = (8, 12)
    xs = inputs(mesh, shape)
    n = mesh[axis]
    out = list(shape)
    out[split] //= n
    out[concat] *= n
    m = module(mesh, f"shard.all_to_all %x on @M grid_axes = [{axis}] split_axis = {split} concat_axis = {concat}",
               shape, out)
    check(run(m, xs), ref_all_to_all(xs, groups(mesh, axis), split, concat))


@pytest.mark.parametrize("mesh, axis", MESHES)
def test_broadcast(mesh, axis):
    xs = inputs(mesh)
    root = mesh[axis] - 1
    text = f"shard.broadcast %x on @M grid_axes = [{axis}] root = [{root}]"
    m = Parser(make_context(), f"""
shard.grid @M(shape = {'x'.join(map(str, mesh))})
func.func @f(%x: {ttype(BLOCK)}) -> {ttype(BLOCK)} {{
  %r = {text} : ({ttype(BLOCK)}) -> {ttype(BLOCK)}
  func.return %r : {ttype(BLOCK)}
}}""").parse_module()
    check(run(m, xs), ref_broadcast(xs, groups(mesh, axis), root))


@pytest.mark.parametrize("mesh, axis", MESHES)
@pytest.mark.parametrize("offset", [1, -1, 2, 3])
def test_shift(mesh, axis, offset):
    xs = inputs(mesh)
    m = module(mesh, f"shard.shift %x on @M grid_axes = [{axis}] shift_axis = {axis} offset = {offset} rotate",
               BLOCK, BLOCK)
    check(run(m, xs), ref_shift(xs, groups(mesh, axis), offset))


@pytest.mark.parametrize("mesh, axis", MESHES)
def test_all_slice_and_positions(mesh, axis):
    x = inputs(mesh, (8, 6))[0]
    n = mesh[axis]
    m = Parser(make_context(), f"""
shard.grid @M(shape = {'x'.join(map(str, mesh))})
func.func @f(%x: tensor<8x6xf32>) -> (tensor<{8 // n}x6xf32>, index, index) {{
  %r = shard.all_slice %x on @M grid_axes = [{axis}] slice_axis = 0 : tensor<8x6xf32> -> tensor<{8 // n}x6xf32>
  %i = shard.process_multi_index on @M axes = [{axis}] : index
  %s = shard.grid_shape @M axes = [{axis}] : index
  func.return %r, %i, %s : tensor<{8 // n}x6xf32>, index, index
}}""").parse_module()
    got = run_devices(m, "f", [[x]] * int(np.prod(mesh)))
    for r, (members, i) in enumerate(groups(mesh, axis)):
        np.testing.assert_array_equal(got[r][0], x[i * (8 // n):(i + 1) * (8 // n)])
        assert got[r][1:] == (i, n)


def test_global_results_must_agree():
    m = module((2,), "shard.all_slice %x on @M grid_axes = [0] slice_axis = 0", (4, 6), (2, 6))
    with pytest.raises(LoomRuntimeError, match="different values on devices 0 and 1"):
        run_spmd(m, "f", [np.ones((4, 6), np.float32) * np.arange(4)[:, None]])


def test_a_failing_device_stops_all_and_is_named():
    m = Parser(make_context(), """
shard.grid @M(shape = 2)
func.func @f(%x: tensor<4xf32>) -> tensor<4xf32> {
  %i = shard.process_linear_index on @M : index
  %j = arith.index_cast %i : index to i64
  %c1 = arith.constant 1 : i64
  %ok = loom.cmp "eq", %j, %c1 : (i64, i64) -> i1
  loom.assert %ok, "device 0 fails"
  %s = shard.all_reduce %x on @M grid_axes = [0] : tensor<4xf32> -> tensor<4xf32>
  func.return %s : tensor<4xf32>
}""").parse_module()
    with pytest.raises(LoomRuntimeError, match=r"on device 0 \(0,\): device 0 fails"):
        run_devices(m, "f", [[np.ones(4, np.float32)]] * 2)


@pytest.mark.parametrize("offset", [1, -1, 2])
def test_shift_without_rotate_leaves_the_ends_undefined(offset):
    """MLIR's shard.shift without `rotate`: device i gets device i − offset's block; a device without
    one gets an undefined result (NaN here, so that a read of it shows)."""
    m = module((4,), f"shard.shift %x on @M grid_axes = [0] shift_axis = 0 offset = {offset}", (4, 6), (4, 6))
    xs = [np.full((4, 6), r, np.float32) for r in range(4)]
    got = run_devices(m, "f", [[x] for x in xs])
    for r in range(4):
        if 0 <= r - offset < 4:
            np.testing.assert_array_equal(got[r][0], xs[r - offset])
        else:
            assert np.isnan(got[r][0]).all()
