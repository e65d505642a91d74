"""The loom dialect: verifiers, printed IR that parses back, and location-aware verification."""

import numpy as np
import pytest
from xdsl.parser import Parser

import compiler
from compiler.diagnostics import LoomError
from compiler.pipeline import make_context, print_module, verify
from dialects import loom



def roundtrip(text: str) -> str:
    m = Parser(make_context(), text).parse_module()
    m.verify()
    return print_module(m, locations=True)


def test_every_op_prints_and_parses_back():
    src = """
def f(x: f32[4, 3], i: i64, s: i64, k: i64[4]) -> f32:
    a = exp(x) + log(abs(x) + 1) - sqrt(abs(x)) * rsqrt(abs(x) + 1) / 2
    b = tanh(a) ** 2 + sigmoid(a) + relu(a) + gelu(a) + sin(a) + cos(a) + sign(a)
    c = maximum(a, b) - minimum(a, b) + where(a > b, a, b) + f32((x // 2) + (x % 3) > -x)
    m = ((x > 0) and not (x < 1)) or (x == 2)
    e = transpose(x) @ x + broadcast_to(sum(x, axis=0, keepdims=true), (3, 3))
    g = reshape(concat((x, x), axis=0), (6, 4)) + f32(arange(4))
    h = stack((x[0], x[i], x[i:i+1, 0:3][0]), axis=0)
    x[i, 1:] = 0
    r = uniform((2, 2), seed=s) + normal((2, 2), seed=1)
    print("values", r, i)
    t = prod(x) + min(x) + max(x, axis=1)[0] + mean(x) + f32(argmax(x) + argmin(x, axis=0)[0])
    u = f32(any(m) or all(m)) + f32(sum(k)) + f32(x.shape[0])
    return t + u + sum(c) + sum(e) + sum(g) + sum(h) + sum(r)
"""
    p = compiler.loads(src, name="ops.loom")
    text = p.f.lower(np.ones((4, 3), np.float32), 1, 2, np.arange(4)).as_text("loom", locations=True)
    for name in ("loom.slice", "loom.update", "loom.print", "loom.random", "loom.matmul", "loom.concat",
                 "loom.transpose", "loom.broadcast_to", "loom.reshape", "loom.select", "loom.cmp", "loom.arange",
                 "loom.argmax", "loom.any", "loom.convert", "loom.gelu", "loom.floordiv", "loom.rem", "loom.pow"):
        assert name in text, name
    again = roundtrip(text)
    assert again == roundtrip(again)  # printing is a fixed point
    assert again.count("loom.") == text.count("loom.")


@pytest.mark.parametrize("ir,frag", [
    ("%a = arith.constant 1.0 : f32\n%b = arith.constant 1.0 : f64\n%c = loom.add %a, %b : (f32, f64) -> f32",
     "element types differ"),
    ("%a = \"test.op\"() : () -> tensor<3xf32>\n%b = \"test.op\"() : () -> tensor<4xf32>\n"
     "%c = loom.add %a, %b : (tensor<3xf32>, tensor<4xf32>) -> tensor<4xf32>", "do not broadcast"),
    ("%a = \"test.op\"() : () -> tensor<3x4xf32>\n%c = loom.sum %a {axes = array<i64: 2>} : (tensor<3x4xf32>) -> f32",
     "axis out of range"),
    ("%a = \"test.op\"() : () -> tensor<3x4xf32>\n%c = loom.reshape %a : (tensor<3x4xf32>) -> tensor<5xf32>",
     "different sizes"),
    ("%a = \"test.op\"() : () -> tensor<3x4xf32>\n%c = loom.transpose %a {permutation = array<i64: 0, 0>} : "
     "(tensor<3x4xf32>) -> tensor<3x3xf32>", "not a permutation"),
    ("%a = arith.constant 1 : i64\n%c = loom.random \"gamma\", %a : (i64) -> tensor<2xf32>", "unknown distribution"),
    ("%a = \"test.op\"() : () -> tensor<3x4xf32>\n%b = \"test.op\"() : () -> tensor<4x5xf32>\n"
     "%c = loom.matmul %a, %a : (tensor<3x4xf32>, tensor<3x4xf32>) -> tensor<3x4xf32>", "contraction sizes differ"),
    ("%a = arith.constant 1 : i64\nloom.print \"{} {}\", %a : i64", "number of '{}'"),
])
def test_verifiers_reject_bad_ir(ir, frag, tmp_path):
    from xdsl.dialects.test import Test

    ctx = make_context()
    ctx.load_dialect(Test)
    text = "builtin.module {\n" + "\n".join(f'  {l} loc("bad.mlir":{i + 2}:3)' for i, l in enumerate(ir.splitlines())) + "\n}\n"
    m = Parser(ctx, text).parse_module()
    with pytest.raises(LoomError) as ei:
        verify(m)
    assert frag in ei.value.message
    assert ei.value.file == "bad.mlir" and ei.value.line >= 2


def test_broadcast_shapes_helper():
    D = loom.DYNAMIC
    assert loom.broadcast_shapes((3, 1), (4,)) == (3, 4)
    assert loom.broadcast_shapes((D, 3), (3,)) == (D, 3)
    assert loom.broadcast_shapes((), (2, 2)) == (2, 2)
    assert loom.broadcast_shapes(None, (2,)) is None


def test_every_loom_op_has_a_lowering_to_linalg():
    """convert-loom-to-linalg's table covers the dialect (print is lowered later, to a runtime call;
    on_failure is made by loom-buffer-dealloc, after it)."""
    from compiler.passes.convert_loom_to_linalg import LOWERINGS
    from dialects.loom import Loom, OnFailureOp, PrintOp

    missing = [op.name for op in Loom.operations if op not in LOWERINGS and op not in (PrintOp, OnFailureOp)]
    assert not missing, missing
