"""Global-view programs run partitioned (`sharding-propagation`, `shard-partition`) compute what
they compute unpartitioned, for every op family, on 1, 2 and 4 devices and 1-D and 2-D meshes — on
simulated devices and, compiled, over MPI (slow); data-parallel and Megatron-style training steps
communicate what they must (counted in the `spmd` stage).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys

import numpy as np
import pytest

import compiler
from tests.conftest import END_TO_END_ENV

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MESHES = {"1": "(dp=1)", "2": "(dp=2)", "4": "(dp=4)", "2x2": "(dp=2, tp=2)"}

R = np.random.default_rng(1)
X = R.standard_normal((8, 8)).astype(np.float32)
W = R.standard_normal((8, 4)).astype(np.float32)
V = R.standard_normal((8,)).astype(np.float32)
B = R.standard_normal((4, 8, 4)).astype(np.float32)

# each family: (source with `AX` for the mesh axis a dimension is split over, arguments)
FAMILIES = {
    "elementwise": ("""
def f(x: f32[8@AX, 8], v: f32[8]) -> f32[8@AX, 8]:
    y = exp(x * 0.1) * v - abs(x) / 2.0
    return where(x > 0.0, y, -y) + f32(i64(x * 3.0))
""", [X, V]),
    "matmul": ("""
def f(x: f32[8@AX, 8], w: f32[8, 4], v: f32[8@AX]) -> (f32[8, 4], f32[8], f32[4]):
    h = tanh(x @ w)
    return h, x @ v, v @ h
""", [X, W, V]),
    "reductions": ("""
def f(x: f32[8@AX, 8]) -> (f32, f32[8], f32[8], f32[1, 8], i64[8], bool[8]):
    return sum(x), mean(x, axis=0), max(x, axis=1), min(x, axis=0, keepdims=true), argmax(x, axis=1), any(x > 1.0, axis=0)
""", [X]),
    "nn": ("""
def f(x: f32[8@AX, 8], b: f32[4@AX, 8, 4], w: f32[4, 4]) -> (f32[8, 8], f32[8, 8], f32[8, 8], f32[8], f32[8, 8],
                                                           f32[4, 8, 4], f32[4, 8, 8]):
    return softmax(x, axis=1), softmax(x, axis=0), layer_norm(x), logsumexp(x, axis=0), log_softmax(x * 0.5), \\
        b @ w, b @ transpose(b, (0, 2, 1))
""", [X, B, W[:4]]),
    "shapes": ("""
def f(x: f32[8@AX, 8], v: f32[8@AX]) -> (f32[8, 8], f32[64], f32[4, 2, 8], f32[2, 8, 8], f32[16, 8], f32[8, 9]):
    return transpose(x), reshape(x, (64,)), reshape(x, (4, 2, 8)), broadcast_to(x, (2, 8, 8)), \\
        concat((x, x * 2.0), axis=0), concat((x, reshape(v, (8, 1))), axis=1)
""", [X, V]),
    "indexing": ("""
def f(x: f32[8@AX, 8], i: i64) -> (f32[8], f32[8], f32[2, 8], f32[8, 8], f32[8, 2]):
    y = x
    y[1] = x[2] * 2.0
    y[:, 0] = zeros((8,))
    return x[i], x[:, 1], x[i:i+2], y, x[:, 1:3]
""", [X, np.int64(3)]),
    "creation": ("""
def f(x: f32[8@AX, 8]) -> (f32[8, 8], i64[8], f32[8, 8]):
    return x + full((8, 8), 2.0), arange(8) * 2, uniform((8, 8), seed=3) + x
""", [X]),
    "control_flow": ("""
def f(x: f32[8@AX, 8], n: i64) -> (f32[8, 8], f32):
    y = x
    s = 0.0
    for i in range(n):
        y = tanh(y @ x * 0.1)
        s = s + sum(y)
    if s > 0.0:
        y = y * 2.0
    return y, s
""", [X, np.int64(2)]),
    "calls_structs": ("""
struct P:
    w: f32[8, 4@AX]
    b: f32[4]

@spmd(M)
def g(x: f32[8@AX, 8]) -> f32[8]:
    return all_reduce(sum(x, axis=0), over=AX)

def helper(x: f32[N, 8], p: P) -> f32[N, 4]:
    return tanh(x @ p.w + p.b)

def layer(x: f32[8@AX, 8], p: P) -> f32[8@AX, 4]:
    return helper(x, p) * 2.0

def f(x: f32[8@AX, 8], w: f32[8, 4], b: f32[4]) -> (f32[8, 4], f32[8], f32[4]):
    p = P(w, b)
    q = p
    q.b = p.b + sum(layer(x, p), axis=0)
    return layer(x, q), g(x), q.b
""", [X, W, W[0]]),  # a plain helper, a global-view one (inlined: its annotations are requests), an @spmd one
    "reshard": ("""
def f(x: f32[8@AX, 8]) -> f32[8, 8]:
    y = reshard(exp(x * 0.1), (_, AX))
    return y * 2.0
""", [X]),
    "reduce_scatter": ("""
def f(x: f32[8, 8@AX], w: f32[8@AX, 8]) -> f32[8, 8]:
    return reshard(x @ w, (AX, _)) * 2.0
""", [X, X.T.copy()]),
}


def family_source(family: str, mesh: str) -> str:
    """A family's program on one of MESHES: its split dimensions over `dp` (1-D) or `(dp, tp)` (2×2)."""
    body = FAMILIES[family][0]
    axis = "(dp, tp)" if mesh == "2x2" else "dp"
    if family == "reshard" and mesh == "2x2":
        body = body.replace("(_, AX)", "(tp, dp)")
    if family == "reduce_scatter" and mesh == "2x2":
        body = body.replace("(AX, _)", "(dp, tp)")
    return f"mesh M = {MESHES[mesh]}\n" + body.replace("AX", axis)


def mesh_devices(mesh: str) -> int:
    return int(np.prod([int(n) for n in mesh.split("x")]))


def results(src: str, args, **kw):
    out = compiler.loads(src, "g.loom", mode="eager", **kw).f(*args)
    return out if isinstance(out, tuple) else (out,)


def check_same(src, args, devices):
    want = results(src, args)
    got = results(src, args, devices=devices)
    assert len(got) == len(want)
    for g, w in zip(got, want):
        np.testing.assert_allclose(np.asarray(g), np.asarray(w), rtol=2e-5, atol=2e-5)


@pytest.mark.parametrize("mesh", list(MESHES))
@pytest.mark.parametrize("family", list(FAMILIES))
def test_partitioned_equals_unpartitioned(family, mesh):
    check_same(family_source(family, mesh), FAMILIES[family][1], devices=mesh_devices(mesh))


def test_a_pending_sum_resharded_to_split_is_one_reduce_scatter():
    src = "mesh M = (dp=4)\n" + FAMILIES["reduce_scatter"][0].replace("AX", "dp")
    assert collectives(src, "f", X, X.T.copy()) == ["reduce_scatter", "all_gather"]


NN = """
mesh M = (dp=4)

def split_axis(x: f32[8@dp, 8]) -> f32[8@dp, 8]:
    return softmax(x, axis=0)

def whole_axis(x: f32[8@dp, 8]) -> f32[8@dp, 8]:
    return softmax(x, axis=1) + layer_norm(x)

def norm_split(x: f32[8, 8@dp]) -> f32[8, 8@dp]:
    return layer_norm(x)
"""


def test_softmax_and_layer_norm_along_a_split_axis_all_reduce_each_reduction():
    """Along a split axis, each reduction of softmax (max, sum) or layer_norm (mean, variance) is
    one all_reduce; along a whole axis nothing is sent (the all_gather assembles the result)."""
    assert collectives(NN, "split_axis", X) == ["all_reduce", "all_reduce", "all_gather"]
    assert collectives(NN, "whole_axis", X) == ["all_gather"]
    assert collectives(NN, "norm_split", X) == ["all_reduce", "all_reduce", "all_gather"]
    module = compiler.loads(NN, "g.loom", mode="eager").split_axis.lower(X).stage("spmd")
    assert [op.attributes["loom.reason"].data.split(" over ")[0].split(" is ")[1] for op in module.walk()
            if op.name == "shard.all_reduce"] == ["partial max", "partial sum"]
    for entry in ("split_axis", "whole_axis", "norm_split"):
        np.testing.assert_allclose(results(NN.replace("def " + entry, "def f"), [X], devices=4)[0],
                                   results(NN.replace("def " + entry, "def f"), [X])[0], rtol=2e-5, atol=2e-5)


def collectives(src: str, entry: str, *args) -> list[str]:
    """The collectives of the per-device program (`--emit=spmd`), by kind, in order."""
    fn = getattr(compiler.loads(src, "g.loom", mode="eager", devices=None), entry)
    module = fn.lower(*args).stage("spmd")
    return [op.name.removeprefix("shard.") for op in module.walk()
            if op.name.startswith("shard.") and op.name not in ("shard.grid", "shard.all_slice")]


DP = """
mesh M = (dp=4)

def loss(w1: f32[8, 16], w2: f32[16, 4], x: f32[B@dp, 8], y: f32[B@dp, 4]) -> f32:
    d = relu(x @ w1) @ w2 - y
    return mean(d * d)

step = value_and_grad(loss, wrt=(w1, w2))
"""


def test_dp_training_step_all_reduces_the_gradients():
    r = np.random.default_rng(2)
    w1, w2 = r.standard_normal((8, 16)).astype(np.float32), r.standard_normal((16, 4)).astype(np.float32)
    x, y = r.standard_normal((16, 8)).astype(np.float32), r.standard_normal((16, 4)).astype(np.float32)
    # one all_reduce per gradient and one of the loss; nothing gathered (the batch stays split)
    assert sorted(collectives(DP, "step", w1, w2, x, y)) == ["all_reduce"] * 3
    want = compiler.loads(DP, "g.loom", mode="eager").step(w1, w2, x, y)
    got = compiler.loads(DP, "g.loom", mode="eager", devices=4).step(w1, w2, x, y)
    assert len(got) == len(want) == 3  # value, d/dw1, d/dw2
    for g, w in zip(got, want):
        np.testing.assert_allclose(g, w, rtol=1e-4, atol=1e-5)
    # against finite differences of the unpartitioned loss
    ref = compiler.loads(DP, "g.loom", mode="eager")
    e = np.zeros_like(w1)
    e[3, 5] = 1e-2
    fd = (ref.loss(w1 + e, w2, x, y) - ref.loss(w1 - e, w2, x, y)) / 2e-2
    np.testing.assert_allclose(got[1][3, 5], fd, rtol=2e-2, atol=1e-3)


MEGATRON = """
mesh M = (tp=2)

def mlp(x: f32[B, D], w1: f32[D, H@tp], w2: f32[H@tp, D]) -> f32[B, D]:
    return relu(x @ w1) @ w2

def loss(x: f32[B, D], w1: f32[D, H@tp], w2: f32[H@tp, D]) -> f32:
    y = mlp(x, w1, w2)
    return sum(y * y)

dw = grad(loss, wrt=(w1, w2))
dx = grad(loss, wrt=x)
"""


def test_megatron_one_all_reduce_forward_one_backward():
    r = np.random.default_rng(3)
    x = r.standard_normal((4, 8)).astype(np.float32)
    w1, w2 = r.standard_normal((8, 16)).astype(np.float32), r.standard_normal((16, 8)).astype(np.float32)
    assert collectives(MEGATRON, "mlp", x, w1, w2) == ["all_reduce"]
    # the weights' gradients are computed on their shards: only the forward's all_reduce, then the
    # two gradients are assembled (their results are whole)
    assert collectives(MEGATRON, "dw", x, w1, w2) == ["all_reduce", "all_gather", "all_gather"]
    # the input's gradient is a sum over the hidden shards: one more all_reduce, in the backward pass
    assert collectives(MEGATRON, "dx", x, w1, w2) == ["all_reduce", "all_reduce"]
    for entry in ("mlp", "dw", "dx"):
        want = getattr(compiler.loads(MEGATRON, "g.loom", mode="eager"), entry)(x, w1, w2)
        got = getattr(compiler.loads(MEGATRON, "g.loom", mode="eager", devices=2), entry)(x, w1, w2)
        for g, w in zip(got if isinstance(got, tuple) else (got,), want if isinstance(want, tuple) else (want,)):
            np.testing.assert_allclose(g, w, rtol=1e-4, atol=1e-4)


def test_reasons_name_the_op_and_the_shardings():
    x = np.ones((4, 8), np.float32)
    module = compiler.loads(MEGATRON, "g.loom", mode="eager").mlp.lower(x, np.ones((8, 16), np.float32),
                                                                        np.ones((16, 8), np.float32)).stage("spmd")
    (ar,) = [op for op in module.walk() if op.name == "shard.all_reduce"]
    assert ar.attributes["loom.reason"].data == (
        "result annotation at g.loom:4:62: operand #0 (tensor<4x8xf32>) is partial sum over tp but the op needs "
        "replicated")
    assert str(ar.location) == 'loc("g.loom":4:62)'


# ------------------------------------------------------------------ over MPI
MPI_PROGRAM = """
mesh M = (dp=2, tp=2)

def layer(x: f32[B@dp, D], w1: f32[D, H@tp], w2: f32[H@tp, D]) -> f32[B@dp, D]:
    return relu(x @ w1) @ w2

def loss(x: f32[B@dp, D], w1: f32[D, H@tp], w2: f32[H@tp, D]) -> f32:
    y = layer(x, w1, w2)
    return mean(y * y)

step = value_and_grad(loss, wrt=(w1, w2))
"""


@pytest.mark.slow
@pytest.mark.mpi
def test_loom_run_devices_over_mpi_matches_unpartitioned(tmp_path):
    src = tmp_path / "g.loom"
    src.write_text(MPI_PROGRAM)
    r = np.random.default_rng(4)
    args = {"x": r.standard_normal((8, 4)).astype(np.float32), "w1": r.standard_normal((4, 8)).astype(np.float32),
            "w2": r.standard_normal((8, 4)).astype(np.float32)}
    np.savez(tmp_path / "in.npz", **args)
    want = compiler.loads(MPI_PROGRAM, "g.loom", mode="eager").step(*args.values())
    p = subprocess.run([sys.executable, "-m", "compiler.cli", "run", str(src), "--entry", "step", "--inputs",
                        str(tmp_path / "in.npz"), "--devices", "4", "--out", str(tmp_path / "out.npz")],
                       cwd=ROOT, capture_output=True, text=True, timeout=600, check=False, env=END_TO_END_ENV)
    assert p.returncode == 0, p.stderr
    got = np.load(tmp_path / "out.npz")
    assert len(got.files) == len(want) == 3
    for i, w in enumerate(want):
        np.testing.assert_allclose(got[f"result{i}"], w, rtol=1e-4, atol=1e-5)


FAMILIES_JOB = '''
import sys

import numpy as np

import compiler
from runtime import mpi
from tests.test_global_view_runs import FAMILIES, family_source

mesh = sys.argv[1]
for family, (_, args) in FAMILIES.items():
    src = family_source(family, mesh)
    want = compiler.loads(src, "g.loom", mode="eager").f(*args)  # unpartitioned, in this process
    prog = compiler.loads(src, "g.loom")  # compiled, partitioned over the ranks of the job
    assert type(prog.executor).__name__ == "MPIExecutor"
    got = prog.f(*args)
    got, want = (got, want) if isinstance(want, tuple) else ((got,), (want,))
    assert len(got) == len(want), family
    for g, w in zip(got, want):
        np.testing.assert_allclose(np.asarray(g), np.asarray(w), rtol=2e-5, atol=2e-5, err_msg=family)
    print(f"rank {mpi.rank()}: {family} ok", flush=True)
'''


@pytest.mark.slow
@pytest.mark.mpi
@pytest.mark.parametrize("mesh", list(MESHES))
def test_every_family_over_mpi_equals_unpartitioned(tmp_path, mesh):
    """Every op family of FAMILIES, compiled and partitioned, on 1, 2 and 4 MPI ranks (1-D meshes)
    and on 2×2: what the unpartitioned reference computes, on every rank."""
    script = tmp_path / "job.py"
    script.write_text(FAMILIES_JOB)
    n = mesh_devices(mesh)
    p = subprocess.run([sys.executable, "-m", "compiler.cli", "launch", "-n", str(n), "python", str(script), mesh],
                       cwd=ROOT, capture_output=True, text=True, timeout=900, check=False, env=END_TO_END_ENV)
    assert p.returncode == 0, p.stdout + p.stderr
    done = re.findall(r"rank (\d+): (\w+) ok", p.stdout)
    assert sorted(done) == sorted((str(r), f) for r in range(n) for f in FAMILIES), p.stdout


JOB = '''
import numpy as np
import compiler
from runtime import mpi

prog = compiler.loads("""
mesh M = (dp=2)

def f(x: f32[8@dp, 4], w: f32[4, 3]) -> (f32, f32[4, 3]):
    y = reshard(x @ w, (_, _))
    return sum(relu(y)), w
""")
x = np.arange(32, dtype=np.float32).reshape(8, 4) / 10
w = np.linspace(-1, 1, 12).astype(np.float32).reshape(4, 3)
s, w2 = prog.f(x, w)
np.testing.assert_allclose(s, np.maximum(x @ w, 0).sum(), rtol=1e-5)
np.testing.assert_array_equal(w2, w)
print(f"rank {mpi.rank()}: ok {type(prog.executor).__name__}", flush=True)
'''


@pytest.mark.slow
@pytest.mark.mpi
def test_api_in_an_mpi_job_runs_global_view_functions_partitioned(tmp_path):
    script = tmp_path / "job.py"
    script.write_text(JOB)
    p = subprocess.run([sys.executable, "-m", "compiler.cli", "launch", "-n", "2", "python", str(script)],
                       cwd=ROOT, capture_output=True, text=True, timeout=600, check=False)
    assert p.returncode == 0, p.stderr
    assert sorted(re.findall(r"rank (\d): ok MPIExecutor", p.stdout)) == ["0", "1"]
