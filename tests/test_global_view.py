"""Global-view functions (LANGUAGE.md §9.2) in the front end: the sharding constraints they emit,
`reshard`, and that running one unpartitioned (`loom run` without --devices, the API, eager and
native, `grad` included) gives the numbers of the same program without annotations."""

import re

import numpy as np
import pytest

import compiler
from compiler import driver
from dialects.spmd import ShardingConstraintOp
from xdsl.dialects import func
from xdsl.dialects.builtin import FileLineColLoc

from conftest import run_cli

SOURCE = """\
mesh M = (dp=2, tp=2)

struct Layer:
    w: f32[4, 6@tp]
    b: f32[6@tp]

def mlp(x: f32[8@dp, 4], l: Layer, w2: f32[6@tp, 3], scale: f32) -> f32[8@dp, 3]:
    h = tanh(x @ l.w + l.b)
    y = reshard(h @ w2, (dp, _))
    return y * scale

def loss(x: f32[8@dp, 4], l: Layer, w2: f32[6@tp, 3]) -> f32:
    return mean(mlp(x, l, w2, 0.5) ** 2)

def main():
    x = reshape(f32(arange(32)), (8, 4)) * 0.1
    l = Layer(reshape(f32(arange(24)), (4, 6)) * 0.05, ones((6,)) * 0.1)
    w2 = reshape(f32(arange(18)), (6, 3)) * 0.02
    print(mlp(x, l, w2, 0.5))
    print(grad(loss, wrt=w2)(x, l, w2))
"""


def plain(src: str) -> str:
    """The same program without sharding: no `@axes`, no mesh, `reshard(v, …)` → `v`."""
    src = re.sub(r"reshard\((.*), \([a-z_, ]+\)\)", r"\1", src.replace("mesh M = (dp=2, tp=2)\n", ""))
    return re.sub(r"@(\([a-z, ]+\)|[a-z]+)", "", src)


def constraints(src: str, entry: str):
    prog = driver.check_source(src, "gv.loom")
    inst = prog.specialize(entry, [p for p in prog.checker.generic(entry).param_types])
    m = driver.generate(prog, [inst])
    fn = next(o for o in m.ops if isinstance(o, func.FuncOp) and o.sym_name.data == entry)
    return m, [(op.kind.data, str(op.sharding).removeprefix("#spmd.sharding"), op.location.line.data,
                op.location.column.data) for op in fn.walk() if isinstance(op, ShardingConstraintOp)]


def test_constraints_of_parameters_results_and_reshard_at_their_locations():
    m, cs = constraints(SOURCE, "mlp")
    assert m.ops.first.name == "shard.grid"
    assert cs == [
        ("param", "<@M, [[0], []]>", 7, 12),      # x: f32[8@dp, 4]
        ("param", "<@M, [[], [1]]>", 7, 29),      # l.w (the struct's leaves, at the parameter's type)
        ("param", "<@M, [[1]]>", 7, 29),          # l.b
        ("param", "<@M, [[1], []]>", 7, 40),      # w2; the scalar `scale` gets none
        ("reshard", "<@M, [[0], []]>", 9, 9),
        ("result", "<@M, [[0], []]>", 7, 69),
    ]


def test_unannotated_leaves_of_a_global_view_function_are_replicated():
    src = "mesh M = (dp=2)\ndef f(x: f32[8@dp], y: f32[8]) -> f32[8]:\n    return x + y\n"
    _, cs = constraints(src, "f")
    assert [(k, s) for k, s, *_ in cs] == [("param", "<@M, [[0]]>"), ("param", "<@M, [[]]>"),
                                           ("result", "<@M, [[]]>")]


def test_a_function_without_annotations_in_a_mesh_file_has_no_constraints_but_the_grid():
    m, cs = constraints("mesh M = (dp=2)\ndef f(x: f32[8]) -> f32[8]:\n    return x * 2.0\n", "f")
    assert cs == [] and m.ops.first.name == "shard.grid"


def test_reshard_alone_makes_a_function_global_view():
    src = "mesh M = (dp=2)\ndef f(x: f32[8, 4]):\n    print(reshard(x, ((dp), _)))\n"
    _, cs = constraints(src, "f")
    assert [(k, s) for k, s, *_ in cs] == [("param", "<@M, [[], []]>"), ("reshard", "<@M, [[0], []]>")]


def test_reshard_over_two_axes():
    src = "mesh M = (dp=2, tp=2)\ndef f(x: f32[8, 4]) -> f32[8, 4]:\n    return reshard(x, ((tp, dp), _))\n"
    _, cs = constraints(src, "f")
    assert ("reshard", "<@M, [[1, 0], []]>") in [(k, s) for k, s, *_ in cs]


@pytest.mark.parametrize("mode", ["eager", "jit"])
def test_unpartitioned_run_gives_the_numbers_of_the_plain_program(mode):
    x = (np.arange(32, dtype=np.float32).reshape(8, 4) * 0.1)
    w = (np.arange(24, dtype=np.float32).reshape(4, 6) * 0.05)
    b = np.full(6, 0.1, np.float32)
    w2 = np.arange(18, dtype=np.float32).reshape(6, 3) * 0.02
    assert "reshard" not in plain(SOURCE) and "@dp" not in plain(SOURCE) and "@tp" not in plain(SOURCE)
    sharded = compiler.loads(SOURCE, "gv.loom", mode=mode)
    unsharded = compiler.loads(plain(SOURCE), "plain.loom", mode=mode)
    layer = {"w": w, "b": b}
    np.testing.assert_allclose(sharded.mlp(x, layer, w2, 0.5), unsharded.mlp(x, layer, w2, 0.5), rtol=1e-6)
    np.testing.assert_allclose(sharded.loss(x, layer, w2), unsharded.loss(x, layer, w2), rtol=1e-6)
    # and against NumPy, written independently
    expect = np.tanh(x @ w + b) @ w2 * 0.5
    np.testing.assert_allclose(sharded.mlp(x, layer, w2, 0.5), expect, rtol=1e-5)


def test_grad_of_a_global_view_function_matches_finite_differences():
    src = ("mesh M = (dp=2)\n"
           "def loss(w: f64[3, 2], x: f64[4@dp, 3]) -> f64:\n"
           "    return sum(tanh(reshard(x @ w, (_, dp))) ** 2)\n"
           "dloss = grad(loss, wrt=w)\n")
    prog = compiler.loads(src, "g.loom")
    rng = np.random.default_rng(0)
    w, x = rng.normal(size=(3, 2)), rng.normal(size=(4, 3))
    g = prog.dloss(w, x)
    fd = np.zeros_like(w)
    for i in np.ndindex(*w.shape):
        e = np.zeros_like(w)
        e[i] = 1e-6
        fd[i] = (prog.loss(w + e, x) - prog.loss(w - e, x)) / 2e-6
    np.testing.assert_allclose(g, fd, rtol=1e-5, atol=1e-8)


@pytest.mark.parametrize("flags", [[], ["--eager"]])
def test_loom_run_prints_what_the_plain_program_prints(tmp_path, capsys, flags):
    (tmp_path / "gv.loom").write_text(SOURCE)
    (tmp_path / "plain.loom").write_text(plain(SOURCE))
    code, out, err = run_cli(capsys, "run", str(tmp_path / "gv.loom"), *flags)
    assert code == 0, err
    code, plain_out, err = run_cli(capsys, "run", str(tmp_path / "plain.loom"), *flags)
    assert code == 0, err
    assert out == plain_out and out.count("[") > 4


def test_emitted_ir_reparses_with_loom_opt(tmp_path, capsys):
    (tmp_path / "gv.loom").write_text(SOURCE)
    code, ir, err = run_cli(capsys, "compile", str(tmp_path / "gv.loom"), "--emit=loom", "--entry", "loss",
                            "-p", "autodiff,loom-inline,sharding-propagation")
    assert code == 0, err
    (tmp_path / "gv.mlir").write_text(ir)
    code, again, err = run_cli(capsys, "opt", str(tmp_path / "gv.mlir"))
    assert code == 0, err
    assert again == ir and "spmd.res_shardings" in ir


@pytest.mark.parametrize("returns", ["f16", "(f32, Q)"])
def test_an_unknown_result_type_is_a_diagnostic(returns):
    """A global-view function's result types are read for their shardings before the function is
    checked: an unknown one is the usual "unknown type" error at its place, not a KeyError (a fuzz
    finding: `-> f16` in a mesh file)."""
    src = f"mesh M = (dp=4)\n\ndef f(x: f32[4@dp, 8]) -> {returns}:\n    return mean(x)\n"
    with pytest.raises(compiler.LoomTypeError, match="unknown type") as ei:
        compiler.loads(src, name="gv.loom")
    name = returns.strip("()").split(", ")[-1]
    assert (ei.value.span.line, ei.value.span.col) == (3, 27 + returns.index(name))  # (columns from 1)


@pytest.mark.parametrize("mode", ["eager", "jit"])
def test_a_result_size_bound_at_the_call_must_split(mode):
    """A result's size bound only at the call (`-> P`, field `f32[D, H@tp]`, H = 3 over 4 devices)
    is checked against its split after the body: the user's error at the result type, naming the
    size and the axis (docs/language.md §9.1), not the verifier's "invalid IR" (a fuzz finding)."""
    src = "mesh M = (tp=4)\n\nstruct P:\n    w: f32[D, H@tp]\n\ndef init(d: f32[D], h: f32[H]) -> P:\n    return P(w=zeros((D, H)))\n"
    prog = compiler.loads(src, name="gv.loom", mode=mode)
    with pytest.raises(compiler.LoomError, match=r"size 3 does not split evenly over mesh axis 'tp' of size 4") as ei:
        prog.init(np.zeros(2, np.float32), np.zeros(3, np.float32))
    assert "invalid IR" not in str(ei.value) and (ei.value.span.line, ei.value.span.col) == (6, 35)
    assert prog.init(np.zeros(2, np.float32), np.zeros(8, np.float32)).w.shape == (2, 8)
