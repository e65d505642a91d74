"""Softmax and layer norm over rows (the bench's workloads (3) and (4)), timed in CPU time, which
other load on a shared machine disturbs least: medians of `time.process_time` over interleaved
calls in this process, Loom, NumPy, JAX and PyTorch each on 1 thread (JAX and PyTorch when
installed); then Loom's wall time on 1 and 2 threads (docs/performance.md, "Row fusion").

    python -m bench.rows_cpu [--quick] [--repeats N] [--parts]

`--parts`: what softmax's time is made of — Loom's softmax beside Loom programs that do a part
of its work (the max pass, `exp`, `y = x * 2`: the same memory traffic) and PyTorch's softmax,
CPU time, interleaved (docs/performance.md, "What bounds it now").
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np

os.environ.setdefault("LOOM_NUM_THREADS", "1")

import compiler  # noqa: E402
from bench import workloads as W  # noqa: E402
from runtime import parallel  # noqa: E402

ROOFLINE_GBS = 27.0  # copy bandwidth of one core of this project's machine (docs/performance.md)


def cpu_ms(f, repeats: int) -> float:
    f()
    ts = []
    for _ in range(repeats):
        c = time.process_time()
        f()
        ts.append(time.process_time() - c)
    return float(np.median(ts)) * 1e3


def wall_ms(f, repeats: int) -> tuple[float, float]:
    f()
    ts = []
    for _ in range(repeats):
        c = time.perf_counter()
        f()
        ts.append(time.perf_counter() - c)
    return float(np.median(ts)) * 1e3, min(ts) * 1e3


def others(x: np.ndarray) -> dict:
    """name → (softmax, layer norm) callables of the libraries that are installed, on 1 thread."""
    out = {"numpy": (lambda: W.np_softmax(x), lambda: W.np_layer_norm(x))}
    try:
        import torch

        torch.set_num_threads(1)
        xt = torch.from_numpy(x)
        out["torch"] = (lambda: torch.softmax(xt, -1),
                        lambda: torch.nn.functional.layer_norm(xt, (x.shape[1],), eps=W.EPS))
    except ImportError:
        pass
    try:
        import jax
        import jax.numpy as jnp

        xj = jnp.asarray(x)
        js, jl = jax.jit(W.jax_softmax(jnp)), jax.jit(W.jax_layer_norm(jnp))
        out["jax"] = (lambda: js(xj).block_until_ready(), lambda: jl(xj).block_until_ready())
    except ImportError:
        pass
    return out


PARTS = {
    "softmax (builtin)": ("f32[R, C]", "softmax(x, axis=-1)"),
    "max pass alone (reads x once)": ("f32[R, 1]", "max(x, axis=-1, keepdims=true)"),
    "exp(x)": ("f32[R, C]", "exp(x)"),
    "y = x * 2 (one read, one write)": ("f32[R, C]", "x * 2.0"),
}


def parts(x: np.ndarray, repeats: int) -> None:
    fs = {name: compiler.loads(f"def f(x: f32[R, C]) -> {t}:\n    return {body}\n", name="part.loom").f
          for name, (t, body) in PARTS.items()}
    calls = {name: (lambda f=f: f(x)) for name, f in fs.items()}
    try:
        import torch

        torch.set_num_threads(1)
        xt = torch.from_numpy(x)
        calls["PyTorch softmax"] = lambda: torch.softmax(xt, -1)
    except ImportError:
        pass
    for call in calls.values():
        call()
    ts: dict[str, list[float]] = {name: [] for name in calls}
    for _ in range(repeats):
        for name, call in calls.items():
            c = time.process_time()
            call()
            ts[name].append(time.process_time() - c)
    for name, t in ts.items():
        print(f"{name:34s} {np.median(t) * 1e3:8.2f} ms CPU")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="f32[256, 1024], 3 repeats")
    ap.add_argument("--repeats", type=int, default=11)
    ap.add_argument("--parts", action="store_true", help="softmax's time, part by part")
    args = ap.parse_args()
    rows, cols, repeats = (256, 1024, 3) if args.quick else (4096, 1024, args.repeats)
    x = np.random.default_rng(0).standard_normal((rows, cols)).astype(np.float32)
    if args.parts:
        print(f"f32[{rows}, {cols}], Loom on 1 thread, CPU ms (medians of {repeats}, interleaved)")
        parts(x, repeats)
        return
    libs = others(x)
    cases = [("softmax", W.SOFTMAX_SRC, 0, W.np_softmax), ("softmax written out", W.SOFTMAX_MANUAL_SRC, 0, W.np_softmax),
             ("layer norm", W.LAYERNORM_SRC, 1, W.np_layer_norm),
             ("layer norm written out", W.LAYERNORM_MANUAL_SRC, 1, W.np_layer_norm)]
    print(f"f32[{rows}, {cols}], CPU ms (medians of {repeats}), 1 thread each; Loom wall ms median/min at 1 and 2 threads")
    for name, src, k, reference in cases:
        f = compiler.loads(src, name="rows.loom").f
        parallel.set_num_threads(1)
        np.testing.assert_allclose(f(x), reference(x), rtol=1e-4, atol=1e-5)
        loom = cpu_ms(lambda: f(x), repeats)
        times = {lib: cpu_ms(fns[k], repeats) for lib, fns in libs.items()}
        w1 = wall_ms(lambda: f(x), repeats)
        parallel.set_num_threads(2)
        w2 = wall_ms(lambda: f(x), repeats)
        gbs = 8.0 * rows * cols / (loom * 1e-3) / 1e9
        ratios = " ".join(f"loom/{lib} {loom / t:.2f}" for lib, t in times.items())
        libs_ms = " ".join(f"{lib} {t:.2f}" for lib, t in times.items())
        print(f"{name:24s} loom {loom:.2f} {libs_ms} | {ratios} | {gbs:.1f} GB/s = {100 * gbs / ROOFLINE_GBS:.0f}% "
              f"of {ROOFLINE_GBS:.0f} | wall 1t {w1[0]:.2f}/{w1[1]:.2f} 2t {w2[0]:.2f}/{w2[1]:.2f}", flush=True)


if __name__ == "__main__":
    main()
