import os
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

# The tests verify the IR after every pass (off by default on the compile path, for speed), so a
# pass that breaks the IR is named; CLI subprocesses inherit it.
os.environ.setdefault("LOOM_VERIFY_EACH", "1")

# How a program is executed in the shared suites: the reference executor on the IR as generated
# ("none") and after the loom-level optimizer ("loom-opt"), and natively compiled ("jit"). Each
# case runs under all three and is compared with NumPy, so compiled results match the reference.
EXECUTIONS = ("none", "loom-opt", "jit")


def how(execution: str) -> dict:
    """`compiler.load(s)` keyword arguments for an execution name."""
    return {"mode": "jit"} if execution == "jit" else {"mode": "eager", "pipeline": execution}


@pytest.fixture(params=EXECUTIONS)
def pipeline(request) -> str:
    """Each execution of EXECUTIONS in turn (the builtin and operator suites; a module may
    parametrize `pipeline` itself instead)."""
    return request.param


def run_cli(capsys, *argv) -> tuple[int, str, str]:
    """`loom ARGV…` in this process: (exit status, stdout, stderr)."""
    from compiler.cli import main

    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config, items):
    """Tests marked `mpi` start MPI jobs of up to 4 processes: under pytest-xdist they form one group,
    so two jobs never run at once (the suite's command uses `--dist loadgroup`, pyproject.toml)."""
    for item in items:
        if item.get_closest_marker("mpi") and not item.get_closest_marker("xdist_group"):
            item.add_marker(pytest.mark.xdist_group("mpi"))
