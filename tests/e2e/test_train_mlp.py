"""examples/train_mlp.py: an MLP trained with a Loom train step (value_and_grad + SGD on a struct
of parameters) on scikit-learn's digits reaches at least 95% test accuracy."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("sklearn")
ROOT = Path(__file__).resolve().parents[2]


def test_train_mlp_on_digits():
    out = subprocess.run([sys.executable, str(ROOT / "examples" / "train_mlp.py")], capture_output=True, text=True,
                         check=True, timeout=600).stdout
    lines = out.strip().splitlines()
    losses = [float(line.split()[-1]) for line in lines if line.startswith("epoch")]
    assert len(losses) == 30 and losses[-1] < losses[0] / 4
    acc = float(lines[-1].split()[2])
    assert acc >= 0.95, out
