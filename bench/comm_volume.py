"""Communication of partitioned training steps: the compiler's against the textbook's, and DP weak scaling.

    python -m bench.comm_volume [--quick] [--only volume|scaling]

1. volume: the bytes each device sends per training step, read from the partitioned IR (stage
   `spmd`, summed by `loom explain`'s byte formulas, compiler/explain.py) against the analytic
   volume of the parallelism the types ask for:
   - data parallel (examples/train_mlp_dp.loom, batch over `dp`): the gradients are all-reduced,
     ring all-reduce sends 2·(n−1)/n·|params| (plus the loss, one f32, likewise);
   - tensor parallel (examples/megatron_mlp.loom, Megatron column-then-row split over `tp`): the
     forward's logits, a partial sum over `tp`, are all-reduced: 2·(n−1)/n·B·C activations (the
     weights' gradients stay split; the input is data, so the backward needs no all-reduce of it).
2. scaling: data-parallel weak scaling of the global-view training step of (1) at 1, 2 and 4
   MPI ranks (mesh `dp` = the ranks, a constant batch per rank): the partitioned step compiled by
   Loom, median of the slowest rank; efficiency t1/tN. N ranks on fewer cores share them.
"""

from __future__ import annotations

import argparse
import os
import re
import sys

import numpy as np

from bench.collectives import launch, median_time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
C = 10  # classes (the examples' constant)
F32 = 4


def example(name: str, mesh: str | None = None) -> str:
    """An example's source, optionally with another mesh (`dp=2`)."""
    with open(os.path.join(ROOT, "examples", f"{name}.loom")) as f:
        text = f.read()
    return text if mesh is None else re.sub(r"^mesh M = \(.*\)$", f"mesh M = ({mesh})", text, count=1, flags=re.M)


def lowered_step(source: str, name: str, b: int, d: int, h: int):
    from compiler import driver
    from compiler.cli import specialize

    program = driver.check_source(source, name)
    return driver.Lowered(program, specialize(program, "train_step", [f"B={b}", f"D={d}", f"H={h}"]))


def step_bytes(source: str, name: str, b: int, d: int, h: int) -> tuple[int, str]:
    """(bytes each device sends per step, the kinds) from the partitioned IR."""
    from compiler import explain

    rows, _ = explain.collectives(lowered_step(source, name, b, d, h).stage("spmd"))
    kinds, sent, _ = explain.totals(rows)
    return sent, ", ".join(f"{k} x{v}" for k, v in sorted(kinds.items()))


def ring(n: int, elements: int) -> float:
    """Bytes each device sends in a ring all-reduce of `elements` f32."""
    return 2 * (n - 1) / n * elements * F32


def volume(quick: bool) -> None:
    b, d, h = (64, 64, 64) if quick else (256, 784, 512)
    params = d * h + h + h * C + C
    print(f"bytes each device sends per training step (B={b}, D={d}, H={h}, C={C}; |params| = {params:,})")
    print(f"{'':22} {'n':>2} {'partitioned IR':>15} {'analytic':>12} {'ratio':>6}  collectives")
    for n in (2, 4):
        got, kinds = step_bytes(example("train_mlp_dp", f"dp={n}"), "train_mlp_dp.loom", b, d, h)
        want = ring(n, params + 1)  # the gradients and the loss
        print(f"{'DP (grads + loss)':22} {n:>2} {got:>15,} {want:>12,.0f} {got / want:>6.3f}  {kinds}")
    for n in (2, 4):
        got, kinds = step_bytes(example("megatron_mlp", f"tp={n}"), "megatron_mlp.loom", b, d, h)
        want = ring(n, b * C)  # the logits
        print(f"{'TP Megatron (logits)':22} {n:>2} {got:>15,} {want:>12,.0f} {got / want:>6.3f}  {kinds}")
    print("analytic: DP 2(n-1)/n * 4 * (|params| + 1); TP 2(n-1)/n * 4 * B * C\n", flush=True)


def job_scaling(quick: bool) -> None:
    """One rank's part: the partitioned DP step on a mesh of all the ranks."""
    from compiler import driver
    from runtime import mpi

    world = mpi.comm()
    n = world.size
    per_rank, d, h = (16 if quick else 64), 64, (64 if quick else 256)
    b = per_rank * n
    lowered = lowered_step(example("train_mlp_dp", f"dp={n}"), "train_mlp_dp.loom", b, d, h)
    step = lowered.prepared(driver.executor("mpi", pipeline="loom-opt"))
    rng = np.random.default_rng(0)  # every rank passes the same global arrays (§9.5)
    params = [(rng.standard_normal((d, h)) * 0.1).astype(np.float32), np.zeros(h, np.float32),
              (rng.standard_normal((h, C)) * 0.1).astype(np.float32), np.zeros(C, np.float32)]
    x = rng.standard_normal((b, d)).astype(np.float32)
    labels = rng.integers(0, C, b).astype(np.int64)
    lr = np.float32(0.1)
    step(params + [x, labels, lr])  # compiles
    t = median_time(lambda: step(params + [x, labels, lr]), 10 if quick else 30)
    if world.rank == 0:
        print(f"DP step (global view, partitioned), {n} rank(s), batch {per_rank} per rank: {t * 1e3:.2f} ms", flush=True)


def scaling(quick: bool) -> None:
    times = {}
    for n in (1, 2, 4):
        out = launch(n, "scaling", quick, module="bench.comm_volume")
        times[n] = float(out.strip().splitlines()[-1].split(":")[-1].split()[0])
    for n in (2, 4):
        print(f"weak-scaling efficiency t1/t{n} = {times[1] / times[n]:.2f}")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="small sizes and few repeats")
    ap.add_argument("--only", choices=["volume", "scaling"], help="run one of the two")
    ap.add_argument("--job", choices=["scaling"], help=argparse.SUPPRESS)  # one rank's part
    args = ap.parse_args(argv)
    if args.job:
        job_scaling(args.quick)
        return 0
    print("(machine load matters: load average", f"{os.getloadavg()[0]:.1f} on {os.cpu_count()} cores)\n")
    if args.only in (None, "volume"):
        volume(args.quick)
    if args.only in (None, "scaling"):
        scaling(args.quick)
    return 0


if __name__ == "__main__":
    sys.exit(main())
