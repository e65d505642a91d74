"""Building `linalg` on tensors, shared by the lowerings that produce it (`convert-loom-to-linalg`,
`convert-shard-to-mpi`): affine maps (broadcasting as maps that pin dimensions to 0), `tensor.empty`,
`linalg.fill`, and `linalg.generic` with a body written as a Python function of the element values.

    init = empty(e, (4,), f32)
    [y] = generic(e, [(x, amap(1, [0]))], [(init, amap(1, [0]))], [PAR],
                  lambda be, xs, _: [be.add(math.TanhOp(xs[0]))])
    # %y = linalg.generic {indexing_maps = [(d0) -> (d0), (d0) -> (d0)], iterator_types = ["parallel"]}
    #        ins(%x : tensor<4xf32>) outs(%init : tensor<4xf32>) { ^bb0(%a, %b): math.tanh %a; linalg.yield }
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from xdsl.dialects import tensor
from xdsl.dialects.builtin import AffineMapAttr, TensorType
from xdsl.dialects.linalg import attrs as linalg_attrs
from xdsl.dialects.linalg import ops as linalg
from xdsl.ir import Attribute, Block, Operation, Region, SSAValue
from xdsl.ir.affine import AffineExpr, AffineMap

from compiler.diagnostics import LoomError, span_of
from compiler.passes.emitter import Emitter
from dialects import loom

PAR, RED = linalg_attrs.IteratorTypeAttr.parallel(), linalg_attrs.IteratorTypeAttr.reduction()


def static_shape(op: Operation, t: Attribute) -> tuple[int, ...]:
    shape = loom.shape_of(t)
    if shape is None or loom.DYNAMIC in shape:
        raise LoomError(f"{op.name}: shape {t} is not static; functions are specialized to their "
                        f"argument shapes before compilation (a bug if you see this)", span_of(op))
    return shape


def amap(n_dims: int, exprs: Sequence[AffineExpr | int]) -> AffineMapAttr:
    """An affine map from `n_dims` loop dims; ints in `exprs` are dim positions."""
    res = tuple(AffineExpr.dimension(x) if isinstance(x, int) else x for x in exprs)
    return AffineMapAttr(AffineMap(n_dims, 0, res))


def broadcast_map(out_shape: Sequence[int], shape: Sequence[int]) -> AffineMapAttr:
    """Read an operand of `shape` broadcast (NumPy rules) to `out_shape`."""
    r, R = len(shape), len(out_shape)
    exprs = [AffineExpr.constant(0) if shape[j] == 1 and out_shape[R - r + j] != 1 else R - r + j
             for j in range(r)]
    return amap(R, exprs)


def empty(e: Emitter, shape: Sequence[int], elem: Attribute) -> SSAValue:
    return e.add(tensor.EmptyOp([], TensorType(elem, list(shape))))


def fill(e: Emitter, value: SSAValue, shape: Sequence[int]) -> SSAValue:
    t = TensorType(value.type, list(shape))
    return e.add(linalg.FillOp([value], [empty(e, shape, value.type)], [t]))


def generic(e: Emitter, inputs: Sequence[tuple[SSAValue, AffineMapAttr]],
            outputs: Sequence[tuple[SSAValue, AffineMapAttr]], iterators: Sequence[Attribute],
            body: Callable[[Emitter, list[SSAValue], list[SSAValue]], list[SSAValue]]) -> list[SSAValue]:
    """Build a `linalg.generic`; `body(emitter, input_elems, output_elems)` returns the yields."""
    ins = [v for v, _ in inputs]
    outs = [v for v, _ in outputs]
    block = Block(arg_types=[loom.element_type(v.type) for v in ins + outs])
    be = Emitter(e.loc)
    ys = body(be, list(block.args[:len(ins)]), list(block.args[len(ins):]))
    be.add(linalg.YieldOp(*ys))
    block.add_ops(be.ops)
    op = linalg.GenericOp(ins, outs, Region(block), [m for _, m in list(inputs) + list(outputs)],
                          list(iterators), [v.type for v in outs])
    e.add(op)
    return list(op.results)


def extract_scalar(e: Emitter, t: SSAValue) -> SSAValue:
    """The element of a rank-0 tensor."""
    return e.add(tensor.ExtractOp(t, [], loom.element_type(t.type)))


def elementwise(e: Emitter, op: Operation, fn: Callable, operands: Sequence[SSAValue]) -> SSAValue:
    out_t = op.results[0].type
    if loom.is_scalar_type(out_t):
        return fn(e, *operands)
    shape = static_shape(op, out_t)
    tensors = [v for v in operands if not loom.is_scalar_type(v.type)]

    def body(be, elems, _):
        it = iter(elems)
        return [fn(be, *(v if loom.is_scalar_type(v.type) else next(it) for v in operands))]

    init = empty(e, shape, loom.element_type(out_t))
    return generic(e, [(v, broadcast_map(shape, static_shape(op, v.type))) for v in tensors],
                   [(init, amap(len(shape), range(len(shape))))], [PAR] * len(shape), body)[0]
