"""What the IR emitters share: element types, the `loom` ops of the binary operators, checker
types → IR types, and source spans → locations."""

from __future__ import annotations

from xdsl.dialects.builtin import UNKNOWN_LOC, FileLineColLoc, IntAttr, StringAttr, f32, f64, i1, i32, i64
from xdsl.ir import Attribute

from compiler.diagnostics import Span
from compiler.frontend.types import RankVar, TensorT, flat_types
from dialects import loom

ELEM = {"f32": f32, "f64": f64, "i32": i32, "i64": i64, "bool": i1}
BINARY = {"+": loom.AddOp, "-": loom.SubOp, "*": loom.MulOp, "/": loom.DivOp, "//": loom.FloorDivOp,
          "%": loom.RemOp, "**": loom.PowOp, "and": loom.AndOp, "or": loom.OrOp}
CMP = {"<": "lt", "<=": "le", ">": "gt", ">=": "ge", "==": "eq", "!=": "ne"}


def ir_type(t: TensorT) -> Attribute:
    shape = None if isinstance(t.shape, RankVar) else [d if isinstance(d, int) else loom.DYNAMIC for d in t.shape]
    return loom.make_type(ELEM[t.dtype], shape)


def flat_ir_types(types) -> list[Attribute]:
    """The IR types of checker types, each struct replaced by its leaves."""
    return [ir_type(t) for t in flat_types(types)]


def location(span: Span | None) -> Attribute:
    if span is None:
        return UNKNOWN_LOC
    return FileLineColLoc(StringAttr(span.file), IntAttr(span.line), IntAttr(span.col))


def is_concrete(c) -> bool:
    """A compile-time constant known by value (not a symbolic size's name)."""
    return c is not None and not isinstance(c, str)
