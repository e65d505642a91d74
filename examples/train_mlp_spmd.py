"""Data-parallel training of the MLP on scikit-learn's digits: examples/train_mlp_spmd.loom, whose
`train_step` is a per-device program over a mesh of 4 devices (each takes a quarter of every batch;
the gradients are averaged with `all_reduce`). Without `--devices`, the 4 devices are simulated in
this process (LANGUAGE.md §9.5). The schedule, data order and initialization are those of
examples/train_mlp.py, so the accuracy is the one-device run's (up to rounding).

    python examples/train_mlp_spmd.py [--epochs 30]
"""

from __future__ import annotations

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from train_mlp import parse_args, train  # noqa: E402


def main() -> float:
    return train("train_mlp_spmd.loom", parse_args(__doc__.splitlines()[0]))


if __name__ == "__main__":
    main()
