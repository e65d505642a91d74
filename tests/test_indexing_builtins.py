"""Indexing (LANGUAGE.md §5) against NumPy references written independently
here (values, element types and shapes), in every execution of tests/conftest.py `EXECUTIONS`
(the `pipeline` fixture); helpers: tests/builtin_helpers.py.
"""

from __future__ import annotations

import numpy as np
import pytest

import compiler
from tests.builtin_helpers import (
    check,
    load,
    run,
    ty,
)

# ====================================================================== indexing
X34 = np.arange(12, dtype=np.float32).reshape(3, 4) * 1.5 - 4


STATIC_INDEX = ["x[1]", "x[-1]", "x[1, -2]", "x[-3, 0]", "x[1:3]", "x[::2]", "x[::-1]", "x[2:0:-1]",
                "x[-2:]", "x[:, 1:3]", "x[1:, ::-1]", "x[:, -1]", "x[0, ::-2]", "x[5:1]", "x[:, 3:0:-2]",
                "x[-1:-4:-1, 1]", "x[10:]", "x[-10:2]", "x[:, ::3]", "x[::-1, ::-1]", "x[:]", "x[1:2, 2:3]",
                "x[2, :]", "x[:, :]"]


@pytest.mark.parametrize("expr", STATIC_INDEX)
def test_static_indexing(expr, pipeline):
    x = X34.copy()
    want = eval(expr, {"x": x})
    got = run(f"""
        def f(x: f32[3, 4]) -> {ty("f32", np.shape(want))}:
            return {expr}
        """, x, pipeline=pipeline)
    check(got, want, "f32")


def test_static_indexing_1d_steps(pipeline):
    x = np.arange(10, dtype=np.int64)
    exprs = ["x[1:8:3]", "x[8:1:-3]", "x[::-4]", "x[-1::-2]", "x[:-7:-1]", "x[3:3]", "x[9]", "x[-10]"]
    shapes = [np.shape(eval(e, {"x": x})) for e in exprs]
    got = run(f"""
        def f(x: i64[10]) -> ({", ".join(ty("i64", s) for s in shapes)}):
            return {", ".join(exprs)}
        """, x, pipeline=pipeline)
    for g, e in zip(got, exprs):
        check(g, eval(e, {"x": x}), "i64")


@pytest.mark.parametrize("i", [0, 2, -1, -3])
def test_dynamic_index(i, pipeline):
    x = X34.copy()
    src = """
        def f(x: f32[3, 4], i: i64, j: i64) -> (f32[4], f32, f32[3], f32, f32[2]):
            return x[i], x[i, j], x[:, j], x[-1, j], x[1:, j]
        """
    j = i % 4
    got = run(src, x, i, j, pipeline=pipeline)
    check(got[0], x[i], "f32")
    check(got[1], x[i, j], "f32")
    check(got[2], x[:, j], "f32")
    check(got[3], x[-1, j], "f32")
    check(got[4], x[1:, j], "f32")


def test_dynamic_index_i32_and_expression(pipeline):
    src = """
        def f(x: i64[6], i: i32) -> (i64, i64):
            return x[i], x[i * 2 - 1]
        """
    x = np.arange(6, dtype=np.int64) * 10
    got = run(src, x, np.int32(2), pipeline=pipeline)
    check(got[0], 20, "i64")
    check(got[1], 30, "i64")


@pytest.mark.parametrize("i", [0, 1, 3])
def test_dynamic_window(i, pipeline):
    x = np.arange(24, dtype=np.float64).reshape(6, 4)
    src = """
        def f(x: f64[6, 4], i: i64) -> (f64[3, 4], f64[6, 2], f64[2, 1]):
            return x[i:i+3], x[:, i % 3:i % 3 + 2], x[i:i+2, 1:2]
        """
    got = run(src, x, i, pipeline=pipeline)
    check(got[0], x[i:i + 3], "f64")
    check(got[1], x[:, i % 3:i % 3 + 2], "f64")
    check(got[2], x[i:i + 2, 1:2], "f64")


@pytest.mark.parametrize("i", [6, -1])
def test_dynamic_window_out_of_range(i, pipeline):
    with pytest.raises(compiler.LoomRuntimeError):
        run("def f(x: f32[8], i: i64) -> f32[3]:\n    return x[i:i+3]\n", np.zeros(8, np.float32), i,
            pipeline=pipeline)


def test_dynamic_index_out_of_range(pipeline):
    p = load("def f(x: f32[3, 4], i: i64) -> f32[4]:\n    return x[i]\n", pipeline)
    for i in (3, -4, 100):
        with pytest.raises(compiler.LoomRuntimeError):
            p.f(X34, i)


UPDATES = [
    ("x[1] = 0.0", lambda x, i: x.__setitem__(1, 0.0)),
    ("x[-1] = v", lambda x, i: x.__setitem__(-1, 9.5)),
    ("x[i] = 0.0", lambda x, i: x.__setitem__(i, 0.0)),
    ("x[:, 1:3] = 0", lambda x, i: x.__setitem__((slice(None), slice(1, 3)), 0)),
    ("x[i] += 1", lambda x, i: x.__setitem__(i, x[i] + 1)),
    ("x[i, 2] *= 2", lambda x, i: x.__setitem__((i, 2), x[i, 2] * 2)),
    ("x[1, :] = row", lambda x, i: x.__setitem__((1, slice(None)), np.array([1, 2, 3, 4]))),
    ("x[::2] = row", lambda x, i: x.__setitem__(slice(None, None, 2), np.array([1, 2, 3, 4]))),
    ("x[:, ::-1] = x", lambda x, i: x.__setitem__((slice(None), slice(None, None, -1)), x.copy())),
    ("x[w:w+2] = 5.0", lambda x, i: x.__setitem__(slice(i % 2, i % 2 + 2), 5.0)),
    ("x[w:w+2, 0] -= 1.0", lambda x, i: x.__setitem__((slice(i % 2, i % 2 + 2), 0), x[i % 2:i % 2 + 2, 0] - 1.0)),
    ("x[:, i] = col", lambda x, i: x.__setitem__((slice(None), i), np.array([7, 8, 9]))),
    ("x[2:0:-1, 1] = col[:2]", lambda x, i: x.__setitem__((slice(2, 0, -1), 1), np.array([7, 8]))),
    ("x[-1, -1] /= 2.0", lambda x, i: x.__setitem__((-1, -1), x[-1, -1] / 2)),
]


@pytest.mark.parametrize("i", [0, 1, -2])
@pytest.mark.parametrize("stmt,ref", UPDATES, ids=[u[0] for u in UPDATES])
def test_functional_update(stmt, ref, i, pipeline):
    x = X34.copy()
    src = f"""
        def f(x: f32[3, 4], i: i64, v: f32) -> (f32[3, 4], f32[3, 4]):
            old = x
            row = f32(arange(4)) + 1.0
            col = f32(arange(3)) + 7.0
            w = i % 2
            {stmt}
            return x, old
        """
    got, old = run(src, x, i, np.float32(9.5), pipeline=pipeline)
    want = X34.copy()
    ref(want, i)
    check(got, want, "f32")
    check(old, X34, "f32")  # the update made a copy
    np.testing.assert_array_equal(x, X34)  # the caller's array is untouched


def test_update_in_loop_and_int(pipeline):
    src = """
        def f(n: i64) -> (i64[5], i32[2, 3]):
            acc = zeros((5,), i64)
            m = zeros((2, 3), i32)
            for k in range(n):
                acc[k % 5] += k
                m[k % 2, k % 3] = i32(k)
            return acc, m
        """
    acc, m = run(src, 12, pipeline=pipeline)
    want_acc = np.zeros(5, np.int64)
    want_m = np.zeros((2, 3), np.int32)
    for k in range(12):
        want_acc[k % 5] += k
        want_m[k % 2, k % 3] = k
    check(acc, want_acc, "i64")
    check(m, want_m, "i32")


def test_update_out_of_range_is_an_error(pipeline):
    p = load("def f(x: f32[4], i: i64) -> f32[4]:\n    x[i:i+2] = 0.0\n    return x\n", pipeline)
    with pytest.raises(compiler.LoomRuntimeError):
        p.f(np.zeros(4, np.float32), 3)
    check(p.f(np.ones(4, np.float32), 2), [1, 1, 0, 0], "f32")
