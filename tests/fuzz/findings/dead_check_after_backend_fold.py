"""A false alarm: a check that only the backend's folding made dead was gone in compiled code but kept by the reference run of the loom-opt IR.

Observed: `x1[0] += zeros((1, 1), i32) // …0…` (a division by zero) whose result x1 is returned only
    after `if where(c, true, true): return …`: eager reports "integer division by zero", compiled
    code returns. The condition is always true, so x1's update is never used and the optimizing
    pipeline may delete it with its check (docs/language.md §11) — but loom-opt did not fold
    `where(c, true, true)`; only the backend's `arith.select` folding did, so the reference run of
    the loom-opt IR (what the oracle compares a differing error with) still failed.
Expected: loom-opt folds select(c, a, a) → a as the backend does (loom canonicalization,
    `SelectConstant`), so the reference run of the loom-opt IR elides the same check.
How found: python -m tests.fuzz --seed 2718 (a generated program), 2026-12-01; minimised by hand.
"""

import numpy as np

SOURCE = """\
def f(x1: i32[3, 1, 1], x0: i64[2]) -> (i64[2], i32[3, 1, 1]):
    x1[0] += zeros((1, 1), i32) // abs(full((1, 1), 0, i32) ** 1)
    if where(x0[0] > 0, true, true):
        return x0, -i32(ones((3, 1, 1), i64))
    return x0, x1
"""
ARGS = [np.ones((3, 1, 1), np.int32), np.ones(2, np.int64)]
FIXED = "loom canonicalization folds select(c, a, a) -> a for one value or equal integer constants"
