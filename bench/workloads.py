"""The workloads: each is a Loom program plus a NumPy twin (the reference, and the baseline every
ratio is taken against), and JAX / PyTorch twins used when those libraries are installed.

Rules every twin follows, so that the comparison is fair:
  * it computes the same function on the same float32 data (no float64 shortcuts, no skipped work);
  * it is written the way a competent user of that library would write it (the usual, numerically
    stable formulation), not deliberately slow and not hand-tuned beyond the library's normal API;
  * inputs are prepared once, outside the timed region (conversion and copying are not timed).

This module must not import NumPy at module level before bench/run.py has set the thread-count
environment variables; run.py imports it only after doing so.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

F32 = np.float32
EPS = 1e-5  # layer-norm epsilon, the same as Loom's builtin `layer_norm`


@dataclass
class Workload:
    name: str                      # unique name, e.g. "matmul1024"
    group: str                     # what `--only` selects, e.g. "matmul"
    title: str                     # one line for the table header
    loom_src: str                  # a complete .loom program
    loom_fn: str                   # the function of it to call
    make_inputs: Callable          # rng -> list of C-contiguous float32 arrays / float32 scalars
    numpy_fn: Callable             # the NumPy twin: (*inputs) -> array / scalar
    jax_fn: Callable | None = None     # factory: jnp -> function of the inputs (jitted by run.py)
    torch_fn: Callable | None = None   # factory: torch -> function of the inputs (as tensors)
    flops: float | None = None     # floating-point operations per call (for GFLOP/s), if meaningful
    bytes: float | None = None     # least memory traffic per call (inputs read once, outputs written
                                   # once): the roofline of a memory-bound workload
    rtol: float = 1e-3             # tolerance of the result check against NumPy
    atol_rel: float = 1e-4         # absolute tolerance, as a fraction of max |NumPy result|
    flatten: Callable | None = None  # several results: how to turn them into one array to compare


# --------------------------------------------------------------------------------------------
# (1) elementwise: y = tanh(x*a + b)*c + x
# --------------------------------------------------------------------------------------------

ELEMENTWISE_SRC = """\
def f(x: f32[N], a: f32, b: f32, c: f32) -> f32[N]:
    return tanh(x * a + b) * c + x
"""


def elementwise(n: int) -> Workload:
    def inputs(rng):
        return [rng.standard_normal(n, dtype=F32), F32(0.75), F32(-0.25), F32(1.5)]

    return Workload(
        name="elementwise", group="elementwise",
        title=f"(1) y = tanh(x*a + b)*c + x, x: f32[{n:,}], a, b, c: f32 scalars",
        loom_src=ELEMENTWISE_SRC, loom_fn="f", make_inputs=inputs,
        numpy_fn=lambda x, a, b, c: np.tanh(x * a + b) * c + x,
        jax_fn=lambda jnp: (lambda x, a, b, c: jnp.tanh(x * a + b) * c + x),
        torch_fn=lambda torch: (lambda x, a, b, c: torch.tanh(x * a + b) * c + x),
        bytes=8.0 * n,
    )


# --------------------------------------------------------------------------------------------
# (2) sum of squares: sum(x * x)
# --------------------------------------------------------------------------------------------

SUMSQ_SRC = """\
def f(x: f32[N]) -> f32:
    return sum(x * x)
"""


def sumsq(n: int) -> Workload:
    return Workload(
        name="sumsq", group="sumsq",
        title=f"(2) sum of squares sum(x * x), x: f32[{n:,}]",
        loom_src=SUMSQ_SRC, loom_fn="f",
        make_inputs=lambda rng: [rng.standard_normal(n, dtype=F32)],
        # NumPy's np.sum uses pairwise summation, so this is also an accurate reference.
        numpy_fn=lambda x: np.sum(x * x),
        jax_fn=lambda jnp: (lambda x: jnp.sum(x * x)),
        torch_fn=lambda torch: (lambda x: torch.sum(x * x)),
        bytes=4.0 * n,
    )


# --------------------------------------------------------------------------------------------
# (3) softmax over rows and (4) layer norm over rows
# --------------------------------------------------------------------------------------------

SOFTMAX_SRC = """\
def f(x: f32[R, C]) -> f32[R, C]:
    return softmax(x, axis=-1)
"""

# The same computation written out by hand (an extra row in the results, without a target).
SOFTMAX_MANUAL_SRC = """\
def f(x: f32[R, C]) -> f32[R, C]:
    e = exp(x - max(x, axis=-1, keepdims=true))
    return e / sum(e, axis=-1, keepdims=true)
"""

LAYERNORM_SRC = """\
def f(x: f32[R, C]) -> f32[R, C]:
    return layer_norm(x, axis=-1)
"""

LAYERNORM_MANUAL_SRC = """\
def f(x: f32[R, C]) -> f32[R, C]:
    mu = mean(x, axis=-1, keepdims=true)
    d = x - mu
    var = mean(d * d, axis=-1, keepdims=true)
    return d / sqrt(var + 1e-5)
"""


def np_softmax(x):
    # The usual stable formulation: subtract the row maximum before exp.
    e = np.exp(x - x.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def np_layer_norm(x):
    mu = x.mean(axis=-1, keepdims=True)
    d = x - mu
    var = (d * d).mean(axis=-1, keepdims=True)
    return d / np.sqrt(var + F32(EPS))


def jax_softmax(jnp):
    def f(x):
        e = jnp.exp(x - x.max(axis=-1, keepdims=True))
        return e / e.sum(axis=-1, keepdims=True)
    return f


def jax_layer_norm(jnp):
    def f(x):
        mu = x.mean(axis=-1, keepdims=True)
        d = x - mu
        return d / jnp.sqrt((d * d).mean(axis=-1, keepdims=True) + EPS)
    return f


def rows(kind: str, r: int, c: int, manual: bool = False) -> Workload:
    def inputs(rng):
        return [(rng.standard_normal((r, c), dtype=F32) * F32(3.0))]

    suffix = " (written out in Loom)" if manual else " (builtin)"
    if kind == "softmax":
        return Workload(
            name="softmax_manual" if manual else "softmax", group="softmax",
            title=f"(3) softmax over rows of f32[{r}, {c}]{suffix}",
            loom_src=SOFTMAX_MANUAL_SRC if manual else SOFTMAX_SRC, loom_fn="f", make_inputs=inputs,
            numpy_fn=np_softmax, jax_fn=jax_softmax,
            torch_fn=lambda torch: (lambda x: torch.softmax(x, dim=-1)),
            bytes=8.0 * r * c,
        )
    return Workload(
        name="layernorm_manual" if manual else "layernorm", group="layernorm",
        title=f"(4) layer norm over rows of f32[{r}, {c}], eps=1e-5, no affine{suffix}",
        loom_src=LAYERNORM_MANUAL_SRC if manual else LAYERNORM_SRC, loom_fn="f", make_inputs=inputs,
        numpy_fn=np_layer_norm, jax_fn=jax_layer_norm,
        torch_fn=lambda torch: (lambda x: torch.nn.functional.layer_norm(x, (c,), eps=EPS)),
        bytes=8.0 * r * c,
    )


# --------------------------------------------------------------------------------------------
# (5) matmul
# --------------------------------------------------------------------------------------------

MATMUL_SRC = """\
def f(a: f32[M, K], b: f32[K, N]) -> f32[M, N]:
    return a @ b
"""


def matmul(n: int) -> Workload:
    def inputs(rng):
        return [rng.standard_normal((n, n), dtype=F32), rng.standard_normal((n, n), dtype=F32)]

    return Workload(
        name=f"matmul{n}", group="matmul",
        title=f"(5) matmul f32[{n}, {n}] @ f32[{n}, {n}]  (2n^3 = {2 * n**3 / 1e9:.3f} GFLOP)",
        loom_src=MATMUL_SRC, loom_fn="f", make_inputs=inputs,
        numpy_fn=lambda a, b: a @ b,
        jax_fn=lambda jnp: (lambda a, b: a @ b),
        torch_fn=lambda torch: (lambda a, b: torch.mm(a, b)),
        flops=2.0 * n**3,
    )


# --------------------------------------------------------------------------------------------
# (6) MLP forward: 784-512-512-10, relu between layers
# --------------------------------------------------------------------------------------------

MLP_SRC = """\
# MLP forward pass: 784 -> 512 (relu) -> 512 (relu) -> 10 logits.
def mlp(x: f32[B, 784], w1: f32[784, 512], b1: f32[512], w2: f32[512, 512], b2: f32[512],
        w3: f32[512, 10], b3: f32[10]) -> f32[B, 10]:
    h1 = relu(x @ w1 + b1)
    h2 = relu(h1 @ w2 + b2)
    return h2 @ w3 + b3
"""
MLP_SIZES = (784, 512, 512, 10)


def mlp_inputs(rng, batch: int) -> list:
    args = [rng.standard_normal((batch, MLP_SIZES[0]), dtype=F32)]
    for fan_in, fan_out in itertools.pairwise(MLP_SIZES):
        args.append(rng.standard_normal((fan_in, fan_out), dtype=F32) * F32(1.0 / np.sqrt(fan_in)))
        args.append(rng.standard_normal(fan_out, dtype=F32) * F32(0.1))
    return args


def np_mlp(x, w1, b1, w2, b2, w3, b3):
    h1 = np.maximum(x @ w1 + b1, F32(0))
    h2 = np.maximum(h1 @ w2 + b2, F32(0))
    return h2 @ w3 + b3


def jax_mlp(jnp):
    def f(x, w1, b1, w2, b2, w3, b3):
        h1 = jnp.maximum(x @ w1 + b1, 0)
        h2 = jnp.maximum(h1 @ w2 + b2, 0)
        return h2 @ w3 + b3
    return f


def torch_mlp(torch):
    def f(x, w1, b1, w2, b2, w3, b3):
        h1 = torch.relu(torch.addmm(b1, x, w1))
        h2 = torch.relu(torch.addmm(b2, h1, w2))
        return torch.addmm(b3, h2, w3)
    return f


def mlp(batch: int) -> Workload:
    flops = 2.0 * batch * sum(i * o for i, o in itertools.pairwise(MLP_SIZES))
    return Workload(
        name="mlp", group="mlp",
        title=f"(6) MLP forward, batch {batch}, 784-512-512-10, relu ({flops / 1e9:.3f} GFLOP)",
        loom_src=MLP_SRC, loom_fn="mlp", make_inputs=lambda rng: mlp_inputs(rng, batch),
        numpy_fn=np_mlp, jax_fn=jax_mlp, torch_fn=torch_mlp, flops=flops,
    )


# --------------------------------------------------------------------------------------------
# The suite
# --------------------------------------------------------------------------------------------

FULL = {"n": 10_000_000, "rows": (4096, 1024), "matmul": (256, 512, 1024, 2048), "batch": 256,
        "transformer": (8, 128)}
QUICK = {"n": 1_000_000, "rows": (512, 256), "matmul": (64, 128, 256), "batch": 32, "transformer": (2, 16)}
GROUPS = ("elementwise", "sumsq", "softmax", "layernorm", "matmul", "mlp", "autodiff", "transformer", "compile",
          "compile_scaling")


def suite(quick: bool = False) -> list[Workload]:
    s = QUICK if quick else FULL
    r, c = s["rows"]
    return [
        elementwise(s["n"]),
        sumsq(s["n"]),
        rows("softmax", r, c), rows("softmax", r, c, manual=True),
        rows("layernorm", r, c), rows("layernorm", r, c, manual=True),
        *(matmul(n) for n in s["matmul"]),
        mlp(s["batch"]),
        *ad_suite(quick),
        transformer_suite(quick),
    ]


def ad_suite(quick: bool) -> list[Workload]:
    from bench.ad_workloads import suite as ad

    return ad(quick)


def transformer_suite(quick: bool) -> Workload:
    from bench.transformer import transformer

    return transformer(*(QUICK if quick else FULL)["transformer"])
