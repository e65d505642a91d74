"""`linalg-fuse-elementwise`: producer → consumer fusion of `linalg.generic` ops on tensors.

A producer is fused into a consumer when it is elementwise (all iterators parallel, identity
output map, no `linalg.index`, its output only a shape carrier from `tensor.empty`) and either its
body is a mere copy (a broadcast, transpose or static slice), which is free to duplicate, or the
consumer reads each of its elements exactly once (the operand's map is a permutation of all loop
dims — fusing a bias add into the next matmul, which reads it once per output column, would
repeat the add n times) and either all its uses are in that consumer or it is cheap (one or two
arithmetic ops, like `x - mean` in a layer norm, counting the producers it absorbs itself:
recomputing it in each consumer beats a round trip through memory, but recomputing a chain of
cheap ops in each consumer of each link would make code and work quadratic in its length). The
consumer then reads the producer's inputs directly, through the composed indexing maps (`producer_map ∘ consumer_map`), and computes the producer's body inline:
`tanh(x*a + b)*c + x` becomes one loop, a broadcast or a cast costs nothing, and a reduction reads
the elementwise expression it reduces (`sum(x*x)` in one pass). Dead tensor-level linalg ops and
`tensor.empty` are removed afterwards (they have no side effects on tensors).

Then a transpose left on its own (a copy reading a reduction's result through a permutation that
keeps the innermost dim innermost, the reduction's only use) is folded into the reduction, which
writes the transposed tensor itself (`FuseTransposeWithProducer`): `transpose(p @ v, (0, 2, 1, 3))`
in attention becomes one matmul whose C rows land where the copy would have put them.

Example (`exp(x) * 2.0 + x`, after `convert-loom-to-linalg`, `canonicalize`, `cse`):

    %0 = tensor.empty() : tensor<4xf32>
    %1 = linalg.generic {…} ins(%x : tensor<4xf32>) outs(%0 : tensor<4xf32>) {
    ^bb0(%2: f32, %3: f32):
      %4 = math.exp %2 : f32
      linalg.yield %4 : f32
    } -> tensor<4xf32>
    %5 = arith.constant 2.000000e+00 : f32
    %6 = linalg.generic {…} ins(%1 : tensor<4xf32>) outs(%0 : tensor<4xf32>) {
      … arith.mulf %7, %5 …
    } -> tensor<4xf32>
    %10 = linalg.generic {…} ins(%6, %x : tensor<4xf32>, tensor<4xf32>) outs(%0 : tensor<4xf32>) {
      … arith.addf %11, %12 …
    } -> tensor<4xf32>
    func.return %10 : tensor<4xf32>
becomes
    %0 = tensor.empty() : tensor<4xf32>
    %1 = arith.constant 2.000000e+00 : f32
    %2 = linalg.generic {…} ins(%x : tensor<4xf32>) outs(%0 : tensor<4xf32>) {
    ^bb0(%3: f32, %4: f32):
      %5 = math.exp %3 : f32
      %6 = arith.mulf %5, %1 fastmath<contract> : f32
      %7 = arith.addf %6, %3 fastmath<contract> : f32
      linalg.yield %7 : f32
    } -> tensor<4xf32>
    func.return %2 : tensor<4xf32>
"""

from __future__ import annotations

from dataclasses import dataclass

from xdsl.context import Context
from xdsl.dialects import cf, func, tensor
from xdsl.dialects.linalg import attrs as linalg_attrs
from xdsl.dialects.linalg import ops as linalg
from xdsl.dialects.builtin import AffineMapAttr, ModuleOp
from xdsl.ir import Operation, SSAValue
from xdsl.ir.affine import AffineDimExpr, AffineMap
from xdsl.passes import ModulePass
from xdsl.pattern_rewriter import (
    PatternRewriter,
    PatternRewriteWalker,
    RewritePattern,
    op_type_rewrite_pattern,
)

from dialects import loom


def _is_copy(p: linalg.GenericOp) -> bool:
    """The body only yields one of its inputs (O(1): a fused body can be long)."""
    block = p.body.block
    y = block.first_op
    return y is block.last_op and len(y.operands) == 1 and y.operands[0] in block.args[:len(p.inputs)]


def _permutation(m: AffineMap) -> bool:
    """Every result a distinct loop dim, every loop dim a result."""
    dims = [r.position for r in m.results if isinstance(r, AffineDimExpr)]
    return len(dims) == len(m.results) == m.num_dims and sorted(dims) == list(range(m.num_dims))


CHEAP = 2  # a producer used elsewhere is recomputed in a consumer when it costs at most this many ops


def read_maps(consumer: linalg.GenericOp) -> dict[SSAValue, set[AffineMap]]:
    """The maps through which `consumer` reads each of its inputs (computed once per consumer, not
    once per producer checked: a consumer that absorbs a wide DAG has hundreds of inputs)."""
    reads: dict[SSAValue, set[AffineMap]] = {}
    for v, m in zip(consumer.inputs, consumer.indexing_maps.data):
        reads.setdefault(v, set()).add(m.data)
    return reads


def fusable_producer(p: Operation, consumer: linalg.GenericOp, cost: dict[Operation, int],
                     reads: dict[SSAValue, set[AffineMap]]) -> bool:
    """Whether `p` may be fused into `consumer`; `cost` is each generic's fused cost (see
    `fused_costs`), `reads` the consumer's `read_maps`."""
    if not isinstance(p, linalg.GenericOp) or len(p.outputs) != 1 or len(p.res) != 1:
        return False
    if any(it.data != linalg_attrs.IteratorType.PARALLEL for it in p.iterator_types):
        return False
    out_map = p.indexing_maps.data[-1].data
    if out_map != out_map.identity(out_map.num_dims):
        return False
    if p.body.block.args[-1].uses:
        return False
    if not _is_copy(p):
        # fusing computes the producer once per consumer iteration: only when that is once per
        # element (read through one map, a permutation of all the consumer's loop dims)
        maps = reads[p.res[0]]
        if len(maps) != 1 or not _permutation(next(iter(maps))):
            return False
        # recomputed in each consumer only when cheap *with what it fuses itself*: judging the
        # producer's own body alone recomputes whole chains of cheap ops (a residual stream
        # `h = (r - u) * t; r' = … + h` through every layer: IR and work quadratic in depth)
        if not (_single_user(p, consumer) or cost.get(p, CHEAP + 1) <= CHEAP):
            return False
    # last, as it walks the whole body
    body = list(p.body.walk())
    if any(isinstance(o, linalg.IndexOp) for o in body):
        return False
    return not any(isinstance(o, CAN_FAIL) for o in body) or checks_stay_in_order(p, consumer)


CAN_FAIL = (cf.AssertOp, loom.AssertOp, func.CallOp)  # run-time checks (a callee's too)


def can_fail(op: Operation) -> bool:
    """Whether `op` or an op inside it has a run-time check."""
    return any(isinstance(o, CAN_FAIL) for o in op.walk())


def checks_stay_in_order(p: linalg.GenericOp, consumer: linalg.GenericOp) -> bool:
    """A producer with run-time checks moves into the consumer, where its checks run element by
    element with the consumer's and after every op between the two: it is fused only when none of
    those can fail, so the first failing check in program order is still the one reported."""
    if p.parent_block() is not consumer.parent_block() or can_fail(consumer):
        return False
    o = p.next_op
    while o is not None and o is not consumer:
        if can_fail(o):
            return False
        o = o.next_op
    return o is consumer


def _single_user(p: linalg.GenericOp, consumer: linalg.GenericOp) -> bool:
    return all(u.operation is consumer for u in p.res[0].uses)


def fused_costs(module: ModuleOp) -> dict[Operation, int]:
    """Each generic's cost once fused: the arithmetic ops of its body plus the fused costs of the
    producers it will absorb (an over-estimate: a fusion that a later check refuses still counts),
    in one forward walk, producers before their consumers. A copy costs nothing; a non-arith op
    (`math.exp`, `linalg.index`) makes a body too costly to recompute."""
    cost: dict[Operation, int] = {}
    for op in module.walk():
        if not isinstance(op, linalg.GenericOp):
            continue
        own = sum(1 if o.name.startswith("arith.") else CHEAP + 1
                  for o in op.body.block.ops if not isinstance(o, linalg.YieldOp))
        reads = read_maps(op)
        cost[op] = own + sum(cost[v.owner] for v in reads
                             if v.owner in cost and fusable_producer(v.owner, op, cost, reads))
    return cost


@dataclass
class FusionPlan:
    """The fused op's inputs: (value, map) pairs without duplicates, in the order of the
    consumer's other inputs, then the producer's inputs once per map the consumer reads it by."""

    inputs: list[tuple[SSAValue, AffineMap]]
    consumer_slot: dict[int, int]  # consumer input index (not the fused one) → input slot
    producer_slots: list[tuple[AffineMap, list[int]]]  # per read map: producer input → slot

    @staticmethod
    def of(op: linalg.GenericOp, p: linalg.GenericOp) -> FusionPlan:
        maps = [m.data for m in op.indexing_maps.data]
        fused = p.res[0]
        slots: dict[tuple[SSAValue, AffineMap], int] = {}
        plan = FusionPlan([], {}, [])

        def slot(value: SSAValue, m: AffineMap) -> int:
            if (value, m) not in slots:
                slots[(value, m)] = len(plan.inputs)
                plan.inputs.append((value, m))
            return slots[(value, m)]

        for j, v in enumerate(op.inputs):
            if v is not fused:
                plan.consumer_slot[j] = slot(v, maps[j])
        pmaps = [m.data for m in p.indexing_maps.data]
        for cmap in dict.fromkeys(maps[j] for j, v in enumerate(op.inputs) if v is fused):
            plan.producer_slots.append((cmap, [slot(v, pmaps[j].compose(cmap)) for j, v in enumerate(p.inputs)]))
        return plan

    def keeps_loop_bounds(self, op: linalg.GenericOp) -> bool:
        """Every loop dim is still a plain result of some map, so its trip count can be read from
        an operand's shape (the fused maps stay invertible; MLIR's elementwise fusion checks the
        same). Only a reduction can lose one: there the output does not mention every dim, and a
        stepped slice fused in leaves `d0 * 2` where the consumer read `d0`."""
        maps = [m for _, m in self.inputs] + [m.data for m in op.indexing_maps.data[len(op.inputs):]]
        covered = {r.position for m in maps for r in m.results if isinstance(r, AffineDimExpr)}
        return covered >= set(range(len(op.iterator_types)))


@dataclass
class FuseProducerIntoConsumer(RewritePattern):
    cost: dict[Operation, int]  # fused costs (`fused_costs`); a fused op inherits its consumer's

    @op_type_rewrite_pattern
    def match_and_rewrite(self, op: linalg.GenericOp, rewriter: PatternRewriter, /):
        if not op.res:  # buffer semantics: nothing to fuse
            return
        reads = read_maps(op)
        for v in reads:
            p = v.owner
            if isinstance(p, Operation) and fusable_producer(p, op, self.cost, reads):
                plan = FusionPlan.of(op, p)
                if plan.keeps_loop_bounds(op):
                    self.cost[self.fuse(op, p, plan, rewriter)] = self.cost.pop(op, CHEAP + 1)
                    return

    @staticmethod
    def fuse(op: linalg.GenericOp, p: linalg.GenericOp, plan: FusionPlan, rewriter: PatternRewriter) -> linalg.GenericOp:
        """Fuse in place, in time proportional to the producer: the consumer's block (which grows
        as producers are fused into it one by one) is kept, the producer's body is moved (or
        cloned, when it stays for other users or is read through several maps) in front of it."""
        block = op.body.block
        n_in, outs = len(op.inputs), list(op.outputs)
        cargs = list(block.args[:n_in])
        anchor = block.first_op
        # one block argument per input slot: the consumer's own, or new ones before the outputs
        slot_args: list[SSAValue | None] = [None] * len(plan.inputs)
        for j, k in plan.consumer_slot.items():
            if slot_args[k] is None:
                slot_args[k] = cargs[j]
        for k, (v, _) in enumerate(plan.inputs):
            if slot_args[k] is None:
                slot_args[k] = block.insert_arg(loom.element_type(v.type), len(block.args) - len(outs))
        # the producer's body, once per read map, computing from the new block arguments
        pblock = p.body.block
        movable = len(plan.producer_slots) == 1 and _single_user(p, op)
        produced: dict[AffineMap, SSAValue] = {}
        for cmap, pslots in plan.producer_slots:
            pvals = {pblock.args[j]: slot_args[k] for j, k in enumerate(pslots)}
            if movable:
                for arg, value in pvals.items():
                    arg.replace_all_uses_with(value)
            for o in list(pblock.ops):
                if isinstance(o, linalg.YieldOp):
                    produced[cmap] = pvals.get(o.operands[0], o.operands[0])
                    break
                if movable:
                    o.detach()
                else:
                    o = o.clone(value_mapper=pvals)
                block.insert_op_before(o, anchor)
        # the consumer's arguments: fused ones read the producer's value, duplicates their twin
        maps = [m.data for m in op.indexing_maps.data]
        for j, arg in enumerate(cargs):
            target = produced[maps[j]] if op.inputs[j] is p.res[0] else slot_args[plan.consumer_slot[j]]
            if target is not arg:
                arg.replace_all_uses_with(target)
                block.erase_arg(arg)
        region = op.detach_region(op.body)
        new_op = linalg.GenericOp([v for v, _ in plan.inputs], outs, region,
                                  [AffineMapAttr(m) for _, m in plan.inputs] + list(op.indexing_maps.data[n_in:]),
                                  op.iterator_types, [r.type for r in op.res])
        new_op.location = op.location
        rewriter.replace(op, new_op)
        if not p.res[0].uses:
            rewriter.erase(p)
        return new_op


class FuseTransposeWithProducer(RewritePattern):
    """A transpose (a copy reading its one input through a permutation) of a reduction's result
    used by nothing else: the reduction writes the transposed tensor itself, its output map
    composed with the permutation's inverse (IREE's `FuseTransposeWithProducerLinalgOp`). For a
    matmul whose result moves heads back into place (`transpose(p @ v, (0, 2, 1, 3))`), the
    kernel then writes C's rows where the copy would have put them. Only when the innermost dim
    stays innermost (C's rows stay contiguous) and the reduction starts from a `linalg.fill`
    (made again in the new shape)."""

    @op_type_rewrite_pattern
    def match_and_rewrite(self, op: linalg.GenericOp, rewriter: PatternRewriter, /):
        if not op.res or len(op.inputs) != 1 or len(op.outputs) != 1 or not _is_copy(op):
            return
        read, write = (m.data for m in op.indexing_maps.data)
        n = read.num_dims
        if write != AffineMap.identity(n) or not _permutation(read) or read.results[-1] != AffineDimExpr(n - 1):
            return
        p, fill = op.inputs[0].owner, None
        if isinstance(p, linalg.GenericOp) and len(p.outputs) == 1 and len(p.res) == 1 and p.res[0].has_one_use():
            fill = p.outputs[0].owner
        if not isinstance(fill, linalg.FillOp) or \
                all(it.data == linalg_attrs.IteratorType.PARALLEL for it in p.iterator_types):
            return  # (an elementwise producer is fused into the copy instead)
        init = linalg.FillOp(fill.inputs, op.outputs, [r.type for r in op.res])
        maps = [*p.indexing_maps.data[:-1], AffineMapAttr(read.inverse_permutation().compose(p.indexing_maps.data[-1].data))]
        new = linalg.GenericOp(p.inputs, init.res, p.detach_region(p.body), maps, p.iterator_types, [r.type for r in op.res])
        init.location, new.location = fill.location, p.location
        rewriter.replace(op, [init, new])
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
        # consumers last to first: a fused consumer absorbs its producers one after the other, so
        # each fusion moves one small producer body (first to last, each fusion would move the
        # whole chain fused so far into the next consumer: quadratic in the chain's length)
        fuse = FuseProducerIntoConsumer(fused_costs(op))
        PatternRewriteWalker(fuse, apply_recursively=True, walk_reverse=True).rewrite_module(op)
        PatternRewriteWalker(FuseTransposeWithProducer(), apply_recursively=False).rewrite_module(op)
        PatternRewriteWalker(EraseDeadTensorOp(), apply_recursively=True, walk_reverse=True).rewrite_module(op)
