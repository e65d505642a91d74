"""(7) Compile time of the MLP forward pass, measured in fresh processes.

Compile time must be measured in a *fresh* Python process: inside the benchmark process Loom has
already compiled and cached everything in memory, and the modules it imports are already loaded.
So we start two subprocesses that share one temporary, initially empty LOOM_CACHE_DIR:

  (a) cold:      the cache directory is empty, so Loom compiles the MLP to native code;
  (b) cache hit: the same directory now holds the object code, so Loom only loads it.

Each subprocess times, with time.perf_counter, from `compiler.load(path, cache=True)` to the first
result of `prog.mlp(...)`. The time to `import compiler` is reported separately (it is paid once
per process whatever the program). The inputs are built before the clock starts, and the result is
checked against NumPy after it stops.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

from bench import workloads as W

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MARK = "BENCH_RESULT "

# The program run by each subprocess: argv = [path of the .loom file, batch size].
CHILD = r"""
import json, os, sys, time
t0 = time.perf_counter()
import numpy as np
t1 = time.perf_counter()
import compiler
t2 = time.perf_counter()
from bench.workloads import mlp_inputs, np_mlp

path, batch = sys.argv[1], int(sys.argv[2])
args = mlp_inputs(np.random.default_rng(0), batch)      # not timed

t3 = time.perf_counter()
prog = compiler.load(path, cache=True)                  # parse + type-check
y = prog.mlp(*args)                                     # specialize, compile (or load), run
t4 = time.perf_counter()
y2 = prog.mlp(*args)                                    # a warm call, for comparison
t5 = time.perf_counter()

ref = np_mlp(*args)
ok = bool(np.allclose(y, ref, rtol=1e-3, atol=1e-4 * float(np.abs(ref).max())))
print(MARK + json.dumps({
    "import_numpy_s": t1 - t0, "import_compiler_s": t2 - t1,
    "load_to_first_result_s": t4 - t3, "warm_call_s": t5 - t4, "ok": ok,
}), flush=True)
""".replace("MARK", repr(MARK))


def run_child(path: str, batch: int, cache_dir: str, timeout: float = 600) -> dict:
    env = dict(os.environ)  # inherits the single-thread settings made by run.py
    env["LOOM_CACHE_DIR"] = cache_dir
    env["PYTHONPATH"] = ROOT + os.pathsep + env.get("PYTHONPATH", "")
    t = time.perf_counter()
    proc = subprocess.run([sys.executable, "-c", CHILD, path, str(batch)], check=False, cwd=ROOT, env=env,
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


def measure(batch: int) -> dict:
    """Run the cold and the cache-hit subprocess; return both measurements."""
    tmp = tempfile.mkdtemp(prefix="loom-bench-")
    try:
        path = os.path.join(tmp, "mlp_forward.loom")
        with open(path, "w") as f:
            f.write(W.MLP_SRC)
        cache_dir = os.path.join(tmp, "cache")
        os.makedirs(cache_dir)
        cold = run_child(path, batch, cache_dir)
        hit = run_child(path, batch, cache_dir)
        return {"batch": batch, "cold": cold, "hit": hit}
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def report(res: dict) -> None:
    print(f"\n== (7) compile time: MLP forward (batch {res['batch']}), each in a fresh process ==")
    print(f"  {'run':<24}{'import compiler s':>18}{'load->1st result s':>20}{'warm call s':>13}"
          f"{'difference s':>14}{'process s':>11}{'cache files':>13}  check")
    for label, key in (("(a) cold, empty cache", "cold"), ("(b) cache hit", "hit")):
        r = res[key]
        print(f"  {label:<24}{r['import_compiler_s']:>18.3f}{r['load_to_first_result_s']:>20.3f}"
              f"{r['warm_call_s']:>13.3f}{r['load_to_first_result_s'] - r['warm_call_s']:>14.3f}"
              f"{r['process_wall_s']:>11.2f}{r['cache_files']:>13}  {'ok' if r['ok'] else '*** MISMATCH ***'}")
    print("  targets: cold <= 1 s, cache hit <= 100 ms, on 'load->1st result' (import not included).")
    print("  'difference' = load->1st result minus one warm call: the part that is not running the MLP.")
