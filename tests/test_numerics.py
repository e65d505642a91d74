"""Numerics where compiled and eager code must agree with each other and with NumPy: float `//` and
`%` (infinities, NaN, signed zeros), reductions over axes of tensors with an empty other axis, and
the accuracy of large f32 sums (docs/language.md §11). Also: one table of op semantics serves the
reference executor and constant folding (`dialects/loom_semantics.py`)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import compiler
from dialects import loom
from dialects.loom_semantics import CHECKS, SEMANTICS
from runtime import reference
from tests.conftest import EXECUTIONS, how

MODES = ("eager", "jit")
SPECIAL = [0.0, -0.0, 1.0, -1.0, 5.0, -5.0, 7.5, -2.0, 0.5, 3e38, -3e38, 1e-45, np.inf, -np.inf, np.nan]


def load(src: str, mode: str):
    return compiler.loads(src, name="n.loom", mode=mode)


def same_bits(got: np.ndarray, want: np.ndarray) -> bool:
    """Equal values, NaN where NaN, and the same sign on zeros."""
    got, want = np.asarray(got), np.asarray(want)
    nan = np.isnan(want)
    return got.shape == want.shape and np.array_equal(np.isnan(got), nan) and \
        np.array_equal(got[~nan], want[~nan]) and np.array_equal(np.signbit(got[~nan]), np.signbit(want[~nan]))


def test_every_loom_op_has_semantics():
    own = {loom.PrintOp, loom.RandomOp}  # effects: the executor's own
    ops = set(loom.Loom.operations) - {loom.OnFailureOp}  # buffer level (loom-buffer-dealloc): never eager
    missing = ops - set(SEMANTICS) - set(CHECKS) - own
    assert not missing, f"no NumPy semantics for {sorted(o.name for o in missing)}"
    impls = reference.LoomFunctions._impls()
    assert {cls for cls, _ in impls} >= ops


# ---------------------------------------------------------------- float // and %
FLOORDIV_SRC = """
def fd(a: {t}[N], b: {t}[N]) -> {t}[N]:
    return a // b
def fm(a: {t}[N], b: {t}[N]) -> {t}[N]:
    return a % b
"""


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("t", ["f32", "f64"])
def test_float_floordiv_mod_special_values_match_numpy(mode, t):
    dt = np.float32 if t == "f32" else np.float64
    a, b = (np.array(v, dt) for v in zip(*[(x, y) for x in SPECIAL for y in SPECIAL]))
    p = load(FLOORDIV_SRC.format(t=t), mode)
    with np.errstate(all="ignore"):
        want_q, want_r = np.floor_divide(a, b), np.mod(a, b)
    got_q, got_r = p.fd(a, b), p.fm(a, b)
    bad = [(x, y, q, r, wq, wr) for x, y, q, r, wq, wr in zip(a, b, got_q, got_r, want_q, want_r)
           if not (same_bits(q, wq) and same_bits(r, wr))]
    assert not bad, f"(a, b, a//b, a%b, numpy a//b, numpy a%b): {bad[:8]}"


def test_float_floordiv_mod_issue_cases():
    """The reproducer F11: Python's answers, in both modes."""
    a, b = np.array([-np.inf, 5.0, -5.0]), np.array([1.0, np.inf, np.inf])
    for mode in MODES:
        p = load(FLOORDIV_SRC.format(t="f64"), mode)
        assert same_bits(p.fd(a, b), np.array([np.nan, 0.0, -1.0])), mode
        assert same_bits(p.fm(a, b), np.array([np.nan, 5.0, np.inf])), mode


def test_constant_folding_of_floordiv_mod_agrees_with_run_time():
    src = """
def f() -> (f64, f64, f64, f64):
    inf = 1.0 / 0.0
    return -5.0 // inf, -5.0 % inf, 5.0 // inf, (0.0 - inf) // 1.0
"""
    for mode in MODES:
        got = np.array(load(src, mode).f())
        assert same_bits(got, np.array([-1.0, np.inf, 0.0, np.nan])), mode


finite_or_special = st.one_of(st.floats(width=32, allow_nan=True, allow_infinity=True),
                              st.sampled_from(SPECIAL))


@settings(max_examples=25, deadline=None)
@given(st.lists(st.tuples(finite_or_special, finite_or_special), min_size=1, max_size=16))
def test_float_divmod_property(pairs):
    a = np.array([x for x, _ in pairs], np.float32)
    b = np.array([y for _, y in pairs], np.float32)
    p = _jit_divmod()
    with np.errstate(all="ignore"):
        assert same_bits(p.fd(a, b), np.floor_divide(a, b))
        assert same_bits(p.fm(a, b), np.mod(a, b))


_cache: dict = {}


def _jit_divmod():
    if "p" not in _cache:
        _cache["p"] = load(FLOORDIV_SRC.format(t="f32"), "jit")
    return _cache["p"]


# ---------------------------------------------------------------- reductions with empty axes
EMPTY_SRC = """
def rmax(x: f32[N, M]) -> f32[N]:
    return max(x, axis=1)
def ram(x: f32[N, M]) -> i64[N]:
    return argmax(x, axis=1)
def cmin(x: f32[N, M]) -> f32[M]:
    return min(x, axis=0)
def sm(x: f32[N, M]) -> f32[N, M]:
    return softmax(x, -1)
def ce(l: f32[N, 3], y: i64[N]) -> f32:
    return cross_entropy(l, y)
"""


@pytest.mark.parametrize("execution", EXECUTIONS)
def test_reductions_over_a_nonempty_axis_of_an_empty_tensor(execution):
    """F10: a (0, 3) tensor reduced over axis 1 (size 3) is an empty result, as in NumPy."""
    p = compiler.loads(EMPTY_SRC, name="z.loom", **how(execution))
    x = np.zeros((0, 3), np.float32)
    assert p.rmax(x).shape == (0,) and p.rmax(x).dtype == np.float32
    assert p.ram(x).shape == (0,) and p.ram(x).dtype == np.int64
    assert p.sm(x).shape == (0, 3)
    assert p.cmin(np.zeros((3, 0), np.float32)).shape == (0,)
    assert np.isnan(p.ce(x, np.zeros(0, np.int64)))  # the mean over no positions


@pytest.mark.parametrize("execution", EXECUTIONS)
@pytest.mark.parametrize("name,shape", [("rmax", (3, 0)), ("ram", (3, 0)), ("cmin", (0, 3)), ("sm", (2, 0)),
                                        ("rmax", (0, 0))])
def test_extremes_over_an_empty_axis_are_errors(execution, name, shape):
    """max/min/argmax/argmin over an axis of size 0 have no value (NumPy raises too)."""
    p = compiler.loads(EMPTY_SRC, name="z.loom", **how(execution))
    with pytest.raises(compiler.LoomRuntimeError, match=r"z\.loom:\d+:\d+: error: (max|argmax|min) over an axis of size 0"):
        getattr(p, name)(np.zeros(shape, np.float32))


# ---------------------------------------------------------------- accuracy of f32 sums
SUM_SRC = """
def s(x: f32[N]) -> f32:
    return sum(x)
def m(x: f32[N]) -> f32:
    return mean(x)
def s0(x: f32[N, M]) -> f32[M]:
    return sum(x, axis=0)
def m0(x: f32[N, M]) -> f32[M]:
    return mean(x, axis=0)
"""


@pytest.mark.parametrize("mode", MODES)
def test_large_f32_sums_are_accurate(mode):
    """F22: f32 sums accumulate in f64 in both modes: within 1e-5 relative of the f64 sum for 10M
    elements and for an axis-0 sum of (2^20, 4) (sequential f32 accumulation is off by 0.3–4 %)."""
    p = load(SUM_SRC, mode)
    x = np.full(10_000_000, 0.1, np.float32)
    truth = x.astype(np.float64).sum()
    np.testing.assert_allclose(p.s(x), truth, rtol=1e-5)
    np.testing.assert_allclose(p.m(x), truth / x.size, rtol=1e-5)
    y = np.random.default_rng(0).random((2 ** 20, 4), dtype=np.float32) + np.float32(0.1)
    truth0 = y.astype(np.float64).sum(axis=0)
    np.testing.assert_allclose(p.s0(y), truth0, rtol=1e-5)
    np.testing.assert_allclose(p.m0(y), truth0 / y.shape[0], rtol=1e-5)


def test_f32_sums_agree_between_modes():
    """Both modes round the f64 sum once: the same f32 (up to the order of f64 additions)."""
    x = np.random.default_rng(1).standard_normal((1000, 7)).astype(np.float32)
    e, j = load(SUM_SRC, "eager"), load(SUM_SRC, "jit")
    np.testing.assert_array_max_ulp(e.s0(x), j.s0(x), maxulp=1)
    np.testing.assert_array_max_ulp(e.m(x.ravel()), j.m(x.ravel()), maxulp=1)
