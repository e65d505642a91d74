"""Global-view functions (LANGUAGE.md §9.2): the checker's side (their IR: global_view_emit.py).

A function without `@spmd` whose parameter or result types name mesh axes (`x: f32[B@dp, D]`), or
that calls `reshard`, is *global-view*: it computes what it computes without the annotations, and
the compiler may partition it. Its IR states the user's requests as `spmd.sharding_constraint`
ops (dialects/shard_ext.py), which `sharding-propagation` spreads to every value:

    func.func @f(%x: tensor<8x4xf32>) -> tensor<8x4xf32> {
      %0 = spmd.sharding_constraint %x <@M, [[0], []]> {kind = "param"} : tensor<8x4xf32>     // x: f32[8@dp, 4]
      ...
      %5 = spmd.sharding_constraint %4 <@M, [[], [0]]> {kind = "reshard"} : tensor<8x4xf32>   // reshard(y, (_, dp))
      ...
      %9 = spmd.sharding_constraint %8 <@M, [[], []]> {kind = "result"} : tensor<8x4xf32>     // -> f32[8, 4]
      func.return %9 : tensor<8x4xf32>
    }

- every tensor leaf of a parameter gets a "param" constraint at the entry (at its type annotation),
  every tensor leaf of a result a "result" one before the return (at the declared result type, or
  at the `return` when the result type is inferred); a leaf without `@` is replicated, as `jax.jit`
  assumes; scalars are always replicated and get none;
- each `reshard(x, (dp, _))` is a "reshard" constraint at the call.
A size that does not divide is an error at the annotation (static size), at the call that binds
it (symbolic size), or at the `reshard` (§9.1).
"""

from __future__ import annotations

from dataclasses import dataclass

from compiler.diagnostics import Span
from compiler.frontend import ast as A
from compiler.frontend.check_common import Instance, err
from compiler.frontend.spmd import Mesh, Sharding, check_divides, shardings
from compiler.frontend.types import RV, RankVar, StructT, TensorT

RESHARD = "reshard"


@dataclass(eq=False)
class GlobalView:
    """A global-view instance's mesh and the sharding of each parameter and result leaf (None:
    a scalar), with the spans the constraints are located at."""

    mesh: Mesh
    param_shardings: list[Sharding | None]
    param_spans: list[Span]
    result_shardings: list[Sharding | None] | None  # None: results not declared (all replicated)
    result_spans: list[Span]
    annotated: bool  # its types name mesh axes (else it is global-view only if it calls reshard)


def _leaves(t) -> list[TensorT]:
    return [lt for _, lt in t.leaves()] if isinstance(t, StructT) else [t]


def prepare_global_view(checker, inst: Instance, span: Span) -> None:
    """For a function that is not `@spmd`, in a file with a mesh: its `GlobalView`. A symbolic size
    bound by this instance that an annotation splits must divide (the error is at `span`, the call)."""
    mesh = getattr(checker, "mesh", None)
    if mesh is None or inst.spmd is not None:
        return
    f = inst.fdef
    params, p_spans = [], []
    for p, t in zip(f.params, inst.param_types):
        shs = shardings(checker, p.type)
        for sh, leaf in zip(shs, _leaves(t)):
            _check_sizes(mesh, leaf, sh, span)
        params.extend(shs)
        p_spans.extend([p.type.span] * len(shs))
    results, r_spans = None, []
    if f.returns is not None:
        results = []
        for r in f.returns:
            shs = shardings(checker, r)
            results.extend(shs)
            r_spans.extend([r.span] * len(shs))
    annotated = any(sh and any(sh) for sh in params + (results or []))
    inst.global_view = GlobalView(mesh, params, p_spans, results, r_spans, annotated)


def check_result_sizes(inst: Instance) -> None:
    """After the body is checked: a result's size, known only now (`init(…, h: f32[H]) -> MLP` with
    a field `f32[D, H@tp]`), that its declared type splits must divide (the error is at the type)."""
    gv = getattr(inst, "global_view", None)
    if gv is None or gv.result_shardings is None or inst.result_types is None:
        return
    leaves = [leaf for t in inst.result_types for leaf in _leaves(t)]
    for leaf, sh, span in zip(leaves, gv.result_shardings, gv.result_spans):
        _check_sizes(gv.mesh, leaf, sh, span)


def _check_sizes(mesh: Mesh, t: TensorT, sh: Sharding | None, span: Span) -> None:
    if sh is None or isinstance(t.shape, RankVar):
        return
    for d, axes in zip(t.shape, sh):
        if axes and isinstance(d, int):
            check_divides(mesh, d, axes, span)


# ------------------------------------------------------------------ reshard(x, (dp, _))
def check_reshard(fc, e: A.Call) -> RV:
    """`reshard(x, (dp, _))`: `x` a tensor; one entry per dimension, `_` (replicated), a mesh axis,
    or a tuple of axes (the first major); each axis at most once; static sizes divide."""
    gv = fc.inst.global_view
    if fc.inst.spmd is not None:
        raise err("reshard() is for global-view functions; inside an @spmd body move data with collectives "
                  "(all_gather, all_to_all, …)", e.span)
    if gv is None:
        raise err("reshard() needs a mesh: declare one (mesh M = (dp=2))", e.span)
    if len(e.args) != 2 or e.kwargs:
        raise err("reshard() takes two arguments: reshard(x, (dp, _)), one entry per dimension of x", e.span)
    x = fc.rv(fc.expr(e.args[0]), e.args[0].span)
    if not x.type.ranked:
        raise err("reshard() needs a value of known rank, not a rank-polymorphic one", e.args[0].span)
    spec = e.args[1]
    entries = spec.elts if isinstance(spec, A.TupleExpr) else [spec]
    if x.type.rank == 0:
        raise err(f"reshard() of a scalar ({x.type}): a scalar is always replicated", e.args[0].span)
    if len(entries) != x.type.rank:
        raise err(f"reshard() needs one entry per dimension of the value: it has rank {x.type.rank} ({x.type}), "
                  f"got {len(entries)}", spec.span)
    used: dict[str, A.Expr] = {}
    sharding = []
    for d, entry in zip(x.type.shape, entries):
        axes = _entry_axes(gv.mesh, entry, used)
        if axes and isinstance(d, int):
            check_divides(gv.mesh, d, axes, entry.span)
        sharding.append(tuple(axes))
    v = RV(x.type)
    fc.rec(e, v, reshard=tuple(sharding))
    return v


def _entry_axes(mesh: Mesh, entry: A.Expr, used: dict) -> list[str]:
    names = entry.elts if isinstance(entry, A.TupleExpr) else [entry]
    axes = []
    for n in names:
        if not isinstance(n, A.Name):
            raise err("reshard() takes, per dimension, a mesh axis name, a tuple of them, or '_' (replicated)", n.span)
        if n.id == "_" and len(names) == 1:
            continue
        if not mesh.has(n.id):
            raise err(f"unknown mesh axis '{n.id}' (mesh '{mesh.name}' has axes "
                      f"{', '.join(a for a, _ in mesh.axes)}; '_' keeps a dimension whole)", n.span)
        if n.id in used:
            raise err(f"mesh axis '{n.id}' splits two dimensions in one reshard()", n.span)
        used[n.id] = n
        axes.append(n.id)
    return axes


def is_global_view(inst: Instance) -> bool:
    gv = inst.global_view
    return gv is not None and (gv.annotated or any("reshard" in i.extra for i in inst.info.values()))
