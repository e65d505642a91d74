"""grad through an `if` whose branch computes a value from the parameter that is never used: invalid IR after ad-transpose.

Observed: `df(1.0, True)` raises LoomError "invalid IR after pass 'ad-transpose' (a bug in that
    pass): Operation using value defined out of its IsolatedFromAbove parent: YieldOp(scf.yield
    %0 : !ad.tape)" in both modes (the autodiff passes run before either executor). Also with
    `value_and_grad`, tensors, and a branch that rebinds x to a non-differentiable value
    (`x = one_hot(i64(x[0]), 2)`, there as `PopOp(... = ad.pop ... : i1)`). `jvp` works; without
    the `if`, or with `t = 1.0` in the branch, grad works.
Expected: df(1.0, True) == 2.0 (t is dead; the gradient of x * x).
How found: python -m tests.fuzz (generated programs with derivative=True, two instances),
    reduced with python -m tests.fuzz.reduce, then by hand.
"""

import numpy as np

FIXED = "fixed on main (seen at d0184ca); kept as a regression test"

SOURCE = """\
def f(x: f32, c: bool) -> f32:
    if c:
        t = x * 2.0
    return x * x
df = grad(f, wrt=x)
"""
ENTRY = "df"
ARGS = [np.float32(1.0), np.bool_(True)]
