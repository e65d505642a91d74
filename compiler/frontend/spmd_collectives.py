"""The collectives of LANGUAGE.md §9.3 in the checker, and the replication proof of `@spmd` results.

`check_collective(fc, e, name)` checks one call (`all_reduce`, `all_gather`, `reduce_scatter`,
`all_to_all`, `broadcast`, `shift`, `axis_index`, `axis_size`) inside an `@spmd` body and records
what IR generation needs (`collective`: the kind, the mesh axes, the static arguments).

`check_replicated(fc, body, returns)` proves, like shard_map's replication check, that every result
is the same on the devices along each mesh axis its declared type does not split it over. It
tracks, per value, the axes along which it may differ between devices ("varies over"): a parameter
varies over the axes splitting it; `axis_index(ax)`, `shift`, `reduce_scatter` and `all_to_all`
make a value vary over their axes; `all_reduce`, `all_gather` and `broadcast` make it the same
along theirs; any other operation varies over what its operands vary over; a value computed under
an `if` or in a loop whose condition varies, varies over that too.
"""

from __future__ import annotations

from compiler.diagnostics import Note
from compiler.frontend import ast as A
from compiler.frontend.builtins import bind_args
from compiler.frontend.check_common import err
from compiler.frontend.spmd import check_divides, join_dim, split_dim
from compiler.frontend.types import INTS, RV, StructT, StructV, TensorT

PARAMS = {
    "all_reduce": ("x", "over", "op?"),
    "all_gather": ("x", "over", "axis"),
    "reduce_scatter": ("x", "over", "axis"),
    "all_to_all": ("x", "over", "split", "concat"),
    "broadcast": ("x", "over", "root"),
    "shift": ("x", "over", "offset"),
    "axis_index": ("axis",),
    "axis_size": ("axis",),
}
COLLECTIVES = tuple(PARAMS)
ONE_AXIS = ("broadcast", "shift", "axis_index", "axis_size")
LEAFWISE = ("all_reduce", "broadcast", "shift")  # may take a struct: applied to every leaf
REDUCTIONS = ("sum", "max", "min")


def _axes(fc, mesh, node: A.Expr, name: str) -> list[str]:
    elts = node.elts if isinstance(node, A.TupleExpr) else [node]
    if isinstance(node, A.TupleExpr) and name in ONE_AXIS:
        raise err(f"{name}() works over one mesh axis, not a tuple of axes", node.span)
    out: list[str] = []
    for x in elts:
        if not isinstance(x, A.Name):
            raise err(f"{name}() needs a mesh axis name here (one of {', '.join(a for a, _ in mesh.axes)})", x.span)
        if not mesh.has(x.id):
            raise err(f"unknown mesh axis '{x.id}' (mesh '{mesh.name}' has axes {', '.join(a for a, _ in mesh.axes)})",
                      x.span)
        if x.id in out:
            raise err(f"mesh axis '{x.id}' is named twice", x.span)
        out.append(x.id)
    return out


def _int(fc, node: A.Expr, what: str) -> int:
    v = fc.rv(fc.expr(node), node.span)
    if v.type.dtype not in INTS or not v.type.is_scalar or not isinstance(v.const, int) or isinstance(v.const, bool):
        raise err(f"{what} must be an integer constant", node.span)
    return v.const


def _tensor_axis(fc, node: A.Expr, t: TensorT, name: str, what: str) -> int:
    k = _int(fc, node, f"{name}(): '{what}'")
    if not -t.rank <= k < t.rank:
        raise err(f"{name}(): {what}={k} is out of range for a value of rank {t.rank} ({t})", node.span)
    return k % t.rank


def _leaf_types(v) -> list[TensorT]:
    return [lt for _, lt in v.type.leaves()] if isinstance(v, StructV) else [v.type]


def check_collective(fc, e: A.Call, name: str):
    sig = fc.inst.spmd
    if sig is None:
        raise err(f"{name}() is a collective: it can only be used inside an @spmd function", e.span)
    mesh = sig.mesh
    a = bind_args(e, name, PARAMS[name])
    if name in ("axis_index", "axis_size"):
        (axis,) = _axes(fc, mesh, a["axis"], name)
        v = RV(TensorT("i64")) if name == "axis_index" else RV(TensorT("i64"), weak=True, const=mesh.size(axis))
        fc.rec(e, v, collective={"kind": name, "over": [axis], "grid": mesh.name, "axes": [mesh.index(axis)]})
        return v
    over = _axes(fc, mesh, a["over"], name)
    n = mesh.devices(over)
    x = fc.rvs(fc.expr(a["x"]), a["x"].span)
    if isinstance(x, StructV) and name not in LEAFWISE:
        raise err(f"{name}() of a struct ({x.type.name}): apply it to each field", a["x"].span)
    for lt in _leaf_types(x):
        if lt.dtype == "bool":
            raise err(f"{name}() carries numbers, not bool values (convert with i32(…))", a["x"].span)
        if not lt.ranked:
            raise err(f"{name}() needs a value of known rank, got {lt}", a["x"].span)
    facts = {"kind": name, "over": over, "grid": mesh.name, "axes": [mesh.index(x) for x in over]}
    t = x.type
    if name == "all_reduce":
        op = a["op"]
        if op is not None and not (isinstance(op, A.Name) and op.id in REDUCTIONS):
            raise err("all_reduce(): op= must be sum, max or min", op.span)
        facts["op"] = op.id if op is not None else "sum"
    elif name in ("broadcast", "shift"):
        key = "root" if name == "broadcast" else "offset"
        facts[key] = _int(fc, a[key], f"{name}(): '{key}'")
        if name == "broadcast" and not 0 <= facts["root"] < n:
            raise err(f"broadcast(): root={facts['root']} is not a position on mesh axis '{over[0]}' of size {n}",
                      a["root"].span)
    else:
        if t.rank == 0:
            raise err(f"{name}() needs a tensor of rank >= 1, got the scalar type {t}", a["x"].span)
        shape = list(t.shape)
        if name == "all_gather":
            k = facts["axis"] = _tensor_axis(fc, a["axis"], t, name, "axis")
            shape[k] = join_dim(shape[k], n)
        else:
            key = "axis" if name == "reduce_scatter" else "split"
            k = facts["split"] = _tensor_axis(fc, a[key], t, name, key)
            if isinstance(shape[k], int):
                try:
                    check_divides(mesh, shape[k], over, a[key].span)
                except Exception as ex:
                    ex.message = f"{name}() cannot split dimension {k} of {t}: {ex.message}"
                    raise
            shape[k] = split_dim(shape[k], n)
            if name == "all_to_all":
                j = facts["concat"] = _tensor_axis(fc, a["concat"], t, name, "concat")
                shape[j] = join_dim(shape[j], n)
        t = TensorT(t.dtype, tuple(shape))
    v = x if isinstance(x, StructV) else RV(t)
    fc.rec(e, v, collective=facts)
    return StructV(x.type) if isinstance(x, StructV) else v


# ------------------------------------------------------------------ replication
class _Varying:
    """The mesh axes each name's value may vary over, along one function body."""

    def __init__(self, fc, sig):
        self.fc, self.sig = fc, sig
        self.env: dict[str, frozenset] = {}
        self.assigned: set[str] = set()  # names assigned since the enclosing branch or loop began
        self.returns: list[tuple[A.Return, frozenset]] = []

    def expr(self, e) -> frozenset:
        if isinstance(e, A.Name):
            return _union(self.env.get(e.id, frozenset()))
        path = _field_path(e)
        if path is not None and isinstance(self.env.get(path[0]), dict):  # a field of a struct parameter
            prefix = ".".join(path[1:])
            return _union({k: v for k, v in self.env[path[0]].items() if k == prefix or k.startswith(prefix + ".")})
        if isinstance(e, A.Attribute) and e.attr == "shape":
            return frozenset()  # every device's block has the same shape
        info = self.fc.inst.info.get(id(e))
        facts = info.extra.get("collective") if info is not None else None
        if facts is not None:
            over = frozenset(facts["over"])
            if facts["kind"] == "axis_index":
                return over
            if facts["kind"] == "axis_size":
                return frozenset()
            x = self.expr(e.args[0] if e.args else next(k.value for k in e.kwargs if k.name == "x"))
            if facts["kind"] in ("all_reduce", "all_gather", "broadcast"):
                return x - over
            return x | over
        out = frozenset()
        for v in vars(e).values():
            for x in v if isinstance(v, list) else [v]:
                if isinstance(x, A.Keyword):
                    x = x.value
                if isinstance(x, (A.Expr, A.Slice)):
                    out |= self.expr(x)
        return out

    def block(self, stmts: list[A.Stmt], ctx: frozenset) -> None:
        for s in stmts:
            self.stmt(s, ctx)

    def stmt(self, s: A.Stmt, ctx: frozenset) -> None:
        if isinstance(s, A.Assign):
            v = self.expr(s.value) | ctx
            for t in s.targets:
                extra = frozenset()
                if t.indices is not None or t.fields is not None:
                    extra = _union(self.env.get(t.name, frozenset()))
                    for i in t.indices or []:
                        extra |= self.expr(i)
                self.env[t.name] = v | extra
                self.assigned.add(t.name)
        elif isinstance(s, A.Return):
            self.returns.append((s, ctx))
        elif isinstance(s, A.If):
            c = ctx | self.expr(s.cond)
            outer, self.assigned = self.assigned, set()
            before = dict(self.env)
            self.block(s.body, c)
            after_body, self.env = self.env, dict(before)
            self.block(s.orelse, c)
            for k in self.assigned:  # assigned on one path at least: the path taken may vary
                self.env[k] = _union(after_body.get(k, frozenset())) | _union(self.env.get(k, frozenset())) | c
            self.assigned |= outer
        elif isinstance(s, (A.For, A.While)):
            outer, self.assigned = self.assigned, set()
            for _ in range(len(self.env) + 3):  # a fixed point: each round can only add axes
                before = dict(self.env)
                c = ctx | (self.expr(s.cond) if isinstance(s, A.While) else frozenset())
                if isinstance(s, A.For):
                    c |= frozenset().union(*(self.expr(x) for x in s.range_args))
                    self.env[s.var] = c
                self.block(s.body, c)
                for k in self.assigned:  # the trip count may vary: so may what the body assigns
                    self.env[k] = _union(self.env[k]) | _union(before.get(k, frozenset())) | c
                if self.env == before:
                    break
            self.assigned |= outer
        elif isinstance(s, A.ExprStmt):
            pass
        else:  # `with` (pipeline stages) is rejected before this runs
            for sub in (getattr(s, "body", None) or []):
                self.stmt(sub, ctx)


def _union(v) -> frozenset:
    """A name's axes: a set, or for a struct parameter a set per leaf path."""
    return frozenset().union(*v.values()) if isinstance(v, dict) else v


def _field_path(e) -> list[str] | None:
    """`p.a.b` as ["p", "a", "b"] (None for anything else)."""
    names = []
    while isinstance(e, A.Attribute):
        names.append(e.attr)
        e = e.value
    return [e.id] + names[::-1] if isinstance(e, A.Name) and names else None


def _split_axes(shardings) -> frozenset:
    return frozenset(a for sh in shardings if sh for axes in sh for a in axes)


def check_replicated(fc, f: A.FuncDef) -> None:
    """Every result is the same on all devices along the mesh axes its type does not split it over."""
    sig = fc.inst.spmd
    w = _Varying(fc, sig)
    shs = list(sig.param_shardings)
    for p, t in zip(f.params, sig.body.param_types):
        if isinstance(t, StructT):
            leaves = t.leaves()
            w.env[p.name] = {path: _split_axes([sh]) for (path, _), sh in zip(leaves, shs)}
            shs = shs[len(leaves):]
        else:
            w.env[p.name] = _split_axes(shs[:1])
            shs = shs[1:]
    w.block(f.body, frozenset())
    results, res_shs = [], list(sig.result_shardings)
    for t in fc.inst.result_types:
        k = len(t.leaves()) if isinstance(t, StructT) else 1
        results.append(_split_axes(res_shs[:k]))
        res_shs = res_shs[k:]
    for ret, ctx in w.returns:
        values = ret.values if len(ret.values) == len(results) else [ret] * len(results)
        for k, (allowed, e) in enumerate(zip(results, values)):
            vary = (w.expr(e) if isinstance(e, A.Expr) else frozenset().union(*map(w.expr, ret.values))) | ctx
            bad = sorted(vary - allowed, key=sig.mesh.index)
            if bad:
                ax = bad[0]
                which = f"result {k + 1} of '{f.name}'" if len(results) > 1 else f"the result of '{f.name}'"
                raise err(f"{which} is declared replicated over mesh axis '{ax}', but it may differ between the "
                          f"devices along '{ax}'", e.span,
                          Note(f.returns[k].span, f"make it the same on every device (all_reduce(…, over={ax}), "
                                                  f"all_gather or broadcast), or split a dimension over it (d@{ax})"))
