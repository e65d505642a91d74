"""Train the MLP of examples/train_mlp.loom on scikit-learn's digits (8x8 images, 10 classes).

    pip install -e ".[examples]"     # scikit-learn (its digits data set ships inside the package)
    python examples/train_mlp.py [--epochs 30] [--eager]

Each step is one call of the compiled `train_step` (forward pass, reverse-mode gradient through
`value_and_grad`, SGD update on the struct of parameters), with NumPy arrays in and out.
"""

from __future__ import annotations

import argparse
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import compiler  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))


def load_digits():
    try:
        from sklearn.datasets import load_digits as digits
    except ImportError:
        sys.exit("this example needs scikit-learn: pip install -e \".[examples]\"")
    d = digits()
    x = (d.data / 16.0).astype(np.float32)  # pixel values 0..16 -> [0, 1]
    y = d.target.astype(np.int64)
    rng = np.random.default_rng(0)
    order = rng.permutation(len(x))
    x, y = x[order], y[order]
    n_test = len(x) // 5
    return (x[n_test:], y[n_test:]), (x[:n_test], y[:n_test])


def parse_args(description: str):
    ap = argparse.ArgumentParser(description=description)
    ap.add_argument("--epochs", type=int, default=30)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--hidden", type=int, default=64)
    ap.add_argument("--lr", type=float, default=0.1)
    ap.add_argument("--eager", action="store_true", help="run on the reference executor (slow)")
    ap.add_argument("--devices", type=int, metavar="N",
                    help="run on the N devices of the program's mesh, global-view functions partitioned: the "
                         "ranks of `loom launch -n N`, else simulated in this process (slow)")
    return ap.parse_args()


def train(loom_file: str, args) -> float:
    """Train the MLP of `loom_file` (its init, train_step and accuracy); returns the test accuracy."""
    (xtr, ytr), (xte, yte) = load_digits()
    prog = compiler.load(os.path.join(HERE, loom_file), mode="eager" if args.eager else "jit", devices=args.devices)
    params = prog.init(0, np.zeros(xtr.shape[1], np.float32), np.zeros(args.hidden, np.float32))
    lr = np.float32(args.lr)
    n = len(xtr) // args.batch * args.batch  # whole batches: one compiled specialization
    t0 = time.perf_counter()
    for epoch in range(args.epochs):
        order = np.random.default_rng(epoch).permutation(len(xtr))[:n]
        losses = []
        for k in range(0, n, args.batch):
            idx = order[k:k + args.batch]
            loss, params = prog.train_step(params, xtr[idx], ytr[idx], lr)
            losses.append(float(loss))
        if compiler.rank() == 0:
            print(f"epoch {epoch + 1:2d}  loss {np.mean(losses):.4f}", flush=True)
    acc = float(prog.accuracy(params, xte, yte))
    if compiler.rank() == 0:  # one report from a job of N ranks
        print(f"test accuracy: {acc:.4f} ({len(xte)} images), training took {time.perf_counter() - t0:.1f} s")
    return acc


def main() -> float:
    return train("train_mlp.loom", parse_args(__doc__.splitlines()[0]))


if __name__ == "__main__":
    main()
