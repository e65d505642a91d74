"""`@spmd` programs from source (LANGUAGE.md §9.3), run on simulated devices: every collective on
1-D meshes of 2 and 4 devices and over one axis of a 2×2 mesh, the global results against NumPy
written from §9.3; axis_index/axis_size, scalars and structs; derivatives of `@spmd` functions
against NumPy and finite differences of the global function."""

import numpy as np
import pytest

import compiler
from runtime.simulated import run_spmd

MESHES = {  # mesh declaration, the axis the collective runs over, how x is split
    "2": ("mesh M = (dp=2)", "dp", "dp", (2,)),
    "4": ("mesh M = (dp=4)", "dp", "dp", (4,)),
    "2x2_dp": ("mesh M = (dp=2, tp=2)", "dp", "(dp, tp)", (2, 2)),
    "2x2_tp": ("mesh M = (dp=2, tp=2)", "tp", "(dp, tp)", (2, 2)),
}


def run(src: str, fname: str, *args):
    p = compiler.loads(src, name="t.loom", mode="eager")
    low = getattr(p, fname).lower(*args)
    out = run_spmd(low.module("none"), low.inst.symbol, list(args))
    return out[0] if len(out) == 1 else out


def blocks(x, mesh_shape):
    """x split along axis 0 into one block per device, in rank order."""
    return np.split(x, int(np.prod(mesh_shape)), axis=0)


def group(rank, mesh_shape, over_index):
    """The ranks of rank's group over mesh axis over_index, and rank's index in it."""
    c = list(np.unravel_index(rank, mesh_shape))
    members = []
    for i in range(mesh_shape[over_index]):
        c[over_index] = i
        members.append(int(np.ravel_multi_index(c, mesh_shape)))
    return members, members.index(rank)


def per_device(x, mesh_shape, over_index, f):
    """The global result: f(the group's blocks, my index) on every device, concatenated on axis 0."""
    bs = blocks(x, mesh_shape)
    out = []
    for r in range(len(bs)):
        members, i = group(r, mesh_shape, over_index)
        out.append(f([bs[j] for j in members], i))
    return np.concatenate(out, axis=0)


def program(mesh_name, body, out_cols, x_cols=6):
    decl, over, split, _ = MESHES[mesh_name]
    return f"""{decl}

@spmd(M)
def f(x: f32[16@{split}, {x_cols}]) -> f32[16@{split}, {out_cols}]:
    return {body.format(over=over)}
"""


def x16(cols=6, seed=0):
    return np.random.default_rng(seed).standard_normal((16, cols)).astype(np.float32)


@pytest.mark.parametrize("mesh", MESHES)
@pytest.mark.parametrize("op", ["sum", "max", "min"])
def test_all_reduce(mesh, op):
    x = x16()
    got = run(program(mesh, f"all_reduce(x, over={{over}}, op={op})", 6), "f", x)
    f = {"sum": np.sum, "max": np.max, "min": np.min}[op]
    over_index = 0 if MESHES[mesh][1] == "dp" else 1
    want = per_device(x, MESHES[mesh][3], over_index, lambda bs, i: f(np.stack(bs), axis=0))
    np.testing.assert_allclose(got, want, rtol=1e-6)


@pytest.mark.parametrize("mesh", MESHES)
def test_all_gather(mesh):
    x = x16()
    n = 4 if mesh == "4" else 2
    got = run(program(mesh, "all_gather(x, over={over}, axis=1)", 6 * n), "f", x)
    over_index = 0 if MESHES[mesh][1] == "dp" else 1
    np.testing.assert_array_equal(got, per_device(x, MESHES[mesh][3], over_index,
                                                  lambda bs, i: np.concatenate(bs, axis=1)))


@pytest.mark.parametrize("mesh", MESHES)
def test_reduce_scatter(mesh):
    x = x16(cols=8)
    n = 4 if mesh == "4" else 2
    got = run(program(mesh, "reduce_scatter(x, over={over}, axis=1)", 8 // n, x_cols=8), "f", x)
    over_index = 0 if MESHES[mesh][1] == "dp" else 1

    def ref(bs, i):
        total = np.sum(np.stack(bs), axis=0)
        w = total.shape[1] // len(bs)
        return total[:, i * w:(i + 1) * w]

    np.testing.assert_allclose(got, per_device(x, MESHES[mesh][3], over_index, ref), rtol=1e-6)


@pytest.mark.parametrize("mesh", MESHES)
def test_all_to_all(mesh):
    x = x16(cols=8)
    got = run(program(mesh, "all_to_all(x, over={over}, split=1, concat=1)", 8, x_cols=8), "f", x)
    over_index = 0 if MESHES[mesh][1] == "dp" else 1

    def ref(bs, i):
        w = bs[0].shape[1] // len(bs)
        return np.concatenate([b[:, i * w:(i + 1) * w] for b in bs], axis=1)

    np.testing.assert_array_equal(got, per_device(x, MESHES[mesh][3], over_index, ref))


@pytest.mark.parametrize("mesh", MESHES)
@pytest.mark.parametrize("offset", [1, -1])
def test_shift(mesh, offset):
    x = x16()
    got = run(program(mesh, f"shift(x, over={{over}}, offset={offset})", 6), "f", x)
    over_index = 0 if MESHES[mesh][1] == "dp" else 1
    np.testing.assert_array_equal(got, per_device(x, MESHES[mesh][3], over_index,
                                                  lambda bs, i: bs[(i - offset) % len(bs)]))


@pytest.mark.parametrize("mesh", MESHES)
def test_broadcast(mesh):
    x = x16()
    got = run(program(mesh, "broadcast(x, over={over}, root=1)", 6), "f", x)
    over_index = 0 if MESHES[mesh][1] == "dp" else 1
    np.testing.assert_array_equal(got, per_device(x, MESHES[mesh][3], over_index, lambda bs, i: bs[1]))


def test_positions_scalars_and_replicated_results():
    src = """mesh M = (dp=2, tp=2)

@spmd(M)
def f(x: f32[8@dp, 4@tp]) -> (f32, i64[4@(dp, tp)], f32[8@dp, 4]):
    total = all_reduce(all_reduce(sum(x), over=dp), over=tp)
    where_am_i = zeros((1,), i64) + axis_index(dp) * 10 + axis_index(tp) + axis_size(tp) * 100
    rows = all_gather(x, over=tp, axis=1)
    return total, where_am_i, rows
"""
    x = np.arange(32, dtype=np.float32).reshape(8, 4)
    total, pos, rows = run(src, "f", x)
    assert total == x.sum()
    np.testing.assert_array_equal(pos, [200, 201, 210, 211])
    np.testing.assert_array_equal(rows, x)


def test_struct_leafwise_all_reduce_and_replicated_parameters():
    src = """mesh M = (dp=4)
struct P:
    w: f32[3]
    b: f32

@spmd(M)
def f(p: P, x: f32[8@dp, 3]) -> P:
    g = P(w=sum(x, axis=0) * p.w, b=sum(x) + p.b)
    return all_reduce(g, over=dp) / axis_size(dp)
"""
    p = compiler.loads(src, name="t.loom", mode="eager")
    x = np.arange(24, dtype=np.float32).reshape(8, 3)
    w = np.array([1, 2, 3], np.float32)
    low = p.f.lower(p.P(w=w, b=np.float32(0.5)), x)
    got = run_spmd(low.module("none"), low.inst.symbol, [w, np.float32(0.5), x])
    np.testing.assert_allclose(got[0], x.sum(0) * w / 4)
    np.testing.assert_allclose(got[1], (x.sum() + 4 * 0.5) / 4)


# ------------------------------------------------------------------ derivatives
LOSS = """mesh M = (dp=2, tp=2)

@spmd(M)
def predict(x: f32[8@dp, 6], w: f32[6, 4@tp]) -> (f32[8@dp, 4@tp], f64):
    y = tanh(x @ w)
    s = all_reduce(all_reduce(sum(f64(y * y)), over=dp), over=tp)
    return y, s

def loss(x: f32[8, 6], w: f32[6, 4]) -> f64:
    y, s = predict(x, w)
    return f64(sum(y * x[:, 0:4])) + s

dloss_w = grad(loss, wrt=w)
dloss_x = grad(loss, wrt=x)

def tangent(x: f32[8, 6], w: f32[6, 4], tw: f32[6, 4]) -> f64:
    v, t = jvp(loss, wrt=w)(x, w, tw)
    return t
"""


def numpy_loss(x, w):
    y = np.tanh(x.astype(np.float64) @ w.astype(np.float64))
    return np.sum(y * x[:, :4]) + np.sum(y * y)


def fd_grad(f, args, k, eps=1e-3):
    g = np.zeros_like(args[k], dtype=np.float64)
    for i in np.ndindex(args[k].shape):
        hi, lo = [a.astype(np.float64).copy() for a in args], [a.astype(np.float64).copy() for a in args]
        hi[k][i] += eps
        lo[k][i] -= eps
        g[i] = (f(*hi) - f(*lo)) / (2 * eps)
    return g


@pytest.mark.parametrize("wrt, name", [(1, "dloss_w"), (0, "dloss_x")])
def test_grad_of_a_spmd_function_is_that_of_the_global_function(wrt, name):
    rng = np.random.default_rng(3)
    x = rng.standard_normal((8, 6)).astype(np.float32)
    w = (rng.standard_normal((6, 4)) * 0.3).astype(np.float32)
    got = run(LOSS, name, x, w)
    np.testing.assert_allclose(run(LOSS, "loss", x, w), numpy_loss(x, w), rtol=1e-5)
    np.testing.assert_allclose(got, fd_grad(numpy_loss, [x, w], wrt), rtol=2e-3, atol=2e-4)


def test_jvp_of_a_spmd_function_matches_the_gradient():
    rng = np.random.default_rng(4)
    x = rng.standard_normal((8, 6)).astype(np.float32)
    w = (rng.standard_normal((6, 4)) * 0.3).astype(np.float32)
    tw = rng.standard_normal((6, 4)).astype(np.float32)
    t = run(LOSS, "tangent", x, w, tw)
    g = run(LOSS, "dloss_w", x, w)
    np.testing.assert_allclose(t, np.vdot(g, tw), rtol=1e-4)


def test_struct_with_a_split_field():
    src = """mesh M = (dp=2)
struct P:
    w: f32[8@dp, 3]
    b: f32[3]

@spmd(M)
def scale(p: P) -> P:
    return p * 2.0

@spmd(M)
def total(p: P) -> f32:
    return all_reduce(sum(p.w), over=dp) + sum(p.b)   # p.b is replicated: so is the result

def main():
    p = P(w=reshape(f32(arange(24)), (8, 3)), b=ones((3,), f32))
    q = scale(p)
    return q.w, total(q)
"""
    w, t = run(src, "main")
    np.testing.assert_array_equal(w, 2 * np.arange(24, dtype=np.float32).reshape(8, 3))
    assert t == 2 * 276 + 6
