"""Derivatives in the IR (LANGUAGE.md §8; checked by `derivatives.py`): a call
`D(f, wrt=…)(args…)` is one `ad.jvp`/`ad.vjp` op naming `f`'s instance; `grad` and
`value_and_grad` are a `vjp` with cotangent 1. The `autodiff` passes do the rest."""

from __future__ import annotations

from xdsl.dialects import arith
from xdsl.dialects.builtin import FloatAttr

from compiler.frontend import ast as A
from compiler.frontend.emit_common import ELEM, flat_ir_types
from compiler.frontend.emit_structs import flatten, regroup
from compiler.frontend.types import n_leaves
from dialects import ad


def emit_derivative(g, e: A.Call, info):
    x = info.extra
    inst = x["instance"]
    kind = x["derivative"]
    args = []
    for a, dt in zip(x["args"], x["arg_dtypes"]):
        args.extend(g.expr(a).leaves if dt is None else [g.expr_as(a, dt)])
    extra = [flatten(g, g.expr(a), t, a.span) for a, t in zip(x["extra_args"], x["extra_types"])]
    # the op lists the `wrt` parameters in their order (`wrt=(b, a)` is a permutation of it)
    order = sorted(range(len(x["wrt"])), key=lambda j: x["wrt"][j])
    wrt = [x["wrt"][j] for j in order]
    # parameter k's leaves in the flat parameter list
    starts, pos = [], 0
    for t in inst.param_types:
        starts.append(pos)
        pos += n_leaves(t)
    wrt_flat = [starts[k] + j for k in wrt for j in range(n_leaves(inst.param_types[k]))]
    res_types = flat_ir_types(inst.result_types)
    grad_types = [inst.param_types[k] for k in wrt]
    if kind in ("grad", "value_and_grad"):
        dt = inst.result_types[0].dtype
        extra = [g.add(arith.ConstantOp(FloatAttr(1.0, ELEM[dt]), ELEM[dt]), e.span).results[0]]
    elif kind == "jvp":  # tangents: one per `wrt` parameter, as given
        extra = [leaf for j in order for leaf in extra[j]]
    else:  # cotangents: one per result
        extra = [leaf for leaves in extra for leaf in leaves]
    if kind == "jvp":
        op = g.add(ad.JvpOp(inst.symbol, wrt_flat, args + extra, res_types + res_types), e.span)
        outs = regroup(op.results, list(inst.result_types) * 2)
    else:
        op = g.add(ad.VjpOp(inst.symbol, wrt_flat, args + extra, res_types + flat_ir_types(grad_types)), e.span)
        outs = regroup(op.results, list(inst.result_types) + grad_types)
        n = len(inst.result_types)
        grads = [None] * len(order)
        for j, gv in zip(order, outs[n:]):
            grads[j] = gv  # back in the order `wrt` gives
        outs = (outs[:n] if kind != "grad" else []) + grads
    return outs[0] if len(outs) == 1 else outs
