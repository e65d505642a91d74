"""`loom-fuse-rows`: row-wise chains (softmax, layer norm, written out or builtin, with broadcast
operands, rank 3 over the last axis) compiled with their ops fused into one row loop give NumPy's
results and the reference executor's, on awkward shapes, with 1 and 2 threads (the same bits);
reductions over axis 0 and ops that read another row are left alone; gradients of softmax and
layer norm through fused loops match finite differences. (The IR: tests/filecheck/backend_loom_fuse_rows.loom.)"""

from __future__ import annotations

import numpy as np
import pytest

import compiler
from runtime import parallel

SRC = """\
def sm(x: f32[R, C]) -> f32[R, C]:
    return softmax(x, axis=-1)

def sm_manual(x: f32[R, C]) -> f32[R, C]:
    e = exp(x - max(x, axis=-1, keepdims=true))
    return e / sum(e, axis=-1, keepdims=true)

def ln_affine(x: f32[R, C], g: f32[C], b: f32[C]) -> f32[R, C]:
    mu = mean(x, axis=-1, keepdims=true)
    d = x - mu
    var = mean(d * d, axis=-1, keepdims=true)
    return d / sqrt(var + 1e-5) * g + b

def sm3(x: f32[A, B, C]) -> f32[A, B, C]:
    return softmax(x, axis=-1)

def sm_axis0(x: f32[R, C]) -> f32[R, C]:
    return softmax(x, axis=0)

def rows_then_cols(x: f32[R, C]) -> (f32[R, C], f32[C]):
    y = layer_norm(x, axis=-1)
    return y, sum(y * y, axis=0)

def row0(x: f32[R, C]) -> f32[R, C]:
    y = exp(x - max(x, axis=-1, keepdims=true))
    return y - y[0]
"""


def np_softmax(x, axis=-1):
    e = np.exp(x - x.max(axis, keepdims=True))
    return e / e.sum(axis, keepdims=True)


def np_layer_norm(x):
    d = x - x.mean(-1, keepdims=True)
    return d / np.sqrt((d * d).mean(-1, keepdims=True) + np.float32(1e-5))


# one row, one column, one element, primes, more rows than chunks, big enough for the pool
SHAPES = [(1, 7), (7, 1), (1, 1), (61, 67), (257, 263), (4099, 17), (2, 40009)]


@pytest.fixture(scope="module")
def progs():
    return compiler.loads(SRC, name="rows.loom"), compiler.loads(SRC, name="rows.loom", mode="eager")


@pytest.fixture
def threads():
    before = parallel.num_threads()
    yield parallel.set_num_threads
    parallel.set_num_threads(before)


def as_tuple(v):
    return v if isinstance(v, tuple) else (v,)


def check(progs, threads, name, want, *args, rtol=1e-5, atol=1e-6):
    """Compiled with 1 and 2 threads (the same bits), against NumPy and the reference executor."""
    jit, eager = (getattr(p, name) for p in progs)
    outs = []
    for t in (1, 2):
        threads(t)
        outs.append(as_tuple(jit(*args)))
    for a, b in zip(*outs):
        np.testing.assert_array_equal(a, b)
    for got, expect, ref in zip(outs[0], as_tuple(want), as_tuple(eager(*args))):
        np.testing.assert_allclose(got, expect, rtol=rtol, atol=atol)
        np.testing.assert_allclose(got, ref, rtol=rtol, atol=atol)


@pytest.mark.parametrize("shape", SHAPES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_fused_rows_match_numpy_and_reference(progs, threads, shape):
    rng = np.random.default_rng(sum(shape))
    x = (rng.standard_normal(shape) * 3).astype(np.float32)
    g, b = (rng.standard_normal(shape[1]).astype(np.float32) for _ in range(2))
    check(progs, threads, "sm", np_softmax(x), x)
    check(progs, threads, "sm_manual", np_softmax(x), x)
    check(progs, threads, "sm_axis0", np_softmax(x, axis=0), x)
    check(progs, threads, "row0", np.exp(x - x.max(-1, keepdims=True)) - np.exp(x - x.max(-1, keepdims=True))[0], x)
    if shape[1] > 1:  # one column: x - mean is 0 and the result is 0/sqrt(eps) up to rounding
        check(progs, threads, "ln_affine", np_layer_norm(x) * g + b, x, g, b, rtol=1e-4, atol=1e-4)
        y = np_layer_norm(x)
        check(progs, threads, "rows_then_cols", (y, (y.astype(np.float64) ** 2).sum(0)), x, rtol=1e-4, atol=1e-3)


@pytest.mark.parametrize("shape", [(1, 1, 5), (3, 5, 7), (17, 13, 311)], ids=lambda s: "x".join(map(str, s)))
def test_rank3_over_the_last_axis(progs, threads, shape):
    x = np.random.default_rng(7).standard_normal(shape).astype(np.float32)
    check(progs, threads, "sm3", np_softmax(x), x)


def loops(progs, name, *args) -> str:
    return getattr(progs[0], name).lower(*args).as_text("loops")


def test_what_is_fused(progs):
    x = np.zeros((257, 263), np.float32)
    # softmax: one row loop on the pool, every op inside it
    ir = loops(progs, "sm", x)
    assert ir.count("scf.parallel") == 0 and ir.count("llvm.call @loom_parallel_for(") == 1 and "memref.subview" in ir
    # over axis 0 the row dim reduces: nothing fused, no row views
    assert "memref.subview" not in loops(progs, "sm_axis0", x)
    # rank 3: a row is a contiguous 13x311 block
    ir3 = loops(progs, "sm3", np.zeros((17, 13, 311), np.float32))
    assert "memref.subview" in ir3 and "[1, 13, 311]" in ir3


def grad_src(body: str) -> str:
    return f"""\
def loss(x: f64[R, C], w: f64[R, C]) -> f64:
    return sum({body} * w)

dloss = grad(loss, wrt=x)
"""


@pytest.mark.parametrize("body", ["softmax(x, axis=-1)", "layer_norm(x, axis=-1)"])
def test_gradients_through_fused_rows_match_finite_differences(threads, body):
    prog = compiler.loads(grad_src(body), name="grad_rows.loom")
    rng = np.random.default_rng(3)
    x, w, u = (rng.standard_normal((300, 257)) for _ in range(3))  # 77100 elements: on the pool
    assert "memref.subview" in prog.dloss.lower(x, w).as_text("loops")
    eps = 1e-6
    fd = (prog.loss(x + eps * u, w) - prog.loss(x - eps * u, w)) / (2 * eps)
    for t in (1, 2):
        threads(t)
        g = prog.dloss(x, w)
        np.testing.assert_allclose(np.sum(g * u), fd, rtol=1e-6, atol=1e-8)
