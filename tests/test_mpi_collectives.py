"""Every collective of §9.3 compiled to native code and run over MPI (`convert-shard-to-mpi`): on
1-D meshes of 2 and 4 devices and over each axis of a 2×2 mesh. Each mesh is one job (every
collective in one function, compiled once), started with `loom launch -n N python <this file>`;
every device's results are checked here against NumPy implementations of §9.3 written
independently of the compiler and of the simulator."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SHAPE = (8, 12)  # every device's block; both dims split into 2 or 4


# -------------------------------------------------------- the program: every collective over one axis
def cases(mesh: tuple[int, ...]) -> list[tuple[str, int, dict]]:
    """(collective, mesh axis, options) for every collective over every axis of `mesh`."""
    out = []
    for ax in range(len(mesh)):
        out += [("all_reduce", ax, {"op": op}) for op in ("sum", "max", "min")]
        out += [("all_gather", ax, {"axis": k}) for k in (0, 1)]
        out += [("reduce_scatter", ax, {"axis": k}) for k in (0, 1)]
        out += [("all_to_all", ax, {"split": s, "concat": c}) for s, c in ((0, 1), (1, 0), (1, 1))]
        out += [("broadcast", ax, {"root": mesh[ax] - 1}), ("shift", ax, {"offset": 1}),
                ("shift", ax, {"offset": -3}), ("all_slice", ax, {"axis": 1})]
    return out


def ttype(shape) -> str:
    return f"tensor<{'x'.join(map(str, shape))}xf32>"


def result_shape(kind: str, n: int, o: dict) -> tuple[int, ...]:
    s = list(SHAPE)
    if kind == "all_gather":
        s[o["axis"]] *= n
    elif kind in ("reduce_scatter", "all_slice"):
        s[o["axis"]] //= n
    elif kind == "all_to_all":
        s[o["split"]] //= n
        s[o["concat"]] *= n
    return tuple(s)


def op_text(kind: str, ax: int, n: int, o: dict) -> str:
    on = f"%x on @M grid_axes = [{ax}]"
    sig = f"{ttype(SHAPE)} -> {ttype(result_shape(kind, n, o))}"
    return {
        "all_reduce": lambda: f"shard.all_reduce {on} reduction = {o.get('op')} : {sig}",
        "all_gather": lambda: f"shard.all_gather {on} gather_axis = {o.get('axis')} : {sig}",
        "reduce_scatter": lambda: f"shard.reduce_scatter {on} scatter_axis = {o.get('axis')} : {sig}",
        "all_to_all": lambda: f"shard.all_to_all {on} split_axis = {o.get('split')} concat_axis = {o.get('concat')} : {sig}",
        "broadcast": lambda: f"shard.broadcast {on} root = [{o.get('root')}] : ({ttype(SHAPE)}) -> {ttype(SHAPE)}",
        "shift": lambda: f"shard.shift {on} shift_axis = {ax} offset = {o.get('offset')} rotate : {sig}",
        "all_slice": lambda: f"shard.all_slice {on} slice_axis = {o.get('axis')} : {sig}",
    }[kind]()


def program(mesh: tuple[int, ...]) -> str:
    cs = cases(mesh)
    types = [ttype(result_shape(k, mesh[ax], o)) for k, ax, o in cs] + ["i64"] * (len(mesh) + 1)
    lines = [f"shard.grid @M(shape = {'x'.join(map(str, mesh))})",
             f"func.func @f(%x: {ttype(SHAPE)}) -> ({', '.join(types)}) {{"]
    for i, (k, ax, o) in enumerate(cs):
        lines.append(f"  %r{i} = {op_text(k, ax, mesh[ax], o)}")
    idx = ", ".join(f"%p{a}" for a in range(len(mesh)))
    lines.append(f"  {idx} = shard.process_multi_index on @M axes = [{', '.join(map(str, range(len(mesh))))}] : "
                 + ", ".join(["index"] * len(mesh)))
    lines.append("  %lin = shard.process_linear_index on @M : index")
    names = [f"%r{i}" for i in range(len(cs))]
    for v in [f"%p{a}" for a in range(len(mesh))] + ["%lin"]:
        lines.append(f"  {v}_i = arith.index_cast {v} : index to i64")
        names.append(f"{v}_i")
    lines.append(f"  func.return {', '.join(names)} : {', '.join(types)}")
    lines.append("}")
    return "\n".join(lines)


def device_input(rank: int) -> np.ndarray:
    return np.random.default_rng(100 + rank).standard_normal(SHAPE).astype(np.float32)


# -------------------------------------------------------- NumPy meaning of §9.3 (per device)
def group(mesh, rank, ax) -> tuple[list[int], int]:
    """The ranks of `rank`'s group along mesh axis `ax`, and its index in it."""
    coords = list(np.unravel_index(rank, mesh))
    members = []
    for j in range(mesh[ax]):
        c = list(coords)
        c[ax] = j
        members.append(int(np.ravel_multi_index(c, mesh)))
    return members, int(coords[ax])


def expected(kind, ax, o, mesh, rank, xs):
    members, i = group(mesh, rank, ax)
    n = len(members)
    blocks = [xs[m] for m in members]
    if kind == "all_reduce":
        return {"sum": np.sum, "max": np.max, "min": np.min}[o["op"]](np.stack(blocks), axis=0)
    if kind == "all_gather":
        return np.concatenate(blocks, axis=o["axis"])
    if kind == "reduce_scatter":
        total = np.sum(np.stack(blocks).astype(np.float64), axis=0)
        part = total.shape[o["axis"]] // n
        return np.take(total, np.arange(i * part, (i + 1) * part), axis=o["axis"])
    if kind == "all_to_all":
        part = SHAPE[o["split"]] // n
        mine = [np.take(b, np.arange(i * part, (i + 1) * part), axis=o["split"]) for b in blocks]
        return np.concatenate(mine, axis=o["concat"])
    if kind == "broadcast":
        return blocks[o["root"]]
    if kind == "shift":
        return blocks[(i - o["offset"]) % n]
    if kind == "all_slice":
        part = SHAPE[o["axis"]] // n
        return np.take(xs[rank], np.arange(i * part, (i + 1) * part), axis=o["axis"])
    raise AssertionError(kind)


# -------------------------------------------------------- the job (each rank runs this)
def compile_program(text: str):
    from xdsl.parser import Parser

    from compiler import driver
    from compiler.pipeline import make_context

    module = Parser(make_context(), text).parse_module()
    sig = driver.signature(module, "f")
    driver.run_passes(module, driver.native_pipeline(module))
    return driver.Artifact(module, "f", sig).compiled()


def worker(out: str, mesh: tuple[int, ...]) -> None:
    from runtime import mpi

    world = mpi.comm()
    mpi.link_jit()
    mpi.install(mesh)
    fn = mpi.compile_once(lambda: compile_program(program(mesh)))
    with mpi.watchdog().section("@f"):
        results = fn([device_input(world.rank)])
    everyone = world.gather([np.asarray(r) for r in results], root=0)
    if world.rank == 0:
        np.savez(out, **{f"r{r}_{k}": v for r, rs in enumerate(everyone) for k, v in enumerate(rs)})


# -------------------------------------------------------- the tests
def launch(n: int, *args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", "import sys; from runtime.launch import launch; "
                           f"sys.exit(launch(sys.argv[1:], {n}))", *args],
                          cwd=ROOT, capture_output=True, text=True, timeout=300,
                          env=dict(os.environ, **(env or {})))


@pytest.mark.slow
@pytest.mark.mpi
@pytest.mark.parametrize("mesh", [(2,), (4,), (2, 2)], ids=["2", "4", "2x2"])
def test_collectives_over_mpi(tmp_path, mesh):
    out = str(tmp_path / "results.npz")
    p = launch(int(np.prod(mesh)), "python", __file__, out, *map(str, mesh))
    assert p.returncode == 0, p.stderr
    got = np.load(out)
    xs = [device_input(r) for r in range(int(np.prod(mesh)))]
    cs = cases(mesh)
    for rank in range(len(xs)):
        for k, (kind, ax, o) in enumerate(cs):
            np.testing.assert_allclose(got[f"r{rank}_{k}"], expected(kind, ax, o, mesh, rank, xs), rtol=1e-5,
                                       atol=1e-5, err_msg=f"{kind} over axis {ax} {o} on device {rank}")
        coords = np.unravel_index(rank, mesh)
        for a in range(len(mesh)):
            assert got[f"r{rank}_{len(cs) + a}"] == coords[a]
        assert got[f"r{rank}_{len(cs) + len(mesh)}"] == rank



def test_every_collective_has_an_mpi_lowering():
    """Every op of the shard/spmd dialects that Loom's front end or derivatives produce has its rule
    in convert-shard-to-mpi (the others are a clean error, not a crash)."""
    from xdsl.dialects import arith

    from compiler.passes.autodiff.collective_rules import JVP_COLLECTIVES, ZERO_COLLECTIVES
    from compiler.passes.mpi_collectives import RULES

    from dialects.spmd import ShardingConstraintOp

    # a sharding constraint never reaches this pass: shard-partition consumes it on devices, and
    # convert-loom-to-linalg drops it (an identity) in an unpartitioned compile
    produced = (set(JVP_COLLECTIVES) | set(ZERO_COLLECTIVES)) - {arith.IndexCastOp, ShardingConstraintOp}
    assert produced <= set(RULES), produced - set(RULES)


if __name__ == "__main__":
    worker(sys.argv[1], tuple(int(a) for a in sys.argv[2:]))
