"""A reduction of an offset slice (`sum(x[1:3])`) fails to compile: invalid IR after linalg-fuse-elementwise.

Observed: compiled mode raises LoomError "invalid IR after pass 'linalg-fuse-elementwise' (a bug
    in that pass): invalid indexing maps are non-invertible: ((d0) -> ((d0 + 1)))" for
    `sum(x[1:3])`; also `max(x[1:3])`, `logsumexp(x[1:3])`, `softmax(x[1:3])`,
    `sum(x[1:3], axis=0)` on a matrix. Eager gives the right value. This widens
    /work/shared/repro/F01 (stepped slices `y[::2]`): any slice that does not start at 0 fails.
Expected: compiled == eager (x[1] + x[2]).
How found: python -m tests.fuzz (generated program: `logsumexp(normal((5,), seed=1)[1:3])`),
    minimised by hand.
"""

import numpy as np

FIXED = "fixed on main (seen at d0184ca); kept as a regression test"

SOURCE = "def f(x: f32[5]) -> f32:\n    return sum(x[1:3])\n"
ARGS = [np.arange(5, dtype=np.float32)]
