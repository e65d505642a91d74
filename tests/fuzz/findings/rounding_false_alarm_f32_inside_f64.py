"""A false alarm of the oracle: an f64 result that adds an f32 intermediate differs by the f32 intermediate's rounding.

Observed: `f(x)` compiled 8.754845237731933, eager 8.75484619140625: a "mismatch" beyond the f64
    tolerance (1e-8 relative). `exp` in f32 is a polynomial within 1.3 ulp in compiled code
    (docs/backend.md: math-approximation): exp(1) is 2.7182817 compiled, 2.718282 in NumPy, one ulp
    apart; three of them, widened to f64, carry f32 rounding (1e-7 relative) into the f64 result.
Expected: no finding: the noisy reference runs perturb the f32 `exp` by up to one f32 epsilon, so
    the rounding envelope of the f64 result is as wide as f32 rounding makes it.
How found: python -m tests.fuzz --minutes 35 --seed 20261130 (generated seed 727834587,
    derivative=True: finding 002-mismatch, the value of value_and_grad), then minimised by hand.
"""

import numpy as np

SOURCE = """\
def f(x: f64[4]) -> f64:
    return sum(x) + f64(sum(exp(ones((3,), f32))))
"""
ARGS = [np.array([0.1, -0.2, 0.3, 0.4])]
FIXED = "the oracle holds a difference beyond RTOL against the noisy reference runs' envelope"
