"""Compiled `log_softmax` above 0 (a probability above 1): the shift by the row maximum was contracted into an FMA with the multiply that made its operand.

Observed: `log_softmax(y * y, axis=1)` beside `sum(y, axis=1)` (so that `loom-fuse-rows` computes
    both in one loop over rows, `y * y` recomputed in each pass): compiled +0.0053 at the largest
    element of row 1 (y² = 131104), eager 0. LLVM contracted `y * y - max` into an FMA, which
    subtracts the maximum from the exact square instead of the rounded one: the largest element
    shifted to its square's rounding error instead of 0, in one pass and not in another.
Expected: 0 — the reference's value; log_softmax <= 0, softmax <= 1.
How found: a generated program run on large inputs (sizes 20..70; `/tmp`-scratch loop over
    `tests.fuzz.worker.run_job` with `min_size=20, max_size=70`, generated seed 566: "mismatch:
    float32 inf (check elided)", `one_hot(…) ** log_softmax(x0 * x0, axis=1)`: 0 ** +5e-5 = 0
    against 0 ** 0 = 1), minimised with python -m tests.fuzz.reduce, then by hand.
"""

import numpy as np

SOURCE = """\
def f(x: f32[8, 4]) -> (f32[8, 4], f32[8, 1]):
    y = 1.5 ** 0.25 + (-x / layer_norm(x, axis=-2))
    return log_softmax(y * y, axis=1), f32(sum(y, axis=1, keepdims=true))
"""
ARGS = [np.random.default_rng(0).uniform(-3, 3, (8, 4)).astype(np.float32)]
FIXED = "the softmax family's shift is a loom.sub marked loom.no_contract: its llvm.fsub has no `contract` flag"
