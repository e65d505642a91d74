"""Integer `//` of an empty tensor by a zero: the reference executor reports "integer division by zero", compiled code computes the empty result.

Observed: `x0 // w3` with x0 = i64[0, 1] and w3 = 0 (a scalar): eager "integer division by zero" at
    the `//`, compiled code returns an array of shape (0, 1). The reference executor checked the
    divisor whatever the result's size; compiled code checks each element it computes, and an
    empty result computes none (NumPy: no error either). `**` with a negative exponent likewise.
Expected: both modes alike; decided (docs/language.md §11): an elementwise op's checks are per
    element, so an op that computes no element has no run-time error.
How found: python -m tests.fuzz --seed 9090 (a generated program, `min_size=0`: batch size 0),
    2026-12-01; minimised by hand.
"""

import numpy as np

SOURCE = """\
def f(x0: i64[B, 1]) -> i64[B, 1]:
    w3 = i64(0)
    return x0 // w3
"""
ARGS = [np.zeros((0, 1), np.int64)]
FIXED = "the reference executor checks integer //, % and ** only when the result has elements"
