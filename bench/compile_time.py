"""(7) Compile time, measured in fresh processes: the MLP forward pass and the MLP training step
(`value_and_grad` + SGD, bench/ad_workloads.py).

Compile time must be measured in a *fresh* Python process: inside the benchmark process Loom has
already compiled and cached everything in memory, and the modules it imports are already loaded.
So for each program we start two subprocesses that share one temporary, initially empty
LOOM_CACHE_DIR:

  (a) cold:      the cache directory is empty, so Loom compiles the program to native code;
  (b) cache hit: the same directory now holds the object code, so Loom only loads it;
  (c) new shape: the same program at half the batch size, a specialization not compiled before,
                 with the matmul kernels that (a) compiled already in the directory (they do not
                 depend on the sizes: runtime/codegen_units.py) — the first call of a new program
                 on a machine where Loom has run before.

Each subprocess times, with time.perf_counter (wall) and time.process_time (CPU: what other load
on the machine disturbs least), from `compiler.load(path, cache=True)` to the first result. The
time to `import compiler` is reported separately (it is paid once per process whatever the
program). The inputs are built before the clock starts, and the result is checked against NumPy
after it stops.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

from bench import ad_workloads as AD
from bench import workloads as W

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MARK = "BENCH_RESULT "

# The program run by each subprocess: argv = [workload ("mlp" or "train"), .loom file, batch size].
CHILD = r"""
import json, os, sys, time
t0, c0 = time.perf_counter(), time.process_time()
import numpy as np
t1, c1 = time.perf_counter(), time.process_time()
import compiler
t2, c2 = time.perf_counter(), time.process_time()
from bench.ad_workloads import flat, np_step, train_inputs
from bench.workloads import mlp_inputs, np_mlp

workload, path, batch = sys.argv[1], sys.argv[2], int(sys.argv[3])
make, fn, ref_fn = {"mlp": (mlp_inputs, "mlp", np_mlp), "train": (train_inputs, "step", np_step)}[workload]
args = make(np.random.default_rng(0), batch)            # not timed

t3, c3 = time.perf_counter(), time.process_time()
prog = compiler.load(path, cache=True)                  # parse + type-check
y = getattr(prog, fn)(*args)                            # specialize, compile (or load), run
t4, c4 = time.perf_counter(), time.process_time()
y2 = getattr(prog, fn)(*args)                           # a warm call, for comparison
t5 = time.perf_counter()

got, ref = (flat(y), flat(ref_fn(*args))) if workload == "train" else (y, ref_fn(*args))
ok = bool(np.allclose(got, ref, rtol=1e-3, atol=1e-4 * float(np.abs(ref).max())))
print(MARK + json.dumps({
    "import_numpy_s": t1 - t0, "import_compiler_s": t2 - t1, "import_compiler_cpu_s": c2 - c1,
    "load_to_first_result_s": t4 - t3, "load_to_first_result_cpu_s": c4 - c3, "warm_call_s": t5 - t4, "ok": ok,
}), flush=True)
""".replace("MARK", repr(MARK))
WORKLOADS = {"mlp": ("MLP forward", W.MLP_SRC), "train": ("MLP train step", AD.TRAIN_SRC)}


def run_child(workload: str, path: str, batch: int, cache_dir: str, timeout: float = 600) -> dict:
    env = dict(os.environ)  # inherits the single-thread settings made by run.py
    env["LOOM_CACHE_DIR"] = cache_dir
    env["PYTHONPATH"] = ROOT + os.pathsep + env.get("PYTHONPATH", "")
    t = time.perf_counter()
    proc = subprocess.run([sys.executable, "-c", CHILD, workload, path, str(batch)], check=False, cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=timeout)
    wall = time.perf_counter() - t
    for line in proc.stdout.splitlines():
        if line.startswith(MARK):
            result = json.loads(line[len(MARK):])
            result["process_wall_s"] = wall
            result["cache_files"] = len(os.listdir(cache_dir)) if os.path.isdir(cache_dir) else 0
            return result
    raise RuntimeError(f"subprocess failed (exit status {proc.returncode}):\n    "
                       + "\n    ".join(error_lines(proc.stderr or proc.stdout)))


def error_lines(text: str, keep: int = 3) -> list[str]:
    """The innermost frame of a Python traceback and the first lines of its error message."""
    lines = text.strip().splitlines()
    frames = [i for i, ln in enumerate(lines) if ln.startswith('  File "')]
    if not frames:
        return lines[-keep:]
    i = frames[-1]
    return lines[i:i + 2 + keep]


def measure(batch: int, workloads: tuple[str, ...] = tuple(WORKLOADS)) -> dict:
    """For each workload, the three subprocesses: {"batch": …, workload: {"cold", "hit", "new_shape"}}."""
    res = {"batch": batch}
    for w in workloads:
        tmp = tempfile.mkdtemp(prefix="loom-bench-")
        try:
            path = os.path.join(tmp, f"{w}.loom")
            with open(path, "w") as f:
                f.write(WORKLOADS[w][1])
            cache_dir = os.path.join(tmp, "cache")
            os.makedirs(cache_dir)
            cold = run_child(w, path, batch, cache_dir)
            hit = run_child(w, path, batch, cache_dir)
            shape = run_child(w, path, max(batch // 2, 1), cache_dir)
            res[w] = {"cold": cold, "hit": hit, "new_shape": shape}
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    return res


def report(res: dict) -> None:
    print(f"\n== (7) compile time (batch {res['batch']}), each in a fresh process (CPU s: process time) ==")
    print(f"  {'run':<46}{'import s':>9}{'(CPU)':>7}{'load->1st s':>13}{'(CPU)':>7}{'warm call s':>13}"
          f"{'process s':>11}{'cache files':>13}  check")
    for w in WORKLOADS:
        if w not in res:
            continue
        for label, key in (("(a) cold, empty cache", "cold"), ("(b) cache hit", "hit"),
                           (f"(c) batch {max(res['batch'] // 2, 1)}, kernels cached", "new_shape")):
            r = res[w][key]
            print(f"  {WORKLOADS[w][0] + ' ' + label:<46}{r['import_compiler_s']:>9.3f}{r['import_compiler_cpu_s']:>7.2f}"
                  f"{r['load_to_first_result_s']:>13.3f}{r['load_to_first_result_cpu_s']:>7.2f}{r['warm_call_s']:>13.3f}"
                  f"{r['process_wall_s']:>11.2f}{r['cache_files']:>13}  {'ok' if r['ok'] else '*** MISMATCH ***'}")
    print("  targets (MLP forward): cold <= 1 s, cache hit <= 100 ms, on 'load->1st result' (import not included);")
    print("  the train step's cold first call is compared with jax.jit's first call in (8b).")


if __name__ == "__main__":  # python -m bench.compile_time [--quick] [mlp|train ...]
    quick = "--quick" in sys.argv
    names = tuple(a for a in sys.argv[1:] if a in WORKLOADS) or tuple(WORKLOADS)
    report(measure(W.QUICK["batch"] if quick else W.FULL["batch"], names))
