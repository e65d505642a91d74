"""Executors: what runs a specialization (`compiler.driver.Lowered`) on NumPy leaves.

Every executor has the same interface: `prepare(lowered)` returns a callable that takes the flat
argument leaves (NumPy arrays and scalars, structs flattened in field order) and returns the flat
result leaves as a tuple; `key()` identifies the executor's options, so a specialization is prepared
once per executor. The driver loads them by name (`compiler.driver.EXECUTORS`):

- `eager`: the reference executor (`runtime/reference.py`) on the loom-level IR after a pipeline;
- `native`: machine code from the native backend (LLVM), optionally kept in the on-disk cache;
- (the distributed engine adds the simulated-devices and MPI executors).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass(frozen=True)
class EagerExecutor:
    """Run the IR op by op with NumPy, after the loom-level passes `pipeline` (`none`: as generated)."""

    pipeline: str = "none"
    pm_options: dict | None = field(default=None, compare=False)  # PassManager flags (CLI)

    def key(self) -> tuple:
        return ("eager", self.pipeline, id(self.pm_options) if self.pm_options else None)

    def prepare(self, lowered) -> Callable[[list], tuple]:
        from runtime.reference import run_function

        module = lowered.module(self.pipeline, self.pm_options)
        _check_interpretable(module)
        symbol = lowered.symbol
        return lambda leaves: run_function(module, symbol, leaves)


DUMPS = ("print_after_all", "print_before", "print_after", "dump_dir")  # PassManager options that show IR
# (given by the CLI's flags, or by LOOM_DUMP_IR / LOOM_DUMP_DIR: compiler/pipeline_config.env_options)


@dataclass(frozen=True)
class NativeExecutor:
    """Compile to machine code (the loom-level passes `pipeline`, then the backend); with `cache`,
    the object code is kept on disk and reused by later processes."""

    cache: bool = False
    pipeline: str = "loom-opt"
    pm_options: dict | None = field(default=None, compare=False)  # PassManager flags (CLI)

    def key(self) -> tuple:
        return ("native", self.cache, self.pipeline, id(self.pm_options) if self.pm_options else None)

    def prepare(self, lowered) -> Callable[[list], tuple]:
        from compiler.pipeline_config import env_options
        from runtime.object_cache import ObjectCache

        store = ObjectCache() if self.cache else None
        # matmul kernels compiled before (this process, or the disk cache) are declared, not built;
        # IR dumps show every kernel's IR
        dumps = {**env_options(), **(self.pm_options or {})}
        library = None if any(dumps.get(k) for k in DUMPS) else lowered.kernel_library(self.pipeline, store)
        if store is None or self.pm_options:  # IR dumps and timings need the passes to run
            fn, _ = lowered.artifact(self.pm_options, self.pipeline, library=library).compiled(store)
            return fn
        key = lowered.cache_key(self.pipeline)
        fn = store.load(key, lowered.signature())
        if fn is None:
            fn, objects = lowered.artifact(None, self.pipeline, library=library).compiled(store)
            store.store(key, objects, fn)
        return fn  # a `runtime.jit.CompiledFunction`: leaves → a tuple of results


def _check_interpretable(module) -> None:
    """The reference executor runs loom-level IR: an op it has no implementation for (e.g. after a
    backend pass given with `-p`) is a user error, reported before running anything."""
    from xdsl.dialects.builtin import ModuleOp

    from compiler.diagnostics import LoomError
    from compiler.diagnostics import span_of
    from runtime.reference import supported_ops

    known = supported_ops()
    for op in module.walk():
        if not isinstance(op, ModuleOp) and type(op) not in known:
            raise LoomError(f"the reference executor runs loom-level IR, but the pipeline produced '{op.name}': "
                            "use loom-level passes with --eager (e.g. -p loom-opt), or run natively",
                            span_of(op))
