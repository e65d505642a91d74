"""Starting MPI jobs with the `mpich` wheel's `mpiexec`, and supervising them.

- `launch(command, n)`: run `command` as `n` ranks (`loom launch -n N python train.py`); a Python
  script (or `python -m module`) runs under `python -m runtime.launch …`, whose `guard` ends the
  job when the script fails on any rank;
- `run_devices(argv, n)`: `loom run f.loom --devices N` re-executed as N ranks of `loom`;
- `is_rank()`: whether this process is already one of those ranks.

The launcher reads the job's output as it comes and passes it on, except the process manager's
reports and MPICH's abort banners, which it replaces by one line naming the rank(s) that ended the
job: a rank that failed printed its diagnostic as `rank K: …` and left a mark in the job's run
directory; a rank killed by a signal leaves none, and is found from the process manager's report
(`mpiexec.gforker` reports each rank's status; the others end by its SIGQUIT). A failed job exits
with status 1.
"""

from __future__ import annotations

import os
import re
import runpy
import signal
import subprocess
import sys
import tempfile
import threading

from runtime import mpi

CHILD_ENV = "LOOM_MPI_CHILD"  # set in the ranks of a job started here
_NOISE = re.compile(r"^(=+|=\s.*|YOUR APPLICATION TERMINATED.*|This typically refers to a problem.*|"
                    r"Please see the FAQ page.*|Abort\(\d+\) on node \d+.*|\s*)$")
_STATUS = re.compile(r"^\[\d+\](\d+):Return code = (-?\d+)(?:, signaled with (\w+))?")  # mpiexec.gforker
_CLEANUP = {"Quit", "Terminated"}


def mpiexec() -> str:
    """The wheel's `mpiexec.gforker`: a one-machine process manager that, unlike hydra, reports
    every rank's exit status and signal (hydra names a wrong process when one is killed)."""
    return mpi.wheel_file("bin/mpiexec.gforker")


def is_rank() -> bool:
    """Is this process a rank of a job started here (`loom run --devices N` re-executed)?"""
    return bool(os.environ.get(CHILD_ENV)) and mpi.in_job()


in_job = mpi.in_job


def _pump(src, dst, statuses: dict) -> None:
    """Copy a stream line by line; the process manager's own report lines are kept for the summary."""
    for raw in iter(src.readline, b""):
        line = raw.decode(errors="replace")
        m = _STATUS.match(line)
        if m:
            statuses[int(m.group(1))] = (int(m.group(2)), m.group(3))
            continue
        if line.strip() and _NOISE.match(line.rstrip("\n")):
            continue
        dst.write(line)
        dst.flush()


def _culprits(rundir: str, statuses: dict) -> list[str]:
    """Which ranks ended the job: those that reported a failure, else those that died on their own
    (not by the `SIGQUIT` the process manager sends the others to end the job)."""
    failed = sorted(int(n.split(".")[0]) for n in os.listdir(rundir) if n.endswith(".failed"))
    if failed:
        return [f"rank {r} failed (its diagnostic is above)" for r in failed]
    out = []
    for r, (code, sig) in sorted(statuses.items()):
        if sig and sig not in _CLEANUP:
            out.append(f"rank {r} was killed by a signal ({sig}) without a diagnostic")
        elif code:
            out.append(f"rank {r} exited with status {code} without a diagnostic")
    return out


START_ATTEMPTS = 3  # a job whose MPI start-up failed on some rank, before any program ran, is retried


def launch(command: list[str], n: int, env: dict | None = None) -> int:
    """Run `command` on `n` ranks; 0 when every rank succeeded, else 1 (after a message).

    MPICH's start-up (`MPI_Init` over UCX) fails now and then on a loaded machine with an internal
    error (pmodels/mpich#7417; seen here as "Message from rank 1 and tag 7 truncated" inside
    `MPI_Init_thread`). No rank has run any of the program then — each rank waits at a barrier
    after `MPI_Init` before it does (`mpi.comm`) — so the job is started again, at most
    `START_ATTEMPTS` times in all, with a note on stderr; any other failure ends the job."""
    if n < 1:
        sys.stderr.write(f"error: the number of processes must be at least 1 (got {n})\n")
        return 1
    if command and os.path.basename(command[0]).startswith("python") and len(command) > 1 \
            and (command[1] == "-m" or not command[1].startswith("-")):  # `python script.py …`, `python -m mod …`
        command = [sys.executable, "-m", "runtime.launch", *command[1:]]
    for attempt in range(1, START_ATTEMPTS + 1):
        with tempfile.TemporaryDirectory(prefix="loom-mpi-") as rundir:
            try:
                status, statuses = _run(command, n, env, rundir)
            except OSError as e:
                sys.stderr.write(f"error: cannot start mpiexec: {e}\n")
                return 1
            except KeyboardInterrupt:
                return 130
            who = _culprits(rundir, statuses)
            if status == 0 and not who:
                return 0
            if attempt < START_ATTEMPTS and _failed_in_start_up(rundir):
                sys.stderr.write(f"note: MPI start-up failed before any rank ran the program (a transient "
                                 f"MPICH failure); starting the job again (attempt {attempt + 1} of "
                                 f"{START_ATTEMPTS})\n")
                continue
        who = who or [f"mpiexec exited with status {status}"]
        sys.stderr.write(f"error: the job on {n} processes was ended: {'; '.join(who)}\n")
        return 1
    raise AssertionError("unreachable")  # pragma: no cover


def _run(command: list[str], n: int, env: dict | None, rundir: str) -> tuple[int, dict]:
    """One run of the job: mpiexec's status and each rank's reported (code, signal). OSError when
    mpiexec cannot start; KeyboardInterrupt (after passing SIGINT on to the job) on Ctrl-C."""
    full_env = dict(os.environ, **(env or {}))
    full_env.update({CHILD_ENV: "1", mpi.RUNDIR_ENV: rundir,
                     "MPIR_CVAR_DEFAULT_THREAD_LEVEL": "MPI_THREAD_MULTIPLE"})
    try:
        exe = mpiexec()
    except RuntimeError as e:
        raise OSError(str(e)) from e
    proc = subprocess.Popen([exe, "-n", str(n), *command], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, env=full_env)
    statuses: dict = {}
    pumps = [threading.Thread(target=_pump, args=(proc.stdout, sys.stdout, statuses), daemon=True),
             threading.Thread(target=_pump, args=(proc.stderr, sys.stderr, statuses), daemon=True)]
    for t in pumps:
        t.start()
    try:
        status = proc.wait()
    except KeyboardInterrupt:
        proc.send_signal(signal.SIGINT)
        proc.wait()
        raise
    for t in pumps:
        t.join()
    return status, statuses


def _failed_in_start_up(rundir: str) -> bool:
    """Did the job end inside `MPI_Init`: some rank began it, none got past the barrier after it,
    and none reported a failure of its own (a compile error before `MPI_Init` is not retried)?"""
    marks = os.listdir(rundir)
    return (any(m.endswith(".init") for m in marks)
            and not any(m.endswith((".started", ".failed")) for m in marks))


def run_devices(argv: list[str], n: int) -> int:
    """`loom <argv>` on `n` ranks (each rank sees `is_rank()` true and runs the command itself)."""
    return launch([sys.executable, "-m", "compiler.cli", *argv], n)


def check_devices(module, n: int) -> tuple[int, ...]:
    """The mesh of a program run with `--devices n`: n must be its number of devices."""
    from compiler.diagnostics import LoomError
    from runtime.simulated import mesh_shape

    shape = mesh_shape(module)
    if shape is None:
        raise LoomError(f"--devices {n}: the program declares no mesh (`mesh M = (dp={n})`) to run on "
                        f"{n} devices")
    size = 1
    for s in shape:
        size *= s
    if size != n:
        raise LoomError(f"--devices {n} does not match the program's mesh of {size} devices "
                        f"({' x '.join(map(str, shape))}): run it with --devices {size}")
    return shape


def _run_script(argv: list[str]) -> int:
    """`script.py args…` or `-m module args…`, as `python` would run them."""
    if argv[0] == "-m":
        sys.argv = list(argv[1:])
        runpy.run_module(argv[1], run_name="__main__", alter_sys=True)
        return 0
    sys.argv = list(argv)
    sys.path.insert(0, os.path.dirname(os.path.abspath(argv[0])))
    runpy.run_path(argv[0], run_name="__main__")
    return 0


if __name__ == "__main__":
    # one rank of `loom launch -n N python script.py …` (or `python -m module …`)
    mpi.comm()
    sys.exit(mpi.guard(_run_script, sys.argv[1:]))
