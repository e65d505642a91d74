"""`linalg-fuse-elementwise`: producer → consumer fusion of `linalg.generic` ops on tensors.

A producer is fused into a consumer when it is elementwise (all iterators parallel, identity
output map, no `linalg.index`, its output only a shape carrier from `tensor.empty`) and either its
body is a mere copy (a broadcast, transpose or static slice), which is free to duplicate, or the
consumer reads each of its elements exactly once (the operand's map is a permutation of all loop
dims — fusing a bias add into the next matmul, which reads it once per output column, would
repeat the add n times) and either all its uses are in that consumer or it is cheap (one or two
arithmetic ops, like `x - mean` in a layer norm: recomputing it in each consumer beats a round
trip through memory). The consumer then reads the producer's inputs directly, through the
composed indexing maps (`producer_map ∘ consumer_map`), and computes the producer's body inline:
`tanh(x*a + b)*c + x` becomes one loop, a broadcast or a cast costs nothing, and a reduction reads
the elementwise expression it reduces (`sum(x*x)` in one pass). Dead tensor-level linalg ops and
`tensor.empty` are removed afterwards (they have no side effects on tensors).
"""

from __future__ import annotations

from dataclasses import dataclass

from xdsl.context import Context
from xdsl.dialects import tensor
from xdsl.dialects.linalg import attrs as linalg_attrs
from xdsl.dialects.linalg import ops as linalg
from xdsl.dialects.builtin import AffineMapAttr, ModuleOp
from xdsl.ir import Block, Operation, Region, SSAValue
from xdsl.ir.affine import AffineDimExpr
from xdsl.passes import ModulePass
from xdsl.pattern_rewriter import (
    PatternRewriter,
    PatternRewriteWalker,
    RewritePattern,
    op_type_rewrite_pattern,
)

from dialects import loom


def _is_copy(p: linalg.GenericOp) -> bool:
    y = p.body.block.last_op
    return len(list(p.body.block.ops)) == 1 and len(y.operands) == 1 and y.operands[0] in p.body.block.args[:len(p.inputs)]


def fusable_producer(p: Operation, consumer: linalg.GenericOp) -> bool:
    if not isinstance(p, linalg.GenericOp) or len(p.outputs) != 1 or len(p.res) != 1:
        return False
    if any(it.data != linalg_attrs.IteratorType.PARALLEL for it in p.iterator_types):
        return False
    out_map = p.indexing_maps.data[-1].data
    if out_map != out_map.identity(out_map.num_dims):
        return False
    block = p.body.block
    if block.args[-1].uses or any(isinstance(o, linalg.IndexOp) for o in p.walk()):
        return False
    if _is_copy(p):
        return True  # free to duplicate
    # fusing computes the producer once per consumer iteration: only when that is once per element
    # (read through one map, a permutation of all the consumer's loop dims)
    n_dims = len(consumer.iterator_types)
    reads = {m.data for v, m in zip(consumer.inputs, consumer.indexing_maps.data) if v is p.res[0]}
    if len(reads) != 1:
        return False
    m = reads.pop()
    dims = [r.position for r in m.results if isinstance(r, AffineDimExpr)]
    if len(dims) != len(m.results) or sorted(dims) != list(range(n_dims)):
        return False
    return all(u.operation is consumer for u in p.res[0].uses) or _cheap(p)


def _cheap(p: linalg.GenericOp) -> bool:
    """One or two plain arithmetic ops (`x - mean`): cheaper to recompute in every consumer than
    to write to memory and read back."""
    body = [o for o in p.body.block.ops if not isinstance(o, linalg.YieldOp)]
    return len(body) <= 2 and all(o.name.startswith("arith.") for o in body)


class FuseProducerIntoConsumer(RewritePattern):
    @op_type_rewrite_pattern
    def match_and_rewrite(self, op: linalg.GenericOp, rewriter: PatternRewriter, /):
        if not op.res:  # buffer semantics: nothing to fuse
            return
        maps = [m.data for m in op.indexing_maps.data]
        n_in = len(op.inputs)
        for i, v in enumerate(op.inputs):
            p = v.owner
            if isinstance(p, Operation) and fusable_producer(p, op):
                self.fuse(op, i, p, maps, n_in, rewriter)
                return

    @staticmethod
    def fuse(op: linalg.GenericOp, i: int, p: linalg.GenericOp, maps, n_in, rewriter: PatternRewriter):
        pmaps = [m.data for m in p.indexing_maps.data]
        fused_value = op.inputs[i]
        # each distinct map the consumer reads the producer through gets its own copy of the
        # producer's body (only copies are read through several maps: see fusable_producer)
        reads = list(dict.fromkeys(maps[j] for j, v in enumerate(op.inputs) if v is fused_value))
        # new inputs: the consumer's others, then the producer's per read map
        ins: list[tuple[SSAValue, object]] = []
        sources: list[tuple[str, int, int]] = []  # (consumer | producer, operand, read)
        for j, v in enumerate(op.inputs):
            if v is not fused_value:
                ins.append((v, maps[j]))
                sources.append(("c", j, -1))
        for r, cmap in enumerate(reads):
            for j, v in enumerate(p.inputs):
                ins.append((v, pmaps[j].compose(cmap)))
                sources.append(("p", j, r))
        # merge duplicate (value, map) pairs
        uniq: list[tuple[SSAValue, object]] = []
        slot: list[int] = []
        for pair in ins:
            k = next((n for n, q in enumerate(uniq) if q[0] is pair[0] and q[1] == pair[1]), None)
            if k is None:
                uniq.append(pair)
                k = len(uniq) - 1
            slot.append(k)
        outs = list(op.outputs)
        block = Block(arg_types=[loom.element_type(v.type) for v, _ in uniq] +
                      [loom.element_type(v.type) for v in outs])
        new_args = block.args
        # clone the producer's body once per read map, its inputs mapped to the new block args
        pblock = p.body.block
        produced: dict[object, SSAValue] = {}
        for r, cmap in enumerate(reads):
            pvals: dict[SSAValue, SSAValue] = {}
            for (kind, j, rr), k in zip(sources, slot):
                if kind == "p" and rr == r:
                    pvals[pblock.args[j]] = new_args[k]
            for o in pblock.ops:
                if isinstance(o, linalg.YieldOp):
                    produced[cmap] = pvals.get(o.operands[0], o.operands[0])
                    break
                block.add_op(o.clone(value_mapper=pvals))
        cblock = op.body.block
        cvals: dict[SSAValue, SSAValue] = {}
        for (kind, j, _), k in zip(sources, slot):
            if kind == "c":
                cvals[cblock.args[j]] = new_args[k]
        for j, v in enumerate(op.inputs):
            if v is fused_value:
                cvals[cblock.args[j]] = produced[maps[j]]
        for j in range(len(outs)):
            cvals[cblock.args[n_in + j]] = new_args[len(uniq) + j]
        for o in cblock.ops:
            block.add_op(o.clone(value_mapper=cvals))
        new = linalg.GenericOp([v for v, _ in uniq], outs, Region(block),
                               [AffineMapAttr(m) for _, m in uniq] + [AffineMapAttr(m) for m in maps[n_in:]],
                               op.iterator_types, [r.type for r in op.res])
        new.location = op.location
        rewriter.replace(op, new)
        if not p.res[0].uses:
            rewriter.erase(p)


class EraseDeadTensorOp(RewritePattern):
    def match_and_rewrite(self, op: Operation, rewriter: PatternRewriter, /):
        dead = isinstance(op, (linalg.GenericOp, linalg.FillOp, tensor.EmptyOp)) and op.results \
            and all(not r.uses for r in op.results)
        if dead:
            rewriter.erase(op)


@dataclass(frozen=True)
class LinalgFuseElementwise(ModulePass):
    name = "linalg-fuse-elementwise"

    def apply(self, ctx: Context, op: ModuleOp) -> None:
        PatternRewriteWalker(FuseProducerIntoConsumer(), apply_recursively=True).rewrite_module(op)
        PatternRewriteWalker(EraseDeadTensorOp(), apply_recursively=True, walk_reverse=True).rewrite_module(op)
