"""Float -> integer conversion: eager and compiled report different errors for one tensor.

Observed: `i32(x)` with x = [1e30, nan] (f32): eager says "cannot convert a NaN or infinite value
    to an integer", compiled says "a value is out of range for int32". Eager checks the whole
    tensor for NaN/inf first, compiled code checks element by element. (Either element alone gives
    the same message in both modes.)
Expected: the same message and location in both modes (docs/language.md §11, "Run-time errors
    carry the same message and location in both modes"), e.g. the first offending element decides.
How found: python -m tests.fuzz (generated program, special input values), minimised by hand.
"""

import numpy as np

SOURCE = "def f(x: f32[2]) -> i32[2]:\n    return i32(x)\n"
ARGS = [np.array([1e30, np.nan], np.float32)]
FIXED = "the eager executor reports the first offending element, in C order, like compiled code"
