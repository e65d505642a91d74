import os
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

# The tests verify the IR after every pass (off by default on the compile path, for speed), so a
# pass that breaks the IR is named; CLI subprocesses inherit it.
os.environ.setdefault("LOOM_VERIFY_EACH", "1")

# The environment of the MPI jobs that run whole programs end to end (examples, every op family):
# there the IR is verified once, after the last pass (LOOM_VERIFY=1), not after each (about an
# eighth of such a job's CPU time); the passes on these programs are verified one by one in the
# in-process tests (simulated devices, the filecheck corpus) and in the MPI collectives' and
# split-indexing jobs, which keep LOOM_VERIFY_EACH.
END_TO_END_ENV = dict(os.environ, LOOM_VERIFY_EACH="0", LOOM_VERIFY="1")

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


# ---------------------------------------------------------------- CPU time per test
# `--cpu-durations=N` lists the N tests that took the most CPU time (this process and the
# subprocesses it waited for — CLI runs, MPI jobs — in setup, call and teardown): on a loaded
# machine wall times (`--durations`) say more about the load than about the tests. Works under
# pytest-xdist (each worker measures its tests; the numbers travel in the reports).
def pytest_addoption(parser):
    parser.addoption("--cpu-durations", type=int, default=None, metavar="N",
                     help="show the N tests that used the most CPU time (0: all), with the suite's total")


def _cpu_now() -> float:
    import resource

    me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_setup(item):
    item._cpu_start = _cpu_now()
    yield


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_teardown(item):
    yield
    if item.config.getoption("cpu_durations") is not None and hasattr(item, "_cpu_start"):
        item.user_properties.append(("cpu_s", _cpu_now() - item._cpu_start))


def pytest_runtest_logreport(report):
    if report.when == "teardown":
        for key, value in report.user_properties:
            if key == "cpu_s":
                _CPU_TIMES[report.nodeid] = value


_CPU_TIMES: dict[str, float] = {}


def pytest_terminal_summary(terminalreporter, config):
    n = config.getoption("cpu_durations")
    if n is None or not _CPU_TIMES:
        return
    rows = sorted(_CPU_TIMES.items(), key=lambda kv: -kv[1])
    terminalreporter.write_sep("=", f"CPU time of {'all' if not n else f'the {n} costliest'} tests "
                                    f"(total {sum(_CPU_TIMES.values()):.1f} s over {len(rows)} tests)")
    for nodeid, seconds in rows[:n or None]:
        terminalreporter.write_line(f"{seconds:9.2f}s  {nodeid}")
