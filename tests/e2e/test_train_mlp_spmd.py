"""examples/train_mlp_spmd.py (data-parallel training written per device, on 4 simulated devices)
and examples/train_mlp_dp.py (the same in the global view) follow the one-device run of
examples/train_mlp.py step for step (same losses, same accuracy); the first reaches >= 95%."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("sklearn")
ROOT = Path(__file__).resolve().parents[2]


def train(script: str, epochs: int, *flags: str) -> list[str]:
    out = subprocess.run([sys.executable, str(ROOT / "examples" / script), "--epochs", str(epochs), *flags],
                         capture_output=True, text=True, check=True, timeout=1200).stdout
    return out.strip().splitlines()


_SINGLE: list[str] = []


@pytest.mark.xdist_group("train_mlp_spmd")  # the one-device run (_SINGLE) is shared
@pytest.mark.parametrize("script, flags", [
    ("train_mlp_spmd.py", ()), ("train_mlp_dp.py", ()),
    pytest.param("train_mlp_dp.py", ("--devices", "4"), marks=pytest.mark.slow, id="dp-partitioned")])
def test_data_parallel_steps_match_one_device(script, flags):
    """train_mlp_dp.py with --devices 4: the global-view step partitioned, on 4 simulated devices."""
    if not _SINGLE:
        _SINGLE.extend(train("train_mlp.py", 2))
    spmd, single = train(script, 2, *flags), _SINGLE
    assert spmd[:2] == single[:2]  # the printed epoch losses (4 decimals)
    assert spmd[2].split()[2] == single[2].split()[2]  # the test accuracy


@pytest.mark.slow
def test_data_parallel_training_on_digits():
    lines = train("train_mlp_spmd.py", 30)
    losses = [float(line.split()[-1]) for line in lines if line.startswith("epoch")]
    assert len(losses) == 30 and losses[-1] < losses[0] / 4
    assert float(lines[-1].split()[2]) >= 0.95, lines
