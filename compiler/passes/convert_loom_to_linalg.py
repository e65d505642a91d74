"""`convert-loom-to-linalg`: the `loom` dialect → `linalg` + `tensor` + `arith`/`math` on tensors.

This is the interchange level: after it, the IR is upstream MLIR (control flow stays `scf`,
functions `func`; only `loom.print` remains of our dialect). Every tensor op becomes a
`linalg.generic` whose indexing maps say how it reads its operands:

- elementwise ops, `where`, casts: identity maps, with broadcasting as maps that drop or pin
  (`0`) dimensions, so a broadcast is never materialized; scalar operands are used in the body;
- reductions: `reduction` iterators with a `linalg.fill` of the identity as the init;
  `argmax`/`argmin` carry (value, index) pairs;
- matmul (1-D, 2-D, batched with broadcasting): a contraction generic, `(b…, m, n, k)`;
- transpose, broadcast_to, static slices: pure index maps; slices with run-time indices read
  the source with `tensor.extract` inside the body after a `cf.assert` bounds check;
- functional updates and concat: `tensor.insert_slice`/`tensor.insert`; reshape:
  `tensor.collapse_shape` + `tensor.expand_shape`; full: `linalg.fill`; random: the counter-based
  hash of `runtime/random.py` computed per element from `linalg.index`.

Run-time checks (`loom.assert`, dynamic indices, integer division by zero, float→int range)
become `cf.assert` with the op's source location. Shapes must be static (functions are
specialized before compilation); a `?` dimension is reported as a compiler error.

Example (`exp(x) * 2.0 + x` for `x: f32[N]`, `--shape N=4`):

    %0 = loom.exp %x : (tensor<4xf32>) -> tensor<4xf32>
    %1 = arith.constant 2.000000e+00 : f32
    %2 = loom.mul %0, %1 : (tensor<4xf32>, f32) -> tensor<4xf32>
    %3 = loom.add %2, %x : (tensor<4xf32>, tensor<4xf32>) -> tensor<4xf32>
becomes (one `linalg.generic` per op; `linalg-fuse-elementwise` merges them)
    %0 = tensor.empty() : tensor<4xf32>
    %1 = linalg.generic {indexing_maps = [affine_map<(d0) -> (d0)>, affine_map<(d0) -> (d0)>],
                         iterator_types = ["parallel"]} ins(%x : tensor<4xf32>) outs(%0 : tensor<4xf32>) {
    ^bb0(%2: f32, %3: f32):
      %4 = math.exp %2 : f32
      linalg.yield %4 : f32
    } -> tensor<4xf32>
    %5 = arith.constant 2.000000e+00 : f32
    %6 = tensor.empty() : tensor<4xf32>
    %7 = linalg.generic {…} ins(%1 : tensor<4xf32>) outs(%6 : tensor<4xf32>) {
    ^bb0(%8: f32, %9: f32):
      %10 = arith.mulf %8, %5 fastmath<contract> : f32
      linalg.yield %10 : f32
    } -> tensor<4xf32>
    …  (the same for loom.add: ins(%7, %x …))
"""

from __future__ import annotations

import math as pymath
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from xdsl.context import Context
from xdsl.dialects import arith, math, tensor
from xdsl.dialects.linalg import ops as linalg
from xdsl.dialects.builtin import (
    ArrayAttr,
    Float32Type,
    Float64Type,
    IntegerAttr,
    ModuleOp,
    TensorType,
    f64,
    i1,
    i64,
)
from xdsl.ir import Attribute, Operation, SSAValue
from xdsl.ir.affine import AffineExpr
from xdsl.passes import ModulePass
from xdsl.pattern_rewriter import (
    GreedyRewritePatternApplier,
    PatternRewriter,
    PatternRewriteWalker,
    RewritePattern,
)

from compiler.diagnostics import LoomError
from compiler.passes import loom_scalar as S
from compiler.passes.emitter import REASSOC, Emitter, is_bool_t, is_float_t
from dialects import ad, loom
from compiler.passes.linalg_build import (
    PAR, RED, amap, broadcast_map, elementwise, empty, extract_scalar, fill, generic, static_shape,
)
from dialects.loom_semantics import empty_axis_message
from runtime import random as rng

# ---------------------------------------------------------------- reductions
def reduce_identity(cls, t: Attribute):
    if cls in (loom.SumOp, loom.MeanOp):
        return 0
    if cls is loom.ProdOp:
        return 1
    if cls is loom.AnyOp:
        return False
    if cls is loom.AllOp:
        return True
    low = cls in (loom.MaxOp, loom.ArgmaxOp)
    if is_float_t(t):
        return -pymath.inf if low else pymath.inf
    if is_bool_t(t):
        return not low
    bits = t.width.data
    return -(2 ** (bits - 1)) if low else 2 ** (bits - 1) - 1


def _combine(cls, be: Emitter, acc: SSAValue, x: SSAValue) -> SSAValue:
    if cls in (loom.SumOp, loom.MeanOp):
        return be.add(arith.AddfOp(acc, x, REASSOC) if is_float_t(x.type) else arith.AddiOp(acc, x))
    if cls is loom.ProdOp:
        return be.add(arith.MulfOp(acc, x, REASSOC) if is_float_t(x.type) else arith.MuliOp(acc, x))
    if cls is loom.AnyOp:
        return be.add(arith.OrIOp(acc, x))
    if cls is loom.AllOp:
        return be.add(arith.AndIOp(acc, x))
    return (S._maximum if cls is loom.MaxOp else S._minimum)(be, acc, x)


def reduction(e: Emitter, op: loom.ReductionOp) -> SSAValue:
    cls = type(op)
    shape = static_shape(op, op.operand.type)
    x = op.operand
    if not shape:  # reducing a scalar over no axes
        if cls in (loom.ArgmaxOp, loom.ArgminOp):
            return e.const(0, i64)
        return S.convert(e, x, loom.element_type(op.result.type))
    axes, keep = op.axes_list(), op.keepdims is not None
    if cls in (loom.ArgmaxOp, loom.ArgminOp):
        return arg_reduction(e, op, shape, axes, keep)
    n = len(shape)
    if any(shape[a] == 0 for a in axes) and cls in (loom.MaxOp, loom.MinOp):
        e.check(e.const(False, i1), empty_axis_message(op))
    out_elem = loom.element_type(op.result.type)
    out_shape = [1 if i in axes else d for i, d in enumerate(shape) if keep or i not in axes]
    out_exprs = [AffineExpr.constant(0) if i in axes else i for i in range(n) if keep or i not in axes]
    acc_t = accumulator_type(cls, out_elem)
    init = fill(e, e.const(reduce_identity(cls, acc_t), acc_t), out_shape)

    def body(be, ins, outs):
        v = S.convert(be, ins[0], acc_t)
        return [_combine(cls, be, outs[0], v)]

    r = generic(e, [(x, amap(n, range(n)))], [(init, amap(n, out_exprs))],
                [RED if i in axes else PAR for i in range(n)], body)[0]
    count = pymath.prod(shape[a] for a in axes)

    def finish(be: Emitter, a: SSAValue) -> SSAValue:  # mean: divide; f32 sums: round once
        if cls is loom.MeanOp:
            a = be.add(arith.DivfOp(a, be.const(count, acc_t)))
        return S.convert(be, a, out_elem)

    if not out_shape:
        return finish(e, extract_scalar(e, r))
    if cls is loom.MeanOp or acc_t != out_elem:
        return elementwise(e, op, finish, [r])
    return r


def accumulator_type(cls, elem: Attribute) -> Attribute:
    """f32 sums and means accumulate in f64 and round once (docs/language.md §11): as accurate as
    the f64 sum for any length and axis, and the same value as the reference executor's. Other
    reductions accumulate in the result's type (a sum of bools counts in its integer type)."""
    return f64 if cls in (loom.SumOp, loom.MeanOp) and isinstance(elem, Float32Type) else elem


def arg_reduction(e: Emitter, op, shape, axes, keep) -> SSAValue:
    """Index of the first max/min: (value, index) accumulators; NaN counts as the extreme."""
    cls, n = type(op), len(shape)
    flat = len(axes) != 1 or n == 1
    red = list(range(n)) if flat else axes
    if any(shape[d] == 0 for d in red):
        e.check(e.const(False, i1), empty_axis_message(op))
    out_shape = [1 if i in red else d for i, d in enumerate(shape) if keep or i not in red]
    out_exprs = [AffineExpr.constant(0) if i in red else i for i in range(n) if keep or i not in red]
    elem = loom.element_type(op.operand.type)
    vinit = fill(e, e.const(reduce_identity(cls, elem), elem), out_shape)
    iinit = fill(e, e.const(0, i64), out_shape)
    pred = "gt" if cls is loom.ArgmaxOp else "lt"

    def body(be: Emitter, ins, outs):
        x, (best, idx) = ins[0], outs
        k = None
        for d in red:  # row-major position within the reduced dimensions
            i = be.add(linalg.IndexOp(d))
            k = i if k is None else be.add(arith.AddiOp(be.add(arith.MuliOp(k, be.index(shape[d]))), i))
        take = be.cmp(pred, x, best)
        if is_float_t(elem):
            x_nan, best_nan = be.cmp("ne", x, x), be.cmp("ne", best, best)
            take = be.add(arith.OrIOp(take, be.add(arith.AndIOp(x_nan, be.add(arith.XOrIOp(best_nan, be.const(True, i1)))))))
        return [be.select(take, x, best), be.select(take, S.from_index(be, k), idx)]

    outs = generic(e, [(op.operand, amap(n, range(n)))], [(vinit, amap(n, out_exprs)), (iinit, amap(n, out_exprs))],
                   [RED if i in red else PAR for i in range(n)], body)
    return outs[1] if out_shape else extract_scalar(e, outs[1])


# ---------------------------------------------------------------- contraction and shapes
def matmul(e: Emitter, op: loom.MatmulOp) -> SSAValue:
    a, b = static_shape(op, op.lhs.type), static_shape(op, op.rhs.type)
    out = static_shape(op, op.result.type) if not loom.is_scalar_type(op.result.type) else ()
    has_m, has_n = len(a) >= 2, len(b) >= 2
    nb = len(out) - has_m - has_n
    dims = nb + has_m + has_n + 1
    k = dims - 1
    batch_out = out[:nb]

    def side(shape, own):  # batch dims broadcast, then the operand's own dims
        bshape = shape[:-2] if len(shape) >= 2 else ()
        bm = broadcast_map(batch_out, bshape).data.results
        return list(bm) + own

    m_dim, n_dim = nb, nb + has_m
    lhs_map = amap(dims, side(a, ([m_dim] if has_m else []) + [k]))
    rhs_map = amap(dims, side(b, [k] + ([n_dim] if has_n else [])))
    out_map = amap(dims, list(range(nb + has_m + has_n)))
    elem = loom.element_type(op.result.type)
    init = fill(e, e.const(0, elem), out)

    def body(be, ins, outs):
        x, y = ins
        if is_float_t(elem):
            return [be.add(arith.AddfOp(outs[0], be.add(arith.MulfOp(x, y, REASSOC)), REASSOC))]
        if is_bool_t(elem):
            return [be.add(arith.OrIOp(outs[0], be.add(arith.AndIOp(x, y))))]
        return [be.add(arith.AddiOp(outs[0], be.add(arith.MuliOp(x, y))))]

    r = generic(e, [(op.lhs, lhs_map), (op.rhs, rhs_map)], [(init, out_map)], [PAR] * (dims - 1) + [RED], body)[0]
    return r if out else extract_scalar(e, r)


def transpose(e: Emitter, op: loom.TransposeOp) -> SSAValue:
    shape = static_shape(op, op.result.type)
    perm = op.perm()
    inv = [perm.index(j) for j in range(len(perm))]
    init = empty(e, shape, loom.element_type(op.result.type))
    n = len(shape)
    return generic(e, [(op.operand, amap(n, inv))], [(init, amap(n, range(n)))], [PAR] * n,
                   lambda be, ins, outs: [ins[0]])[0]


def broadcast_to(e: Emitter, op) -> SSAValue:
    shape = static_shape(op, op.result.type)
    if loom.is_scalar_type(op.operand.type):
        return fill(e, op.operand, shape)
    return elementwise(e, op, lambda be, x: x, [op.operand])


def reassociation(rank: int) -> ArrayAttr:
    return ArrayAttr([ArrayAttr([IntegerAttr(i, i64) for i in range(rank)])])


def reshape(e: Emitter, op: loom.ReshapeOp) -> SSAValue:
    src, t = op.operand, op.result.type
    if loom.is_scalar_type(src.type):
        return fill(e, src, static_shape(op, t))
    shape = static_shape(op, src.type)
    if loom.is_scalar_type(t):
        return e.add(tensor.ExtractOp(src, [e.index(0)] * len(shape), t))
    out = static_shape(op, t)
    size = pymath.prod(shape)
    elem = loom.element_type(t)
    flat = src
    if len(shape) != 1:
        flat = e.add(tensor.CollapseShapeOp(operands=[src], result_types=[TensorType(elem, [size])],
                                            properties={"reassociation": reassociation(len(shape))}))
    if len(out) == 1:
        return flat
    return e.add(tensor.ExpandShapeOp(flat, [], reassociation(len(out)), list(out), TensorType(elem, list(out))))


def concat(e: Emitter, op: loom.ConcatOp) -> SSAValue:
    shape = static_shape(op, op.result.type)
    axis = op.axis_value()
    acc = empty(e, shape, loom.element_type(op.result.type))
    offset = 0
    for v in op.inputs:
        s = static_shape(op, v.type)
        offsets = [offset if i == axis else 0 for i in range(len(shape))]
        acc = e.add(tensor.InsertSliceOp.get(v, acc, list(s), offsets, [1] * len(shape)))
        offset += s[axis]
    return acc


# ---------------------------------------------------------------- indexing
def _dynamic_index(e: Emitter, op, i: SSAValue, n: int, axis: int, window: int | None) -> SSAValue:
    """Check a run-time index (or window start) against the dimension; the index as `index`."""
    i = S.convert(e, i, i64)
    if window is not None:
        ok = e.add(arith.AndIOp(e.cmp("ge", i, e.const(0, i64)), e.cmp("le", i, e.const(n - window, i64))))
        end = e.add(arith.AddiOp(i, e.const(window, i64)))
        e.check(ok, f"slice [{{}}:{{}}] is out of range for axis {axis} of size {n}", [i, end])
        return S.to_index(e, i)
    ok = e.add(arith.AndIOp(e.cmp("ge", i, e.const(-n, i64)), e.cmp("lt", i, e.const(n, i64))))
    e.check(ok, f"index {{}} is out of range for axis {axis} of size {n}", [i])
    wrapped = e.select(e.cmp("lt", i, e.const(0, i64)), e.add(arith.AddiOp(i, e.const(n, i64))), i)
    return S.to_index(e, wrapped)


def index_plan(e: Emitter, op, shape, dyn: Sequence[SSAValue]):
    """Per source dim: ('range', start, step, count) | ('window', idx, size) | ('index', k | idx)."""
    plan, dyn = [], list(dyn)
    for axis, (kind, start, stop, step) in enumerate(op.spec()):
        n = shape[axis]
        if kind == loom.KIND_RANGE:
            sl = slice(*(None if v == loom.NONE else int(v) for v in (start, stop, step)))
            r = range(*sl.indices(n))
            plan.append(("range", r.start, r.step, len(r)))
        elif kind == loom.KIND_WINDOW:
            plan.append(("window", _dynamic_index(e, op, dyn.pop(0), n, axis, int(stop)), int(stop)))
        elif kind == loom.KIND_INDEX:
            k = int(start) + (n if start < 0 else 0)
            if not 0 <= k < n:
                e.check(e.const(False, i1), f"index {start} is out of range for axis {axis} of size {n}")
                k = 0
            plan.append(("index", k))
        else:
            plan.append(("index", _dynamic_index(e, op, dyn.pop(0), n, axis, None)))
    return plan


def slice_(e: Emitter, op: loom.SliceOp) -> SSAValue:
    shape = static_shape(op, op.source.type)
    plan = index_plan(e, op, shape, op.indices)
    elem = loom.element_type(op.result.type)
    if loom.is_scalar_type(op.result.type):
        idx = [p[1] if isinstance(p[1], SSAValue) else e.index(p[1]) for p in plan]
        return e.add(tensor.ExtractOp(op.source, idx, elem))
    out = static_shape(op, op.result.type)
    n = len(out)
    init = empty(e, out, elem)
    if 0 in out:
        return init  # nothing to read
    # static slices are a pure index map, unless a dim would read a strict prefix with the map `d`
    # (linalg requires an operand dim indexed by a bare loop dim to match the loop's range)
    prefix = any(p[0] == "range" and p[1] == 0 and p[2] == 1 and p[3] != n_src
                 for p, n_src in zip(plan, shape))
    if all(not isinstance(p[1], SSAValue) for p in plan) and not prefix:
        exprs, d = [], 0
        for p in plan:
            if p[0] == "range":
                exprs.append(AffineExpr.dimension(d) * p[2] + p[1])
                d += 1
            else:
                exprs.append(AffineExpr.constant(p[1]))
        return generic(e, [(op.source, amap(n, exprs))], [(init, amap(n, range(n)))], [PAR] * n,
                       lambda be, ins, outs: [ins[0]])[0]

    def body(be: Emitter, ins, outs):  # a gather: compute the source position of each element
        idx, d = [], 0
        for p in plan:
            if p[0] == "index":
                idx.append(p[1] if isinstance(p[1], SSAValue) else be.index(p[1]))
                continue
            i = be.add(linalg.IndexOp(d))
            d += 1
            if p[0] == "window":
                idx.append(be.add(arith.AddiOp(p[1], i)))
            else:
                idx.append(be.add(arith.AddiOp(be.index(p[1]), be.add(arith.MuliOp(i, be.index(p[2]))))))
        return [be.add(tensor.ExtractOp(op.source, idx, elem))]

    return generic(e, [], [(init, amap(n, range(n)))], [PAR] * n, body)[0]


def update(e: Emitter, op: loom.UpdateOp) -> SSAValue:
    shape = static_shape(op, op.source.type)
    plan = index_plan(e, op, shape, op.indices)
    if loom.is_scalar_type(op.value.type) and all(p[0] == "index" for p in plan):
        idx = [p[1] if isinstance(p[1], SSAValue) else e.index(p[1]) for p in plan]
        return e.add(tensor.InsertOp(op.value, op.source, idx))
    value = op.value
    part = [p[3] if p[0] == "range" else p[2] for p in plan if p[0] != "index"]
    if loom.is_scalar_type(value.type):
        value = fill(e, value, part)
    offsets, dyn_offsets, sizes, strides = [], [], [], []
    for p in plan:
        off = p[1]
        if isinstance(off, SSAValue):
            offsets.append(loom.DYNAMIC)
            dyn_offsets.append(off)
        else:
            offsets.append(off)
        sizes.append(p[3] if p[0] == "range" else p[2] if p[0] == "window" else 1)
        strides.append(p[2] if p[0] == "range" else 1)
    return e.add(tensor.InsertSliceOp.get(value, op.source, sizes, offsets, strides, offsets=dyn_offsets,
                                          result_type=op.source.type))


# ---------------------------------------------------------------- creation
def arange(e: Emitter, op) -> SSAValue:
    shape = static_shape(op, op.result.type)
    init = empty(e, shape, i64)
    return generic(e, [], [(init, amap(1, [0]))], [PAR],
                   lambda be, ins, outs: [S.from_index(be, be.add(linalg.IndexOp(0)))])[0]


def _mix(e: Emitter, z: SSAValue) -> SSAValue:
    """SplitMix64's finalizer on i64 bit patterns (runtime/random.py `_mix`)."""
    for shift, mult in ((30, int(rng.M1)), (27, int(rng.M2))):
        z = e.add(arith.MuliOp(e.add(arith.XOrIOp(z, e.add(arith.ShRUIOp(z, e.const(shift, i64))))),
                               e.const(mult, i64)))
    return e.add(arith.XOrIOp(z, e.add(arith.ShRUIOp(z, e.const(31, i64)))))


def random(e: Emitter, op: loom.RandomOp) -> SSAValue:
    shape = static_shape(op, op.result.type) if not loom.is_scalar_type(op.result.type) else ()
    elem = loom.element_type(op.result.type)
    gamma = int(rng.GAMMA)
    key = _mix(e, e.add(arith.AddiOp(op.seed, e.const(gamma, i64))))
    n = len(shape)

    def bits(be: Emitter, counter: SSAValue) -> SSAValue:
        return _mix(be, be.add(arith.AddiOp(key, be.add(arith.MuliOp(counter, be.const(gamma, i64))))))

    def unit(be: Emitter, b: SSAValue, t: Attribute, keep: int) -> SSAValue:
        return be.add(arith.SIToFPOp(be.add(arith.ShRUIOp(b, be.const(64 - keep, i64))), t))

    def body(be: Emitter, ins, outs):
        k = None
        for d in range(n):
            i = be.add(linalg.IndexOp(d))
            k = i if k is None else be.add(arith.AddiOp(be.add(arith.MuliOp(k, be.index(shape[d]))), i))
        k = S.from_index(be, k) if k is not None else be.const(0, i64)
        if op.distribution.data == "uniform":
            keep = 53 if isinstance(elem, Float64Type) else 24
            return [be.add(arith.MulfOp(unit(be, bits(be, k), elem, keep), be.const(2.0 ** -keep, elem)))]
        two_k = be.add(arith.MuliOp(k, be.const(2, i64)))
        scale = be.const(2.0 ** -53, f64)
        u1 = be.add(arith.MulfOp(be.add(arith.AddfOp(unit(be, bits(be, two_k), f64, 53), be.const(1.0, f64))), scale))
        u2 = be.add(arith.MulfOp(unit(be, bits(be, be.add(arith.AddiOp(two_k, be.const(1, i64)))), f64, 53), scale))
        r = be.add(math.SqrtOp(be.add(arith.MulfOp(be.const(-2.0, f64), be.add(math.LogOp(u1))))))
        z = be.add(arith.MulfOp(r, be.add(math.CosOp(be.add(arith.MulfOp(be.const(2.0 * pymath.pi, f64), u2))))))
        return [S.convert(be, z, elem)]

    if not shape:
        return body(e, [], [])[0]
    init = empty(e, shape, elem)
    return generic(e, [], [(init, amap(n, range(n)))], [PAR] * n, body)[0]


# ---------------------------------------------------------------- patterns
def _elementwise(fn: Callable) -> Callable:
    return lambda e, op: [elementwise(e, op, fn, op.operands)]


def _one(lowering: Callable) -> Callable:
    return lambda e, op: [lowering(e, op)]


def _assert(e: Emitter, op: loom.AssertOp) -> list[SSAValue]:
    e.check(op.cond, op.message.data, list(op.values))
    return []


# loom op → its lowering: (emitter, op) → the values that replace the op's results.
# `loom.print` is not here: it stays until `convert-print-to-llvm`.
LOWERINGS: dict[type, Callable[[Emitter, Operation], list[SSAValue]]] = {
    **{cls: _elementwise(fn) for cls, fn in S.BINARY.items()},
    loom.SubOp: lambda e, op: [elementwise(e, op, S.sub_not_contracted if loom.NO_CONTRACT in op.attributes
                                           else S.BINARY[loom.SubOp], op.operands)],
    **{cls: _elementwise(fn) for cls, fn in S.UNARY.items()},
    loom.CmpOp: lambda e, op: [elementwise(e, op, lambda be, a, b: be.cmp(op.predicate.data, a, b), op.operands)],
    loom.SelectOp: _elementwise(lambda be, c, a, b: be.select(c, a, b)),
    loom.ConvertOp: lambda e, op: [elementwise(
        e, op, lambda be, a: S.convert(be, a, loom.element_type(op.result.type)), op.operands)],
    **{cls: _one(reduction) for cls in loom.REDUCTION_OPS},
    loom.MatmulOp: _one(matmul),
    loom.TransposeOp: _one(transpose),
    loom.BroadcastToOp: _one(broadcast_to),
    loom.ReshapeOp: _one(reshape),
    loom.ConcatOp: _one(concat),
    loom.SliceOp: _one(slice_),
    loom.UpdateOp: _one(update),
    loom.ArangeOp: _one(arange),
    loom.RandomOp: _one(random),
    loom.DimOp: lambda e, op: [e.const(static_shape(op, op.operand.type)[op.axis_value()], i64)],
    loom.FullOp: lambda e, op: [fill(e, op.value, static_shape(op, op.result.type))],
    loom.AssertOp: _assert,
}
# unpartitioned, a sharding request is its operand (the SPMD partitioner consumes it before); by
# name: the spmd dialect is imported only by programs that distribute
IDENTITIES = ("spmd.sharding_constraint",)


class LowerLoomOp(RewritePattern):
    def match_and_rewrite(self, op: Operation, rewriter: PatternRewriter, /):
        if isinstance(op, ad.StopGradientOp) or op.name in IDENTITIES:  # identities from here on
            rewriter.replace(op, [], [op.operands[0]])
            return
        if isinstance(op, loom.PrintOp) or isinstance(op, loom.AssertOp) and op.values:
            return  # print, and checks showing run-time values, stay until the llvm conversion
        lowering = LOWERINGS.get(type(op))
        if lowering is None:
            if op.name.startswith("loom."):  # pragma: no cover - tests/test_dialect.py checks every op has one
                raise LoomError(f"convert-loom-to-linalg: no lowering for {op.name} (a compiler bug)")
            return
        e = Emitter(op.location)
        results = lowering(e, op)
        rewriter.replace(op, e.ops, results)


@dataclass(frozen=True)
class ConvertLoomToLinalg(ModulePass):
    name = "convert-loom-to-linalg"

    def apply(self, ctx: Context, op: ModuleOp) -> None:
        PatternRewriteWalker(GreedyRewritePatternApplier([LowerLoomOp()]), apply_recursively=False).rewrite_module(op)
