"""The arithmetic operators (LANGUAGE.md §5) against NumPy references written independently
here (values, element types and shapes), in every execution of tests/conftest.py `EXECUTIONS`
(the `pipeline` fixture); helpers: tests/builtin_helpers.py.
"""

from __future__ import annotations

import numpy as np
import pytest

import compiler
from tests.builtin_helpers import (
    FLOATS,
    INTS,
    LOOSE,
    NP,
    check,
    load,
    rand,
    run,
    ty,
)

# ====================================================================== arithmetic operators
ARITH = {
    "+": np.add, "-": np.subtract, "*": np.multiply, "/": np.true_divide,
    "//": np.floor_divide, "%": np.mod, "**": np.power,
}


@pytest.mark.parametrize("op,dt", [(op, dt) for op in ARITH for dt in FLOATS + INTS if not (op == "/" and dt in INTS)])
def test_arithmetic_broadcasting(op, dt, pipeline):
    rng = np.random.default_rng(13)
    a, b = rand(rng, dt, (2, 3, 4)), rand(rng, dt, (3, 1))
    if op in ("//", "%"):
        b = np.where(b == 0, NP[dt](2), b).astype(NP[dt])
    if op == "**":
        a = rand(rng, dt, (2, 3, 4), 0.5, 2.0) if dt in FLOATS else rng.integers(-3, 4, (2, 3, 4)).astype(NP[dt])
        b = rand(rng, dt, (3, 1), -2.0, 3.0) if dt in FLOATS else rng.integers(0, 5, (3, 1)).astype(NP[dt])
    f = ARITH[op]
    if op == "**":
        got = run(f"""
            def f(a: {dt}[2, 3, 4], b: {dt}[3, 1]) -> {dt}[2, 3, 4]:
                return a ** b
            """, a, b, pipeline=pipeline)
        check(got, f(a.astype(np.float64), b) if dt in FLOATS else f(a, b), dt, LOOSE.get(dt))
        return
    got = run(f"""
        def f(a: {dt}[2, 3, 4], b: {dt}[3, 1]) -> ({dt}[2, 3, 4], {dt}[3, 4]):
            return a {op} b, b {op} a[0]
        """, a, b, pipeline=pipeline)
    if dt in INTS or op in ("//", "%"):
        w0, w1 = f(a, b), f(b, a[0])  # flooring is sensitive to rounding: compare in the type itself
    else:
        w0, w1 = f(a.astype(np.float64), b), f(b.astype(np.float64), a[0])
    check(got[0], w0, dt, LOOSE.get(dt))
    check(got[1], w1, dt, LOOSE.get(dt))


@pytest.mark.parametrize("dt", FLOATS + INTS)
def test_arithmetic_with_weak_literals(dt, pipeline):
    x = np.array([1, 2, 3, 4], NP[dt])
    lit = "2.0" if dt in FLOATS else "2"
    src = f"""
        def f(x: {dt}[4]) -> ({dt}[4], {dt}[4], {dt}[4], {dt}[4], {dt}[4], {dt}[4], {dt}[4]):
            return x + {lit}, {lit} - x, x * 3, 7 // x, x % 3, x ** 2, -x
        """
    got = run(src, x, pipeline=pipeline)
    two = NP[dt](2)
    wants = [x + two, two - x, x * NP[dt](3), NP[dt](7) // x, x % NP[dt](3), x ** NP[dt](2), -x]
    for g, w in zip(got, wants):
        check(g, w, dt)


def test_float_division_ieee(pipeline):
    a = np.array([1.0, -1.0, 0.0, 3.0], np.float32)
    b = np.array([0.0, 0.0, 0.0, 2.0], np.float32)
    with np.errstate(all="ignore"):
        want = a / b
    check(run("def f(a: f32[4], b: f32[4]) -> f32[4]:\n    return a / b\n", a, b, pipeline=pipeline), want, "f32")


def test_scalar_arithmetic(pipeline):
    src = """
        def f(a: f64, b: f64, i: i64, j: i64) -> (f64, f64, f64, i64, i64, i64, f64, f64):
            return a + b * a, a / b, a ** b, i * j - i, i // j, i % j, a // b, a % b
        """
    a, b, i, j = 2.5, -1.5, 17, -5
    got = run(src, a, b, i, j, pipeline=pipeline)
    wants = [(a + b * a, "f64"), (a / b, "f64"), (a ** b, "f64"), (i * j - i, "i64"), (i // j, "i64"),
             (i % j, "i64"), (a // b, "f64"), (a % b, "f64")]
    for g, (w, dt) in zip(got, wants):
        check(g, w, dt)


def test_constant_arithmetic_is_folded_correctly(pipeline):
    src = """
        def f() -> (i64, i64, i64, i64, f32, f32, f64, i64, bool, f32):
            return 7 // -2, -7 % 3, 2 ** 10, -(-(5)), 1.0 / 3.0, 0.1 + 0.2, f64(0.1) + f64(0.2), i64(-2.7), 3 > 2 and not (1 == 1), -0.0 * 1.0
        """
    got = run(src, pipeline=pipeline)
    wants = [(7 // -2, "i64"), (-7 % 3, "i64"), (1024, "i64"), (5, "i64"),
             (np.float32(1.0) / np.float32(3.0), "f32"), (np.float32(0.1) + np.float32(0.2), "f32"),
             (0.1 + 0.2, "f64"), (-2, "i64"), (False, "bool"), (np.float32(-0.0), "f32")]
    for g, (w, dt) in zip(got, wants):
        check(g, w, dt, dict(rtol=0, atol=0) if dt in FLOATS else None)
    assert np.signbit(got[9])


def test_strong_float_constants_fold_like_runtime_arithmetic(pipeline):
    # strong (typed) float constants are computed in their own precision, folded or not
    src = """
        def f() -> (f32, bool, bool, f64, f32):
            a = f32(0.1)
            return a / f32(3.0) + a * a - exp(a) ** f32(1.5), f32(0.1) == 0.1, f64(f32(0.1)) == f64(0.1), f64(a) * 3.0, sqrt(f32(2.0)) * sqrt(f32(2.0))
        """
    got = run(src, pipeline=pipeline)
    a = np.float32(0.1)
    # (1 ulp: NumPy's own scalar `**` and ufunc `power` differ by one ulp for f32)
    check(got[0], a / np.float32(3) + a * a - np.exp(a) ** np.float32(1.5), "f32", dict(rtol=3e-7, atol=0))
    check(got[1], True, "bool")
    check(got[2], False, "bool")
    check(got[3], np.float64(a) * 3.0, "f64", dict(rtol=0, atol=0))
    check(got[4], np.sqrt(np.float32(2)) * np.sqrt(np.float32(2)), "f32", dict(rtol=0, atol=0))


def test_nan_to_int_error_survives_folding(pipeline):
    with pytest.raises(compiler.LoomRuntimeError, match="NaN"):
        run("def f() -> i64:\n    return i64(sqrt(f32(-1.0)))\n", pipeline=pipeline)


def test_constant_float_division_by_zero_is_ieee(pipeline):
    got = run("def f() -> (f32, f32):\n    return 1.0 / 0.0, 0.0 ** -1.0\n", pipeline=pipeline)
    check(got[0], np.inf, "f32")
    check(got[1], np.inf, "f32")


# ---------------------------------------------------------------------- integer semantics
INT_PAIRS = [(a, b) for a in range(-7, 8) for b in range(-4, 5) if b != 0]


@pytest.mark.parametrize("dt", INTS)
def test_floordiv_mod_match_python(dt, pipeline):
    a = np.array([p[0] for p in INT_PAIRS], NP[dt])
    b = np.array([p[1] for p in INT_PAIRS], NP[dt])
    n = len(INT_PAIRS)
    got = run(f"""
        def f(a: {dt}[{n}], b: {dt}[{n}]) -> ({dt}[{n}], {dt}[{n}]):
            return a // b, a % b
        """, a, b, pipeline=pipeline)
    check(got[0], [x // y for x, y in INT_PAIRS], dt)
    check(got[1], [x % y for x, y in INT_PAIRS], dt)
    # the identity a == (a // b) * b + a % b holds, and a % b has b's sign
    np.testing.assert_array_equal(got[0] * b + got[1], a)


def test_floordiv_mod_scalars_match_python(pipeline):
    p = load("def f(a: i64, b: i64) -> (i64, i64):\n    return a // b, a % b\n", pipeline)
    for x, y in INT_PAIRS + [(10**12 + 7, -3), (-(10**12), 7)]:
        q, r = p.f(x, y)
        assert (int(q), int(r)) == (x // y, x % y), (x, y)
        assert isinstance(q, np.int64)


def test_floordiv_mod_of_literals_match_python(pipeline):
    pairs = INT_PAIRS[::3]
    body = ", ".join(f"({x}) // ({y}), ({x}) % ({y})" for x, y in pairs)
    src = f"def f() -> ({', '.join(['i64'] * (2 * len(pairs)))}):\n    return {body}\n"
    got = run(src, pipeline=pipeline)
    assert [int(v) for v in got] == [v for x, y in pairs for v in (x // y, x % y)]


def test_float_floordiv_mod_match_python(pipeline):
    pairs = [(7.5, 2.0), (-7.5, 2.0), (7.5, -2.0), (-7.5, -2.0), (1.0, 0.3), (-1.0, 0.3), (5.0, 2.5), (-0.0, 3.0)]
    a = np.array([p[0] for p in pairs])
    b = np.array([p[1] for p in pairs])
    got = run("def f(a: f64[8], b: f64[8]) -> (f64[8], f64[8]):\n    return a // b, a % b\n", a, b, pipeline=pipeline)
    check(got[0], [x // y for x, y in pairs], "f64", dict(rtol=0, atol=0))
    check(got[1], [x % y for x, y in pairs], "f64", dict(rtol=1e-15, atol=1e-15))


@pytest.mark.parametrize("dt", INTS)
def test_integer_overflow_wraps(dt, pipeline):
    info = np.iinfo(NP[dt])
    a = np.array([info.max, info.min, info.max, info.min, -1, 3], NP[dt])
    b = np.array([1, -1, info.max, 2, info.min, info.max], NP[dt])
    got = run(f"""
        def f(a: {dt}[6], b: {dt}[6]) -> ({dt}[6], {dt}[6], {dt}[6], {dt}[6], {dt}[6], {dt}[6]):
            return a + b, a - b, a * b, -a, a // b, a ** 3
        """, a, b, pipeline=pipeline)
    with np.errstate(all="ignore"):
        wants = [a + b, a - b, a * b, -a, np.floor_divide(a, b), a ** NP[dt](3)]
    for g, w in zip(got, wants):
        check(g, w, dt)


def test_int_min_floordiv_minus_one_wraps(pipeline):
    a = np.array([np.iinfo(np.int64).min], np.int64)
    got = run("def f(a: i64[1]) -> (i64[1], i64[1]):\n    return a // -1, a % -1\n", a, pipeline=pipeline)
    with np.errstate(all="ignore"):
        check(got[0], np.floor_divide(a, np.int64(-1)), "i64")
        check(got[1], np.mod(a, np.int64(-1)), "i64")


def test_scalar_overflow_wraps(pipeline):
    src = """
        def f(a: i32, b: i64) -> (i32, i64, i32, i64):
            return a + 1, b * 2, a * a, b + b
        """
    got = run(src, np.int32(2**31 - 1), np.int64(2**62), pipeline=pipeline)
    check(got[0], np.int32(-(2**31)), "i32")
    check(got[1], np.int64(-(2**63)), "i64")
    check(got[2], np.int32(1), "i32")
    check(got[3], np.int64(-(2**63)), "i64")


@pytest.mark.parametrize("expr,value", [("a + 1", -(2**31)), ("a * a", 1)])
def test_constant_expressions_of_typed_integers_wrap(expr, value, pipeline):
    # LANGUAGE.md §11: integer arithmetic wraps; folding at compile time must agree with run time
    src = f"def f() -> i64:\n    a = i32(2147483647)\n    return i64({expr})\n"
    assert run(src, pipeline=pipeline) == np.int64(value)


@pytest.mark.parametrize("expr", ["4611686018427387904 * 2", "2 ** 63"])
def test_overflowing_literal_expressions_are_compile_time_errors(expr, pipeline):
    # literals that do not fit their type are errors (§11), also when computed from literals
    with pytest.raises(compiler.LoomTypeError, match="does not fit in i64"):
        load(f"def f() -> i64:\n    return {expr}\n", pipeline)


def test_constant_negation_and_conversion_wrap(pipeline):
    src = """
        def f() -> (i32, i32, i32):
            a = i32(-2147483647 - 1)
            return -a, abs(a), i32(3000000000)
        """
    got = run(src, pipeline=pipeline)
    with np.errstate(all="ignore"):
        a = np.int32(-(2**31))
        check(got[0], -a, "i32")
        check(got[1], np.abs(a), "i32")
        check(got[2], np.int64(3000000000).astype(np.int32), "i32")


@pytest.mark.parametrize("src,args", [
    ("def f(a: i64, b: i64) -> i64:\n    return a // b\n", (3, 0)),
    ("def f(a: i32[2], b: i32[2]) -> i32[2]:\n    return a % b\n", (np.array([1, 2], np.int32), np.array([1, 0], np.int32))),
    ("def f(a: i64) -> i64:\n    return a ** -1\n", (2,)),
    ("def f(a: i64, b: i64) -> i64:\n    c = 5\n    return c % (b - b) + a\n", (3, 4)),
])
def test_integer_runtime_errors_survive_optimization(src, args, pipeline):
    with pytest.raises(compiler.LoomRuntimeError):
        run(src, *args, pipeline=pipeline)


DEAD_ERRORS = [
    ("def f(x: f32[4], i: i64) -> f32[4]:\n    y = x[i]\n    return x\n", (np.zeros(4, np.float32), 9)),
    ("def f(a: i64, b: i64) -> i64:\n    c = a // b\n    return a\n", (1, 0)),
    ("def f(x: f32[4]) -> f32[4]:\n    c = i64(x)\n    return x\n", (np.full(4, np.nan, np.float32),)),
    ("def f(x: f32[0]) -> f32[0]:\n    c = max(x)\n    return x\n", (np.zeros(0, np.float32),)),
]
# LANGUAGE.md §11: the check of a value that is never used may be removed by optimization (as in
# MLIR/XLA); the unoptimized IR keeps every check.
@pytest.mark.parametrize("pipe", ["none"])
@pytest.mark.parametrize("src,args", DEAD_ERRORS, ids=["index", "floordiv", "nan_to_int", "max_empty"])
def test_runtime_errors_of_unused_values_are_kept(src, args, pipe):
    with pytest.raises(compiler.LoomRuntimeError):
        run(src, *args, pipeline=pipe)


@pytest.mark.parametrize("expr", ["5 // 0", "5 % (3 - 3)"])
def test_constant_integer_division_by_zero_is_a_run_time_error(expr, pipeline):
    prog = load(f"def f() -> i64:\n    return {expr}\n", pipeline)
    with pytest.raises(compiler.LoomRuntimeError, match="division by zero"):
        prog.f()



@pytest.mark.parametrize("expr,message", [("x // d", "division by zero"), ("x % d", "division by zero"),
                                          ("x ** d", "negative integer powers")])
def test_integer_checks_of_an_empty_result_do_not_fire(expr, message, pipeline):
    """An elementwise op that computes no element has no run-time error (its checks are per
    element, as NumPy computes nothing): `//`, `%` by a zero and `**` of a negative exponent that
    broadcast against an empty tensor. A fuzz finding: the reference executor checked the divisor
    whatever the result's size, compiled code checks in the element loop."""
    prog = load(f"def f(x: i64[N, 2], d: i64[2]) -> i64[N, 2]:\n    return {expr}\n", pipeline)
    d = np.array([0, -1])
    assert prog.f(np.zeros((0, 2), np.int64), d).shape == (0, 2)
    with pytest.raises(compiler.LoomRuntimeError, match=message):
        prog.f(np.ones((1, 2), np.int64), d)

# ---------------------------------------------------------------------- comparisons and logic
CMPS = {"<": np.less, "<=": np.less_equal, ">": np.greater, ">=": np.greater_equal, "==": np.equal, "!=": np.not_equal}


@pytest.mark.parametrize("dt", FLOATS + INTS)
@pytest.mark.parametrize("op", list(CMPS))
def test_comparisons(op, dt, pipeline):
    rng = np.random.default_rng(14)
    a = rng.integers(-2, 3, (3, 4)).astype(NP[dt])
    b = rng.integers(-2, 3, (4,)).astype(NP[dt])
    got = run(f"""
        def f(a: {dt}[3, 4], b: {dt}[4]) -> (bool[3, 4], bool[4], bool):
            return a {op} b, b {op} 0, a[0, 0] {op} b[1]
        """, a, b, pipeline=pipeline)
    f = CMPS[op]
    check(got[0], f(a, b), "bool")
    check(got[1], f(b, 0), "bool")
    check(got[2], f(a[0, 0], b[1]), "bool")


def test_comparisons_with_nan(pipeline):
    a = np.array([np.nan, 1.0, np.nan], np.float32)
    b = np.array([np.nan, np.nan, 1.0], np.float32)
    got = run("def f(a: f32[3], b: f32[3]) -> (bool[3], bool[3], bool[3], bool[3]):\n"
              "    return a == b, a != b, a < b, a >= b\n", a, b, pipeline=pipeline)
    for g, w in zip(got, [a == b, a != b, a < b, a >= b]):
        check(g, w, "bool")


def test_bool_comparisons(pipeline):
    a = np.array([True, True, False, False])
    b = np.array([True, False, True, False])
    got = run("def f(a: bool[4], b: bool[4]) -> (bool[4], bool[4]):\n    return a == b, a != b\n", a, b,
              pipeline=pipeline)
    check(got[0], a == b, "bool")
    check(got[1], a != b, "bool")


def test_logic(pipeline):
    a = np.array([[True, True, False, False]] * 2)
    b = np.array([True, False, True, False])
    got = run("""
        def f(a: bool[2, 4], b: bool[4], s: bool) -> (bool[2, 4], bool[2, 4], bool[4], bool[4], bool, bool):
            return a and b, a or b, not b, b and s, s or false, not (s and true)
        """, a, b, True, pipeline=pipeline)
    wants = [a & b, a | b, ~b, b & True, True, False]
    for g, w in zip(got, wants):
        check(g, w, "bool")


def test_not_not_and_neg_neg(pipeline):
    src = """
        def f(b: bool[3], x: i32[3], y: f32[3]) -> (bool[3], i32[3], f32[3]):
            return not not b, -(-x), -(-y)
        """
    b = np.array([True, False, True])
    x = np.array([np.iinfo(np.int32).min, 0, 5], np.int32)
    y = np.array([-0.0, np.nan, 1.5], np.float32)
    got = run(src, b, x, y, pipeline=pipeline)
    check(got[0], b, "bool")
    check(got[1], x, "i32")
    check(got[2], y, "f32")
    assert np.signbit(got[2][0])


# ---------------------------------------------------------------------- matmul
MATMULS = [((4,), (4,)), ((3, 4), (4,)), ((4,), (4, 5)), ((3, 4), (4, 5)), ((2, 3, 4), (2, 4, 5)),
           ((2, 3, 4), (4, 5)), ((4,), (2, 4, 5)), ((2, 3, 4), (4,)), ((2, 1, 3, 4), (5, 4, 2)),
           ((1, 4), (4, 1))]


@pytest.mark.parametrize("dt", FLOATS + INTS)
@pytest.mark.parametrize("sa,sb", MATMULS, ids=str)
def test_matmul(sa, sb, dt, pipeline):
    rng = np.random.default_rng(15)
    a, b = rand(rng, dt, sa), rand(rng, dt, sb)
    want = np.matmul(a, b)
    got = run(f"""
        def f(a: {ty(dt, sa)}, b: {ty(dt, sb)}) -> {ty(dt, want.shape)}:
            return a @ b
        """, a, b, pipeline=pipeline)
    ref = np.matmul(a.astype(np.float64), b.astype(np.float64)) if dt in FLOATS else want
    check(got, ref, dt, LOOSE.get(dt))


def test_matmul_symbolic_dims_and_chain(pipeline):
    src = """
        def f(x: f64[B, 3], w: f64[3, 4], v: f64[4]) -> f64[B]:
            return x @ w @ v
        """
    rng = np.random.default_rng(16)
    x, w, v = rng.standard_normal((5, 3)), rng.standard_normal((3, 4)), rng.standard_normal(4)
    check(run(src, x, w, v, pipeline=pipeline), x @ w @ v, "f64", LOOSE["f64"])


# ---------------------------------------------------------------------- casts
CAST_INPUTS = {
    "f32": np.array([-2.7, -0.5, 0.0, 0.5, 2.7, 100.25], np.float32),
    "f64": np.array([-2.7, -0.5, -0.0, 0.5, 2.7, 1e10], np.float64),
    "i32": np.array([-5, -1, 0, 1, 7, 2**31 - 1], np.int32),
    "i64": np.array([-5, -1, 0, 1, 7, 2**40], np.int64),
    "bool": np.array([True, False, True, True, False, False]),
}


def _cast_ref(x, to):
    if to == "bool":
        return x != 0
    if to in INTS and x.dtype.kind == "f":
        return np.trunc(x.astype(np.float64)).astype(NP[to])
    return x.astype(NP[to])


@pytest.mark.parametrize("to", FLOATS + INTS + ("bool",))
@pytest.mark.parametrize("frm", FLOATS + INTS + ("bool",))
def test_casts(frm, to, pipeline):
    x = CAST_INPUTS[frm]
    if frm == "f64" and to == "i32":
        x = x[:-1]
    n = len(x)
    got = run(f"""
        def f(x: {frm}[{n}], s: {frm}) -> ({to}[{n}], {to}):
            return {to}(x), {to}(s)
        """, x, x[1], pipeline=pipeline)
    with np.errstate(all="ignore"):
        check(got[0], _cast_ref(x, to), to, dict(rtol=0, atol=0) if to in FLOATS else None)
        check(got[1], _cast_ref(x[1:2], to)[0], to, dict(rtol=0, atol=0) if to in FLOATS else None)


def test_cast_nan_to_bool_and_literals(pipeline):
    src = """
        def f(x: f32[3]) -> (bool[3], f64, i32, bool, f32):
            return bool(x), f64(1), i32(-3.9), bool(0.0), f32(true)
        """
    x = np.array([np.nan, 0.0, -0.0], np.float32)
    got = run(src, x, pipeline=pipeline)
    check(got[0], [True, False, False], "bool")
    check(got[1], 1.0, "f64")
    check(got[2], -3, "i32")
    check(got[3], False, "bool")
    check(got[4], 1.0, "f32")


def test_cast_f64_to_f32_rounds(pipeline):
    x = np.array([0.1, 1 / 3, 1e-50, 1e300], np.float64)
    with np.errstate(over="ignore"):
        want = x.astype(np.float32)
    check(run("def f(x: f64[4]) -> f32[4]:\n    return f32(x)\n", x, pipeline=pipeline), want, "f32",
          dict(rtol=0, atol=0))


@pytest.mark.parametrize("v", [np.nan, np.inf, -np.inf])
def test_cast_non_finite_to_int_is_an_error(v, pipeline):
    with pytest.raises(compiler.LoomRuntimeError):
        run("def f(x: f32[2]) -> i64[2]:\n    return i64(x)\n", np.array([1.0, v], np.float32), pipeline=pipeline)


def test_cast_identity(pipeline):
    x = np.array([1.5, -2.5], np.float32)
    check(run("def f(x: f32[2]) -> f32[2]:\n    return f32(x)\n", x, pipeline=pipeline), x, "f32")
