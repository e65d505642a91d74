"""Structs (LANGUAGE.md §6): checking declarations, construction, field access and update, and
leafwise arithmetic. Their IR is emitted by `emit_structs.py`.

Types. `struct L:` declares a record; its field types may use symbolic dims (`w: f32[I, O]`).
A struct *value* has a `StructT`: the name and the fields' types with those dims bound (ints, or
names in a generic check). The dims of a struct used as a parameter type join the function's
signature, like the dims of its other parameters (`def f(x: f32[B, I], p: L) -> f32[B, O]`);
a construction `L(w=…, b=…)` binds them from its fields, consistently, like a call.

Flattening: the IR has no struct types (see `emit_structs.py`).
"""

from __future__ import annotations

from compiler.diagnostics import LoomTypeError, Note, Span
from compiler.frontend import ast as A
from compiler.frontend.check_common import ARITH_OPS, did_you_mean, err
from compiler.frontend.indexing import indexed_update
from compiler.frontend.types import DTYPES, INTS, RV, StructT, StructV, TensorT, type_str

def two_types(a, b) -> tuple[str, str]:
    """Two types for a message, spelled out in full when their short names are the same."""
    if str(a) == str(b):
        return type_str(a), type_str(b)
    return str(a), str(b)


# ------------------------------------------------------------------ declarations (Checker)
def validate_structs(c) -> None:
    """Fields: no duplicates, known types, well-formed dims; no struct contains itself."""
    for decl in c.structs.values():
        seen: set[str] = set()
        for f in decl.fields:
            if f.name in seen:
                raise err(f"duplicate field '{f.name}' in struct '{decl.name}'", f.span)
            seen.add(f.name)
            t = f.type
            if t.struct is not None:
                if t.struct not in c.structs:
                    raise unknown_type(c, t)
                continue
            for d in t.dims or []:
                if d.kind == "ellipsis" and len(t.dims) != 1:
                    raise err(f"'...{d.value}' must be the only dimension of a type", d.span)
    state: dict[str, int] = {}

    def visit(name: str, path: list[str]) -> None:
        state[name] = 1
        for f in c.structs[name].fields:
            sub = f.type.struct
            if sub is None:
                continue
            if state.get(sub) == 1:
                cycle = path[path.index(sub):] + [sub]
                raise err("a struct cannot contain itself: " + " → ".join(cycle), f.type.span)
            if sub not in state:
                visit(sub, path + [sub])
        state[name] = 2

    for name in c.structs:
        if name not in state:
            visit(name, [name])


def unknown_type(c, t: A.TypeExpr) -> LoomTypeError:
    known = list(c.structs) + list(DTYPES)
    return err(f"unknown type '{t.struct}' (not an element type or a struct){did_you_mean(t.struct, known)}", t.span)


def resolve_struct(c, t: A.TypeExpr, bindings: dict, bind_fresh: bool) -> StructT:
    decl = c.structs.get(t.struct)
    if decl is None:
        raise unknown_type(c, t)
    fields = []
    for f in decl.fields:
        try:
            fields.append((f.name, c.resolve_type(f.type, bindings, bind_fresh)))
        except LoomTypeError as ex:
            if ex.span is None or ex.span == t.span or f.type.struct is not None:
                raise
            raise err(f"{ex.message} (field '{f.name}' of struct '{decl.name}')", t.span,
                      Note(f.span, f"'{f.name}' is declared here")) from None
    return StructT(decl.name, tuple(fields))


def bind_struct(c, t: A.TypeExpr, actual, bindings: dict, span: Span, where: dict, who: str, fname: str,
                note: Note, path: tuple, mismatch) -> StructT:
    """Unify a declared struct type with an actual one, field by field (binding symbols)."""
    decl = c.structs.get(t.struct)
    if decl is None:
        raise unknown_type(c, t)
    if not isinstance(actual, StructT) or actual.name != t.struct \
            or [n for n, _ in actual.fields] != [f.name for f in decl.fields]:
        raise mismatch()
    fields = []
    for f, (n, at) in zip(decl.fields, actual.fields):
        fields.append((n, c.bind_type(f.type, at, bindings, span, where, who, fname,
                                      Note(f.span, f"field '{n}' of '{decl.name}' is declared here"), path + (n,))))
    return StructT(actual.name, tuple(fields))


# ------------------------------------------------------------------ expressions (FunctionChecker)
def construct(fc, e: A.Call, name: str) -> StructV:
    """`L(w=…, b=…)` or `L(w, b)`: every field once; weak literals take the field's element type;
    the struct's symbolic dims are bound consistently across its fields."""
    decl = fc.c.structs[name]
    names = [f.name for f in decl.fields]
    if len(e.args) > len(names):
        raise err(f"struct '{name}' has {len(names)} field(s), got {len(e.args)} positional argument(s)", e.span)
    order: list[tuple[str, A.Expr]] = list(zip(names, e.args))
    for k in e.kwargs:
        if k.name not in names:
            raise err(f"struct '{name}' has no field '{k.name}'{did_you_mean(k.name, names)} (fields: {', '.join(names)})",
                      k.span)
        if k.name in dict(order):
            raise err(f"field '{k.name}' of '{name}' is given twice", k.span)
        order.append((k.name, k.value))
    given = dict(order)
    missing = [n for n in names if n not in given]
    if missing:
        raise err(f"'{name}(…)' is missing field(s): {', '.join(missing)}", e.span)
    values = {n: fc.expr(x) for n, x in order}  # source order
    bindings: dict = {}
    where: dict = {}
    fields = []
    for f in decl.fields:
        x, v = given[f.name], values[f.name]
        if isinstance(v, StructV):
            t = v.type
        else:
            a = fc.rv(v, x.span)
            dt = fc.coerce_dtype(a, f.type.dtype, x.span) if a.weak and f.type.dtype else a.type.dtype
            t = TensorT(dt, a.type.shape)
        t = fc.c.bind_type(f.type, t, bindings, x.span, where, "", name,
                           Note(f.span, f"'{f.name}' is declared here"), (f.name,))
        fields.append((f.name, t))
    v = StructV(StructT(name, tuple(fields)))
    fc.rec(e, v, struct_ctor=order)
    return v


def field_access(fc, e: A.Attribute, base: StructV):
    t = base.type.field(e.attr)
    if t is None:
        names = [n for n, _ in base.type.fields]
        raise err(f"struct '{base.type.name}' has no field '{e.attr}'{did_you_mean(e.attr, names)} "
                  f"(fields: {', '.join(names)})", e.span)
    v = StructV(t) if isinstance(t, StructT) else RV(t)
    fc.rec(e, v, field=e.attr)
    return v


def _leaf_rules(op: str, s: StructT, span: Span) -> None:
    for path, lt in s.leaves():
        if lt.dtype == "bool":
            raise err(f"arithmetic '{op}' on struct '{s.name}': its field '{path}' is bool", span)
        if op == "/" and lt.dtype in INTS:
            raise err(f"'/' is true division and needs floats, but field '{path}' of '{s.name}' is {lt}: "
                      "use '//' for integer division", span)


def leafwise_binop(fc, e: A.BinOp, a, b) -> StructV:
    """`p - lr * g`: two structs of one type, or a struct and a scalar (either side), leaf by leaf."""
    if e.op not in ARITH_OPS:
        raise err(f"'{e.op}' does not apply to structs: only arithmetic (+ - * / // % **) and unary '-' "
                  "work on structs, leaf by leaf", e.span)
    s = a if isinstance(a, StructV) else b
    if isinstance(a, StructV) and isinstance(b, StructV):
        if a.type != b.type:
            ta, tb = two_types(a.type, b.type)
            raise err(f"leafwise '{e.op}' needs two structs of the same type, got {ta} and {tb}", e.span)
    else:
        o_expr = e.rhs if s is a else e.lhs
        o = fc.rv(b if s is a else a, o_expr.span)
        if not o.type.is_scalar:
            raise err(f"a struct combines leaf by leaf with a scalar or a struct of the same type, "
                      f"not with a {o.type} value", o_expr.span)
        for path, lt in s.type.leaves():
            if o.weak:
                try:
                    fc.coerce_dtype(o, lt.dtype, o_expr.span)
                except LoomTypeError as ex:
                    raise err(f"{ex.message} (field '{path}' of '{s.type.name}' is {lt})", o_expr.span) from None
            elif o.type.dtype != lt.dtype:
                raise err(f"mismatched element types: field '{path}' of '{s.type.name}' is {lt}, but the scalar "
                          f"is {o.type}; convert it explicitly", o_expr.span)
    _leaf_rules(e.op, s.type, e.span)
    v = StructV(s.type)
    fc.rec(e, v, leafwise=True)
    return v


def leafwise_unary(fc, e: A.UnaryOp, a: StructV) -> StructV:
    if e.op == "not":
        raise err(f"'not' needs a bool operand, got the struct {a.type.name}", e.span)
    _leaf_rules(e.op, a.type, e.span)
    v = StructV(a.type)
    fc.rec(e, v, leafwise=True)
    return v


def bind_field(fc, t: A.Target, v) -> None:
    """`p.w = x` / `p.layer.w = x` / `p.w[i] = x`: rebind `p` to a copy with that field replaced."""
    base = fc.lookup(t.name, t.span)
    if not isinstance(base, StructV):
        raise err(f"'{t.name}' is not a struct, so '{t.name}.{t.fields[0]}' cannot be assigned", t.span)
    ft = base.type
    for i, n in enumerate(t.fields):
        if not isinstance(ft, StructT):
            raise err(f"'{'.'.join([t.name] + t.fields[:i])}' is not a struct and has no field '{n}'", t.span)
        sub = ft.field(n)
        if sub is None:
            names = [x for x, _ in ft.fields]
            raise err(f"struct '{ft.name}' has no field '{n}'{did_you_mean(n, names)}", t.span)
        ft = sub
    label = ".".join([t.name] + t.fields)
    extra: dict = {}
    if t.indices is not None:
        if not isinstance(ft, TensorT) or ft.is_scalar:
            raise err(f"'{label}' is not a tensor and cannot be updated by index", t.span)
        extra = indexed_update(fc, RV(ft), label, t, v)
    elif isinstance(ft, StructT):
        if not isinstance(v, StructV) or v.type != ft:
            got = type_str(v.type) if isinstance(v, (RV, StructV)) else "a non-value"
            raise err(f"cannot assign a value of type {got} to '{label}' of type {type_str(ft)}", t.span)
    else:
        val = fc.rv(v, t.span)
        dt = fc.coerce_dtype(val, ft.dtype, t.span) if val.weak else val.type.dtype
        if dt != ft.dtype or val.type.shape != ft.shape:
            raise err(f"cannot assign a value of type {val.type} to '{label}' of type {ft} (a field keeps its type)",
                      t.span)
    new = StructV(base.type)
    fc.env[t.name] = new
    fc.rec(t, new, **extra)


def merge_structs(a, b, span: Span, what: str, wa: str, wb: str) -> StructV:
    if not (isinstance(a, StructV) and isinstance(b, StructV)) or a.type != b.type:
        ta, tb = two_types(a.type, b.type)
        raise err(f"{what} has type {ta} {wa} and {tb} {wb}", span)
    return StructV(a.type)
