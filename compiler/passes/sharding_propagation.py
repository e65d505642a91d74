"""`sharding-propagation`: give every value of a global-view function a sharding (Shardy style).

Runs after autodiff and `loom-inline` (a global-view function called from another is inlined into
it, so there are no calls to follow; a derivative of one carries the constraints of its tangents
and cotangents). For every function whose body holds a `spmd.sharding_constraint`, it records

- `spmd.shardings = [#spmd.sharding<…>, …]` on every op with results, one per result (scalars,
  `scf.for`/`while`/`if` results and the constraints themselves included);
- `spmd.arg_shardings` / `spmd.res_shardings` on the `func.func`, one per argument / result.

    %x = spmd.sharding_constraint %0 <@M, [[0], []]> {kind = "param"} : tensor<8x4xf32>
    %3 = loom.matmul %x, %w : (tensor<8x4xf32>, tensor<4x6xf32>) -> tensor<8x6xf32>
    %4 = loom.sum %3 {axes = array<i64: 0>} : (tensor<8x6xf32>) -> tensor<6xf32>
becomes
    %x = spmd.sharding_constraint %0 <@M, [[0], []]> {kind = "param", spmd.shardings = [#spmd.sharding<@M, [[0], []]>]} : …
    %3 = loom.matmul %x, %w {spmd.shardings = [#spmd.sharding<@M, [[0], []]>]} : …
    %4 = loom.sum %3 {axes = array<i64: 0>, spmd.shardings = [#spmd.sharding<@M, [[]], partial = sum [0]>]} : …

The model (docs/distributed.md, "Sharding propagation"):
1. Each tensor dimension of each value is *open* until something decides how it is split; a
   decision is final. The results of constraints are decided by the user and never change.
2. Nodes relate the dimensions: an op relates them through its factor rule
   (compiler/passes/sharding/rules.py); an `scf` op ties each loop-carried or yielded value to
   its init and result (they should agree; a loop's region argument *is* its result for the
   propagation, so the two always do); a constraint ties its operand to its result like an
   identity op (so a parameter's annotation reaches the argument).
3. A worklist visits nodes, first every node in program order, then each node one of whose values
   changed. For each factor of a node, the sharding of the factor is that of the first decided
   dimension carrying it — a user constraint's first, then operands before results, lower indices
   first — and every open dimension carrying the factor takes it, if its mesh axes are not used by
   another dimension of the value and the factor's size divides evenly. Factors an op needs
   whole (`need_replicated`) do not propagate; a slice's window factor (a static range of a
   split dimension) only over one mesh axis whose halo exchange is possible. So forward propagation wins over backward, and a
   value takes the sharding nearest to it in program order. Conflicting requirements leave a value
   with one of them; the partitioner redistributes where the op needs the other.
4. Dimensions still open at the fixpoint are replicated (the default).
5. Pending reductions, in program order: the result of an op whose `reduction` factor is split is
   `partial` over the factor's axes (kind from the rule: sum, max or min), less the axes the result
   is split over (there the partitioner reduce-scatters); a pending sum passes through an op when the
   operands holding it form one of the rule's `partial_ok` groups (add of two partial sums, a partial
   sum times a whole value, reshape/transpose/slice of one). Loop-carried and `scf.if` results and
   constraint results are never partial: the partitioner completes the reduction before them.
Each dimension is decided once, so a node is visited at most once more than the number of its
values' dimensions: the pass is linear in the size of the function times the largest rank.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field

from xdsl.context import Context
from xdsl.dialects import func, scf
from xdsl.dialects.builtin import ArrayAttr, ModuleOp
from xdsl.ir import Operation, SSAValue
from xdsl.passes import ModulePass
from xdsl.utils.exceptions import VerifyException

from compiler.diagnostics import LoomError, span_of
from compiler.passes.sharding.rules import OpShardingRule, rule_for, shape
from compiler.passes.sharding.split_indexing import halo
from dialects.loom_indexing import KIND_RANGE
from dialects.spmd import ShardingAttr, ShardingConstraintOp, lookup_grid

Axes = tuple[int, ...]


@dataclass(eq=False)
class Node:
    """An op's factor rule, or a tie (an `scf` op's values that must agree) as an identity rule."""

    values: list[SSAValue]  # operands, then results (a tie: its members)
    factors: list[list[str]]  # per value, per dimension
    sizes: dict[str, int]
    blocked: set[str] = field(default_factory=set)  # need_replicated
    op: Operation | None = None
    rule: OpShardingRule | None = None


def _op_node(op: Operation) -> Node:
    rule = rule_for(op)
    return Node(list(op.operands) + list(op.results), rule.operand_factors + rule.result_factors,
                rule.factor_sizes, set(rule.need_replicated), op, rule)


def _tie(values: Sequence[SSAValue]) -> Node:
    dims = shape(values[0])
    names = [f"d{i}" for i in range(len(dims))]
    return Node(list(values), [list(names) for _ in values], dict(zip(names, dims)))


def _region_results(op: Operation) -> list[tuple[SSAValue, SSAValue]]:
    """(region argument, result) pairs of an scf loop: one value for propagation (a loop-carried
    value lies as the loop's result does)."""
    if isinstance(op, scf.ForOp):
        return list(zip(op.body.block.args[1:], op.results))
    if isinstance(op, scf.WhileOp):
        return [(a, r) for block in (op.before_region.block, op.after_region.block)
                for a, r in zip(block.args, op.results) if a.type == r.type]
    return []


def _ties(op: Operation) -> list[Node]:
    """The groups of values an scf op makes agree (the same sharding for each)."""
    if isinstance(op, scf.ForOp):
        body = op.body.block
        y = body.last_op
        return [_tie([init, body.args[i + 1], y.operands[i], r])
                for i, (init, r) in enumerate(zip(op.iter_args, op.results))]
    if isinstance(op, scf.WhileOp):
        before, after = op.before_region.block, op.after_region.block
        cond, y = before.last_op, after.last_op
        ins = [_tie([init, before.args[i], y.operands[i]]) for i, init in enumerate(op.arguments)]
        outs = [_tie([cond.args[i], r, after.args[i]]) for i, r in enumerate(op.results)]
        return ins + outs
    if isinstance(op, scf.IfOp):
        branches = [r.block.last_op for r in op.regions if r.blocks]
        return [_tie([r] + [b.operands[i] for b in branches]) for i, r in enumerate(op.results)]
    return []


class Propagation:
    """The state of one function: per value, per dimension, the mesh axes (None: still open)."""

    def __init__(self, fn: func.FuncOp, grid: str, grid_shape: Sequence[int]):
        self.fn, self.grid, self.grid_shape = fn, grid, list(grid_shape)
        self.dims: dict[SSAValue, list[Axes | None]] = {}
        self.fixed: set[SSAValue] = set()
        self.nodes: list[Node] = []
        self.users: dict[SSAValue, list[Node]] = {}
        self.canon: dict[SSAValue, SSAValue] = {}
        self.rules: dict[Operation, OpShardingRule] = {}
        self.visits = 0  # node visits (a test checks they stay linear)
        self.attrs: dict[tuple, ShardingAttr] = {}
        for op in fn.body.walk():
            if isinstance(op, (scf.ForOp, scf.WhileOp, scf.IfOp)):
                self.nodes.extend(_ties(op))
                self.canon.update(_region_results(op))
            elif op.results or op.operands and not isinstance(op, (func.ReturnOp, scf.YieldOp, scf.ConditionOp)):
                self.nodes.append(_op_node(op))
            if isinstance(op, ShardingConstraintOp):
                self._check(op)
                self.dims[op.result] = list(op.sharding.split_axes)
                self.fixed.add(op.result)
        for n in self.nodes:
            if n.op is not None:
                self.rules[n.op] = n.rule
            for v in n.values:
                self.users.setdefault(self.canon.get(v, v), []).append(n)

    def _check(self, op: ShardingConstraintOp) -> None:
        if op.sharding.grid != self.grid:
            raise LoomError(f"sharding-propagation: the constraint names grid @{op.sharding.grid}, but this "
                            f"function's constraints use @{self.grid} (one mesh per program)", span_of(op))

    def state(self, v: SSAValue) -> list[Axes | None]:
        v = self.canon.get(v, v)
        st = self.dims.get(v)
        if st is None:
            st = self.dims[v] = [None] * len(shape(v))
        return st

    def devices(self, axes: Axes) -> int:
        n = 1
        for a in axes:
            n *= self.grid_shape[a]
        return n

    # ------------------------------------------------------------ phase 1: factors to a fixpoint
    def run(self) -> None:
        work = deque(self.nodes)
        queued = set(map(id, self.nodes))
        while work:
            node = work.popleft()
            self.visits += 1
            queued.discard(id(node))
            for v in self.visit(node):
                for n in self.users.get(v, ()):
                    if id(n) not in queued:
                        queued.add(id(n))
                        work.append(n)

    def visit(self, node: Node) -> list[SSAValue]:
        changed = []
        for f, size in node.sizes.items():
            if f in node.blocked:
                continue
            carriers = [(v, d) for v, fs in zip(node.values, node.factors) for d, g in enumerate(fs) if g == f]
            axes = self.choose(carriers)
            if axes is None or not axes and size == 1:
                continue
            if axes and (size < 0 or size % self.devices(axes)):
                continue
            window = node.rule.windows.get(f) if node.rule is not None else None
            if axes and window and (len(axes) != 1 or halo(0, axes[0], self.devices(axes), window[0], (
                    KIND_RANGE, window[1], window[1] + window[2], 1), writes=window[3]) is None):
                continue
            for v, d in carriers:
                st = self.state(v)
                if st[d] is None and not any(set(axes) & set(o) for o in st if o):
                    st[d] = axes
                    changed.append(self.canon.get(v, v))
        return changed

    def choose(self, carriers: list[tuple[SSAValue, int]]) -> Axes | None:
        """The first decided dimension's axes, a user constraint's first."""
        known = [(v not in self.fixed, i, axes) for i, (v, d) in enumerate(carriers)
                 if (axes := self.state(v)[d]) is not None]
        return min(known)[2] if known else None

    # ------------------------------------------------------------ phases 2-3: defaults, partials
    def sharding(self, v: SSAValue, partial: Axes = (), kind: str = "sum") -> ShardingAttr:
        key = (tuple(a or () for a in self.state(v)), partial, kind)
        attr = self.attrs.get(key)
        if attr is None:  # attributes are immutable: one per distinct sharding
            attr = self.attrs[key] = ShardingAttr(self.grid, *key)
        return attr

    def record(self) -> None:
        partial: dict[SSAValue, tuple[Axes, str]] = {}
        for op in self.fn.body.walk():
            if not op.results:
                continue
            if isinstance(op, (scf.ForOp, scf.WhileOp, scf.IfOp, ShardingConstraintOp)) or len(op.results) != 1:
                shardings = [self.sharding(r) for r in op.results]
            else:
                axes, kind = self.pending(op, partial)
                partial[op.results[0]] = (axes, kind)
                shardings = [self.sharding(op.results[0], axes, kind)]
            op.attributes["spmd.shardings"] = ArrayAttr(shardings)
        self.fn.attributes["spmd.arg_shardings"] = ArrayAttr([self.sharding(a) for a in self.fn.body.block.args])
        ret = self.fn.body.block.last_op
        self.fn.attributes["spmd.res_shardings"] = ArrayAttr(
            [self.sharding(v, *partial.get(v, ((), "sum"))) for v in ret.operands])

    def pending(self, op: Operation, partial: dict) -> tuple[Axes, str]:
        """The axes over which `op`'s result is a pending reduction, and its kind."""
        rule = self.rules[op]
        used = {a for d in self.state(op.results[0]) if d for a in d}
        reduced: list[int] = []
        for f in sorted(rule.reduction, key=list(rule.factor_sizes).index):
            split = next((axes for side, i, d in rule.dims_of(f)
                          if side == "operand" and (axes := self.state(op.operands[i])[d])), ())
            reduced.extend(a for a in split if a not in used and a not in reduced)
        if reduced:
            return tuple(reduced), rule.reduction_kind
        holders = {i: partial[v] for i, v in enumerate(op.operands) if partial.get(v, ((),))[0]}
        if not holders:
            return (), "sum"
        pendings = set(holders.values())
        axes, kind = next(iter(pendings))
        if len(pendings) == 1 and kind == "sum" and frozenset(holders) in rule.partial_ok \
                and not used & set(axes):
            return axes, kind
        return (), "sum"

    def verify(self) -> None:
        """Every recorded sharding is valid for its value (axes once, in the grid, sizes divide)."""
        grid = lookup_grid(self.fn, self.grid)
        for op in self.fn.body.walk():
            for r, s in zip(op.results, op.attributes.get("spmd.shardings", ArrayAttr([])).data):
                if shape(r):
                    s.verify_for(r.type, grid)


def propagate(fn: func.FuncOp) -> None:
    """Propagate the shardings of `fn`'s constraints (if any) to all its values and record them."""
    first = next((op for op in fn.walk() if isinstance(op, ShardingConstraintOp)), None)
    if first is None:
        return
    grid = lookup_grid(fn, first.sharding.grid)
    if grid is None:
        raise LoomError(f"sharding-propagation: no shard.grid @{first.sharding.grid} in the module", span_of(first))
    p = Propagation(fn, first.sharding.grid, grid.shape.get_values())
    p.run()
    p.record()
    try:
        p.verify()
    except VerifyException as e:  # pragma: no cover - the propagation only decides valid shardings
        raise LoomError(f"sharding-propagation produced an invalid sharding (a compiler bug): {e}") from None


@dataclass(frozen=True)
class ShardingPropagation(ModulePass):
    name = "sharding-propagation"

    def apply(self, ctx: Context, op: ModuleOp) -> None:
        for fn in [o for o in op.ops if isinstance(o, func.FuncOp) and o.body.blocks]:
            propagate(fn)
