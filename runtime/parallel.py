"""The thread pool that runs compiled parallel loops (`runtime/parallel.ll`), on the Python side.

The pool is compiled once per process into its own machine-code module, kept for the life of the
process, and its entry points (`loom_parallel_for`, `loom_parallel_status`) are made resolvable by
every JIT'd module (`link_jit`, the setup of its entry in `runtime.jit.RUNTIME_LIBRARIES`), so all
compiled functions share one set of workers.

Threads per parallel loop, the calling thread included: `set_num_threads(n)`, else the environment
variable `LOOM_NUM_THREADS`, else the cores this process may run on (`os.sched_getaffinity`) — but
one in a rank of an MPI job, so that ranks sharing a machine do not oversubscribe its cores (set
`LOOM_NUM_THREADS` to give each rank more). Results do not depend on the number of threads.

How long a thread that ran a parallel loop keeps polling for the next one before it sleeps (and
the caller for the workers' last chunks): `set_spin_us(us)`, else `LOOM_SPIN_US`, else 2 ms — what
OpenMP's KMP_BLOCKTIME and GOMP_SPINCOUNT set (Intel's runtime spins 200 ms by default, libgomp
300,000 polls). A sleeping worker takes tens of microseconds to wake, more on a virtual machine,
and a product of a millisecond pays that on every call that comes later than the spin after the
last one; a longer spin hides it at the cost of a core kept busy that long after each loop
(docs/performance.md, "2 threads: the spin before a worker sleeps"). 0 for a machine shared with
other jobs.
"""

from __future__ import annotations

import ctypes
import os
import threading

import llvmlite.binding as llvm

from compiler.diagnostics import LoomError
from runtime import jit
from runtime.mpi import in_job

ENV = "LOOM_NUM_THREADS"
MAX_THREADS = 256  # the pool's limit (runtime/parallel.ll)
SPIN_ENV = "LOOM_SPIN_US"
DEFAULT_SPIN_US = 2000
MAX_SPIN_US = 10_000_000
_lock = threading.Lock()
_state: dict[str, object] = {}


def default_threads() -> int:
    """`LOOM_NUM_THREADS`, else 1 in an MPI rank, else the cores available to this process."""
    value = os.environ.get(ENV, "").strip()
    if value:
        if not (value.isascii() and value.isdigit()) or not 1 <= int(value) <= MAX_THREADS:
            raise LoomError(f"{ENV} must be a whole number from 1 to {MAX_THREADS}, not '{value}'")
        return int(value)
    if in_job():
        return 1
    return max(1, len(os.sched_getaffinity(0)))


def default_spin_us() -> int:
    """`LOOM_SPIN_US`, else DEFAULT_SPIN_US."""
    value = os.environ.get(SPIN_ENV, "").strip()
    if not value:
        return DEFAULT_SPIN_US
    if not (value.isascii() and value.isdigit()) or int(value) > MAX_SPIN_US:
        raise LoomError(f"{SPIN_ENV} must be a whole number of microseconds from 0 to {MAX_SPIN_US}, not '{value}'")
    return int(value)


def _pool() -> jit.NativeModule:
    with _lock:
        native = _state.get("native")
        if native is None:
            threads, spin = default_threads(), default_spin_us()  # (a bad setting: before any state)
            triple = jit.target_machine().triple
            mod = llvm.parse_assembly(jit.runtime_ll("parallel.ll", triple))
            mod.triple = triple
            mod.verify()
            # loaded as an object file, so that profiles name its functions (runtime/perf_map.py)
            native = _state["native"] = jit.NativeModule(objects=[jit.object_code(mod)], runtime_libraries=False)
            for name in ("loom_parallel_for", "loom_parallel_status"):
                llvm.add_symbol(name, native.address(name))
            # a forked child has only the forking thread: it starts with no workers
            os.register_at_fork(after_in_child=ctypes.CFUNCTYPE(None)(native.address("loom_parallel_after_fork")))
            setter = ctypes.CFUNCTYPE(None, ctypes.c_int64)(native.address("loom_parallel_set_threads"))
            _state["set"] = setter
            _state["set_spin"] = ctypes.CFUNCTYPE(None, ctypes.c_int64)(native.address("loom_parallel_set_spin"))
            _state["threads"], _state["spin_us"] = threads, spin
            setter(_state["threads"])
            _state["set_spin"](_state["spin_us"] * 1000)
        return native


def link_jit() -> None:
    """Make the pool's entry points resolvable by JIT'd code (before it is compiled or loaded)."""
    _pool()


def set_num_threads(n: int) -> None:
    """Threads per parallel loop from now on, the calling thread included."""
    if not isinstance(n, int) or not 1 <= n <= MAX_THREADS:
        raise LoomError(f"the number of threads must be a whole number from 1 to {MAX_THREADS}, not {n!r}")
    _pool()
    _state["threads"] = n
    _state["set"](n)


def set_spin_us(us: int) -> None:
    """How long, in microseconds, the pool's threads poll for work before they sleep (0: at once)."""
    if not isinstance(us, int) or isinstance(us, bool) or not 0 <= us <= MAX_SPIN_US:
        raise LoomError(f"the spin time must be a whole number of microseconds from 0 to {MAX_SPIN_US}, not {us!r}")
    _pool()
    _state["spin_us"] = us
    _state["set_spin"](us * 1000)


def spin_us() -> int:
    """The pool's spin time in microseconds (what `set_spin_us` or the default chose)."""
    _pool()
    return _state["spin_us"]


def num_threads() -> int:
    """Threads per parallel loop (what `set_num_threads` or the default chose)."""
    _pool()
    return _state["threads"]
