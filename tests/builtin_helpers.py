"""Helpers shared by the builtin and operator tests (tests/test_builtins*.py, test_operators.py,
test_indexing_builtins.py): Loom type text, loading a small program, and checking a result against
a NumPy reference. Each case is a small Loom function built with `compiler.loads`, called with
NumPy inputs, in every execution of tests/conftest.py `EXECUTIONS` (the reference executor on the
IR as generated and after `loom-opt`, and compiled): none may change any result."""

from __future__ import annotations

import textwrap

import numpy as np

import compiler
from tests.conftest import EXECUTIONS, how

PIPELINES = list(EXECUTIONS)
NP = {"f32": np.float32, "f64": np.float64, "i32": np.int32, "i64": np.int64, "bool": np.bool_}
FLOATS = ("f32", "f64")
INTS = ("i32", "i64")
TOL = {"f32": dict(rtol=2e-6, atol=1e-6), "f64": dict(rtol=1e-13, atol=1e-14)}
LOOSE = {"f32": dict(rtol=1e-5, atol=1e-6), "f64": dict(rtol=1e-12, atol=1e-13)}


def ty(dt: str, shape) -> str:
    """The Loom type text for an element type and a shape: `f32` or `f32[3, 4]`."""
    shape = tuple(shape)
    return dt if shape == () else f"{dt}[{', '.join(map(str, shape))}]"


def load(src: str, pipeline: str):
    return compiler.loads(textwrap.dedent(src), name="t.loom", **how(pipeline))


def run(src: str, *args, pipeline: str = "none", fn: str = "f"):
    return getattr(load(src, pipeline), fn)(*args)


def check(got, want, dt: str, tol=None):
    """`got` has Loom element type `dt`, `want`'s shape, and `want`'s values (exact for ints/bools)."""
    want = np.asarray(want)
    if want.shape == ():
        assert isinstance(got, np.generic), f"a scalar result should be a NumPy scalar, got {type(got)}"
    else:
        assert isinstance(got, np.ndarray), f"expected an array, got {type(got)}"
    g = np.asarray(got)
    assert g.dtype == NP[dt], f"dtype {g.dtype}, expected {np.dtype(NP[dt])}"
    assert g.shape == want.shape, f"shape {g.shape}, expected {want.shape}"
    if dt in FLOATS:
        np.testing.assert_allclose(g.astype(np.float64), want.astype(np.float64), equal_nan=True,
                                   **(tol or TOL[dt]))
    else:
        np.testing.assert_array_equal(g, want.astype(NP[dt]))


def rand(rng, dt: str, shape, lo=-3.0, hi=3.0):
    shape = tuple(shape)
    if dt in FLOATS:
        a = rng.uniform(lo, hi, size=shape).astype(NP[dt])
    elif dt == "bool":
        a = rng.random(size=shape) < 0.5
    else:
        a = rng.integers(int(lo) * 3, int(hi) * 3 + 1, size=shape).astype(NP[dt])
    return NP[dt](a) if shape == () else a

