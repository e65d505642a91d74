"""The Loom abstract syntax tree. Every node carries the `Span` of the source text it came from."""

from __future__ import annotations

from dataclasses import dataclass, field

from compiler.diagnostics import Span


@dataclass(eq=False)
class Node:
    span: Span


# ---------------------------------------------------------------- expressions
@dataclass(eq=False)
class Expr(Node):
    pass


@dataclass(eq=False)
class Num(Expr):
    text: str
    is_float: bool


@dataclass(eq=False)
class Bool(Expr):
    value: bool


@dataclass(eq=False)
class Str(Expr):
    value: str


@dataclass(eq=False)
class Name(Expr):
    id: str


@dataclass(eq=False)
class BinOp(Expr):
    op: str  # + - * / // % ** @ < <= > >= == != and or
    lhs: Expr
    rhs: Expr


@dataclass(eq=False)
class UnaryOp(Expr):
    op: str  # - not +
    operand: Expr


@dataclass(eq=False)
class Keyword(Node):
    name: str
    value: Expr


@dataclass(eq=False)
class Call(Expr):
    func: Expr
    args: list[Expr]
    kwargs: list[Keyword]


@dataclass(eq=False)
class Slice(Node):
    """`lo:hi:step` inside a subscript; any part may be missing."""

    lo: Expr | None
    hi: Expr | None
    step: Expr | None


@dataclass(eq=False)
class Subscript(Expr):
    value: Expr
    indices: list[Expr | Slice]


@dataclass(eq=False)
class Attribute(Expr):
    value: Expr
    attr: str


@dataclass(eq=False)
class TupleExpr(Expr):
    elts: list[Expr]


# ---------------------------------------------------------------- types
@dataclass(eq=False)
class DimExpr(Node):
    """One dimension of a tensor type: `784`, `D`, `B`, `...S`; `shard` lists mesh axes (`B@dp`)."""

    kind: str  # "int" | "name" | "ellipsis"
    value: int | str
    shard: list[str] | None = None


@dataclass(eq=False)
class TypeExpr(Node):
    """`f32`, `f32[B, 784]` (dims is None for a scalar), or a struct name (dtype is None)."""

    dtype: str | None
    dims: list[DimExpr] | None
    struct: str | None = None


# ---------------------------------------------------------------- statements
@dataclass(eq=False)
class Stmt(Node):
    pass


@dataclass(eq=False)
class Target(Node):
    """An assignment target: `x` or `x[i, :]` (a functional update), or a struct field `p.w`,
    `p.layer.w`, `p.w[i]` (`fields` is the path; the update rebinds `p` to a new struct)."""

    name: str
    indices: list[Expr | Slice] | None = None
    fields: list[str] | None = None


@dataclass(eq=False)
class Assign(Stmt):
    targets: list[Target]
    value: Expr


@dataclass(eq=False)
class Return(Stmt):
    values: list[Expr]


@dataclass(eq=False)
class ExprStmt(Stmt):
    expr: Expr


@dataclass(eq=False)
class If(Stmt):
    cond: Expr
    body: list[Stmt]
    orelse: list[Stmt]  # `elif` is an If inside orelse


@dataclass(eq=False)
class For(Stmt):
    var: str
    var_span: Span
    range_args: list[Expr]
    body: list[Stmt]


@dataclass(eq=False)
class While(Stmt):
    cond: Expr
    bound: Expr | None
    body: list[Stmt]


@dataclass(eq=False)
class With(Stmt):
    ctx: Expr
    body: list[Stmt]


# ---------------------------------------------------------------- top level
@dataclass(eq=False)
class Decorator(Node):
    name: str
    args: list[Expr]
    kwargs: list[Keyword]


@dataclass(eq=False)
class Param(Node):
    name: str
    type: TypeExpr


@dataclass(eq=False)
class FuncDef(Node):
    name: str
    name_span: Span
    params: list[Param]
    returns: list[TypeExpr] | None  # None: inferred
    body: list[Stmt]
    decorators: list[Decorator] = field(default_factory=list)


@dataclass(eq=False)
class ConstDecl(Node):
    name: str
    value: Expr


@dataclass(eq=False)
class MeshAxis(Node):
    name: str
    size: int


@dataclass(eq=False)
class MeshDecl(Node):
    name: str
    axes: list[MeshAxis]


@dataclass(eq=False)
class StructField(Node):
    name: str
    type: TypeExpr


@dataclass(eq=False)
class StructDecl(Node):
    name: str
    fields: list[StructField]


@dataclass(eq=False)
class Binding(Node):
    """A top-level `name = expr`, e.g. `dloss = grad(loss, wrt=p)`."""

    name: str
    value: Expr


@dataclass(eq=False)
class Module(Node):
    file: str
    items: list[Node]


def dump(node, indent: int = 0) -> str:
    """A readable, indented dump of an AST (what `loom compile --emit=ast` prints)."""
    pad = "  " * indent
    if isinstance(node, list):
        return "\n".join(dump(n, indent) for n in node)
    if not isinstance(node, Node):
        return pad + repr(node)
    fields = {k: v for k, v in vars(node).items() if k not in ("span", "name_span", "var_span")}
    simple = {k: v for k, v in fields.items() if not isinstance(v, (Node, list)) or (isinstance(v, list) and not v)}
    head = f"{pad}{type(node).__name__} @{node.span.line}:{node.span.col}"
    if simple:
        head += " " + " ".join(f"{k}={v!r}" for k, v in simple.items() if v is not None)
    lines = [head]
    for k, v in fields.items():
        if k in simple:
            continue
        lines.append(f"{pad}  {k}:")
        lines.append(dump(v, indent + 2))
    return "\n".join(lines)
