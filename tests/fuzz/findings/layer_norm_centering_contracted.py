"""Compiled `layer_norm` of equal squares was not 0: `x * x - mean` was contracted into an FMA, which subtracts the mean from the exact square.

Observed: x0 = [1.3] (N = 1): the layer norm of the square was the square's rounding error
    times rsqrt(1e-5) in compiled code, 0 in the reference; the program then divides it by
    log_softmax(-x0) = 0: compiled inf, eager NaN (0 / 0). (`layer_norm(x * x, axis=0)` alone, of
    a constant vector of 2 or more, gave ±1.8e-5 the same way.)
Expected: the reference's values: the centering x - mean(x) is exact (docs/language.md §11, as
    the softmax family's shift by the maximum).
How found: python -m tests.fuzz --minutes 35 --seed 9191: generated program, run: finding
    001-mismatch ("mismatch: float32 nan"), reduced with tests.fuzz.reduce.
"""

import numpy as np

SOURCE = """\
def f(x0: f32[N]):
    x0 *= x0
    x0 = layer_norm(x0, axis=0)
    v1 = (x0 / log_softmax(-x0, axis=-1))
    x0 = v1 / f32(true)
    return v1, x0, -x0 * x0
"""
ENTRY = "f"
ARGS = [np.array([1.3], np.float32)]
FIXED = "layer_norm's x - mean(x) is marked loom.no_contract, like the softmax family's shift"
