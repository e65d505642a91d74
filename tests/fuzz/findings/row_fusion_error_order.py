"""When two run-time checks fail in ops that loom-fuse-rows put in one loop over rows, compiled code
reports the later one.

Observed: `y = x * (0.0 / f64(f32(i32(x)) >= layer_norm(f32(x), axis=1)))` then `i32(y)`, with x's
    second row starting with NaN and its first row making y NaN: eager reports "cannot convert a
    NaN or infinite value to an integer" at 2:28 (`i32(x)`, row 1), compiled code at 3:12
    (`i32(y)`, row 0): the row loop ran the second cast on row 0 before the first cast on row 1.
Expected: the same message and location in both modes (docs/language.md §11): the error of the
    first failing operation in program order.
How found: python -m tests.fuzz --minutes 10 --seed 8086 (generated program, `value_and_grad`,
    special input values), minimised by hand.
"""

import numpy as np

SOURCE = """\
def f(x: f64[2, 3]) -> i32[2, 3]:
    y = x * (0.0 / f64(f32(i32(x)) >= layer_norm(f32(x), axis=1)))
    return i32(y)
"""
ARGS = [np.array([[-1.0, -2.0, -3.0], [np.nan, 1.0, 2.0]])]
FIXED = "loom-fuse-rows puts at most one op with run-time checks in a group"
