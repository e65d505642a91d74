"""Compile time against program size: it must grow (near) linearly.

Two families of generated programs:

  straight  one function of N statement lines, a Transformer-like mix repeated: a matmul, a bias
            add, a softmax written out (max, exp, sum, divide), a residual, a layer norm written
            out (mean, variance, rsqrt) — elementwise ops, matmuls and reductions.
  dag       a call DAG of depth D: f_k calls f_{k-1} twice (2^D paths, D + 1 functions).

For each size it times, in this process, from `compiler.loads(source)` to the first result:
native (JIT) compile plus the call, and the eager (reference executor) first call. It then fits
`log t = a + k log size` by least squares and prints the exponent k (1: linear; the target for
the straight-line programs is k <= 1.2). For the call DAG the size is the depth, and the fitted
exponent in depth is reported along with the time per added level (linear in depth means the
shared callees are not re-expanded: exponential growth would show as doubling per level).

    python -m bench --only compile_scaling [--quick]   # through the benchmark driver
    python bench/compile_scaling.py [--quick] [--sizes 100,200] [--depths 4,8] [--no-eager]
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

import numpy as np

import compiler

SIZES = (100, 200, 500, 1000, 2000, 5000)
QUICK_SIZES = (100, 200, 500, 1000)
DEPTHS = (4, 6, 8, 10, 12, 14)
QUICK_DEPTHS = (4, 6, 8, 10, 12, 14)
TARGET_EXPONENT = 1.2

ROWS, WIDTH = 4, 8

# one layer, one statement a line; `{p}` is the layer's input, `{o}` its output, `{k}` a unique tag
LAYER = """\
    a{k} = {p} @ w
    b{k} = a{k} + bias
    m{k} = max(b{k}, axis=-1, keepdims=true)
    e{k} = exp(b{k} - m{k})
    s{k} = e{k} / sum(e{k}, axis=-1, keepdims=true)
    r{k} = tanh(s{k} * 0.5) + {p}
    u{k} = mean(r{k}, axis=-1, keepdims=true)
    v{k} = mean((r{k} - u{k}) ** 2, axis=-1, keepdims=true)
    {o} = (r{k} - u{k}) * rsqrt(v{k} + 1e-5)
"""
LAYER_LINES = LAYER.count("\n")


def straight_line(lines: int) -> str:
    """One function of about `lines` statement lines (whole layers; the rest elementwise)."""
    body, k, prev = [], 0, "x"
    while len(body) + LAYER_LINES <= lines:
        body += LAYER.format(p=prev, o=f"h{k}", k=k).splitlines()
        prev, k = f"h{k}", k + 1
    while len(body) < lines:
        body.append(f"    h{k} = {prev} * 0.999 + 0.001")
        prev, k = f"h{k}", k + 1
    return (f"def f(x: f32[{ROWS}, {WIDTH}], w: f32[{WIDTH}, {WIDTH}], bias: f32[{WIDTH}]) -> f32[{ROWS}, {WIDTH}]:\n"
            + "\n".join(body) + f"\n    return {prev}\n")


def straight_line_inputs(rng: np.random.Generator) -> tuple:
    return (rng.standard_normal((ROWS, WIDTH)).astype(np.float32),
            (rng.standard_normal((WIDTH, WIDTH)) / WIDTH).astype(np.float32),
            rng.standard_normal(WIDTH).astype(np.float32))


def call_dag(depth: int) -> str:
    """f_k calls f_{k-1} twice; the entry is `f`."""
    src = [f"def f0(x: f32[{WIDTH}]) -> f32[{WIDTH}]:", "    return tanh(x * 2.0)"]
    for k in range(1, depth + 1):
        src += [f"def f{k}(x: f32[{WIDTH}]) -> f32[{WIDTH}]:",
                f"    return f{k - 1}(x) + f{k - 1}(x * 0.5)"]
    src += [f"def f(x: f32[{WIDTH}]) -> f32[{WIDTH}]:", f"    return f{depth}(x)"]
    return "\n".join(src) + "\n"
