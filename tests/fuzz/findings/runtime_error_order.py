"""When two run-time checks fail, compiled code reports a later one than the reference executor.

Observed: `a = i32(x)` then `b = i32(sum(x))` with x = [1e30, 1.0] (f64): eager (with or without
    loom-opt) reports "a value is out of range for int32" at 2:9 (`i32(x)`), compiled code at 3:9
    (`i32(sum(x))`). Also `i32(x) + i32(x * 2.0)` (2:12 vs 2:21) and
    `where(x > 0.0, i32(x), i32(sum(x)))`. The native pipeline evaluates the checked operations in
    another order (fusion moves the elementwise cast after the later operation).
Expected: the same message and location in both modes (docs/language.md §11): the error of the
    first failing operation in program order.
How found: python -m tests.fuzz (generated program, special input values), minimised by hand.
"""

import numpy as np

SOURCE = """\
def f(x: f64[2]) -> i32[2]:
    a = i32(x)
    b = i32(sum(x))
    return a + b
"""
ARGS = [np.array([1e30, 1.0])]
FIXED = "linalg-fuse-elementwise keeps a producer with run-time checks out of a consumer when that would reorder checks"
