"""Derivatives of derivatives to any depth (`ad-differentiate`), derivatives nested inline, `wrt=`
in any order, one derivative function per differentiated function, and derivative programs read
back by `loom opt` and xDSL's `xdsl-opt` — eagerly and compiled, against analytic values and
finite differences. (First-order cases: test_autodiff.py; per-op rules: test_autodiff_rules.py.)"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap

import numpy as np
import pytest
from xdsl.dialects.builtin import ModuleOp
from xdsl.parser import Parser

from compiler.diagnostics import LoomError
from compiler.frontend.derivatives import is_hidden
from compiler.passes.ad_differentiate import ROUND, AdDifferentiate
from compiler.pipeline import make_context, print_module
from tests.test_autodiff import MODES, fd_grad, load

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# p(x) = 3x⁵ - 2x⁴ + x³ - 7x + 1 and its derivatives; sin's cycle through cos, -sin, -cos, sin
POLY = [lambda x: 3 * x**5 - 2 * x**4 + x**3 - 7 * x + 1, lambda x: 15 * x**4 - 8 * x**3 + 3 * x**2 - 7,
        lambda x: 60 * x**3 - 24 * x**2 + 6 * x, lambda x: 180 * x**2 - 48 * x + 6, lambda x: 360 * x - 48,
        lambda x: 360.0 + 0 * x]
SIN = [np.sin, np.cos, lambda x: -np.sin(x), lambda x: -np.cos(x), np.sin, np.cos]

HIGHER = """
def p(x: f64) -> f64:
    return 3.0 * x * x * x * x * x - 2.0 * x * x * x * x + x * x * x - 7.0 * x + 1.0

def s(x: f64) -> f64:
    return sin(x)

p1 = grad(p, wrt=x)
p2 = grad(p1, wrt=x)
p3 = grad(p2, wrt=x)
p4 = grad(p3, wrt=x)
p5 = grad(p4, wrt=x)
s1 = grad(s, wrt=x)
s2 = grad(s1, wrt=x)
s3 = grad(s2, wrt=x)
s4 = grad(s3, wrt=x)
s5 = grad(s4, wrt=x)

def main(x: f64) -> (f64, f64, f64, f64, f64, f64, f64, f64, f64, f64):
    return p1(x), p2(x), p3(x), p4(x), p5(x), s1(x), s2(x), s3(x), s4(x), s5(x)
"""


@pytest.mark.slow
@pytest.mark.parametrize("mode", MODES)
def test_fourth_and_fifth_derivatives_of_a_polynomial_and_of_sin(mode):
    """Five rounds of reverse over reverse (the reproducer grad_4th_order_ice.loom, beyond)."""
    prog = load(HIGHER, mode)
    for x in (0.7, -1.3):
        got = prog.main(x)
        want = [POLY[k](x) for k in range(1, 6)] + [SIN[k](x) for k in range(1, 6)]
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-9)


MIXED = """
def f(x: f64) -> f64:
    return sin(x) * x * x

d2 = grad(grad(f, wrt=x), wrt=x)
d3 = jvp(d2, wrt=x)

def fwd(x: f64) -> f64:
    y, dy = jvp(f, wrt=x)(x, 1.0)
    return dy

def main(x: f64, t: f64) -> (f64, f64, f64, f64, f64):
    a, b = jvp(grad(grad(f, wrt=x), wrt=x), wrt=x)(x, t)
    return a, b, grad(fwd, wrt=x)(x), grad(grad(fwd, wrt=x), wrt=x)(x), d3(x, t)[1]
"""


def test_mixed_forward_and_reverse_nesting():
    """jvp of grad of grad (inline and bound), grad of a jvp, grad of grad of a jvp."""
    c, s = np.cos, np.sin
    f2 = lambda x: 2 * s(x) + 4 * x * c(x) - x * x * s(x)  # noqa: E731
    f3 = lambda x: 6 * c(x) - 6 * x * s(x) - x * x * c(x)  # noqa: E731
    x, t = 0.9, -1.7
    for mode in MODES:
        got = load(MIXED, mode).main(x, t)
        np.testing.assert_allclose(got, [f2(x), f3(x) * t, f2(x), f3(x), f3(x) * t], rtol=1e-12)


INLINE = """
def f(x: f64) -> f64:
    return x * x * x * x * x

def __grad_f(x: f64) -> f64:
    return 0.0 - x

def main(x: f64) -> (f64, f64, f64, f64, f64):
    three = grad(grad(grad(f, wrt=x), wrt=x), wrt=x)(x)
    four = grad(grad(grad(grad(f, wrt=x), wrt=x), wrt=x), wrt=x)(x)
    return three, four, grad(grad(f, wrt=x), wrt=x)(x), grad(__grad_f, wrt=x)(x), __grad_f(x)

d1 = grad(f, wrt=x)

def via_d1(x: f64) -> (f64, f64):
    return grad(grad(d1, wrt=x), wrt=x)(x), grad(grad(grad(f, wrt=x), wrt=x), wrt=x)(x)
"""


@pytest.mark.parametrize("mode", MODES)
def test_inline_nesting_triple_and_quadruple_with_bindings(mode):
    """Hidden functions are unique however deep (grad_inline_triple_nesting.loom), never take a
    name the program uses (`__grad_f` here is the user's), and one derivative written in several
    places is lifted once."""
    prog = load(INLINE, mode)
    x = 1.3
    np.testing.assert_allclose(prog.main(x), [60 * x**2, 120 * x, 20 * x**3, -1.0, -x], rtol=1e-12)
    np.testing.assert_allclose(prog.via_d1(x), [60 * x**2, 60 * x**2], rtol=1e-12)
    hidden = sorted(n for n in prog.checker.funcs if is_hidden(n) and n != "__grad_f")
    assert hidden == ["__grad_d1", "__grad_f_1", "__grad_grad_f", "__grad_grad_grad_f"]
    assert not any(is_hidden(n) for n in ("f", "main", "d1", "via_d1"))


def test_inline_triple_nesting_reproducer():
    path = "/work/shared/repro/grad_inline_triple_nesting.loom"
    src = open(path).read() if os.path.exists(path) else """
def f(x: f64) -> f64:
    return x * x * x * x * x

def main():
    return grad(grad(grad(f, wrt=x), wrt=x), wrt=x)(2.0)
"""
    assert load(src, "eager").main() == 240.0


WRT = """
struct P:
    w: f64[2]
    b: f64

def f(a: f64[2], p: P, c: f64) -> f64:
    return sum(sin(a * p.w)) * c + p.b * c * c + sum(a) * p.b

def h(a: f64[2], p: P, c: f64) -> f64[2]:
    return sin(a * p.w) * c + p.b * a

g_ca = grad(f, wrt=(c, a))

def vg_pa(a: f64[2], p: P, c: f64) -> (f64, P, f64[2]):
    return value_and_grad(f, wrt=(p, a))(a, p, c)

def vjp_cp(a: f64[2], p: P, c: f64, ct: f64[2]) -> (f64[2], f64, P):
    return vjp(h, wrt=(c, p))(a, p, c, ct)

def jvp_ca(a: f64[2], p: P, c: f64, tc: f64, ta: f64[2]) -> (f64[2], f64[2]):
    return jvp(h, wrt=(c, a))(a, p, c, tc, ta)

def g_cba(a: f64[2], p: P, c: f64) -> (f64, f64, f64[2]):
    dc, dp, da = grad(f, wrt=(c, p, a))(a, p, c)
    return dc, dp.b, da
"""


@pytest.mark.parametrize("mode", MODES)
def test_wrt_in_any_order_returns_derivatives_in_that_order(mode):
    """`wrt=(c, a)` gives (dc, da), like JAX's argnums: grad, value_and_grad, vjp, jvp, structs."""
    prog = load(WRT, mode)
    a, w, b, c = np.array([0.4, -1.1]), np.array([0.7, 0.3]), 0.25, 1.5
    p = {"w": w, "b": b}

    def nf(a_, w_, b_, c_):
        return np.sum(np.sin(a_ * w_)) * c_ + b_ * c_ * c_ + np.sum(a_) * b_

    def nh(a_, w_, b_, c_):
        return np.sin(a_ * w_) * c_ + b_ * a_

    da = fd_grad(lambda v: nf(v, w, b, c), a)
    dw = fd_grad(lambda v: nf(a, v, b, c), w)
    db = fd_grad(lambda v: nf(a, w, v, c), b)
    dc = fd_grad(lambda v: nf(a, w, b, v), c)
    close = lambda x, y: np.testing.assert_allclose(x, y, rtol=1e-7, atol=1e-9)  # noqa: E731

    got_c, got_a = prog.g_ca(a, p, c)
    close(got_c, dc), close(got_a, da)
    v, gp, ga = prog.vg_pa(a, p, c)
    close(v, nf(a, w, b, c)), close(gp.w, dw), close(gp.b, db), close(ga, da)
    got_c, got_b, got_a = prog.g_cba(a, p, c)
    close(got_c, dc), close(got_b, db), close(got_a, da)

    ct, tc, ta = np.array([0.6, -2.0]), -0.8, np.array([1.2, 0.5])
    y, vc, vp = prog.vjp_cp(a, p, c, ct)
    close(y, nh(a, w, b, c))
    close(vc, fd_grad(lambda v: ct @ nh(a, w, b, v), c))
    close(vp.w, fd_grad(lambda v: ct @ nh(a, v, b, c), w))
    close(vp.b, fd_grad(lambda v: ct @ nh(a, w, v, c), b))
    y, ty = prog.jvp_ca(a, p, c, tc, ta)
    eps = 1e-6
    close(ty, (nh(a + eps * ta, w, b, c + eps * tc) - nh(a - eps * ta, w, b, c - eps * tc)) / (2 * eps))


def test_wrt_reproducer_order_b_a():
    src = """
def f(a: f64, b: f64) -> f64:
    return a * a * b + 3.0 * b

def main():
    return grad(f, wrt=(b, a))(2.0, 5.0)
"""
    for mode in MODES:
        assert load(src, mode).main() == (7.0, 20.0)


SHARED = """
def f(x: f64) -> f64:
    return sin(x) * x

def main(x: f64) -> (f64, f64, f64, f64):
    a = grad(f, wrt=x)(x)
    b = grad(f, wrt=x)(x + 1.0)
    y, c = jvp(f, wrt=x)(x, 1.0)
    return a, b, c, value_and_grad(f, wrt=x)(x)[1]
"""


def test_a_function_differentiated_in_several_places_is_differentiated_once():
    prog = load(SHARED, "jit")
    x = 0.4
    np.testing.assert_allclose(prog.main(x), [np.sin(x) + x * np.cos(x), np.sin(x + 1) + (x + 1) * np.cos(x + 1),
                                              np.sin(x) + x * np.cos(x), np.sin(x) + x * np.cos(x)], rtol=1e-12)
    text = prog.main.lower(x).as_text("loom")
    module = Parser(make_context(), text).parse_module()
    text = print_module(_differentiated(module))
    for name in ("f_jvp", "f_fwd", "f_lin", "f_lin_t"):
        assert text.count(f"func.func private @{name}(") == 1, name
    assert "@f_1_" not in text and "@f_jvp_1" not in text


def _differentiated(module: ModuleOp, **options) -> ModuleOp:
    AdDifferentiate(**options).apply(make_context(), module)
    return module


def _irgen(src: str) -> ModuleOp:
    prog = load(src, "eager")
    return Parser(make_context(), prog.main.lower(2.0).as_text("loom")).parse_module()


def test_ad_differentiate_runs_one_round_per_order_and_stops():
    nest = "def f(x: f64) -> f64:\n    return sin(x) * x\n\ndef main(x: f64) -> f64:\n    return {}(x)\n"
    for depth in (1, 2, 4):
        module = _irgen(nest.format("grad(" * depth + "f" + ", wrt=x)" * depth))
        ran = []
        for p in AdDifferentiate().steps(module):  # as a pass manager runs them, one at a time
            p.apply(make_context(), module)
            ran.append(p.name)
        assert ran == [p.name for p in ROUND] * depth
        assert not any(o.name in ("ad.jvp", "ad.vjp") for o in module.walk())


def test_ad_differentiate_bounds_and_stalls_are_clear_internal_errors():
    module = _irgen("def f(x: f64) -> f64:\n    return x * x\n\ndef main(x: f64) -> f64:\n"
                    "    return grad(grad(f, wrt=x), wrt=x)(x)\n")
    with pytest.raises(LoomError, match="max-rounds=1"):
        _differentiated(module, max_rounds=1)
    # a derivative that can never be ready (a function differentiating itself: the front end
    # rejects recursion, so only hand-written IR gets here)
    cyclic = """
builtin.module {
  func.func @f(%x: f64) -> f64 {
    %one = arith.constant 1.0 : f64
    %r:2 = ad.vjp @f(%x, %one) {wrt = array<i64: 0>} : (f64, f64) -> (f64, f64)
    func.return %r#1 : f64
  }
}
"""
    with pytest.raises(LoomError, match="round 1 differentiated none of the 1 derivative op"):
        _differentiated(Parser(make_context(), cyclic).parse_module())


GRADIENT_PROGRAM = """
def f(x: f64, n: i64) -> f64:
    s = 0.0
    for i in range(n):
        s = s + sin(x) * x * s + 1.0
    return s

def main(x: f64) -> f64:
    return grad(grad(f, wrt=x), wrt=x)(x, 3)
"""


def test_gradient_programs_read_back_with_loom_opt_and_xdsl_opt(tmp_path):
    """The `ad` dialect is in the `xdsl.universe` entry point, like `loom`: a dump with derivative
    ops (as generated, and half differentiated: tapes, linear vjps) parses back."""
    from compiler.cli import main as loom

    src = tmp_path / "g.loom"
    src.write_text(textwrap.dedent(GRADIENT_PROGRAM))
    dumps = []
    for k, passes in enumerate(("none", "ad-jvp,ad-linearize")):
        dump = tmp_path / f"g{k}.mlir"
        assert loom(["compile", str(src), "--emit=loom", "-p", passes, "-o", str(dump)]) == 0
        text = dump.read_text()
        assert "ad.vjp" in text and (k == 0 or "ad.push" in text)
        again = tmp_path / f"again{k}.mlir"
        assert loom(["opt", str(dump), "-p", "none", "-o", str(again)]) == 0
        assert again.read_text() == text
        dumps.append(text)
    both = tmp_path / "both.mlir"
    both.write_text("// -----\n".join(dumps))
    env = {**os.environ, "PYTHONPATH": ROOT + os.pathsep + os.environ.get("PYTHONPATH", "")}
    xdsl_opt = shutil.which("xdsl-opt", path=os.path.dirname(sys.executable)) or shutil.which("xdsl-opt")
    for args in ([], ["-p", "ad-differentiate"]):
        r = subprocess.run([xdsl_opt, "--split-input-file", str(both), *args], capture_output=True, text=True,
                           env=env, cwd=tmp_path)
        assert r.returncode == 0, r.stderr
        assert r.stdout.count("func.func @main") == 2
        assert ("ad.vjp" in r.stdout) == (not args) and "ad.push" in r.stdout  # (a loop's tape stays)
