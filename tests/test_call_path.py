"""The call path of a compiled function (docs/performance.md, "Compile time" → "The call path"):
plain arguments run the specialization directly by their shapes, everything else is checked as
before; data pointers are read without ctypes objects; SIGINT goes to the native handler only
around calls whose loops poll it, and comes back as it was. No timings here."""

from __future__ import annotations

import signal
import threading

import numpy as np
import pytest

import compiler
from runtime import abi

SRC = """
def scale(x: f32[N], k: f32) -> f32[N]:
    return x * k

def axpy(a: f64, x: f64[N], y: f64[N]) -> f64[N]:
    return a * x + y

def count(n: i64) -> i64:
    c = 0
    for i in range(n):
        c += i
    return c

def pick(b: bool, x: f64) -> f64:
    if b:
        return x
    return -x

def total(x: f32[...S]) -> f32:
    return sum(x)
"""


@pytest.fixture(scope="module", params=["jit", "eager"])
def prog(request):
    return compiler.loads(SRC, name="calls.loom", mode=request.param)


@pytest.mark.parametrize("mode", ["jit", "eager"])
def test_plain_arguments_skip_the_checks_after_the_first_call(mode, monkeypatch):
    prog = compiler.loads(SRC, name="calls.loom", mode=mode)
    x = np.arange(5, dtype=np.float32)
    first = prog.scale(x, np.float32(2.0))
    assert list(prog.scale._runs) == [((5,), None)]  # the key: the arguments' shapes

    def no_checks(*a, **k):
        raise AssertionError("a plain call with a seen shape went through the checks")

    monkeypatch.setattr(prog.scale, "_arguments", no_checks)
    again = prog.scale(x, np.float32(2.0))
    np.testing.assert_array_equal(again, first)
    np.testing.assert_array_equal(again, x * np.float32(2.0))
    with pytest.raises(AssertionError, match="went through the checks"):  # a new shape is checked
        prog.scale(np.arange(6, dtype=np.float32), np.float32(2.0))


@pytest.mark.parametrize("args", [
    (np.arange(10, dtype=np.float32)[::2], np.float32(3.0)),  # not contiguous: copied
    (np.arange(5, dtype=np.float32), 3.0),  # a Python float for an f32: converted (and range-checked)
    ([0.0, 1.0, 2.0, 3.0, 4.0], np.float32(3.0)),  # a list
    (np.arange(5, dtype=np.float32).astype(">f4"), np.float32(3.0)),  # another byte order: an error
])
def test_arguments_that_need_a_conversion_or_a_check_still_get_it(prog, args):
    prog.scale(np.arange(5, dtype=np.float32), np.float32(1.0))  # the plain key ((5,), None) is known
    if np.asarray(args[0]).dtype.byteorder == ">":
        with pytest.raises(compiler.LoomInputError, match="dtype >f4"):
            prog.scale(*args)
        return
    np.testing.assert_array_equal(prog.scale(*args), np.asarray(args[0], np.float32) * np.float32(3.0))


def test_checks_after_a_plain_call(prog):
    x = np.ones(3)
    np.testing.assert_array_equal(prog.axpy(2.0, x, x), 3 * x)
    with pytest.raises(compiler.LoomInputError, match="dtype float32"):
        prog.axpy(2.0, x.astype(np.float32), x)
    with pytest.raises(compiler.LoomInputError, match="N is 3"):
        prog.axpy(2.0, x, np.ones(4))
    with pytest.raises(compiler.LoomInputError, match="out of range for f32"):
        prog.scale(np.ones(3, np.float32), 1e39)
    assert prog.count(5) == 10 and isinstance(prog.count(5), np.int64)
    with pytest.raises(compiler.LoomInputError, match="out of range"):
        prog.count(2 ** 63)
    with pytest.raises(compiler.LoomInputError, match="cannot take float"):
        prog.count(5.0)
    assert prog.pick(True, 2.0) == 2.0 and prog.pick(np.False_, 2.0) == -2.0
    assert prog.axpy(a=1.0, x=x, y=x)[0] == 2.0  # keywords: the checked path


def test_a_rank_polymorphic_parameter_is_keyed_by_its_shape(prog):
    assert prog.total(np.ones((2, 3), np.float32)) == 6.0
    assert prog.total(np.ones(4, np.float32)) == 4.0
    assert prog.total(np.float32(5.0)) == 5.0  # rank 0: the checked path, as before
    assert prog.total(np.ones((2, 3), np.float32)) == 6.0


def test_plain_leaves_are_what_the_checks_would_give(prog):
    """The fast path hands the executor the same values (types included) as `_arguments`."""
    x = np.arange(3.0)
    args = (2.0, x, x)
    _, plain = prog.axpy._plain_arguments(args)
    _, checked = prog.axpy._arguments(args, {})
    assert [type(v) for v in plain] == [type(v) for v in checked]
    assert plain[1] is checked[1] is x
    assert prog.count._plain_arguments((True,)) is None  # a bool is not an i64
    assert prog.count._plain_arguments((2 ** 63,)) is None
    assert prog.scale._plain_arguments((np.float32(1.0), np.float32(1.0))) is None  # a scalar for a tensor


@pytest.mark.parametrize("make", [
    lambda: np.arange(12.0).reshape(3, 4),
    lambda: np.arange(12.0).reshape(3, 4)[1:],
    lambda: np.arange(12.0).reshape(3, 4)[:, 1:],
    lambda: np.zeros(0, np.int32),
    lambda: np.empty((), np.float32),
    lambda: np.ones(5, np.float32)[::-1],
])
def test_data_address_is_numpys(make):
    a = make()
    assert abi.data_address(a) == a.ctypes.data


LOOP = "def spin(n: i64) -> i64:\n    s = 0\n    for i in range(n):\n        s += i\n    return s\n"


def test_sigint_is_routed_only_during_the_call_and_restored():
    f = compiler.loads(LOOP, name="spin.loom").spin
    outer = signal.getsignal(signal.SIGINT)  # (a test runner's worker may have its own)

    def handler(*_):
        pass

    try:
        for h in (signal.default_int_handler, handler, signal.SIG_IGN):  # ignored: stays so
            signal.signal(signal.SIGINT, h)
            assert f(10) == 45
            assert signal.getsignal(signal.SIGINT) is h
    finally:
        signal.signal(signal.SIGINT, outer)


def test_calls_from_threads_leave_sigint_alone():
    f = compiler.loads(LOOP, name="spin.loom").spin
    before = signal.getsignal(signal.SIGINT)
    results = []
    threads = [threading.Thread(target=lambda: results.append(f(100))) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == [4950] * 3 and signal.getsignal(signal.SIGINT) is before


def test_struct_functions_take_the_checked_path():
    p = compiler.loads("struct P:\n    a: f32[2]\n\ndef f(p: P) -> f32:\n    return sum(p.a)\n", name="s.loom")
    assert p.f._plain is None
    assert p.f({"a": np.ones(2, np.float32)}) == 2.0


def test_native_call_marshals_scalars_and_arrays():
    p = compiler.loads(SRC, name="calls.loom")
    p.axpy(1.0, np.ones(2), np.ones(2))
    fn = p.axpy._cache[next(iter(p.axpy._cache))].compiled()
    assert isinstance(fn.call, abi.NativeCall)
    assert fn.call.scalar_inputs == (True, False, False) and fn.call.outputs == (((2,), np.float64),)
    out = fn([np.float64(2.0), np.ones(2), np.full(2, 0.5)])
    assert isinstance(out, tuple) and out[0].tolist() == [2.5, 2.5]
