"""`for` loops whose bounds are near the limits of `i64` run exactly Python's `range` (issue 9): no
bound that the compiler computes — the interrupt checks' chunks (`loom-interrupt-checks`), the
loop's step (`loom-scf-to-cf`) — wraps past the largest integer. Each loop here would hang or stop
early in compiled code before."""

from __future__ import annotations

import numpy as np
import pytest

import compiler
from tests.conftest import EXECUTIONS, how

MAX, MIN = 2 ** 63 - 1, -2 ** 63

SRC = """
def up(a: i64, b: i64) -> i64:
    s = 0
    for i in range(a, b):
        s = s + 1
    return s

def up5(a: i64, b: i64) -> i64:
    s = 0
    last = 0
    for i in range(a, b, 5):
        s = s + 1
        last = i
    return s * 1000 + last % 1000

def huge_step(a: i64, b: i64) -> i64:
    s = 0
    for i in range(a, b, 2305843009213693952):
        s = s + 1
    return s

def stepped(a: i64, b: i64, k: i64) -> i64:
    s = 0
    last = 0
    for i in range(a, b, k):
        s = s + 1
        last = i
    return s * 1000 + last % 1000

def fixed() -> i64:
    s = 0
    for i in range(9223372036854775800, 9223372036854775807, 3):
        s = s + 1
    return s
"""


def want(name: str, a: int = 0, b: int = 0, k: int = 1) -> int:
    if name == "up":
        return len(range(a, b))
    if name == "up5":
        r = range(a, b, 5)
        return len(r) * 1000 + (r[-1] % 1000 if r else 0)
    if name == "stepped":
        r = range(a, b, k)
        return len(r) * 1000 + (r[-1] % 1000 if r else 0)
    if name == "huge_step":
        return len(range(a, b, 2 ** 61))
    return len(range(MAX - 7, MAX, 3))


CASES = [
    ("up", MAX - 10, MAX),  # the chunk end c + 65536 wrapped: the loop never ended
    ("up", MAX - 70_000, MAX),  # two chunks, the second one short
    ("up", MIN, MIN + 3),
    ("up", MAX, MIN),  # empty: b - a wraps to 1
    ("up5", MAX - 10, MAX),  # i + 5 wraps past MAX after the last iteration
    ("up5", MAX - 200_000, MAX),
    ("huge_step", MIN, MAX),  # 2**61 × 65536 does not fit in 64 bits; 8 iterations, 2**64 apart
    ("huge_step", MIN + 5, MIN + 6),
    ("stepped", MIN, MAX, 2 ** 62),  # a step known at run time: stop - start wrapped (0 trips, not 4)
    ("stepped", MAX, MIN, -2 ** 62),  # and counting down
    ("stepped", MAX - 3, MIN + 3, -(2 ** 63 - 1)),
    ("stepped", MIN, MAX, MIN),  # empty: a negative step from the bottom
    ("stepped", 7, -8, -3),
    ("stepped", -8, 7, 3),
    ("fixed",),  # constant bounds: polled once, not strip-mined; the step still wraps
]


@pytest.mark.parametrize("execution", EXECUTIONS)
@pytest.mark.parametrize("case", CASES, ids=[f"{c[0]}-{k}" for k, c in enumerate(CASES)])
def test_for_loops_at_the_limits_of_i64_run_like_range(case, execution):
    p = compiler.loads(SRC, name="bounds.loom", **how(execution))
    name, *args = case
    assert int(getattr(p, name)(*[np.int64(a) for a in args])) == want(name, *args)


GRAD_SRC = """
def f(x: f64, k: i64) -> f64:
    for i in range(9, -3, k):
        x = x * 0.9 + sin(x) * f64(i)
    return x

df = grad(f, wrt=x)
"""


@pytest.mark.parametrize("execution", EXECUTIONS)
def test_gradient_through_a_loop_with_a_run_time_step(execution):
    """The trip count of a loop whose step is known only at run time (either sign) is computed
    from floor quotients and remainders; the tape of its iterations follows it."""
    p = compiler.loads(GRAD_SRC, name="stepgrad.loom", **how(execution))
    for k in (-5, -2, -1, 3):
        def ref(x, k=k):
            for i in range(9, -3, k):
                x = x * 0.9 + np.sin(x) * i
            return x
        h = 1e-6
        fd = (ref(0.3 + h) - ref(0.3 - h)) / (2 * h)
        assert float(p.f(np.float64(0.3), np.int64(k))) == pytest.approx(ref(0.3), rel=1e-12)
        assert float(p.df(np.float64(0.3), np.int64(k))) == pytest.approx(fd, rel=1e-4)
