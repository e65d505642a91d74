"""The differentiation passes and their rule tables, tested at the IR level.

Each case is a small Loom function `f`; the harness builds `@main` holding an `ad.jvp` or `ad.vjp`
of it (what `grad`/`jvp`/`vjp` in a program become), runs the `autodiff` pipeline, and executes
the result eagerly (and, for a subset, compiled). In f64, for random directions u and v:
- forward mode: J·u matches central finite differences of f along u;
- reverse mode: the dot-product test ⟨J·u, v⟩ = ⟨u, Jᵀ·v⟩ between the JVP and the VJP;
- every `loom` op is in the JVP table or declared derivative-free, and every op a JVP rule can
  emit into a linear program has a transpose rule.
"""

from __future__ import annotations

import textwrap

import numpy as np
import pytest
from xdsl.dialects import func
from xdsl.ir import Block, Region

import compiler
from compiler import driver
from compiler.passes.autodiff.jvp_rules import JVP, ZERO
from compiler.passes.autodiff.transpose_rules import TRANSPOSE
from compiler.pipeline import PassManager, parse_passes, verify
from dialects import ad, loom
from dialects.spmd import SPMD
from runtime.reference import run_function


def derivative_module(src: str, args, wrt, kind: str):
    """`src`'s `f` specialized to `args`, plus `@main` = ad.<kind> of it."""
    p = compiler.loads(textwrap.dedent(src), name="t.loom", mode="eager")
    low = p.f.lower(*args)
    m = low.module("none").clone()
    f = next(o for o in m.ops if isinstance(o, func.FuncOp) and o.sym_name.data == low.inst.symbol)
    ins, outs = list(f.function_type.inputs), list(f.function_type.outputs)
    if kind == "vjp":
        block = Block(arg_types=ins + outs)
        op = ad.VjpOp(low.inst.symbol, wrt, list(block.args), outs + [ins[k] for k in wrt])
    else:
        block = Block(arg_types=ins + [ins[k] for k in wrt])
        op = ad.JvpOp(low.inst.symbol, wrt, list(block.args), outs + outs)
    block.add_ops([op, func.ReturnOp(*op.results)])
    m.body.block.add_op(func.FuncOp("main", (list(block.arg_types), [r.type for r in op.results]), Region(block)))
    verify(m)
    PassManager(parse_passes("autodiff,loom-inline")).run(m)
    return m, p


def execute(m, args, compiled: bool):
    if not compiled:
        return tuple(run_function(m, "main", list(args)))
    sig = driver.signature(m, "main")
    driver.run_passes(m, driver.native_pipeline(m))
    fn, _ = driver.Artifact(m, "main", sig).compiled()
    return tuple(fn(list(args)))


def as_arg(a):
    return np.float64(a) if np.ndim(a) == 0 else np.asarray(a, np.float64)


def check_grads(src, args, wrt, compiled=False, seed=0, eps=1e-6, rtol=1e-6, atol=1e-8, fd_rtol=1e-5):
    rng = np.random.default_rng(seed)
    u = [as_arg(rng.standard_normal(np.shape(args[k]))) for k in wrt]
    mj, prog = derivative_module(src, args, wrt, "jvp")
    f = lambda a: np.asarray(prog.f(*a), np.float64)  # noqa: E731

    def moved(h):
        a = list(args)
        for k, d in zip(wrt, u):
            a[k] = as_arg(np.asarray(args[k], np.float64) + h * d)
        return f(a)

    fd = (moved(eps) - moved(-eps)) / (2 * eps)
    out = execute(mj, list(args) + u, compiled)
    n = len(out) // 2
    np.testing.assert_allclose(out[0], f(list(args)), rtol=1e-12, atol=1e-12, err_msg="JVP primal result")
    np.testing.assert_allclose(out[n], fd, rtol=fd_rtol, atol=1e-6, err_msg="JVP vs finite differences")
    v = as_arg(rng.standard_normal(np.shape(fd)))
    mv, _ = derivative_module(src, args, wrt, "vjp")
    outv = execute(mv, list(args) + [v], compiled)
    np.testing.assert_allclose(outv[0], f(list(args)), rtol=1e-12, atol=1e-12, err_msg="VJP primal result")
    lhs = float(np.sum(np.asarray(out[n]) * v))
    rhs = sum(float(np.sum(np.asarray(g) * d)) for g, d in zip(outv[1:], u))
    np.testing.assert_allclose(rhs, lhs, rtol=rtol, atol=atol, err_msg="dot-product test <Ju,v> = <u,J^T v>")


X = np.array([0.3, -1.2, 0.9, 2.1])
P = np.array([0.4, 1.3, 0.7, 2.2])  # positive (log, sqrt, pow)
M = np.array([[0.5, -0.3, 0.1], [0.2, 0.8, -0.6], [1.0, -0.5, 0.3], [-0.7, 0.4, 0.9]])

# one case per differentiable op (the function body uses the op on the parameter(s))
OPS = {
    "add": ("def f(x: f64[4], y: f64[4]) -> f64[4]:\n    return x + y * 2.0\n", [X, P], [0, 1]),
    "sub_broadcast": ("def f(x: f64[4], y: f64) -> f64[4]:\n    return x - y\n", [X, 0.7], [0, 1]),
    "mul": ("def f(x: f64[4], y: f64[4]) -> f64[4]:\n    return x * y\n", [X, P], [0, 1]),
    "div": ("def f(x: f64[4], y: f64[4]) -> f64[4]:\n    return x / y\n", [X, P], [0, 1]),
    "pow": ("def f(x: f64[4], y: f64[4]) -> f64[4]:\n    return x ** y\n", [P, X], [0, 1]),
    "maximum": ("def f(x: f64[4], y: f64[4]) -> f64[4]:\n    return maximum(x, y) + minimum(x, y * 0.5)\n", [X, P], [0, 1]),
    "rem": ("def f(x: f64[4], y: f64[4]) -> f64[4]:\n    return x % y\n", [X, P], [0, 1]),
    "neg": ("def f(x: f64[4]) -> f64[4]:\n    return -x\n", [X], [0]),
    "exp_log_sqrt": ("def f(x: f64[4]) -> f64[4]:\n    return exp(x) + log(x) + sqrt(x) + rsqrt(x)\n", [P], [0]),
    "tanh_sigmoid": ("def f(x: f64[4]) -> f64[4]:\n    return tanh(x) * sigmoid(x)\n", [X], [0]),
    "gelu_relu_abs": ("def f(x: f64[4]) -> f64[4]:\n    return gelu(x) + relu(x) * abs(x)\n", [X], [0]),
    "sin_cos": ("def f(x: f64[4]) -> f64[4]:\n    return sin(x) * cos(x)\n", [X], [0]),
    "where": ("def f(x: f64[4], y: f64[4]) -> f64[4]:\n    return where(x > 0.0, x * y, y)\n", [X, P], [0, 1]),
    "convert": ("def f(x: f64[4]) -> f64[4]:\n    return f64(f32(x) * f32(2.0))\n", [X], [0]),
    "matmul": ("def f(x: f64[4], w: f64[4, 3]) -> f64[3]:\n    return x @ w\n", [X, M], [0, 1]),
    "matmul_2d": ("def f(a: f64[4, 3], b: f64[3, 4]) -> f64[4, 4]:\n    return a @ b\n", [M, M.T.copy()], [0, 1]),
    # a weight shared by every batch element: its cotangent is one matmul over all rows (ad-transpose)
    "matmul_shared_weight": ("def f(x: f64[2, 3, 5, 4], w: f64[4, 3], u: f64[3]) -> f64[2, 3, 5]:\n"
                             "    return (x @ w) @ u\n",
                             [np.linspace(-1, 1, 120).reshape(2, 3, 5, 4), M, X[:3].copy()], [0, 1, 2]),
    "reductions": ("def f(x: f64[4, 3]) -> f64[3]:\n    return sum(x, axis=0) + mean(x * x, axis=0) + prod(x, axis=0)\n",
                   [M + 2.0], [0]),
    "max_min": ("def f(x: f64[4, 3]) -> f64[4]:\n    return max(x, axis=1) - min(x * x, axis=1)\n", [M], [0]),
    "shapes": ("def f(x: f64[4, 3]) -> f64[3, 4]:\n    return transpose(reshape(x, (3, 4)) * 2.0, (0, 1)) + transpose(x)\n",
               [M], [0]),
    "broadcast_concat": ("def f(x: f64[3], y: f64[4, 3]) -> f64[8, 3]:\n"
                         "    return concat((broadcast_to(x, (4, 3)), y * y), axis=0)\n", [M[0].copy(), M], [0, 1]),
    "slice_update": ("def f(x: f64[4, 3], i: i64) -> f64[4, 3]:\n"
                     "    y = x * 1.0\n    y[i] = x[0] * 3.0\n    y[1:3, ::2] = x[2:, 1:] * x[::2, :2]\n    return y\n",
                     [M, 2], [0]),
    "full": ("def f(x: f64) -> f64[2, 2]:\n    return full((2, 2), x) * 3.0\n", [0.7], [0]),
    "stop_gradient_free": ("def f(x: f64[4]) -> f64[4]:\n    return x * f64(i64(x > 0.0))\n", [X], [0]),
}


@pytest.mark.parametrize("name", sorted(OPS))
def test_op_derivatives_eager(name):
    src, args, wrt = OPS[name]
    # through f32 (convert), finite differences need a large step (f is linear there)
    check_grads(src, args, wrt, **(dict(eps=0.1, fd_rtol=1e-5, rtol=1e-5) if name == "convert" else {}))


@pytest.mark.parametrize("name", ["mul", "div", "exp_log_sqrt", "tanh_sigmoid", "matmul_2d", "matmul_shared_weight", "reductions",
                                  "slice_update", "where"])
def test_op_derivatives_compiled(name):
    src, args, wrt = OPS[name]
    check_grads(src, args, wrt, compiled=True)


CONTROL = {
    "for_if": ("def f(x: f64[3], w: f64[3]) -> f64:\n"
               "    s = 0.0\n    y = x\n"
               "    for i in range(4):\n"
               "        y = tanh(y * w) + x\n"
               "        if sum(y) > 0.5:\n            s = s + sum(y * y)\n"
               "        else:\n            s = s - sum(y)\n"
               "    return s\n", [X[:3].copy(), P[:3].copy()], [0, 1]),
    "for_dynamic_trip_count": ("def f(x: f64[3], n: i64) -> f64[3]:\n"
                               "    y = x\n    for i in range(n):\n        y = y * x + sin(y)\n    return y\n",
                               [X[:3].copy(), 5], [0]),
    "for_index_updates": ("def f(x: f64[4]) -> f64[4]:\n"
                          "    y = x * 1.0\n    for i in range(1, 4):\n        y[i] = y[i - 1] * x[i] + y[i]\n    return y\n",
                          [X], [0]),
    "while_unbounded": ("def f(x: f64[3], n: i64) -> f64:\n"
                        "    y = x\n    k = 0\n    while k < n:\n        y = sin(y) * 1.5 + x\n        k = k + 1\n"
                        "    return sum(y * y)\n", [X[:3].copy(), 6], [0]),
    "while_bounded_data_dependent": ("def f(x: f64) -> f64:\n"
                                     "    y = x\n    while y < 10.0 bound 50:\n        y = y * 1.5 + 0.1\n    return y * y\n",
                                     [0.7], [0]),
    "while_condition_on_a_reduction": ("def f(x: f64[3]) -> f64:\n"
                                       "    y = x\n    while sum(y) < 10.0 bound 50:\n"
                                       "        y = sin(y) * x + y * 1.5 + 0.1\n    return sum(y * y)\n",
                                       [np.array([0.5, 0.6, 0.7])], [0]),
    "nested_loops": ("def f(x: f64[3]) -> f64:\n"
                     "    s = 0.0\n    for i in range(3):\n        t = x * 1.0\n"
                     "        for j in range(2):\n            t = tanh(t) + x[i]\n        s = s + sum(t) * x[i]\n"
                     "    return s\n", [X[:3].copy()], [0]),
    "calls": ("def g(a: f64[3], b: f64[3]) -> f64[3]:\n    return a * exp(b)\n\n"
              "def f(x: f64[3], y: f64[3]) -> f64:\n    return sum(g(x, y) + g(y, x))\n", [X[:3].copy(), P[:3].copy()], [0, 1]),
}


@pytest.mark.parametrize("name", sorted(CONTROL))
def test_control_flow_eager(name):
    src, args, wrt = CONTROL[name]
    check_grads(src, args, wrt)


@pytest.mark.parametrize("name", sorted(CONTROL))
def test_control_flow_compiled(name):
    src, args, wrt = CONTROL[name]
    check_grads(src, args, wrt, compiled=True)


def test_where_does_not_leak_nan_into_the_gradient():
    src = "def f(x: f64[4]) -> f64:\n    return sum(where(x > 0.0, sqrt(x), 0.0))\n"
    x = np.array([4.0, -1.0, 0.0, 9.0])
    m, _ = derivative_module(src, [x], [0], "vjp")
    value, g = run_function(m, "main", [x, np.float64(1.0)])
    np.testing.assert_allclose(g, [0.25, 0.0, 0.0, 1 / 6])


def test_conventions_relu_abs_at_zero_and_max_ties():
    src = "def f(x: f64[4]) -> f64:\n    return sum(relu(x)) + sum(abs(x)) + max(x)\n"
    x = np.array([0.0, 2.0, 2.0, -1.0])
    m, _ = derivative_module(src, [x], [0], "vjp")
    _, g = run_function(m, "main", [x, np.float64(1.0)])
    # relu'(0) = 0, abs'(0) = 0; the two tied maxima share max's gradient evenly
    np.testing.assert_allclose(g, [0.0, 2.5, 2.5, -1.0])


def test_every_loom_op_has_rules():
    from compiler.passes.autodiff.collective_rules import JVP_COLLECTIVES, TRANSPOSE_COLLECTIVES, ZERO_COLLECTIVES

    missing = [op.name for op in (*loom.Loom.operations, *SPMD.operations)
               if op not in JVP and op not in ZERO and op not in JVP_COLLECTIVES and op not in ZERO_COLLECTIVES]
    assert not missing, f"loom ops without a JVP rule or a zero-derivative declaration: {missing}"
    linear_ops = {loom.AddOp, loom.SubOp, loom.MulOp, loom.DivOp, loom.NegOp, loom.MatmulOp, loom.ConvertOp,
                  loom.SumOp, loom.MeanOp, loom.ReshapeOp, loom.TransposeOp, loom.BroadcastToOp, loom.ConcatOp,
                  loom.SliceOp, loom.UpdateOp, loom.SelectOp, loom.FullOp}
    assert linear_ops <= set(TRANSPOSE), f"no transpose rule for {[o.name for o in linear_ops - set(TRANSPOSE)]}"
    # the spmd identities (boundaries of @spmd programs, sharding constraints) are linear
    assert set(SPMD.operations) <= set(TRANSPOSE_COLLECTIVES), "an spmd op without a transpose rule"


def test_the_collectives_rules_are_found_through_the_lookups():
    """The rules of the shard and spmd ops live apart (imported only by programs that distribute);
    the passes find them through the lookups."""
    from compiler.passes.autodiff.collective_rules import JVP_COLLECTIVES, TRANSPOSE_COLLECTIVES, ZERO_COLLECTIVES
    from compiler.passes.autodiff.jvp_rules import jvp_rule, zero_derivative
    from compiler.passes.autodiff.transpose_rules import transpose_rule

    for cls, rule in JVP_COLLECTIVES.items():
        assert jvp_rule(cls.create()) is rule and not zero_derivative(cls.create()), cls.name
    for cls, rule in TRANSPOSE_COLLECTIVES.items():
        assert transpose_rule(cls.create()) is rule, cls.name
    assert all(zero_derivative(cls.create()) for cls in ZERO_COLLECTIVES)
    assert jvp_rule(loom.ExpOp.create()) is JVP[loom.ExpOp] and transpose_rule(loom.ExpOp.create()) is None


def test_inactive_values_get_no_derivative_code():
    """Activity analysis: what does not depend on the wrt parameter has no tangent ops."""
    src = "def f(x: f64[4], y: f64[4]) -> f64:\n    z = exp(y) * 3.0\n    return sum(x * z)\n"
    m, _ = derivative_module(src, [X, P], [0], "jvp")
    main = next(o for o in m.ops if isinstance(o, func.FuncOp) and o.sym_name.data == "main")
    names = [o.name for o in main.walk()]
    # one exp (the primal), one mul for the primal x*z and one for the tangent tx*z; no exp' code
    assert names.count("loom.exp") == 1 and names.count("loom.mul") == 3


def second_order_source(src: str, wrt: int) -> tuple[str, str]:
    """`f`'s reverse-mode derivative as a function of the primal inputs (and a fixed cotangent v):
    checking *its* derivatives checks every rule to second order (forward over reverse against
    finite differences, reverse over reverse by the dot-product test), like JAX's check_grads."""
    import re

    header = re.match(r"def f\((.*)\) -> (.*):", src.splitlines()[0])
    params, result = header.group(1), header.group(2)
    names = [p.split(":")[0].strip() for p in re.split(r",\s*(?![^\[]*\])", params)]
    wrt_type = re.split(r",\s*(?![^\[]*\])", params)[wrt].split(":")[1].strip()
    body = src.replace("def f(", "def f0(", 1)
    call = ", ".join(names)
    return body + (f"\ndef f({params}, v: {result}) -> {wrt_type}:\n"
                   f"    r, g = vjp(f0, wrt={names[wrt]})({call}, v)\n"
                   f"    return g\n"), names[wrt]


@pytest.mark.parametrize("name", sorted(set(OPS) - {"convert", "full", "stop_gradient_free"}))
def test_op_derivatives_second_order(name):
    src, args, wrt = OPS[name]
    src2, _ = second_order_source(src, wrt[0])
    out_shape = np.shape(compiler.loads(src, name="t.loom", mode="eager").f(*args))
    v = as_arg(np.random.default_rng(1).standard_normal(out_shape))
    check_grads(src2, list(args) + [v], [wrt[0]], eps=1e-5, fd_rtol=1e-4)
