"""IR of meshes, `@spmd` functions and collectives (the emitting side of spmd.py).

A mesh is a `shard.grid` (its axis names in `loom.axes`). An `@spmd` function `f` becomes two
functions: the per-device body `@f.spmd` (block types; private) and the global-view wrapper `@f`
(global types, what every caller and the API call), which shows where global arrays are split
and assembled:

    func.func @f(%x: tensor<8x4xf32>, %w: tensor<4xf32>) -> (tensor<8x4xf32>, f32) {
      %0 = spmd.enter %x on @M grid_axes = [0] : tensor<8x4xf32>
      %1 = shard.all_slice %0 on @M grid_axes = [0] slice_axis = 0 : tensor<8x4xf32> -> tensor<4x4xf32>
      %2 = spmd.enter %w on @M grid_axes = [0] : tensor<4xf32>
      %3, %4 = func.call @f.spmd(%1, %2) : (tensor<4x4xf32>, tensor<4xf32>) -> (tensor<4x4xf32>, f32)
      %5 = shard.all_gather %3 on @M grid_axes = [0] gather_axis = 0 : tensor<4x4xf32> -> tensor<8x4xf32>
      %6 = spmd.exit %5 on @M grid_axes = [0] : tensor<8x4xf32>
      %7 = spmd.exit %4 on @M grid_axes = [0] : f32
      func.return %6, %7 : tensor<8x4xf32>, f32
    }

A collective of a scalar works on a `tensor<1xT>` (a `loom.reshape` before and after).
"""

from __future__ import annotations

from xdsl.dialects import arith, func
from xdsl.dialects.builtin import ArrayAttr, DenseArrayBase, IntegerAttr, StringAttr, UnitAttr, i64
from xdsl.ir import Block, Region, SSAValue

from compiler.frontend import ast as A
from compiler.frontend.emit_common import flat_ir_types
from compiler.frontend.emit_structs import SVal
from dialects import loom
from dialects import shard_ext as sx
from dialects.spmd import EnterOp, ExitOp


def grid_op(mesh) -> sx.xshard.GridOp:
    op = sx.xshard.GridOp.create(properties={"sym_name": StringAttr(mesh.name),
                                             "shape": DenseArrayBase.from_list(i64, mesh.shape)})
    op.attributes["loom.axes"] = ArrayAttr([StringAttr(a) for a, _ in mesh.axes])
    return op


def module_ops(checker, order, funcs, func_gen) -> list:
    """`funcs` (one per instance of `order`; an `@spmd` instance's is its wrapper), preceded by
    the mesh's `shard.grid` and followed by the per-device bodies (built with `func_gen`), for a
    file that has a mesh (irgen imports this module only then)."""
    spmd = [inst for inst in order if inst.spmd is not None]
    bodies = []
    for inst in spmd:
        fn = func_gen(inst.spmd.body).build()
        fn.sym_visibility = StringAttr("private")
        bodies.append(fn)
    return [grid_op(checker.mesh)] + funcs + bodies


def _resized(t, dim: int, size: int):
    shape = list(loom.shape_of(t))
    shape[dim] = size
    return loom.make_type(loom.element_type(t), shape)


def wrapper(inst, location) -> func.FuncOp:
    """The global-view function of an `@spmd` instance (see the module docstring)."""
    sig = inst.spmd
    mesh = sig.mesh
    every = list(range(len(mesh.axes)))
    sig.body.symbol = f"{inst.symbol}.spmd"
    g_in, b_in = flat_ir_types(inst.param_types), flat_ir_types(sig.body.param_types)
    g_out, b_out = flat_ir_types(inst.result_types), flat_ir_types(sig.body.result_types)
    block = Block(arg_types=g_in)
    ops = []

    def add(op):
        op.location = location
        ops.append(op)
        return op.results[0]

    args = []
    for v, bt, sh in zip(block.args, b_in, sig.param_shardings):
        x = add(EnterOp(v, mesh.name, every))
        for dim, axes in enumerate(sh or ()):
            if axes:
                x = add(sx.AllSliceOp(x, mesh.name, [mesh.index(a) for a in axes],
                                      _resized(x.type, dim, loom.shape_of(bt)[dim]), slice_axis=dim))
        args.append(x)
    call = func.CallOp(sig.body.symbol, args, b_out)
    add(call) if call.results else ops.append(call)
    outs = []
    for r, gt, sh in zip(call.results, g_out, sig.result_shardings):
        x = r
        for dim, axes in enumerate(sh or ()):
            if axes:
                x = add(sx.AllGatherOp(x, mesh.name, [mesh.index(a) for a in axes],
                                       _resized(x.type, dim, loom.shape_of(gt)[dim]), gather_axis=dim))
        outs.append(add(ExitOp(x, mesh.name, every)))
    ret = func.ReturnOp(*outs)
    ret.location = location
    block.add_ops(ops + [ret])
    fn = func.FuncOp(inst.symbol, (g_in, g_out), Region(block))
    fn.location = location
    return fn


# ------------------------------------------------------------------ collectives
def _props(facts, mesh_axes, **extra) -> dict:
    props = {"grid": sx.FlatSymbolRefAttr(facts["grid"]), "grid_axes": sx.axes_attr(mesh_axes)}
    props.update(extra)
    return props


def _one(g, e: A.Call, facts: dict, x: SSAValue, result_type) -> SSAValue:
    """The collective on one tensor (a scalar goes through a tensor<1xT>)."""
    scalar = loom.is_scalar_type(x.type)
    if scalar:
        x = g.add(loom.ReshapeOp(x, loom.make_type(x.type, [1])), e.span).results[0]
        result_type = x.type
    kind, axes, grid = facts["kind"], facts["axes"], facts["grid"]
    if kind == "all_reduce":
        op = sx.xshard.AllReduceOp.create(operands=[x], result_types=[x.type], properties=_props(
            facts, axes, reduction=sx.ReductionKindAttr(sx.ReductionKind(facts["op"]))))
    elif kind == "broadcast":
        op = sx.xshard.BroadcastOp.create(operands=[x], result_types=[x.type], properties=_props(
            facts, axes, root=DenseArrayBase.from_list(i64, [facts["root"]])))
    elif kind == "shift":
        op = sx.ShiftOp.create(operands=[x], result_types=[x.type], properties=_props(
            facts, axes, shift_axis=sx.index_attr(axes[0]), offset=IntegerAttr(facts["offset"], i64),
            rotate=UnitAttr()))
    elif kind == "all_gather":
        op = sx.AllGatherOp(x, grid, axes, result_type, gather_axis=facts["axis"])
    elif kind == "reduce_scatter":
        op = sx.ReduceScatterOp(x, grid, axes, result_type, scatter_axis=facts["split"])
    else:
        op = sx.AllToAllOp(x, grid, axes, result_type, split_axis=facts["split"], concat_axis=facts["concat"])
    r = g.add(op, e.span).results[0]
    if scalar:
        r = g.add(loom.ReshapeOp(r, loom.element_type(r.type)), e.span).results[0]
    return r


def emit_collective(g, e: A.Call, info, ir_type):
    facts = info.extra["collective"]
    if facts["kind"] == "axis_index":
        idx = g.add(sx.ProcessMultiIndexOp(facts["grid"], facts["axes"]), e.span).results[0]
        return g.add(arith.IndexCastOp(idx, i64), e.span).results[0]
    x = g.expr(e.args[0] if e.args else next(k.value for k in e.kwargs if k.name == "x"))
    if isinstance(x, SVal):
        return SVal(x.type, [_one(g, e, facts, leaf, leaf.type) for leaf in x.leaves])
    return _one(g, e, facts, x, ir_type(info.value.type))
