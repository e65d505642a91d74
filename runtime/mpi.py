"""MPI inside one rank: initialisation, mesh communicators, the table compiled code reads, faults.

A rank is one process of an MPI job started by `loom run --devices N` or `loom launch -n N`
(`runtime/launch.py`). Here:

- `comm()` initialises MPI once (through mpi4py, at `MPI_THREAD_MULTIPLE`: at lower levels MPICH
  busy-polls and more ranks than cores crawl) and checks the ABI table (`runtime/mpi_abi.py`);
- `Mesh` maps ranks to mesh positions (row-major: rank = position on the mesh) and `install(mesh)`
  creates one communicator per set of mesh axes with `MPI_Comm_split` (colour: the position on
  the other axes; key: the position within the set, so a communicator's ranks are in device
  order) and writes their handles into `loom_mpi_comms[mask]` and this rank's position in each into
  `loom_mpi_ranks[mask]` (mask: bit k set for axis k), two global arrays the compiled code loads
  (`convert-shard-to-mpi`); `link_jit()` makes them and libmpi's functions visible to the JIT;
- `loom_mpi_site` holds the description of the collective the compiled code is in (or NULL): the
  `Watchdog` names it when a collective does not complete within `LOOM_MPI_TIMEOUT` seconds
  (default 60), which is how mismatched collectives (a program bug) end instead of hanging;
- `fail(message)` prints `rank K: message` and ends the whole job (`MPI_Abort`); `guard(main)` runs a
  rank's main function so that any error ends the job (an uncaught exception on one rank would
  otherwise leave the others waiting forever in their next collective);
- `MPIExecutor` runs a per-device compiled function on global NumPy arrays: each rank takes its
  block of every argument and the results are assembled from all ranks' blocks (every rank returns
  the global values).
"""

from __future__ import annotations

import ctypes
import importlib.metadata
import math
import os
import sys
import threading
import time
import traceback
from dataclasses import dataclass

import numpy as np

from compiler.diagnostics import LoomError

TABLE_SIZE = 16  # communicators per mesh: one per subset of at most 4 axes
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
        return world


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
@dataclass(frozen=True)
class Mesh:
    """A logical mesh: axis names and sizes; device d sits at the row-major position d."""

    axes: tuple[str, ...]
    shape: tuple[int, ...]

    @property
    def size(self) -> int:
        return math.prod(self.shape)

    def coords(self, device: int) -> tuple[int, ...]:
        return tuple(int(c) for c in np.unravel_index(device, self.shape))

    def mask(self, axes) -> int:
        """The communicator-table index of a set of axes (bit k: axis k)."""
        return sum(1 << self.axes.index(a) for a in axes)


def install(mesh: Mesh) -> None:
    """Create the communicators of `mesh` (collective: every rank calls it) and fill the tables."""
    world = comm()
    if world.size != mesh.size:
        raise RuntimeError(f"the job has {world.size} ranks but the mesh has {mesh.size} devices")
    if len(mesh.shape) > 4:
        raise RuntimeError(f"meshes have at most 4 axes (this one has {len(mesh.shape)})")
    if _state.get("mesh") == mesh:
        return
    MPI = _state["MPI"]
    coords = mesh.coords(world.rank)
    for c in _state.get("comms", []):
        c.Free()
    made = []
    for mask in range(1, 1 << len(mesh.shape)):
        inside = [k for k in range(len(mesh.shape)) if mask >> k & 1]
        outside = [k for k in range(len(mesh.shape)) if not mask >> k & 1]
        color = int(np.ravel_multi_index([coords[k] for k in outside], [mesh.shape[k] for k in outside])) \
            if outside else 0
        key = int(np.ravel_multi_index([coords[k] for k in inside], [mesh.shape[k] for k in inside]))
        c = world.Split(color, key)
        c.Set_errhandler(MPI.ERRORS_RETURN)  # compiled code checks every call's status
        _comms[mask] = MPI._handleof(c)
        _ranks[mask] = c.rank
        made.append(c)
    _state["comms"], _state["mesh"] = made, mesh


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


# ---------------------------------------------------------------- global arrays ↔ blocks
Spec = tuple  # per dimension: a tuple of mesh axis names it is split over (major first), () if not


def block_index(mesh: Mesh, coords: tuple[int, ...], axes: tuple[str, ...]) -> tuple[int, int]:
    """(which block, how many blocks) along a dimension split over `axes`."""
    sizes = [mesh.shape[mesh.axes.index(a)] for a in axes]
    pos = [coords[mesh.axes.index(a)] for a in axes]
    return (int(np.ravel_multi_index(pos, sizes)) if axes else 0), math.prod(sizes)


def take_block(x: np.ndarray, spec: Spec, mesh: Mesh, device: int) -> np.ndarray:
    """Device `device`'s block of the global array `x`."""
    coords = mesh.coords(device)
    index = []
    for d, axes in enumerate(spec):
        i, n = block_index(mesh, coords, axes)
        b = x.shape[d] // n
        index.append(slice(i * b, (i + 1) * b))
    return np.ascontiguousarray(x[tuple(index)])


def put_block(out: np.ndarray, block: np.ndarray, spec: Spec, mesh: Mesh, device: int) -> None:
    coords = mesh.coords(device)
    index = []
    for d, axes in enumerate(spec):
        i, _ = block_index(mesh, coords, axes)
        b = block.shape[d]
        index.append(slice(i * b, (i + 1) * b))
    out[tuple(index)] = block


def assemble(block: np.ndarray, spec: Spec, mesh: Mesh) -> np.ndarray:
    """The global array from every rank's `block` (collective: every rank calls it)."""
    world = comm()
    if not any(spec):
        return block  # replicated: every device holds the global value
    blocks = np.empty((world.size, *block.shape), block.dtype)
    world.Allgather(np.ascontiguousarray(block), blocks)
    shape = [s * block_index(mesh, (0,) * len(mesh.shape), axes)[1] for s, axes in zip(block.shape, spec)]
    out = np.empty(shape, block.dtype)
    for device in range(world.size):
        put_block(out, blocks[device], spec, mesh, device)
    return out


class MPIExecutor:
    """A per-device compiled function, called with and returning global arrays on every rank."""

    def __init__(self, fn, mesh: Mesh, in_specs: list[Spec | None], out_specs: list[Spec | None],
                 name: str = "the function"):
        comm()
        link_jit()
        install(mesh)
        self.fn, self.mesh, self.name = fn, mesh, name
        self.in_specs, self.out_specs = in_specs, out_specs

    def __call__(self, args: list) -> list:
        device = comm().rank
        local = [a if spec is None else take_block(np.asarray(a), spec, self.mesh, device)
                 for a, spec in zip(args, self.in_specs)]
        dog = watchdog()
        with dog.section(f"{self.name}"):
            outs = self.fn(local)
        with dog.section(f"assembling the results of {self.name}"):
            return [o if spec is None else assemble(np.asarray(o), spec, self.mesh)
                    for o, spec in zip(outs, self.out_specs)]
