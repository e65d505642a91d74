"""What every part of the checker shares: the error constructor, the instance record, the
limits of the element types, shape broadcasting and dimension arithmetic."""

from __future__ import annotations

import difflib
import sys
from collections.abc import Iterator
from contextlib import contextmanager
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
    spmd: object = None  # an `@spmd` function's SpmdSig (compiler/frontend/spmd.py)
    global_view: object = None  # a global-view function's GlobalView (compiler/frontend/global_view.py)


# ------------------------------------------------------------------ shapes
def same_expr(a: A.Node | None, b: A.Node | None) -> bool:
    """Structural equality of two expressions, ignoring spans (without recursion)."""
    pairs = [(a, b)]
    while pairs:
        x, y = pairs.pop()
        if type(x) is not type(y):
            return False
        if not isinstance(x, A.Node):
            if x != y:
                return False
            continue
        for k, v in vars(x).items():
            if k == "span":
                continue
            w = getattr(y, k)
            if isinstance(v, list):
                if not isinstance(w, list) or len(v) != len(w):
                    return False
                pairs.extend(zip(v, w))
            else:
                pairs.append((v, w))
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


ITEMSIZE = {"f32": 4, "f64": 8, "i32": 4, "i64": 8, "bool": 1}


def check_size(t: TensorT, span: Span | None) -> None:
    """A tensor's static part must fit in memory that 64-bit sizes can describe: its nonzero static
    dims' product, in bytes (an empty tensor's too — f32[2**62, 0] has no elements, but no NumPy
    array has that shape either, since NumPy checks the product of the nonzero dims)."""
    if not t.ranked:
        return
    n = 1
    for d in t.shape:
        n *= d if isinstance(d, int) and d else 1
    if n * ITEMSIZE[t.dtype] > I64_MAX:
        empty = "although empty, its nonzero dims make " if 0 in t.shape else ""
        raise err(f"a tensor of type {t} is too large: {empty}{n} elements of {ITEMSIZE[t.dtype]} bytes "
                  f"(at most 2**63 - 1 bytes)", span)


def dim_add(a: Dim, b: Dim) -> Dim:
    if isinstance(a, int) and isinstance(b, int):
        return a + b
    return f"{a}+{b}"


def did_you_mean(name: str, known) -> str:
    """A hint naming the closest of `known` to a misspelt `name` (or nothing)."""
    close = difflib.get_close_matches(name, list(known), n=1)
    return f"; did you mean '{close[0]}'?" if close else ""


RECURSION_LIMIT = 20000  # the checker and IR generator recurse once per level of brackets and blocks


@contextmanager
def deep_recursion(span: Span | None) -> Iterator[None]:
    """Room for the recursion of checking or emitting a function whose brackets and blocks nest
    as deep as the parser allows; a program that still exhausts it is reported at `span`."""
    old = sys.getrecursionlimit()
    sys.setrecursionlimit(max(old, RECURSION_LIMIT))
    try:
        yield
    except RecursionError:
        raise err("the program is nested too deeply for Loom to process", span) from None
    finally:
        sys.setrecursionlimit(old)
