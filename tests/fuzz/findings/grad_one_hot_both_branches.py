"""grad through an `if` whose branches both rebind x to `one_hot` of an element of x: invalid IR after ad-differentiate.

Observed: `df([1, 1])` raises LoomError "invalid IR after pass 'ad-differentiate' (a bug in that
    pass): Operation using value defined out of its IsolatedFromAbove parent: SliceOp(%0 =
    loom.slice %1 ...)" in both modes. With one_hot in one branch only, or with
    `f32(i64(x))` instead of one_hot, it works. (Before d0184ca the fuzzed program failed in
    ad-transpose, like grad_dead_value_in_if.py, which d0184ca fixed.)
Expected: df([1, 1]) == [0, 0]: one_hot is not differentiable in its index, the result
    one_hot(1, 2) does not depend on x smoothly.
How found: python -m tests.fuzz (generated program with derivative=True), reduced with
    python -m tests.fuzz.reduce, then by hand.
"""

import numpy as np

SOURCE = """\
def f(x: f32[2]) -> f32:
    if x[0] > 0.0:
        x = one_hot(i64(x[0]), 2)
    else:
        x = one_hot(i64(x[1]), 2)
    return sum(x * x)
df = grad(f, wrt=x)
"""
ENTRY = "df"
ARGS = [np.ones(2, np.float32)]
FIXED = "ad-transpose: a branch whose only linear ops are dead is transposed, not copied as primal code"
