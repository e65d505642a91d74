"""The parser: every construct of the grammar becomes the right AST node with the right span."""

import pytest

from compiler.diagnostics import LoomSyntaxError
from compiler.frontend import ast as A
from compiler.frontend.parser import parse


def body(src: str):
    return parse(src, "t.loom").items[0].body


def expr(text: str) -> A.Expr:
    (s,) = body(f"def f():\n    y = {text}\n")
    return s.value


def test_toplevel_items():
    m = parse(
        "const D = 4\n"
        "mesh M = (dp=2, tp=4)\n"
        "struct P:\n    w: f32[D, 3]\n    b: f32[3@tp]\n"
        "@spmd(M)\ndef f(x: f32[B@(dp, tp), D], p: P) -> (f32, f32[B]):\n    return 1, x\n"
        "g = grad(f, wrt=p)\n",
        "t.loom",
    )
    kinds = [type(i).__name__ for i in m.items]
    assert kinds == ["ConstDecl", "MeshDecl", "StructDecl", "FuncDef", "Binding"]
    mesh = m.items[1]
    assert [(a.name, a.size) for a in mesh.axes] == [("dp", 2), ("tp", 4)]
    st = m.items[2]
    assert st.fields[1].type.dims[0].shard == ["tp"]
    f = m.items[3]
    assert f.decorators[0].name == "spmd" and f.params[0].type.dims[0].shard == ["dp", "tp"]
    assert [t.dtype for t in f.returns] == ["f32", "f32"]
    assert f.params[1].type.struct == "P"


def test_types_and_dims():
    (f,) = parse("def f(x: f32[...S], n: i64, m: bool[2, N]) -> f32[...S]:\n    return x\n", "t.loom").items
    assert f.params[0].type.dims[0].kind == "ellipsis" and f.params[0].type.dims[0].value == "S"
    assert f.params[1].type.dims is None and f.params[1].type.dtype == "i64"
    assert [(d.kind, d.value) for d in f.params[2].type.dims] == [("int", 2), ("name", "N")]


@pytest.mark.parametrize("text,op", [("a + b * c", "+"), ("a * b + c", "+"), ("a - b - c", "-"), ("a ** b ** c", "**"),
                                     ("a < b", "<"), ("a and b or c", "or"), ("a @ b", "@"), ("a // b % c", "%")])
def test_precedence(text, op):
    e = expr(text)
    assert isinstance(e, A.BinOp) and e.op == op


def test_precedence_shapes():
    e = expr("a + b * c")
    assert isinstance(e.rhs, A.BinOp) and e.rhs.op == "*"
    e = expr("a - b - c")  # left associative
    assert isinstance(e.lhs, A.BinOp) and e.lhs.op == "-"
    e = expr("a ** b ** c")  # right associative
    assert isinstance(e.rhs, A.BinOp) and e.rhs.op == "**"
    e = expr("-x ** 2")  # ** binds tighter than unary minus
    assert isinstance(e, A.UnaryOp) and isinstance(e.operand, A.BinOp)
    e = expr("not a and b")
    assert e.op == "and" and isinstance(e.lhs, A.UnaryOp)


def test_literals():
    assert expr("42").text == "42" and not expr("42").is_float
    for t in ("1.5", "1e-3", ".5", "2."):
        assert expr(t).is_float
    assert expr("true").value is True and expr("false").value is False
    assert expr('"hi"').value == "hi"


def test_postfix_and_tuples():
    e = expr("grad(loss, wrt=p)(p, x)")
    assert isinstance(e, A.Call) and isinstance(e.func, A.Call) and e.func.kwargs[0].name == "wrt"
    e = expr("x.shape[0]")
    assert isinstance(e, A.Subscript) and isinstance(e.value, A.Attribute) and e.value.attr == "shape"
    e = expr("x[i, 2:6, ::2, j:j+4, :]")
    assert [type(i).__name__ for i in e.indices] == ["Name", "Slice", "Slice", "Slice", "Slice"]
    assert e.indices[2].lo is None and e.indices[2].step is not None
    assert isinstance(expr("(1,)"), A.TupleExpr) and len(expr("(1, 2)").elts) == 2
    assert isinstance(expr("()"), A.TupleExpr) and isinstance(expr("(1)"), A.Num)


def test_statements():
    b = body(
        "def f(x: f32) -> f32:\n"
        "    a, b = g(x)\n"
        "    x[0, :] = 1\n"
        "    x += 2\n"
        "    x[i] *= 3\n"
        "    if a:\n        pass_ = 1\n    elif b:\n        pass_ = 2\n    else:\n        pass_ = 3\n"
        "    for i in range(0, 10, 2):\n        print(i)\n"
        "    while c bound 5:\n        c = c - 1\n"
        "    with stage(1):\n        y = 1\n"
        "    return x\n"
    )
    kinds = [type(s).__name__ for s in b]
    assert kinds == ["Assign", "Assign", "Assign", "Assign", "If", "For", "While", "With", "Return"]
    assert [t.name for t in b[0].targets] == ["a", "b"]
    assert b[1].targets[0].indices is not None
    aug = b[2]  # x += 2 is x = x + 2
    assert isinstance(aug.value, A.BinOp) and aug.value.op == "+" and aug.value.lhs.id == "x"
    upd = b[3]  # x[i] *= 3 is x[i] = x[i] * 3
    assert upd.targets[0].indices and isinstance(upd.value.lhs, A.Subscript)
    assert isinstance(b[4].orelse[0], A.If) and b[4].orelse[0].orelse  # elif chain
    assert len(b[5].range_args) == 3 and b[6].bound is not None


def test_one_line_suite_and_brackets_across_lines():
    (f,) = parse("def f(x: f32) -> f32: return x\n", "t.loom").items
    assert isinstance(f.body[0], A.Return)
    (f,) = parse("def f(x: f32) -> f32:\n    y = (x +\n        1)\n    return y\n", "t.loom").items
    assert len(f.body) == 2


def test_spans():
    (f,) = parse("def f(x: f32) -> f32:\n    return x + 1.5\n", "t.loom").items
    e = f.body[0].values[0]
    assert (e.span.line, e.span.col, e.span.end_col) == (2, 12, 19)
    assert (e.rhs.span.line, e.rhs.span.col) == (2, 16)
    assert f.name_span.col == 5


def test_comments_and_blank_lines():
    src = "# header\n\nconst A = 1  # trailing\n\n\ndef f() -> i64:\n    # inside\n\n    return A\n"
    m = parse(src, "t.loom")
    assert len(m.items) == 2


def test_missing_trailing_newline_and_crlf():
    m = parse("def f() -> i64:\r\n    return 1", "t.loom")
    assert len(m.items) == 1


@pytest.mark.parametrize("src,line,col,frag", [
    ("def f(x: f32) -> f32:\n    return x +\n", 2, 15, "unexpected end of line"),
    ("def f(x: f32) -> f32:\n\treturn x\n", 2, 1, "tab character"),
    ("x = ((((1\n", 1, 5, "was never closed"),
    ("def f(x: f32) -> f32:\n        y = 1\n    return y\n", 3, 1, "unindent does not match"),
    ("def f(x: f32) -> f32:\n    return a < b < c\n", 2, 18, "chained comparisons"),
    ("def if(x: f32):\n  return 1\n", 1, 5, "keyword"),
    ("x = 1 $ 2\n", 1, 7, "unexpected character"),
    ("def f():\n    y = g(a=1, 2)\n", 2, 16, "positional argument follows keyword"),
    ("def f():\n    1 + 2 = y\n", 2, 5, "cannot assign"),
    ("x = " + "(" * 300 + "1" + ")" * 300 + "\n", 1, 205, "nested more than"),
    ("def f():\n    y = 1\n  z = 2\n", 3, 1, "unindent"),
    ("def f():\n    y = \x00\n", 2, 9, "NUL byte"),
])
def test_syntax_errors(src, line, col, frag):
    with pytest.raises(LoomSyntaxError) as ei:
        parse(src, "bad.loom")
    e = ei.value
    assert (e.line, e.column) == (line, col), e.render()
    assert frag in e.message
    assert "^" in e.render()
