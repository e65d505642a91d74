"""The Python API: load/loads, calling with NumPy values, boundary errors, lowering."""

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import compiler

ROOT = Path(__file__).resolve().parent.parent

SRC = """
def affine(x: f32[B, N], w: f32[N, M], b: f32[M]) -> f32[B, M]:
    return x @ w + b

def stats(x: f64[...S]) -> (f64, f64):
    return mean(x), max(x)

def count(n: i64) -> i64:
    c = 0
    for i in range(n):
        c += i
    return c

def flag(b: bool) -> bool:
    return not b

def nothing(x: f32):
    print("x is", x)
"""


@pytest.fixture(scope="module")
def prog():
    return compiler.loads(SRC, name="api.loom")


def test_functions_are_attributes(prog):
    assert set(prog.functions) == {"affine", "stats", "count", "flag", "nothing"}
    assert "affine" in dir(prog)
    assert "affine(x: f32[B, N]" in repr(prog.affine)
    with pytest.raises(AttributeError, match="no function 'nope'"):
        prog.nope


def test_call_with_numpy(prog):
    rng = np.random.default_rng(0)
    x, w, b = (rng.standard_normal(s).astype(np.float32) for s in ((5, 3), (3, 4), (4,)))
    y = prog.affine(x, w, b)
    assert y.dtype == np.float32 and y.shape == (5, 4)
    np.testing.assert_allclose(y, x @ w + b, rtol=1e-6)
    y2 = prog.affine(x[:2], w, b)  # another shape: another specialization
    np.testing.assert_allclose(y2, x[:2] @ w + b, rtol=1e-6)
    np.testing.assert_allclose(prog.affine(w=w, b=b, x=x), y)


def test_tuple_results_and_rank_polymorphism(prog):
    m, mx = prog.stats(np.arange(6.0).reshape(2, 3))
    assert m == 2.5 and mx == 5.0 and isinstance(m, np.float64)
    assert prog.stats(np.array([1.0, 3.0])) == (2.0, 3.0)


def test_python_scalars(prog):
    assert prog.count(5) == 10 and isinstance(prog.count(5), np.int64)
    assert prog.flag(False) == np.True_
    assert prog.affine([[1.0]], [[2.0]], [0.5])[0, 0] == np.float32(2.5)


def test_no_result_returns_none(prog, capsys):
    assert prog.nothing(1.5) is None
    assert capsys.readouterr().out == "x is 1.5\n"


@pytest.mark.parametrize("args,frag", [
    ((np.ones((2, 3)), np.ones((3, 4), np.float32), np.ones(4, np.float32)), "dtype float64"),
    ((np.ones((2, 3), np.float32), np.ones((4, 4), np.float32), np.ones(4, np.float32)), "argument 'w'"),
    ((np.ones((2, 3), np.float32), np.ones((3, 4), np.float32), np.ones(5, np.float32)), "M is 4"),
    ((np.ones(3, np.float32), np.ones((3, 4), np.float32), np.ones(4, np.float32)), "expects rank 2"),
    ((np.ones((2, 3), np.float32),), "missing argument"),
    (("hello", np.ones((3, 4), np.float32), np.ones(4, np.float32)), "cannot take str"),
])
def test_boundary_errors(prog, args, frag):
    with pytest.raises(compiler.LoomInputError) as ei:
        prog.affine(*args)
    assert frag in str(ei.value)
    assert "affine" in str(ei.value)


def test_scalar_boundary_errors(prog):
    with pytest.raises(compiler.LoomInputError, match="cannot take float"):
        prog.count(1.5)
    with pytest.raises(compiler.LoomInputError, match="out of range"):
        prog.count(2**70)
    with pytest.raises(compiler.LoomInputError, match="takes 1 argument"):
        prog.count(1, 2)


def test_errors_carry_location():
    with pytest.raises(compiler.LoomTypeError) as ei:
        compiler.loads("def f(x: f32) -> f64:\n    return x\n", name="e.loom")
    e = ei.value
    assert (e.file, e.line, e.column) == ("e.loom", 2, 12)
    assert e.diagnostic.startswith("e.loom:2:12: error:") and "^" in e.diagnostic


def test_load_file_and_modes(tmp_path):
    f = tmp_path / "p.loom"
    f.write_text("def main() -> i64:\n    return 6 * 7\n")
    assert compiler.load(str(f)).main() == 42
    assert compiler.load(str(f), pipeline="loom-opt").main() == 42
    with pytest.raises(compiler.LoomError, match="unknown mode"):
        compiler.load(str(f), mode="turbo")
    with pytest.raises(compiler.LoomError, match="no such file"):
        compiler.load(str(tmp_path / "missing.loom"))


def test_lower_as_text(prog):
    x, w, b = np.ones((2, 3), np.float32), np.ones((3, 4), np.float32), np.ones(4, np.float32)
    low = prog.affine.lower(x, w, b)
    text = low.as_text("loom")
    assert "func.func @affine(%x: tensor<2x3xf32>" in text and "loom.matmul" in text
    assert 'loc("api.loom":3:12)' in low.as_text("loom", locations=True)
    assert "loom.add" in low.as_text("loom-opt")
    with pytest.raises(compiler.LoomError, match="unknown stage"):
        low.as_text("bogus")


def test_dump_ir_environment(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("LOOM_DUMP_IR", "1")
    monkeypatch.setenv("LOOM_DUMP_DIR", str(tmp_path / "dumps"))
    p = compiler.loads("def main() -> f32:\n    return sum(ones((3,)))\n", pipeline="loom-opt")
    assert p.main() == 3.0
    assert "IR Dump After canonicalize" in capsys.readouterr().err
    files = sorted(x.name for x in (tmp_path / "dumps").iterdir())
    assert files[0] == "00-irgen.mlir" and any("cse" in f for f in files)


THREADS_CHILD = """
import threading, traceback
import numpy as np
import compiler
SRC = "def f(x: f32[B, 96], w1: f32[96, 64], b1: f32[64], w2: f32[64, 32]) -> f32[B, 32]:\\n    return relu(x @ w1 + b1) @ w2\\n"
shared = compiler.loads(SRC, cache=False)
errors = []
def work(b, own):
    try:
        rng = np.random.default_rng(b)
        x, w1, b1, w2 = (rng.standard_normal(s, dtype=np.float32) for s in [(b, 96), (96, 64), (64,), (64, 32)])
        prog = compiler.loads(SRC, cache=False) if own else shared
        want = np.maximum(x.astype(np.float64) @ w1 + b1, 0) @ w2
        np.testing.assert_allclose(prog.f(x, w1, b1, w2), want, rtol=1e-4, atol=1e-3)
    except Exception:
        errors.append(traceback.format_exc())
threads = [threading.Thread(target=work, args=(b, own)) for b in (20, 33, 47) for own in (False, True)]
[t.start() for t in threads]
[t.join() for t in threads]
print("".join(errors) or "ok")
"""


def test_first_calls_from_several_python_threads():
    """Programs parsed and compiled from six Python threads at once (three shapes, one shared program
    and one each): each compilation waits for the one under way (`driver.COMPILE_LOCK`; the parser's
    lock), none fails, every result is right. (Without the locks, 1 process in 6 failed: lark's
    indenter state and xDSL ops shared by the passes.)"""
    for _ in range(2):
        r = subprocess.run([sys.executable, "-c", THREADS_CHILD], capture_output=True, text=True, check=False,
                           cwd=ROOT)
        assert r.returncode == 0 and r.stdout.strip().endswith("ok"), r.stdout[-3000:] + r.stderr[-2000:]
