"""Compiled `sin`/`cos` of an f64 with |x| ≥ 2^50 is NaN; the reference executor (NumPy) gives the value.

Observed: `sin(x)`, `cos(x)` with x = [1e20, 1.45e28] (f64): compiled [nan nan], eager (and NumPy)
    [-0.6453 0.5268] / [0.7640 0.8500]. `math-approximation` reduces f64 arguments by π/2 with a
    four-part Cody–Waite reduction (exact to |x| < 2^26·π/2, growing error up to 2^50) and gives
    NaN from 2^50 on, by design, rather than noise: full Payne–Hanek reduction for f64 is not done
    (compiler/passes/math_approximation.py; docs/language.md §11 says so). Found through a
    gradient: `grad` of `sqrt(abs(sin(x / log(x))))` at x = 1e30 was NaN compiled, 8.35e27 eager.
Expected: the correctly rounded-ish value, as for f32 (whose reduction is exact over its whole
    range): a table-driven Payne–Hanek reduction of f64 (about 1,100 bits of 2/π).
How found: python -m tests.fuzz --seed 4242 (a generated program with `derivative=True` and special
    input values), 2026-12-01; minimised by hand.
"""

import numpy as np

SOURCE = """\
def f(x: f64[2]) -> f64[2]:
    return sin(x) + 2.0 * cos(x)
"""
ARGS = [np.array([1e20, 1.45e28])]
FIXED = "math-approximation reduces |x| >= 2^26 by Payne-Hanek (compiler/passes/math_payne_hanek.py)"
