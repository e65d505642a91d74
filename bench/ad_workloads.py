"""Differentiation workloads (issue: autodiff benchmarks). Same rules as workloads.py.

- `train_step`: one SGD step of the 784-512-512-10 MLP on a batch of 256 with cross-entropy:
  `value_and_grad` + the update, against a hand-written NumPy backward pass (and `jax.jit` of
  `jax.value_and_grad` when JAX is installed). Outputs (loss and new parameters) are compared.
- `mlp_loss` and `loop_fwd`/`loop_grad`: forward-only twins, so the summary can print
  value_and_grad time ÷ forward time for the MLP loss and for a loop program (target ≤ 3×).
"""

from __future__ import annotations

import itertools

import numpy as np

from bench.workloads import F32, MLP_SIZES, Workload, mlp_inputs

TRAIN_SRC = """\
# One SGD step of an MLP classifier: value_and_grad of the loss, then the update.
def loss(w1: f32[784, 512], b1: f32[512], w2: f32[512, 512], b2: f32[512], w3: f32[512, 10], b3: f32[10],
         x: f32[B, 784], labels: i64[B]) -> f32:
    h1 = relu(x @ w1 + b1)
    h2 = relu(h1 @ w2 + b2)
    return cross_entropy(h2 @ w3 + b3, labels)

def step(w1: f32[784, 512], b1: f32[512], w2: f32[512, 512], b2: f32[512], w3: f32[512, 10], b3: f32[10],
         x: f32[B, 784], labels: i64[B], lr: f32):
    l, g1, gb1, g2, gb2, g3, gb3 = value_and_grad(loss, wrt=(w1, b1, w2, b2, w3, b3))(
        w1, b1, w2, b2, w3, b3, x, labels)
    return l, w1 - lr * g1, b1 - lr * gb1, w2 - lr * g2, b2 - lr * gb2, w3 - lr * g3, b3 - lr * gb3
"""


def train_inputs(rng, batch: int) -> list:
    x, *params = mlp_inputs(rng, batch)
    labels = rng.integers(0, 10, batch).astype(np.int64)
    return params + [x, labels, F32(0.05)]


def np_softmax(z):
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def np_loss(w1, b1, w2, b2, w3, b3, x, labels):
    h2 = np.maximum(np.maximum(x @ w1 + b1, F32(0)) @ w2 + b2, F32(0))
    p = np_softmax(h2 @ w3 + b3)
    return F32(-np.mean(np.log(p[np.arange(x.shape[0]), labels])))


def np_step(w1, b1, w2, b2, w3, b3, x, labels, lr):
    """The same step by hand: forward, backpropagation, SGD (float32 throughout)."""
    n = x.shape[0]
    a1 = x @ w1 + b1
    h1 = np.maximum(a1, F32(0))
    a2 = h1 @ w2 + b2
    h2 = np.maximum(a2, F32(0))
    p = np_softmax(h2 @ w3 + b3)
    loss = F32(-np.mean(np.log(p[np.arange(n), labels])))
    dz = p
    dz[np.arange(n), labels] -= F32(1)
    dz /= F32(n)
    g3, gb3 = h2.T @ dz, dz.sum(0)
    d2 = (dz @ w3.T) * (a2 > 0)
    g2, gb2 = h1.T @ d2, d2.sum(0)
    d1 = (d2 @ w2.T) * (a1 > 0)
    g1, gb1 = x.T @ d1, d1.sum(0)
    return (loss, w1 - lr * g1, b1 - lr * gb1, w2 - lr * g2, b2 - lr * gb2, w3 - lr * g3, b3 - lr * gb3)


def jax_step(jnp):
    import jax

    def loss(w1, b1, w2, b2, w3, b3, x, labels):
        h1 = jnp.maximum(x @ w1 + b1, 0)
        h2 = jnp.maximum(h1 @ w2 + b2, 0)
        logp = jax.nn.log_softmax(h2 @ w3 + b3)
        return -jnp.mean(jnp.take_along_axis(logp, labels[:, None], axis=1))

    vg = jax.value_and_grad(loss, argnums=(0, 1, 2, 3, 4, 5))

    def step(w1, b1, w2, b2, w3, b3, x, labels, lr):
        ps = (w1, b1, w2, b2, w3, b3)
        v, gs = vg(*ps, x, labels)
        return (v, *(p - lr * g for p, g in zip(ps, gs)))
    return step


def flat(out) -> np.ndarray:
    """A tuple of results as one vector (what the result check compares)."""
    return np.concatenate([np.ravel(np.asarray(o, np.float64)) for o in out])


LOOP_SRC = """\
# A loop program: a small recurrent cell unrolled over T steps (a for loop in the IR).
def loss(w: f32[64, 64], x: f32[T, 64]) -> f32:
    h = zeros((64,))
    for t in range(T):
        h = tanh(h @ w + x[t])
    return sum(h * h)

def grad_loss(w: f32[64, 64], x: f32[T, 64]) -> (f32, f32[64, 64]):
    return value_and_grad(loss, wrt=w)(w, x)
"""


def loop_inputs(rng, steps: int) -> list:
    return [rng.standard_normal((64, 64), dtype=F32) * F32(0.1), rng.standard_normal((steps, 64), dtype=F32)]


def np_loop(w, x):
    h = np.zeros(64, F32)
    for t in range(x.shape[0]):
        h = np.tanh(h @ w + x[t])
    return F32(np.sum(h * h))


def np_loop_grad(w, x):
    hs = [np.zeros(64, F32)]
    for t in range(x.shape[0]):
        hs.append(np.tanh(hs[-1] @ w + x[t]))
    gh, gw = 2 * hs[-1], np.zeros_like(w)
    for t in reversed(range(x.shape[0])):
        da = gh * (1 - hs[t + 1] ** 2)
        gw += np.outer(hs[t], da)
        gh = w @ da
    return F32(np.sum(hs[-1] ** 2)), gw


def suite(quick: bool = False) -> list[Workload]:
    batch, steps = (32, 16) if quick else (256, 100)
    mlp_flops = 2.0 * batch * sum(i * o for i, o in itertools.pairwise(MLP_SIZES))
    return [
        Workload(name="mlp_loss", group="autodiff", title=f"(8a) MLP loss, forward only, batch {batch}",
                 loom_src=TRAIN_SRC, loom_fn="loss", make_inputs=lambda rng: train_inputs(rng, batch)[:-1],
                 numpy_fn=np_loss, flops=mlp_flops),
        Workload(name="train_step", group="autodiff",
                 title=f"(8b) MLP train step (value_and_grad + SGD), batch {batch}, 784-512-512-10",
                 loom_src=TRAIN_SRC, loom_fn="step", make_inputs=lambda rng: train_inputs(rng, batch),
                 numpy_fn=np_step, jax_fn=jax_step, flops=3 * mlp_flops, flatten=flat),
        Workload(name="loop_fwd", group="autodiff", title=f"(8c) loop program, {steps} recurrent steps, forward",
                 loom_src=LOOP_SRC, loom_fn="loss", make_inputs=lambda rng: loop_inputs(rng, steps),
                 numpy_fn=np_loop),
        Workload(name="loop_grad", group="autodiff",
                 title=f"(8d) loop program, {steps} recurrent steps, value_and_grad",
                 loom_src=LOOP_SRC, loom_fn="grad_loss", make_inputs=lambda rng: loop_inputs(rng, steps),
                 numpy_fn=np_loop_grad, flatten=flat),
    ]
