"""Checking indexing and slicing (LANGUAGE.md §5): `x[i, a:b, i:i+K]` reads and `x[...] = v`
updates. `index_spec` describes the indexed part for IR generation: one (kind, start, size,
step) entry per axis (`dialects/loom_indexing.py` KIND_*), the dynamic index expressions, and the part's shape."""

from __future__ import annotations

from compiler.diagnostics import Span
from compiler.frontend import ast as A
from compiler.frontend.check_common import broadcast, err, same_expr
from compiler.frontend.types import INTS, RV, CValue, Dim, TensorT, TupleV, fmt_shape
from dialects.loom_indexing import KIND_DYN_INDEX, KIND_INDEX, KIND_RANGE, KIND_WINDOW, NONE


def indexed_update(fc, base: RV, label: str, t: A.Target, v: CValue) -> dict:
    """Check `label[indices] = v` for a tensor `base`; what irgen needs to emit the update."""
    val = fc.rv(v, t.span)
    spec, dyn, shape = index_spec(fc, base, t.indices, t.span)
    dtype = fc.coerce_dtype(val, base.type.dtype, t.span) if val.weak else val.type.dtype
    if dtype != base.type.dtype:
        raise err(f"cannot store a {dtype} value into '{label}' of type {base.type}", t.span)
    if broadcast(val.type.shape, shape, t.span, "the value and the indexed part") != shape:
        raise err(f"a value of shape {fmt_shape(val.type.shape)} does not fit the indexed part of shape "
                  f"{fmt_shape(shape)}", t.span)
    return dict(spec=spec, dyn=dyn, part=TensorT(base.type.dtype, shape))


def static_int(fc, e: A.Expr | None, what: str) -> int | str | None:
    if e is None:
        return None
    v = fc.rv(fc.expr(e), e.span)
    if v.type.dtype not in INTS or not v.type.is_scalar:
        raise err(f"{what} must be an integer, got {v.type}", e.span)
    if v.const is None:
        return None
    return v.const


def index_spec(fc, base: RV, indices: list, span: Span):
    t = base.type
    if not t.ranked:
        raise err("cannot index a rank-polymorphic value", span)
    if t.is_scalar:
        raise err("cannot index a scalar", span)
    if len(indices) > t.rank:
        raise err(f"too many indices: a value of type {t} has rank {t.rank}, but {len(indices)} were given", span)
    spec, dyn, shape = [], [], []
    for axis, d in enumerate(t.shape):
        idx = indices[axis] if axis < len(indices) else None
        if idx is None:
            spec.append((KIND_RANGE, NONE, NONE, NONE))
            shape.append(d)
        elif isinstance(idx, A.Slice):
            slice_part(fc, idx, axis, d, spec, dyn, shape)
        else:
            v = fc.rv(fc.expr(idx), idx.span)
            if v.type.dtype not in INTS:
                raise err(f"an index must be an integer, got {v.type}", idx.span)
            if not v.type.is_scalar:
                raise err(f"indexing with a tensor ({v.type}) is not supported; use an integer or a slice", idx.span)
            k = v.const
            if isinstance(k, int) and not isinstance(k, bool):
                if isinstance(d, int):
                    if not -d <= k < d:
                        raise err(f"index {k} is out of range for axis {axis} of size {d}", idx.span)
                    k = k + d if k < 0 else k
                spec.append((KIND_INDEX, k, 0, 1))
            else:
                spec.append((KIND_DYN_INDEX, 0, 0, 1))
                dyn.append(idx)
    return spec, dyn, tuple(shape)


def slice_part(fc, s: A.Slice, axis: int, d: Dim, spec: list, dyn: list, shape: list) -> None:
    lo_v = fc.rv(fc.expr(s.lo), s.lo.span) if s.lo is not None else None
    if lo_v is not None and lo_v.type.dtype not in INTS:
        raise err(f"a slice bound must be an integer, got {lo_v.type}", s.lo.span)
    if lo_v is not None and (lo_v.const is None or isinstance(lo_v.const, str)) and lo_v.const != d:
        # a dynamic start: only `i:i+K` (static K) is allowed
        hi = s.hi
        ok = isinstance(hi, A.BinOp) and hi.op == "+" and same_expr(hi.lhs, s.lo)
        size = static_int(fc, hi.rhs, "a window size") if ok else None
        if not ok or not isinstance(size, int) or size <= 0:
            raise err("a slice with a dynamic start must have the form `i:i+K` with a static size K > 0",
                      s.hi.span if s.hi is not None else s.span)
        if s.step is not None and static_int(fc, s.step, "a slice step") != 1:
            raise err("a dynamic slice `i:i+K` cannot have a step", s.step.span)
        if isinstance(d, int) and size > d:
            raise err(f"a window of size {size} does not fit in axis {axis} of size {d}", s.span)
        if lo_v.type.is_scalar is False:
            raise err("a slice start must be a scalar", s.lo.span)
        fc.expr(hi)
        spec.append((KIND_WINDOW, 0, size, 1))
        dyn.append(s.lo)
        shape.append(size)
        return
    parts = []
    for e, what in ((s.lo, "a slice start"), (s.hi, "a slice stop"), (s.step, "a slice step")):
        c = static_int(fc, e, what)
        if e is not None and c is None:
            raise err(f"{what} must be static (a constant), or the slice must have the form `i:i+K`", e.span)
        parts.append(c)
    lo, hi, step = parts
    if step == 0:
        raise err("a slice step cannot be zero", s.step.span)
    full = lo in (None, 0) and hi in (None, d) and step in (None, 1)
    if isinstance(lo, str) or isinstance(hi, str) or isinstance(step, str) or (isinstance(d, str) and not full):
        if not full:
            raise err(f"only the full range of a symbolic dimension ({d}) can be sliced; shapes must stay "
                      "static or symbolic", s.span)
        lo, hi, step = None, None, None
    if isinstance(d, int):
        n = len(range(*slice(lo, hi, step).indices(d)))
    else:
        n = d
    spec.append((KIND_RANGE, NONE if lo is None else lo, NONE if hi is None else hi, NONE if step is None else step))
    shape.append(n)


def subscript(fc, e: A.Subscript) -> CValue:
    base = fc.expr(e.value)
    if isinstance(base, TupleV):
        if len(e.indices) != 1 or isinstance(e.indices[0], A.Slice):
            raise err("a tuple is indexed by one integer constant", e.span)
        k = static_int(fc, e.indices[0], "a tuple index")
        if not isinstance(k, int) or isinstance(k, bool):
            raise err("a tuple index must be an integer constant", e.indices[0].span)
        if not -len(base.elts) <= k < len(base.elts):
            raise err(f"tuple index {k} out of range for a tuple of {len(base.elts)}", e.indices[0].span)
        v = base.elts[k]
        fc.rec(e, v, tuple_index=k % len(base.elts))
        return v
    base = fc.rv(base, e.value.span)
    spec, dyn, shape = index_spec(fc, base, e.indices, e.span)
    v = RV(TensorT(base.type.dtype, shape))
    fc.rec(e, v, spec=spec, dyn=dyn)
    return v
