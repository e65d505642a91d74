"""The Transformer encoder block workload (issue 12): one post-LN encoder layer with ReLU and no
dropout — the computation of `torch.nn.TransformerEncoderLayer(d_model=256, nhead=4,
dim_feedforward=1024, dropout=0, batch_first=True)`, written out (weights as `x @ W`) — forward and
backward: `value_and_grad` of `sum(block(x) * r)` (a fixed random cotangent `r`) with respect to
all 16 parameters, batch 8, sequence 128. Same rules as workloads.py.

The NumPy twin is the forward pass and backpropagation by hand (the reference every result is
checked against); PyTorch's (autograd) and JAX's (`jax.jit(jax.value_and_grad)`) are checked
against it like every other implementation, so Loom's gradient and PyTorch's agree through it.
"""

from __future__ import annotations

import numpy as np

from bench.ad_workloads import flat
from bench.workloads import EPS, F32, Workload

D, H, F = 256, 4, 1024
DH = D // H
PARAMS = ("wq", "bq", "wk", "bk", "wv", "bv", "wo", "bo", "g1", "c1", "w1", "b1", "w2", "b2", "g2", "c2")

TRANSFORMER_SRC = """\
# A Transformer encoder block (post-LN, ReLU, no dropout), like torch.nn.TransformerEncoderLayer.
def heads(t: f32[B, S, 256]) -> f32[B, 4, S, 64]:
    return transpose(reshape(t, (B, S, 4, 64)), (0, 2, 1, 3))

def block(x: f32[B, S, 256], wq: f32[256, 256], bq: f32[256], wk: f32[256, 256], bk: f32[256], wv: f32[256, 256], bv: f32[256],
          wo: f32[256, 256], bo: f32[256], g1: f32[256], c1: f32[256], w1: f32[256, 1024], b1: f32[1024], w2: f32[1024, 256],
          b2: f32[256], g2: f32[256], c2: f32[256]) -> f32[B, S, 256]:
    q = heads(x @ wq + bq)
    k = heads(x @ wk + bk)
    v = heads(x @ wv + bv)
    p = softmax(q @ transpose(k, (0, 1, 3, 2)) * 0.125, axis=-1)
    a = reshape(transpose(p @ v, (0, 2, 1, 3)), (B, S, 256))
    x1 = layer_norm(x + (a @ wo + bo), axis=-1) * g1 + c1
    ff = relu(x1 @ w1 + b1) @ w2 + b2
    return layer_norm(x1 + ff, axis=-1) * g2 + c2

def loss(x: f32[B, S, 256], wq: f32[256, 256], bq: f32[256], wk: f32[256, 256], bk: f32[256], wv: f32[256, 256], bv: f32[256],
         wo: f32[256, 256], bo: f32[256], g1: f32[256], c1: f32[256], w1: f32[256, 1024], b1: f32[1024], w2: f32[1024, 256],
         b2: f32[256], g2: f32[256], c2: f32[256], r: f32[B, S, 256]) -> f32:
    return sum(block(x, wq, bq, wk, bk, wv, bv, wo, bo, g1, c1, w1, b1, w2, b2, g2, c2) * r)

def train(x: f32[B, S, 256], wq: f32[256, 256], bq: f32[256], wk: f32[256, 256], bk: f32[256], wv: f32[256, 256], bv: f32[256],
          wo: f32[256, 256], bo: f32[256], g1: f32[256], c1: f32[256], w1: f32[256, 1024], b1: f32[1024], w2: f32[1024, 256],
          b2: f32[256], g2: f32[256], c2: f32[256], r: f32[B, S, 256]):
    return value_and_grad(loss, wrt=(wq, bq, wk, bk, wv, bv, wo, bo, g1, c1, w1, b1, w2, b2, g2, c2))(
        x, wq, bq, wk, bk, wv, bv, wo, bo, g1, c1, w1, b1, w2, b2, g2, c2, r)
"""


def transformer_inputs(rng, batch: int, seq: int) -> list:
    """x, the 16 parameters (in PARAMS order), r."""
    def w(i, o):
        return rng.standard_normal((i, o), dtype=F32) * F32(1 / np.sqrt(i))

    def b(n, scale=0.1, mean=0.0):
        return (rng.standard_normal(n, dtype=F32) * F32(scale) + F32(mean)).astype(F32)

    x = rng.standard_normal((batch, seq, D), dtype=F32)
    params = [w(D, D), b(D), w(D, D), b(D), w(D, D), b(D), w(D, D), b(D), b(D, mean=1.0), b(D),
              w(D, F), b(F), w(F, D), b(D), b(D, mean=1.0), b(D)]
    return [x, *params, rng.standard_normal((batch, seq, D), dtype=F32)]


# ---------------------------------------------------------------- NumPy: forward and backward by hand
def np_heads(t):
    bsz, s, _ = t.shape
    return t.reshape(bsz, s, H, DH).transpose(0, 2, 1, 3)


def np_merge(t):
    bsz, _, s, _ = t.shape
    return t.transpose(0, 2, 1, 3).reshape(bsz, s, D)


def np_ln(h):
    mu = h.mean(-1, keepdims=True)
    d = h - mu
    sigma = np.sqrt((d * d).mean(-1, keepdims=True) + F32(EPS))
    return d / sigma, sigma


def np_ln_back(dn, n, sigma):
    return (dn - dn.mean(-1, keepdims=True) - n * (dn * n).mean(-1, keepdims=True)) / sigma


def np_softmax(s):
    e = np.exp(s - s.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


def np_train(x, wq, bq, wk, bk, wv, bv, wo, bo, g1, c1, w1, b1, w2, b2, g2, c2, r):
    scale = F32(1 / np.sqrt(DH))
    q, k, v = np_heads(x @ wq + bq), np_heads(x @ wk + bk), np_heads(x @ wv + bv)
    p = np_softmax(q @ k.transpose(0, 1, 3, 2) * scale)
    a = np_merge(p @ v)
    n1, s1 = np_ln(x + (a @ wo + bo))
    x1 = n1 * g1 + c1
    pre = x1 @ w1 + b1
    f = np.maximum(pre, F32(0))
    n2, s2 = np_ln(x1 + (f @ w2 + b2))
    y = n2 * g2 + c2
    loss = np.sum(y * r, dtype=np.float64).astype(y.dtype)  # f32 for f32 inputs (f64: the gradient test)

    def wgrad(inp, d):  # dL/dW of inp @ W, summed over batch and sequence
        return inp.reshape(-1, inp.shape[-1]).T @ d.reshape(-1, d.shape[-1])

    def bgrad(d):
        return d.sum((0, 1))

    dg2, dc2 = bgrad(r * n2), bgrad(r)
    dh2 = np_ln_back(r * g2, n2, s2)
    dw2, db2 = wgrad(f, dh2), bgrad(dh2)
    dpre = (dh2 @ w2.T) * (pre > 0)
    dw1, db1 = wgrad(x1, dpre), bgrad(dpre)
    dx1 = dh2 + dpre @ w1.T
    dg1, dc1 = bgrad(dx1 * n1), bgrad(dx1)
    dh = np_ln_back(dx1 * g1, n1, s1)
    dwo, dbo = wgrad(a, dh), bgrad(dh)
    da = np_heads(dh @ wo.T)
    dp, dv = da @ v.transpose(0, 1, 3, 2), p.transpose(0, 1, 3, 2) @ da
    ds = p * (dp - (dp * p).sum(-1, keepdims=True)) * scale
    dq, dk = np_merge(ds @ k), np_merge(ds.transpose(0, 1, 3, 2) @ q)
    dv = np_merge(dv)
    return (loss, wgrad(x, dq), bgrad(dq), wgrad(x, dk), bgrad(dk), wgrad(x, dv), bgrad(dv), dwo, dbo,
            dg1, dc1, dw1, db1, dw2, db2, dg2, dc2)


# ---------------------------------------------------------------- JAX and PyTorch
def jax_train(jnp):
    import jax

    def ln(h):
        d = h - h.mean(-1, keepdims=True)
        return d / jnp.sqrt((d * d).mean(-1, keepdims=True) + EPS)

    def heads(t):
        return t.reshape(t.shape[0], t.shape[1], H, DH).transpose(0, 2, 1, 3)

    def loss(params, x, r):
        wq, bq, wk, bk, wv, bv, wo, bo, g1, c1, w1, b1, w2, b2, g2, c2 = params
        q, k, v = heads(x @ wq + bq), heads(x @ wk + bk), heads(x @ wv + bv)
        p = jax.nn.softmax(q @ k.transpose(0, 1, 3, 2) / np.sqrt(DH), axis=-1)
        a = (p @ v).transpose(0, 2, 1, 3).reshape(x.shape)
        x1 = ln(x + a @ wo + bo) * g1 + c1
        y = ln(x1 + jnp.maximum(x1 @ w1 + b1, 0) @ w2 + b2) * g2 + c2
        return jnp.sum(y * r)

    vg = jax.value_and_grad(loss)

    def train(x, *rest):
        v, g = vg(rest[:-1], x, rest[-1])
        return (v, *g)
    return train


def torch_train(torch):
    fn = torch.nn.functional

    def train(x, *rest):
        params = [t.detach().requires_grad_() for t in rest[:-1]]
        wq, bq, wk, bk, wv, bv, wo, bo, g1, c1, w1, b1, w2, b2, g2, c2 = params
        bsz, s, _ = x.shape
        with torch.enable_grad():
            q, k, v = ((x @ w + b).view(bsz, s, H, DH).transpose(1, 2) for w, b in ((wq, bq), (wk, bk), (wv, bv)))
            a = fn.scaled_dot_product_attention(q, k, v).transpose(1, 2).reshape(bsz, s, D)
            x1 = fn.layer_norm(x + a @ wo + bo, (D,), g1, c1, eps=EPS)
            y = fn.layer_norm(x1 + torch.relu(x1 @ w1 + b1) @ w2 + b2, (D,), g2, c2, eps=EPS)
            loss = (y * rest[-1]).sum()
            grads = torch.autograd.grad(loss, params)
        return (loss.detach(), *grads)
    return train


def transformer(batch: int, seq: int) -> Workload:
    tokens = batch * seq
    fwd = 2.0 * tokens * (4 * D * D + 2 * D * F) + 2 * 2.0 * batch * H * seq * seq * DH
    return Workload(
        name="transformer", group="transformer",
        title=f"(10) Transformer encoder block fwd+bwd (value_and_grad), batch {batch}, seq {seq}, d {D}, "
              f"{H} heads, FFN {F}, post-LN, ReLU ({3 * fwd / 1e9:.2f} GFLOP)",
        loom_src=TRANSFORMER_SRC, loom_fn="train",
        make_inputs=lambda rng: transformer_inputs(rng, batch, seq),
        numpy_fn=np_train, jax_fn=jax_train, torch_fn=torch_train, flops=3 * fwd, flatten=flat,
        rtol=2e-3, atol_rel=1e-3,
    )
