"""The Python API in an MPI job (`loom launch -n N python script.py`): a mesh program's functions take
and return global NumPy arrays on every rank, computed by the ranks together (the MPI executor);
`runtime.mpi.rank()` / `world_size()` for the script's own logic."""

from __future__ import annotations

import os
import re
import subprocess
import sys

import pytest
from conftest import END_TO_END_ENV

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
pytestmark = [pytest.mark.slow, pytest.mark.mpi]

SCRIPT = '''
import sys
import numpy as np
import compiler
from runtime import mpi

prog = compiler.loads("""
mesh M = (dp=2, tp=2)

@spmd(M)
def f(x: f32[8@dp, 6@tp], w: f32[6@tp]) -> (f32[8@dp], f32):
    y = all_reduce(sum(x * w, axis=1), over=tp, op=sum)
    return y, all_reduce(sum(y), over=dp, op=max)
""", mode=sys.argv[1])
x = np.arange(48, dtype=np.float32).reshape(8, 6) / 10
w = np.linspace(-1, 1, 6).astype(np.float32)
y, m = prog.f(x, w)
want = (x * w).sum(axis=1)
np.testing.assert_allclose(y, want, rtol=1e-5)
np.testing.assert_allclose(m, max(want[:4].sum(), want[4:].sum()), rtol=1e-5)
print(f"rank {mpi.rank()} of {mpi.world_size()}: ok {type(prog.executor).__name__}", flush=True)
'''


def test_api_on_four_ranks(tmp_path):
    script = tmp_path / "job.py"
    script.write_text(SCRIPT)
    p = subprocess.run([sys.executable, "-m", "compiler.cli", "launch", "-n", "4", "python", str(script), "jit"],
                       cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert p.returncode == 0, p.stderr
    # (the ranks' lines may interleave)
    assert sorted(re.findall(r"rank (\d) of 4: ok MPIExecutor", p.stdout)) == ["0", "1", "2", "3"]


def test_api_wrong_number_of_ranks(tmp_path):
    script = tmp_path / "job.py"
    script.write_text(SCRIPT)
    p = subprocess.run([sys.executable, "-m", "compiler.cli", "launch", "-n", "2", "python", str(script), "jit"],
                       cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert p.returncode == 1
    assert "the program's mesh has 4 devices (2 x 2) but the job has 2 processes: start it with -n 4" in p.stderr


def test_data_parallel_training_step_over_mpi_matches_simulated_devices():
    """examples/train_mlp_spmd.loom (gradients inside an @spmd function, all-reduced) on 4 ranks:
    the same losses as on simulated devices."""
    import compiler

    path = os.path.join(ROOT, "examples", "train_mlp_spmd.loom")
    before, after, _ = compiler.load(path).main()  # simulated devices
    p = subprocess.run([sys.executable, "-m", "compiler.cli", "run", path, "--devices", "4"],
                       cwd=ROOT, capture_output=True, text=True, timeout=600, env=END_TO_END_ENV)
    assert p.returncode == 0, p.stderr
    got = re.search(r"loss before: (\S+) after one step: (\S+)", p.stdout)
    assert got and p.stdout.count("loss before") == 1  # printed once, by rank 0
    assert abs(float(got.group(1)) - before) < 1e-5 and abs(float(got.group(2)) - after) < 1e-5
