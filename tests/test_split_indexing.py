"""Indexing along a split dimension without gathering it (`shard-partition` with
compiler/passes/sharding/split_indexing.py): static slices by halo exchange (`shard.shift`),
indices by one all_reduce of the result, updates at an index without communication and over a
range by a halo exchange of the value. Partitioned equals unpartitioned on 1, 2 and 4 simulated
devices (and compiled over MPI, slow), the collectives are the ones the cost model prefers, and the
fallbacks (a halo wider than a block, a step, an uneven length, a dimension split over two axes)
still gather and stay correct. The golden IR is tests/filecheck/shard_partition_{halo,dynamic_index}.mlir."""

from __future__ import annotations

import os
import re
import subprocess
import sys

import numpy as np
import pytest

import compiler
from compiler.diagnostics import LoomRuntimeError
from compiler.passes.sharding.split_indexing import halo
from dialects import loom

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
R = np.random.default_rng(11)

# case → (program with `P` for the number of devices of dp, its arguments)
X16 = R.standard_normal(16).astype(np.float32)
X2D = R.standard_normal((16, 8)).astype(np.float32)
BIG = R.standard_normal(16384).astype(np.float32)  # blocks big enough that a pick beats a gather
CASES = {
    "halo_left": ("def f(x: f32[16@dp]) -> f32[12@dp]:\n    return x[0:12] * 2.0\n", [X16]),
    "halo_right": ("def f(x: f32[16@dp]) -> f32[12@dp]:\n    return x[4:16] * 2.0\n", [X16]),
    "halo_both": ("def f(x: f32[16@dp]) -> f32[12@dp]:\n    return x[2:14] * 2.0\n", [X16]),
    "negative_bounds": ("def f(x: f32[16@dp]) -> f32[8@dp]:\n    return x[-12:-4] + 1.0\n", [X16]),
    "no_halo": ("def f(x: f32[8@dp]) -> f32[6]:\n    return x[1:7]\n", [X16[:8]]),
    "stencil": ("def f(u: f32[20@dp]) -> f32[16@dp]:\n    return u[1:17] - 2.0 * u[2:18] + u[3:19]\n", [X16[:4].repeat(5)]),
    "second_dim": ("def f(x: f32[8, 16@dp]) -> f32[8, 12@dp]:\n    return x[:, 2:14] * x[:, 0:12]\n", [X2D.T.copy()]),
    "two_subscripts": ("def f(x: f32[16@dp, 8]) -> f32[12@dp, 2]:\n    return x[2:14, 1:3]\n", [X2D]),
    "wider_than_a_block": ("def f(x: f32[16@dp]) -> f32[4]:\n    return x[0:4] * 2.0\n", [X16]),
    "step": ("def f(x: f32[16@dp]) -> f32[8]:\n    return x[0:16:2]\n", [X16]),
    "uneven": ("def f(x: f32[16@dp]) -> f32[15]:\n    return x[1:16]\n", [X16]),
    "pick": ("def f(x: f32[16384@dp], i: i64) -> (f32, f32, f32):\n    return x[i], x[-3], x[9000]\n",
             [BIG, np.int64(4097)]),
    "pick_row": ("def f(x: f32[4096@dp, 4], i: i64) -> (f32[4], f32):\n    return x[i], x[i, 3]\n",
                 [BIG.reshape(4096, 4), np.int64(-1)]),
    "pick_int": ("def f(x: i32[16384@dp], i: i64) -> i32:\n    return x[i]\n",
                 [np.arange(16384, dtype=np.int32) * 3 - 7, np.int64(12345)]),
    "update_index": ("def f(x: f32[16@dp], i: i64) -> f32[16]:\n    y = x\n    y[i] = 7.0\n    y[-1] = 1.0\n    return y\n",
                     [X16, np.int64(6)]),
    "update_range": ("def f(x: f32[16@dp], v: f32[8@dp]) -> f32[16]:\n    y = x\n    y[4:12] = v\n    return y\n",
                     [X16, X16[:8] + 10.0]),
    "update_range_left": ("def f(x: f32[16@dp], v: f32[12@dp]) -> f32[16]:\n    y = x\n    y[0:12] = v * 2.0\n    return y\n",
                          [X16, X16[:12] - 3.0]),
}


def source(case: str, mesh: str = "(dp=P)", devices: int = 4) -> str:
    return f"mesh M = {mesh.replace('P', str(devices))}\n\n" + CASES[case][0]


def run(src: str, args, devices=None):
    out = compiler.loads(src, "g.loom", mode="eager", devices=devices).f(*args)
    return out if isinstance(out, tuple) else (out,)


def check(src: str, args, devices: int) -> None:
    want, got = run(src, args), run(src, args, devices)
    assert len(got) == len(want)
    for g, w in zip(got, want):
        np.testing.assert_array_equal(np.asarray(g), np.asarray(w))


@pytest.mark.parametrize("devices", [1, 2, 4])
@pytest.mark.parametrize("case", list(CASES))
def test_partitioned_equals_unpartitioned(case, devices):
    """Exactly equal: each element is copied, never recomputed (the simulator gives a device without
    a neighbour a NaN halo, so a halo read where none was sent would show)."""
    check(source(case, devices=devices), CASES[case][1], devices)


def kinds(case: str, devices: int = 4, mesh: str = "(dp=P)") -> list[str]:
    """The collectives of the per-device program, less the all_gathers assembling the results."""
    fn = compiler.loads(source(case, mesh, devices), "g.loom", mode="eager", devices=None).f
    module = fn.lower(*CASES[case][1]).stage("spmd")
    return [op.name.removeprefix("shard.") for op in module.walk()
            if op.name.startswith("shard.") and op.name not in ("shard.grid", "shard.all_slice",
                                                                  "shard.process_multi_index")
            and not op.attributes["loom.reason"].data.startswith(("func.return", "result annotation"))]


@pytest.mark.parametrize("case, devices, expected", [
    ("halo_left", 4, ["shift"]),          # s_j = −j: the left neighbour's last 3
    ("halo_right", 4, ["shift"]),         # s_j = 4 − j: the right neighbour's first 3
    ("halo_both", 4, ["shift", "shift"]),
    ("halo_both", 2, []),                 # s_j = 2, 0: inside the block, no communication
    ("no_halo", 2, []),
    ("second_dim", 4, ["shift", "shift"]),  # x[:, 2:14] left 1 and right 1, x[:, 0:12] left 3: 3 and 1 sent
    ("two_subscripts", 4, ["shift", "shift"]),
    ("wider_than_a_block", 4, ["all_gather"]),  # device 3 would need 9 elements of a block of 4
    ("step", 4, ["all_gather"]),
    ("uneven", 4, ["all_gather"]),
    ("pick", 4, ["all_reduce", "all_reduce", "all_reduce"]),
    ("pick_row", 4, ["all_reduce", "all_reduce"]),
    ("update_index", 4, []),              # each device writes only where the index lies
    ("update_range", 4, ["shift", "shift"]),
    ("update_range_left", 4, ["shift"]),
])
def test_the_cheaper_collectives_are_chosen(case, devices, expected):
    assert kinds(case, devices) == expected


def test_a_stencil_on_a_split_array_only_shifts():
    """u[1:17] − 2·u[2:18] + u[3:19] over 4 devices: the widest halo on each side (2 points, for
    u[1:17] and u[3:19]) is exchanged once and u[2:18] cuts its 1 from each; no all_gather, and the
    result stays split."""
    assert kinds("stencil") == ["shift", "shift"]
    module = compiler.loads(source("stencil"), "g.loom", mode="eager").f.lower(*CASES["stencil"][1]).stage("spmd")
    widths = [(op.offset.value.data, op.input.type.get_shape()[0]) for op in module.walk() if op.name == "shard.shift"]
    assert widths == [(1, 2), (-1, 2)]  # (offset, elements sent)
    assert all(op.rotate is None for op in module.walk() if op.name == "shard.shift")


def test_a_small_operand_is_gathered_for_an_index_by_cost():
    """All_reduce costs 2(n−1)α, all_gather (n−1)(α + Bβ): for a 64-byte block the gather is cheaper,
    for a 16 KiB one (`pick`; α/β ≈ 11 KB) the all_reduce of the element."""
    src = "mesh M = (dp=4)\n\ndef f(x: f32[64@dp], i: i64) -> f32:\n    return x[i]\n"
    fn = compiler.loads(src, "g.loom", mode="eager", devices=None).f
    assert [op.name for op in fn.lower(BIG[:64], np.int64(3)).stage("spmd").walk()
            if op.name in ("shard.all_gather", "shard.all_reduce")] == ["shard.all_gather"]
    check(src, [BIG[:64], np.int64(-5)], 4)


def test_halos_on_both_sides_need_more_than_two_devices():
    """On 2 devices s_0 = a > M − m and s_1 = a + m − M < 0 cannot both hold: one side at most."""
    for a in range(5):
        h = halo(0, 0, 2, 16, (loom.KIND_RANGE, a, a + 12, 1))
        assert h is not None and not (h.left and h.right)


def test_a_dimension_split_over_two_axes_gathers():
    src = "mesh M = (dp=2, tp=2)\n\ndef f(x: f32[16@(dp, tp)]) -> f32[12@(dp, tp)]:\n    return x[2:14] * 2.0\n"
    module = compiler.loads(src, "g.loom", mode="eager").f.lower(X16).stage("spmd")
    assert [op.name for op in module.walk() if op.name in ("shard.shift", "shard.all_gather")][0] == "shard.all_gather"
    check(src, [X16], 4)


@pytest.mark.parametrize("i", [0, 4095, 4096, 8191, 8192, 12287, 12288, 16383, -1, -4096, -4097, -16384])
def test_a_run_time_index_inside_every_block_and_at_its_edges(i):
    check(source("pick"), [BIG, np.int64(i)], 4)


def test_a_picked_element_keeps_its_sign_nan_and_infinity():
    """The others contribute −0.0, the neutral element of IEEE addition: −0.0, NaN, ±inf and every
    other value come back exactly; a NaN elsewhere does not leak."""
    x = BIG.copy()
    x[[100, 5000, 9000, 16000, 12000]] = [-0.0, np.nan, np.inf, -np.inf, 0.0]
    for i in (100, 5000, 9000, 16000, 12000, 7):
        got = run(source("pick"), [x, np.int64(i)], devices=4)[0]
        want = run(source("pick"), [x, np.int64(i)])[0]
        assert np.array_equal(got, want, equal_nan=True) and np.signbit(got) == np.signbit(want)


@pytest.mark.parametrize("i", [16384, -16385, 2**40])
def test_an_index_out_of_range_is_the_same_error(i):
    with pytest.raises(LoomRuntimeError) as want:
        run(source("pick"), [BIG, np.int64(i)])
    with pytest.raises(LoomRuntimeError) as got:
        run(source("pick"), [BIG, np.int64(i)], devices=4)
    message = f"index {i} is out of range for axis 0 of size 16384"
    assert message in str(want.value) and message in str(got.value)
    assert "g.loom:4:12" in str(got.value)


@pytest.mark.parametrize("i", [0, 3, 4, 11, 15, -1, -16])
def test_an_update_at_a_run_time_index_writes_on_one_device(i):
    check(source("update_index"), [X16, np.int64(i)], 4)


def test_the_halo_rule():
    """hl/hr from s_j = a + j(m − M); None past one block, for a step or an uneven length."""
    rng = (loom.KIND_RANGE, 2, 14, 1)
    h = halo(0, 0, 4, 16, rng)
    assert (h.block, h.out, h.starts(), h.left, h.right) == (4, 3, [2, 1, 0, -1], 1, 1)
    assert halo(0, 0, 2, 16, rng).starts() == [2, 0] and (halo(0, 0, 2, 16, rng).left, halo(0, 0, 2, 16, rng).right) == (0, 0)
    assert halo(0, 0, 4, 16, (loom.KIND_RANGE, 0, 4, 1)) is None
    assert halo(0, 0, 4, 16, (loom.KIND_RANGE, 0, 16, 2)) is None
    assert halo(0, 0, 4, 16, (loom.KIND_RANGE, 1, 16, 1)) is None
    w = halo(0, 0, 4, 16, (loom.KIND_RANGE, 4, 12, 1), writes=True)  # value block 2 into blocks of 4
    assert (w.travels, w.window, w.left, w.right) == (2, 4, 2, 2)


def test_propagation_keeps_a_halo_slice_split():
    src = "mesh M = (dp=4)\n\ndef f(x: f32[16@dp]) -> f32[12]:\n    y = x[2:14]\n    return y * 2.0\n"
    module = compiler.loads(src, "g.loom", mode="eager").f.lower(X16).stage("spmd")
    (mul,) = [op for op in module.walk() if op.name == "loom.mul" and op.results[0].type != loom.i64]
    assert mul.results[0].type.get_shape() == (3,)  # computed on blocks; gathered once, at the return


# ------------------------------------------------------------------ over MPI
JOB = '''
import sys
import numpy as np
import compiler
from runtime import mpi
from tests.test_split_indexing import CASES, source

n = int(sys.argv[1])
for case, (_, args) in CASES.items():
    src = source(case, devices=n)
    want = compiler.loads(src, "g.loom", mode="eager").f(*args)
    prog = compiler.loads(src, "g.loom")
    assert type(prog.executor).__name__ == "MPIExecutor"
    got = prog.f(*args)
    got, want = (got, want) if isinstance(want, tuple) else ((got,), (want,))
    for g, w in zip(got, want):
        np.testing.assert_allclose(np.asarray(g), np.asarray(w), rtol=1e-6, atol=1e-6, err_msg=case)
    print(f"rank {mpi.rank()}: {case} ok", flush=True)
'''


@pytest.mark.slow
@pytest.mark.mpi
@pytest.mark.parametrize("n", [1, 2, 4])
def test_every_case_compiled_over_mpi_equals_unpartitioned(tmp_path, n):
    script = tmp_path / "job.py"
    script.write_text(JOB)
    p = subprocess.run([sys.executable, "-m", "compiler.cli", "launch", "-n", str(n), "python", str(script), str(n)],
                       cwd=ROOT, capture_output=True, text=True, timeout=900, check=False)
    assert p.returncode == 0, p.stdout + p.stderr
    done = re.findall(r"rank (\d+): (\w+) ok", p.stdout)
    assert sorted(done) == sorted((str(r), c) for r in range(n) for c in CASES), p.stdout
