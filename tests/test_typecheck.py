"""The checker: inferred types and shapes, symbolic dims, weak literals, control-flow merging."""

import numpy as np
import pytest

import compiler
from compiler.frontend.parser import parse
from compiler.frontend.typecheck import Checker
from compiler.frontend.types import RankVar, TensorT


def result_types(src: str, fn: str = "f", args=None):
    c = Checker(parse(src, "t.loom"))
    inst = c.generic(fn) if args is None else c.specialize(fn, args)
    return [str(t) for t in inst.result_types]


def rt(body: str, params: str = "", ret: str = "") -> str:
    src = f"def f({params}){' -> ' + ret if ret else ''}:\n" + "".join(f"    {l}\n" for l in body.splitlines())
    (t,) = result_types(src)
    return t


@pytest.mark.parametrize("params,expr,expected", [
    ("x: f32[3]", "x * 2", "f32[3]"),
    ("x: f64[3]", "x * 2.5", "f64[3]"),
    ("x: i32[3]", "x + 1", "i32[3]"),
    ("x: i64[3]", "x // 2", "i64[3]"),
    ("", "2 * 3.5", "f32"),
    ("", "7 // 2", "i64"),
    ("x: f32[B, 1], y: f32[4]", "x + y", "f32[B, 4]"),
    ("x: f32[B, 784], w: f32[784, 10]", "x @ w", "f32[B, 10]"),
    ("x: f32[5], w: f32[5]", "x @ w", "f32"),
    ("x: f32[2, 3, 4], w: f32[4, 5]", "x @ w", "f32[2, 3, 5]"),
    ("x: f32[4], w: f32[7, 4, 5]", "x @ w", "f32[7, 5]"),
    ("x: f32[B, 3]", "x > 0", "bool[B, 3]"),
    ("x: f32[B, 3]", "sum(x, axis=-1)", "f32[B]"),
    ("x: f32[B, 3]", "sum(x, axis=(0, 1), keepdims=true)", "f32[1, 1]"),
    ("x: f32[B, 3]", "mean(x)", "f32"),
    ("x: f32[B, 3]", "argmax(x, axis=1)", "i64[B]"),
    ("x: f32[2, 3, 4]", "reshape(x, (6, -1))", "f32[6, 4]"),
    ("x: f32[B, 3, 4]", "reshape(x, (B, 12))", "f32[B, 12]"),
    ("x: f32[2, 3, 4]", "transpose(x)", "f32[4, 3, 2]"),
    ("x: f32[2, 3, 4]", "transpose(x, (1, 0, 2))", "f32[3, 2, 4]"),
    ("x: f32[3]", "broadcast_to(x, (2, 3))", "f32[2, 3]"),
    ("x: f32[2, 3], y: f32[5, 3]", "concat((x, y), axis=0)", "f32[7, 3]"),
    ("x: f32[2, 3], y: f32[2, 3]", "stack((x, y), axis=1)", "f32[2, 2, 3]"),
    ("x: f32[B, 3]", "x.shape[0]", "i64"),
    ("x: f32[B, 3]", "zeros((x.shape[0], 2))", "f32[B, 2]"),
    ("", "ones((2, 3), f64)", "f64[2, 3]"),
    ("", "full((2,), 7)", "i64[2]"),
    ("x: i32[B]", "zeros_like(x)", "i32[B]"),
    ("", "arange(5)", "i64[5]"),
    ("y: i64[B]", "one_hot(y, 10)", "f32[B, 10]"),
    ("x: f32[B, 10]", "softmax(x, axis=-1)", "f32[B, 10]"),
    ("x: f32[B, 10]", "logsumexp(x, axis=1)", "f32[B]"),
    ("x: f32[B, 10], y: i64[B]", "cross_entropy(x, y)", "f32"),
    ("", "normal((3, 4), seed=1)", "f32[3, 4]"),
    ("x: i64[3]", "f32(x)", "f32[3]"),
    ("x: f32[...S]", "exp(x) * 2", "f32[...S]"),
    ("x: f32[8, 6]", "x[1]", "f32[6]"),
    ("x: f32[8, 6]", "x[-1, 2:5]", "f32[3]"),
    ("x: f32[8, 6]", "x[::2, ::-1]", "f32[4, 6]"),
    ("x: f32[8, 6], i: i64", "x[i:i+3, i]", "f32[3]"),
    ("x: f32[B, 6]", "x[:, 1:]", "f32[B, 5]"),
    ("x: f32[3], y: f32[3]", "where(x > y, x, 0)", "f32[3]"),
    ("x: f32[3]", "maximum(x, 0.5)", "f32[3]"),
])
def test_expression_types(params, expr, expected):
    assert rt(f"return {expr}", params) == expected


def test_loop_carried_weak_literal_takes_the_body_type():
    assert rt("s = 0.0\nfor i in range(3):\n    s = s + x[i]\nreturn s", "x: f64[3]") == "f64"


def test_if_merges_weak_and_strong():
    assert rt("if c:\n    y = x\nelse:\n    y = 0\nreturn y", "c: bool, x: i32") == "i32"


def test_early_return_in_if():
    assert rt("if x < 0:\n    return -x\ny = x * 2\nreturn y", "x: f32") == "f32"


def test_inferred_multiple_results():
    assert result_types("def f(x: f32[2]):\n    return x, sum(x)\n") == ["f32[2]", "f32"]


def test_symbolic_dims_bind_per_call():
    src = "def f(x: f32[B, 3], y: f32[B]) -> f32[B]:\n    return sum(x, axis=1) + y\n" \
          "def main() -> f32[4]:\n    return f(ones((4, 3)), zeros((4,)))\n"
    assert result_types(src, "main") == ["f32[4]"]
    assert result_types(src, "f", [TensorT("f32", (7, 3)), TensorT("f32", (7,))]) == ["f32[7]"]


def test_rank_polymorphic_generic_and_specialized():
    src = "def f(x: f32[...S]) -> f32[...S]:\n    return x * x\n"
    c = Checker(parse(src, "t.loom"))
    assert c.generic("f").result_types[0].shape == RankVar("S")
    assert c.specialize("f", [TensorT("f32", (2, 5))]).result_types[0].shape == (2, 5)


def test_consts_are_static_dims_and_weak_values():
    src = "const D = 4\nconst H = D * 2\ndef f(x: f32[D]) -> f32[H]:\n    return concat((x, x * D))\n"
    assert result_types(src) == ["f32[8]"]


def test_specialization_instances_are_cached_and_named():
    p = compiler.loads("def g(x: f32[N]) -> f32[N]:\n    return x + 1\n"
                       "def main() -> f32:\n    return sum(g(ones((2,)))) + sum(g(ones((3,)))) + sum(g(ones((2,))))\n")
    text = p.main.lower().as_text("loom")
    assert "func.call @g(" in text and "func.call @g_1(" in text and "@g_2" not in text
    assert p.main() == np.float32(2 * 2 + 3 * 2 + 2 * 2)


def test_recursion_rejected_even_if_unused():
    with pytest.raises(compiler.LoomTypeError, match="recursion"):
        compiler.loads("def a(x: f32) -> f32:\n    return b(x)\ndef b(x: f32) -> f32:\n    return a(x)\n")


def test_keyword_arguments_to_user_functions():
    p = compiler.loads("def f(a: f32, b: f32) -> f32:\n    return a - b\n"
                       "def main() -> f32:\n    return f(b=1.0, a=5.0)\n")
    assert p.main() == np.float32(4.0)


def test_every_builtin_has_a_checking_rule_and_an_emitter():
    from compiler.frontend.builtins import BUILTINS, REDUCTIONS, UNARY_FLOAT, UNARY_NUMERIC
    from compiler.frontend.emit_builtins import EMITTERS, REDUCTION_OPS, UNARY_OPS

    assert set(EMITTERS) == set(BUILTINS)
    assert set(UNARY_OPS) == set(UNARY_FLOAT + UNARY_NUMERIC)
    assert set(REDUCTION_OPS) == set(REDUCTIONS)
    assert all(callable(b.check) for b in BUILTINS.values())


# --- long chains and deep nesting: iterative where the language allows them (F13, F14) ---------
def _front_end(src: str):
    from compiler.frontend.irgen import generate

    c = Checker(parse(src, "t.loom"))
    inst = c.generic("f")
    return inst, generate(c, [inst])


@pytest.mark.slow
@pytest.mark.parametrize("op", ["**", "+"])
def test_10000_term_chain_is_checked_and_emitted(op):
    inst, module = _front_end("def f(x: f32) -> f32:\n    return " + f" {op} ".join(["x"] * 10000) + "\n")
    assert [str(t) for t in inst.result_types] == ["f32"]
    (fn,) = module.ops
    assert len(list(fn.body.block.ops)) == 10000  # 9999 ops and the return


@pytest.mark.parametrize("src,x,expected", [
    ("return " + " + ".join(["x"] * 400), 1.5, 600.0),              # F14: a flat 400-term sum
    ("return " + "- " * 401 + "x", 1.5, -1.5),
    ("return f32(" + "not " * 400 + "(x > 0.0))", 1.5, 1.0),
    ("return x" + " + 1" * 3000, 0.5, 3000.5),
])
def test_long_chains_compile_and_run(src, x, expected):
    p = compiler.loads("def f(x: f32) -> f32:\n    " + src + "\n", mode="eager")
    assert float(p.f(np.float32(x))) == expected


def test_nesting_as_deep_as_brackets_allow():
    src = "def g(x: f32) -> f32:\n    return x\n\ndef f(x: f32) -> f32:\n    return " + "g(" * 199 + "x" + ")" * 199 + "\n"
    inst, _ = _front_end(src)
    assert [str(t) for t in inst.result_types] == ["f32"]


def test_moved_statements_are_copied_without_recursion():
    """The statements after an `if` that returns are copied into its other branch (A.clone)."""
    body = "return " + " + ".join(["x"] * 3000)
    src = f"def f(x: f32, c: bool) -> f32:\n    if c:\n        y = x\n    else:\n        return x\n    {body}\n"
    inst, _ = _front_end(src)
    assert [str(t) for t in inst.result_types] == ["f32"]


def test_loop_carried_type_change_points_at_the_assignment():
    from compiler.diagnostics import LoomTypeError

    src = "def f(n: i64) -> f32:\n    s = n\n    for i in range(3):\n        y = 1\n        s = f32(s) * 2.0\n    return s\n"
    with pytest.raises(LoomTypeError) as ei:
        Checker(parse(src, "t.loom")).generic("f")
    e = ei.value
    assert (e.span.line, e.span.col) == (5, 9) and "loop-carried 's'" in e.message
    assert [(n.span.line, n.span.col) for n in e.notes] == [(3, 5)] and "carried by this loop" in e.notes[0].message


@pytest.mark.parametrize("expr,value", [
    ("1 ** 123456789", 1), ("(-1) ** 123456789", -1), ("2 ** 62", 2**62), ("0.5 ** 5000.0", 0.0),
])
def test_literal_powers_that_fit_are_folded(expr, value):
    c = Checker(parse(f"const C = {expr}\n", "t.loom"))
    assert c.consts["C"].const == value
