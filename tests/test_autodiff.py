"""Differentiation as a user writes it (LANGUAGE.md §8): `grad`, `value_and_grad`, `jvp`, `vjp`,
top-level bindings, nesting (grad of grad, Hessian-vector products), control flow, calls,
`@checkpoint`, `stop_gradient`, structs — every case eagerly and compiled, against finite
differences or NumPy written independently. (Per-op rules: test_autodiff_rules.py.)"""

from __future__ import annotations

import textwrap

import numpy as np
import pytest

import compiler

MODES = ("eager", "jit")


def load(src: str, mode: str):
    return compiler.loads(textwrap.dedent(src), name="ad.loom", mode=mode)


def fd_grad(f, w, eps=1e-6):
    w = np.asarray(w, np.float64)
    g = np.zeros_like(w)
    for i in np.ndindex(w.shape):
        e = np.zeros_like(w)
        e[i] = eps
        g[i] = (f(w + e) - f(w - e)) / (2 * eps)
    return g


LOSS = """
def loss(w: f64[3], x: f64[4, 3], y: f64[4]) -> f64:
    p = tanh(x @ w)
    return mean((p - y) * (p - y))
"""
W = np.array([0.3, -0.5, 0.8])
XS = np.linspace(-1, 1, 12).reshape(4, 3)
YS = np.array([0.2, -0.1, 0.5, 0.0])


def np_loss(w):
    p = np.tanh(XS @ w)
    return np.mean((p - YS) ** 2)


@pytest.mark.parametrize("mode", MODES)
def test_grad_value_and_grad_and_binding(mode):
    src = LOSS + """
dloss = grad(loss, wrt=w)

def main(w: f64[3], x: f64[4, 3], y: f64[4]) -> (f64[3], f64, f64[3], f64[3]):
    v, g = value_and_grad(loss, wrt=w)(w, x, y)
    return grad(loss, wrt=w)(w, x, y), v, g, dloss(w, x, y)
"""
    p = load(src, mode)
    g1, v, g2, g3 = p.main(W, XS, YS)
    want = fd_grad(np_loss, W)
    for g in (g1, g2, g3, p.dloss(W, XS, YS)):
        np.testing.assert_allclose(g, want, rtol=1e-6, atol=1e-9)
    assert abs(v - np_loss(W)) < 1e-12


@pytest.mark.parametrize("mode", MODES)
def test_grad_wrt_several_parameters_is_a_flat_tuple(mode):
    src = """
def f(a: f64[2], b: f64, c: f64[2]) -> f64:
    return sum(a * c) * b + b * b

def main(a: f64[2], b: f64, c: f64[2]) -> (f64, f64[2], f64, f64[2]):
    return value_and_grad(f, wrt=(a, b, c))(a, b, c)
"""
    a, b, c = np.array([1.0, 2.0]), 3.0, np.array([0.5, -1.0])
    v, ga, gb, gc = load(src, mode).main(a, b, c)
    np.testing.assert_allclose(ga, c * b)
    np.testing.assert_allclose(gb, np.sum(a * c) + 2 * b)
    np.testing.assert_allclose(gc, a * b)


@pytest.mark.parametrize("mode", MODES)
def test_jvp_and_vjp_agree_with_each_other(mode):
    src = """
def g(x: f64[3], w: f64[3, 2]) -> f64[2]:
    return sin(x @ w) * 2.0

def fwd(x: f64[3], w: f64[3, 2], t: f64[3]) -> (f64[2], f64[2]):
    return jvp(g, wrt=x)(x, w, t)

def rev(x: f64[3], w: f64[3, 2], ct: f64[2]) -> (f64[2], f64[3]):
    return vjp(g, wrt=x)(x, w, ct)
"""
    p = load(src, mode)
    x, w = np.array([0.1, 0.7, -0.4]), np.arange(6.0).reshape(3, 2) / 5
    u, v = np.array([1.0, -2.0, 0.5]), np.array([0.3, 1.1])
    y1, ju = p.fwd(x, w, u)
    y2, jtv = p.rev(x, w, v)
    np.testing.assert_allclose(y1, y2)
    np.testing.assert_allclose(np.dot(ju, v), np.dot(u, jtv), rtol=1e-12)
    np.testing.assert_allclose(ju, np.cos(x @ w) * 2.0 * (u @ w))


@pytest.mark.parametrize("mode", MODES)
def test_hessian_vector_product_and_grad_of_grad(mode):
    src = LOSS + """
dloss = grad(loss, wrt=w)
hvp = jvp(dloss, wrt=w)

def f(s: f64) -> f64:
    return s * s * s + sin(s)

def second(s: f64) -> f64:
    return grad(grad(f, wrt=s), wrt=s)(s)
"""
    p = load(src, mode)
    v = np.array([1.0, 0.5, -2.0])
    g, hv = p.hvp(W, XS, YS, v)
    eps = 1e-5
    want = (fd_grad(np_loss, W + eps * v) - fd_grad(np_loss, W - eps * v)) / (2 * eps)
    np.testing.assert_allclose(g, fd_grad(np_loss, W), rtol=1e-6, atol=1e-9)
    np.testing.assert_allclose(hv, want, rtol=1e-4, atol=1e-7)
    np.testing.assert_allclose(p.second(0.7), 6 * 0.7 - np.sin(0.7), rtol=1e-12)


LOOPS = """
def f(w: f64[3], x: f64[3], n: i64) -> f64:
    y = w
    for i in range(n):
        y = tanh(y * x) + w
        if sum(y) > 1.0:
            y = y * 0.5
    k = 0
    while k < n:
        y = sin(y) * w
        k = k + 1
    m = 0.0
    while m < 3.0 bound 100:
        m = m + sum(abs(y)) + 0.1
    return sum(y * y) + m
"""


def np_loops(w, x=np.array([0.3, -0.6, 0.9]), n=3):
    y = w
    for _ in range(n):
        y = np.tanh(y * x) + w
        if np.sum(y) > 1.0:
            y = y * 0.5
    for _ in range(n):
        y = np.sin(y) * w
    m = 0.0
    while m < 3.0:
        m = m + np.sum(np.abs(y)) + 0.1
    return np.sum(y * y) + m


@pytest.mark.parametrize("mode", MODES)
def test_control_flow_for_if_while_unbounded_and_bounded(mode):
    src = LOOPS + """
def main(w: f64[3], x: f64[3], n: i64) -> f64[3]:
    return grad(f, wrt=w)(w, x, n)

dfdw = grad(f, wrt=w)
hvp = jvp(dfdw, wrt=w)
"""
    p = load(src, mode)
    w, x = np.array([0.4, 0.2, -0.3]), np.array([0.3, -0.6, 0.9])
    np.testing.assert_allclose(p.main(w, x, 3), fd_grad(np_loops, w), rtol=1e-6, atol=1e-8)
    v = np.array([0.5, 1.0, -1.0])
    _, hv = p.hvp(w, x, 3, v)
    eps = 1e-5
    want = (fd_grad(np_loops, w + eps * v) - fd_grad(np_loops, w - eps * v)) / (2 * eps)
    np.testing.assert_allclose(hv, want, rtol=1e-4, atol=1e-6)


WHILE_ACTIVE_CONDITION = """
def g(y: f64, x: f64) -> f64:
    return y * x + sin(x)

def f(x: f64, n: i64) -> f64:
    y = x
    k = 0
    while k < n and g(y, x) * 2.0 < 50.0 bound 20:
        j = 0
        while j < 2 and exp(y) > 0.0:
            y = y + 0.25 * cos(y * x)
            j = j + 1
        k = k + 1
    if x > 0.0:
        w = 0
        while w < 0 and x * 2.0 < 10.0 bound 1:
            w = w + 1
    return y * y + x

df = grad(f, wrt=x)
d2f = grad(df, wrt=x)
tangent = jvp(f, wrt=x)
"""


def np_while_active_condition(x, n):
    y, k = x, 0
    while k < n and (y * x + np.sin(x)) * 2.0 < 50.0:
        for _ in range(2):
            y = y + 0.25 * np.cos(y * x)
        k += 1
    return y * y + x


@pytest.mark.parametrize("mode", MODES)
def test_while_condition_computed_from_the_parameter_has_no_derivative(mode):
    """A `while` whose condition computes from differentiated values (`and` of comparisons of
    `x * 2.0`, a call, `exp(y)`), bounded or not, nested, run zero or more times: the condition
    has no derivative (JAX's convention), the gradient is that of the iterations run (fuzz finding
    grad_bounded_while_active_condition)."""
    p = load(WHILE_ACTIVE_CONDITION, mode)
    for x, n in ((0.7, 3), (1.3, 5), (-0.4, 0), (2.0, 2)):
        want = fd_grad(lambda v, n=n: np_while_active_condition(float(v), n), x)
        np.testing.assert_allclose(p.df(x, n), want, rtol=1e-6, atol=1e-9)
        np.testing.assert_allclose(p.tangent(x, n, 1.0)[1], want, rtol=1e-6, atol=1e-9)
        eps = 1e-5
        second = (p.df(x + eps, n) - p.df(x - eps, n)) / (2 * eps)
        np.testing.assert_allclose(p.d2f(x, n), second, rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize("mode", MODES)
def test_checkpoint_gives_the_same_gradient_and_tapes_less(mode):
    body = """
def block(x: f64[4], w: f64[4]) -> f64[4]:
    return tanh(exp(x * w) * 0.1) * w

def loss(x: f64[4], w: f64[4]) -> f64:
    h = x
    for i in range(3):
        h = block(h, w) + h
    return sum(h * h)

def main(x: f64[4], w: f64[4]) -> f64[4]:
    return grad(loss, wrt=w)(x, w)
"""
    x, w = np.linspace(-1, 1, 4), np.array([0.5, -0.2, 0.8, 0.1])
    plain, ckpt = load(body, mode), load(body.replace("def block", "@checkpoint\ndef block"), mode)
    np.testing.assert_allclose(ckpt.main(x, w), plain.main(x, w), rtol=1e-12)
    pushes = [load(s, "eager").main.lower(x, w).as_text("loom-opt").count("ad.push")
              for s in (body, body.replace("def block", "@checkpoint\ndef block"))]
    assert pushes[1] < pushes[0], f"checkpointing should tape fewer values, got {pushes}"


@pytest.mark.parametrize("mode", MODES)
def test_checkpoint_recomputes_ops_of_constants(mode):
    """A `@checkpoint`ed function whose recomputed ops read constants (`sum(full(…))`, a product of
    two constant tensors): the constants are rematerialized in the backward pass with the ops that
    read them, first and second order (fuzz finding checkpoint_constant_operand: invalid IR after
    ad-differentiate)."""
    src = """
@checkpoint
def g(a: f64, v: f64[3]) -> f64:
    return a * sum(exp(full((3,), 0.25, f64))) + a ** (full((3,), 0.5, f64) @ ones((3,), f64)) + sum(v * full((3,), 2.0, f64))

def f(x: f64, v: f64[3]) -> f64:
    return x * g(x, v) + g(2.0 * x, v * x)

gf = grad(f, wrt=(x, v))
hf = jvp(gf, wrt=x)
"""
    p = load(src, mode)
    c, x, v = 3 * np.exp(0.25), 1.3, np.array([0.5, -1.0, 2.0])

    def f(x, v):
        def g(a, v):
            return a * c + a ** 1.5 + 2 * np.sum(v)
        return x * g(x, v) + g(2 * x, v * x)
    gx, gv = p.gf(x, v)
    np.testing.assert_allclose(gx, fd_grad(lambda t: f(float(t), v), x), rtol=1e-7)
    np.testing.assert_allclose(gv, 2 * x + 2 * x, rtol=1e-12)  # d/dv of 2x·sum(v) + 2·sum(v·x)
    eps = 1e-5
    second = (p.gf(x + eps, v)[0] - p.gf(x - eps, v)[0]) / (2 * eps)
    np.testing.assert_allclose(p.hf(x, v, 1.0)[2], second, rtol=1e-6)


@pytest.mark.parametrize("mode", MODES)
def test_stop_gradient_and_where_conventions(mode):
    src = """
def f(x: f64[4]) -> f64:
    return sum(x * stop_gradient(x)) + sum(where(x > 0.0, sqrt(x), 0.0)) + max(x)

def main(x: f64[4]) -> f64[4]:
    return grad(f)(x)
"""
    x = np.array([4.0, -1.0, 4.0, 1.0])
    g = load(src, mode).main(x)
    # d/dx x*sg(x) = sg(x); sqrt' only where x > 0 (no NaN from the other branch); max's
    # gradient shared by the two tied maxima
    np.testing.assert_allclose(g, x + np.where(x > 0, 0.5 / np.sqrt(np.abs(x)), 0.0) + [0.5, 0, 0.5, 0])


@pytest.mark.parametrize("mode", MODES)
def test_grad_with_respect_to_a_struct(mode):
    src = """
struct Params:
    w: f64[3, 2]
    b: f64[2]

def loss(p: Params, x: f64[4, 3]) -> f64:
    return sum(tanh(x @ p.w + p.b))

def step(p: Params, x: f64[4, 3]) -> Params:
    g = grad(loss, wrt=p)(p, x)
    return p - 0.1 * g
"""
    prog = load(src, mode)
    w, b = np.arange(6.0).reshape(3, 2) / 10, np.array([0.1, -0.2])
    x = np.linspace(-1, 1, 12).reshape(4, 3)
    new = prog.step({"w": w, "b": b}, x)
    f = lambda w_, b_: np.sum(np.tanh(x @ w_ + b_))  # noqa: E731
    np.testing.assert_allclose(new.w, w - 0.1 * fd_grad(lambda w_: f(w_, b), w), rtol=1e-6)
    np.testing.assert_allclose(new.b, b - 0.1 * fd_grad(lambda b_: f(w, b_), b), rtol=1e-6)


def test_derivative_ir_is_printable_at_every_stage():
    p = load(LOSS + "\ndloss = grad(loss, wrt=w)\n", "jit")
    low = p.dloss.lower(W, XS, YS)
    assert "ad.vjp @loss" in low.as_text("loom")  # as generated
    opt = low.as_text("loom-opt")
    assert "ad." not in opt  # straight-line code: the tape is forwarded away entirely
    assert "define" in low.as_text("llvm")


SECOND = """
def f(s: f64, n: i64) -> f64:
    y = s
    for i in range(n):
        y = sin(y) * s
    k = 0
    while k < n:
        y = y * y * 0.5 + s
        k = k + 1
    return y

def g(w: f64[3]) -> f64:
    h = w
    for i in range(3):
        h = tanh(h * w) + w
    return sum(h * h)

def second(s: f64, n: i64) -> f64:
    return grad(grad(f, wrt=s), wrt=s)(s, n)

dg = grad(g, wrt=w)

def gsum(w: f64[3]) -> f64:
    return sum(dg(w) * dg(w))

def grad_of_gsum(w: f64[3]) -> f64[3]:
    return grad(gsum, wrt=w)(w)
"""


def np_f(s, n=3):
    y = s
    for _ in range(n):
        y = np.sin(y) * s
    for _ in range(n):
        y = y * y * 0.5 + s
    return y


def np_g(w):
    h = w
    for _ in range(3):
        h = np.tanh(h * w) + w
    return np.sum(h * h)


@pytest.mark.parametrize("mode", MODES)
def test_reverse_over_reverse_through_loops(mode):
    """grad of grad where the inner gradient keeps a tape: the tangent tape transposes to a
    cotangent tape (push and pop swap roles)."""
    p = load(SECOND, mode)
    e = 1e-4
    want = (np_f(0.5 + e) - 2 * np_f(0.5) + np_f(0.5 - e)) / e**2
    np.testing.assert_allclose(p.second(0.5, 3), want, rtol=1e-5)
    w = np.array([0.3, -0.4, 0.6])
    gs = lambda w_: np.sum(fd_grad(np_g, w_, 1e-5) ** 2)  # noqa: E731
    np.testing.assert_allclose(p.grad_of_gsum(w), fd_grad(gs, w, 1e-4), rtol=1e-4, atol=1e-6)


def test_loop_tape_is_preallocated_from_the_trip_count():
    src = """
def f(w: f64[3], n: i64) -> f64:
    y = w
    for i in range(n):
        y = sin(y) * w
    return sum(y)

def main(w: f64[3], n: i64) -> f64[3]:
    return grad(f, wrt=w)(w, n)
"""
    p = load(src, "jit")
    text = p.main.lower(np.ones(3), 5).as_text("loom-opt")
    assert "ad.tape_reserve" in text  # n iterations × the bytes each pushes, before the loop
    bounded = src.replace("for i in range(n):", "k = 0\n    while k < n bound 20:").replace(
        "y = sin(y) * w", "y = sin(y) * w\n        k = k + 1")
    text = load(bounded, "jit").main.lower(np.ones(3), 5).as_text("loom-opt")
    assert "ad.tape_reserve" in text  # a `while … bound K`: K iterations
    w = np.array([0.1, 0.2, 0.3])
    np.testing.assert_allclose(p.main(w, 5), load(src, "eager").main(w, 5))
