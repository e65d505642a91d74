"""A false alarm: an unused value's failing check is deleted by loom-opt, so compiled code reports the next failing check.

Observed: `t = i64(x)` (t never used) then `return i64(x * 2.0)` with x = [nan, 1.0]: the reference
    executor on the unoptimized IR reports "cannot convert a NaN or infinite value to an integer"
    at 2:9 (`i64(x)`), compiled code at 3:12 (`i64(x * 2.0)`): `t` is dead, and loom-opt deleted it
    with its check.
Expected: what docs/language.md §11 allows ("an unused value's check may be gone"): the compiled
    error is the one the reference executor reports on the optimized IR (`pipeline="loom-opt"`).
How found: python -m tests.fuzz (seed 12345, a generated program with structs, special inputs),
    2026-12-01, by a reviewer of that day's changes; minimised by hand.
"""

import numpy as np

SOURCE = """\
def f(x: f64[2]) -> i64[2]:
    t = i64(x)
    return i64(x * 2.0)
"""
ARGS = [np.array([np.nan, 1.0])]
FIXED = "the oracle compares a differing compiled error with the reference run of the loom-opt IR"
