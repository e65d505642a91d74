"""The matmul micro-kernel (`loom-matmul-kernel`) against NumPy (written independently, in f64) and
against the reference executor: awkward sizes (1, primes, not multiples of the 6x16 / 12x32 tiles,
K below and above the depth block), transposed operands (folded into packing), batched and
broadcast-batched products, f32 and f64, gradients (autodiff's transposed matmuls), and the
AVX-512 tile (vector<16xf32>) run on this CPU (LLVM splits the vectors when the host is narrower).
Every case checks that the kernel, not the loop lowering, computed it (its `vector.fma`s are in
the loops stage) when the host has FMA."""

from __future__ import annotations

import re

import numpy as np
import pytest

import compiler
from compiler.passes import loom_matmul_kernel
from tests.kernel_helpers import assert_product_close, uses_kernel

SRC = """
def nn(a: f32[M, K], b: f32[K, N]) -> f32[M, N]:
    return a @ b

def nt(a: f32[M, K], b: f32[N, K]) -> f32[M, N]:
    return a @ transpose(b)

def tn(a: f32[K, M], b: f32[K, N]) -> f32[M, N]:
    return transpose(a) @ b

def tt(a: f32[K, M], b: f32[N, K]) -> f32[M, N]:
    return transpose(a) @ transpose(b)

def bcast(a: f32[B, M, K], b: f32[K, N]) -> f32[B, M, N]:
    return a @ b

def bmm(a: f32[B, M, K], b: f32[B, K, N]) -> f32[B, M, N]:
    return a @ b
def bcast_nt(a: f32[B, C, M, K], b: f32[N, K]) -> f32[B, C, M, N]:
    return a @ transpose(b)

def nn64(a: f64[M, K], b: f64[K, N]) -> f64[M, N]:
    return a @ b

def nt64(a: f64[M, K], b: f64[N, K]) -> f64[M, N]:
    return a @ transpose(b)

def tn64(a: f64[K, M], b: f64[K, N]) -> f64[M, N]:
    return transpose(a) @ b

def bias_relu(x: f32[M, K], w: f32[K, N], b: f32[N]) -> f32[M, N]:
    return relu(x @ w + b)

def residual(x: f32[M, K], w: f32[K, N], r: f32[M, N]) -> f32[M, N]:
    return x @ w + r

def residual_t(x: f32[M, K], w: f32[K, N], r: f32[N, M]) -> f32[M, N]:
    return x @ w + transpose(r)

def scaled(x: f32[M, K], w: f32[K, N], r: f32[M, N], b: f32[N]) -> f32[M, N]:
    return maximum((x @ w - r) * 0.5, b)

def bias_relu_nt(x: f32[M, K], w: f32[N, K], b: f32[N]) -> f32[M, N]:
    return relu(x @ transpose(w) + b)

def bias_relu_batched(x: f32[B, M, K], w: f32[K, N], b: f32[N]) -> f32[B, M, N]:
    return relu(x @ w + b)

def bias_relu64(x: f64[M, K], w: f64[K, N], b: f64[N]) -> f64[M, N]:
    return relu(x @ w + b)

def negated(x: f32[M, K], w: f32[K, N], b: f32[N]) -> f32[M, N]:
    return maximum(-(x @ w + b), 0.0)

def two_layers(x: f32[M, K], w1: f32[K, H], b1: f32[H], w2: f32[H, N], b2: f32[N]) -> f32[M, N]:
    return relu(x @ w1 + b1) @ w2 - b2

def loss(x: f32[M, K], w: f32[K, N]) -> f32:
    return sum(tanh(x @ w))

dloss = grad(loss, wrt=(x, w))

def chain(a: f32[M, K], b: f32[K, N], c: f32[N, P], d: f32[Q, P]) -> f32[M, Q]:
    return (a @ b) @ c @ transpose(d)

def product_t(a: f32[M, K], b: f32[K, N]) -> f32[N, M]:
    return transpose(a @ b)

def attention_dk(q: f32[B, S, C, D], ds: f32[B, C, S, S]) -> f32[B, S, C, D]:
    return transpose(transpose(q, (0, 2, 3, 1)) @ ds, (0, 3, 1, 2))

def heads_merged(p: f32[B, C, S, S], v: f32[B, C, S, D]) -> f32[B, S, C, D]:
    return transpose(p @ v, (0, 2, 1, 3))

def heads_merged_bias(p: f32[B, C, S, S], v: f32[B, C, S, D], b: f32[D]) -> f32[B, S, C, D]:
    return relu(transpose(p @ v, (0, 2, 1, 3)) + b)

def max_moved(x: f32[A, B, C, D]) -> f32[B, A, C]:
    return transpose(max(x, axis=-1), (1, 0, 2))

def batch_inside(a: f32[B, M, K], b: f32[K, N]) -> f32[M, B, N]:
    return transpose(a @ b, (1, 0, 2))
"""

# (M, K, N): M*K*N >= 32768 (the kernel's default min-size), with 1s, primes and edges
SIZES = [(1, 257, 131), (37, 41, 43), (6, 512, 16), (13, 300, 17), (129, 7, 65), (61, 601, 1),
         (97, 263, 101)]


@pytest.fixture(scope="module")
def progs():
    return compiler.loads(SRC, name="mm.loom"), compiler.loads(SRC, name="mm.loom", mode="eager")


def check(progs, name, args, expected, rtol):
    jit, eager = (getattr(p, name) for p in progs)
    got = jit(*args)
    assert_product_close(got, expected, rtol)
    assert_product_close(got, eager(*args), rtol)
    if loom_matmul_kernel.host_isa() != "none":
        assert uses_kernel(jit, *args)


@pytest.mark.parametrize("m,k,n", SIZES)
def test_nn_f32(progs, m, k, n):
    rng = np.random.default_rng(m * 7 + k)
    a, b = rng.standard_normal((m, k), np.float32), rng.standard_normal((k, n), np.float32)
    check(progs, "nn", [a, b], a.astype(np.float64) @ b, 1e-4)


@pytest.mark.parametrize("name", ["nt", "tn", "tt"])
@pytest.mark.parametrize("m,k,n", [(37, 41, 43), (1, 257, 131), (97, 263, 101)])
def test_transposed_f32(progs, name, m, k, n):
    rng = np.random.default_rng(m + k + n)
    a64, b64 = rng.standard_normal((m, k)), rng.standard_normal((k, n))
    a = (a64 if name[0] == "n" else a64.T.copy()).astype(np.float32)
    b = (b64 if name[1] == "n" else b64.T.copy()).astype(np.float32)
    expected = a64.astype(np.float32).astype(np.float64) @ b64.astype(np.float32).astype(np.float64)
    check(progs, name, [a, b], expected, 1e-4)


@pytest.mark.parametrize("m,k,n", [(37, 41, 43), (1, 601, 61), (130, 300, 33)])
def test_f64(progs, m, k, n):
    rng = np.random.default_rng(3)
    a, b = rng.standard_normal((m, k)), rng.standard_normal((k, n))
    check(progs, "nn64", [a, b], a @ b, 1e-12)
    check(progs, "nt64", [a, b.T.copy()], a @ b, 1e-12)
    check(progs, "tn64", [a.T.copy(), b], a @ b, 1e-12)  # A's panels: vectors of MR lanes (12 = 8 + 4)


def test_batched(progs):
    rng = np.random.default_rng(5)
    a, b = rng.standard_normal((3, 29, 53), np.float32), rng.standard_normal((53, 31), np.float32)
    check(progs, "bcast", [a, b], np.einsum("bmk,kn->bmn", a.astype(np.float64), b), 1e-4)
    b3 = rng.standard_normal((3, 53, 31), np.float32)
    check(progs, "bmm", [a, b3], np.einsum("bmk,bkn->bmn", a.astype(np.float64), b3), 1e-4)


@pytest.mark.parametrize("shape", [(2, 3, 29, 300, 31), (1, 2, 1, 601, 67), (3, 1, 13, 70, 45)])
@pytest.mark.parametrize("threads", [1, 2])
def test_batched_shared_right_operand(progs, shape, threads):
    """B shared by the batch (`x @ transpose(w)`): packed once per block, the batch loops inside
    the depth blocks (several of them when K > 256)."""
    from runtime import parallel
    bsz, c, m, k, n = shape
    rng = np.random.default_rng(k)
    a, b = rng.standard_normal((bsz, c, m, k), np.float32), rng.standard_normal((n, k), np.float32)
    before = parallel.num_threads()
    try:
        parallel.set_num_threads(threads)
        check(progs, "bcast_nt", [a, b], np.einsum("bcmk,nk->bcmn", a.astype(np.float64), b), 1e-4)
    finally:
        parallel.set_num_threads(before)


def fused(fn, op, *args) -> bool:
    """The epilogue runs inside the kernel's store: `op` on the tile's vectors (a separate loop
    over C would apply it to scalars; the kernel's own `C + tile` is `reassoc`)."""
    return any(re.search(rf"{op} .*: vector<", line) and "reassoc" not in line
               for line in fn.lower(*args).as_text("loops").splitlines())


# (M, K, N): one depth block and several (K > 256: the epilogue waits for the last), edges
EPILOGUE_SIZES = [(33, 70, 45), (1, 600, 67), (37, 601, 43), (97, 263, 101), (6, 512, 16)]


@pytest.mark.parametrize("m,k,n", EPILOGUE_SIZES)
def test_bias_relu_fused(progs, m, k, n):
    rng = np.random.default_rng(6 + m)
    x, w, b = (rng.standard_normal(s, np.float32) for s in [(m, k), (k, n), (n,)])
    check(progs, "bias_relu", [x, w, b], np.maximum(x.astype(np.float64) @ w + b, 0), 1e-4)
    wt = w.T.copy()
    check(progs, "bias_relu_nt", [x, wt, b], np.maximum(x.astype(np.float64) @ w + b, 0), 1e-4)
    if loom_matmul_kernel.host_isa() != "none":
        assert fused(progs[0].bias_relu, "arith.maximumf", x, w, b)


@pytest.mark.parametrize("m,k,n", EPILOGUE_SIZES)
def test_residual_and_scaled_fused(progs, m, k, n):
    rng = np.random.default_rng(16 + k)
    x, w, r, b = (rng.standard_normal(s, np.float32) for s in [(m, k), (k, n), (m, n), (n,)])
    mm = x.astype(np.float64) @ w
    check(progs, "residual", [x, w, r], mm + r, 1e-4)
    check(progs, "scaled", [x, w, r, b], np.maximum((mm - r) * 0.5, b), 1e-4)
    check(progs, "residual_t", [x, w, r.T.copy()], mm + r, 1e-4)  # not fused: read across C's rows
    check(progs, "negated", [x, w, b], np.maximum(-(mm + b), 0), 1e-4)  # negf on vectors
    if loom_matmul_kernel.host_isa() != "none":
        assert fused(progs[0].negated, "arith.negf", x, w, b)
        assert fused(progs[0].residual, "arith.addf", x, w, r)
        assert fused(progs[0].scaled, "arith.mulf", x, w, r, b)
        assert not fused(progs[0].residual_t, "arith.addf", x, w, r.T.copy())


@pytest.mark.parametrize("m,k,h,n", [(37, 70, 301, 43), (1, 9, 600, 67), (13, 300, 160, 17)])
def test_second_layer_epilogue_fused(progs, m, k, h, n):
    """Bufferization frees the hidden activation right after the second matmul (its last use),
    between the contraction and its epilogue: the epilogue (`- b2`) is still fused."""
    rng = np.random.default_rng(m + h)
    x, w1, b1, w2, b2 = (rng.standard_normal(s, np.float32) for s in [(m, k), (k, h), (h,), (h, n), (n,)])
    hidden = np.maximum(x.astype(np.float64) @ w1 + b1, 0)
    check(progs, "two_layers", [x, w1, b1, w2, b2], hidden @ w2 - b2, 1e-4)
    if loom_matmul_kernel.host_isa() != "none":
        assert fused(progs[0].two_layers, "arith.subf", x, w1, b1, w2, b2)


def test_batched_and_f64_epilogues(progs):
    rng = np.random.default_rng(9)
    x, w, b = (rng.standard_normal(s, np.float32) for s in [(3, 29, 300), (300, 31), (31,)])
    check(progs, "bias_relu_batched", [x, w, b],
          np.maximum(np.einsum("bmk,kn->bmn", x.astype(np.float64), w) + b, 0), 1e-4)
    x, w, b = (rng.standard_normal(s) for s in [(37, 300, ), (300, 43), (43,)])
    check(progs, "bias_relu64", [x, w, b], np.maximum(x @ w + b, 0), 1e-12)


def test_two_threads_against_numpy(progs):
    """The loop over blocks of A's rows runs on the thread pool (each block packs its own rows of A);
    every element is summed in the same order, so the bits are those of one thread."""
    from runtime import parallel
    rng = np.random.default_rng(10)
    before = parallel.num_threads()
    try:
        for m, k, n in [(257, 300, 131), (37, 41, 43), (600, 70, 33)]:
            x, w, b = (rng.standard_normal(s, np.float32) for s in [(m, k), (k, n), (n,)])
            parallel.set_num_threads(1)
            one = progs[0].bias_relu(x, w, b), progs[0].nn(x, w)
            parallel.set_num_threads(2)
            check(progs, "bias_relu", [x, w, b], np.maximum(x.astype(np.float64) @ w + b, 0), 1e-4)
            check(progs, "nn", [x, w], x.astype(np.float64) @ w, 1e-4)
            np.testing.assert_array_equal(progs[0].bias_relu(x, w, b), one[0])
            np.testing.assert_array_equal(progs[0].nn(x, w), one[1])
    finally:
        parallel.set_num_threads(before)


def test_gradients_use_transposed_kernels(progs):
    """dloss/dx = (1 - tanh²) @ wᵀ and dloss/dw = xᵀ @ (1 - tanh²): autodiff's transposed
    matmuls, both large enough for the kernel."""
    rng = np.random.default_rng(7)
    x, w = rng.standard_normal((67, 59), np.float32) * 0.3, rng.standard_normal((59, 71), np.float32) * 0.3
    d = 1 - np.tanh(x.astype(np.float64) @ w) ** 2
    gx, gw = progs[0].dloss(x, w)
    ex, ew = progs[1].dloss(x, w)
    for got, eager, expected in [(gx, ex, d @ w.T.astype(np.float64)), (gw, ew, x.T.astype(np.float64) @ d)]:
        np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-4)
        np.testing.assert_allclose(got, eager, rtol=1e-4, atol=1e-4)
    if loom_matmul_kernel.host_isa() != "none":
        assert uses_kernel(progs[0].dloss, x, w)


@pytest.mark.parametrize("m, k, n, s, d", [(37, 41, 43, 40, 24), (1, 257, 131, 67, 33), (129, 7, 65, 128, 64)])
def test_transposed_products(progs, m, k, n, s, d):
    """transpose(a @ b) is computed as bᵀ @ aᵀ (canonicalize's TransposeOfMatmul), and attention's
    gradient of k, transpose(transpose(q) @ dS), as dSᵀ @ q with its heads moved: both against
    NumPy and the reference executor."""
    rng = np.random.default_rng(11)
    a, b = rng.standard_normal((m, k), np.float32), rng.standard_normal((k, n), np.float32)
    check(progs, "product_t", [a, b], (a.astype(np.float64) @ b).T, 1e-4)
    q, ds = rng.standard_normal((2, s, 3, d), np.float32), rng.standard_normal((2, 3, s, s), np.float32)
    expected = np.einsum("bscd,bcst->btcd", q.astype(np.float64), ds)
    check(progs, "attention_dk", [q, ds], expected, 1e-4)


@pytest.mark.parametrize("s, d", [(40, 24), (67, 33), (128, 64)])
def test_product_written_transposed(progs, s, d):
    """transpose(p @ v, (0, 2, 1, 3)) — attention's heads merged back — is one kernel writing C's
    rows where the transpose puts them (linalg-fuse-elementwise's FuseTransposeWithProducer; the
    kernel's C rows are then not next to its columns), with and without an epilogue."""
    rng = np.random.default_rng(13)
    p, v = rng.standard_normal((2, 3, s, s), np.float32), rng.standard_normal((2, 3, s, d), np.float32)
    b = rng.standard_normal(d, np.float32)
    pv = np.einsum("bcst,bctd->bscd", p.astype(np.float64), v)
    check(progs, "heads_merged", [p, v], pv, 1e-4)
    check(progs, "heads_merged_bias", [p, v, b], np.maximum(pv + b, 0), 1e-4)
    assert progs[0].heads_merged.lower(p, v).as_text("linalg").count("linalg.generic") == 1  # no copy


@pytest.mark.parametrize("bsz, m", [(1, 32), (2, 45), (8, 1), (5, 3)])
def test_rows_are_the_longest_dim_only_a_has(progs, bsz, m):
    """C's row dim is, of the dims that only A has, the longest: with B shared, A's batch dim is
    such a dim too, and `transpose(a @ b, (1, 0, 2))` (folded into C) puts it next to C's columns;
    taking it as the rows made a 1-row product that fell below the kernel's min-size (found by the
    property test). And `x[8, 1, k] @ w` has 8 rows, not 1 (`bcast` with M = 1)."""
    rng = np.random.default_rng(19)
    a, b = rng.standard_normal((bsz, m, 64), np.float32), rng.standard_normal((64, 64), np.float32)
    ab = np.einsum("bmk,kn->bmn", a.astype(np.float64), b)
    if max(bsz, m) >= 8:  # rows · N · K ≥ the kernel's min-size (32768)
        check(progs, "batch_inside", [a, b], ab.transpose(1, 0, 2), 1e-4)
        check(progs, "bcast", [a, b], ab, 1e-4)
    else:
        np.testing.assert_allclose(progs[0].batch_inside(a, b), ab.transpose(1, 0, 2), rtol=1e-4, atol=1e-4)


def test_reduction_written_transposed(progs):
    """The fold applies to any reduction whose result is moved with its innermost dim in place."""
    x = np.random.default_rng(17).standard_normal((2, 3, 4, 5), np.float32)
    jit, eager = progs[0].max_moved, progs[1].max_moved
    np.testing.assert_array_equal(jit(x), x.max(-1).transpose(1, 0, 2))
    np.testing.assert_array_equal(eager(x), x.max(-1).transpose(1, 0, 2))
    assert jit.lower(x).as_text("linalg").count("linalg.generic") == 1


def test_avx512_tile_runs(monkeypatch):
    """The 12x32 f32 / 12x16 f64 tiles chosen on an AVX-512 host, run here."""
    monkeypatch.setattr(loom_matmul_kernel, "host_isa", lambda: "avx512")
    prog = compiler.loads(SRC, name="mm512.loom")
    rng = np.random.default_rng(8)
    a, b = rng.standard_normal((53, 97), np.float32), rng.standard_normal((97, 45), np.float32)
    assert "vector<16xf32>" in prog.nn.lower(a, b).as_text("loops")
    np.testing.assert_allclose(prog.nn(a, b), a.astype(np.float64) @ b, rtol=1e-4, atol=1e-3)
    a64, b64 = a.astype(np.float64), b.astype(np.float64)
    assert "vector<8xf64>" in prog.nt64.lower(a64, b64.T.copy()).as_text("loops")
    np.testing.assert_allclose(prog.nt64(a64, b64.T.copy()), a64 @ b64, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("threads", [1, 2])
def test_avx512_tiles_across_blocks(monkeypatch, threads):
    """The AVX-512 tiles (A's micro-panel in L1, Bp's lines prefetched ahead) over several blocks
    in every dim: M > MC, N > NC, K > KC, none a multiple of its block or tile (f32: 240, 512, 512;
    f64: 96, 336, 384), A packed (once per depth block for all its rows: N > NC) and read
    directly, A or B transposed, batched (A and B, or B shared), with a bias + ReLU epilogue."""
    from runtime import parallel
    if loom_matmul_kernel.host_isa() == "none":
        pytest.skip("this CPU has no FMA")
    monkeypatch.setattr(loom_matmul_kernel, "host_isa", lambda: "avx512")
    prog = compiler.loads(SRC, name="blocks512.loom")
    rng = np.random.default_rng(12)
    m, k, n = 251, 1031, 547
    a64, b64 = rng.standard_normal((m, k)), rng.standard_normal((k, n))
    expected = a64 @ b64
    before = parallel.num_threads()
    try:
        parallel.set_num_threads(threads)
        for direct in (True, False):
            monkeypatch.setattr(loom_matmul_kernel, "direct_a_pays", lambda n, t, most, d=direct: d)
            for name, dtype, rtol in (("nn", np.float32, 1e-4), ("nt", np.float32, 1e-4), ("tn", np.float32, 1e-4),
                                      ("nn64", np.float64, 1e-12)):
                a, b = a64.astype(dtype), b64.astype(dtype)
                args = [a.T.copy() if name == "tn" else a, b.T.copy() if name == "nt" else b]
                fn = getattr(prog, name)
                np.testing.assert_allclose(fn(*args), expected, rtol=rtol, atol=rtol * 10)
                assert uses_kernel(fn, *args)
        x, w3 = rng.standard_normal((2, 37, 600), np.float32), rng.standard_normal((2, 600, 531), np.float32)
        wide = w3.astype(np.float64)
        np.testing.assert_allclose(prog.bmm(x, w3), x.astype(np.float64) @ wide, rtol=1e-4, atol=1e-3)
        np.testing.assert_allclose(prog.bcast(x, w3[0]), x.astype(np.float64) @ wide[0], rtol=1e-4, atol=1e-3)
        bias = rng.standard_normal(531, np.float32)
        np.testing.assert_allclose(prog.bias_relu(x[0], w3[0], bias),
                                   np.maximum(x[0].astype(np.float64) @ wide[0] + bias, 0), rtol=1e-4, atol=1e-3)
    finally:
        parallel.set_num_threads(before)


@pytest.mark.parametrize("isa", ["avx2", "avx512"])
def test_every_layout_on_each_tile(monkeypatch, isa):
    """Each operand layout on each tile, f32 and f64, A always packed (read directly, it is tested
    by every small product): packing that transposes in registers (A row-major, B transposed:
    blocks of VL depth steps, then the rest lane by lane), copies vectors of MR lanes (A
    transposed: 6, 12 = 8 + 4 for f64), or whole vectors (B row-major)."""
    if isa == "avx512" and loom_matmul_kernel.host_isa() != "avx512":
        pytest.skip("this CPU has no AVX-512")
    if loom_matmul_kernel.host_isa() == "none":
        pytest.skip("this CPU has no FMA")
    monkeypatch.setattr(loom_matmul_kernel, "host_isa", lambda: isa)
    monkeypatch.setattr(loom_matmul_kernel, "direct_a_pays", lambda n, t, most: False)  # A packed: its transposes
    prog = compiler.loads(SRC, name=f"layouts_{isa}.loom")
    rng = np.random.default_rng(9)
    m, k, n = 29, 71, 37  # K: 4 blocks of 16 (8 of 8) depth steps and 7 more
    a64, b64 = rng.standard_normal((m, k)), rng.standard_normal((k, n))
    for dtype, names, rtol in ((np.float32, ("nn", "nt", "tn", "tt"), 1e-4), (np.float64, ("nt64", "tn64"), 1e-12)):
        a, b = a64.astype(dtype), b64.astype(dtype)
        expected = a.astype(np.float64) @ b.astype(np.float64)
        for name in names:
            args = [a if name[0] == "n" else a.T.copy(), b if name[1] == "n" else b.T.copy()]
            fn = getattr(prog, name)
            np.testing.assert_allclose(fn(*args), expected, rtol=rtol, atol=rtol * 10)
            assert uses_kernel(fn, *args)


# (M, K, N): N a multiple of NR (16 f32, 8 f64), M not a multiple of MR = 6 (the register tile is
# the edge kernel: its rows past C's edge are neither read nor written), one depth block and
# several, with a fill of C (the first block stores) and with epilogues (the last one applies
# them, reading the bias, the residual r[i, j] only at C's rows)
ROW_EDGE_SIZES = [(37, 300, 32), (13, 601, 48), (1, 601, 64), (97, 70, 16), (12, 300, 32)]


@pytest.mark.parametrize("m,k,n", ROW_EDGE_SIZES)
def test_row_edges_in_registers(progs, m, k, n):
    rng = np.random.default_rng(20 + m)
    x, w, r, b = (rng.standard_normal(s, np.float32) for s in [(m, k), (k, n), (m, n), (n,)])
    mm = x.astype(np.float64) @ w
    check(progs, "nn", [x, w], mm, 1e-4)
    check(progs, "nt", [x, w.T.copy()], mm, 1e-4)
    check(progs, "bias_relu", [x, w, b], np.maximum(mm + b, 0), 1e-4)
    check(progs, "residual", [x, w, r], mm + r, 1e-4)
    check(progs, "scaled", [x, w, r, b], np.maximum((mm - r) * 0.5, b), 1e-4)
    x3, w3 = rng.standard_normal((2, m, k), np.float32), rng.standard_normal((2, k, n), np.float32)
    check(progs, "bmm", [x3, w3], np.einsum("bmk,bkn->bmn", x3.astype(np.float64), w3), 1e-4)
    x64, w64 = x.astype(np.float64), w.astype(np.float64)
    check(progs, "nn64", [x64, w64], x64 @ w64, 1e-12)
    # C's tiles of 15, 31, 47 columns (N not a multiple of NR): the last one through Ct
    check(progs, "nn", [x, w[:, :-1].copy()], mm[:, :-1], 1e-4)


@pytest.mark.parametrize("m,k,n,p,q", [(37, 41, 43, 97, 61), (3, 257, 131, 300, 64), (130, 7, 300, 33, 16)])  # each M*N*K >= min-size
def test_matmuls_of_different_shapes_share_one_kernel(progs, m, k, n, p, q):
    """Three matmuls of different shapes (C's row strides n, p and q, edges in both dimensions, the
    last one with a transposed operand) call one shared macro-kernel per way of reading A (packed,
    or directly when N is small), one packing routine of A (when it is packed) and two of B (one per
    layout of B), and agree with NumPy."""
    rng = np.random.default_rng(m + k)
    a, b, c, d = (rng.standard_normal(s, np.float32) for s in [(m, k), (k, n), (n, p), (q, p)])
    expected = a.astype(np.float64) @ b @ c @ d.T
    check(progs, "chain", [a, b, c, d], expected, 1e-4)
    if loom_matmul_kernel.host_isa() == "none":
        return
    text = progs[0].chain.lower(a, b, c, d).as_text("loops")
    defined = re.findall(r"func\.func private @(matmul_\w+)\(", text)
    called = re.findall(r"call @(matmul_\w+)\(", text)
    macros = [f for f in defined if f.startswith("matmul_macro_")]
    # one macro-kernel per way of reading A: packed, or directly when few panels of B re-read it
    tile, most = loom_matmul_kernel.TILES[(loom_matmul_kernel.host_isa(), 32)], loom_matmul_kernel.LoomMatmulKernel.direct_a
    direct = {loom_matmul_kernel.direct_a_pays(x, tile, most) for x in (n, p, q)}
    assert len(macros) == len(direct) and sum(called.count(f) for f in macros) == 3
    assert sorted(f.split("_f32")[0] for f in defined) == (
        ["matmul_macro"] * len(direct) + ["matmul_pack_a"] * (False in direct) + ["matmul_pack_b"] * 2)


@pytest.mark.parametrize("direct", [False, True])
def test_a_packed_or_read_directly(monkeypatch, direct):
    """A packed always, or read where it is always (the default chooses by N, so both ways run in
    the tests above too, against NumPy and the reference executor): B transposed, an epilogue,
    a batched A, on 1 and 2 threads."""
    if loom_matmul_kernel.host_isa() == "none":
        pytest.skip("this CPU has no FMA")
    monkeypatch.setattr(loom_matmul_kernel, "direct_a_pays", lambda n, t, most: direct)
    prog = compiler.loads(SRC, name=f"direct_{direct}.loom")
    rng = np.random.default_rng(10)
    m, k, n = 53, 300, 45
    a, b, bias = rng.standard_normal((m, k), np.float32), rng.standard_normal((k, n), np.float32), rng.standard_normal(n, np.float32)
    mm = a.astype(np.float64) @ b
    x3 = rng.standard_normal((3, m, k), np.float32)
    cases = [("nt", [a, b.T.copy()], mm), ("bias_relu", [a, b, bias], np.maximum(mm + bias, 0)),
             ("bcast", [x3, b], np.einsum("bmk,kn->bmn", x3.astype(np.float64), b))]
    for name, args, expected in cases:
        np.testing.assert_allclose(getattr(prog, name)(*args), expected, rtol=1e-4, atol=1e-3)
        packs_a = "call @matmul_pack_a" in getattr(prog, name).lower(*args).as_text("loops")
        assert packs_a != direct, name
    from runtime import parallel
    before, one = parallel.num_threads(), {name: getattr(prog, name)(*args) for name, args, _ in cases}
    try:
        parallel.set_num_threads(2)
        for name, args, _ in cases:  # the same bits as one thread
            np.testing.assert_array_equal(getattr(prog, name)(*args), one[name])
    finally:
        parallel.set_num_threads(before)


@pytest.mark.parametrize("tile", sorted(loom_matmul_kernel.TILES))
def test_depth_blocks_are_as_few_and_as_equal_as_possible(tile):
    """K in ceil(K / KC) blocks of at most KC whose depths differ by less than their number (784 with
    KC = 384: 262 + 262 + 260, not 384 + 384 + 16)."""
    t = loom_matmul_kernel.TILES[tile]
    for k in range(1, 5 * t.kc + 2):
        kc = loom_matmul_kernel.block_depth(k, t)
        blocks = -(-k // kc)
        assert kc <= t.kc and blocks == -(-k // t.kc)
        assert 0 <= kc - (k - (blocks - 1) * kc) < blocks


@pytest.mark.parametrize("tile", sorted(k for k, t in loom_matmul_kernel.TILES.items() if t.kc_large_c))
def test_a_large_c_gets_deeper_depth_blocks(tile):
    """A C larger than LARGE_C_BYTES (its passes go to memory) is computed in fewer, deeper depth
    blocks (`kc_large_c`), as equal as possible; a smaller C keeps KC."""
    t, big = loom_matmul_kernel.TILES[tile], loom_matmul_kernel.LARGE_C_BYTES
    for k in (1, t.kc, t.kc + 1, 600, 2048, 3 * t.kc_large_c + 5):
        assert loom_matmul_kernel.block_depth(k, t, big) == loom_matmul_kernel.block_depth(k, t)
        kc = loom_matmul_kernel.block_depth(k, t, big + 1)
        blocks = -(-k // kc)
        assert kc <= t.kc_large_c and blocks == -(-k // t.kc_large_c)
        assert 0 <= kc - (k - (blocks - 1) * kc) < blocks


@pytest.mark.parametrize("threads", [1, 2])
def test_large_c_product_against_numpy(monkeypatch, threads):
    """2048 × 600 @ 600 × 2048 f32 on the AVX2 tile: C is 16 MiB, so K = 600 is 2 blocks of 300
    (KC 512 for a large C) instead of 3 of 200; the result against NumPy, on 1 and 2 threads."""
    from runtime import parallel
    if loom_matmul_kernel.host_isa() == "none":
        pytest.skip("this CPU has no FMA")
    monkeypatch.setattr(loom_matmul_kernel, "host_isa", lambda: "avx2")
    prog = compiler.loads(SRC, name="large_c.loom")
    rng = np.random.default_rng(21)
    a, b = rng.standard_normal((2048, 600), np.float32), rng.standard_normal((600, 2048), np.float32)
    assert "arith.constant 300 : index" in prog.nn.lower(a, b).as_text("loops")
    before = parallel.num_threads()
    try:
        parallel.set_num_threads(threads)
        assert_product_close(prog.nn(a, b), a.astype(np.float64) @ b, 1e-4)
    finally:
        parallel.set_num_threads(before)
