"""`shard-partition`: the SPMD partitioner. Each global-view function that `sharding-propagation`
annotated (`spmd.arg_shardings` on the function, `spmd.shardings` on its ops) is rewritten into the
program every device runs on its blocks; the function's (global) type is unchanged.

- Arguments arrive whole on every device (`spmd.enter`) and are cut to their sharding
  (`shard.all_slice`, no communication); results are assembled or reduced to whole values before
  `spmd.exit`.
- Every op is rebuilt with local types (`sharding/local_rules.py`). How its operands must lie comes
  from its rule (`sharding/rules.py`): each factor is split over the mesh axes of the op's
  propagated result sharding, else over those its operands already have (a split reduced factor
  makes the result a pending reduction, `partial`), and pending sums pass through the operands in
  which the op is linear. An operand that does not lie as needed is redistributed by the cheapest
  sequence of collectives (`sharding/reshard.py`); each carries `loom.reason` and the op's loc.
- A slice or update along a split dimension is served without gathering it when the cost model
  prefers it (`sharding/split_indexing.py`): a halo exchange (`shard.shift`) for a static range, one
  all_reduce of the element for an index, nothing for an update at an index.
- Results are not forced to their propagated sharding: a consumer reshards what it needs (once per
  value and target), so a pending sum is reduced where something needs it whole.
- `scf.for`/`scf.while`/`scf.if` carry their results' shardings (without pending reductions);
  inits and yields are resharded to them. Scalars are communicated as `tensor<1xT>`, booleans as i32.
- Inlined `@spmd` programs (from `spmd.enter` to `spmd.exit`) are per-device already: kept as they are.

    func.func @f(%x: tensor<8x4xf32>, %w: tensor<4x6xf32>) -> tensor<8x6xf32> attributes {
        spmd.arg_shardings = [#spmd.sharding<@M, [[0], []]>, #spmd.sharding<@M, [[], []]>], ...} {
      %0 = loom.matmul %x, %w {spmd.shardings = [#spmd.sharding<@M, [[0], []]>]} : ... -> tensor<8x6xf32>
      func.return %0 : tensor<8x6xf32>
    }
==>
    func.func @f(%x: tensor<8x4xf32>, %w: tensor<4x6xf32>) -> tensor<8x6xf32> {
      %0 = spmd.enter %x on @M grid_axes = [0] : tensor<8x4xf32>
      %1 = shard.all_slice %0 on @M grid_axes = [0] slice_axis = 0 {loom.reason = "argument #0 (%x) of @f
             arrives replicated on every device; its sharding is (dp, _)"} : tensor<8x4xf32> -> tensor<4x4xf32>
      %2 = spmd.enter %w on @M grid_axes = [0] : tensor<4x6xf32>
      %3 = loom.matmul %1, %2 : (tensor<4x4xf32>, tensor<4x6xf32>) -> tensor<4x6xf32>
      %4 = shard.all_gather %3 on @M grid_axes = [0] gather_axis = 0 {loom.reason = "func.return at f.loom:3:5:
             result #0 (tensor<8x6xf32>) is (dp, _) but the function returns it whole"} : tensor<4x6xf32> -> tensor<8x6xf32>
      %5 = spmd.exit %4 on @M grid_axes = [0] : tensor<8x6xf32>
      func.return %5 : tensor<8x6xf32>
    }
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from xdsl.builder import Builder, InsertPoint
from xdsl.context import Context
from xdsl.dialects import func, scf
from xdsl.dialects.builtin import ArrayAttr, ModuleOp, StringAttr, TensorType, i1, i32
from xdsl.ir import Attribute, Block, Operation, Region, SSAValue
from xdsl.passes import ModulePass

from compiler.diagnostics import InternalCompilerError, span_of
from compiler.passes.sharding import split_indexing as si
from compiler.passes.sharding.local_rules import COMPUTED_WHOLE, Rebuild, local_rule
from compiler.passes.sharding.reshard import Layout, Step, plan
from compiler.passes.sharding.rules import rule_for
from dialects import loom
from dialects import shard_ext as sx
from dialects.spmd import EnterOp, ExitOp, ShardingConstraintOp

ARG_SHARDINGS, RES_SHARDINGS, SHARDINGS = "spmd.arg_shardings", "spmd.res_shardings", "spmd.shardings"
REASON = "loom.reason"


CONSTRAINT_LABELS = {"reshard": "reshard", "param": "parameter annotation", "result": "result annotation"}


def is_global_view(f: func.FuncOp) -> bool:
    return ARG_SHARDINGS in f.attributes


def shape_of(v: SSAValue) -> tuple[int, ...]:
    return tuple(v.type.get_shape()) if isinstance(v.type, TensorType) else ()


def where(op: Operation) -> str:
    span = span_of(op)
    return f"{op.name} at {span}" if span else op.name


def what(v: SSAValue) -> str:
    """A value in a reason: its name, else the name of the parameter it is, else its type."""
    name = v.name_hint or next((u.operation.result.name_hint for u in v.uses
                                if isinstance(u.operation, ShardingConstraintOp) and u.operation.kind.data == "param"),
                               None)
    return f"%{name}" if name else str(v.type)


@dataclass
class Partitioner:
    """Rewrites one function; `env` maps each global value to (its local value, its layout)."""

    grid_name: str
    grid: tuple[int, ...]
    names: list[str]
    env: dict[SSAValue, tuple[SSAValue, Layout]] = field(default_factory=dict)
    scopes: list[dict] = field(default_factory=lambda: [{}])
    per_device: set[SSAValue] = field(default_factory=set)  # values of inlined @spmd bodies
    builder: Builder | None = None
    loc: Attribute | None = None

    # ---------------------------------------------------------------- emission
    def insert(self, op: Operation) -> Operation:
        op.location = self.loc if self.loc is not None else op.location
        return self.builder.insert(op)

    def lay(self, v: SSAValue) -> Layout:
        return self.env[v][1] if v in self.env else Layout.replicated(len(shape_of(v)))

    def local(self, v: SSAValue) -> SSAValue:
        return self.env[v][0] if v in self.env else v

    def reshard(self, v: SSAValue, target: Layout, why: Callable[[Layout, Layout], str]) -> SSAValue:
        """`v`'s local value laid out as `target` (collectives inserted, once per value and target)."""
        x, src = self.env[v]
        if src == target:
            return x
        for scope in reversed(self.scopes):
            if (v, target) in scope:
                return scope[(v, target)]
        reason = why(src, target)
        for step in plan(src, target, shape_of(v), self.grid, bytes_of(v.type)):
            x = self.emit(step, x, shape_of(v), reason)
        self.scopes[-1][(v, target)] = x
        return x

    def emit(self, step: Step, x: SSAValue, global_shape: Sequence[int], reason: str) -> SSAValue:
        elem = loom.element_type(x.type)
        scalar = not global_shape
        if scalar:  # collectives work on tensors: a scalar travels as tensor<1xT>
            x = self.insert(loom.ReshapeOp(x, TensorType(elem, [1]))).result
        boolean = elem == i1 and step.kind != "all_slice"
        if boolean:  # collectives carry numbers
            x = self.insert(loom.ConvertOp(x, TensorType(i32, x.type.get_shape()))).result
        shape = list(step.after.local_shape(global_shape, self.grid)) if not scalar else [1]
        out_type = TensorType(loom.element_type(x.type), shape)
        new = self.insert(collective(step, x, self.grid_name, out_type))
        new.attributes[REASON] = StringAttr(reason)
        y = new.results[0]
        if boolean:
            y = self.insert(loom.ConvertOp(y, TensorType(i1, shape))).result
        if scalar:
            y = self.insert(loom.ReshapeOp(y, elem)).result
        return y

    # ---------------------------------------------------------------- the function
    def run(self, f: func.FuncOp) -> None:
        old = f.body.block
        block = Block(arg_types=old.arg_types)
        self.builder = Builder(InsertPoint.at_end(block))
        all_axes = list(range(len(self.grid)))
        shardings = f.attributes[ARG_SHARDINGS].data
        for i, (arg, new_arg, sharding) in enumerate(zip(old.args, block.args, shardings)):
            new_arg.name_hint = arg.name_hint or next(  # the parameter's name, from its annotation
                (u.operation.result.name_hint for u in arg.uses if isinstance(u.operation, ShardingConstraintOp)
                 and u.operation.kind.data == "param"), None)
            self.loc = f.location
            entered = self.insert(EnterOp(new_arg, self.grid_name, all_axes)).result
            self.env[arg] = (entered, Layout.replicated(len(shape_of(arg))))
            target = Layout.of(sharding).whole()
            self.env[arg] = (self.reshard(arg, target, lambda s, t, i=i, arg=arg: (
                f"argument #{i} ({what(arg)}) of @{f.sym_name.data} arrives {s.describe(self.names)} "
                f"on every device; its sharding is {t.describe(self.names)}")), target)
        self.block(old)
        f.body.detach_block(old)
        f.body.add_block(block)
        for key in (ARG_SHARDINGS, RES_SHARDINGS):
            f.attributes.pop(key, None)

    def block(self, old: Block) -> None:
        for op in old.ops:
            self.loc = op.location
            self.op(op)

    def op(self, op: Operation) -> None:
        if isinstance(op, func.ReturnOp):
            self.ret(op)
        elif op.name == EnterOp.name or any(v in self.per_device for v in op.operands):
            self.keep(op)
        elif isinstance(op, ShardingConstraintOp):
            target = Layout.of(op.sharding)
            label = CONSTRAINT_LABELS[op.kind.data] + (f" at {span_of(op)}" if span_of(op) else "")
            self.env[op.result] = (self.reshard(op.input, target, lambda s, t: (
                f"{label}: operand #0 ({what(op.input)}) is {s.describe(self.names)} but the op needs "
                f"{t.describe(self.names)}")), target)
        elif isinstance(op, (scf.ForOp, scf.WhileOp, scf.IfOp)):
            self.region_op(op)
        elif not (isinstance(op, (loom.SliceOp, loom.UpdateOp)) and self.split_indexing(op)):
            self.generic(op)

    def keep(self, op: Operation) -> None:
        """An op of an inlined `@spmd` program: unchanged (its values are per-device already)."""
        outside = dict.fromkeys(v for o in op.walk() for v in o.operands if v in self.env)  # incl. its regions'
        mapper = {v: self.local(v) if v in self.per_device else
                  self.reshard(v, Layout.replicated(len(shape_of(v))), lambda s, t, v=v: (
                      f"{where(op)}: {what(v)} is {s.describe(self.names)} but the per-device program of an "
                      f"@spmd function needs it {t.describe(self.names)}"))
                  for v in outside}
        new = self.insert(op.clone(value_mapper=mapper))
        for r, n in zip(op.results, new.results):
            self.env[r] = (n, Layout.replicated(len(shape_of(r))))
            if op.name != ExitOp.name:
                self.per_device.add(r)

    def ret(self, op: func.ReturnOp) -> None:
        outs = []
        for i, v in enumerate(op.arguments):
            x = self.reshard(v, Layout.replicated(len(shape_of(v))), lambda s, t, i=i, v=v: (
                f"{where(op)}: result #{i} ({what(v)}) is {s.describe(self.names)} but the function returns it whole"))
            outs.append(self.insert(ExitOp(x, self.grid_name, list(range(len(self.grid))))).result)
        self.insert(func.ReturnOp(*outs))

    def needs(self, op: Operation, i: int) -> Callable[[Layout, Layout], str]:
        v = op.operands[i]
        return lambda s, t: (f"{where(op)}: operand #{i} ({what(v)}) is {s.describe(self.names)} "
                             f"but the op needs {t.describe(self.names)}")

    # ---------------------------------------------------------------- ops with a rule
    def generic(self, op: Operation) -> None:
        targets, results, reduced = self.decide(op)
        operands = [self.reshard(v, t, self.needs(op, i)) if v in self.env else v
                    for i, (v, t) in enumerate(zip(op.operands, targets))]
        types = [loom.make_type(loom.element_type(r.type), lay.local_shape(shape_of(r), self.grid))
                 if isinstance(r.type, TensorType) else r.type for r, lay in zip(op.results, results)]
        blocks = math.prod(self.grid[a] for a in reduced)
        new = local_rule(op)(Rebuild(op, operands, types, blocks, self.insert, self.grid_name, self.grid,
                                     results[0].split if results else ()))
        for r, n, lay in zip(op.results, new, results):
            n.name_hint = r.name_hint
            self.env[r] = (n, lay)

    def decide(self, op: Operation) -> tuple[list[Layout], list[Layout], tuple[int, ...]]:
        """The layouts the operands must have, those the local results will have, and the mesh
        axes of the split reduced factors."""
        if op.name in COMPUTED_WHOLE or (op.name == "arith.constant" and isinstance(op.results[0].type, TensorType)):
            whole = [Layout.replicated(len(shape_of(v))) for v in op.operands]
            return whole, [Layout.replicated(len(shape_of(r))) for r in op.results], ()
        rule = rule_for(op)
        axes: dict[str, tuple[int, ...]] = {}
        used: set[int] = set()

        def take(f: str, d: tuple[int, ...]) -> None:
            size, n = rule.factor_sizes.get(f, -1), math.prod(self.grid[a] for a in d)
            if f in axes or f in rule.need_replicated or f in rule.windows or (d and (used & set(d) or size < 0 or size % n)):
                return
            axes[f] = d
            used.update(d)

        annotated = op.attributes.get(SHARDINGS)
        if isinstance(annotated, ArrayAttr):
            for factors, sharding in zip(rule.result_factors, annotated.data):
                for f, d in zip(factors, sharding.split_axes):
                    take(f, tuple(d))
        for factors, v in zip(rule.operand_factors, op.operands):
            for f, d in zip(factors, self.lay(v).split):
                take(f, d)
        partial: tuple[int, ...] = ()
        passing: set[int] = set()
        pending = {i for i, v in enumerate(op.operands) if self.lay(v).partial}
        reduced = tuple(sorted(a for f in rule.reduction for a in axes.get(f, ())))
        for group in rule.partial_ok:
            lays = {self.lay(op.operands[i]) for i in group}
            ps = {(lay.partial, lay.kind) for lay in lays}
            if pending and set(group) == pending and len(ps) == 1:
                (p, kind), = ps
                if kind == "sum" and not used & set(p) and (not reduced or rule.reduction_kind == "sum"):
                    partial, passing = p, pending
        targets = [Layout(tuple(axes.get(f, ()) for f in factors), partial if i in passing else (),
                          "sum")
                   for i, factors in enumerate(rule.operand_factors)]
        pend = tuple(sorted(set(partial) | set(reduced)))
        kind = rule.reduction_kind if reduced else "sum"
        results = [Layout(tuple(axes.get(f, ()) for f in factors), pend if j == 0 else (), kind if pend and j == 0 else "sum")
                   for j, factors in enumerate(rule.result_factors)]
        return targets, results, reduced

    def split_indexing(self, op: loom.SliceOp | loom.UpdateOp) -> bool:
        """A slice or update along a split dimension without gathering it, when the cost model
        prefers a halo exchange or a pick (`sharding/split_indexing.py`); False leaves it to `generic`."""
        if op.source not in self.env or any((op.source, self.decide(op)[0][0]) in scope for scope in self.scopes):
            return False  # gathered for another op already: indexing that copy costs nothing more
        src = self.lay(op.source)
        if (choice := si.choose(op, src, self.grid, bytes_of(op.source.type))) is None:
            return False
        x = self.reshard(op.source, Layout(choice.split), self.needs(op, 0))
        part = Layout(si.part_split(op, choice))
        writes = isinstance(op, loom.UpdateOp)
        v = self.reshard(op.value, part, self.needs(op, 1)) if writes and op.value in self.env else \
            op.value if writes else x
        head = f"{where(op)}: operand #{int(writes)} ({what(op.operands[int(writes)])}) is " \
               f"{self.lay(op.operands[int(writes)]).describe(self.names)}"
        for h in choice.halos:
            def halo_of(side: str, width: int, h=h, x=v) -> SSAValue:
                """The neighbour's halo, once per value, side and width (a wider one serves a narrower):
                as wide as the widest any user of the value needs (`Choice.widths`)."""
                known = [(w, s[key]) for s in self.scopes for key in s  # keyed by the local value: its layout
                         if key[:4] == ("halo", x, h.dim, side) and (w := key[4]) >= width]
                if known:
                    return si.narrowed(self.insert, min(known, key=lambda k: k[0])[1], h.dim, side, width)
                wide = max(width, choice.widths[h.dim][side == "right"])
                piece = si.shifted(self.insert, self.grid_name, x, h, side, wide, (
                    f"{head} and the {'update' if writes else 'slice'} [{h.start}:{h.start + h.length}] of dimension "
                    f"{h.dim} crosses its blocks: each device sends its {'last' if side == 'left' else 'first'} "
                    f"{wide} element(s) to its {'right' if side == 'left' else 'left'} neighbour over "
                    f"{self.names[h.axis]} (a halo exchange instead of an all_gather"
                    + (f"; {wide}, not {width}: the widest another use of the value needs)" if wide > width else ")")))
                self.scopes[-1][("halo", x, h.dim, side, wide)] = piece
                return piece if wide == width else si.narrowed(self.insert, piece, h.dim, side, width)
            v = si.exchange(self.insert, self.grid_name, self.grid, v, h, halo_of)
        if writes and choice.halos:
            y = si.written(self.insert, self.grid_name, self.grid, choice.halos[0], v, x)
        else:
            spec, operands, inside = si.subscripts(self.insert, self.grid_name, self.grid, op, choice,
                                                   [self.local(i) for i in op.indices])
            if all(s == (loom.KIND_RANGE, loom.NONE, loom.NONE, 1) for s in spec) and not writes:
                y = v
            elif writes:
                y = self.insert(loom.UpdateOp(x, v, operands, spec)).result
                y = self.insert(loom.SelectOp(inside, y, x, y.type)).result  # written only where it lies
            else:
                y = self.insert(loom.SliceOp(v, operands, spec, self.local_type(op.result, part))).result
            if inside is not None and not writes:
                axes = tuple(sorted(a for p in choice.picks for a in p.axes))
                y = self.emit(Step("all_reduce", axes, Layout(part.split, axes), part),
                              si.zero_unless(self.insert, inside, y), shape_of(op.result), (
                    f"{head} and the index of dimension(s) {', '.join(str(p.dim) for p in choice.picks)} picks one "
                    f"device's element: it sends it, the others zero (an all_reduce of the result instead of an "
                    f"all_gather of the operand)"))
        y.name_hint = op.result.name_hint
        self.env[op.result] = (y, Layout(choice.split) if writes else part)
        return True

    # ---------------------------------------------------------------- control flow
    def region_op(self, op: Operation) -> None:
        annotated = op.attributes.get(SHARDINGS)
        carried = [Layout.of(s).whole() for s in annotated.data] if isinstance(annotated, ArrayAttr) \
            else [Layout.replicated(len(shape_of(r))) for r in op.results]
        if isinstance(op, scf.ForOp):
            n_fixed = 3
        elif isinstance(op, scf.IfOp):
            n_fixed = 1
        else:
            n_fixed = 0
        operands = [self.reshard(v, Layout.replicated(0), self.needs(op, i)) if i < n_fixed and v in self.env
                    else self.reshard(v, carried[i - n_fixed], self.needs(op, i)) if v in self.env else v
                    for i, v in enumerate(op.operands)]
        types = [self.local_type(r, lay) for r, lay in zip(op.results, carried)]
        regions = []
        for region in op.regions:
            new_region = Region()
            for old in region.blocks:
                lays = ([Layout(())] if isinstance(op, scf.ForOp) else []) + carried
                lays = lays[len(lays) - len(old.args):] if len(old.args) <= len(lays) else \
                    [Layout.replicated(len(shape_of(a))) for a in old.args]
                new = Block(arg_types=[self.local_type(a, lay) for a, lay in zip(old.args, lays)])
                for a, n, lay in zip(old.args, new.args, lays):
                    n.name_hint = a.name_hint
                    self.env[a] = (n, lay)
                new_region.add_block(new)
                self.nested(old, new, carried)
            regions.append(new_region)
        attrs = {k: v for k, v in op.attributes.items() if not k.startswith("spmd.")}
        new_op = self.insert(type(op).create(operands=operands, result_types=types, properties=dict(op.properties),
                                             attributes=attrs, regions=regions))
        for r, n, lay in zip(op.results, new_op.results, carried):
            n.name_hint = r.name_hint
            self.env[r] = (n, lay)

    def nested(self, old: Block, new: Block, carried: list[Layout]) -> None:
        outer, outer_loc = self.builder, self.loc
        self.builder = Builder(InsertPoint.at_end(new))
        self.scopes.append({})
        for op in old.ops:
            self.loc = op.location
            if isinstance(op, (scf.YieldOp, scf.ConditionOp)):
                cond = isinstance(op, scf.ConditionOp)
                vals = [self.reshard(v, Layout(()) if cond and i == 0 else carried[i - cond], self.needs(op, i))
                        if v in self.env else v for i, v in enumerate(op.operands)]
                self.insert(type(op).create(operands=vals, properties=dict(op.properties)))
            else:
                self.op(op)
        self.scopes.pop()
        self.builder, self.loc = outer, outer_loc

    def local_type(self, v: SSAValue, lay: Layout) -> Attribute:
        if not isinstance(v.type, TensorType):
            return v.type
        return TensorType(v.type.element_type, list(lay.local_shape(shape_of(v), self.grid)))


def bytes_of(t: Attribute) -> int:
    width = getattr(loom.element_type(t), "bitwidth", None) or getattr(getattr(loom.element_type(t), "width", None),
                                                                        "data", 32)
    return max(1, width // 8)


def collective(step: Step, x: SSAValue, grid: str, out_type: Attribute) -> Operation:
    axes = list(step.grid_axes)
    if step.kind == "all_slice":
        return sx.AllSliceOp(x, grid, axes, out_type, slice_axis=step.axis)
    if step.kind == "all_gather":
        return sx.AllGatherOp(x, grid, axes, out_type, gather_axis=step.axis)
    if step.kind == "all_to_all":
        return sx.AllToAllOp(x, grid, axes, out_type, split_axis=step.axis, concat_axis=step.concat_axis)
    kind = sx.ReductionKind(step.before.kind)
    if step.kind == "reduce_scatter":
        return sx.ReduceScatterOp(x, grid, axes, out_type, reduction=kind, scatter_axis=step.axis)
    if step.kind == "all_reduce":
        return sx.xshard.AllReduceOp.create(operands=[x], result_types=[out_type], properties={
            "grid": sx.FlatSymbolRefAttr(grid), "grid_axes": sx.axes_attr(axes), "reduction": sx.ReductionKindAttr(kind)})
    raise InternalCompilerError(f"no collective for step {step.kind}")


@dataclass(frozen=True)
class ShardPartition(ModulePass):
    """Rewrite every function annotated by `sharding-propagation` into its per-device program."""

    name = "shard-partition"

    def apply(self, ctx: Context, op: ModuleOp) -> None:
        grid = next((g for g in op.body.block.ops if isinstance(g, sx.xshard.GridOp)), None)
        for f in list(op.body.block.ops):
            if isinstance(f, func.FuncOp) and is_global_view(f):
                if grid is None:
                    raise InternalCompilerError(f"@{f.sym_name.data} has shardings but the module has no shard.grid")
                names = grid.attributes.get("loom.axes")
                shape = tuple(grid.shape.get_values())
                Partitioner(grid.sym_name.data, shape,
                            [a.data for a in names.data] if isinstance(names, ArrayAttr)
                            else [f"axis{i}" for i in range(len(shape))]).run(f)
