"""Collectives over MPI: Loom's JIT'd all-reduce against mpi4py, and data-parallel weak scaling.

    python -m bench.collectives [--quick]        # starts the MPI jobs itself (loom launch)

1. all-reduce (sum, f32) of 1 KiB … 64 MiB on 2 ranks: a function compiled by Loom whose body is a
   `shard.all_reduce` (so: `convert-shard-to-mpi` → `MPI_Allreduce` from native code, plus the
   result buffer it allocates) against `mpi4py`'s `Allreduce` on the same buffers. Median latency
   and algorithmic bandwidth (bytes / time).
2. weak scaling of a data-parallel MLP training step (784-256-10, per-rank batch 64 (32 quick)) at 1, 2
   and 4 ranks: each rank computes the loss and gradients of its batch (Loom, `value_and_grad`),
   the gradients are summed with the JIT'd all-reduce, and SGD updates the replicated
   parameters. Efficiency = t1 / tN at constant per-rank batch.
Numbers depend on the machine's load and on its cores: N ranks on fewer than N cores share them.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

MLP = """
const C = 10
struct MLP:
    w1: f32[D, H]
    b1: f32[H]
    w2: f32[H, C]
    b2: f32[C]

def loss(p: MLP, x: f32[B, D], labels: i64[B]) -> f32:
    return cross_entropy(relu(x @ p.w1 + p.b1) @ p.w2 + p.b2, labels)

def grads(p: MLP, x: f32[B, D], labels: i64[B]) -> (f32, MLP):
    return value_and_grad(loss, wrt=p)(p, x, labels)
"""


def allreduce_function(n: int, mesh_size: int):
    """A compiled `f(x: f32[n]) -> f32[n]` that all-reduces over the job's ranks (rank 0 compiles)."""
    from xdsl.parser import Parser

    from compiler import driver
    from compiler.pipeline import make_context
    from runtime import mpi

    text = (f"shard.grid @M(shape = {mesh_size})\n"
            f"func.func @f(%x: tensor<{n}xf32>) -> tensor<{n}xf32> {{\n"
            f"  %r = shard.all_reduce %x on @M grid_axes = [0] reduction = sum : tensor<{n}xf32> -> tensor<{n}xf32>\n"
            f"  func.return %r : tensor<{n}xf32>\n}}\n")

    def build():
        module = Parser(make_context(), text).parse_module()
        sig = driver.signature(module, "f")
        driver.run_passes(module, driver.native_pipeline(module))
        return driver.Artifact(module, "f", sig).compiled()

    return mpi.compile_once(build)


def median_time(fn, repeats: int) -> float:
    """The median wall time of `fn`, each run timed at its slowest rank."""
    return median_times(fn, repeats)[0]


def median_times(fn, repeats: int) -> tuple[float, float, float]:
    """Median wall time, median CPU time (of this process) and the fastest wall time of `fn` over
    `repeats` runs, each run counted at its slowest rank: on a loaded machine the wall time also
    counts the time a rank waits for a core (the CPU time does not; the fastest run least)."""
    from runtime import mpi

    world = mpi.comm()
    ts = []
    for _ in range(repeats):
        world.Barrier()
        t0, c0 = time.perf_counter(), time.process_time()
        fn()
        ts.append((time.perf_counter() - t0, time.process_time() - c0))
    ts, slowest = np.array(ts), np.empty((len(ts), 2))
    world.Allreduce(ts, slowest, op=mpi._state["MPI"].MAX)
    wall, cpu = np.median(slowest, axis=0)
    return float(wall), float(cpu), float(slowest[:, 0].min())


def job_allreduce(quick: bool) -> None:
    from runtime import mpi

    world = mpi.comm()
    mpi.link_jit()
    mpi.install((world.size,))
    MPI = mpi._state["MPI"]
    sizes = [1 << 10, 1 << 16, 1 << 20] if quick else [1 << k for k in range(10, 27, 2)]  # bytes
    if world.rank == 0:
        print(f"all-reduce (sum, f32) on {world.size} ranks: median of the slowest rank")
        print(f"{'bytes':>10} {'loom us':>10} {'mpi4py us':>10} {'loom GB/s':>10} {'mpi4py GB/s':>11} {'ratio':>6}")
    for nbytes in sizes:
        n = nbytes // 4
        fn = allreduce_function(n, world.size)
        x = np.random.default_rng(world.rank).standard_normal(n).astype(np.float32)
        out = np.empty_like(x)
        got = fn([x])[0]
        world.Allreduce(x, out, op=MPI.SUM)
        np.testing.assert_allclose(got, out, rtol=1e-5, atol=1e-5)
        repeats = 5 if nbytes >= 1 << 24 else (20 if quick else 50)
        t_loom = median_time(lambda: fn([x]), repeats)
        t_mpi = median_time(lambda: world.Allreduce(x, out, op=MPI.SUM), repeats)
        if world.rank == 0:
            print(f"{nbytes:>10} {t_loom * 1e6:>10.1f} {t_mpi * 1e6:>10.1f} {nbytes / t_loom / 1e9:>10.3f} "
                  f"{nbytes / t_mpi / 1e9:>11.3f} {t_loom / t_mpi:>6.2f}", flush=True)


def job_mlp(quick: bool) -> None:
    import compiler
    from runtime import mpi

    world = mpi.comm()
    mpi.link_jit()
    mpi.install((world.size,))
    batch, d, h = (32 if quick else 64), 784, 256
    prog = compiler.loads(MLP)
    rng = np.random.default_rng(0)
    p = prog.MLP(w1=(rng.standard_normal((d, h)) * 0.05).astype(np.float32), b1=np.zeros(h, np.float32),
                 w2=(rng.standard_normal((h, 10)) * 0.05).astype(np.float32), b2=np.zeros(10, np.float32))
    local = np.random.default_rng(1 + world.rank)
    x = local.standard_normal((batch, d)).astype(np.float32)
    labels = local.integers(0, 10, batch).astype(np.int64)
    fields = p._fields
    total = sum(np.asarray(p[f]).size for f in fields)
    reduce = allreduce_function(total, world.size)

    def step():
        nonlocal p
        value, g = prog.grads(p, x, labels)
        flat = np.concatenate([np.asarray(g[f]).ravel() for f in fields])
        summed = reduce([flat])[0] / world.size
        k, new = 0, {}
        for f in fields:
            a = np.asarray(p[f])
            new[f] = a - 0.1 * summed[k:k + a.size].reshape(a.shape)
            k += a.size
        p = prog.MLP(**new)

    step()  # compiles
    t = median_time(step, 10 if quick else 30)
    if world.rank == 0:
        print(f"MLP step, {world.size} rank(s), batch {batch} per rank: {t * 1e3:.2f} ms", flush=True)


def launch(n: int, job: str, quick: bool, module: str = "bench.collectives", echo: bool = True) -> str:
    """Run `python -m MODULE --job JOB` on n ranks; its standard output (also printed when `echo`)."""
    args = [sys.executable, "-m", "compiler.cli", "launch", "-n", str(n), "python", "-m", module,
            "--job", job] + (["--quick"] if quick else [])
    p = subprocess.run(args, cwd=ROOT, capture_output=True, text=True)
    if p.returncode != 0:
        raise SystemExit(f"the {job} job on {n} ranks failed:\n{p.stderr}")
    if echo:
        sys.stdout.write(p.stdout)
    return p.stdout


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="small sizes and few repeats")
    ap.add_argument("--job", choices=["allreduce", "mlp"], help=argparse.SUPPRESS)  # one rank's part
    ap.add_argument("--only", choices=["allreduce", "mlp"], help="run one of the two benchmarks")
    args = ap.parse_args(argv)
    if args.job:
        (job_allreduce if args.job == "allreduce" else job_mlp)(args.quick)
        return 0
    print("(machine load matters: `uptime` now:", os.getloadavg(), "on", os.cpu_count(), "cores)")
    if args.only in (None, "allreduce"):
        launch(2, "allreduce", args.quick)
    if args.only in (None, "mlp"):
        times = {}
        for n in (1, 2, 4):
            out = launch(n, "mlp", args.quick)
            times[n] = float(out.split(":")[-1].split()[0])
        for n in (2, 4):
            print(f"weak-scaling efficiency t1/t{n} = {times[1] / times[n]:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
