"""runtime/malloc.py: compiled code's buffers are reused from call to call (no page faults after the
first calls), and a process's own malloc settings are left alone. Each case runs in a fresh
process: the thresholds are process-wide and set once."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from runtime.malloc import user_chose_malloc_settings

# A call that allocates and frees 6 buffers of 4 MiB (glibc's default trims the heap's top after
# them, so every call faults its pages in again) and returns a scalar.
PROGRAM = """
import json, resource, numpy as np, compiler
from runtime import parallel
from runtime.malloc import tune_malloc
src = '''
def f(x: f32[1024, 1024]) -> f32:
    return sum(transpose(exp(x) @ x, (1, 0)) @ (x * 2.0) + x)
'''
f = compiler.loads(src, cache=False).f
parallel.set_num_threads(1)
x = np.random.default_rng(0).standard_normal((1024, 1024), dtype=np.float32) * np.float32(0.01)
ref = np.sum((np.exp(x) @ x).T @ (x * 2) + x, dtype=np.float64)
for _ in range(3):
    y = f(x)
faults = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for _ in range(4):
    y = f(x)
faults = (resource.getrusage(resource.RUSAGE_SELF).ru_minflt - faults) / 4
print(json.dumps({"faults": faults, "ok": bool(abs(y - ref) <= 1e-3 * abs(ref)), "tuned_again": tune_malloc()}))
"""


def run(env_extra: dict) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MALLOC_") and k != "GLIBC_TUNABLES"}
    r = subprocess.run([sys.executable, "-c", PROGRAM], capture_output=True, text=True, timeout=300,
                       env={**env, **env_extra}, cwd=os.path.dirname(os.path.dirname(__file__)))
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout.strip().splitlines()[-1])


def test_buffers_reused_without_page_faults():
    out = run({})
    assert out["ok"]
    assert out["tuned_again"]  # glibc: the thresholds are set
    # 6 × 4 MiB = 6,144 pages a call if they came from the kernel each time
    assert out["faults"] < 300, out


def test_own_settings_are_kept():
    out = run({"MALLOC_TRIM_THRESHOLD_": str(128 * 1024)})
    assert out["ok"] and not out["tuned_again"]


def test_user_settings_detected():
    assert not user_chose_malloc_settings({})
    assert not user_chose_malloc_settings({"GLIBC_TUNABLES": "glibc.pthread.rseq=0"})
    assert user_chose_malloc_settings({"MALLOC_MMAP_THRESHOLD_": "1"})
    assert user_chose_malloc_settings({"GLIBC_TUNABLES": "glibc.malloc.trim_threshold=1"})
