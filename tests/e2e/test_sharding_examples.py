"""The global-view examples (examples/{train_mlp_dp,megatron_mlp,hybrid_dp_tp,reshard_walkthrough,
heat_equation_sharded}.loom)
partitioned: the same numbers with and without `--devices`, and the communication `loom explain`
reports for each (which collectives, over which mesh axes). tests/e2e/test_examples.py runs them
unpartitioned like every example."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import run_cli

from tests.e2e.test_examples import assert_same_printout

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = {  # example → (entry, its collectives as explain names them, in order of first use)
    "train_mlp_dp": ("main", {"all_reduce(sum) over dp"}),
    "megatron_mlp": ("main", {"all_reduce(sum) over tp"}),
    "hybrid_dp_tp": ("main", {"all_reduce(sum) over tp", "all_reduce(sum) over dp"}),
    "reshard_walkthrough": ("walk", {"all_to_all(axis 1 -> 0) over dp", "all_to_all(axis 0 -> 1) over dp",
                                     "all_gather(axis 0) over dp", "all_reduce(sum) over dp"}),
    "heat_equation_sharded": ("main", {"shift(offset 1) over dp", "shift(offset -1) over dp"}),
}
DEVICES = 4  # every one of them has a mesh of 4 devices


def path(name: str) -> str:
    return str(ROOT / "examples" / f"{name}.loom")


_UNPARTITIONED: dict[str, str] = {}


def unpartitioned(name: str, capsys) -> str:
    if name not in _UNPARTITIONED:
        code, out, err = run_cli(capsys, "run", path(name), "--eager")
        assert code == 0, err
        _UNPARTITIONED[name] = out
    return _UNPARTITIONED[name]


@pytest.mark.parametrize("name", EXAMPLES)
def test_partitioned_on_simulated_devices_gives_the_same_numbers(name, capsys):
    """`--eager --devices 4`: the partitioned per-device programs, every device simulated."""
    code, out, err = run_cli(capsys, "run", path(name), "--eager", "--devices", str(DEVICES))
    assert code == 0, err
    assert_same_printout(out, unpartitioned(name, capsys))


# One MPI job of 4 ranks runs `loom run EXAMPLE --devices 4` for every example in turn, as each rank of
# `loom run --devices 4` does (its launcher re-executes it as the ranks of such a job; that step and
# its checks are tested in tests/test_global_view_runs.py, tests/test_mpi_faults.py and
# tests/test_mpi_api.py): one MPI start-up instead of one per example. Rank 0 prints each example's
# printout, delimited, for the test to compare one by one.
MPI_JOB = """
import contextlib, io, sys
from compiler.cli import main
from runtime import mpi

for path in sys.argv[1:]:
    sys.stderr.write(f"running {path}\\n")  # the last one named ran when a rank ended the job
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        status = main(["run", path, "--devices", "4"])
    assert status == 0, (path, status)
    if mpi.rank() == 0:
        print(f"<<< {path}\\n{out.getvalue()}>>> {path}", flush=True)
"""


@pytest.mark.slow
@pytest.mark.mpi
def test_partitioned_on_mpi_gives_the_same_numbers(tmp_path, capsys):
    """`--devices 4`: compiled, on 4 MPI ranks; every example prints what it prints unpartitioned."""
    import re
    import subprocess
    import sys

    from conftest import END_TO_END_ENV

    script = tmp_path / "job.py"
    script.write_text(MPI_JOB)
    paths = [path(name) for name in EXAMPLES]
    p = subprocess.run([sys.executable, "-m", "compiler.cli", "launch", "-n", str(DEVICES), "python", str(script),
                        *paths], cwd=ROOT, capture_output=True, text=True, timeout=1800, check=False,
                       env=END_TO_END_ENV)
    assert p.returncode == 0, p.stdout + p.stderr
    printed = {m.group(1): m.group(2) for m in re.finditer(r"^<<< (.*?)\n(.*?)^>>> \1$", p.stdout, re.S | re.M)}
    failures = []
    for name in EXAMPLES:
        try:
            assert path(name) in printed, f"no printout in the job's output:\n{p.stdout}"
            assert_same_printout(printed[path(name)], unpartitioned(name, capsys))
        except AssertionError as e:
            failures.append(f"{name}: {e}")
    assert not failures, "\n\n".join(failures)


@pytest.mark.parametrize("name", EXAMPLES)
def test_explain_names_the_expected_collectives(name, capsys):
    entry, expected = EXAMPLES[name]
    code, out, err = run_cli(capsys, "explain", path(name), "--entry", entry)
    assert code == 0, err
    rows = [line for line in out.splitlines() if line.startswith(path(name))]
    assert rows, out
    kinds = {label for label in expected if any(label in row for row in rows)}
    assert kinds == expected, out
    assert all("written in the program" not in row for row in rows), "a global-view program writes no collective"


def step_collectives(name: str, entry: str = "train_step", shapes=("B=16", "D=8", "H=32")):
    from compiler import driver, explain
    from compiler.cli import specialize

    program = driver.check_file(path(name))
    lowered = driver.Lowered(program, specialize(program, entry, list(shapes)))
    return explain.collectives(lowered.stage("spmd"))[0]


def test_data_parallel_step_sends_the_ring_all_reduce_of_the_gradients():
    """2(n-1)/n · 4 B · (|params| + the loss), n = 4: the textbook data-parallel volume."""
    from compiler import explain

    rows = step_collectives("train_mlp_dp")
    params = 8 * 32 + 32 + 32 * 10 + 10
    assert {r.kind for r in rows} == {"all_reduce"}
    assert explain.totals(rows)[1] == 2 * 3 * 4 * (params + 1) // 4


def test_megatron_step_all_reduces_the_logits_once():
    """Column- then row-split: one all-reduce of the B×C logits over tp; the gradients of the split
    weights stay split (what else is sent assembles the split weights the step returns)."""
    rows = step_collectives("megatron_mlp")
    reduces = [r for r in rows if r.kind == "all_reduce"]
    assert len(reduces) == 1 and reduces[0].axes == ("tp",) and reduces[0].operand_bytes == 16 * 10 * 4
    assert all(r.kind == "all_gather" and r.reason.startswith("func.return") for r in rows if r not in reduces)


def test_heat_equation_time_loop_only_shifts():
    """Each of the 200 Euler steps reads the neighbours of a split array by halo exchange: one shift
    each way for the slices of u (2 points: u[1:N-3] and u[3:N-1]; u[2:N-2] cuts its 1 from them),
    one each way for the value the update writes; nothing gathered in the loop."""
    rows = step_collectives("heat_equation_sharded", "main", ())
    in_loop = [r for r in rows if r.count == 200]
    assert [r.kind for r in in_loop] == ["shift"] * 4
    assert all(r.operand_bytes <= 8 for r in in_loop)  # at most 2 f32 per halo
    assert all(r.count == 1 for r in rows if r not in in_loop)
