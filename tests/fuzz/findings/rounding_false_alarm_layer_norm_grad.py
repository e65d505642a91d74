"""A false alarm of the oracle: the f32 gradient through `layer_norm` (cancellation) differs by rounding only.

Observed: `df(x)` (x: seed 0, standard normal) compiled 1.004366e-03, eager 9.899146e-04 at [1, 3]:
    a "mismatch" beyond the fixed f32 tolerance (2e-3 relative, atol 2e-3 of the largest magnitude).
    The gradient of `sum(y * (y + 10.0))` through `layer_norm` subtracts the mean of terms near 10
    from each: elements 1e-4..1e-3 of terms 10 keep only a few significant bits in f32. The same
    program in f64 gives values between the two; noisy reference runs scatter as widely.
Expected: no finding: the element lies within the rounding envelope measured by Monte Carlo
    arithmetic (tests/fuzz/oracle.py: the reference rerun with every op's result perturbed by up
    to one epsilon).
How found: python -m tests.fuzz --minutes 35 --seed 20261130 (generated seed 2124235520,
    derivative=True, struct=True: finding 001-mismatch), then minimised by hand.
"""

import numpy as np

SOURCE = """\
def f(x: f32[4, 4]) -> f32:
    y = layer_norm(x * x, axis=0)
    return sum(y * (y + 10.0))
df = grad(f, wrt=x)
"""
ENTRY = "df"
ARGS = [np.random.default_rng(0).standard_normal((4, 4)).astype(np.float32)]
FIXED = "the oracle holds a difference beyond RTOL against the noisy reference runs' envelope"
