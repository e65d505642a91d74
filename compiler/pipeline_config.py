"""What configures a pass pipeline, without xDSL: the named pipelines, the pass manager's options
from the environment, and its timing table. The pass manager itself is `compiler/pipeline.py`;
this part is separate so that what runs no pass — `import compiler`, the `loom` command's start, a
call served from the compile cache — imports no xDSL (docs/performance.md, "Compile time")."""

from __future__ import annotations

import os
import sys

NAMED_PIPELINES = {
    "none": "",
    # the loom-level optimizer
    "loom-opt": "loom-inline,canonicalize,cse,loom-merge-calls,dce",
    # differentiation: rounds of ad-jvp,ad-linearize,ad-transpose until no derivative op is left
    "autodiff": "ad-differentiate",
    # the native backend, one stage each (the stage table is compiler/driver.py's STAGES)
    "loom-to-linalg": "convert-loom-to-linalg,canonicalize,cse,linalg-fuse-elementwise",
    "linalg-to-buffers": "convert-shard-to-mpi,loom-bufferize,loom-interrupt-checks,loom-buffer-dealloc",
    "buffers-to-loops": "loom-matmul-kernel,loom-fuse-rows,loom-linalg-to-loops,loom-parallel-to-threads,cse,"
                        "loom-outline-loops",
    "loops-to-llvm": "math-approximation,loom-scf-to-cf,convert-print-to-llvm,"
                     "convert-to-llvm,reconcile-unrealized-casts",
}


def verify_each_default() -> bool:
    """Whether the driver verifies the IR after every pass: `LOOM_VERIFY_EACH=1` (the test suite sets
    it). Off by default: on the compile path of a first call, verifying after each of ~25 passes took
    more time than any pass; the IR is still verified after IR generation and after the last pass
    (docs/performance.md, "Compile time")."""
    return os.environ.get("LOOM_VERIFY_EACH", "") not in ("", "0")


def verify_compiled_default() -> bool:
    """Whether IR compiled to machine code (the JIT path: a call, `loom run`) is verified after its
    last pass: `LOOM_VERIFY=1` (or `LOOM_VERIFY_EACH=1`, which verifies after every pass). Off by
    default: on a first call it was the largest single item after `convert-to-llvm` (about 0.6-0.9 s
    CPU on the MLP training step), and LLVM verifies the module it is given. What a user prints
    (`loom compile --emit=…`, `loom opt`) is always verified (docs/performance.md, "Compile time")."""
    return verify_each_default() or os.environ.get("LOOM_VERIFY", "") not in ("", "0")


def env_options() -> dict:
    """PassManager options from the environment: LOOM_VERIFY_EACH, and LOOM_DUMP_IR / LOOM_DUMP_DIR
    (IR dumps while Loom is embedded)."""
    return {"verify_each": verify_each_default(), "print_after_all": bool(os.environ.get("LOOM_DUMP_IR")),
            "stream": sys.stderr, "dump_dir": os.environ.get("LOOM_DUMP_DIR") or None}


def timing_report(rows: list[tuple[str, float]]) -> str:
    """MLIR's `--mlir-timing` table: one row per phase, with its share of the total."""
    total = sum(t for _, t in rows) or 1e-12
    lines = ["===-------------------------------------------------------------------------===",
             "                         ... Execution time report ...",
             "===-------------------------------------------------------------------------===",
             "  Wall Time (s)   (%)   Name"]
    for name, t in rows:
        lines.append(f"  {t:12.4f}  {100 * t / total:5.1f}%  {name}")
    lines.append(f"  {total:12.4f}  100.0%  Total")
    return "\n".join(lines) + "\n"
