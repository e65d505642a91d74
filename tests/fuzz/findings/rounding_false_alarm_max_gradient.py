"""A false alarm of the oracle: the noisy reference runs perturbed `max`, so the gradient through `softmax` was NaN in all of them.

Observed: `df(…)` (the inputs below) compiled 1.13981658, eager 1.13981660 at [3, 0] — the
    f32 `softmax` inside an f64 result, so differences of f32 rounding, beyond the f64 tolerance —
    and no noisy reference run to hold them against: every one had a NaN gradient. The noise
    multiplied every op's result by (1 + d), `max` too, so the row maximum that `softmax` subtracts
    equalled none of the row's elements, and `max`'s derivative (the cotangent shared among the
    elements equal to the maximum) divided by zero of them.
Expected: no finding: `max`, `min`, `abs`, `select`, shape ops and constants do not round, so the
    noise (runtime/reference.py, `ROUNDING`) leaves their results alone; the envelope of the noisy
    runs then covers the compiled result.
How found: python -m tests.fuzz --minutes 20 --seed 2718 (generated seed 1579836558,
    derivative=True: finding 002-mismatch), minimised with python -m tests.fuzz.reduce.
"""

import numpy as np

SOURCE = """\
def f(x0: f32[B, B], x1: f64[N, 3], x2: f64[1], x3: i64[2]) -> f64:
    return sum(x1 * f64(softmax(f32(x1) + 10.0, axis=-1))) + logsumexp(full(3, 1e-3, f64))
df = value_and_grad(f, wrt=x1)
"""
ENTRY = "df"
ARGS = [np.array([[-1.0249127, -0.24401401], [0.20883149, -0.62523633]], dtype=np.float32),
        np.array([[2.1911815898265274, -1.347536056028421, 1.1784695028930834],
                  [2.767689197435036, -0.17498889346329838, -1.8988098132962876],
                  [0.42415728656433016, -0.7779076323631209, 2.38609920485552],
                  [1.0783727450810723, -2.56963233185229, -1.9562737990483061]]),
        np.array([-1.1529188094069343]), np.array([5, -5])]
FIXED = "the reference's noise perturbs only the results of ops that round"
