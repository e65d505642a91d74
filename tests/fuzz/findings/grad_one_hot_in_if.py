"""grad through an `if` whose branch computes `one_hot` of a value derived from the parameter: invalid IR after ad-transpose.

Observed: `df(x)` raises LoomError "invalid IR after pass 'ad-transpose' (a bug in that pass):
    Operation using value defined out of its IsolatedFromAbove parent: YieldOp(scf.yield %0 :
    !ad.tape)" (in the fuzzed program: `PopOp(... = ad.pop ... : i1)`) in both modes (eager too: the autodiff passes run before either executor). Without the `if`,
    or with `one_hot` of a constant, it works. one_hot is not differentiable in its index, so the
    gradient is 0 on the branch taken here.
Expected: df([1, 1]) == [0, 0] (the result one_hot(1, 2) = [0, 1] does not depend on x smoothly).
How found: python -m tests.fuzz (generated program with derivative=True), reduced with
    python -m tests.fuzz.reduce, then by hand.
"""

import numpy as np

SOURCE = """\
def f(x: f32[2]) -> f32:
    if x[0] > 0.0:
        x = one_hot(i64(x[0]), 2)
    else:
        x = zeros((2,))
    return sum(x * x)
df = grad(f, wrt=x)
"""
ENTRY = "df"
ARGS = [np.ones(2, np.float32)]
