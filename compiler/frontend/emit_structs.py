"""Structs in the IR (LANGUAGE.md §6; checked by `structs.py`). The IR has no struct types: a
struct value is the list of its leaves (tensors and scalars) in field order, nested structs
depth-first (`SVal` during IR generation). A struct parameter becomes consecutive function
arguments named `%p.w1`, `%p.layer.w`, …; a struct result consecutive results; a struct in an
`scf.if` consecutive yielded values; a loop-carried struct consecutive iter args. Field access
picks leaves, a field update replaces them, leafwise arithmetic emits one `loom` op per leaf.
The emitters take the `FuncGen` (`g`) of `irgen.py`."""

from __future__ import annotations

from xdsl.ir import SSAValue

from compiler.diagnostics import Span
from compiler.frontend import ast as A
from compiler.frontend.emit_common import BINARY, ir_type, is_concrete
from compiler.frontend.types import StructT, StructV, n_leaves
from dialects import loom


class SVal:
    """A struct value during IR generation: its type and its leaves, depth-first in field order."""

    def __init__(self, type: StructT, leaves: list[SSAValue]):
        assert len(leaves) == n_leaves(type)
        self.type = type
        self.leaves = list(leaves)


def flatten(g, v, t, span: Span | None) -> list[SSAValue]:
    """The IR values of `v` of checker type `t` (a weak scalar is converted to `t`)."""
    if isinstance(t, StructT):
        assert isinstance(v, SVal)
        return list(v.leaves)
    return [g.convert(v, t, span)]


def regroup(values, types, names=None) -> list:
    """Flat IR values back into one value per type (an `SVal` for each struct), naming them
    (`p`, or `p.w1`, `p.layer.w` for the leaves of a struct `p`)."""
    out, k = [], 0
    values = list(values)
    for i, t in enumerate(types):
        n = n_leaves(t)
        chunk, k = values[k:k + n], k + n
        name = names[i] if names else None
        if isinstance(t, StructT):
            if name:
                for (path, _), x in zip(t.leaves(), chunk):
                    x.name_hint = f"{name}.{path}"
            out.append(SVal(t, chunk))
        else:
            if name:
                chunk[0].name_hint = name
            out.append(chunk[0])
    return out


def emit_construct(g, e: A.Call, info) -> SVal:
    t: StructT = info.value.type
    got = {n: (g.expr(x), x) for n, x in info.extra["struct_ctor"]}  # emitted in source order
    leaves: list[SSAValue] = []
    for n, ft in t.fields:
        v, x = got[n]
        if isinstance(ft, StructT):
            leaves.extend(v.leaves)
        else:
            rv = g.info(x).value
            leaves.append(g.convert(v, rv.type.with_dtype(ft.dtype), x.span))
    return SVal(t, leaves)


def emit_field(g, e: A.Attribute):
    sv = g.expr(e.value)
    start, n, ft = sv.type.span_of([e.attr])
    return SVal(ft, sv.leaves[start:start + n]) if isinstance(ft, StructT) else sv.leaves[start]


def _operand(g, x: A.Expr):
    """One side of a leafwise op: a function (leaf index, element type) → IR value. A scalar side
    is emitted once (a literal once per element type)."""
    v = g.info(x).value
    if isinstance(v, StructV):
        sv = g.expr(x)
        return lambda i, dt: sv.leaves[i]
    if is_concrete(v.const):
        cache: dict = {}

        def lit(i, dt):
            if dt not in cache:
                cache[dt] = g.const(v.const, dt, x.span)
            return cache[dt]

        return lit
    s = g.value(x)
    return lambda i, dt: g.convert(s, v.type.with_dtype(dt), x.span)


def emit_leafwise_binop(g, e: A.BinOp, info) -> SVal:
    t: StructT = info.value.type
    lhs, rhs = _operand(g, e.lhs), _operand(g, e.rhs)
    leaves = []
    for i, (_, lt) in enumerate(t.leaves()):
        a, b = lhs(i, lt.dtype), rhs(i, lt.dtype)
        leaves.append(g.add(BINARY[e.op](a, b, ir_type(lt)), e.span).results[0])
    return SVal(t, leaves)


def emit_leafwise_unary(g, e: A.UnaryOp) -> SVal:
    sv = g.expr(e.operand)
    if e.op == "+":
        return sv
    return SVal(sv.type, [g.add(loom.NegOp(x), e.span).results[0] for x in sv.leaves])


def emit_field_update(g, t: A.Target, value) -> None:
    sv: SVal = g.env[t.name]
    start, n, ft = sv.type.span_of(t.fields)
    leaves = list(sv.leaves)
    if t.indices is not None:
        leaves[start] = g.update_part(leaves[start], value, g.info(t), t.span)
    elif isinstance(ft, StructT):
        leaves[start:start + n] = value.leaves
    else:
        leaves[start] = g.convert(value, ft, t.span)
    g.env[t.name] = SVal(sv.type, leaves)
