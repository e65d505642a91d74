"""Derivatives through every collective (compiler/passes/autodiff/collective_rules.py), run on
simulated devices: forward mode against central finite differences, reverse mode by the
dot-product test ⟨J·u, v⟩ = ⟨u, Jᵀ·v⟩ summed over the devices (every device's value is its own
variable); and the boundary markers, by differentiating a global-view wrapper against finite
differences of the global function it computes."""

import numpy as np
import pytest
from xdsl.dialects import func
from xdsl.ir import Block, Region
from xdsl.parser import Parser

from compiler.passes.autodiff.collective_rules import JVP_COLLECTIVES, TRANSPOSE_COLLECTIVES
from compiler.pipeline import PassManager, make_context, parse_passes, verify
from dialects import ad, shard_ext as sx
from dialects.spmd import EnterOp, ExitOp
from runtime.simulated import run_devices, run_spmd

EPS = 1e-6


def t(shape):
    return f"tensor<{'x'.join(map(str, shape))}xf64>"


def with_derivative(text: str, kind: str, wrt=(0,)):
    """The module of `text` (holding `@f`), plus `@main` = ad.<kind> @f, differentiated."""
    m = Parser(make_context(), text).parse_module()
    f = next(o for o in m.ops if isinstance(o, func.FuncOp) and o.sym_name.data == "f")
    ins, outs = list(f.function_type.inputs), list(f.function_type.outputs)
    if kind == "vjp":
        block = Block(arg_types=ins + outs)
        op = ad.VjpOp("f", list(wrt), list(block.args), outs + [ins[k] for k in wrt])
    else:
        block = Block(arg_types=ins + [ins[k] for k in wrt])
        op = ad.JvpOp("f", list(wrt), list(block.args), outs + outs)
    block.add_ops([op, func.ReturnOp(*op.results)])
    m.body.block.add_op(func.FuncOp("main", (list(block.arg_types), [r.type for r in op.results]), Region(block)))
    verify(m)
    PassManager(parse_passes("autodiff,loom-inline")).run(m)
    verify(m)
    return m


# (mesh, collective line with %x → %r, input block shape, output block shape)
CASES = {
    "all_reduce_sum": ((2,), "shard.all_reduce %x on @M grid_axes = [0] : {i} -> {o}", (4, 6), (4, 6)),
    "all_reduce_max": ((4,), "shard.all_reduce %x on @M grid_axes = [0] reduction = max : {i} -> {o}", (4, 6), (4, 6)),
    "all_reduce_min": ((2, 2), "shard.all_reduce %x on @M grid_axes = [1] reduction = min : {i} -> {o}", (4, 6), (4, 6)),
    "all_gather": ((2, 2), "shard.all_gather %x on @M grid_axes = [0] gather_axis = 1 : {i} -> {o}", (4, 6), (4, 12)),
    "reduce_scatter": ((4,), "shard.reduce_scatter %x on @M grid_axes = [0] scatter_axis = 0 : {i} -> {o}", (8, 6), (2, 6)),
    "all_to_all": ((2, 2), "shard.all_to_all %x on @M grid_axes = [1] split_axis = 0 concat_axis = 1 : {i} -> {o}", (4, 6), (2, 12)),
    "broadcast": ((4,), "shard.broadcast %x on @M grid_axes = [0] root = [2] : ({i}) -> {o}", (4, 6), (4, 6)),
    "shift": ((4,), "shard.shift %x on @M grid_axes = [0] shift_axis = 0 offset = 1 rotate : {i} -> {o}", (4, 6), (4, 6)),
    "all_slice": ((2, 2), "shard.all_slice %x on @M grid_axes = [1] slice_axis = 1 : {i} -> {o}", (4, 6), (4, 3)),
}


def case_module(name):
    mesh, line, i, o = CASES[name]
    return mesh, f"""
shard.grid @M(shape = {'x'.join(map(str, mesh))})
func.func @f(%x0: {t(i)}) -> {t(o)} {{
  %x = loom.sin %x0 : ({t(i)}) -> {t(i)}
  %r = {line.format(i=t(i), o=t(o))}
  %y = loom.mul %r, %r : ({t(o)}, {t(o)}) -> {t(o)}
  func.return %y : {t(o)}
}}
""", i, o


def case_inputs(name, seed):
    """The case's module text, its device count, and per device: a point x, a tangent u, a cotangent v."""
    mesh, text, i, o = case_module(name)
    n = int(np.prod(mesh))
    rng = np.random.default_rng(seed)
    return text, n, *([rng.standard_normal(shape) for _ in range(n)] for shape in (i, i, o))


@pytest.mark.parametrize("name", sorted(CASES))
def test_collective_jvp_vs_finite_differences(name):
    text, n, xs, us, _ = case_inputs(name, 0)
    m = with_derivative(text, "jvp")
    got = run_devices(m, "main", [[x, u] for x, u in zip(xs, us)])
    plus = run_devices(m, "f", [[x + EPS * u] for x, u in zip(xs, us)])
    minus = run_devices(m, "f", [[x - EPS * u] for x, u in zip(xs, us)])
    for d in range(n):
        np.testing.assert_allclose(got[d][0], run_devices(m, "f", [[x] for x in xs])[d][0], rtol=1e-12)
        fd = (plus[d][0] - minus[d][0]) / (2 * EPS)
        np.testing.assert_allclose(got[d][1], fd, rtol=1e-5, atol=1e-6, err_msg=f"device {d}")


@pytest.mark.parametrize("name", sorted(CASES))
def test_collective_vjp_dot_product(name):
    text, n, xs, us, vs = case_inputs(name, 1)
    jvp = run_devices(with_derivative(text, "jvp"), "main", [[x, u] for x, u in zip(xs, us)])
    vjp = run_devices(with_derivative(text, "vjp"), "main", [[x, v] for x, v in zip(xs, vs)])
    lhs = sum(np.vdot(jvp[d][1], vs[d]) for d in range(n))
    rhs = sum(np.vdot(us[d], vjp[d][1]) for d in range(n))
    np.testing.assert_allclose(lhs, rhs, rtol=1e-10)


def test_every_collective_has_rules():
    used = {sx.xshard.AllReduceOp, sx.AllGatherOp, sx.ReduceScatterOp, sx.AllToAllOp, sx.AllSliceOp,
            sx.xshard.BroadcastOp, sx.ShiftOp, EnterOp, ExitOp}
    assert used <= set(JVP_COLLECTIVES) and used <= set(TRANSPOSE_COLLECTIVES)


# a global-view function g(x, w) = (exit(all_gather(sin(block) * w)), exit(all_reduce(sum(block))))
# on a 2x2 mesh, x split over axis 0 (rows) and replicated over axis 1
WRAPPER = """
shard.grid @M(shape = 2x2)
func.func @f(%x: tensor<8x3xf64>, %w: tensor<3xf64>) -> (tensor<8x3xf64>, tensor<1xf64>) {
  %xe = spmd.enter %x on @M grid_axes = [0, 1] : tensor<8x3xf64>
  %we = spmd.enter %w on @M grid_axes = [0, 1] : tensor<3xf64>
  %b = shard.all_slice %xe on @M grid_axes = [0] slice_axis = 0 : tensor<8x3xf64> -> tensor<4x3xf64>
  %s = loom.sin %b : (tensor<4x3xf64>) -> tensor<4x3xf64>
  %p = loom.mul %s, %we : (tensor<4x3xf64>, tensor<3xf64>) -> tensor<4x3xf64>
  %g = shard.all_gather %p on @M grid_axes = [0] gather_axis = 0 : tensor<4x3xf64> -> tensor<8x3xf64>
  %y = spmd.exit %g on @M grid_axes = [0, 1] : tensor<8x3xf64>
  %q = loom.mul %p, %p : (tensor<4x3xf64>, tensor<4x3xf64>) -> tensor<4x3xf64>
  %t = loom.sum %q {axes = array<i64: 0, 1>} : (tensor<4x3xf64>) -> f64
  %t1 = loom.reshape %t : (f64) -> tensor<1xf64>
  %r = shard.all_reduce %t1 on @M grid_axes = [0] : tensor<1xf64> -> tensor<1xf64>
  %z = spmd.exit %r on @M grid_axes = [0, 1] : tensor<1xf64>
  func.return %y, %z : tensor<8x3xf64>, tensor<1xf64>
}
"""


def numpy_global(x, w):
    p = np.sin(x) * w
    return p, np.array([np.sum(p * p)])


@pytest.mark.parametrize("wrt", [0, 1])
def test_derivative_of_a_spmd_wrapper_is_that_of_the_global_function(wrt):
    rng = np.random.default_rng(2)
    args = [rng.standard_normal((8, 3)), rng.standard_normal(3)]
    vs = [rng.standard_normal((8, 3)), rng.standard_normal(1)]
    m = with_derivative(WRAPPER, "vjp", wrt=(wrt,))
    y, z, grad = run_spmd(m, "main", args + vs)
    np.testing.assert_allclose(y, numpy_global(*args)[0], rtol=1e-12)
    np.testing.assert_allclose(z, numpy_global(*args)[1], rtol=1e-12)
    # finite differences of the global function, one coordinate at a time
    fd = np.zeros_like(args[wrt])
    for k in np.ndindex(args[wrt].shape):
        e = np.zeros_like(args[wrt])
        e[k] = EPS
        hi = list(args)
        lo = list(args)
        hi[wrt] = args[wrt] + e
        lo[wrt] = args[wrt] - e
        fd[k] = sum(np.vdot(a - b, v) for a, b, v in zip(numpy_global(*hi), numpy_global(*lo), vs)) / (2 * EPS)
    np.testing.assert_allclose(grad, fd, rtol=1e-6, atol=1e-8)
    jm = with_derivative(WRAPPER, "jvp", wrt=(wrt,))
    u = rng.standard_normal(args[wrt].shape)
    _, _, ty, tz = run_spmd(jm, "main", args + [u])
    np.testing.assert_allclose(np.vdot(ty, vs[0]) + np.vdot(tz, vs[1]), np.vdot(u, grad), rtol=1e-9)
