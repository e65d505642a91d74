"""IR of global-view functions (the emitting side of global_view.py): their parameters, results
and `reshard` calls as `spmd.sharding_constraint` ops (see global_view.py for the rules)."""

from __future__ import annotations

from xdsl.builder import Builder
from xdsl.dialects import func
from xdsl.dialects.builtin import TensorType
from xdsl.ir import Block, SSAValue
from xdsl.rewriter import InsertPoint

from compiler.diagnostics import Span
from compiler.frontend import ast as A
from compiler.frontend.check_common import Instance
from compiler.frontend.global_view import GlobalView
from compiler.frontend.spmd import Mesh, Sharding
from dialects.spmd import ShardingAttr, ShardingConstraintOp


def sharding_attr(mesh: Mesh, sh: Sharding | None, rank: int) -> ShardingAttr:
    return ShardingAttr(mesh.name, [[mesh.index(a) for a in axes] for axes in sh] if sh else [()] * rank)


def constrain(g, v: SSAValue, mesh: Mesh, sh: Sharding | None, kind: str, span: Span | None) -> SSAValue:
    """`v` through a `spmd.sharding_constraint` (a scalar or an unranked value passes unchanged)."""
    if not isinstance(v.type, TensorType):
        return v
    op = ShardingConstraintOp(v, sharding_attr(mesh, sh, v.type.get_num_dims()), kind)
    return g.add(op, span).results[0]


def constrain_params(g, inst: Instance, args) -> list[SSAValue]:
    gv: GlobalView = inst.global_view
    return [constrain(g, a, gv.mesh, sh, "param", sp)
            for a, sh, sp in zip(args, gv.param_shardings, gv.param_spans)]


def constrain_results(g, inst: Instance, block: Block) -> None:
    """Before each `func.return` of the body: the result constraints."""
    gv: GlobalView = inst.global_view
    saved = g.builder
    for ret in [op for op in block.ops if isinstance(op, func.ReturnOp)]:
        g.builder = Builder(InsertPoint.before(ret))
        shs = gv.result_shardings or [None] * len(ret.operands)
        spans = gv.result_spans or [None] * len(ret.operands)
        for i, (v, sh, sp) in enumerate(zip(list(ret.operands), shs, spans)):
            c = constrain(g, v, gv.mesh, sh, "result", sp)
            if c is not v:
                if sp is None:
                    c.owner.location = ret.location
                ret.operands[i] = c
    g.builder = saved


def emit_reshard(g, e: A.Call, info) -> SSAValue:
    x = g.value(e.args[0])
    return constrain(g, x, g.inst.global_view.mesh, info.extra["reshard"], "reshard", e.span)
