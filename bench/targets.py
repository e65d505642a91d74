"""The performance issue's targets table, measured in one run (docs/performance.md, "Targets"):

    python -m bench.targets [--quick] [--repeats N] [--threads N] [--only ROW,…] [--json OUT]

Rows: matmul 256/512/1024/2048, MLP forward, MLP training step, Transformer block fwd+bwd, softmax,
layer norm, cold first call of the training step (`--only matmul,mlp,train,transformer,softmax,
layernorm,cold`). For each row:

- **1 thread, CPU time**: medians of `time.process_time` over interleaved calls in this process,
  Loom and NumPy / JAX / PyTorch each on one thread (the environment of bench/run.py). CPU time is
  what other jobs on a shared machine disturb least; the ratio against the target's library is
  the verdict.
- **All cores, wall time**: Loom on 1 and on N threads (`--threads`, default every core
  available), interleaved, median and minimum; the speed-up of the medians and of the minima (on a
  loaded machine the minimum is the run that got the cores). And, robust to other load, Loom's CPU
  time on N threads over its CPU time on 1 (the work the threads add: start-up, waiting, imbalance):
  N / that is the speed-up N free cores would allow at most. And, for information, the same two
  back to back: a block of calls on 1 thread, then a block on N (the first of each block untimed),
  so that the pool's workers are still spinning when the next call comes — the speed-up of the
  parallel code itself, without the wake-up of a worker that slept between the interleaved calls.
- **Roofline**: Loom's GFLOP/s of CPU time as a fraction of the FMA peak (measured by bench/machine.py, or `--peak`; per core), or
  its GB/s (inputs read once, outputs written once) as a fraction of a 64 MiB copy's, both CPU time.
- **Check**: every implementation's result against NumPy's (bench/run.py's tolerance); a mismatch
  is shown and fails the run (exit status 1).
- **Cold first call** of the training step: Loom's compile + first result in a fresh process with an
  empty cache (bench/compile_time.py), against `jax.jit(value_and_grad)`'s trace + compile + first
  result in a fresh process, CPU time, `import` excluded from both.

`--quick` uses bench/workloads.py's small sizes and 5 repeats: a smoke test of the table, not a
measurement of the targets (which are meant for the full sizes).
"""

from __future__ import annotations

from bench import run as R  # first: it sets the single-thread environment before NumPy is imported

import argparse  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import statistics  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402

from bench import compile_time, machine  # noqa: E402
from bench import workloads as W  # noqa: E402

ROWS = ("matmul", "mlp", "train", "transformer", "softmax", "layernorm", "cold")

# workload name -> (row group, the libraries the target compares with, target ratio of CPU times)
TARGETS = {"mlp": ("mlp", ("numpy", "jax", "torch"), 1.0), "train_step": ("train", ("jax",), 1.0),
           "transformer": ("transformer", ("torch",), 1.0), "softmax": ("softmax", ("torch",), 1.0),
           "layernorm": ("layernorm", ("torch",), 1.0)}
MATMUL_TARGET, SPEEDUP_TARGET = 0.9, 1.8  # >= 0.9x NumPy's GFLOP/s; >= 1.8x its own 1-thread speed

JAX_COLD = r"""
import os, sys, time, json
import numpy as np
import jax, jax.numpy as jnp
from bench.ad_workloads import jax_step, train_inputs
args = train_inputs(np.random.default_rng(0), int(sys.argv[1]))
jargs = [jax.device_put(a) for a in args]
c, t = time.process_time(), time.perf_counter()
jax.block_until_ready(jax.jit(jax_step(jnp))(*jargs))
print(json.dumps({"cpu_s": time.process_time() - c, "wall_s": time.perf_counter() - t}))
"""


def workloads(quick: bool, only: set[str]) -> list[W.Workload]:
    by_name = {w.name: w for w in W.suite(quick)}
    chosen = [w for w in by_name.values() if w.group == "matmul"] if "matmul" in only else []
    return chosen + [by_name[name] for name, (row, _, _) in TARGETS.items() if row in only]


def measure(w: W.Workload, libs: dict, repeats: int, threads: int) -> dict:
    inputs = w.make_inputs(np.random.default_rng(0))
    impls = R.implementations(w, inputs, libs, threads)
    calls, outs, first, errors = R.warm_up(impls, time.process_time)
    res = {"title": w.title, "flops": w.flops, "bytes": w.bytes, "first_cpu_s": first, "cpu_ms": {}, "check": {},
           "errors": errors}
    ref = outs.get("numpy")
    for name, out in outs.items():
        if name != "numpy" and ref is not None:
            res["check"][name] = R.check(out, ref, w)
    res["cpu_ms"] = {k: statistics.median(v) * 1e3 for k, v in R.interleaved(calls, repeats, time.process_time).items()}
    multi = {k: v for k, v in calls.items() if k.startswith("loom")}
    if len(multi) == 2:
        wall = R.interleaved(multi, repeats, time.perf_counter)
        res["wall_ms"] = {k: (statistics.median(v) * 1e3, min(v) * 1e3) for k, v in wall.items()}
        res["back_to_back_ms"] = {k: statistics.median(back_to_back(call, repeats)) * 1e3 for k, call in multi.items()}
    return res


def back_to_back(call, repeats: int) -> list[float]:
    """Wall times of `repeats` calls one after the other, after an untimed one (`interleaved` with the
    call alone, without its settle: the workers are still spinning when the next call comes)."""
    call()
    return R.interleaved({"call": lambda: call()}, repeats)["call"]


def verdict(name: str, res: dict) -> tuple[str, float | None, str]:
    """(what the target compares, the measured ratio, PASS/MISS/ERROR/MISMATCH)."""
    cpu = res["cpu_ms"]
    if "loom" not in cpu:
        return "loom failed", None, "ERROR"
    if not all(ok for ok, _ in res["check"].values()):
        return "result check", None, "MISMATCH"
    if name.startswith("matmul"):
        ratio = cpu["numpy"] / cpu["loom"]  # Loom's GFLOP/s / NumPy's
        return f"GFLOP/s vs numpy >= {MATMUL_TARGET}", ratio, "PASS" if ratio >= MATMUL_TARGET else "MISS"
    _, against, target = TARGETS[name]
    present = [lib for lib in against if lib in cpu]
    if not present:
        return f"time vs {'/'.join(against)}: not installed", None, "-"
    best = min(present, key=lambda lib: cpu[lib])
    ratio = cpu["loom"] / cpu[best]
    return f"time vs {best} <= {target}", ratio, "PASS" if ratio <= target else "MISS"


def roofline(res: dict, peak: float, bandwidth: float) -> str:
    sec = res["cpu_ms"].get("loom", 0) * 1e-3
    if not sec:
        return "-"
    if res["flops"]:
        g = res["flops"] / sec / 1e9
        return f"{g:.1f} GFLOP/s = {g / peak:.0%} of FMA peak"
    if res["bytes"]:
        b = res["bytes"] / sec / 1e9
        return f"{b:.1f} GB/s = {b / bandwidth:.0%} of copy"
    return "-"


def print_row(name: str, res: dict, threads: int, peak: float, bandwidth: float) -> dict:
    what, ratio, v = verdict(name, res)
    cpu = res["cpu_ms"]
    libs = "  ".join(f"{lib} {cpu[lib]:.3f}" for lib in ("loom", "numpy", "jax", "torch") if lib in cpu)
    print(f"\n== {res['title']} ==\n  CPU ms (1 thread, medians): {libs}")
    print(f"  target: {what}: {'n/a' if ratio is None else f'{ratio:.3f}'}  {v}")
    row = {"name": name, "target": what, "ratio": ratio, "verdict": v, "roofline": roofline(res, peak, bandwidth)}
    if "wall_ms" in res:
        (m1, n1), (mn, nn) = res["wall_ms"]["loom"], res["wall_ms"][f"loom x{threads}"]
        inflation = cpu[f"loom x{threads}"] / cpu["loom"]
        row["speedup"] = (m1 / mn, n1 / nn, threads / inflation)
        target = f" (target >= {SPEEDUP_TARGET})" if name.startswith("matmul") else ""
        print(f"  wall ms, loom 1 thread {m1:.3f} (min {n1:.3f}), {threads} threads {mn:.3f} (min {nn:.3f}): "
              f"speed-up {m1 / mn:.2f} (of minima {n1 / nn:.2f}){target}")
        print(f"  CPU time on {threads} threads / on 1: {inflation:.2f}, so at most {threads / inflation:.2f}x "
              f"on {threads} free cores")
        b1, bn = res["back_to_back_ms"]["loom"], res["back_to_back_ms"][f"loom x{threads}"]
        row["back_to_back"] = b1 / bn
        print(f"  back to back (information): 1 thread {b1:.3f}, {threads} threads {bn:.3f} wall ms: "
              f"speed-up {b1 / bn:.2f}")
    print(f"  roofline: {row['roofline']}")
    for lib, (ok, text) in res["check"].items():
        print(f"  check {lib}: {'ok' if ok else '*** MISMATCH ***'} ({text})")
    for lib, text in res["errors"].items():
        print(f"  *** {lib} FAILED: {text}")
    return row


def cold(batch: int) -> dict:
    """Loom's and JAX's first call of the training step, each in a fresh process, CPU seconds."""
    runs = compile_time.measure(batch, ("train",))["train"]
    loom, shape = runs["cold"], runs["new_shape"]
    env = dict(os.environ, PYTHONPATH=R.ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
    proc = subprocess.run([sys.executable, "-c", JAX_COLD, str(batch)], capture_output=True, text=True, cwd=R.ROOT,
                          env=env, check=False)
    if proc.returncode:
        raise RuntimeError("JAX's first call failed:\n" + "\n".join(compile_time.error_lines(proc.stderr)))
    jax_res = json.loads(proc.stdout.strip().splitlines()[-1])
    return {"loom_cpu_s": loom["load_to_first_result_cpu_s"], "loom_wall_s": loom["load_to_first_result_s"],
            "loom_ok": loom["ok"] and shape["ok"], "jax_cpu_s": jax_res["cpu_s"], "jax_wall_s": jax_res["wall_s"],
            "loom_new_shape_cpu_s": shape["load_to_first_result_cpu_s"],
            "loom_new_shape_wall_s": shape["load_to_first_result_s"]}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.targets", description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="small sizes, 5 repeats: a smoke test")
    ap.add_argument("--repeats", type=int, help="timed calls per implementation (default 11; --quick 5)")
    ap.add_argument("--threads", type=int, default=len(os.sched_getaffinity(0)), help="the all-cores column")
    ap.add_argument("--only", default=",".join(ROWS), help=f"rows, comma-separated: {', '.join(ROWS)}")
    ap.add_argument("--peak", type=float, default=None,
                    help="FMA peak per core, GFLOP/s (default: measured, bench/machine.py)")
    ap.add_argument("--json", metavar="OUT", help="also write the results to OUT")
    args = ap.parse_args(argv)
    only = set(args.only.split(","))
    if not only <= set(ROWS):
        ap.error(f"unknown rows: {', '.join(sorted(only - set(ROWS)))} (known: {', '.join(ROWS)})")
    if not 2 <= args.threads <= R.parallel.MAX_THREADS:
        ap.error(f"--threads must be from 2 to {R.parallel.MAX_THREADS}")
    repeats = args.repeats or (5 if args.quick else 11)
    info = machine.machine_info()
    print(f"{info['time']}  {info['cpu']}, {info['cpus_available']} cores available; load average "
          f"{' '.join(f'{x:.2f}' for x in os.getloadavg())}{'  (--quick sizes)' if args.quick else ''}")
    libs = R.optional_libraries()
    bandwidth = machine.copy_gbps(repeats)
    if args.peak is None:
        args.peak = machine.fma_peak_gflops(repeats)
    print(f"ceilings: FMA peak {args.peak:.0f} GFLOP/s per core ({machine.vector_lanes()} f32 lanes; --peak); "
          f"copy {bandwidth:.1f} GB/s (CPU time)")
    out = {"meta": {**info, "quick": args.quick, "repeats": repeats, "threads": args.threads, "peak": args.peak,
                    "copy_gbps": bandwidth}, "rows": [], "results": {}}
    for w in workloads(args.quick, only):
        res = measure(w, libs, repeats, args.threads)
        out["results"][w.name] = res
        out["rows"].append(print_row(w.name, res, args.threads, args.peak, bandwidth))
        sys.stdout.flush()
    if "cold" in only:
        batch = (W.QUICK if args.quick else W.FULL)["batch"]
        try:
            c = cold(batch)
            ratio = c["loom_cpu_s"] / c["jax_cpu_s"]
            v = "MISMATCH" if not c["loom_ok"] else "PASS" if ratio <= 1.0 else "MISS"
            print(f"\n== cold first call, MLP train step, batch {batch}, fresh processes (import excluded) ==\n"
                  f"  CPU s: loom {c['loom_cpu_s']:.2f}  jax {c['jax_cpu_s']:.2f}  (wall {c['loom_wall_s']:.2f} / "
                  f"{c['jax_wall_s']:.2f})\n  target: loom/jax <= 1.0: {ratio:.2f}  {v}\n"
                  f"  batch {max(batch // 2, 1)} next, in a fresh process with the kernels of the first in the cache: "
                  f"loom {c['loom_new_shape_cpu_s']:.2f} CPU s ({c['loom_new_shape_cpu_s'] / c['jax_cpu_s']:.2f}x jax)")
            out["results"]["cold"] = c
            out["rows"].append({"name": "cold", "target": "CPU time vs jax <= 1.0", "ratio": ratio, "verdict": v})
        except Exception as e:  # noqa: BLE001
            print(f"\n== cold first call ==\n  *** FAILED: {R.error_text(e)}")
            out["rows"].append({"name": "cold", "target": "CPU time vs jax <= 1.0", "ratio": None, "verdict": "ERROR"})
    print(f"\n== targets (load average at the end {' '.join(f'{x:.2f}' for x in os.getloadavg())}) ==")
    for r in out["rows"]:
        sp, ratio = r.get("speedup"), "n/a" if r["ratio"] is None else f"{r['ratio']:.3f}"
        multi = "-" if sp is None else f"{sp[0]:.2f} (min {sp[1]:.2f}, cpu {sp[2]:.2f}, b2b {r['back_to_back']:.2f})"
        print(f"  {r['name']:<12} {r['target']:<34} {ratio:>7}  {r['verdict']:<8} x{args.threads}: {multi:<37} "
              f"{r.get('roofline', '')}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(out, f, indent=1)
    return 1 if any(r["verdict"] in ("ERROR", "MISMATCH") for r in out["rows"]) else 0


if __name__ == "__main__":
    raise SystemExit(main())
