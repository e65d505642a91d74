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
import functools
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


def time_first_call(src: str, args: tuple, mode: str) -> tuple[float, float]:
    """(wall s, CPU s) from loading the source to the first result, in this process (every
    `loads` is a new program: nothing is cached between sizes)."""
    w, c = time.perf_counter(), time.process_time()
    compiler.loads(src, name="scaling.loom", mode=mode, cache=False).f(*args)
    return time.perf_counter() - w, time.process_time() - c


def fit_exponent(sizes, seconds) -> float:
    """k in t = a * size^k, least squares on the logs."""
    x, y = np.log(np.asarray(sizes, float)), np.log(np.asarray(seconds, float))
    return float(np.polyfit(x, y, 1)[0])


def measure(sizes=SIZES, depths=DEPTHS, eager: bool = True, out=functools.partial(print, flush=True)) -> dict:
    """Times every program; returns {family: {mode: {"sizes", "wall_s", "cpu_s", "exponent"}}}."""
    rng = np.random.default_rng(0)
    families = {"straight": (sizes, straight_line, straight_line_inputs(rng)),
                "dag": (depths, call_dag, (rng.standard_normal(WIDTH).astype(np.float32),))}
    modes = ("jit", "eager") if eager else ("jit",)
    res: dict = {}
    for family, (ns, make, args) in families.items():
        out(f"\n== compile scaling: {family} ({'lines' if family == 'straight' else 'call depth'}) ==")
        out(f"  {'size':>6}" + "".join(f"{m + ' wall s':>14}{m + ' cpu s':>13}" for m in modes))
        res[family] = {m: {"sizes": [], "wall_s": [], "cpu_s": []} for m in modes}
        for n in ns:
            src = make(n)
            row = f"  {n:>6}"
            for m in modes:
                w, c = time_first_call(src, args, m)
                r = res[family][m]
                r["sizes"].append(n), r["wall_s"].append(w), r["cpu_s"].append(c)
                row += f"{w:>14.2f}{c:>13.2f}"
            out(row)
        for m in modes:
            r = res[family][m]
            r["exponent"] = fit_exponent(r["sizes"], r["cpu_s"])
            r["exponent_wall"] = fit_exponent(r["sizes"], r["wall_s"])
            if family == "dag":
                r["s_per_level"] = float(np.polyfit(r["sizes"], r["cpu_s"], 1)[0])
                out(f"  {m}: fitted exponent in depth {r['exponent']:.2f} (CPU; wall {r['exponent_wall']:.2f}), "
                    f"{r['s_per_level']:.3f} CPU s per level (doubling per level would be exponential)")
            else:
                verdict = "PASS" if r["exponent"] <= TARGET_EXPONENT else "MISS"
                out(f"  {m}: fitted exponent {r['exponent']:.2f} (CPU time; wall {r['exponent_wall']:.2f}), "
                    f"target <= {TARGET_EXPONENT}: {verdict}")
    return res


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help=f"sizes up to {QUICK_SIZES[-1]} lines")
    p.add_argument("--sizes", help="comma-separated line counts (overrides the defaults)")
    p.add_argument("--depths", help="comma-separated call depths (overrides the defaults)")
    p.add_argument("--no-eager", action="store_true", help="time native compilation only")
    a = p.parse_args(argv)
    sizes = [int(s) for s in a.sizes.split(",")] if a.sizes else (QUICK_SIZES if a.quick else SIZES)
    depths = [int(s) for s in a.depths.split(",")] if a.depths else (QUICK_DEPTHS if a.quick else DEPTHS)
    measure(sizes, depths, eager=not a.no_eager)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
