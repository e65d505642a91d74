"""The Loom abstract syntax tree. Every node carries the `Span` of the source text it came from."""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import TypeVar

from compiler.diagnostics import Span

T = TypeVar("T")


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


def children(node: Node) -> list[Node]:
    """The nodes directly under `node`, in field order."""
    out: list[Node] = []
    for v in vars(node).values():
        if isinstance(v, Node):
            out.append(v)
        elif isinstance(v, list):
            out.extend(x for x in v if isinstance(x, Node))
    return out


def walk(node: Node) -> Iterator[Node]:
    """`node` and every node under it, parents first, without recursion (an expression such as a
    10,000-term sum is a tree that deep). A node's children are read after it is yielded."""
    stack = [node]
    while stack:
        n = stack.pop()
        yield n
        stack.extend(reversed(children(n)))


def clone(node: Node) -> Node:
    """A copy of the tree under `node` made of new nodes (spans shared), without recursion."""
    copies: dict[int, Node] = {}
    for n in reversed(list(walk(node))):  # every node after the nodes under it
        new = copy.copy(n)
        for k, v in vars(n).items():
            if isinstance(v, Node):
                setattr(new, k, copies[id(v)])
            elif isinstance(v, list):
                setattr(new, k, [copies[id(x)] if isinstance(x, Node) else x for x in v])
        copies[id(n)] = new
    return copies[id(node)]


def operator_postorder(e: Expr, skip: Callable[[Expr], bool] = lambda n: False) -> list[Expr]:
    """The operator tree rooted at `e` (its `BinOp`/`UnaryOp` nodes and their other operands) in
    the order a recursive evaluation completes them: operands before operators, left to right.
    Found without recursion; a `skip`ped operand is left out, and so is what lies under it."""
    out: list[Expr] = []
    stack: list[tuple[Expr, bool]] = [(e, False)]
    while stack:
        n, expanded = stack.pop()
        if expanded or not isinstance(n, (BinOp, UnaryOp)):
            out.append(n)
            continue
        stack.append((n, True))
        for k in ([n.rhs, n.lhs] if isinstance(n, BinOp) else [n.operand]):
            if not skip(k):
                stack.append((k, False))
    return out


def evaluate(e: Expr, one: Callable[[Expr], T], memo: dict[int, T], skip: Callable[[Expr], bool] = lambda n: False) -> T:
    """`one(e)` for an expression whose evaluator `one` evaluates operands by calling back (the
    checker's and IR generator's `expr`, which call this first). An operator tree is evaluated
    in `operator_postorder`, each node's value kept in `memo` (by id) for its parent's call back
    while the tree is evaluated: the same order as recursion, at depth one, so a 10,000-term
    chain `x ** x ** …` needs no deep recursion. `skip`ped operands are left to their parents."""
    if id(e) in memo:
        return memo[id(e)]
    if not isinstance(e, (BinOp, UnaryOp)) or skip(e):
        return one(e)
    order = operator_postorder(e, skip)
    try:
        for n in order:
            memo[id(n)] = one(n)
        return memo[id(e)]
    finally:
        for n in order:
            memo.pop(id(n), None)


class _Label(str):
    """A field's name in `dump`'s output."""


def dump(node, indent: int = 0) -> str:
    """A readable, indented dump of an AST (what `loom compile --emit=ast` prints)."""
    lines: list[str] = []
    stack: list[tuple[object, int]] = [(node, indent)]
    while stack:  # without recursion, like `walk`
        n, depth = stack.pop()
        pad = "  " * depth
        if isinstance(n, _Label):
            lines.append(pad + n)
            continue
        if isinstance(n, list):
            stack.extend((x, depth) for x in reversed(n))
            continue
        if not isinstance(n, Node):
            lines.append(pad + repr(n))
            continue
        fields = {k: v for k, v in vars(n).items() if k not in ("span", "name_span", "var_span")}
        simple = {k: v for k, v in fields.items() if not isinstance(v, (Node, list)) or (isinstance(v, list) and not v)}
        head = f"{pad}{type(n).__name__} @{n.span.line}:{n.span.col}"
        if simple:
            head += " " + " ".join(f"{k}={v!r}" for k, v in simple.items() if v is not None)
        lines.append(head)
        for k, v in reversed([(k, v) for k, v in fields.items() if k not in simple]):
            stack.append((v, depth + 2))
            stack.append((_Label(k + ":"), depth + 1))
    return "\n".join(lines)
