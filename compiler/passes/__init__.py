"""The pass registry: every pass Loom can run, by name (`loom opt -p a,b{x=1}`), also exported to
xDSL's `xdsl-opt` through the `xdsl.universe` entry point. Passes are imported lazily."""

from __future__ import annotations

import importlib
from collections.abc import Callable

from xdsl.passes import ModulePass
from xdsl.universe import Universe

# pass name → (module, class); one file per pass, named after the pass
_TABLE = {
    # loom level
    "loom-inline": ("compiler.passes.loom_inline", "LoomInline"),
    "canonicalize": ("xdsl.transforms.canonicalize", "CanonicalizePass"),
    "cse": ("xdsl.transforms.common_subexpression_elimination", "CommonSubexpressionElimination"),
    "dce": ("xdsl.transforms.dead_code_elimination", "DeadCodeElimination"),
    "loom-merge-calls": ("compiler.passes.loom_merge_calls", "LoomMergeCalls"),
    # global-view sharding: per-device programs
    "shard-partition": ("compiler.passes.shard_partition", "ShardPartition"),
    # automatic differentiation (reverse mode = ad-jvp, then ad-linearize, then ad-transpose)
    "ad-jvp": ("compiler.passes.ad_jvp", "AdJvp"),
    "ad-linearize": ("compiler.passes.ad_linearize", "AdLinearize"),
    "ad-transpose": ("compiler.passes.ad_transpose", "AdTranspose"),
    "ad-differentiate": ("compiler.passes.ad_differentiate", "AdDifferentiate"),  # the three, to a fixpoint
    "ad-tape-forwarding": ("compiler.passes.ad_tape_forwarding", "AdTapeForwarding"),
    # global-view sharding
    "sharding-propagation": ("compiler.passes.sharding_propagation", "ShardingPropagation"),
    # loom → linalg on tensors (the interchange level) and its optimizations
    "convert-loom-to-linalg": ("compiler.passes.convert_loom_to_linalg", "ConvertLoomToLinalg"),
    "linalg-fuse-elementwise": ("compiler.passes.linalg_fuse_elementwise", "LinalgFuseElementwise"),
    # buffers and loops
    "convert-shard-to-mpi": ("compiler.passes.convert_shard_to_mpi", "ConvertShardToMpi"),
    "loom-bufferize": ("compiler.passes.loom_bufferize", "LoomBufferize"),
    "loom-buffer-dealloc": ("compiler.passes.loom_buffer_dealloc", "LoomBufferDealloc"),
    "loom-interrupt-checks": ("compiler.passes.loom_interrupt_checks", "LoomInterruptChecks"),
    "loom-matmul-kernel": ("compiler.passes.loom_matmul_kernel", "LoomMatmulKernel"),
    "loom-fuse-rows": ("compiler.passes.loom_fuse_rows", "LoomFuseRows"),
    "loom-linalg-to-loops": ("compiler.passes.loom_linalg_to_loops", "LoomLinalgToLoops"),
    "loom-parallel-to-threads": ("compiler.passes.loom_parallel_to_threads", "LoomParallelToThreads"),
    "loom-outline-loops": ("compiler.passes.loom_outline_loops", "LoomOutlineLoops"),
    "convert-scf-to-cf": ("xdsl.transforms.convert_scf_to_cf", "ConvertScfToCf"),
    "convert-scf-while-to-cf": ("compiler.passes.convert_scf_while_to_cf", "ConvertScfWhileToCf"),
    "loom-scf-to-cf": ("compiler.passes.loom_scf_to_cf", "LoomScfToCf"),
    # to the llvm dialect
    "math-approximation": ("compiler.passes.math_approximation", "MathApproximation"),
    "convert-math-to-llvm": ("compiler.passes.convert_math_to_llvm", "ConvertMathToLlvm"),
    "convert-arith-to-llvm": ("compiler.passes.convert_arith_to_llvm", "ConvertArithToLlvm"),
    "convert-memref-to-llvm": ("compiler.passes.convert_memref_to_llvm", "ConvertMemrefToLlvm"),
    "convert-vector-to-llvm": ("compiler.passes.convert_vector_to_llvm", "ConvertVectorToLlvm"),
    "convert-func-to-llvm": ("compiler.passes.convert_func_to_llvm", "ConvertFuncToLlvm"),
    "convert-cf-to-llvm": ("compiler.passes.convert_cf_to_llvm", "ConvertCfToLlvm"),
    "convert-print-to-llvm": ("compiler.passes.convert_print_to_llvm", "ConvertPrintToLlvm"),
    "convert-ad-to-llvm": ("compiler.passes.convert_ad_to_llvm", "ConvertAdToLlvm"),
    "convert-to-llvm": ("compiler.passes.convert_to_llvm", "ConvertToLlvm"),
    "reconcile-unrealized-casts": ("xdsl.transforms.reconcile_unrealized_casts", "ReconcileUnrealizedCastsPass"),
}


def _loader(module: str, name: str) -> Callable[[], type]:
    return lambda: getattr(importlib.import_module(module), name)


PASSES: dict[str, Callable[[], type[ModulePass]]] = {name: _loader(*where) for name, where in _TABLE.items()}


def get_pass(name: str) -> type[ModulePass]:
    return PASSES[name]()


# for `xdsl-opt`: Loom's dialects (loaded lazily) and its own passes
LOOM_UNIVERSE = Universe(all_dialects={"loom": _loader("dialects.loom", "Loom"), "ad": _loader("dialects.ad", "AD")},
                         all_passes={k: v for k, v in PASSES.items() if _TABLE[k][0].startswith("compiler.")})
