"""What every part of the checker shares: the error constructor, the instance record, the
limits of the element types, shape broadcasting and dimension arithmetic."""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field

from compiler.diagnostics import LoomTypeError, Note, Span
from compiler.frontend import ast as A
from compiler.frontend.types import Dim, NodeInfo, RankVar, Shape, StructT, TensorT, fmt_shape

I64_MIN, I64_MAX = -(2**63), 2**63 - 1
INT_LIMITS = {"i32": (-(2**31), 2**31 - 1), "i64": (I64_MIN, I64_MAX)}
F32_MAX = 3.4028234663852886e38
ARITH_OPS = ("+", "-", "*", "/", "//", "%", "**")
CMP_OPS = ("<", "<=", ">", ">=", "==", "!=")


def err(msg: str, span: Span | None, *notes: Note) -> LoomTypeError:
    return LoomTypeError(msg, span, list(notes))


@dataclass(eq=False)
class Instance:
    """One checked copy of a function for one set of parameter types."""

    fdef: A.FuncDef
    param_types: list[TensorT | StructT]
    bindings: dict
    info: dict[int, NodeInfo] = field(default_factory=dict)
    result_types: list[TensorT | StructT] | None = None
    symbol: str = ""
    done: bool = False


# ------------------------------------------------------------------ shapes
def same_expr(a: A.Node | None, b: A.Node | None) -> bool:
    """Structural equality of two expressions, ignoring spans."""
    if type(a) is not type(b):
        return False
    if a is None:
        return True
    for k, v in vars(a).items():
        if k == "span":
            continue
        w = getattr(b, k)
        if isinstance(v, list):
            if len(v) != len(w) or not all(same_expr(x, y) if isinstance(x, A.Node) else x == y for x, y in zip(v, w)):
                return False
        elif isinstance(v, A.Node):
            if not same_expr(v, w):
                return False
        elif v != w:
            return False
    return True


def broadcast(a: Shape, b: Shape, span: Span, what: str = "operands") -> Shape:
    if a == b:
        return a
    if a == ():
        return b
    if b == ():
        return a
    if isinstance(a, RankVar) or isinstance(b, RankVar):
        raise err(f"{what} have shapes {fmt_shape(a)} and {fmt_shape(b)}: a rank-polymorphic shape only "
                  "broadcasts with a scalar or with itself", span)
    out: list[Dim] = []
    for i in range(1, max(len(a), len(b)) + 1):
        x = a[-i] if i <= len(a) else 1
        y = b[-i] if i <= len(b) else 1
        if x == y or y == 1:
            out.append(x)
        elif x == 1:
            out.append(y)
        else:
            if isinstance(x, str) and isinstance(y, str):
                why = f"symbolic dimensions {x} and {y} never broadcast against each other"
            elif isinstance(x, str) or isinstance(y, str):
                why = f"dimension {x} does not match {y}"
            else:
                why = f"dimension {x} does not match {y}"
            raise err(f"{what} have incompatible shapes {fmt_shape(a)} and {fmt_shape(b)}: {why}", span)
    return tuple(reversed(out))


def dim_add(a: Dim, b: Dim) -> Dim:
    if isinstance(a, int) and isinstance(b, int):
        return a + b
    return f"{a}+{b}"


def did_you_mean(name: str, known) -> str:
    """A hint naming the closest of `known` to a misspelt `name` (or nothing)."""
    close = difflib.get_close_matches(name, list(known), n=1)
    return f"; did you mean '{close[0]}'?" if close else ""
