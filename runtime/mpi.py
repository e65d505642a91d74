"""MPI inside one rank: initialisation, mesh communicators, the table compiled code reads, faults.

A rank is one process of an MPI job started by `loom run --devices N` or `loom launch -n N`
(`runtime/launch.py`). Here:

- `comm()` initialises MPI once (through mpi4py, at `MPI_THREAD_MULTIPLE`: at lower levels MPICH
  busy-polls and more ranks than cores crawl) and checks the ABI table (`runtime/mpi_abi.py`);
- `install(shape)` creates the communicators of a mesh (ranks are row-major positions on it): one
  per ordered set of mesh axes (`comm_slots`), with `MPI_Comm_split` (colour: the position on the
  other axes; key: the position within the set, the first listed axis major, so a communicator's
  ranks are in in-group order), and writes their handles into `loom_mpi_comms[slot]` and this
  rank's in-group index into `loom_mpi_ranks[slot]`, two global arrays the compiled code loads
  (`convert-shard-to-mpi`); `link_jit()` makes them and libmpi's functions visible to the JIT;
- `loom_mpi_site` holds the description of the collective the compiled code is in (or NULL): the
  `Watchdog` names it when a collective does not complete within `LOOM_MPI_TIMEOUT` seconds
  (default 60), which is how mismatched collectives (a program bug) end instead of hanging;
- `fail(message)` prints `rank K: message` and ends the whole job (`MPI_Abort`); `guard(main)` runs a
  rank's main function so that any error ends the job (an uncaught exception on one rank would
  otherwise leave the others waiting forever in their next collective);
- `MPIExecutor` runs a compiled function of a program with a mesh on every rank: global NumPy
  arrays in and out (the compiled code takes its blocks and gathers its results itself).
"""

from __future__ import annotations

import ctypes
import itertools
import math
import os
import sys
import threading
import time
import traceback
from dataclasses import dataclass, field

import numpy as np

from compiler.diagnostics import LoomError

TABLE_SIZE = 64  # communicators per mesh: one per ordered set of axes of a mesh of at most 4 axes
COMMS_SYMBOL, RANKS_SYMBOL, SITE_SYMBOL = "loom_mpi_comms", "loom_mpi_ranks", "loom_mpi_site"
RUNDIR_ENV = "LOOM_MPI_RUNDIR"  # set by the launcher: where a failing rank leaves a mark
TIMEOUT_ENV = "LOOM_MPI_TIMEOUT"

_lock = threading.Lock()
_state: dict = {}
_comms = (ctypes.c_int32 * TABLE_SIZE)()
_ranks = (ctypes.c_int32 * TABLE_SIZE)()
_site = ctypes.c_void_p(0)


def wheel_file(suffix: str) -> str:
    """A file of the `mpich` wheel (libmpi, mpiexec) by the end of its path."""
    import importlib.metadata  # (~50 ms, with the email package: not on the path of every `loom` command)

    try:
        files = importlib.metadata.files("mpich") or []
    except importlib.metadata.PackageNotFoundError:
        files = []
    for f in files:
        if str(f).endswith(suffix):
            path = str(f.locate())
            if os.path.exists(path):
                return os.path.realpath(path)
    raise RuntimeError(f"the `mpich` package is not installed (looked for {suffix}); "
                       "`pip install -e .` installs it")


def in_job() -> bool:
    """Is this process a rank of an MPI job (started by mpiexec)?"""
    return "PMI_RANK" in os.environ or "PMI_SIZE" in os.environ


def comm():
    """MPI_COMM_WORLD (mpi4py), initialising MPI on first use."""
    with _lock:
        world = _state.get("world")
        if world is None:
            _mark("init")
            import mpi4py

            mpi4py.rc.thread_level = "multiple"
            mpi4py.rc.initialize = True
            from mpi4py import MPI

            from runtime import mpi_abi

            mpi_abi.verify(MPI)
            world = MPI.COMM_WORLD
            _state["MPI"], _state["world"] = MPI, world
            if in_job() and world.size > 1:
                _prefix_stderr(world.rank)
                world.Barrier()  # no rank runs its program before every rank is initialised
            _mark("started")
        return world


def _mark(what: str) -> None:
    """Leave `<rank>.<what>` in the job's run directory (the launcher reads them after a failure:
    `init` — this rank began `MPI_Init`; `started` — every rank finished it; `failed`)."""
    rundir = os.environ.get(RUNDIR_ENV)
    if rundir and in_job():
        with open(os.path.join(rundir, f"{os.environ.get('PMI_RANK', '0')}.{what}"), "w"):
            pass


def rank() -> int:
    """This process's rank (0 outside an MPI job)."""
    return comm().rank if in_job() else 0


def world_size() -> int:
    """The number of ranks of the job (1 outside an MPI job)."""
    return comm().size if in_job() else 1


class _Prefixed:
    """A text stream writing `rank K: ` before every line (diagnostics name their rank)."""

    def __init__(self, stream, prefix: str):
        self.stream, self.prefix, self.at_start = stream, prefix, True

    def write(self, s: str) -> int:
        out = []
        for piece in s.splitlines(keepends=True):
            if self.at_start:
                out.append(self.prefix)
            out.append(piece)
            self.at_start = piece.endswith("\n")
        self.stream.write("".join(out))
        return len(s)

    def __getattr__(self, name):
        return getattr(self.stream, name)


def _prefix_stderr(r: int) -> None:
    if not isinstance(sys.stderr, _Prefixed):
        sys.stderr = _Prefixed(sys.stderr, f"rank {r}: ")


# ---------------------------------------------------------------- faults
def fail(message: str, status: int = 1):
    """Report `message` for this rank and end the whole job (never returns)."""
    world = comm()
    sys.stdout.flush()
    sys.stderr.write(message.rstrip("\n") + "\n")
    sys.stderr.flush()
    rundir = os.environ.get(RUNDIR_ENV)
    if rundir:
        with open(os.path.join(rundir, f"{world.rank}.failed"), "w") as f:
            f.write(message)
    time.sleep(0.2)  # let the process manager pass the message on before the job is torn down
    world.Abort(status)
    os._exit(status)  # pragma: no cover - Abort does not return


def guard(main, *args) -> int:
    """Run `main(*args)` as this rank's program: an exception or a non-zero status ends the job."""
    try:
        status = main(*args)
    except SystemExit as e:
        status = e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
        if e.code is not None and not isinstance(e.code, int):
            sys.stderr.write(f"{e.code}\n")
    except BaseException as e:  # noqa: BLE001 - any failure of one rank must end all of them
        fail(describe(e))
    if status:
        fail(f"exited with status {status}")
    return 0


def describe(e: BaseException) -> str:
    """A Loom diagnostic as Loom renders it; any other exception as a traceback of the user's
    frames (not the launcher's)."""
    if isinstance(e, LoomError):
        return e.render()
    own = os.path.dirname(os.path.abspath(__file__))
    frames = [f for f in traceback.extract_tb(e.__traceback__)
              if os.path.dirname(os.path.abspath(f.filename)) != own and not f.filename.startswith("<frozen")]
    return ("Traceback (most recent call last):\n" + "".join(traceback.format_list(frames)) +
            "".join(traceback.format_exception_only(e))).rstrip()


class Watchdog:
    """Ends the job when the section it guards runs longer than `LOOM_MPI_TIMEOUT` seconds."""

    def __init__(self, timeout: float):
        self.timeout = timeout
        self.deadline: float | None = None
        self.what = ""
        self.thread = threading.Thread(target=self._watch, name="loom-mpi-watchdog", daemon=True)
        self.thread.start()

    def _watch(self) -> None:
        period = min(0.25, self.timeout / 4)
        while True:
            time.sleep(period)
            deadline = self.deadline
            if deadline is not None and time.monotonic() > deadline:
                where = ctypes.string_at(_site.value).decode() if _site.value else self.what
                fail(f"error: {where} did not complete within {self.timeout:g} s: a device is not "
                     f"taking part (do all devices run the same collectives in the same order?); "
                     f"set {TIMEOUT_ENV} to wait longer")

    def section(self, what: str):
        return _Section(self, what)


class _Section:
    def __init__(self, dog: Watchdog, what: str):
        self.dog, self.what = dog, what

    def __enter__(self):
        self.dog.what = self.what
        self.dog.deadline = time.monotonic() + self.dog.timeout

    def __exit__(self, *exc):
        self.dog.deadline = None
        _site.value = None


def watchdog() -> Watchdog:
    with _lock:
        dog = _state.get("watchdog")
        if dog is None:
            dog = _state["watchdog"] = Watchdog(float(os.environ.get(TIMEOUT_ENV) or 60))
        return dog


# ---------------------------------------------------------------- meshes and communicators
def comm_slots(rank: int) -> list[tuple[int, ...]]:
    """The communicator table's layout for a mesh of `rank` axes: slot k holds the communicator of
    the k-th ordered set of axes (a group's devices ordered with the first listed axis major)."""
    return [p for k in range(1, rank + 1) for p in itertools.permutations(range(rank), k)]


def comm_slot(axes, rank: int) -> int:
    return comm_slots(rank).index(tuple(axes))


def install(shape: tuple[int, ...]) -> None:
    """Create the communicators of a mesh of `shape` (collective: every rank calls it) and fill the
    tables compiled code reads."""
    world = comm()
    size = math.prod(shape)
    if world.size != size:
        raise RuntimeError(f"the job has {world.size} ranks but the mesh has {size} devices")
    slots = comm_slots(len(shape))
    if len(slots) > TABLE_SIZE:
        raise RuntimeError(f"meshes have at most 4 axes (this one has {len(shape)})")
    if _state.get("mesh") == shape:
        return
    MPI = _state["MPI"]
    coords = [int(c) for c in np.unravel_index(world.rank, shape)]
    for c in _state.get("comms", []):
        c.Free()
    made = []
    for slot, inside in enumerate(slots):
        outside = [k for k in range(len(shape)) if k not in inside]
        color = int(np.ravel_multi_index([coords[k] for k in outside], [shape[k] for k in outside])) \
            if outside else 0
        key = int(np.ravel_multi_index([coords[k] for k in inside], [shape[k] for k in inside]))
        c = world.Split(color, key)
        c.Set_errhandler(MPI.ERRORS_RETURN)  # compiled code checks every call's status
        _comms[slot] = MPI._handleof(c)
        _ranks[slot] = c.rank
        made.append(c)
    _state["comms"], _state["mesh"] = made, tuple(shape)


def link_jit() -> None:
    """Make libmpi's functions and the communicator tables resolvable by JIT'd code."""
    with _lock:
        if _state.get("linked"):
            return
        import llvmlite.binding as llvm

        llvm.load_library_permanently(wheel_file("libmpi.so.12"))
        llvm.add_symbol(COMMS_SYMBOL, ctypes.addressof(_comms))
        llvm.add_symbol(RANKS_SYMBOL, ctypes.addressof(_ranks))
        llvm.add_symbol(SITE_SYMBOL, ctypes.addressof(_site))
        _state["linked"] = True


# ---------------------------------------------------------------- running compiled code
def compile_once(build):
    """A compiled function on every rank, compiled on rank 0 only: `build()` returns
    `(CompiledFunction, object files)` there, and the other ranks load the same machine code (N ranks
    on fewer cores would otherwise compile N times over). Call after `link_jit()`."""
    from runtime import jit

    world = comm()
    fn, payload = None, None
    if world.rank == 0:
        fn, objects = build()
        payload = (objects, fn.symbol, fn.signature, fn.sites, fn.prints)
    objects, symbol, signature, sites, prints = world.bcast(payload, root=0)
    return fn if fn is not None else jit.CompiledFunction(jit.NativeModule(objects=objects), symbol, signature,
                                                          sites, prints)


@dataclass(frozen=True)
class MPIExecutor:
    """The executor of a program with a mesh in an MPI job (`compiler.driver.EXECUTORS["mpi"]`, the
    interface of `runtime/executors.py`): every rank runs the compiled function on the global
    arrays and gets the global results (the compiled code takes its blocks, communicates and
    gathers the results itself). Rank 0 compiles; the mesh's communicators are created first."""

    pipeline: str = "loom-opt"
    pm_options: dict | None = field(default=None, compare=False)  # PassManager flags (CLI)

    def key(self) -> tuple:
        return ("mpi", self.pipeline, id(self.pm_options) if self.pm_options else None)

    def prepare(self, lowered):
        from runtime.simulated import mesh_shape

        shape = mesh_shape(lowered.module("none")) or (1,)
        if math.prod(shape) != world_size():
            raise LoomError(f"the program's mesh has {math.prod(shape)} devices ({' x '.join(map(str, shape))}) "
                            f"but the job has {world_size()} processes: start it with -n {math.prod(shape)}")
        install(tuple(shape))  # libmpi itself is linked by the JIT (runtime.jit.RUNTIME_LIBRARIES)
        fn = compile_once(lambda: lowered.artifact(self.pm_options, self.pipeline, devices=True).compiled())
        name = lowered.symbol

        def run(leaves: list) -> tuple:
            with watchdog().section(f"@{name}"):
                return tuple(fn(leaves))

        return run
