"""The α-β model of communication on this machine, fitted from MPI measurements.

    python -m bench.alpha_beta [--quick]        # starts the MPI jobs itself (loom launch)

A message of m bytes takes α + β·m (α: latency per message, β: seconds per byte). A collective
on a group of n devices is a sequence of such steps; with the ring algorithms that
`loom explain` assumes (compiler/explain.py, SEND_BYTES), each device takes
    all_reduce   2(n−1) steps, sends 2(n−1)/n·S bytes      all_gather  (n−1) steps, (n−1)·S bytes
(S: the operand's bytes on one device). Two fits:
1. point to point: ping-pong between 2 ranks (mpi4py `Send`/`Recv`), half the round trip,
   T(m) = α + β·m;
2. collectives: mpi4py `Allreduce` and `Allgather` on 2 and 4 ranks, all sizes at once,
   T = steps·α + bytes·β — the constants for `cost_model.py`, which estimates collectives.
Each point is the median over repeats of the slowest rank's time. The fit minimises relative
error (so the small sizes, which set α, count as much as the large ones, which set β) with
α, β ≥ 0. Numbers depend on the load: N ranks on fewer cores share them (4 ranks on this
2-core machine time-slice, which inflates α).
"""

from __future__ import annotations

import argparse
import json
import sys
import time

import numpy as np
from scipy.optimize import nnls

from bench.collectives import launch, median_time

QUICK_SIZES = [8, 1 << 10, 1 << 14, 1 << 18, 1 << 20]
FULL_SIZES = [8] + [1 << k for k in range(8, 25, 2)]
STEPS = {"allreduce": lambda n: 2 * (n - 1), "allgather": lambda n: n - 1, "p2p": lambda n: 1}
SENT = {"allreduce": lambda s, n: 2 * (n - 1) * s / n, "allgather": lambda s, n: (n - 1) * s, "p2p": lambda s, n: s}


def _repeats(nbytes: int, quick: bool) -> int:
    return 5 if nbytes >= 1 << 22 else (15 if quick else 40)


def job(kind: str, quick: bool) -> None:
    """One rank's part: time `kind` at every size; rank 0 prints one JSON line per size."""
    from runtime import mpi

    world = mpi.comm()
    n = world.size
    for s in (QUICK_SIZES if quick else FULL_SIZES):
        x = np.ones(max(1, s // 4), np.float32)
        if kind == "p2p":
            buf = np.empty_like(x)
            first = world.rank == 0

            def fn(x=x, buf=buf, peer=1 - world.rank, first=first):
                if first:
                    world.Send(x, dest=peer)
                    world.Recv(buf, source=peer)
                else:
                    world.Recv(buf, source=peer)
                    world.Send(x, dest=peer)
            t = median_time(fn, _repeats(s, quick)) / 2  # one way
        elif kind == "allreduce":
            out = np.empty_like(x)
            t = median_time(lambda x=x, out=out: world.Allreduce(x, out), _repeats(s, quick))
        else:
            out = np.empty(x.size * n, np.float32)
            t = median_time(lambda x=x, out=out: world.Allgather(x, out), _repeats(s, quick))
        if world.rank == 0:
            print(json.dumps({"kind": kind, "n": n, "bytes": x.nbytes, "seconds": t}), flush=True)


def measure(kind: str, n: int, quick: bool) -> list[dict]:
    out = launch(n, kind, quick, module="bench.alpha_beta", echo=False)
    return [json.loads(line) for line in out.splitlines() if line.startswith("{")]


def fit(points: list[dict]) -> tuple[float, float, float]:
    """(α, β, the largest relative error) of T = steps·α + bytes·β over the points."""
    a = np.array([[STEPS[p["kind"]](p["n"]), SENT[p["kind"]](p["bytes"], p["n"])] for p in points])
    t = np.array([p["seconds"] for p in points])
    (alpha, beta), _ = nnls(a / t[:, None], np.ones(len(t)))
    err = np.abs(a @ [alpha, beta] - t) / t
    return float(alpha), float(beta), float(err.max())


def report(title: str, points: list[dict]) -> tuple[float, float]:
    alpha, beta = fit(points)[:2]
    print(title)
    print(f"{'kind':>10} {'n':>2} {'bytes':>10} {'measured us':>12} {'fit us':>10}")
    for p in points:
        model = STEPS[p["kind"]](p["n"]) * alpha + SENT[p["kind"]](p["bytes"], p["n"]) * beta
        print(f"{p['kind']:>10} {p['n']:>2} {p['bytes']:>10} {p['seconds'] * 1e6:>12.1f} {model * 1e6:>10.1f}")
    print(f"fit: ALPHA = {alpha:.3e} s ({alpha * 1e6:.1f} us), BETA = {beta:.3e} s/B "
          f"({1 / beta / 1e9 if beta else float('inf'):.2f} GB/s)\n", flush=True)
    return alpha, beta


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="5 sizes up to 1 MiB, few repeats")
    ap.add_argument("--job", choices=sorted(STEPS), help=argparse.SUPPRESS)  # one rank's part
    args = ap.parse_args(argv)
    if args.job:
        job(args.job, args.quick)
        return 0
    import os

    print(f"(load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores; {time.strftime('%Y-%m-%d %H:%M')})\n")
    report("point to point (ping-pong, 2 ranks): T = α + β·m", measure("p2p", 2, args.quick))
    coll = [p for kind in ("allreduce", "allgather") for n in (2, 4) for p in measure(kind, n, args.quick)]
    alpha, beta = report("collectives (ring model: T = steps·α + bytes sent·β)", coll)
    print(f"for compiler/passes/sharding/cost_model.py:\nALPHA = {alpha:.3e}  # s per message step\n"
          f"BETA = {beta:.3e}  # s per byte sent")
    return 0


if __name__ == "__main__":
    sys.exit(main())
