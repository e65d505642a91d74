"""End-to-end tests of the bundled example programs (`examples/*.loom`).

Every example is found by globbing, so a new example is tested without editing this file:
- its `main` runs through the Python API eagerly on the IR as generated and after `loom-opt`, and
  compiled to native code, and all three agree (compiled within rounding);
- the result matches an independent NumPy implementation written here (REFERENCES; a new
  example must add one, or `test_matches_numpy` fails and says so);
- the CLI: `loom check` and `loom run` exit 0 and `run` prints what `main` prints and returns;
  `loom compile --emit=loom` output re-parses with `loom opt`, prints back identically, and the
  re-parsed IR runs to the same result.
"""

from __future__ import annotations

import contextlib
import io
import math
import re
from pathlib import Path

import numpy as np
import pytest

import compiler
from tests.conftest import EXECUTIONS, how
from compiler.cli import main as cli
from runtime.format import format_value
from runtime.random import normal, uniform

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = sorted((ROOT / "examples").glob("*.loom"))
# an example's tests share its runs (`raw_result`): under pytest-xdist one worker runs them all
PARAMS = [pytest.param(p, id=p.stem, marks=pytest.mark.xdist_group(f"example-{p.stem}")) for p in EXAMPLES]
HEADLINE = ROOT / "examples" / "mlp_forward.loom"


def as_tuple(v) -> tuple:
    return v if isinstance(v, tuple) else (v,)


def assert_same(got, want, rtol=1e-6, atol=0.0, what="result") -> None:
    """Equal dtype and shape; floats within tolerance, everything else exactly."""
    got, want = as_tuple(got), as_tuple(want)
    assert len(got) == len(want), f"{what}: {len(got)} values, expected {len(want)}"
    for i, (g, w) in enumerate(zip(got, want)):
        g, w = np.asarray(g), np.asarray(w)
        assert g.dtype == w.dtype, f"{what}[{i}]: dtype {g.dtype}, expected {w.dtype}"
        assert g.shape == w.shape, f"{what}[{i}]: shape {g.shape}, expected {w.shape}"
        if g.dtype.kind == "f":
            np.testing.assert_allclose(g, w, rtol=rtol, atol=atol, err_msg=f"{what}[{i}]")
        else:
            np.testing.assert_array_equal(g, w, err_msg=f"{what}[{i}]")


def run_main(path: Path, execution: str = "none"):
    """Run `main` through the API (eager on the raw IR by default); returns (result, printout)."""
    prog = compiler.load(str(path), **how(execution))
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        result = prog.main()
    return result, buf.getvalue()


_CACHE: dict[Path, tuple] = {}


def raw_result(path: Path, execution: str = "none"):
    if (path, execution) not in _CACHE:
        _CACHE[path, execution] = run_main(path, execution)
    return _CACHE[path, execution]


NUMBER = re.compile(r"[-+]?(?:\d+\.?\d*|\.\d+)(?:e[-+]?\d+)?|nan|inf")


def assert_same_printout(got: str, want: str, rtol=1e-5, atol=1e-6) -> None:
    """The same text, numbers equal within tolerance (compiled code may round differently)."""
    def shape(text: str) -> str:  # NumPy pads numbers to a common width: ignore spacing
        return re.sub(r"\s+", "", NUMBER.sub("#", text))

    assert shape(got) == shape(want), f"printouts differ:\n{got}\nvs\n{want}"
    a = [float(x) for x in NUMBER.findall(got)]
    b = [float(x) for x in NUMBER.findall(want)]
    np.testing.assert_allclose(a, b, rtol=rtol, atol=atol, err_msg="printed numbers differ")


# ----------------------------------------------------------------------------------------------
# Independent NumPy implementations, one per example. Each returns (expected result, rtol, atol).
# ----------------------------------------------------------------------------------------------
f32 = np.float32


def ref_newton_sqrt(printed: str):
    def newton(a: float, tol: float):
        x = a if a >= 1.0 else 1.0
        step, n = 1.0, 0
        while abs(step) > tol:
            new_x = 0.5 * (x + a / x)
            step, x, n = new_x - x, new_x, n + 1
        assert n <= 100
        return x, n

    inputs = [2.0, 10.0, 0.25, 12345.0]
    lines = []
    total = 0.0
    for a in inputs:
        x, n = newton(a, 1e-12)
        assert x == pytest.approx(math.sqrt(a), rel=1e-15)
        lines.append(f"sqrt of {a} = {x} after {n} iterations")
        total += x
    assert printed.splitlines() == lines
    return np.float64(total), 1e-15, 0.0


def ref_power_iteration(printed: str):
    a = np.zeros((4, 4))
    a[0, :] = 4.0
    a[0, 0], a[1, 1], a[2, 2], a[3, 3] = 6.0, 5.0, 3.0, 2.0
    a[:, 0] = a[0, :]
    a[1, 2] = a[2, 1] = 1.0
    w, vecs = np.linalg.eigh(a)
    v = vecs[:, -1] * np.sign(vecs[0, -1])
    got_v = np.array([float(t) for t in re.findall(r"-?\d+\.\d*(?:e-?\d+)?", printed.splitlines()[0])])
    np.testing.assert_allclose(got_v, v, rtol=1e-5, atol=1e-6)
    return f32(w[-1]), 1e-5, 0.0


def ref_piecewise(printed: str):
    x = np.arange(12, dtype=f32) * f32(0.5) - f32(2.0)
    y = np.select([x < -1, x < 0, x < 2], [np.zeros_like(x), (x + 1) ** 2, 1 + x / 2], f32(2.0)).astype(f32)
    assert "max |loop - where|: 0.0" in printed
    return y, 0.0, 0.0


def ref_softmax_layernorm(printed: str):
    x = normal((4, 6), 42, f32) * f32(3.0)
    e = np.exp(x - x.max(axis=-1, keepdims=True))
    p = e / e.sum(axis=-1, keepdims=True)
    mu = x.mean(axis=-1, keepdims=True)
    z = (x - mu) / np.sqrt(((x - mu) ** 2).mean(axis=-1, keepdims=True) + f32(1e-5))
    # the third result is the largest difference from the hand-written versions: tiny, not exact
    return (p, z, f32(0.0)), 1e-5, 2e-6


def mlp_numpy(x, w1, b1, w2, b2):
    return np.maximum(x @ w1 + b1, 0) @ w2 + b2


def softmax_numpy(z):
    e = np.exp(z - z.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def cross_entropy_numpy(logits, labels):
    logp = np.log(softmax_numpy(logits.astype(np.float64)))
    return -logp[np.arange(len(labels)), labels].mean()


def ref_mlp_forward(printed: str):
    x = normal((8, 16), 0, f32)
    w1 = normal((16, 32), 1, f32) * f32(0.25)
    w2 = normal((32, 10), 2, f32) * f32(0.18)
    b1, b2 = np.zeros(32, f32), np.full(10, 0.01, f32)
    labels = np.arange(8) % 10
    logits = mlp_numpy(x, w1, b1, w2, b2)
    loss = cross_entropy_numpy(logits, labels)
    acc = np.mean(logits.argmax(axis=1) == labels)
    assert re.search(r"loss: \S+ accuracy: (\S+)", printed).group(1) == str(f32(acc))
    return (f32(loss), softmax_numpy(logits)), 1e-5, 1e-6


def ref_heat_equation(printed: str):
    n = 21
    dx = f32(1.0) / f32(n - 1)
    dt = f32(0.001)
    r = dt / (dx * dx)
    x = np.arange(n, dtype=f32) * dx
    u = np.sin(f32(math.pi) * x)
    for _ in range(100):
        u = np.concatenate([[0], u[1:-1] + r * (u[:-2] - 2 * u[1:-1] + u[2:]), [0]]).astype(f32)
    exact = np.exp(-math.pi**2 * 0.1) * np.sin(math.pi * x.astype(np.float64))
    assert np.max(np.abs(u - exact)) < 2e-3        # the scheme converges to the true solution
    return u, 1e-5, 1e-6


def ref_heat_equation_sharded(printed: str):
    n = 8196
    dx = f32(1.0) / f32(n - 3)
    r = f32(0.4)
    x = (np.arange(n, dtype=f32) - f32(1.0)) * dx
    u = np.sin(f32(math.pi) * x) + f32(0.5) * np.sin(f32(256.0 * math.pi) * x)
    u[[0, 1, n - 2, n - 1]] = 0
    for _ in range(200):
        lap = u[1:n - 3] - f32(2.0) * u[2:n - 2] + u[3:n - 1]
        u = u.copy()
        u[2:n - 2] = u[2:n - 2] + r * lap
    t = 200 * 0.4 / (n - 3) ** 2
    xd = x.astype(np.float64)
    exact = np.exp(-math.pi**2 * t) * np.sin(math.pi * xd) + 0.5 * np.exp(-(256 * math.pi)**2 * t) * np.sin(256 * math.pi * xd)
    err = np.max(np.abs(u - exact)[2:n - 2])
    assert err < 1e-3                               # the scheme follows both modes
    return (u[n // 2 + 16], f32(err)), 1e-4, 1e-6


def ref_collatz(printed: str):
    def steps(n):
        k = 0
        while n != 1:
            n = n // 2 if n % 2 == 0 else 3 * n + 1
            k += 1
        return k

    s = np.array([steps(n) for n in range(1, 31)], dtype=np.int64)
    assert f"gcd(1071, 462) = {math.gcd(1071, 462)} and gcd(-12, 18) = {math.gcd(-12, 18)}" in printed
    return (s, np.int64(np.argmax(s) + 1), np.int64(math.gcd(1071, 462))), 0.0, 0.0


def ref_matrix_stats(printed: str):
    m = np.arange(12, dtype=f32).reshape(3, 4)
    m = m * m - f32(5.0) * m
    std = m.std(axis=0)
    centered = m - m.mean(axis=0, keepdims=True)
    cov = centered.T @ centered / f32(3.0)
    table = np.stack([m.mean(axis=0), std, m.min(axis=0)])
    clipped = np.where(m < 0, f32(0), m)
    hot = np.eye(4, dtype=f32)[m.argmax(axis=1)]
    per_block = m.reshape(3, 2, 2).sum(axis=(1, 2))
    assert f"negatives: {int((m < 0).sum())}" in printed
    assert "diagonal of cov = std^2: true" in printed
    return (table, cov, clipped, hot, per_block), 1e-5, 1e-5


def ref_monte_carlo_pi(printed: str):
    n, k = 4096, 512
    xs, ys = uniform((n,), 1, f32), uniform((n,), 2, f32)
    hits = np.cumsum((xs * xs + ys * ys < 1).reshape(n // k, k).sum(axis=1))
    est = (f32(4.0) * hits.astype(f32) / ((np.arange(n // k) + 1) * k).astype(f32)).astype(f32)
    assert abs(est[-1] - math.pi) < 0.1
    return (est[-1], est), 1e-6, 0.0


def ref_hvp(printed: str):
    x = normal((8, 3), 3, np.float64)
    y = x @ np.full(3, 0.5) + 0.1
    n = len(y)
    g = -2 / n * x.T @ y                     # the gradient of mean((x w - y)^2) at w = 0
    h = 2 / n * x.T @ x                      # its (constant) Hessian
    w1 = -np.linalg.solve(h, g)              # one Newton step from 0: the least-squares solution
    return (g, h @ np.ones(3), w1), 1e-9, 1e-12


def _flight(speed, angle):
    dt, x, y = 0.01, 0.0, 0.0
    vx, vy = speed * math.cos(angle), speed * math.sin(angle)
    while y >= 0.0:
        x, y = x + vx * dt, y + vy * dt
        vx, vy = vx - 0.1 * vx * dt, vy - 9.81 * dt - 0.1 * vy * dt
    return x - y * vx / vy


def ref_while_grad(printed: str):
    e = 1e-6
    d = _flight(20.0, 0.6)
    ds = (_flight(20.0 + e, 0.6) - _flight(20.0 - e, 0.6)) / (2 * e)
    da = (_flight(20.0, 0.6 + e) - _flight(20.0, 0.6 - e)) / (2 * e)
    return (np.float64(d), np.float64(ds), np.float64(da)), 1e-6, 1e-9


def ref_train_mlp(printed: str):
    x = normal((16, 8), 7, f32).astype(np.float64)
    labels = np.arange(16) % 10
    w1 = normal((8, 32), 1, f32).astype(np.float64) * np.sqrt(2.0 / 8)
    w2 = normal((32, 10), 2, f32).astype(np.float64) * np.sqrt(2.0 / 32)
    b1, b2 = np.zeros(32), np.zeros(10)

    def loss_and_grads(w1, b1, w2, b2):  # backpropagation by hand
        h_pre = x @ w1 + b1
        h = np.maximum(h_pre, 0)
        z = h @ w2 + b2
        p = softmax_numpy(z)
        loss = -np.log(p[np.arange(16), labels]).mean()
        dz = (p - np.eye(10)[labels]) / 16
        dh = dz @ w2.T * (h_pre > 0)
        return loss, (x.T @ dh, dh.sum(0), h.T @ dz, dz.sum(0))

    before, grads = loss_and_grads(w1, b1, w2, b2)
    w1, b1, w2, b2 = (p - 0.5 * g for p, g in zip((w1, b1, w2, b2), grads))
    after, _ = loss_and_grads(w1, b1, w2, b2)
    return (f32(before), f32(after), b2.astype(f32)), 2e-5, 2e-6


ref_train_mlp_spmd = ref_train_mlp  # data parallel: the same step on the same batch
# the global-view examples shard the same step (batch over dp, hidden units over tp, or both):
# annotations never change what a program computes
ref_train_mlp_dp = ref_megatron_mlp = ref_hybrid_dp_tp = ref_train_mlp


def ref_reshard_walkthrough(printed: str):
    x = (np.arange(96, dtype=f32).reshape(8, 12) / f32(96.0)).astype(f32)
    c = np.exp(x * f32(2.0)) - f32(1.0)
    assert float(printed.splitlines()[-1].rsplit(":", 1)[1]) < 1e-6  # the gathered copy is the value
    return (c[7], (x * f32(2.0)).sum(axis=0), c.sum(dtype=f32)), 1e-5, 1e-6


def ref_ring_allreduce(printed: str):
    x = (np.arange(48, dtype=f32) * f32(0.25)).reshape(4, 12)
    total = x.sum(axis=0)
    assert printed.splitlines()[1] == "max |ring - all_reduce|: 0.0"
    return np.tile(total, (4, 1)), 0.0, 0.0


REFERENCES = {name[4:]: fn for name, fn in globals().items() if name.startswith("ref_")}


# ----------------------------------------------------------------------------------------------
# Tests over every example
# ----------------------------------------------------------------------------------------------
def test_examples_exist():
    assert len(EXAMPLES) >= 8
    assert HEADLINE in EXAMPLES


@pytest.mark.parametrize("path", PARAMS)
def test_example_shape(path):
    """Small, commented, with a parameterless `main`."""
    text = path.read_text()
    assert len(text.splitlines()) <= (40 if path == HEADLINE else 60)
    assert text.lstrip().startswith("#"), "an example starts with a comment saying what it does"
    prog = compiler.load(str(path))
    assert "main" in prog.functions and prog.functions["main"].fdef.params == []


@pytest.mark.parametrize("execution", ["loom-opt", "jit"])
@pytest.mark.parametrize("path", PARAMS)
def test_agrees_with_reference_executor(path, execution):
    """Optimized (eager) and compiled (native) runs give the raw reference's results and printout."""
    raw, raw_out = raw_result(path)
    got, out = raw_result(path, execution)
    assert raw is not None, "main should return what it computes"
    if execution == "jit":
        assert_same(got, raw, rtol=1e-5, atol=1e-6, what="compiled vs reference executor")
        assert_same_printout(out, raw_out)
    else:
        assert_same(got, raw, what="loom-opt vs raw IR")
        assert out == raw_out


@pytest.mark.parametrize("execution", EXECUTIONS)
@pytest.mark.parametrize("path", PARAMS)
def test_matches_numpy(path, execution):
    ref = REFERENCES.get(path.stem)
    if ref is None:
        pytest.fail(f"examples/{path.name} has no NumPy reference: add `ref_{path.stem}` to {Path(__file__).name}")
    result, printed = raw_result(path, execution)
    want, rtol, atol = ref(printed)
    assert_same(result, want, rtol=rtol, atol=atol, what=path.stem)


@pytest.mark.parametrize("path", PARAMS)
def test_cli_check(path, capsys):
    assert cli(["check", str(path)]) == 0
    out, err = capsys.readouterr()
    assert out.startswith(f"{path}: ok (") and not err


@pytest.mark.parametrize("path", PARAMS)
def test_cli_run(path, capsys):
    result, printed = raw_result(path, "jit")  # `loom run` compiles, like the API's default
    assert cli(["run", str(path)]) == 0
    out, err = capsys.readouterr()
    assert not err
    assert out == printed + format_value(result) + "\n"


@pytest.mark.parametrize("pipeline", ["none", "loom-opt"])
@pytest.mark.parametrize("path", PARAMS)
def test_cli_compile_reparses_with_opt(path, pipeline, tmp_path, capsys):
    from xdsl.parser import Parser

    from compiler.pipeline import make_context
    from runtime.reference import run_function
    from runtime.simulated import mesh_shape, run_spmd

    emitted = tmp_path / "emitted.mlir"
    assert cli(["compile", str(path), "--emit=loom", "-p", pipeline, "-o", str(emitted)]) == 0
    text = emitted.read_text()
    assert "func.func @main()" in text
    # `loom opt` with no passes prints the module back exactly
    again = tmp_path / "again.mlir"
    assert cli(["opt", str(emitted), "-o", str(again)]) == 0
    assert again.read_text() == text
    # `loom opt -p loom-opt` on the text gives what `compile -p loom-opt` gives
    opt = tmp_path / "opt.mlir"
    assert cli(["opt", str(emitted), "-p", "loom-opt", "-o", str(opt)]) == 0
    assert cli(["compile", str(path), "--emit=loom", "-p", "loom-opt"]) == 0
    assert opt.read_text() == capsys.readouterr().out
    # and the re-parsed IR still computes the example's result
    module = Parser(make_context(), text, str(emitted)).parse_module()
    from compiler import driver

    driver.run_passes(module, driver.with_semantics(module, "none"))  # grad etc. are built first
    with contextlib.redirect_stdout(io.StringIO()):
        results = (run_spmd if mesh_shape(module) else run_function)(module, "main", [])
    assert_same(tuple(results), as_tuple(raw_result(path)[0]), what="re-parsed IR")


# ----------------------------------------------------------------------------------------------
# The headline example, used with parameters
# ----------------------------------------------------------------------------------------------
def test_readme_excerpt_is_in_the_headline_example():
    readme = (ROOT / "README.md").read_text()
    m = re.search(r"```python\n# examples/mlp_forward\.loom \(excerpt\)\n(.*?)```", readme, re.S)
    if m is None:
        pytest.skip("README has no excerpt of examples/mlp_forward.loom")
    def code(line: str) -> str:                     # the line without a trailing comment
        return re.sub(r"\s*#.*$", "", line)

    source = {code(line) for line in HEADLINE.read_text().splitlines()}
    for line in m.group(1).splitlines():
        if code(line).strip() not in ("", "..."):
            assert code(line) in source, f"README line not in {HEADLINE.name}: {line!r}"


def mlp_weights(batch: int, seed: int = 10):
    rng = np.random.default_rng(seed)
    return dict(x=rng.standard_normal((batch, 16)).astype(f32),
                w1=(rng.standard_normal((16, 32)) * 0.25).astype(f32),
                b1=rng.standard_normal(32).astype(f32),
                w2=(rng.standard_normal((32, 10)) * 0.18).astype(f32),
                b2=rng.standard_normal(10).astype(f32))


@pytest.mark.parametrize("pipeline", EXECUTIONS)
@pytest.mark.parametrize("batch", [1, 5, 8])
def test_mlp_functions_with_symbolic_batch(pipeline, batch):
    prog = compiler.load(str(HEADLINE), **how(pipeline))
    p = mlp_weights(batch)
    logits = prog.mlp(**p)
    want = mlp_numpy(**p)
    assert_same(logits, want, rtol=1e-5, atol=1e-5)
    labels = np.arange(batch, dtype=np.int64) % 10
    loss, acc = prog.evaluate(logits, labels)
    assert_same((loss, acc), (f32(cross_entropy_numpy(logits, labels)), f32(np.mean(logits.argmax(1) == labels))),
                rtol=1e-5, atol=1e-6)


def test_cli_run_entry_inputs_out_npz(tmp_path, capsys):
    p = mlp_weights(5)
    np.savez(tmp_path / "in.npz", **p)
    code = cli(["run", str(HEADLINE), "--entry", "mlp", "--inputs", str(tmp_path / "in.npz"),
                "--out", str(tmp_path / "out.npz")])
    out, err = capsys.readouterr()
    assert code == 0 and out == "" and not err
    with np.load(tmp_path / "out.npz") as data:
        assert data.files == ["result"]
        assert_same(data["result"], mlp_numpy(**p), rtol=1e-5, atol=1e-5)

    # two results: saved as result0, result1; the first output feeds the next run
    logits = mlp_numpy(**p)
    labels = np.array([3, 1, 4, 1, 5], dtype=np.int64)
    np.savez(tmp_path / "eval.npz", logits=logits, labels=labels)
    code = cli(["run", str(HEADLINE), "--entry", "evaluate", "--inputs", str(tmp_path / "eval.npz"),
                "--out", str(tmp_path / "eval_out.npz")])
    assert code == 0
    with np.load(tmp_path / "eval_out.npz") as data:
        assert sorted(data.files) == ["result0", "result1"]
        assert_same((data["result0"], data["result1"]),
                    (f32(cross_entropy_numpy(logits, labels)), f32(np.mean(logits.argmax(1) == labels))),
                    rtol=1e-5, atol=1e-6)


def test_cli_run_entry_scalar_inputs_printed(tmp_path, capsys):
    """Scalars round-trip through npz as 0-d arrays; without --out the result is printed."""
    path = ROOT / "examples" / "newton_sqrt.loom"
    np.savez(tmp_path / "in.npz", a=np.float64(7.0), tol=np.float64(1e-10))
    code = cli(["run", str(path), "--entry", "newton_sqrt", "--inputs", str(tmp_path / "in.npz")])
    out, err = capsys.readouterr()
    assert code == 0 and not err
    printed, result = out.splitlines()
    assert printed.startswith("sqrt of 7.0 = ")
    assert float(result) == pytest.approx(math.sqrt(7.0), rel=1e-12)
    code = cli(["run", str(path), "--entry", "newton_sqrt", "--inputs", str(tmp_path / "in.npz"),
                "--out", str(tmp_path / "out.npz")])
    assert code == 0
    with np.load(tmp_path / "out.npz") as data:
        r = data["result"]
        assert r.dtype == np.float64 and r.shape == () and r == np.float64(result)


# ----------------------------------------------------------------------------------------------
# Bugs found while writing the examples (the examples work around them); strict xfails, so each
# turns into a failure — a reminder to drop the marker — once it is fixed.
# ----------------------------------------------------------------------------------------------
def test_weak_literal_through_builtin_in_loop_becomes_f64():
    prog = compiler.loads("def f(t: f64) -> f64:\n"
                          "    s = 1.0\n"
                          "    while abs(s) > t bound 10:\n"
                          "        s = s * f64(0.5)\n"
                          "    return s\n", name="weak.loom")
    assert prog.f(1e-3) == np.float64(2.0**-10)



# LANGUAGE.md §11: an unused value's run-time check may be removed by loom-opt; the raw IR keeps it.
@pytest.mark.parametrize("src,arg", [
    ("def f(i: i64) -> f32:\n    x = ones((3,))\n    y = x[i]\n    return 1.0\n", 5),
    ("def f(i: i64) -> i64:\n    y = 5 // i\n    return 1\n", 0),
], ids=["index", "floordiv"])
def test_optimized_keeps_runtime_errors(src, arg):
    with pytest.raises(compiler.LoomRuntimeError):
        compiler.loads(src, name="dead.loom", mode="eager").f(arg)
    assert compiler.loads(src, name="dead.loom", mode="eager", pipeline="loom-opt").f(arg) == 1
    assert compiler.loads(src, name="dead.loom").f(arg) == 1  # compiled code is optimized too
