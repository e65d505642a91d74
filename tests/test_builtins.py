"""The elementwise, reduction and random builtins (LANGUAGE.md §7) against NumPy references
written independently here (values, element types and shapes), in every execution of tests/conftest.py `EXECUTIONS`
(the `pipeline` fixture); helpers: tests/builtin_helpers.py.
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest

import compiler
from runtime import random as loom_random
from tests.builtin_helpers import (
    FLOATS,
    INTS,
    LOOSE,
    NP,
    PIPELINES,
    check,
    load,
    rand,
    run,
    ty,
)


# ====================================================================== elementwise builtins
def _gelu(x):
    return 0.5 * x * (1.0 + np.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * x ** 3)))


def _sigmoid(x):
    # an overflow-free form, independent of the 1/(1+exp(-x)) one
    return np.where(x >= 0, 1.0 / (1.0 + np.exp(-np.abs(x))), np.exp(-np.abs(x)) / (1.0 + np.exp(-np.abs(x))))


UNARY_FLOAT = {
    "exp": np.exp, "log": np.log, "sqrt": np.sqrt, "rsqrt": lambda x: 1.0 / np.sqrt(x), "tanh": np.tanh,
    "sigmoid": _sigmoid, "gelu": _gelu, "sin": np.sin, "cos": np.cos,
}
UNARY_NUMERIC = {"relu": lambda x: np.where(x > 0, x, 0 * x), "abs": np.abs, "sign": np.sign}
POSITIVE_ONLY = {"log", "sqrt", "rsqrt"}


@pytest.mark.parametrize("shape", [(), (3, 4)])
@pytest.mark.parametrize("dt", FLOATS)
@pytest.mark.parametrize("name", sorted(UNARY_FLOAT) + sorted(UNARY_NUMERIC))
def test_unary_float(name, dt, shape, pipeline):
    rng = np.random.default_rng(1)
    lo, hi = (0.05, 6.0) if name in POSITIVE_ONLY else (-4.0, 4.0)
    x = rand(rng, dt, shape, lo, hi)
    got = run(f"""
        def f(x: {ty(dt, shape)}) -> {ty(dt, shape)}:
            return {name}(x)
        """, x, pipeline=pipeline)
    ref = {**UNARY_FLOAT, **UNARY_NUMERIC}[name](np.asarray(x, np.float64))
    check(got, ref, dt, LOOSE[dt])


@pytest.mark.parametrize("dt", INTS)
@pytest.mark.parametrize("name", sorted(UNARY_NUMERIC))
def test_unary_int(name, dt, pipeline):
    info = np.iinfo(NP[dt])
    x = np.array([-5, -1, 0, 1, 7, info.max, info.min + 1], NP[dt])
    got = run(f"""
        def f(x: {dt}[7]) -> {dt}[7]:
            return {name}(x)
        """, x, pipeline=pipeline)
    want = {"relu": np.maximum(x, 0), "abs": np.abs(x), "sign": np.sign(x)}[name].astype(NP[dt])
    check(got, want, dt)


def test_abs_of_int_min_wraps(pipeline):
    x = np.array([np.iinfo(np.int32).min, -3], np.int32)
    check(run("def f(x: i32[2]) -> i32[2]:\n    return abs(x)\n", x, pipeline=pipeline), np.abs(x), "i32")


@pytest.mark.parametrize("dt", FLOATS)
def test_unary_special_values(dt, pipeline):
    src = f"""
        def f(x: {dt}[6]) -> ({dt}[6], {dt}[6], {dt}[6], {dt}[6], {dt}[6], {dt}[6], {dt}[6]):
            return exp(x), log(x), sqrt(x), sign(x), relu(x), sigmoid(x), abs(x)
        """
    x = np.array([0.0, -0.0, -1.0, np.inf, -np.inf, np.nan], NP[dt])
    with np.errstate(all="ignore"):
        x64 = x.astype(np.float64)
        refs = [np.exp(x64), np.log(x64), np.sqrt(x64), np.sign(x64), np.where(np.isnan(x64) | (x64 > 0), x64, 0.0),
                _sigmoid(x64), np.abs(x64)]
    got = run(src, x, pipeline=pipeline)
    for g, r in zip(got, refs):
        check(g, r, dt)
    assert not np.signbit(got[6][1])  # abs(-0.0) is +0.0


def test_sigmoid_and_gelu_extremes(pipeline):
    x = np.array([-1000.0, -80.0, -30.0, 0.0, 30.0, 80.0, 1000.0], np.float32)
    s, g = run("def f(x: f32[7]) -> (f32[7], f32[7]):\n    return sigmoid(x), gelu(x)\n", x, pipeline=pipeline)
    with np.errstate(all="ignore"):
        check(s, _sigmoid(x.astype(np.float64)), "f32")
        check(g, np.where(np.abs(x) > 50, np.maximum(x, 0), _gelu(x.astype(np.float64))), "f32", LOOSE["f32"])


def test_gelu_is_accurate_for_negative_arguments(pipeline):
    """gelu(x) = 0.5·x·(1 + tanh(u)) loses its digits for x < 0 if computed as written (1 + tanh(u)
    cancels: f32 at x = -3 kept about 5 digits, and below about -6 it is 0); Loom computes
    x / (1 + exp(-2u)), the same function, to within the rounding of u (which exp amplifies by
    |2u|) — against that form in long double here."""
    for dt in ("f32", "f64"):
        x = -np.geomspace(1e-3, 9.0, 97).astype(NP[dt])
        xl = x.astype(np.longdouble)
        ul = np.sqrt(np.longdouble(2) / np.longdouble(np.pi)) * (xl + np.longdouble(0.044715) * xl ** 3)
        ref = xl / (1 + np.exp(-2 * ul))
        got = run(f"def f(x: {dt}[97]) -> {dt}[97]:\n    return gelu(x)\n", x, pipeline=pipeline)
        rel = np.abs((got.astype(np.longdouble) - ref) / ref)
        tol = (8 + 2 * np.abs(ul)) * np.finfo(NP[dt]).eps
        assert np.all(rel <= tol), (dt, float(np.max(rel / tol)), float(x[np.argmax(rel / tol)]))


def test_unary_of_weak_literals(pipeline):
    src = """
        def f() -> (f32, f32, f32, f32, i64, i64):
            return exp(1.0), sqrt(2), tanh(0.5), gelu(1.0), abs(-3), sign(-7)
        """
    e, s, t, g, a, sg = run(src, pipeline=pipeline)
    check(e, np.float32(math.e), "f32")
    check(s, np.float32(math.sqrt(2)), "f32")
    check(t, np.float32(math.tanh(0.5)), "f32")
    check(g, np.float32(_gelu(1.0)), "f32", LOOSE["f32"])
    check(a, 3, "i64")
    check(sg, -1, "i64")


@pytest.mark.parametrize("dt", FLOATS + INTS)
@pytest.mark.parametrize("name", ["maximum", "minimum"])
def test_maximum_minimum(name, dt, pipeline):
    rng = np.random.default_rng(2)
    a, b = rand(rng, dt, (3, 4)), rand(rng, dt, (4,))
    got = run(f"""
        def f(a: {dt}[3, 4], b: {dt}[4]) -> ({dt}[3, 4], {dt}[3, 4], {dt}[4]):
            return {name}(a, b), {name}(b, a), {name}(b, 1)
        """, a, b, pipeline=pipeline)
    f = np.maximum if name == "maximum" else np.minimum
    check(got[0], f(a, b), dt)
    check(got[1], f(b, a), dt)
    check(got[2], f(b, NP[dt](1)), dt)


def test_maximum_minimum_propagate_nan(pipeline):
    a = np.array([np.nan, 1.0, 2.0], np.float64)
    b = np.array([0.0, np.nan, 3.0], np.float64)
    mx, mn = run("def f(a: f64[3], b: f64[3]) -> (f64[3], f64[3]):\n    return maximum(a, b), minimum(a, b)\n",
                 a, b, pipeline=pipeline)
    check(mx, np.maximum(a, b), "f64")
    check(mn, np.minimum(a, b), "f64")


@pytest.mark.parametrize("dt", FLOATS + INTS + ("bool",))
def test_where(dt, pipeline):
    rng = np.random.default_rng(3)
    c = rng.random((3, 4)) < 0.5
    c1 = np.array([True, False, True, False])
    a, b = rand(rng, dt, (3, 4)), rand(rng, dt, (3, 1))
    lit = "true" if dt == "bool" else "0"
    got = run(f"""
        def f(c: bool[3, 4], c1: bool[4], a: {dt}[3, 4], b: {dt}[3, 1]) -> ({dt}[3, 4], {dt}[3, 4], {dt}[3, 4]):
            return where(c, a, b), where(c1, b, a), where(c, {lit}, a)
        """, c, c1, a, b, pipeline=pipeline)
    check(got[0], np.where(c, a, b), dt)
    check(got[1], np.where(c1, b, a), dt)
    check(got[2], np.where(c, NP[dt](True if dt == "bool" else 0), a), dt)


def test_where_scalars(pipeline):
    src = """
        def f(c: bool, a: f64, b: f64) -> (f64, f32):
            return where(c, a, b), where(c, 1.5, 2.5)
        """
    p = load(src, pipeline)
    check(p.f(True, 1.0, 2.0)[0], 1.0, "f64")
    check(p.f(False, 1.0, 2.0)[0], 2.0, "f64")
    check(p.f(False, 1.0, 2.0)[1], 2.5, "f32")


def test_where_constant_condition(pipeline):
    src = """
        def f(a: f32[3], b: f32[3]) -> (f32[3], f32[3]):
            return where(true, a, b), where(1 > 2, a, b)
        """
    a, b = np.arange(3, dtype=np.float32), -np.arange(3, dtype=np.float32)
    t, e = run(src, a, b, pipeline=pipeline)
    check(t, a, "f32")
    check(e, b, "f32")


# ====================================================================== reductions
AXES = [None, 0, 1, -1, (0, 2), (-1, 0), (0, 1, 2), (-2,)]


def _axis_text(axis) -> str:
    if axis is None:
        return ""
    if isinstance(axis, tuple):
        return f", axis=({', '.join(map(str, axis))}{',' if len(axis) == 1 else ''})"
    return f", axis={axis}"


def _red_shape(shape, axis, keep):
    rank = len(shape)
    axes = range(rank) if axis is None else [a % rank for a in (axis if isinstance(axis, tuple) else (axis,))]
    if keep:
        return tuple(1 if i in axes else d for i, d in enumerate(shape))
    return tuple(d for i, d in enumerate(shape) if i not in axes)


REDUCE_REF = {
    "sum": lambda x, axis, keep: np.sum(x, axis=axis, keepdims=keep, dtype=x.dtype),
    "prod": lambda x, axis, keep: np.prod(x, axis=axis, keepdims=keep, dtype=x.dtype),
    "max": lambda x, axis, keep: np.max(x, axis=axis, keepdims=keep),
    "min": lambda x, axis, keep: np.min(x, axis=axis, keepdims=keep),
    "mean": lambda x, axis, keep: np.mean(x.astype(np.float64), axis=axis, keepdims=keep),
    "any": lambda x, axis, keep: np.any(x, axis=axis, keepdims=keep),
    "all": lambda x, axis, keep: np.all(x, axis=axis, keepdims=keep),
}
REDUCE_DTYPES = {"sum": FLOATS + INTS, "prod": FLOATS + INTS, "max": FLOATS + INTS, "min": FLOATS + INTS,
                 "mean": FLOATS, "any": ("bool",), "all": ("bool",)}
REDUCE_CASES = [(n, dt) for n, dts in REDUCE_DTYPES.items() for dt in dts]


@pytest.mark.parametrize("keep", [False, True])
@pytest.mark.parametrize("axis", AXES, ids=str)
@pytest.mark.parametrize("name,dt", REDUCE_CASES)
def test_reductions(name, dt, axis, keep, pipeline):
    rng = np.random.default_rng(4)
    shape = (2, 3, 4)
    if dt == "bool":
        x = rng.random(shape) < (0.2 if name == "any" else 0.8)
    elif name == "prod":
        x = rand(rng, dt, shape, 0.5, 1.5) if dt in FLOATS else rng.integers(-2, 3, size=shape).astype(NP[dt])
    else:
        x = rand(rng, dt, shape)
    if keep and axis is None:
        kw = ", keepdims=true" if axis is not None else ", axis=(0, 1, 2), keepdims=true"
    else:
        kw = _axis_text(axis) + (", keepdims=true" if keep else "")
    out_shape = _red_shape(shape, axis, keep)
    got = run(f"""
        def f(x: {ty(dt, shape)}) -> {ty(dt, out_shape)}:
            return {name}(x{kw})
        """, x, pipeline=pipeline)
    check(got, REDUCE_REF[name](x, axis, keep), dt, LOOSE.get(dt))


def test_reduction_keepdims_false_spelled_out(pipeline):
    x = np.arange(6, dtype=np.float64).reshape(2, 3)
    got = run("def f(x: f64[2, 3]) -> f64[3]:\n    return sum(x, axis=0, keepdims=false)\n", x, pipeline=pipeline)
    check(got, x.sum(axis=0), "f64")


def test_reductions_of_scalars(pipeline):
    src = """
        def f(x: f32, i: i64, b: bool) -> (f32, f32, i64, i64, bool, i64):
            return sum(x), mean(x), max(i), prod(i), any(b), argmax(x)
        """
    got = run(src, np.float32(2.5), 7, True, pipeline=pipeline)
    for g, w, dt in zip(got, [2.5, 2.5, 7, 7, True, 0], ["f32", "f32", "i64", "i64", "bool", "i64"]):
        check(g, w, dt)


def test_integer_sum_wraps(pipeline):
    x = np.array([np.iinfo(np.int32).max, 1, 5], np.int32)
    got = run("def f(x: i32[3]) -> (i32, i32):\n    return sum(x), prod(x)\n", x, pipeline=pipeline)
    with np.errstate(over="ignore"):
        check(got[0], np.sum(x, dtype=np.int32), "i32")
        check(got[1], np.prod(x, dtype=np.int32), "i32")


def test_mean_of_f32_is_f32(pipeline):
    x = np.full((1000,), 0.1, np.float32)
    check(run("def f(x: f32[1000]) -> f32:\n    return mean(x)\n", x, pipeline=pipeline), np.float32(0.1), "f32")


def test_max_min_with_nan_and_inf(pipeline):
    x = np.array([[1.0, np.nan, 3.0], [-np.inf, 2.0, np.inf]], np.float64)
    got = run("def f(x: f64[2, 3]) -> (f64[2], f64[2], f64):\n    return max(x, axis=1), min(x, axis=1), sum(x[1])\n",
              x, pipeline=pipeline)
    with np.errstate(invalid="ignore"):
        check(got[0], np.max(x, axis=1), "f64")
        check(got[1], np.min(x, axis=1), "f64")
        check(got[2], np.sum(x[1]), "f64")


def test_reductions_of_empty_tensors(pipeline):
    src = """
        def f(x: f32[0, 3]) -> (f32[3], f32[3], f32, bool, bool, i32[3]):
            return sum(x, axis=0), prod(x, axis=0), mean(x), any(x > 0.0), all(x > 0.0), i32(sum(x, axis=0))
        """
    x = np.zeros((0, 3), np.float32)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # NumPy's "Mean of empty slice", from the executor
        got = run(src, x, pipeline=pipeline)
    with np.errstate(invalid="ignore"):
        wants = [(np.zeros(3), "f32"), (np.ones(3), "f32"), (np.nan, "f32"), (False, "bool"), (True, "bool"),
                 (np.zeros(3), "i32")]
    for g, (w, dt) in zip(got, wants):
        check(g, w, dt)
    for expr in ("max(x)", "argmin(x)", "sum(min(x, axis=0))"):
        with pytest.raises(compiler.LoomRuntimeError, match="over an axis of size 0"):
            run(f"def f(x: f32[0, 3]) -> f32:\n    return f32({expr})\n", x, pipeline=pipeline)


ARG_AXES = [None, 0, 1, 2, -1, -3]


ARG_CASES = [(axis, keep) for axis in ARG_AXES for keep in (False, True) if not (axis is None and keep)]


@pytest.mark.parametrize("axis,keep", ARG_CASES, ids=str)
@pytest.mark.parametrize("dt", ["f32", "f64", "i32", "i64"])
@pytest.mark.parametrize("name", ["argmax", "argmin"])
def test_argmax_argmin(name, dt, axis, keep, pipeline):
    rng = np.random.default_rng(5)
    shape = (2, 3, 4)
    x = rng.integers(-2, 3, size=shape).astype(NP[dt])  # many ties: the first index must win
    f = np.argmax if name == "argmax" else np.argmin
    want = f(x) if axis is None else f(x, axis=axis, keepdims=keep)
    out_shape = () if axis is None else _red_shape(shape, axis, keep)
    got = run(f"""
        def f(x: {ty(dt, shape)}) -> {ty("i64", out_shape)}:
            return {name}(x{_axis_text(axis)}{", keepdims=true" if keep else ""})
        """, x, pipeline=pipeline)
    check(got, want, "i64")


@pytest.mark.parametrize("axis", [0, -1])
def test_argmax_1d_with_axis(axis, pipeline):
    x = np.array([1.0, 5.0, 5.0, 2.0], np.float32)
    got = run(f"def f(x: f32[4]) -> i64:\n    return argmax(x, axis={axis})\n", x, pipeline=pipeline)
    check(got, np.argmax(x, axis=axis), "i64")


def test_argmax_1d_keepdims(pipeline):
    x = np.array([1.0, 5.0, 5.0, 2.0], np.float32)
    got = run("def f(x: f32[4]) -> i64[1]:\n    return argmax(x, axis=0, keepdims=true)\n", x, pipeline=pipeline)
    check(got, np.argmax(x, axis=0, keepdims=True), "i64")


def test_argmax_with_nan(pipeline):
    x = np.array([1.0, np.nan, 3.0, np.nan], np.float64)
    got = run("def f(x: f64[4]) -> (i64, i64):\n    return argmax(x), argmin(x)\n", x, pipeline=pipeline)
    check(got[0], np.argmax(x), "i64")
    check(got[1], np.argmin(x), "i64")


# ====================================================================== random numbers
RANDOM_SRC = """
    def u(s: i64) -> f32[4, 250]:
        return uniform((4, 250), seed=s)

    def u64(s: i64) -> f64[1000]:
        return uniform((1000,), seed=s, dtype=f64)

    def n(s: i64) -> f32[100000]:
        return normal((100000,), seed=s)

    def n64(s: i64) -> f64[2, 3]:
        return normal((2, 3), seed=s, dtype=f64)

    def both() -> (f32[3], f32[3], f32[3]):
        return uniform((3,), seed=7), uniform((3,), seed=7), uniform((3,), seed=8)

    def scalar(s: i64) -> (f32, f32):
        return uniform((), seed=s), normal((), seed=s)
    """


@pytest.fixture(scope="module", params=PIPELINES)
def rprog(request):
    return load(RANDOM_SRC, request.param)


def test_uniform(rprog):
    a, b, c = rprog.u(0), rprog.u(0), rprog.u(1)
    assert a.dtype == np.float32 and a.shape == (4, 250)
    np.testing.assert_array_equal(a, b)
    assert np.mean(a != c) > 0.99
    assert a.min() >= 0.0 and a.max() < 1.0
    assert abs(a.mean() - 0.5) < 0.05 and abs(a.var() - 1 / 12) < 0.01
    np.testing.assert_array_equal(a, loom_random.uniform((4, 250), 0, np.float32))
    np.testing.assert_array_equal(c, loom_random.uniform((4, 250), 1, np.float32))


def test_uniform_f64(rprog):
    a = rprog.u64(123)
    assert a.dtype == np.float64 and a.shape == (1000,)
    assert a.min() >= 0.0 and a.max() < 1.0
    np.testing.assert_array_equal(a, loom_random.uniform((1000,), 123, np.float64))
    assert not np.array_equal(a, rprog.u64(124))
    # f64 values use 53 bits: not all representable as f32
    assert np.any(a.astype(np.float32).astype(np.float64) != a)


def test_uniform_element_k_is_a_function_of_seed_and_k(rprog):
    a, b, c = rprog.both()
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)
    # (4, 250) and (1000,) share the counters: flattening order is the element index
    np.testing.assert_array_equal(rprog.u(5).reshape(-1)[:3], loom_random.uniform((3,), 5, np.float32))


def test_normal(rprog):
    z = rprog.n(42)
    assert z.dtype == np.float32 and z.shape == (100000,)
    np.testing.assert_array_equal(z, rprog.n(42))
    assert np.mean(z != rprog.n(43)) > 0.99
    assert abs(z.mean()) < 0.02 and abs(z.std() - 1.0) < 0.02
    assert abs(np.mean(z ** 3)) < 0.05 and abs(np.mean(z ** 4) - 3.0) < 0.1  # symmetric, Gaussian tails
    assert np.all(np.isfinite(z))
    np.testing.assert_array_equal(z, loom_random.normal((100000,), 42, np.float32))


@pytest.mark.parametrize("gen", ["uniform", "normal"])
def test_reference_random_needs_the_results_memory_only(gen):
    """The reference executor's generator works a chunk of counters at a time: a 16 MiB f32 result
    needs little more than 16 MiB (its uint64 and f64 temporaries of the result's size made a
    fuzzed eager `uniform((2**31,), dtype=f64)` need ~4× its 16 GiB, and the kernel killed it)."""
    import tracemalloc

    n = 1 << 22
    tracemalloc.start()
    try:
        z = getattr(loom_random, gen)((n,), 5, np.float32)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert z.nbytes == 4 * n and peak < 1.5 * z.nbytes, (peak, z.nbytes)  # it was 6× (uniform), 12× (normal)
    head = getattr(loom_random, gen)((loom_random.CHUNK + 3,), 5, np.float32)  # across a chunk's end
    np.testing.assert_array_equal(z[:loom_random.CHUNK + 3], head)


def test_normal_f64_and_negative_seed(rprog):
    z = rprog.n64(-3)
    assert z.dtype == np.float64 and z.shape == (2, 3)
    np.testing.assert_array_equal(z, loom_random.normal((2, 3), -3, np.float64))
    assert not np.array_equal(z, rprog.n64(3))


def test_random_scalars(rprog):
    u, n = rprog.scalar(9)
    assert isinstance(u, np.float32) and isinstance(n, np.float32)
    assert u == loom_random.uniform((), 9, np.float32) and n == loom_random.normal((), 9, np.float32)


def test_random_seed_from_expression(pipeline):
    src = """
        def f(s: i32) -> (f32[5], f32[5]):
            return uniform((5,), seed=s * 2 + 1), normal((5,), seed=3)
        """
    u, n = run(src, np.int32(10), pipeline=pipeline)
    np.testing.assert_array_equal(u, loom_random.uniform((5,), 21, np.float32))
    np.testing.assert_array_equal(n, loom_random.normal((5,), 3, np.float32))
