"""Checking control flow (LANGUAGE.md §3): `if` (the names assigned in its branches merge into
one type each), `for` and `while` (the loop-carried names, found as a fixed point of their
types). Each rule takes the `FunctionChecker` `fc`."""

from __future__ import annotations

from compiler.diagnostics import LoomTypeError, Note, Span
from compiler.frontend import ast as A
from compiler.frontend.check_common import err
from compiler.frontend.structs import merge_structs
from compiler.frontend.types import INTS, RV, StructV, TensorT, TupleV, Unbound


def assigned_names(stmts: list[A.Stmt]) -> list[str]:
    """Names assigned anywhere in a block (in order of first assignment), loop variables included."""
    out: list[str] = []

    def add(n: str) -> None:
        if n not in out:
            out.append(n)

    for s in stmts:
        if isinstance(s, A.Assign):
            for t in s.targets:
                add(t.name)
        elif isinstance(s, A.For):
            add(s.var)
        for sub in (getattr(s, "body", None), getattr(s, "orelse", None)):
            if sub:
                for n in assigned_names(sub):
                    add(n)
    return out


def if_stmt(fc, s: A.If) -> list[RV] | None:
    fc.cond_value(s.cond, "'if'")
    env0 = dict(fc.env)
    r1 = fc.block(s.body)
    env1, fc.env = fc.env, dict(env0)
    r2 = fc.block(s.orelse)
    env2, fc.env = fc.env, dict(env0)
    if r1 is not None and r2 is not None:
        merged = merge_returns(fc, r1, r2, s.span)
        fc.rec(s, None, returns=True)
        return merged
    if r1 is not None or r2 is not None:
        raise err("not every path through this 'if' returns a value", s.span)
    yields = []
    for name in dict.fromkeys(list(env1) + list(env2)):
        v1, v2 = env1.get(name), env2.get(name)
        if v1 is env0.get(name) and v2 is env0.get(name):
            continue
        if v1 is None or v2 is None or isinstance(v1, Unbound) or isinstance(v2, Unbound):
            fc.env[name] = Unbound(f"'{name}' is assigned on only some paths through the 'if' at line {s.span.line}", s.span)
            continue
        if isinstance(v1, TupleV) or isinstance(v2, TupleV):
            fc.env[name] = Unbound(f"'{name}' holds a tuple, which cannot flow out of an 'if'; unpack it", s.span)
            continue
        m = merge(fc, v1, v2, s.span, f"'{name}'", "in one branch", "in the other")
        fc.env[name] = m
        yields.append((name, m))
    fc.rec(s, None, yields=yields, returns=False)
    return None


def merge(fc, a: RV | StructV, b: RV | StructV, span: Span, what: str, wa: str, wb: str) -> RV | StructV:
    if isinstance(a, StructV) or isinstance(b, StructV):
        return merge_structs(a, b, span, what, wa, wb)
    if a.weak and b.weak and a.type.dtype == b.type.dtype and a.type.shape == b.type.shape:
        return RV(a.type, weak=True)
    da = fc.coerce_dtype(a, b.type.dtype, span) if a.weak and not b.weak else a.type.dtype
    db = fc.coerce_dtype(b, a.type.dtype, span) if b.weak and not a.weak else b.type.dtype
    if da != db or a.type.shape != b.type.shape:
        raise err(f"{what} has type {a.type} {wa} and {b.type} {wb}", span)
    return RV(TensorT(da, a.type.shape))


def merge_returns(fc, r1: list[RV], r2: list[RV], span: Span) -> list[RV]:
    if len(r1) != len(r2):
        raise err(f"the branches of this 'if' return {len(r1)} and {len(r2)} values", span)
    return [merge(fc, a, b, span, f"result {i + 1}", "in one branch", "in the other")
            for i, (a, b) in enumerate(zip(r1, r2))]


def loop(fc, s: A.For | A.While, body_check) -> list[tuple[str, RV]]:
    """Check a loop body to a fixed point of the loop-carried types; returns the carried values."""
    env0 = dict(fc.env)
    assigned = assigned_names(s.body)
    if isinstance(s, A.For):
        assigned = [n for n in assigned if n != s.var]
    carried = {n: StructV(env0[n].type) if isinstance(env0[n], StructV) else RV(env0[n].type, weak=env0[n].weak)
               for n in assigned if isinstance(env0.get(n), (RV, StructV))}
    for n in assigned:
        if isinstance(env0.get(n), TupleV):
            raise err(f"'{n}' holds a tuple and cannot be reassigned in a loop; unpack it first", s.span)
    for _ in range(4):
        fc.env = dict(env0)
        fc.env.update(carried)
        body_check()
        changed = False
        for n, cur in list(carried.items()):
            end = fc.env.get(n)
            if not isinstance(end, (RV, StructV)):
                raise err(f"loop-carried '{n}' is not bound at the end of the loop body", s.span)
            if end.type == cur.type and end.weak == cur.weak:
                continue
            try:  # reported where the body last assigns it
                m = merge(fc, cur, end, fc.assigned_at.get(n, s.span), f"loop-carried '{n}'", "before the loop",
                          "after an iteration")
            except LoomTypeError as ex:
                ex.notes.append(Note(s.span, f"'{n}' is carried by this loop"))
                raise
            if m.type != cur.type or m.weak != cur.weak:
                carried[n] = m
                changed = True
        if not changed:
            break
    else:  # pragma: no cover - types only ever strengthen
        raise err("loop-carried types do not settle", s.span)
    fc.env = dict(env0)
    fc.env.update(carried)
    kind = "for" if isinstance(s, A.For) else "while"
    for n in assigned:
        if n not in carried:
            fc.env[n] = Unbound(f"'{n}' is assigned only inside the '{kind}' loop at line {s.span.line}", s.span)
    if isinstance(s, A.For):
        fc.env[s.var] = Unbound(f"the loop variable '{s.var}' is bound only inside its loop", s.var_span)
    return list(carried.items())


def for_stmt(fc, s: A.For) -> None:
    if not 1 <= len(s.range_args) <= 3:
        raise err(f"range() takes 1 to 3 arguments, got {len(s.range_args)}", s.span)
    bounds = []
    for e in s.range_args:
        v = fc.rv(fc.expr(e), e.span)
        if not v.type.is_scalar or v.type.dtype not in INTS:
            raise err(f"range() arguments must be integer scalars, got {v.type}", e.span)
        bounds.append(v)
    step = bounds[2].const if len(bounds) == 3 else 1
    if step == 0:
        raise err("range() step must not be zero", s.range_args[2].span)

    def body() -> None:
        fc.env[s.var] = RV(TensorT("i64"))
        fc.block(s.body)

    carried = loop(fc, s, body)
    fc.rec(s, None, carried=carried, static_step=step if isinstance(step, int) else None)


def while_stmt(fc, s: A.While) -> None:
    bound = None
    if s.bound is not None:
        b = fc.rv(fc.expr(s.bound), s.bound.span)
        if not isinstance(b.const, int) or isinstance(b.const, bool) or b.const < 0 or b.type.dtype not in INTS:
            raise err("'bound' must be a non-negative integer constant", s.bound.span)
        bound = b.const

    def body() -> None:
        fc.cond_value(s.cond, "'while'")
        fc.block(s.body)

    carried = loop(fc, s, body)
    fc.rec(s, None, carried=carried, bound=bound)
