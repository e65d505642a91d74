"""`loom explain`: the communication of a partitioned program, one collective at a time.

`loom explain f.loom --entry F` compiles `F` to stage `spmd` (the per-device program right after
`shard-partition`, docs/sharding.md) and lists its collectives in program order:

    where               collective                   n  bytes/device   est. time  why
    mlp.loom:12:26      all_reduce(sum) over tp      4        49,152    21.3 us  loom.matmul at mlp.loom:12:26: result is partial sum over tp, ...

- **where**: the `file:line:col` of the op the collective serves (the partitioner gives an inserted
  collective its op's location; a collective written in an `@spmd` program has the call's);
- **collective**: kind, mesh axes (by name), `n` = devices per group;
- **bytes/device**: what each device sends, from the operand's type (`S` = its bytes, the local
  block), as a ring/pairwise algorithm sends it: `SEND_BYTES` below;
- **est. time**: `cost_model.collective_time(kind, S, n)`, the α-β model the partitioner
  minimises (compiler/passes/sharding/cost_model.py; its bandwidth terms are these byte counts);
- **why**: the partitioner's `loom.reason`; a collective an `@spmd` program calls itself has none
  ("written in the program"), and the all_gather that assembles an `@spmd` function's result says so.

A collective inside an `scf.for` with constant bounds runs once per iteration: its row says `×k`
and the totals count it k times; one inside an `scf.while` (or a loop with bounds known only at
run time) is marked "per iteration" and left out of the totals, which say so. Both branches of an
`scf.if` count (an upper bound). `shard.all_slice` (each device keeps its part: no communication)
is counted in the totals line, not listed.

`collectives(module)` is a function of a module, so tests run it on hand-written partitioned IR.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass

from xdsl.dialects import arith, func, scf
from xdsl.dialects import shard as xshard
from xdsl.dialects.builtin import (
    ArrayAttr,
    IntegerAttr,
    ModuleOp,
    StringAttr,
    TensorType,
)
from xdsl.ir import Operation, SSAValue

from compiler.diagnostics import LoomError, span_of
from compiler.passes.sharding.cost_model import collective_time
from dialects.shard_ext import grid_of, group_size
from dialects.spmd import EnterOp, ExitOp

# bytes each device sends, from S (bytes of the operand, this device's block) and n (group size)
SEND_BYTES: dict[str, Callable[[int, int], int]] = {
    "all_reduce": lambda s, n: 2 * (n - 1) * s // n,   # ring: reduce-scatter, then all-gather
    "all_gather": lambda s, n: (n - 1) * s,            # forwards the n−1 other blocks
    "reduce_scatter": lambda s, n: (n - 1) * s // n,   # sends n−1 of its n parts (partly reduced)
    "all_to_all": lambda s, n: (n - 1) * s // n,       # keeps its own part, sends the others
    "broadcast": lambda s, n: s,                       # pipelined: every non-leaf forwards S
    "shift": lambda s, n: s,                           # sends its whole block to one neighbour
}
FORMULAS = ("all_reduce 2(n-1)/n*S, all_gather (n-1)*S, reduce_scatter (n-1)/n*S, "
            "all_to_all (n-1)/n*S, broadcast S, shift S")
LOCAL = "all_slice"  # no communication
WRITTEN = "written in the program"
ASSEMBLES = "assembles a result of an @spmd function (its type splits it)"


@dataclass(frozen=True)
class Collective:
    """One collective of the per-device program (all numbers per device, per execution)."""

    where: str  # file:line:col of the op it serves
    kind: str  # all_reduce, all_gather, …
    detail: str  # the reduction or the tensor axes it works along
    axes: tuple[str, ...]  # mesh axes, by name, the first listed major
    group: int  # devices per group
    reason: str
    operand_bytes: int  # S
    bytes: int  # sent per device
    seconds: float  # estimated by the cost model
    count: int | None  # executions per call of the function; None: once per iteration of a loop of unknown trip count

    @property
    def label(self) -> str:
        over = self.axes[0] if len(self.axes) == 1 else "(" + ", ".join(self.axes) + ")"
        return f"{self.kind}({self.detail}) over {over}"


def _value_bytes(v: SSAValue) -> int:
    t = v.type
    if not isinstance(t, TensorType) or any(d < 0 for d in t.get_shape()):
        raise LoomError(f"explain needs static shapes; a collective's operand has type {t}: give --shape")
    n = 1
    for d in t.get_shape():
        n *= d
    return n * ((t.element_type.bitwidth + 7) // 8)


def _constant(v: SSAValue) -> int | None:
    op = v.owner
    if isinstance(op, arith.ConstantOp) and isinstance(op.value, IntegerAttr):
        return op.value.value.data
    return None


def _executions(op: Operation) -> int | None:
    """How many times `op` runs per call: the product of the trip counts of the loops around it."""
    count = 1
    parent = op.parent_op()
    while parent is not None:
        if isinstance(parent, scf.WhileOp):
            return None
        if isinstance(parent, scf.ForOp):
            lb, ub, step = (_constant(v) for v in (parent.lb, parent.ub, parent.step))
            if None in (lb, ub, step) or step == 0:
                return None
            count *= max(0, -(-(ub - lb) // step))
        parent = parent.parent_op()
    return count


def _axis_names(op: Operation) -> tuple[str, ...]:
    grid = grid_of(op)
    names = grid.attributes.get("loom.axes") if grid is not None else None
    axes = op.grid_axes.get_values()
    if isinstance(names, ArrayAttr):
        return tuple(names.data[a].data for a in axes)
    return tuple(f"axis {a}" for a in axes)


def _detail(op: Operation, kind: str) -> str:
    props = op.properties
    if kind in ("all_reduce", "reduce_scatter"):
        red = props.get("reduction")
        how = red.data.value if red is not None else "sum"
        return how + (f", axis {props['scatter_axis'].value.data}" if kind == "reduce_scatter" else "")
    if kind == "all_gather":
        return f"axis {props['gather_axis'].value.data}"
    if kind == "all_to_all":
        return f"axis {props['split_axis'].value.data} -> {props['concat_axis'].value.data}"
    if kind == "broadcast":
        return "root " + ",".join(str(r) for r in op.root.get_values())
    if kind == "shift":
        return f"offset {props['offset'].value.data}"
    return ""


def _reason(op: Operation) -> str:
    reason = op.attributes.get("loom.reason")
    if isinstance(reason, StringAttr):
        return reason.data
    if op.name == "shard.all_gather" and any(isinstance(u.operation, ExitOp) for u in op.results[0].uses):
        return ASSEMBLES
    return WRITTEN


def _where(op: Operation) -> str:
    span = span_of(op)
    return f"{span.file}:{span.line}:{span.col}" if span is not None else "(no location)"


def is_collective(op: Operation) -> bool:
    return isinstance(op, xshard.CollectiveCommunicationOp) and not isinstance(op, (EnterOp, ExitOp))


def _program_order(fn: func.FuncOp, funcs: dict[str, func.FuncOp], times: int | None):
    """(op, executions per call of the entry) for the ops of `fn` and, at each call, of its callee."""
    for op in fn.walk():
        n = _executions(op)
        count = None if n is None or times is None else n * times
        yield op, count
        if isinstance(op, func.CallOp) and op.callee.string_value() in funcs:
            yield from _program_order(funcs[op.callee.string_value()], funcs, count)


def collectives(module: ModuleOp) -> tuple[list[Collective], int]:
    """The communicating collectives of the module's public functions (and what they call) in
    program order, and the number of `shard.all_slice` ops (local: no communication)."""
    funcs = {op.sym_name.data: op for op in module.ops if isinstance(op, func.FuncOp)}
    entries = [f for f in funcs.values() if f.sym_visibility is None or f.sym_visibility.data == "public"]
    rows, local = [], 0
    for entry in entries:
        for op, count in _program_order(entry, funcs, 1):
            if not is_collective(op):
                continue
            kind = op.name.removeprefix("shard.")
            if kind == LOCAL:
                local += 1
                continue
            if kind not in SEND_BYTES:
                raise LoomError(f"loom explain has no byte count for '{op.name}'", span_of(op))
            n = group_size(op)
            if n is None:
                raise LoomError(f"'{op.name}' runs on a grid of unknown shape", span_of(op))
            s = _value_bytes(op.operands[0])
            rows.append(Collective(_where(op), kind, _detail(op, kind), _axis_names(op), n, _reason(op), s,
                                   SEND_BYTES[kind](s, n), collective_time(kind, s, n), count))
    return rows, local


def totals(rows: list[Collective]) -> tuple[Counter, int, float]:
    """Per call: the number of each kind, the bytes each device sends, the estimated seconds
    (collectives in loops of unknown trip count are not counted)."""
    kinds: Counter = Counter()
    for r in rows:
        if r.count is not None:
            kinds[r.kind] += r.count
    counted = [r for r in rows if r.count is not None]
    return kinds, sum(r.bytes * r.count for r in counted), sum(r.seconds * r.count for r in counted)


def mesh(module: ModuleOp) -> str:
    """`M = (dp=2, tp=2)`, from the module's `shard.grid` ("" without one)."""
    for op in module.ops:
        if isinstance(op, xshard.GridOp):
            shape = op.shape.get_values()
            names = op.attributes.get("loom.axes")
            names = [a.data for a in names.data] if isinstance(names, ArrayAttr) else [f"axis{i}" for i in range(len(shape))]
            return f"{op.sym_name.data} = (" + ", ".join(f"{a}={n}" for a, n in zip(names, shape)) + ")"
    return ""


def explain(module: ModuleOp, title: str) -> str:
    """The table for a per-device module (stage `spmd`), under `title` and its mesh."""
    rows, local = collectives(module)
    where = mesh(module)
    return format_table(rows, local, f"{title} on mesh {where}" if where else f"{title} (no mesh: nothing is distributed)")


def _size(b: float) -> str:
    return f"{b:,.0f}"


def _time(t: float) -> str:
    return f"{t * 1e6:,.1f} us" if t < 1e-3 else f"{t * 1e3:,.2f} ms"


def format_table(rows: list[Collective], local: int = 0, title: str = "") -> str:
    """The table `loom explain` prints, with the totals and the byte formulas under it."""
    head = ("where", "collective", "n", "bytes/device", "est. time", "why")
    body = []
    for r in rows:
        times = "" if r.count == 1 else (" (per iteration)" if r.count is None else f" x{r.count}")
        body.append((r.where, r.label + times, str(r.group), _size(r.bytes), _time(r.seconds), r.reason))
    widths = [max(len(x[i]) for x in [head, *body]) for i in range(5)]
    right = (False, False, True, True, True)

    def line(cells) -> str:
        out = [c.rjust(w) if rj else c.ljust(w) for c, w, rj in zip(cells, widths, right)]
        return "  ".join(out + [cells[5]]).rstrip()

    lines = [title] if title else []
    lines += [line(head)] + [line(b) for b in body]
    kinds, total_bytes, total_time = totals(rows)
    counted = [r for r in rows if r.count is not None]
    summary = ", ".join(f"{k} {kinds[k]}" for k in sorted(kinds)) or "none"
    lines.append(f"total: {sum(kinds.values())} collective(s) per call ({summary}); "
                 f"{_size(total_bytes)} bytes sent per device; est. {_time(total_time)}")
    unknown = len(rows) - len(counted)
    if unknown:
        lines.append(f"  not in the total: {unknown} collective(s) in loops whose trip count is known only at run time")
    if local:
        lines.append(f"  and {local} all_slice (each device keeps its part of a replicated value: no communication)")
    lines.append(f"bytes/device = bytes each device sends, S = the operand's bytes on one device, n = group size: {FORMULAS}")
    return "\n".join(lines) + "\n"
