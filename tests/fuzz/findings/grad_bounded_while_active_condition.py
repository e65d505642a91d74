"""grad through a `while … bound K` whose condition computes from the parameter (`x * 2.0 < 10.0`, `f32(x) < 10.0`) joined with `and`: invalid IR after ad-tape-forwarding.

Observed: `df(2.0)` raises LoomError "invalid IR after the passes up to 'ad-tape-forwarding' (a
    bug in one of them …): Operation using value defined out of its IsolatedFromAbove parent:
    ForOp(…)" in eager mode; compiled, a ValueError traceback from canonicalize ("Operation
    insertion point must have a parent block"). The same loop without `bound`, or with a condition
    that does not read x (`w < 0 and x < 10.0` is fine: a comparison is not differentiable, but
    `x * 2.0` and `f32(x)` are), works.
Expected: df(2.0) == 1.5 (the loop runs no iteration and changes nothing differentiable).
Cause: ad-jvp differentiated the ops of the condition region (`x * 2.0`): dead tangents (the
    condition passes its arguments on unchanged), but they made ad-linearize treat the loop as
    linear and build a linear `scf.for` over the taped trip count doing nothing; ad-transpose saw
    no linear value in it, copied it as primal code and never emitted the trip-count pop it reads.
How found: python -m tests.fuzz --minutes 55 --seed 9009 (generated, derivative=True: finding
    001-exception), reduced with python -m tests.fuzz.reduce, then by hand.
"""

import numpy as np

SOURCE = """\
def f(x: f64) -> f64:
    w = 0
    while w < 0 and x * 2.0 < 10.0 bound 1:
        w = w + 1
    return x * 1.5
df = grad(f, wrt=x)
"""
ENTRY = "df"
ARGS = [np.float64(2.0)]
FIXED = ("ad-jvp copies a while loop's condition region without tangents (the condition has no "
         "derivative, as in JAX); its dead tangent ops made ad-linearize build an empty linear loop "
         "whose trip-count pop ad-transpose never emitted")
