"""Structs (LANGUAGE.md §6): declarations, construction, field access and update, leafwise
arithmetic, structs through calls, `if`, `for` and `while`, and at the Python boundary.

Every program runs on the reference executor (IR as generated and after `loom-opt`) and natively
compiled, and is compared with NumPy. Struct diagnostics are files in tests/invalid/ (struct_*).
"""

import numpy as np
import pytest

import compiler
from compiler import LoomInputError, LoomTypeError
from tests.conftest import EXECUTIONS, how

SRC = """
const H = 3

struct Params:
    w: f32[D_IN, D_OUT]
    b: f32[D_OUT]

struct Model:
    enc: Params
    scale: f32
    steps: i64

struct Pair:
    a: f32[N]
    k: f64

struct Box:
    v: f64[...S]
    n: i64

struct Fixed:
    w: f32[H, 2]

def pair_make(x: f32[N]) -> Pair:
    return Pair(x, k=2)

def pair_use(x: f32[N]) -> f32[N]:
    p = Pair(k=0.5, a=x * 2.0)
    return p.a * f32(p.k)

def predict(p: Params, x: f32[B, D_IN]) -> f32[B, D_OUT]:
    return x @ p.w + p.b

def sgd(p: Params, g: Params, lr: f32) -> Params:
    return p - lr * g

def leafwise(p: Params, q: Params) -> (Params, Params, Params, Params, Params):
    return p + q, p * q, q / 2, 1 - p, -(p / q)

def twice_sgd(p: Params, g: Params, lr: f32) -> Params:
    return sgd(sgd(p, g, lr), g, lr)

def width(p: Params) -> i64:
    return D_OUT * 10 + D_IN

def model_apply(m: Model, x: f32[B, D_IN]) -> f32[B, D_OUT]:
    return predict(m.enc, x) * m.scale

def model_double(m: Model) -> Model:
    return m * 2

def model_update(m: Model, w: f32[D_IN, D_OUT]) -> Model:
    m.enc.w = w
    m.steps += 1
    m.enc.b[0] = 7.0
    m.scale = 0.5
    return m

def model_make(w: f32[I, O], b: f32[O]) -> Model:
    return Model(enc=Params(w=w, b=b), scale=1.5, steps=0)

def train(p: Params, x: f32[B, D_IN], y: f32[B, D_OUT], steps: i64, lr: f32) -> (Params, f32):
    loss = 0.0
    k = 2.0 / f32(B * D_OUT)
    for i in range(steps):
        err = predict(p, x) - y
        loss = mean(err * err)
        g = Params(w=transpose(x) @ err * k, b=sum(err, axis=0) * k)
        p = sgd(p, g, lr)
    return p, loss

def train_twice(p: Params, x: f32[B, D_IN], y: f32[B, D_OUT]) -> f32:
    q, l1 = train(p, x, y, 3, 0.1)
    r, l2 = train(q, x, y, 3, 0.1)
    return l2

def choose(c: bool, p: Params, q: Params) -> Params:
    if c:
        r = p
    else:
        r = q * 2.0
    return r

def choose_return(c: bool, p: Params) -> Params:
    if c:
        return p
    return -p

def halve_until(p: Params, limit: f32) -> (Params, i64):
    n = 0
    while sum(abs(p.w)) > limit:
        p = p * 0.5
        n += 1
    return p, n

def bounded(p: Params) -> Params:
    k = 0
    while k < 3 bound 5:
        p = p + 1.0
        p.b = p.b * 2.0
        k += 1
    return p

def box_scale(b: Box) -> Box:
    return b * 2

def box_total(b: Box) -> f64:
    return sum(b.v) + f64(b.n)

def fixed(w: f32[H, 2]) -> Fixed:
    return Fixed(w=w) / 4.0
"""


@pytest.fixture(scope="module", params=EXECUTIONS)
def prog(request):
    return compiler.loads(SRC, name="structs.loom", **how(request.param))


def rnd(*shape, seed=0, dtype=np.float32):
    return np.random.default_rng(seed).standard_normal(shape).astype(dtype)


def close(a, b, rtol=1e-5):
    np.testing.assert_allclose(a, b, rtol=rtol, atol=1e-6)


def test_construction_and_field_access(prog):
    x = rnd(5)
    p = prog.pair_make(x)
    assert type(p).__name__ == "StructValue" and p._fields == ("a", "k")
    close(p.a, x)
    assert p.k == 2.0 and isinstance(p.k, np.float64)  # the weak literal took the field's type
    close(prog.pair_use(x), x * 2 * 0.5)


def test_sgd_update_and_leafwise_arithmetic(prog):
    p = {"w": rnd(3, 4, seed=1), "b": rnd(4, seed=2)}
    g = prog.Params(w=rnd(3, 4, seed=3), b=rnd(4, seed=4))
    q = prog.sgd(p, g, 0.1)
    close(q.w, p["w"] - np.float32(0.1) * g.w)
    close(q.b, p["b"] - np.float32(0.1) * g.b)
    s, m, d, r, n = prog.leafwise(p, g)
    for f in ("w", "b"):
        close(s[f], p[f] + g[f])
        close(m[f], p[f] * g[f])
        close(d[f], g[f] / 2)
        close(r[f], 1 - p[f])
        close(n[f], -(p[f] / g[f]))
    q2 = prog.twice_sgd(p, g, 0.1)
    close(q2.w, p["w"] - 0.2 * g.w, rtol=1e-5)


def test_symbolic_dims_in_fields_are_bound_per_call(prog):
    for din, dout in ((3, 4), (2, 7)):
        p = prog.Params(w=rnd(din, dout), b=rnd(dout))
        x = rnd(5, din, seed=9)
        close(prog.predict(p, x), x @ p.w + p.b)
        assert prog.width(p) == dout * 10 + din


def test_nested_structs_and_field_updates(prog):
    w, b = rnd(3, 2), rnd(2, seed=1)
    m = prog.model_make(w, b)
    assert isinstance(m.enc, type(m)) and m.enc._fields == ("w", "b")
    assert m.scale == np.float32(1.5) and m.steps == 0
    x = rnd(4, 3, seed=2)
    close(prog.model_apply(m, x), (x @ w + b) * np.float32(1.5))
    d = prog.model_double(m)
    close(d.enc.w, 2 * w)
    assert d.steps == 0 and d.scale == 3.0
    w2 = rnd(3, 2, seed=5)
    u = prog.model_update({"enc": {"w": w, "b": b}, "scale": 2.0, "steps": 41}, w2)
    close(u.enc.w, w2)
    close(u.enc.b, np.concatenate([[7.0], b[1:]]))
    assert u.steps == 42 and u.scale == 0.5
    close(m.enc.b, b)  # inputs are never written


def test_training_loop_carries_a_struct(prog):
    x, y = rnd(8, 3, seed=1), rnd(8, 2, seed=2)
    p0 = {"w": np.zeros((3, 2), np.float32), "b": np.zeros(2, np.float32)}
    p, loss = prog.train(p0, x, y, 5, 0.1)
    w, b = p0["w"].copy(), p0["b"].copy()
    for _ in range(5):
        err = x @ w + b - y
        ref_loss = np.mean(err * err)
        k = np.float32(2.0 / err.size)
        w, b = w - np.float32(0.1) * (x.T @ err * k), b - np.float32(0.1) * (err.sum(0) * k)
    close(p.w, w, rtol=1e-4)
    close(p.b, b, rtol=1e-4)
    close(loss, ref_loss, rtol=1e-4)
    assert prog.train_twice(p0, x, y) < ref_loss


def test_structs_through_if(prog):
    p, q = prog.Params(w=rnd(2, 2), b=rnd(2, seed=1)), prog.Params(w=rnd(2, 2, seed=2), b=rnd(2, seed=3))
    close(prog.choose(True, p, q).w, p.w)
    close(prog.choose(False, p, q).b, 2 * q.b)
    close(prog.choose_return(True, p).w, p.w)
    close(prog.choose_return(False, p).b, -p.b)


def test_structs_through_while(prog):
    p = prog.Params(w=np.full((2, 2), 8.0, np.float32), b=np.ones(2, np.float32))
    r, n = prog.halve_until(p, 5.0)
    assert n == 3
    close(r.w, np.ones((2, 2)))
    close(r.b, np.full(2, 0.125))
    r = prog.bounded(p)
    close(r.w, p.w + 3)
    close(r.b, ((((p.b + 1) * 2 + 1) * 2) + 1) * 2)


def test_rank_polymorphic_and_const_fields(prog):
    b = prog.box_scale({"v": np.arange(6.0).reshape(2, 3), "n": 4})
    close(b.v, 2 * np.arange(6.0).reshape(2, 3))
    assert b.n == 8
    assert prog.box_total(b) == 2 * 15.0 + 8
    w = rnd(3, 2)
    close(prog.fixed(w).w, w / 4)


# ------------------------------------------------------------------ the Python boundary
@pytest.fixture(scope="module")
def eager():
    return compiler.loads(SRC, name="structs.loom", mode="eager")


def test_struct_values(eager):
    P = eager.Params
    assert repr(P) == "<loom struct Params(w: f32[D_IN, D_OUT], b: f32[D_OUT])>"
    assert set(eager.structs) == {"Params", "Model", "Pair", "Box", "Fixed"} and "Params" in dir(eager)
    w, b = rnd(2, 3), rnd(3)
    v = P(w, b=b)
    assert v._fields == ("w", "b") and len(v) == 2
    assert [x is y for x, y in zip(v, (v.w, v.b))] == [True, True]
    assert set(v._asdict()) == {"w", "b"} and v["b"] is v.b
    assert repr(v).startswith("Params(w=array(") and "b=array(" in repr(v)
    v2 = v._replace(b=np.zeros(3, np.float32))
    close(v2.b, np.zeros(3))
    close(v.b, b)
    assert v != v2 and v == v  # noqa: PLR0124  (no value equality: identity)
    with pytest.raises(AttributeError, match="immutable"):
        v.w = w
    with pytest.raises(AttributeError, match="no field 'x'"):
        _ = v.x
    assert v.b.dtype == np.float32 and P(w=[[1, 2, 3]], b=[1.0, 2.0, 3.0]).w.dtype == np.float32
    r = eager.sgd(v, v, 0.5)  # struct values from Python and from results both pass back in
    assert eager.sgd(r, {"w": w, "b": b}, 1.0).w.shape == (2, 3)


@pytest.mark.parametrize("arg, msg", [
    ({"w": np.ones((2, 3), np.float32)}, "argument 'p' of 'sgd' is missing field(s) b"),
    ({"w": np.ones((2, 3), np.float32), "b": np.ones(3, np.float32), "c": 1}, "has no field(s) c"),
    ({"w": np.ones((2, 3), np.float64), "b": np.ones(3, np.float32)}, "argument 'p' field 'w' of 'sgd' (declared f32[D_IN, D_OUT]) got a NumPy value of dtype float64"),
    ({"w": np.ones((2, 3), np.float32), "b": np.ones(4, np.float32)}, "argument 'p' field 'b' of 'sgd' has type f32[4], expected f32[D_OUT] (D_OUT is 3)"),
    ({"w": np.ones(3, np.float32), "b": np.ones(3, np.float32)}, "argument 'p' field 'w' of 'sgd' (declared f32[D_IN, D_OUT]) expects rank 2"),
    (np.ones(3, np.float32), "expects a Params struct (a dict with the fields w, b, or a struct value), got ndarray"),
])
def test_struct_argument_errors(eager, arg, msg):
    g = eager.Params(w=np.ones((2, 3), np.float32), b=np.ones(3, np.float32))
    with pytest.raises(LoomInputError) as ex:
        eager.sgd(arg, g, 0.1)
    assert msg in str(ex.value)


def test_struct_argument_errors_nested_and_kinds(eager):
    with pytest.raises(LoomInputError, match=r"argument 'm' field 'enc.b' of 'model_apply'"):
        eager.model_apply({"enc": {"w": np.ones((2, 3), np.float32), "b": np.ones(3, np.int64)}, "scale": 1.0,
                           "steps": 0}, np.ones((1, 2), np.float32))
    with pytest.raises(LoomInputError, match="expects a Params struct, got a Pair struct value"):
        eager.sgd(eager.Pair(a=np.ones(2, np.float32), k=1.0), {"w": np.ones((1, 1), np.float32), "b": [1.0]}, 0.1)
    with pytest.raises(LoomInputError, match="has the struct type Params"):
        compiler.api.to_numpy(np.ones(2), eager.sgd.fdef.params[0], "sgd")
    with pytest.raises(LoomInputError, match="struct Params has no field 'c'"):
        eager.Params(w=1.0, c=2)
    with pytest.raises(LoomInputError, match="missing field"):
        eager.Params(w=np.ones((1, 1), np.float32))
    with pytest.raises(LoomInputError, match=r"struct Model field 'enc' field 'w' \(declared"):
        eager.Model(enc={"w": "no", "b": [1.0]}, scale=1.0, steps=1)


# ------------------------------------------------------------------ IR: flattened, located
def test_ir_is_flat_with_leaf_names_and_locations(eager):
    m = {"enc": {"w": np.ones((3, 2), np.float32), "b": np.ones(2, np.float32)}, "scale": 1.0, "steps": 0}
    lowered = eager.model_update.lower(m, np.ones((3, 2), np.float32))
    text = lowered.as_text("loom")
    assert "func.func @model_update(%m.enc.w: tensor<3x2xf32>, %m.enc.b: tensor<2xf32>, %m.scale: f32, " \
           "%m.steps: i64, %w: tensor<3x2xf32>) -> (tensor<3x2xf32>, tensor<2xf32>, f32, i64)" in text
    assert "Params" not in text and "Model" not in text
    ops = [ln for ln in lowered.as_text("loom", locations=True).splitlines() if " = " in ln or "return" in ln]
    assert ops and all('loc("structs.loom":' in ln for ln in ops)
    loop = eager.halve_until.lower(m["enc"], 1.0).as_text("loom")
    assert "iter_args" not in loop and "scf.while" in loop and "%p.w" in loop
    generic = compiler.loads(SRC, name="structs.loom", mode="eager").checker.generic("train")
    assert [str(t) for t in generic.result_types] == ["Params", "f32"]


def test_program_without_structs_in_signatures_still_checks():
    with pytest.raises(LoomTypeError, match="unknown type 'Parms'"):
        compiler.loads("struct Params:\n    w: f32[2]\n\ndef f(p: Parms) -> f32:\n    return 0.0\n")
