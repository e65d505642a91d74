"""Differentiation in the front end: `grad`, `value_and_grad`, `jvp`, `vjp` (LANGUAGE.md §8).

- `lift_derived_functions`: top-level bindings (`dloss = grad(loss, wrt=p)`) and nested derived
  functions (`grad(grad(f, wrt=x), wrt=x)`) become ordinary functions, written in the AST:
  `def dloss(<loss's params>): return grad(loss, wrt=p)(<params>)`. So a derived function can be
  called, differentiated again, and called from Python like any other.
- `check_derivative`: a call `D(f, wrt=…)(args…)` with `f` a function name: checks `f` on the
  primal arguments (specializing it), the `wrt` names, the float-ness of what is differentiated,
  the tangent/cotangent arguments, and gives the result (flat tuples, LANGUAGE.md §8).
- `emit_derivatives.py` emits the call as one `ad.jvp`/`ad.vjp` op.
"""

from __future__ import annotations

from compiler.diagnostics import Span
from compiler.frontend import ast as A
from compiler.frontend.check_common import err
from compiler.frontend.types import FLOATS, RV, StructT, StructV, TensorT, TupleV

DERIVATIVES = ("grad", "value_and_grad", "jvp", "vjp")


def is_derivative(e) -> bool:
    return isinstance(e, A.Call) and isinstance(e.func, A.Name) and e.func.id in DERIVATIVES


def _wrt_names(d: A.Call, f: A.FuncDef) -> list[str]:
    kw = {k.name: k for k in d.kwargs}
    extra = [k for k in kw if k != "wrt"]
    if extra:
        raise err(f"{d.func.id}() has no option '{extra[0]}' (it takes the function and `wrt=`)", kw[extra[0]].span)
    if len(d.args) != 1:
        raise err(f"{d.func.id}() takes one function (and `wrt=`), got {len(d.args)} positional argument(s)", d.span)
    w = kw.get("wrt")
    if w is None:
        if not f.params:
            raise err(f"'{f.name}' has no parameters to differentiate with respect to", d.span)
        return [f.params[0].name]
    elts = w.value.elts if isinstance(w.value, A.TupleExpr) else [w.value]
    names = []
    for x in elts:
        if not isinstance(x, A.Name):
            raise err("`wrt=` names parameters: `wrt=x` or `wrt=(x, y)`", x.span)
        if x.id not in {p.name for p in f.params}:
            raise err(f"'{x.id}' is not a parameter of '{f.name}' (its parameters: "
                       f"{', '.join(p.name for p in f.params) or 'none'})", x.span)
        if x.id in names:
            raise err(f"'{x.id}' is listed twice in `wrt=`", x.span)
        names.append(x.id)
    return names


# ---------------------------------------------------------------- lifting
HIDDEN = "__"  # the prefix of the functions lifted from nested derivatives


def is_hidden(name: str) -> bool:
    """A function the compiler made for a nested derivative (`grad(grad(f))`): not the user's."""
    return name.startswith(HIDDEN)


def lift_derived_functions(items: list, funcs: dict[str, A.FuncDef]) -> list:
    """Turn bindings and nested derived functions into FuncDefs (see the module docstring).

    A nested derivative becomes a hidden function named after its nesting (`grad(grad(f))` lifts
    `__grad_f`, then `__grad_grad_f`), unique in the program; the same derivative (kind, function
    and `wrt`) written in several places is lifted once."""
    out = []
    taken = {getattr(item, "name", None) for item in items}
    lifted: dict[tuple, str] = {}  # (kind, function, wrt) → the function computing it
    nesting: dict[str, str] = {}  # hidden function → what it computes ("grad_grad_f")

    def fresh(base: str) -> str:
        name, k = base, 1
        while name in taken:
            name, k = f"{base}_{k}", k + 1
        taken.add(name)
        return name

    def lift(d: A.Call, name: str | None, span: Span) -> str:
        """The function computing the derived function `d`: a new one named `name` (a binding),
        or a hidden one (`name` None)."""
        base = d.args[0] if d.args else None
        if is_derivative(base):
            d.args[0] = base = A.Name(base.span, lift(base, None, base.span))
        if not isinstance(base, A.Name) or base.id not in funcs:
            raise err(f"{d.func.id}() differentiates a function: give the name of one defined above",
                       (base or d).span)
        f = funcs[base.id]
        wrt = _wrt_names(d, f)
        key = (d.func.id, f.name, tuple(wrt))
        if name is None:
            if key in lifted:
                return lifted[key]
            path = f"{d.func.id}_{nesting.get(f.name, f.name)}"
            name = fresh(HIDDEN + path)
            nesting[name] = path
        params = list(f.params)
        by_name = {p.name: p for p in f.params}
        if d.func.id == "jvp":
            params += [A.Param(by_name[w].span, f"t_{w}", by_name[w].type) for w in wrt]
        elif d.func.id == "vjp":
            if f.returns is None:
                raise err(f"vjp({f.name}) needs '{f.name}' to declare its result types (its cotangents' types)", d.span)
            params += [A.Param(t.span, f"ct{i}", t) for i, t in enumerate(f.returns)]
        call = A.Call(span, d, [A.Name(span, p.name) for p in params], [])
        fd = A.FuncDef(span, name, span, params, None, [A.Return(span, [call])])
        funcs[name] = fd
        out.append(fd)
        lifted.setdefault(key, name)
        return name

    def visit(s: A.Stmt) -> None:
        """Lift derived functions nested inside a derived call's function position."""
        for n in A.walk(s):  # a node's children are read after it is yielded: lifted ones are not revisited
            if isinstance(n, A.Call) and is_derivative(n.func) and n.func.args and is_derivative(n.func.args[0]):
                inner = n.func.args[0]
                n.func.args[0] = A.Name(inner.span, lift(inner, None, inner.span))

    for item in items:
        if isinstance(item, A.Binding) and is_derivative(item.value):
            lift(item.value, item.name, item.span)
            continue
        if isinstance(item, A.FuncDef):
            funcs[item.name] = item
            for s in item.body:
                visit(s)
        out.append(item)
    return out


# ---------------------------------------------------------------- checking
def check_derivative(fc, e: A.Call):
    """Type-check `D(f, wrt=…)(args…)` in FunctionChecker `fc`."""
    d = e.func
    kind = d.func.id
    base = d.args[0] if d.args else None
    if not isinstance(base, A.Name) or base.id not in fc.c.funcs:
        raise err(f"{kind}() differentiates a function: give the name of one defined in the program",
                   (base or d).span)
    f = fc.c.funcs[base.id]
    wrt = _wrt_names(d, f)
    wrt_idx = [[p.name for p in f.params].index(w) for w in wrt]
    n = len(f.params)
    if e.kwargs:
        raise err(f"pass the arguments of {kind}({f.name}) by position", e.kwargs[0].span)
    if len(e.args) < n:
        raise err(f"{kind}({f.name}) takes {f.name}'s {n} argument(s) first, got {len(e.args)}", e.span)
    synth = A.Call(e.span, A.Name(base.span, f.name), list(e.args[:n]), [])
    fc.call_user(synth, f.name)  # checks the primal arguments, specializes f
    sinfo = fc.inst.info[id(synth)]
    inst = sinfo.extra["instance"]
    results = list(inst.result_types)
    for k in wrt_idx:
        t = inst.param_types[k]
        leaves = [lt for _, lt in t.leaves()] if isinstance(t, StructT) else [t]
        if any(lt.dtype not in FLOATS for lt in leaves):
            raise err(f"cannot differentiate with respect to '{f.params[k].name}': it is {t}, not a float "
                       "value (integers and bools have no derivative)", d.span)
    extra = list(e.args[n:])
    if kind in ("grad", "value_and_grad"):
        if len(results) != 1 or not isinstance(results[0], TensorT) or not results[0].is_scalar \
                or results[0].dtype not in FLOATS:
            got = ", ".join(map(str, results)) or "nothing"
            raise err(f"{kind}({f.name}) needs '{f.name}' to return one float scalar (a loss), but it returns {got}",
                       e.span)
        want = []
    elif kind == "jvp":
        want = [inst.param_types[k] for k in wrt_idx]
    else:
        want = results
    if len(extra) != len(want):
        what = "tangent(s), one per `wrt` parameter" if kind == "jvp" else "cotangent(s), one per result"
        raise err(f"{kind}({f.name}) takes {n} argument(s) then {len(want)} {what}; got {len(e.args)} in all", e.span)
    for a, t in zip(extra, want):
        v = fc.rvs(fc.expr(a), a.span)
        got = v.type if not (isinstance(v, RV) and v.weak and isinstance(t, TensorT) and t.is_scalar
                             and v.type.is_scalar) else t
        if got != t:
            which = "tangent" if kind == "jvp" else "cotangent"
            raise err(f"this {which} must have type {t} (like what it is the {which} of), got {v.type}", a.span)
    grads = [inst.param_types[k] for k in wrt_idx]
    val = [StructV(t) if isinstance(t, StructT) else RV(t) for t in results]
    gv = [StructV(t) if isinstance(t, StructT) else RV(t) for t in grads]
    if kind == "grad":
        out = gv[0] if len(gv) == 1 else TupleV(gv)
    elif kind == "value_and_grad":
        out = TupleV(val + gv)
    elif kind == "jvp":
        out = TupleV(val + [StructV(t) if isinstance(t, StructT) else RV(t) for t in results])
    else:
        out = TupleV(val + gv)
    fc.rec(e, out, derivative=kind, instance=inst, args=sinfo.extra["args"], arg_dtypes=sinfo.extra["arg_dtypes"],
           extra_args=extra, extra_types=want, wrt=wrt_idx)
    return out
