"""The IR of the builtins of LANGUAGE.md §7 (checked by `builtins.py`): `emit_*(g, e, info, a)`
receives the `FuncGen` of `irgen.py`, the call node, what the checker recorded for it (`info`)
and its arguments bound to parameter names. Neural-network helpers (softmax, layer_norm, …) are
emitted as compositions of loom ops.
"""

from __future__ import annotations

from xdsl.dialects.builtin import UnitAttr, i64

from compiler.frontend import ast as A
from compiler.frontend.builtins import BUILTINS, bind_args
from compiler.frontend.emit_common import ir_type
from compiler.frontend.types import StrV, TensorT
from dialects import ad, loom

UNARY_OPS = {"exp": loom.ExpOp, "log": loom.LogOp, "sqrt": loom.SqrtOp, "rsqrt": loom.RsqrtOp,
             "tanh": loom.TanhOp, "sigmoid": loom.SigmoidOp, "gelu": loom.GeluOp, "sin": loom.SinOp,
             "cos": loom.CosOp, "relu": loom.ReluOp, "abs": loom.AbsOp, "sign": loom.SignOp}
REDUCTION_OPS = {"sum": loom.SumOp, "mean": loom.MeanOp, "max": loom.MaxOp, "min": loom.MinOp, "prod": loom.ProdOp,
                 "any": loom.AnyOp, "all": loom.AllOp, "argmax": loom.ArgmaxOp, "argmin": loom.ArgminOp}


def emit_builtin(g, e: A.Call, info):
    name = e.func.id
    b = BUILTINS[name]
    a = {"*": e.args} if b.varargs else bind_args(e, name, b.params)
    return EMITTERS[name](g, e, info, a)


# ------------------------------------------------------------------ elementwise
def emit_unary(g, e, info, a):
    cls = UNARY_OPS[e.func.id]
    return g.add(cls(g.expr_as(a["x"], info.extra["dtype"])), e.span).results[0]


def emit_minmax2(g, e, info, a):
    cls = loom.MaximumOp if e.func.id == "maximum" else loom.MinimumOp
    dt = info.extra["dtype"]
    return g.add(cls(g.expr_as(a["a"], dt), g.expr_as(a["b"], dt), ir_type(info.value.type)), e.span).results[0]


def emit_where(g, e, info, a):
    dt = info.extra["dtype"]
    c = g.value(a["cond"])
    return g.add(loom.SelectOp(c, g.expr_as(a["a"], dt), g.expr_as(a["b"], dt), ir_type(info.value.type)), e.span).results[0]


# ------------------------------------------------------------------ reductions
def emit_reduce(g, e, info, a):
    x = g.expr_as(a["x"], info.extra["dtype"])
    cls = REDUCTION_OPS[e.func.id]
    return g.add(cls(x, info.extra["axes"], info.extra["keepdims"], ir_type(info.value.type)), e.span).results[0]


# ------------------------------------------------------------------ shape manipulation
def emit_reshape(g, e, info, a):
    return g.add(loom.ReshapeOp(g.value(a["x"]), ir_type(info.value.type)), e.span).results[0]


def emit_transpose(g, e, info, a):
    return g.add(loom.TransposeOp(g.value(a["x"]), info.extra["perm"], ir_type(info.value.type)), e.span).results[0]


def emit_broadcast_to(g, e, info, a):
    x = g.expr_as(a["x"], info.extra["dtype"])
    return g.add(loom.BroadcastToOp(x, ir_type(info.value.type)), e.span).results[0]


def emit_concat(g, e, info, a):
    xs = g.expr(a["xs"])
    return g.add(loom.ConcatOp(xs, info.extra["axis"], ir_type(info.value.type)), e.span).results[0]


def emit_stack(g, e, info, a):
    xs = g.expr(a["xs"])
    ax = info.extra["axis"]
    t: TensorT = info.value.type
    part = TensorT(t.dtype, t.shape[:ax] + (1,) + t.shape[ax + 1:])
    parts = [g.add(loom.ReshapeOp(x, ir_type(part)), e.span).results[0] for x in xs]
    return g.add(loom.ConcatOp(parts, ax, ir_type(t)), e.span).results[0]


# ------------------------------------------------------------------ creation
def emit_fill(g, e, info, a):
    t: TensorT = info.value.type
    if e.func.id == "full":
        v = g.expr_as(a["value"], t.dtype)
    else:
        v = g.const(0 if e.func.id == "zeros" else 1, t.dtype, e.span)
    if t.is_scalar:
        return v
    return g.add(loom.FullOp(v, ir_type(t)), e.span).results[0]


def emit_like(g, e, info, a):
    t: TensorT = info.value.type
    v = g.const(0 if e.func.id == "zeros_like" else 1, t.dtype, e.span)
    if t.is_scalar:
        return v
    return g.add(loom.FullOp(v, ir_type(t)), e.span).results[0]


def emit_arange(g, e, info, a):
    return g.add(loom.ArangeOp(ir_type(info.value.type)), e.span).results[0]


def emit_one_hot(g, e, info, a):
    return one_hot(g, g.expr_as(a["i"], info.extra["idt"]), info.extra["n"], info.value.type, e.span)


def one_hot(g, idx, n: int, t: TensorT, span):
    ishape = loom.shape_of(idx.type)
    if idx.type != i64 and loom.element_type(idx.type) != i64:
        idx = g.convert_elem(idx, "i64", span)
    col = g.add(loom.ReshapeOp(idx, loom.make_type(i64, list(ishape) + [1])), span).results[0]
    ar = g.add(loom.ArangeOp(loom.make_type(i64, [n])), span).results[0]
    hit = g.add(loom.CmpOp("eq", col, ar, ir_type(t.with_dtype("bool"))), span).results[0]
    return g.add(loom.ConvertOp(hit, ir_type(t)), span).results[0]


def emit_random(g, e, info, a):
    seed = g.expr_as(a["seed"], "i64")
    return g.add(loom.RandomOp(e.func.id, seed, ir_type(info.value.type)), e.span).results[0]


# ------------------------------------------------------------------ neural-network helpers
def _red(g, cls, x, ax, span, keep=True):
    shape = list(loom.shape_of(x.type))
    out = [1 if i == ax else d for i, d in enumerate(shape)] if keep else [d for i, d in enumerate(shape) if i != ax]
    return g.add(cls(x, [ax], keep, loom.make_type(loom.element_type(x.type), out)), span).results[0]


def _bin(g, cls, x, y, span):
    shape = loom.broadcast_shapes(loom.shape_of(x.type), loom.shape_of(y.type))
    return g.add(cls(x, y, loom.make_type(loom.element_type(x.type), shape)), span).results[0]


def _shift(g, x, m, span):
    """x - max(x) (the softmax family) or x - mean(x) (layer_norm), never contracted with the
    multiply that made x (`loom.NO_CONTRACT`): the largest element shifts to exactly 0, and a
    constant row centers to exactly 0, in compiled code too."""
    shifted = _bin(g, loom.SubOp, x, m, span)
    shifted.owner.attributes[loom.NO_CONTRACT] = UnitAttr()
    return shifted


def emit_nn(g, e, info, a):
    name, ax, sp = e.func.id, info.extra["axis"], e.span
    x = g.expr_as(a["x"], info.extra["dtype"])
    if name == "layer_norm":
        mu = _red(g, loom.MeanOp, x, ax, sp)
        d = _shift(g, x, mu, sp)
        var = _red(g, loom.MeanOp, _bin(g, loom.MulOp, d, d, sp), ax, sp)
        eps = g.const(1e-5, info.extra["dtype"], sp)
        return _bin(g, loom.MulOp, d, g.add(loom.RsqrtOp(_bin(g, loom.AddOp, var, eps, sp)), sp).results[0], sp)
    m = _red(g, loom.MaxOp, x, ax, sp)
    shifted = _shift(g, x, m, sp)
    ex = g.add(loom.ExpOp(shifted), sp).results[0]
    s = _red(g, loom.SumOp, ex, ax, sp)
    if name == "softmax":  # one division per row, a multiply per element
        recip = _bin(g, loom.DivOp, g.const(1.0, info.extra["dtype"], sp), s, sp)
        return _bin(g, loom.MulOp, ex, recip, sp)
    log_s = g.add(loom.LogOp(s), sp).results[0]
    if name == "log_softmax":
        return _bin(g, loom.SubOp, shifted, log_s, sp)
    lse = _bin(g, loom.AddOp, log_s, m, sp)  # logsumexp, keepdims then drop the axis
    return g.add(loom.ReshapeOp(lse, ir_type(info.value.type)), sp).results[0]


def emit_cross_entropy(g, e, info, a):
    sp, dt = e.span, info.extra["dtype"]
    z = g.expr_as(a["logits"], dt)
    shape = list(loom.shape_of(z.type))
    ax = len(shape) - 1
    m = _red(g, loom.MaxOp, z, ax, sp)
    shifted = _shift(g, z, m, sp)
    lse = g.add(loom.LogOp(_red(g, loom.SumOp, g.add(loom.ExpOp(shifted), sp).results[0], ax, sp)), sp).results[0]
    logp = _bin(g, loom.SubOp, shifted, lse, sp)
    oh = one_hot(g, g.expr_as(a["labels"], info.extra["ydt"]), shape[-1], TensorT(dt, tuple(shape)), sp)
    picked = _red(g, loom.SumOp, _bin(g, loom.MulOp, logp, oh, sp), ax, sp, keep=False)
    scalar = loom.make_type(loom.element_type(z.type), [])
    mean = g.add(loom.MeanOp(picked, list(range(ax)), False, scalar), sp).results[0] if ax else picked
    return g.add(loom.NegOp(mean), sp).results[0]


# ------------------------------------------------------------------ print
def emit_print(g, e, info, a):
    parts, values = [], []
    for x in a["*"]:
        v = g.inst.info[id(x)].value
        if isinstance(v, StrV):
            parts.append(v.value.replace("{", "{{").replace("}", "}}"))
            continue
        got = g.expr(x)
        for val in got if isinstance(got, list) else [got]:
            parts.append("{}")
            values.append(val)
    g.add(loom.PrintOp(" ".join(parts), values), e.span)
    return []


def emit_stop_gradient(g, e, info, a):
    return g.add(ad.StopGradientOp(g.expr_as(a["x"], info.extra["dtype"])), e.span).results[0]


EMITTERS = {
    **{n: emit_unary for n in UNARY_OPS},
    "maximum": emit_minmax2, "minimum": emit_minmax2, "where": emit_where,
    **{n: emit_reduce for n in REDUCTION_OPS},
    "reshape": emit_reshape, "transpose": emit_transpose, "broadcast_to": emit_broadcast_to,
    "concat": emit_concat, "stack": emit_stack,
    "zeros": emit_fill, "ones": emit_fill, "full": emit_fill, "zeros_like": emit_like, "ones_like": emit_like,
    "arange": emit_arange, "one_hot": emit_one_hot, "uniform": emit_random, "normal": emit_random,
    **{n: emit_nn for n in ("softmax", "log_softmax", "logsumexp", "layer_norm")},
    "cross_entropy": emit_cross_entropy, "print": emit_print, "stop_gradient": emit_stop_gradient,
}
