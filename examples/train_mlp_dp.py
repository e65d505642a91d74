"""Data-parallel training of the MLP on scikit-learn's digits, in the global view:
examples/train_mlp_dp.loom, whose `train_step` is the one-device step with the batch typed
`x: f32[B@dp, 64]` (split over the 4 devices of mesh axis `dp`) and the parameters replicated.
Run as it is, it computes exactly the one-device training of examples/train_mlp.py (the
annotations do not change what a program computes, LANGUAGE.md §9.2): same schedule, data order,
initialization, losses and accuracy. With `--devices 4` the step is partitioned and runs on the
4 devices of the mesh: `loom launch -n 4 python examples/train_mlp_dp.py --devices 4` on 4 MPI
ranks, `python examples/train_mlp_dp.py --devices 4` simulated in this process; `loom explain examples/train_mlp_dp.loom --entry train_step
--shape B=64 --shape D=64 --shape H=64` shows its communication (one all-reduce per gradient).

    python examples/train_mlp_dp.py [--epochs 30] [--devices 4]
"""

from __future__ import annotations

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from train_mlp import parse_args, train  # noqa: E402


def main() -> float:
    return train("train_mlp_dp.loom", parse_args(__doc__.splitlines()[0]))


if __name__ == "__main__":
    main()
