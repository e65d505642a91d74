"""Communication of partitioned training steps: the compiler's against the textbook's, and DP weak scaling.

    python -m bench.comm_volume [--quick] [--only volume|scaling]

1. volume: the bytes each device sends per training step, read from the partitioned IR (stage
   `spmd`, summed by `loom explain`'s byte formulas, compiler/explain.py) against the analytic
   volume of the parallelism the types ask for:
   - data parallel (examples/train_mlp_dp.loom, batch over `dp`): the gradients are all-reduced,
     ring all-reduce sends 2·(n−1)/n·|params| (plus the loss, one f32, likewise);
   - tensor parallel (examples/megatron_mlp.loom, Megatron column-then-row split over `tp`): the
     forward's logits, a partial sum over `tp`, are all-reduced: 2·(n−1)/n·B·C activations (the
     weights' gradients stay split; the input is data, so the backward needs no all-reduce of it);
   - both (examples/hybrid_dp_tp.loom, dp=2 × tp=2): each device's parameters over `dp`, its
     rows' logits over `tp`.
   The all_gathers that assemble split results at the return are shown apart: a global-view
   function returns replicated values, so a step that returns split weights gathers them.
2. scaling: data-parallel weak scaling of the global-view training step of (1) at 1, 2 and 4
   MPI ranks (mesh `dp` = the ranks, a constant batch per rank: 256 rows of the MLP of (1), 16 rows
   of a 64-64-10 MLP with --quick): the partitioned step compiled by
   Loom, median of the slowest rank, against the one-device step (unpartitioned, native) on one
   rank; efficiency t1/tN by median wall time, median CPU time and fastest wall time (each run at
   its slowest rank: on a loaded machine, or with more ranks than cores, the wall time also counts
   the time a rank waits for a core).
"""

from __future__ import annotations

import argparse
import os
import re
import sys

import numpy as np

from bench.collectives import launch, median_times

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
C = 10  # classes (the examples' constant)
F32 = 4


def example(name: str, mesh: str | None = None) -> str:
    """An example's source, optionally with another mesh (`dp=2`)."""
    with open(os.path.join(ROOT, "examples", f"{name}.loom")) as f:
        text = f.read()
    return text if mesh is None else re.sub(r"^mesh M = \(.*\)$", f"mesh M = ({mesh})", text, count=1, flags=re.MULTILINE)


def lowered_step(source: str, name: str, b: int, d: int, h: int):
    from compiler import driver
    from compiler.cli import specialize

    program = driver.check_source(source, name)
    return driver.Lowered(program, specialize(program, "train_step", [f"B={b}", f"D={d}", f"H={h}"]))


def step_bytes(source: str, name: str, b: int, d: int, h: int) -> tuple[int, int, str]:
    """From the partitioned IR, per device and step: (bytes sent inside the step, bytes sent
    assembling split results at the return, the kinds)."""
    from compiler import explain

    rows, _ = explain.collectives(lowered_step(source, name, b, d, h).stage("spmd"))
    kinds, sent, _ = explain.totals(rows)
    boundary = sum(r.bytes * r.count for r in rows if r.kind == "all_gather" and r.reason.startswith("func.return"))
    return sent - boundary, boundary, ", ".join(f"{k} x{v}" for k, v in sorted(kinds.items()))


def ring(n: int, elements: float) -> float:
    """Bytes each device sends in a ring all-reduce of `elements` f32."""
    return 2 * (n - 1) / n * elements * F32


def volume(quick: bool) -> None:
    b, d, h = (64, 64, 64) if quick else (256, 784, 512)
    params = d * h + h + h * C + C
    print(f"bytes each device sends per training step (B={b}, D={d}, H={h}, C={C}; |params| = {params:,})")
    print(f"{'':22} {'mesh':>10} {'in the step':>12} {'analytic':>10} {'ratio':>6} {'+ results':>10}  collectives")
    cases = []
    for n in (2, 4):  # DP: the gradients and the loss
        cases.append(("DP", "train_mlp_dp", f"dp={n}", ring(n, params + 1)))
    for n in (2, 4):  # Megatron: the logits (the split weights' gradients stay split)
        cases.append(("TP Megatron", "megatron_mlp", f"tp={n}", ring(n, b * C)))
    # both: the gradients of each device's parameters over dp, its rows' logits over tp
    local = d * h // 2 + h // 2 + h // 2 * C + C
    cases.append(("DP x TP", "hybrid_dp_tp", "dp=2, tp=2", ring(2, local + 1) + ring(2, b // 2 * C)))
    for label, name, mesh, want in cases:
        got, boundary, kinds = step_bytes(example(name, mesh), f"{name}.loom", b, d, h)
        print(f"{label:22} {mesh:>10} {got:>12,} {want:>10,.0f} {got / want:>6.3f} {boundary:>10,}  {kinds}")
    print("analytic (ring all-reduce of f32, 2(n-1)/n * 4 B each): DP |params| + 1 (the loss) over dp; TP B*C\n"
          "(the logits) over tp; DP x TP the per-device |params| + 1 over dp and (B/2)*C over tp.\n"
          "`+ results`: the all_gathers that assemble split results at the return (a global-view function\n"
          "returns replicated values, docs/language.md §11): boundary, not part of the textbook step.\n", flush=True)


def job_scaling(quick: bool) -> None:
    """One rank's part: the partitioned DP step on a mesh of all the ranks."""
    from compiler import driver
    from runtime import mpi

    world = mpi.comm()
    n = world.size
    per_rank, d, h = (16, 64, 64) if quick else (256, 784, 512)  # full: the MLP of `volume`, per rank
    b = per_rank * n
    lowered = lowered_step(example("train_mlp_dp", f"dp={n}"), "train_mlp_dp.loom", b, d, h)
    # one rank: the one-device program (native code, unpartitioned) is the baseline
    step = lowered.prepared(driver.executor("mpi", pipeline="loom-opt") if n > 1 else
                            driver.executor("native", pipeline="loom-opt"))
    rng = np.random.default_rng(0)  # every rank passes the same global arrays (§9.5)
    params = [(rng.standard_normal((d, h)) * 0.1).astype(np.float32), np.zeros(h, np.float32),
              (rng.standard_normal((h, C)) * 0.1).astype(np.float32), np.zeros(C, np.float32)]
    x = rng.standard_normal((b, d)).astype(np.float32)
    labels = rng.integers(0, C, b).astype(np.int64)
    lr = np.float32(0.1)
    step(params + [x, labels, lr])  # compiles
    wall, cpu, best = median_times(lambda: step(params + [x, labels, lr]), 10 if quick else 30)
    if world.rank == 0:
        how = "partitioned" if n > 1 else "one device, unpartitioned"
        print(f"DP step (global view, {how}), {n} rank(s), batch {per_rank} per rank: "
              f"{wall * 1e3:.3f} ms wall, {cpu * 1e3:.3f} ms CPU, fastest {best * 1e3:.3f} ms wall", flush=True)


def scaling(quick: bool) -> None:
    times = {}
    for n in (1, 2, 4):
        out = launch(n, "scaling", quick, module="bench.comm_volume")
        m = re.search(r": ([\d.]+) ms wall, ([\d.]+) ms CPU, fastest ([\d.]+) ms", out.strip().splitlines()[-1])
        times[n] = [float(t) for t in m.groups()]
    for n in (2, 4):
        e = [a / b for a, b in zip(times[1], times[n])]
        print(f"weak-scaling efficiency t1/t{n} = {e[0]:.3f} (median wall), {e[1]:.3f} (median CPU), "
              f"{e[2]:.3f} (fastest wall)")


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
