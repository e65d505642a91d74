"""Meshes, sharded types and `@spmd` functions (LANGUAGE.md §9.1, §9.3): the checker's side.

- `mesh M = (dp=2, tp=4)` declares the file's one mesh (`declare_mesh`).
- `d@ax` / `d@(a, b)` in a type splits dimension `d` evenly over the mesh axes (the first major);
  `validate_annotations` checks every annotation of the file once: known axes, no axis twice in a
  type, static sizes that divide (the error points at the annotation).
- `@spmd(M)` makes a function a per-device program. Its instance keeps the GLOBAL parameter and
  result types (what callers see); `prepare_instance` adds `inst.spmd`, an `SpmdSig` holding the
  per-device block types and a second `Instance` — the body as checked and emitted, whose
  parameters are the blocks (a symbolic size that does not divide is an error at the call).
- The collectives are checked in spmd_collectives.py, which also proves replicated results.

A global-view function may carry sharding annotations too: they are checked and, as §9.5 says
for one process, its meaning is that of the function without them.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from compiler.diagnostics import Note, Span
from compiler.frontend import ast as A
from compiler.frontend.check_common import Instance, err
from compiler.frontend.structs import unknown_type
from compiler.frontend.types import Dim, RankVar, StructT, TensorT

Sharding = tuple[tuple[str, ...], ...]  # per dimension, the mesh axes it is split over


@dataclass(frozen=True)
class Mesh:
    name: str
    axes: tuple[tuple[str, int], ...]
    span: Span

    def has(self, axis: str) -> bool:
        return any(a == axis for a, _ in self.axes)

    def index(self, axis: str) -> int:
        return [a for a, _ in self.axes].index(axis)

    def size(self, axis: str) -> int:
        return dict(self.axes)[axis]

    def devices(self, axes=None) -> int:
        n = 1
        for a, s in self.axes:
            if axes is None or a in axes:
                n *= s
        return n

    @property
    def shape(self) -> list[int]:
        return [s for _, s in self.axes]


@dataclass(eq=False)
class SpmdSig:
    """What an `@spmd` instance adds: its mesh, the sharding of each parameter and result leaf, and
    the body instance (block-typed parameters and results)."""

    mesh: Mesh
    param_shardings: list[Sharding | None] = field(default_factory=list)  # per leaf (None: scalar)
    result_shardings: list[Sharding | None] = field(default_factory=list)
    body: Instance | None = None


# ------------------------------------------------------------------ top level
def declare_mesh(checker, item: A.MeshDecl) -> None:
    if getattr(checker, "mesh", None) is not None:
        raise err("a file declares at most one mesh", item.span,
                  Note(checker.mesh.span, f"mesh '{checker.mesh.name}' is declared here"))
    seen: set[str] = set()
    for ax in item.axes:
        if ax.name in seen:
            raise err(f"mesh axis '{ax.name}' is declared twice", ax.span)
        if not isinstance(ax.size, int) or isinstance(ax.size, bool) or ax.size < 1:
            raise err(f"the size of mesh axis '{ax.name}' must be a positive integer, got {ax.size}", ax.span)
        seen.add(ax.name)
    checker.mesh = Mesh(item.name, tuple((a.name, a.size) for a in item.axes), item.span)


def spmd_decorator(checker, f: A.FuncDef, d: A.Decorator) -> None:
    """`@spmd(M)`: M must be the declared mesh; the function must declare its result types."""
    mesh = getattr(checker, "mesh", None)
    if d.kwargs or len(d.args) != 1 or not isinstance(d.args[0], A.Name):
        raise err("@spmd takes one argument, the mesh: @spmd(M)", d.span)
    name = d.args[0].id
    if mesh is None or mesh.name != name:
        known = f" (the mesh is '{mesh.name}')" if mesh else " (declare one: mesh M = (dp=2))"
        raise err(f"unknown mesh '{name}'{known}", d.args[0].span)
    if f.returns is None:
        raise err(f"@spmd function '{f.name}' must declare its result types (they say how results are assembled)",
                  f.name_span)
    checker.spmd_funcs[f.name] = mesh


def validate_annotations(checker) -> None:
    """Every `d@ax` of the file: a known axis of the declared mesh, used once per type; a static
    size that divides evenly."""
    for item in checker.module.items:
        types: list[A.TypeExpr] = []
        if isinstance(item, A.FuncDef):
            types = [p.type for p in item.params] + list(item.returns or [])
        elif isinstance(item, A.StructDecl):
            types = [fl.type for fl in item.fields]
        for t in types:
            _validate_type(checker, t)


def _validate_type(checker, t: A.TypeExpr) -> None:
    used: dict[str, A.DimExpr] = {}
    for d in t.dims or []:
        if not d.shard:
            continue
        mesh = getattr(checker, "mesh", None)
        if mesh is None:
            raise err(f"dimension '{d.value}' is split over '{d.shard[0]}' but the file declares no mesh "
                      "(mesh M = (…))", d.span)
        if d.kind == "ellipsis":
            raise err(f"a rank-polymorphic '...{d.value}' cannot be split over mesh axes", d.span)
        for a in d.shard:
            if not mesh.has(a):
                axes = ", ".join(n for n, _ in mesh.axes)
                raise err(f"unknown mesh axis '{a}' (mesh '{mesh.name}' has axes {axes})", d.span)
            if a in used:
                raise err(f"mesh axis '{a}' splits two dimensions of one type", d.span,
                          Note(used[a].span, f"'{a}' is used here first"))
            used[a] = d
        size = d.value if d.kind == "int" else checker.consts[d.value].const if d.value in checker.consts else None
        if isinstance(size, int):
            check_divides(mesh, size, d.shard, d.span)


def check_divides(mesh: Mesh, size: int, axes, span: Span) -> None:
    n = mesh.devices(axes)
    if size % n:
        over = " and ".join(f"'{a}' of size {mesh.size(a)}" for a in axes)
        raise err(f"size {size} does not split evenly over mesh axis {over}"
                  + (f" ({n} devices)" if len(axes) > 1 else ""), span)


# ------------------------------------------------------------------ shardings and block types
def shardings(checker, t: A.TypeExpr) -> list[Sharding | None]:
    """The sharding of each leaf of a declared type (a struct's fields depth-first)."""
    if t.struct is not None:
        if t.struct not in checker.structs:  # (a result type: checked after the global view)
            raise unknown_type(checker, t)
        out: list[Sharding | None] = []
        for fl in checker.structs[t.struct].fields:
            out.extend(shardings(checker, fl.type))
        return out
    if t.dims is None:
        return [None]
    return [tuple(tuple(d.shard or ()) for d in t.dims)]


def split_dim(d: Dim, n: int) -> Dim:
    if isinstance(d, int):
        return d // n
    return d[: -len(f"*{n}")] if d.endswith(f"*{n}") else f"{d}/{n}"


def join_dim(d: Dim, n: int) -> Dim:
    if isinstance(d, int):
        return d * n
    return d[: -len(f"/{n}")] if d.endswith(f"/{n}") else f"{d}*{n}"


def _leaf_block(mesh: Mesh, t: TensorT, sh: Sharding | None, span: Span | None, grow: bool) -> TensorT:
    if sh is None or not any(sh) or isinstance(t.shape, RankVar):
        return t
    dims = []
    for d, axes in zip(t.shape, sh):
        n = mesh.devices(axes) if axes else 1
        if not grow and axes and isinstance(d, int):
            check_divides(mesh, d, axes, span)
        dims.append(d if n == 1 else join_dim(d, n) if grow else split_dim(d, n))
    return TensorT(t.dtype, tuple(dims))


def retype(mesh: Mesh, t: TensorT | StructT, shs: list, span: Span | None, grow: bool = False):
    """The per-device block of global type `t` (or, `grow`, the global type of a block), given
    its leaves' shardings (consumed from the front of `shs`)."""
    if isinstance(t, StructT):
        return StructT(t.name, tuple((n, retype(mesh, ft, shs, span, grow)) for n, ft in t.fields))
    return _leaf_block(mesh, t, shs.pop(0), span, grow)


def prepare_instance(checker, inst: Instance, span: Span) -> None:
    """For an `@spmd` function's instance: its `SpmdSig` and block-typed body instance."""
    mesh = checker.spmd_funcs.get(inst.fdef.name)
    if mesh is None:
        return
    f = inst.fdef
    sig = SpmdSig(mesh)
    blocks = []
    for p, t in zip(f.params, inst.param_types):
        shs = shardings(checker, p.type)
        sig.param_shardings.extend(shs)
        blocks.append(retype(mesh, t, list(shs), span))
    for r in f.returns or []:
        sig.result_shardings.extend(shardings(checker, r))
    sig.body = Instance(f, blocks, dict(inst.bindings), info=inst.info)
    inst.spmd = sig


def result_blocks(checker, inst: Instance, declared: list) -> list:
    """The declared (global) result types of an `@spmd` instance as per-device blocks (a struct
    result's sizes must be bound by the parameters: it is not unified with the returned value)."""
    shs = list(inst.spmd.result_shardings)
    full = [checker.resolve_type(r, dict(inst.bindings), bind_fresh=False) if t is None else t
            for r, t in zip(inst.fdef.returns, declared)]
    return [retype(inst.spmd.mesh, t, shs, r.span) for r, t in zip(inst.fdef.returns, full)]


def global_results(inst: Instance, blocks: list) -> list:
    shs = list(inst.spmd.result_shardings)
    return [retype(inst.spmd.mesh, t, shs, None, grow=True) for t in blocks]


def check_call(fc, e: A.Call, callee: str) -> None:
    """An `@spmd` function takes global arrays: it cannot be called inside another's body."""
    if callee in fc.c.spmd_funcs and fc.inst.spmd is not None:
        raise err(f"'{callee}' is an @spmd function: it is called with global arrays, not inside an @spmd body",
                  e.span)
