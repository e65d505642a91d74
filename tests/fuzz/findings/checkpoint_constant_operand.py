"""`grad` through a `@checkpoint`ed function whose recomputed op reads a constant tensor (`sum(full(…))`): invalid IR after ad-differentiate, both modes.

Observed: "invalid IR after the passes up to 'ad-tape-forwarding' (a bug in one of them …):
    Operation using value defined out of its IsolatedFromAbove parent: SumOp(… {ad.checkpoint})".
    `ad-linearize` recomputes a checkpointed function's ops in the backward pass from their own
    operands, and rematerializes constants there rather than taping them — but only the constants
    among the residuals themselves: the `full` read by the recomputed `sum` stayed in the forward
    function, and the recomputed `sum` in the linear one used it.
Expected: the gradient, 2.25 at x = 1.5 (f = 0.75·x²).
How found: python -m tests.fuzz (derivative checks; generated seed 398 with every f32 made f64: a
    helper `@checkpoint`ed by the generator, `a1 ** (full((3,), 0.25, f64) @ zeros((3,), f64))`),
    then minimised by hand.
"""

import numpy as np

SOURCE = """\
@checkpoint
def g(a: f64) -> f64:
    return a * sum(full((3,), 0.25, f64))

def f(x: f64) -> f64:
    return x * g(x)

gf = grad(f, wrt=x)
"""
ENTRY = "gf"
ARGS = [np.float64(1.5)]
FIXED = "ad-linearize rematerializes the constants that recomputed (@checkpoint) ops read"
