"""Fuzzing (tests/fuzz/): generated well-typed programs run eagerly and compiled, mutants of the
corpus checked, a few through the CLI. See docs/testing.md.

The bounded campaign runs in the default suite with fixed seeds; `pytest -m fuzz` runs the long
mode (LOOM_FUZZ_MINUTES, default 5) and `python -m tests.fuzz --minutes N --out DIR` writes what it
finds. Minimised findings of defects not fixed yet are `xfail(strict=True)` tests below, so they
turn into failures ("XPASS") when fixed: then make them ordinary tests.
"""

from __future__ import annotations

import os
import random
import runpy
import sys
from pathlib import Path

import numpy as np
import pytest

import compiler
from tests.fuzz.gen import generate
from tests.fuzz.mutate import corpus, mutate, tokens
from tests.fuzz.oracle import check, compare, differential, noisy_references
from tests.fuzz.runner import Campaign, Worker, cli_outcome, may_hang

# Seeds of the bounded campaign: programs that run today without a finding (see docs/testing.md).
GENERATED_SEEDS = range(7)
DERIVATIVE_SEEDS = range(2)  # grad / value_and_grad of a generated function
DERIVATIVE_CHECK_SEEDS = range(3)  # jvp against grad, the Hessian's symmetry, finite differences
STRUCT_SEEDS = range(1)  # a struct parameter and struct results
MUTANT_SEEDS = range(300)
FINDINGS = Path(__file__).parent / "fuzz" / "findings"


def test_bounded_fuzz():
    camp = Campaign(seed=0)
    try:
        ran = [camp.generated(s).status for s in GENERATED_SEEDS]
        ran += [camp.generated(s, derivative=True).status for s in DERIVATIVE_SEEDS]
        ran += [camp.generated(s, struct=True).status for s in STRUCT_SEEDS]
        derived = [camp.derivatives(s, jit=s == 0) for s in DERIVATIVE_CHECK_SEEDS]
        checked = [camp.mutated(s).status for s in MUTANT_SEEDS]
        origin, text = camp.programs[0]
        camp.cli(mutate(random.Random(1), text), "check", f"mutant of {origin}")
        camp.cli(generate(0).source, "check", "generate(0)")
    finally:
        camp.worker.stop()
    assert not camp.report.findings, camp.report.summary()
    # not vacuous: most generated programs run in both modes, mutants both fail and pass the checker
    assert ran.count("ok") + ran.count("runtime-error") >= 7, ran
    assert checked.count("rejected") >= 200 and checked.count("ok") >= 5, camp.report.summary()
    assert sum(out.info.get("ran", 0) for out in derived) >= 2, derived


@pytest.mark.fuzz
def test_long_fuzz(tmp_path):
    minutes = float(os.environ.get("LOOM_FUZZ_MINUTES", "5"))
    report = Campaign(seed=int.from_bytes(os.urandom(4), "little"), out_dir=tmp_path).long(minutes)
    assert not report.findings, report.summary()


# ------------------------------------------------------------------ triaged findings
def _findings():
    for path in sorted(FINDINGS.glob("*.py")):
        case = runpy.run_path(str(path))
        if case.get("FIXED"):  # a regression test now
            yield pytest.param(path, id=path.stem)
            continue
        reason = (case.get("__doc__") or path.stem).strip().splitlines()[0]
        yield pytest.param(path, id=path.stem, marks=pytest.mark.xfail(strict=True, reason=reason))


@pytest.mark.parametrize("path", list(_findings()))
def test_finding(path):
    """A minimised finding (tests/fuzz/findings/*.py: SOURCE, ENTRY, ARGS; ARGS None: check only)
    holds its property. Each is a strict xfail until the defect is fixed (then FIXED says so and
    it is an ordinary regression test)."""
    case = runpy.run_path(str(path))
    if case.get("ARGS") is None:
        out = check(case["SOURCE"])[1]
    else:
        out = differential(case["SOURCE"], case.get("ENTRY", "f"), case["ARGS"])
    assert out.status != "finding", f"{out.kind}: {out.detail}"


# ------------------------------------------------------------------ the fuzzer's own parts
def test_finite_differences_allow_for_the_rounding_of_a_large_value():
    """f = 1e10 - sum(x * x): its values keep only a few bits of their change over a step, so the
    central differences are quantized (equal at h, h/2, h/4, and 1.5e-4 off); the bound on their
    error includes that rounding (a false alarm of the derivative checks before: campaign seed
    5151, "grad vs finite differences")."""
    from tests.fuzz.derivatives import check_derivatives

    src = """def f(x0: f64[N], x1: f64[N, B]) -> f64:
    return sum(x1 * -x1) + 10.0 ** 10.0
jf = jvp(f, wrt=x1)
gf = grad(f, wrt=x1)
hf = jvp(gf, wrt=x1)
"""
    out = check_derivatives(src, check(src)[0], seed=1073188889, jit=False)
    assert out.status == "ok" and out.info["fd"] == 2, out


def test_derivative_checks_count_the_run_without_noise_as_one_rounding():
    """f's derivatives are zero up to rounding (x1 / (x1 · s) is 1 / s; x2 ** trunc(x2) is 1 for
    |x2| < 1): ⟨w, H·u⟩ is -2e-17 and ⟨u, H·w⟩ 0.0, and the noisy reference runs of one side
    agreed. The run without noise is one more sample of the rounding, so the two sides agree
    within it (a false alarm before: campaign seed 8123, "<w, H u> vs <u, H w>", reduced)."""
    from tests.fuzz.derivatives import check_derivatives

    src = """def f(x0: i32[3, 3], x1: f64[1], x2: f64[B]) -> f64:
    x1 /= (((f64(x0) @ uniform((3, 4), seed=0, dtype=f64)))[:, -1] @ (x1 * ones((1, 3), f64))[3 % 1])
    if .5 % 3.0 > 1.5:
        x1 = ((3 - (full((3, 3), 10.0, f64) @ uniform(3, seed=6, dtype=f64))) @ full((3, 1), 0.25, f64))
    else:
        x2 = x2 ** f64(i64(x2))
    return sum(x1 * 1) + sum(x2 * -x2) + 2.0
jf = jvp(f, wrt=(x1, x2))
gf = grad(f, wrt=(x1, x2))
hf = jvp(gf, wrt=(x1, x2))
"""
    out = check_derivatives(src, check(src)[0], seed=1072610123, jit=False)
    assert out.status == "ok" and out.info["second"], out


DERIVED = """def f(x: f64[3, 4], y: f64[4]) -> f64:
    h = sin(x) @ y
    for i in range(2):
        h = h * x[i, 0] + h
    return sum(tanh(h) * h)

jf = jvp(f, wrt=(x, y))
gf = grad(f, wrt=(x, y))
hf = jvp(gf, wrt=(x, y))
"""


def test_derivative_checks_hold_and_catch_a_wrong_rule(monkeypatch):
    """The derivative checks (tests/fuzz/derivatives.py) pass on a program through a loop (two `wrt`
    parameters), and find a wrong JVP rule (the same in both modes and in reverse mode: only finite
    differences see it) and a wrong transpose rule (forward and reverse then disagree)."""
    from compiler.passes.autodiff import jvp_rules, transpose_rules
    from dialects import loom
    from tests.fuzz.derivatives import check_derivatives

    def derivatives(source):
        return check_derivatives(source, check(source)[0], seed=0, jit=False)

    out = derivatives(DERIVED)
    assert out.status == "ok" and out.info == {"ran": 1, "wrt": 2, "nonzero": True, "second": True, "fd": 2}, out
    monkeypatch.setitem(jvp_rules.JVP, loom.SinOp, jvp_rules._scale(lambda b, x, r: b.un(loom.SinOp, x)))
    out = derivatives(DERIVED)
    assert (out.status, out.signature) == ("finding", "derivative: grad vs finite differences"), out
    monkeypatch.undo()
    matmul = transpose_rules.TRANSPOSE[loom.MatmulOp]
    monkeypatch.setitem(transpose_rules.TRANSPOSE, loom.MatmulOp,
                        lambda b, op, ct, lin: [r and b.add_(r, r) for r in matmul(b, op, ct, lin)])
    out = derivatives(DERIVED)
    assert (out.status, out.signature) == ("finding", "derivative: jvp tangent vs <grad, u>"), out


def test_generated_programs_check_and_differ_by_seed():
    a, b = generate(1).source, generate(2).source
    assert a != b and generate(1).source == a
    assert "def f(" in a


def test_mutations_keep_tokens_and_change_text():
    for name, text in corpus()[:20]:
        assert "".join(tokens(text)) == text, name
    r = random.Random(0)
    text = corpus()[0][1]
    assert sum(mutate(r, text) != text for _ in range(20)) >= 15


def test_compare_is_nan_aware_and_strict_on_integers():
    nan = np.float32("nan")
    assert compare(np.array([1.0, nan], np.float32), np.array([1.0, nan], np.float32)) is None
    assert compare(np.array([1.0, 2.0], np.float32), np.array([1.0, nan], np.float32)) is not None
    assert compare(np.array([1.0], np.float32), np.array([1.0001], np.float32)) is None
    assert compare(np.array([1.0], np.float32), np.array([1.1], np.float32)) is not None
    assert compare(np.array([3], np.int64), np.array([4], np.int64)) is not None
    assert compare(np.array([3], np.int32), np.array([3], np.int64)) is not None
    assert compare((np.float64(1), np.int64(2)), (np.float64(1), np.int64(2))) is None


def test_compare_accepts_rounding_by_the_noisy_reference_and_keeps_real_differences():
    """f64: a dot product cancelling to 1e-5 of its terms' 1e6 is only rounding in another summation
    order (a false alarm of a fixed tolerance); the noisy reference runs (Monte Carlo arithmetic)
    show it, while a difference beyond rounding — in a well-conditioned result, or in a small
    element beside a large one — is still reported."""
    src = "def f(x: f64[37], w: f64[37]) -> (f64, f64[2]):\n    return sum(x * w), x[0:2] * w[0:2]\n"
    r = np.random.default_rng(0)
    x = r.standard_normal(37) * 1e6
    x[-1] = -np.sum(x[:-1])
    w = np.ones(37) + r.standard_normal(37) * 1e-12
    want = compiler.loads(src, mode="eager").f(x, w)
    runs = noisy_references(src, "f", [x, w])
    noisy = lambda: runs  # (the oracle passes a function: the runs are made when needed)
    assert len(runs) == 6 and len({float(run[0]) for run in runs}) > 1, runs  # rounding moves the sum
    other_order = np.float64(np.sum(x[::-1] * w[::-1]))
    assert other_order != want[0] and compare((other_order, want[1]), want) is not None
    assert compare((other_order, want[1]), want, noisy) is None
    assert compare((other_order + 1.0, want[1]), want, noisy) is not None  # 1e5 times the dot's rounding
    assert compare((want[0], want[1] * (1 + 1e-6)), want, noisy) is not None  # a well-conditioned product
    assert compare(np.array([1e6, 1.001]), np.array([1e6, 1.0])) is not None  # not hidden by the 1e6


def test_compare_accepts_an_integer_that_rounding_flips():
    """`i64(x * 3.0)` at x = 1/3 is 1 or 0 depending on the last bit: the noisy runs show both, so
    either is rounding; 2 is not."""
    src = "def f(x: f64) -> i64:\n    return i64(x * 3.0)\n"
    x = np.float64(1.0) / 3.0
    runs = noisy_references(src, "f", [x])
    assert {int(r[0]) for r in runs} == {0, 1}, runs
    assert compare(np.int64(0), np.int64(1), lambda: runs) is None
    assert compare(np.int64(2), np.int64(1), lambda: runs) is not None
    assert compare(np.int64(0), np.int64(1)) is not None


def test_differential_agrees_and_reports_runtime_errors_of_both_modes():
    src = "def f(x: i64[3], k: i64) -> i64[3]:\n    return x // k\n"
    x = np.array([4, 5, 6], np.int64)
    assert differential(src, "f", [x, np.int64(2)]).status == "ok"
    out = differential(src, "f", [x, np.int64(0)])
    assert out.status == "runtime-error" and "division by zero" in out.detail


def test_worker_reports_a_crash_and_a_hang():
    crash = Worker([sys.executable, "-c", "import os, sys; sys.stdin.readline(); os.abort()"])
    out = crash.run({"op": "check", "source": "def f():\n    return 1\n"})
    assert out.status == "finding" and out.kind == "crash", out
    hang = Worker([sys.executable, "-c", "import sys\nsys.stdin.readline()\nwhile True: pass"])
    out = hang.run({"op": "check", "source": "def f():\n    return 1\n"}, limit=1.0)
    assert out.status == "finding" and out.kind == "hang", out
    out = hang.run({"op": "check", "source": "def f():\n    while true:\n        x = 1\n"}, limit=1.0)
    assert out.status == "timeout-unbounded", out


@pytest.mark.parametrize("loop,may", [("while x < n:", True), ("while x < n bound 9:", False),
                                      ("while x < n:  # no bound: the tape grows", True),
                                      ("for i in range(n):", True), ("for i in range(i64(2) % 4):", True),
                                      ("for i in range(3):", False), ("for i in range(1, -2, -1):", False)])
def test_a_loop_over_the_inputs_may_legitimately_hang(loop, may):
    """A `for` over a range of values the program is given may run for ever (an i64 input of
    2^63 − 1, a special value: a fuzz false alarm on casts.loom), like a `while` without `bound` —
    the word in a comment is not one (a false alarm on a mutant of examples/while_grad.loom)."""
    assert may_hang(f"def f(n: i64) -> i64:\n    x = 0\n    {loop}\n        x += 1\n    return x\n") == may


def test_cli_outcome_accepts_diagnostics():
    assert cli_outcome("def f(x: f32) -> f32:\n    return y\n", "check").status == "rejected"
