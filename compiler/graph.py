"""`loom graph`: a module's computation graph as Graphviz DOT.

One node per operation, labelled with the op's name and its result types; an edge per use of a
value (from the op or block argument that defines it). Function parameters are input nodes and a
function's results an output node. An op with regions is drawn as a cluster holding its body:
`scf.for`/`scf.while`/`scf.if` loops and branches, and `linalg.generic` — a fused kernel — as one
filled node listing the scalar ops fused into it (what `linalg-fuse-elementwise` merged). A
`sharding` attribute on an op, when present, is shown in its label.

    loom graph examples/mlp_forward.loom --entry mlp | dot -Tsvg > mlp.svg
"""

from __future__ import annotations

import shutil
import subprocess

from xdsl.dialects import func
from xdsl.dialects.builtin import ModuleOp
from xdsl.ir import Block, BlockArgument, Operation, SSAValue

from compiler.diagnostics import LoomError

TERMINATORS = {"func.return", "scf.yield", "scf.condition", "linalg.yield", "cf.br", "cf.cond_br"}
FUSED = {"linalg.generic"}


def _type(t) -> str:
    return str(t).replace('"', "'")


def _esc(s: str) -> str:
    return s.replace("\\", "\\\\").replace('"', '\\"')


class _Dot:
    def __init__(self):
        self.lines: list[str] = []
        self.ids: dict[int, str] = {}  # id(op or block argument) → node id
        self.count = 0

    def node_id(self, thing) -> str:
        key = id(thing)
        if key not in self.ids:
            self.ids[key] = f"n{self.count}"
            self.count += 1
        return self.ids[key]

    def source(self, value: SSAValue) -> str | None:
        owner = value if isinstance(value, BlockArgument) else value.owner
        return self.ids.get(id(owner))

    def emit(self, line: str, depth: int) -> None:
        self.lines.append("  " * depth + line)


def to_dot(module: ModuleOp, title: str = "") -> str:
    """The DOT text of every function in `module`."""
    d = _Dot()
    d.emit("digraph loom {", 0)
    d.emit('rankdir=TB; node [shape=box, style="rounded", fontname="monospace", fontsize=10];', 1)
    d.emit('edge [fontname="monospace", fontsize=9];', 1)
    if title:
        d.emit(f'label="{_esc(title)}"; labelloc=t;', 1)
    for k, op in enumerate(o for o in module.ops if isinstance(o, func.FuncOp)):
        _function(d, op, k)
    d.emit("}", 0)
    return "\n".join(d.lines) + "\n"


def _function(d: _Dot, f: func.FuncOp, k: int) -> None:
    d.emit(f"subgraph cluster_f{k} {{", 1)
    d.emit(f'label="@{_esc(f.sym_name.data)}"; style="rounded"; color=gray50;', 2)
    if f.body.blocks:
        block = f.body.blocks[0]
        for i, arg in enumerate(block.args):
            name = arg.name_hint or f"arg{i}"
            d.emit(f'{d.node_id(arg)} [label="%{_esc(name)}\\n{_esc(_type(arg.type))}", shape=ellipse, '
                   f'style=filled, fillcolor="#e8f0fe"];', 2)
        _block(d, block, 2)
    d.emit("}", 1)


def _block(d: _Dot, block: Block, depth: int) -> None:
    for op in block.ops:
        if op.name == "func.return":
            _output(d, op, depth)
        elif op.name in TERMINATORS:
            continue
        elif op.regions and op.name not in FUSED:
            _cluster(d, op, depth)
        else:
            _node(d, op, depth)


def _label(op: Operation) -> str:
    parts = [op.name]
    if op.name in FUSED:
        body = [o.name.split(".", 1)[-1] for r in op.regions for b in r.blocks for o in b.ops
                if o.name not in TERMINATORS]
        parts.append("fused: " + (", ".join(body) if len(body) <= 6 else ", ".join(body[:6]) + ", …"))
    value = op.properties.get("value") if op.name == "arith.constant" else None
    if value is not None and hasattr(value, "value"):
        parts[0] += f" {value.value.data}"
    callee = op.properties.get("callee") or op.attributes.get("callee")
    if callee is not None:
        parts[0] += f" {callee}"
    sharding = op.attributes.get("sharding")
    if sharding is not None:
        parts.append(f"sharding {sharding}")
    parts += [_type(r.type) for r in op.results]
    return "\\n".join(_esc(p) for p in parts)


def _node(d: _Dot, op: Operation, depth: int) -> None:
    nid = d.node_id(op)
    style = ', style="rounded,filled", fillcolor="#fde8c8"' if op.name in FUSED else ""
    d.emit(f'{nid} [label="{_label(op)}"{style}];', depth)
    _edges(d, op, nid, depth)


def _edges(d: _Dot, op: Operation, nid: str, depth: int) -> None:
    for operand in op.operands:
        src = d.source(operand)
        if src is not None and src != nid:
            d.emit(f"{src} -> {nid};", depth)


def _cluster(d: _Dot, op: Operation, depth: int) -> None:
    """A structured op (loop, branch): a cluster with its regions' ops, and a node for its results."""
    nid = d.node_id(op)
    d.emit(f"subgraph cluster_{nid} {{", depth)
    d.emit(f'label="{_esc(op.name)}"; style="dashed"; color=gray40;', depth + 1)
    d.emit(f'{nid} [label="{_label(op)}", shape=octagon];', depth + 1)
    _edges(d, op, nid, depth + 1)
    for region in op.regions:
        for block in region.blocks:
            for arg in block.args:
                d.ids[id(arg)] = nid  # loop-carried values and induction variables come from the loop
            _block(d, block, depth + 1)
    d.emit("}", depth)


def _output(d: _Dot, op: Operation, depth: int) -> None:
    nid = d.node_id(op)
    types = ", ".join(_type(o.type) for o in op.operands)
    d.emit(f'{nid} [label="return\\n{_esc(types)}", shape=ellipse, style=filled, fillcolor="#e6f4ea"];', depth)
    _edges(d, op, nid, depth)


def render(dot: str, path: str) -> None:
    """Write `dot` rendered by Graphviz to `path` (format from its extension: .svg, .png, .pdf)."""
    fmt = path.rsplit(".", 1)[-1].lower() if "." in path else ""
    if fmt not in ("svg", "png", "pdf"):
        raise LoomError(f"-o '{path}': give a .dot, .svg, .png or .pdf file")
    exe = shutil.which("dot")
    if exe is None:
        raise LoomError(f"rendering {fmt.upper()} needs Graphviz's `dot` program, which is not installed: "
                        "write the DOT text instead (-o graph.dot) and render it elsewhere")
    try:
        subprocess.run([exe, f"-T{fmt}", "-o", path], input=dot.encode(), check=True, capture_output=True, timeout=120)
    except subprocess.CalledProcessError as e:
        raise LoomError(f"Graphviz failed: {e.stderr.decode(errors='replace').strip()}") from None
    except (OSError, subprocess.TimeoutExpired) as e:
        raise LoomError(f"cannot run Graphviz: {e}") from None
