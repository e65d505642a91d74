"""Whether a compiled call ran its products in the matmul kernels, how close a product must come to
NumPy's, and the matrices they are tried on (tests/test_matmul_kernel.py, test_codegen_units.py,
test_properties.py, test_perf_profiles.py)."""

from __future__ import annotations

import re

import numpy as np

# the row `--timing` shows for the JIT's LLVM work (compiler/artifact.py: `Artifact.objects`)
_UNITS = re.compile(r"LLVM O3 \+ codegen \((\d+) kernel units, \d+ compiled before, (\d+) declared\)")


def uses_kernel(fn, *args) -> bool:
    """Whether the compiled code of this call (compiled before) calls the matmul kernels: read from
    its compilation's record — kernel units compiled, or found in the kernel library and declared
    (runtime/codegen_units.py: the `matmul_` functions) — or, when it was not compiled in this process
    (a disk-cache hit), from the loops stage (which builds the kernels' IR again: 0.3–0.5 s)."""
    for phase, _ in fn.lower(*args).times:
        if m := _UNITS.match(phase):
            return int(m[1]) + int(m[2]) > 0
    return "vector.fma" in fn.lower(*args).as_text("loops")


def assert_product_close(got, want, rtol: float) -> None:
    """A product against its reference: relative `rtol`, and an absolute tolerance scaled to the
    result's largest element (an element near zero is a difference of terms that large, rounded in
    an order that depends on the kernel: AVX-512's and AVX2's differ)."""
    np.testing.assert_allclose(got, want, rtol=rtol, atol=rtol * (np.abs(want).max() + 1.0))


def rand(*shape, seed=0):
    """A standard-normal f32 matrix, the same for the same shape and seed."""
    return np.random.default_rng(seed + sum(shape)).standard_normal(shape, dtype=np.float32)
