"""Run-time errors: raised as `compiler.LoomRuntimeError` at the right `line:col` through the API,
and reported by `loom run` as `file:line:col: error: ...` with exit status 1 (never a traceback)."""

from __future__ import annotations

import os
import re
import subprocess
import sys

import numpy as np
import pytest

import compiler
from tests.alloc_faults import AllocFaults
from tests.conftest import EXECUTIONS, how
from compiler.cli import main

F32 = np.float32

# name: (source, entry, positional args, (line, col), message fragment)
CASES = {
    "dynamic_index_too_large": (
        "def f(x: f32[4], i: i64) -> f32:\n"
        "    y = x * 2.0\n"
        "    return y[i]\n",
        "f", (np.arange(4, dtype=F32), 4), (3, 12), "index 4 is out of range for axis 0 of size 4"),
    "dynamic_index_too_negative": (
        "def f(x: f32[4], i: i64) -> f32:\n"
        "    return x[i]\n",
        "f", (np.arange(4, dtype=F32), -5), (2, 12), "index -5 is out of range"),
    "dynamic_index_second_axis": (
        "def f(x: f32[2, 3], j: i64) -> f32:\n"
        "    return x[1, j] + 1.0\n",
        "f", (np.ones((2, 3), F32), 3), (2, 12), "out of range for axis 1 of size 3"),
    "dynamic_index_in_update": (
        "def f(x: f32[4], i: i64) -> f32[4]:\n"
        "    x[i] = 0.0\n"
        "    return x\n",
        "f", (np.ones(4, F32), 7), (2, 5), "index 7 is out of range"),
    "dynamic_window_past_end": (
        "def f(x: f32[8], i: i64) -> f32[3]:\n"
        "    return x[i:i+3]\n",
        "f", (np.arange(8, dtype=F32), 6), (2, 12), "out of range for axis 0 of size 8"),
    "dynamic_window_negative_start": (
        "def f(x: f32[8], i: i64) -> f32:\n"
        "    w = x[i:i+3]\n"
        "    return sum(w)\n",
        "f", (np.arange(8, dtype=F32), -1), (2, 9), "out of range for axis 0 of size 8"),
    "while_bound_exceeded": (
        "def f(x: f32) -> f32:\n"
        "    n = 0\n"
        "    while x > 1.0 bound 3:\n"
        "        x = x / 2.0\n"
        "        n += 1\n"
        "    return x\n",
        "f", (100.0,), (3, 5), "exceeded its bound of 3"),
    "while_bound_zero": (
        "def f(x: f32) -> f32:\n"
        "    while x > 1.0 bound 0:\n"
        "        x = x / 2.0\n"
        "    return x\n",
        "f", (2.0,), (2, 5), "bound of 0"),
    "int_floordiv_by_zero": (
        "def f(a: i64, b: i64) -> i64:\n"
        "    return a // b\n",
        "f", (7, 0), (2, 12), "division by zero"),
    "int_mod_by_zero": (
        "def f(a: i32, b: i32) -> i32:\n"
        "    c = a + 1\n"
        "    return c % b\n",
        "f", (7, 0), (3, 12), "division by zero"),
    "int_tensor_floordiv_by_zero": (
        "def f(a: i64[3], b: i64[3]) -> i64[3]:\n"
        "    return a // b\n",
        "f", (np.array([1, 2, 3]), np.array([1, 0, 2])), (2, 12), "division by zero"),
    "error_inside_callee": (
        "def g(x: f32[4], i: i64) -> f32:\n"
        "    return x[i]\n"
        "\n"
        "def f(x: f32[4], i: i64) -> f32:\n"
        "    return g(x, i + 1)\n",
        "f", (np.ones(4, F32), 3), (2, 12), "index 4 is out of range"),
    "error_inside_loop": (
        "def f(x: f32[4], k: i64) -> f32:\n"
        "    s = 0.0\n"
        "    for i in range(k):\n"
        "        s += x[i]\n"
        "    return s\n",
        "f", (np.ones(4, F32), 6), (4, 14), "index 4 is out of range"),
}


@pytest.mark.parametrize("pipeline", EXECUTIONS)
@pytest.mark.parametrize("name", sorted(CASES))
def test_api_raises_runtime_error(name, pipeline):
    src, entry, args, (line, col), frag = CASES[name]
    prog = compiler.loads(src, name=f"{name}.loom", **how(pipeline))
    with pytest.raises(compiler.LoomRuntimeError) as ei:
        getattr(prog, entry)(*args)
    e = ei.value
    assert (e.file, e.line, e.column) == (f"{name}.loom", line, col), e.render()
    assert frag in e.message, e.render()
    text = e.render()
    assert text.startswith(f"{name}.loom:{line}:{col}: error:") and "^" in text


def test_within_bounds_runs():
    """The boundaries themselves are fine: index -n, window ending at n, exactly K iterations."""
    p = compiler.loads(CASES["dynamic_index_too_negative"][0])
    assert p.f(np.arange(4, dtype=F32), -4) == F32(0)
    p = compiler.loads(CASES["dynamic_window_past_end"][0])
    np.testing.assert_array_equal(p.f(np.arange(8, dtype=F32), 5), np.array([5, 6, 7], F32))
    p = compiler.loads(CASES["while_bound_exceeded"][0])
    assert p.f(8.0) == F32(1.0)  # 8 -> 4 -> 2 -> 1: three iterations, the bound
    p = compiler.loads(CASES["int_floordiv_by_zero"][0])
    assert p.f(-7, 2) == -4


def _npz(tmp_path, names, args):
    path = tmp_path / "in.npz"
    np.savez(path, **{n: np.asarray(a) for n, a in zip(names, args)})
    return str(path)


@pytest.mark.parametrize("name", sorted(CASES))
def test_loom_run_reports_runtime_error(name, tmp_path, capsys):
    src, entry, args, (line, col), frag = CASES[name]
    f = tmp_path / f"{name}.loom"
    f.write_text(src)
    # Python scalars become arrays of the parameter's type (int -> i64 / i32, float -> f32)
    fdef = compiler.loads(src).functions[entry].fdef
    arrays = []
    for p, a in zip(fdef.params, args):
        dt = {"f32": np.float32, "f64": np.float64, "i32": np.int32, "i64": np.int64, "bool": np.bool_}[p.type.dtype]
        arrays.append(np.asarray(a, dtype=dt))
    inputs = _npz(tmp_path, [p.name for p in fdef.params], arrays)
    code = main(["run", str(f), "--entry", entry, "--inputs", inputs])
    out, err = capsys.readouterr()
    assert "Traceback" not in err, err
    assert code == 1, (out, err)
    assert err.startswith(f"{f}:{line}:{col}: error:"), err
    assert frag in err.splitlines()[0] and "^" in err


MAIN_WHILE = """def main() -> f32:
    x = 100.0
    while x > 1.0 bound 3:
        x = x / 2.0
    return x
"""


def test_loom_run_main_while_bound_subprocess(tmp_path):
    f = tmp_path / "w.loom"
    f.write_text(MAIN_WHILE)
    r = subprocess.run([sys.executable, "-c", "import sys; from compiler.cli import main; sys.exit(main(sys.argv[1:]))",
                        "run", str(f)], capture_output=True, text=True, timeout=120)
    assert r.returncode == 1, r.stderr
    assert "Traceback" not in r.stderr
    assert r.stderr.startswith(f"{f}:3:5: error:") and "exceeded its bound of 3" in r.stderr
    assert r.stdout == ""


# ---------------------------------------------------------------- what a failing call leaves behind
def malloc_in_use() -> int:
    """Bytes the C allocator has handed out and not got back (glibc's mallinfo2: small blocks in the
    heap plus large mmapped blocks): what native code allocates with aligned_alloc/malloc."""
    import ctypes

    class MallInfo2(ctypes.Structure):
        _fields_ = [(n, ctypes.c_size_t) for n in
                    "arena ordblks smblks hblks hblkhd usmblks fsmblks uordblks fordblks keepcost".split()]

    libc = ctypes.CDLL(None)
    libc.mallinfo2.restype = MallInfo2
    info = libc.mallinfo2()
    return info.uordblks + info.hblkhd


def leaked_per_failing_call(fn, *args, match: str, calls: int = 20) -> float:
    for _ in range(3):  # compiled, and the allocator warmed up
        with pytest.raises(compiler.LoomRuntimeError, match=match):
            fn(*args)
    before = malloc_in_use()
    for _ in range(calls):
        with pytest.raises(compiler.LoomRuntimeError, match=match):
            fn(*args)
    return (malloc_in_use() - before) / calls


LEAK_SRC = """
def work(x: f32[N], i: i64) -> f32:
    y = x * 2.0
    for k in range(3):
        y = y * 1.5 + x
    z = concat((y, x), axis=0)
    return z[i] + sum(y)
"""


def test_failing_compiled_calls_free_their_buffers():
    """F20: a run-time error frees the call's buffers (each failing call below held ~1.2 MB and
    leaked it before)."""
    p = compiler.loads(LEAK_SRC, name="leak.loom")
    x = np.ones(100_000, np.float32)
    want = compiler.loads(LEAK_SRC, name="leak.loom", mode="eager").work(x, 0)
    assert p.work(x, 0) == pytest.approx(want, rel=1e-6)
    assert leaked_per_failing_call(p.work, x, 10 ** 6, match="out of range") < 1024


# a callee over loom-inline's max-ops (256), called twice: it stays a function, and the caller holds
# two 400 KB buffers (y, z) when the first call fails
KEPT_CALLEE_SRC = ("def g(x: f32[N], i: i64) -> f32:\n"
                   + "".join(f"    x = x * 1.0001 + {k}.0\n" for k in range(70)) + """    return x[i]

def work(x: f32[N], i: i64) -> f32:
    y = x * 2.0
    z = y + 1.0
    return g(z, i) + g(y, 0) + sum(z * y)
""")


def test_a_failing_kept_callee_frees_its_callers_buffers():
    """A run-time error in a function that stays a call (not inlined) frees the caller's buffers too
    (each failing call leaked 800 KB before: the caller returned the callee's status at once)."""
    p = compiler.loads(KEPT_CALLEE_SRC, name="callee.loom")
    x = np.ones(100_000, np.float32)
    assert "func.call @g" in p.work.lower(x, 0).as_text("bufferized")
    want = compiler.loads(KEPT_CALLEE_SRC, name="callee.loom", mode="eager").work(x, 5)
    assert p.work(x, 5) == pytest.approx(want, rel=1e-5)
    assert leaked_per_failing_call(p.work, x, 10 ** 6, match="out of range") < 1024


def test_a_failing_allocation_frees_the_buffers_allocated_before_it():
    """Out of memory (2**48 bytes: more than any address space) frees the 400 KB buffer of y that is
    live at the failing allocation (it leaked before)."""
    p = compiler.loads("""
def work(x: f32[N], i: i64) -> f32:
    y = x * 2.0
    big = zeros((65536, 1073741824))
    big[0, 0] = y[i]
    return sum(y) + sum(big[i])
""", name="oom.loom")
    x = np.ones(100_000, np.float32)
    assert leaked_per_failing_call(p.work, x, 1, match="out of memory") < 1024


TAPE_SRC = """
def f(x: f32[N], i: i64) -> f32:
    s = 1.0
    for k in range(N):
        s = s + sin(x[k]) * s
    return s + x[i]
df = grad(f, wrt=x)
"""


def test_a_failing_check_frees_the_autodiff_tape():
    """A check failing after a differentiated loop frees the tape the loop pushed (2 MB per call
    leaked before), and the buffers."""
    p = compiler.loads(TAPE_SRC, name="tape.loom")
    small = np.linspace(0.1, 0.8, 8, dtype=np.float32)
    want = compiler.loads(TAPE_SRC, name="tape.loom", mode="eager").df(small, 3)
    np.testing.assert_allclose(p.df(small, 3), want, rtol=1e-5)
    x = np.full(100_000, 1e-6, np.float32)
    assert leaked_per_failing_call(p.df, x, 10 ** 6, match="out of range") < 1024


# a for loop pushes a buffer per iteration (the reverse sweep pops each into a fresh buffer); an
# unbounded while has no reservation, so its pushes grow the tape (realloc)
TAPE_OOM_SRC = """
def f(x: f32[N], n: i64) -> f32:
    y = x
    for k in range(3):
        y = sin(y) * x
    i = 0
    while i < n:
        y = sin(y) * 0.5 + x
        i = i + 1
    return sum(y)
df = grad(f, wrt=x)
"""


def test_every_failing_allocation_of_a_gradient_is_a_located_error_that_frees_everything():
    """Issue 9: each allocation of a differentiated call fails in turn (tests/alloc_faults.py: the
    N-th malloc/aligned_alloc/realloc returns null) — the tape, its growth, a popped buffer, any
    buffer: a located "out of memory" error with nothing left allocated (a failing tape allocation
    crashed the process and a failing pop leaked the call's buffers before), or, for the tape's
    reservation (a hint), the right result."""
    x = np.linspace(0.1, 0.9, 64, dtype=np.float32)
    want = compiler.loads(TAPE_OOM_SRC, name="tape_oom.loom", mode="eager").df(x, 2)
    with AllocFaults() as faults:
        p = compiler.loads(TAPE_OOM_SRC, name="tape_oom.loom")
        loops = p.df.lower(x, 2).as_text("loops")
        assert re.search(r"ad\.pop .*: memref<64xf32>", loops) and "ad.tape_reserve" in loops, loops
        faults.reset()
        np.testing.assert_allclose(p.df(x, 2), want, rtol=1e-5)
        n, kinds = faults.count, set()
        assert n >= 10 and not faults.live
        for k in range(1, n + 1):
            faults.reset()
            faults.fail_at = k
            try:
                got = p.df(x, 2)
            except compiler.LoomRuntimeError as e:
                first = str(e).splitlines()[0]
                assert re.fullmatch(r"tape_oom\.loom:\d+:\d+: error: out of memory \((allocating \d+ bytes|"
                                    r"growing an autodiff tape)\)", first), (k, str(e))
                kinds.add(first.split(".loom:")[1] if "tape)" in first else "a buffer")
            else:  # the reservation failed: the tape grew push by push
                np.testing.assert_allclose(got, want, rtol=1e-5)
            assert faults.failed == 1 and not faults.live, (k, faults.live)
        # the buffers, the tape (line 11: the grad) and its growth by a push in the while (line 8)
        assert kinds == {"a buffer", "11:1: error: out of memory (growing an autodiff tape)",
                         "8:13: error: out of memory (growing an autodiff tape)"}, kinds


def test_a_failing_pop_frees_the_call_with_the_c_allocator_back_where_it_was():
    """The last allocation of the call above is a popped buffer: with it failing, the C allocator
    holds no more than before each call (the leak tests' measure, malloc_in_use)."""
    x = np.linspace(0.1, 0.9, 20_000, dtype=np.float32)
    with AllocFaults() as faults:
        p = compiler.loads(TAPE_OOM_SRC, name="tape_oom.loom")
        faults.reset()
        p.df(x, 2)
        last = faults.count

        def fail_last(*args):
            faults.reset()
            faults.fail_at = last
            return p.df(*args)

        assert leaked_per_failing_call(fail_last, x, 2, match="out of memory") < 1024


SPIN = """def spin(n: i64) -> f32:
    s = zeros((SIZE,))
    i = 0
    while i < n bound 1000000000000:
        s = s * 0.5 + 1.0
        i = i + 1
    return sum(s)
"""


def interrupted_while_spinning(tmp_path, program: str, env: dict | None = None) -> None:
    """Run `spin(10**12)` of `program` in a fresh process, send SIGINT once it runs, and check the
    call ends in KeyboardInterrupt (compiled loops poll the interrupt flag)."""
    import signal
    import time

    f = tmp_path / "spin.loom"
    f.write_text(program)
    code = ("import sys, compiler\n"
            f"p = compiler.load({str(f)!r})\n"
            "p.spin(3)\n"  # compiled now
            "print('ready', flush=True)\n"
            "try:\n"
            "    p.spin(10 ** 12)\n"
            "except KeyboardInterrupt:\n"
            "    print('KeyboardInterrupt', flush=True)\n")
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, **(env or {})})
    try:
        assert proc.stdout.readline().strip() == "ready"
        time.sleep(1.0)  # the long compiled call is running
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=60)
    finally:
        proc.kill()
    assert proc.returncode == 0, err
    assert out.strip() == "KeyboardInterrupt", (out, err)


def test_ctrl_c_stops_a_long_compiled_call(tmp_path):
    """SIGINT during a long compiled loop: KeyboardInterrupt."""
    interrupted_while_spinning(tmp_path, SPIN.replace("SIZE", "1000"))


SCALAR_LOOP = """def f(x: i32[N]) -> i32:
    s = 0
    for k in range(N):
        s = s + x[k] * 3
    return s
"""


@pytest.mark.parametrize("n", [1000, 200_000])  # polled once before the loop / once per chunk
def test_interrupt_checks_leave_scalar_loops_vectorizable(n):
    """The interrupt poll is outside the loop that does the work, so LLVM vectorizes a scalar
    program loop (a per-iteration poll kept it scalar)."""

    p = compiler.loads(SCALAR_LOOP, name="vec.loom")
    x = np.arange(n, dtype=np.int32)
    opt = p.f.lower(x).as_text("llvm-opt")
    assert "loom_interrupt" in opt and re.search(r"<\d+ x i32>", opt), opt
    assert p.f(x) == (x * np.int32(3)).sum(dtype=np.int32)  # wraps like i32


def test_eager_out_of_memory_is_a_located_error(tmp_path):
    """F03: an allocation that does not fit is `file:line:col: error: out of memory`, exit 1."""
    import resource

    f = tmp_path / "oom.loom"
    f.write_text("def main():\n    x = ones((100000, 100000))\n    return sum(x)\n")

    def limit():
        resource.setrlimit(resource.RLIMIT_AS, (8 * 2 ** 30, 8 * 2 ** 30))

    r = subprocess.run([sys.executable, "-m", "compiler.cli", "run", "--eager", str(f)], capture_output=True,
                       text=True, timeout=120, preexec_fn=limit)
    assert r.returncode == 1, r.stderr
    assert "Traceback" not in r.stderr
    assert r.stderr.startswith(f"{f}:2:9: error: out of memory (allocating 40000000000 bytes)"), r.stderr


@pytest.mark.parametrize("mode", ["eager", "jit"])
def test_out_of_memory_names_the_buffers_size_in_both_modes(mode):
    """A tensor of (2**45 + 1) × 3 f32 is 422,212,465,065,996 bytes, more than a 47-bit address
    space holds (so no allocator gives it, whatever the overcommit policy): both modes say that
    size (compiled code asks aligned_alloc for a multiple of 64 bytes, and said that size until the
    fuzzer found the two messages differing)."""
    p = compiler.loads("def main():\n    x = zeros((35184372088833, 3))\n    return sum(x)\n", name="oom.loom", mode=mode)
    with pytest.raises(compiler.LoomRuntimeError) as e:
        p.main()
    assert str(e.value).startswith("oom.loom:2:9: error: out of memory (allocating 422212465065996 bytes)"), str(e.value)
