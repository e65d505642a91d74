"""Parallel loops on the thread pool (`loom-parallel-to-threads`, runtime/parallel.ll): results are
the same bits for any number of threads, over awkward sizes; a run-time check failing inside a
parallel loop reports the first failing iteration in loop order and frees the call's buffers;
`LOOM_NUM_THREADS`; the spin before a thread sleeps (`LOOM_SPIN_US`); Ctrl-C while parallel loops
run."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import numpy as np
import pytest

import compiler
from compiler.diagnostics import LoomError
from compiler.passes.loom_linalg_to_loops import PARALLEL_MIN_WORK
from runtime import parallel
from tests.test_runtime_errors import SPIN, interrupted_while_spinning, leaked_per_failing_call

THREADS = (1, 2, 3)

SRC = """\
def ew(x: f32[N], a: f32) -> f32[N]:
    return tanh(x * a + 0.5) * 1.5 + x

def rows(x: f32[R, C]) -> f32[R]:
    return sum(x * x, axis=-1) + max(x, axis=-1) - mean(x, axis=1)

def cols(x: f32[R, C]) -> f32[C]:
    return sum(x, axis=0)

def total(x: f32[R, C]) -> f32:
    return sum(x)

def sm(x: f32[R, C]) -> f32[R, C]:
    return softmax(x, axis=-1)

def ln(x: f32[R, C]) -> f32[R, C]:
    return layer_norm(x, axis=-1)

def bcast(x: f32[R, C], b: f32[C]) -> f32[R, C]:
    return relu(x + b) * 2.0

def ints(x: f32[R, C]) -> i32[R, C]:
    m = max(x, axis=-1, keepdims=true)
    return i32(x - m) + i32(m)
"""


def np_softmax(x):
    e = np.exp(x - x.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


def np_layer_norm(x):
    d = x - x.mean(-1, keepdims=True)
    return d / np.sqrt((d * d).mean(-1, keepdims=True) + np.float32(1e-5))


# rows × columns: primes, one row, one column, more rows than chunks, fewer rows than threads
SHAPES = [(257, 263), (2, 40009), (65537, 1), (1, 70001), (3, 30011), (4099, 17)]


@pytest.fixture
def threads():
    """Restores the pool's thread count after the test."""
    before = parallel.num_threads()
    yield parallel.set_num_threads
    parallel.set_num_threads(before)


@pytest.fixture(scope="module")
def prog():
    return compiler.loads(SRC, name="threads.loom")


def runs(threads, f, *args):
    """f(*args) with 1, 2 and 3 threads: the results, which must be the same bits."""
    out = []
    for t in THREADS:
        threads(t)
        out.append(f(*args))
    for o in out[1:]:
        np.testing.assert_array_equal(o, out[0])
    return out[0]


@pytest.mark.parametrize("shape", SHAPES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_rows_same_bits_for_any_thread_count(prog, threads, shape):
    x = np.random.default_rng(1).standard_normal(shape).astype(np.float32) * 3
    b = np.random.default_rng(2).standard_normal(shape[1]).astype(np.float32)
    sq = (x.astype(np.float64) ** 2).sum(-1)
    want_rows = sq + x.max(-1) - x.astype(np.float64).mean(-1)
    np.testing.assert_allclose(runs(threads, prog.rows, x), want_rows, rtol=1e-4, atol=1e-3 * np.abs(want_rows).max())
    np.testing.assert_allclose(runs(threads, prog.cols, x), x.astype(np.float64).sum(0), rtol=1e-4, atol=1e-3)
    assert runs(threads, prog.total, x) == pytest.approx(x.astype(np.float64).sum(), rel=1e-4, abs=1e-2)
    np.testing.assert_allclose(runs(threads, prog.sm, x), np_softmax(x), rtol=1e-5, atol=1e-6)
    if shape[1] > 1:
        np.testing.assert_allclose(runs(threads, prog.ln, x), np_layer_norm(x), rtol=1e-4, atol=1e-4)
    np.testing.assert_array_equal(runs(threads, prog.bcast, x, b), np.maximum(x + b, 0) * np.float32(2))
    m = x.max(-1, keepdims=True)
    np.testing.assert_array_equal(runs(threads, prog.ints, x), (x - m).astype(np.int32) + m.astype(np.int32))


@pytest.mark.parametrize("n", [PARALLEL_MIN_WORK - 1, PARALLEL_MIN_WORK, 100_003, 1_000_003])
def test_elementwise_same_bits_for_any_thread_count(prog, threads, n):
    x = np.random.default_rng(n).standard_normal(n).astype(np.float32)
    a = np.float32(0.75)
    np.testing.assert_allclose(runs(threads, prog.ew, x, a), np.tanh(x * a + np.float32(0.5)) * np.float32(1.5) + x,
                               rtol=1e-5, atol=1e-5)


def test_workers_asleep_and_spinning_take_the_next_loop(prog, threads):
    """Loops back to back (the workers are still spinning when the next one comes) and loops after
    a pause longer than the spin (the workers sleep on the condition variable and must be woken):
    every call's result is its own."""
    threads(2)
    xs = [np.random.default_rng(k).standard_normal(200_003).astype(np.float32) for k in range(3)]
    a = np.float32(1.25)
    want = [np.tanh(x * a + np.float32(0.5)) * np.float32(1.5) + x for x in xs]
    for rnd in range(3):
        for k in (0, 1, 2, 1, 0):  # back to back
            np.testing.assert_allclose(prog.ew(xs[k], a), want[k], rtol=1e-5, atol=1e-5, err_msg=f"round {rnd}")
        time.sleep(0.02)  # 10x the default spin: the workers are asleep when the next loop comes


@pytest.mark.parametrize("spin_us", [0, 50_000])
def test_any_spin_time_takes_every_loop(prog, threads, spin_us):
    """With no spin (every worker and every waiting caller sleeps at once, so each loop wakes them)
    and with a spin longer than the pauses between loops (the workers never sleep): the same
    results, loops back to back and after pauses."""
    before = parallel.spin_us()
    threads(2)
    parallel.set_spin_us(spin_us)
    try:
        assert parallel.spin_us() == spin_us
        xs = [np.random.default_rng(k).standard_normal(200_003).astype(np.float32) for k in range(2)]
        a = np.float32(0.5)
        want = [np.tanh(x * a + np.float32(0.5)) * np.float32(1.5) + x for x in xs]
        for rnd in range(20):
            k = rnd % 2
            np.testing.assert_allclose(prog.ew(xs[k], a), want[k], rtol=1e-5, atol=1e-5, err_msg=f"round {rnd}")
            if rnd % 5 == 4:
                time.sleep(0.002)
    finally:
        parallel.set_spin_us(before)


SPIN_CPU = """
import time, numpy as np, compiler
from runtime import parallel
parallel.set_num_threads(2)
p = compiler.loads("def f(x: f32[N]) -> f32[N]:\\n    return tanh(x) * 2.0\\n")
x = np.ones(400_000, np.float32)
p.f(x)
c = time.process_time()
p.f(x)
time.sleep(0.4)
print(parallel.spin_us(), time.process_time() - c)
"""


def test_the_spin_time_is_how_long_a_worker_polls_after_a_loop():
    """After a parallel loop and 0.4 s of the caller asleep, the process has used next to no CPU time
    with LOOM_SPIN_US=0 (the worker sleeps at once) and a good part of a core with a 2-second spin
    (the worker polls all that time; even on a loaded machine it gets some of a core)."""
    quiet = run_python(SPIN_CPU, {"LOOM_SPIN_US": "0"})
    busy = run_python(SPIN_CPU, {"LOOM_SPIN_US": "2000000"})
    (us0, cpu0), (us1, cpu1) = (r.stdout.split() for r in (quiet, busy))
    assert (us0, us1) == ("0", "2000000"), (quiet.stderr, busy.stderr)
    assert float(cpu0) < 0.1 < float(cpu1), (cpu0, cpu1)


def test_big_loops_run_on_threads_small_ones_do_not(prog):
    loops = prog.rows.lower(np.zeros((257, 263), np.float32)).as_text("loops")
    assert "func.func private @rows_parallel0" in loops and "@loom_parallel_for" in loops
    small = prog.rows.lower(np.zeros((4, 263), np.float32)).as_text("loops")
    assert "loom_parallel_for" not in small and "scf.parallel" not in small


# ---------------------------------------------------------------- failures inside parallel loops
def bad_input(first: str, second: str) -> tuple[np.ndarray, str]:
    """An input to `ints` with two failing rows (each failing only inside the parallel loop)."""
    x = np.random.default_rng(3).standard_normal((301, 307)).astype(np.float32)
    rows = {"inf": 17, "range": 290} if first == "inf" else {"range": 17, "inf": 290}
    x[rows["inf"], 100] = -np.inf  # x - max = -inf: "cannot convert a NaN or infinite value"
    x[rows["range"], 200] = -1e10  # x - max = -1e10: "out of range for int32"
    return x, "NaN or infinite" if first == "inf" else "out of range for int32"


@pytest.mark.parametrize("first", ["inf", "range"])
def test_error_in_a_parallel_loop_is_the_first_in_loop_order(prog, threads, first):
    x, message = bad_input(first, "")
    for t in THREADS:
        threads(t)
        with pytest.raises(compiler.LoomRuntimeError, match=message) as err:
            prog.ints(x)
        assert err.value.span is not None and (err.value.span.line, err.value.span.col) == (24, 12)


def test_failing_parallel_loops_free_the_calls_buffers(prog, threads):
    """The buffers live at the failing loop (here `m`, 1.2 MB) are freed once, by the caller."""
    x = np.random.default_rng(4).standard_normal((300_000, 2)).astype(np.float32)
    x[200_000, 1] = -np.inf
    threads(3)
    assert leaked_per_failing_call(prog.ints, x, match="infinite") < 1024  # bytes per failing call


# ---------------------------------------------------------------- the thread count
def run_python(code: str, env: dict) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                          env={**os.environ, **env}, check=False)


def test_loom_num_threads_and_the_default():
    code = "from runtime import parallel; print(parallel.num_threads())"
    assert run_python(code, {"LOOM_NUM_THREADS": "3"}).stdout.strip() == "3"
    default = run_python(code, {"LOOM_NUM_THREADS": ""})
    assert default.stdout.strip() == str(len(os.sched_getaffinity(0)))
    assert run_python(code, {"LOOM_NUM_THREADS": "", "PMI_RANK": "0", "PMI_SIZE": "2"}).stdout.strip() == "1"


def test_loom_spin_us_and_the_default():
    code = "from runtime import parallel; print(parallel.spin_us())"
    assert run_python(code, {"LOOM_SPIN_US": "2500"}).stdout.strip() == "2500"
    assert run_python(code, {"LOOM_SPIN_US": ""}).stdout.strip() == str(parallel.DEFAULT_SPIN_US)


def loom_run_with(tmp_path, var: str, value: str) -> str:
    """`loom run` of a program with a parallel loop, with `var` set to `value`: it must fail cleanly
    (no traceback); its stderr."""
    f = tmp_path / "p.loom"
    f.write_text("def main() -> f32:\n    return sum(ones((512, 512)))\n")
    r = subprocess.run([sys.executable, "-m", "compiler.cli", "run", str(f)], capture_output=True, text=True,
                       timeout=120, env={**os.environ, var: value}, check=False)
    assert r.returncode != 0 and "Traceback" not in r.stderr
    return r.stderr


@pytest.mark.parametrize("value", ["-1", "1.5", "forever", "10000001", "²"])
def test_bad_loom_spin_us_is_a_clean_error(tmp_path, value):
    stderr = loom_run_with(tmp_path, "LOOM_SPIN_US", value)
    assert f"LOOM_SPIN_US must be a whole number of microseconds from 0 to 10000000, not '{value}'" in stderr
    for bad in (-1, 1.5, True, parallel.MAX_SPIN_US + 1):
        with pytest.raises(LoomError, match="whole number of microseconds"):
            parallel.set_spin_us(bad)


@pytest.mark.parametrize("value", ["many", "0", "²"])
def test_bad_loom_num_threads_is_a_clean_error(tmp_path, value):
    stderr = loom_run_with(tmp_path, "LOOM_NUM_THREADS", value)
    assert f"LOOM_NUM_THREADS must be a whole number from 1 to 256, not '{value}'" in stderr
    with pytest.raises(LoomError, match="whole number"):
        parallel.set_num_threads(0)


def test_ctrl_c_while_parallel_loops_run(tmp_path):
    """SIGINT while a program loop runs parallel loops on 3 threads: KeyboardInterrupt, promptly."""
    interrupted_while_spinning(tmp_path, SPIN.replace("SIZE", "200000"), {"LOOM_NUM_THREADS": "3"})
