"""Checking the operators (LANGUAGE.md §4): arithmetic, comparisons, `and`/`or`/`not`, `@`,
and the folding of constant expressions. Each rule takes the `FunctionChecker` `fc`, like the
builtins' rules (`builtins.py`)."""

from __future__ import annotations

import math

from compiler.frontend import ast as A
from compiler.frontend.check_common import ARITH_OPS, CMP_OPS, INT_LIMITS, broadcast, err
from compiler.frontend.structs import leafwise_binop, leafwise_unary
from compiler.frontend.types import FLOATS, INTS, RV, Dim, StructV, TensorT


def binop(fc, e: A.BinOp) -> RV | StructV:
    a, b = fc.expr(e.lhs), fc.expr(e.rhs)
    if isinstance(a, StructV) or isinstance(b, StructV):
        return leafwise_binop(fc, e, a, b)
    a, b = fc.rv(a, e.lhs.span), fc.rv(b, e.rhs.span)
    if e.op == "@":
        return matmul(fc, e, a, b)
    if e.op in ("and", "or"):
        if a.type.dtype != "bool" or b.type.dtype != "bool":
            bad = a if a.type.dtype != "bool" else b
            raise err(f"'{e.op}' needs bool operands, got {bad.type}", e.span)
        shape = broadcast(a.type.shape, b.type.shape, e.span)
        const = None
        if isinstance(a.const, bool) and isinstance(b.const, bool):
            const = (a.const and b.const) if e.op == "and" else (a.const or b.const)
        v = RV(TensorT("bool", shape), const=const)
        fc.rec(e, v, dtype="bool")
        return v
    dtype, weak = fc.unify(a, b, e.span, e.lhs.span, e.rhs.span)
    if e.op in ARITH_OPS and dtype == "bool":
        raise err(f"arithmetic '{e.op}' on bool values; convert with i64(x) first", e.span)
    if e.op == "/" and dtype in INTS:
        raise err("'/' is true division and needs floats: use '//' for integer division, or convert with f32(...)", e.span)
    if e.op in CMP_OPS and dtype == "bool" and e.op not in ("==", "!="):
        raise err(f"'{e.op}' does not order bool values", e.span)
    shape = broadcast(a.type.shape, b.type.shape, e.span)
    const = fold(e, a, b, dtype)
    rdt = "bool" if e.op in CMP_OPS else dtype
    v = RV(TensorT(rdt, shape), weak=weak and e.op not in CMP_OPS, const=const)
    fc.rec(e, v, dtype=dtype)
    return v


def fold(e: A.BinOp, a: RV, b: RV, dtype: str):
    x, y = a.const, b.const
    if not (isinstance(x, (int, float)) and isinstance(y, (int, float))) or isinstance(x, bool) or isinstance(y, bool):
        if e.op in ("==", "!=") and isinstance(x, str) and x == y:
            return e.op == "=="
        return None
    if not (a.weak and b.weak) and dtype in FLOATS:
        return None  # strong float arithmetic happens at run time, in its own precision
    op, literal = e.op, a.weak and b.weak
    if op in ("/", "//", "%") and y == 0:
        if dtype in INTS:
            return None  # integer division by zero is a run-time error
        return None  # IEEE: inf or nan, computed at run time in the value's precision
    try:
        if op == "+": r = x + y
        elif op == "-": r = x - y
        elif op == "*": r = x * y
        elif op == "/": r = x / y
        elif op == "//": r = x // y
        elif op == "%": r = x % y
        elif op == "**":
            if dtype in INTS and y < 0:
                return None  # a run-time error
            if x == 0 and y < 0:
                return None
            if dtype in INTS and literal and abs(x) > 1 and y > 64:
                raise err(f"the constant expression {x} ** {y} does not fit in {dtype}", e.span)
            if abs(y) > 4096 and not literal:
                return None  # computed at run time, wrapping around
            r = x ** y
        else:
            r = {"<": x < y, "<=": x <= y, ">": x > y, ">=": x >= y, "==": x == y, "!=": x != y}[op]
    except OverflowError:
        r = math.inf
    if dtype in FLOATS and isinstance(r, float) and not math.isfinite(r):  # literals only (see above)
        raise err(f"the constant expression {x} {op} {y} does not fit in f64", e.span)
    if dtype in INTS and not isinstance(r, bool):
        r = int(r)
        lo, hi = INT_LIMITS[dtype]
        if not lo <= r <= hi:
            if a.weak and b.weak:
                raise err(f"the constant expression {r} does not fit in {dtype}", e.span)
            r = (r - lo) % (hi - lo + 1) + lo  # strong integers wrap around, like at run time
    if isinstance(r, complex):
        return None
    return r


def unary(fc, e: A.UnaryOp) -> RV | StructV:
    a = fc.expr(e.operand)
    if isinstance(a, StructV):
        return leafwise_unary(fc, e, a)
    a = fc.rv(a, e.operand.span)
    if e.op == "not":
        if a.type.dtype != "bool":
            raise err(f"'not' needs a bool operand, got {a.type}", e.span)
        v = RV(a.type, const=(not a.const) if isinstance(a.const, bool) else None)
    else:
        if a.type.dtype == "bool":
            raise err(f"unary '{e.op}' on a bool value", e.span)
        c = a.const if isinstance(a.const, (int, float)) and not isinstance(a.const, bool) else None
        if c is not None and e.op == "-":
            c = -c
        if c is not None and a.type.dtype in FLOATS and not a.weak:
            c = None
        v = RV(a.type, weak=a.weak, const=c)
    fc.rec(e, v)
    return v


def matmul(fc, e: A.BinOp, a: RV, b: RV) -> RV:
    if a.weak or b.weak or a.type.is_scalar or b.type.is_scalar:
        raise err("'@' needs tensors of rank >= 1 on both sides", e.span)
    if not a.type.ranked or not b.type.ranked:
        raise err("'@' needs operands of known rank", e.span)
    if a.type.dtype != b.type.dtype:
        raise err(f"mismatched element types {a.type.dtype} and {b.type.dtype} in '@'", e.span)
    if a.type.dtype == "bool":
        raise err("'@' on bool values", e.span)
    sa, sb = a.type.shape, b.type.shape
    ka = sa[-1]
    kb = sb[0] if len(sb) == 1 else sb[-2]
    if ka != kb:
        raise err(f"'@' contracts dimension {ka} of {a.type} with dimension {kb} of {b.type}", e.span)
    if len(sa) == 1 and len(sb) == 1:
        shape: tuple[Dim, ...] = ()
    elif len(sb) == 1:
        shape = sa[:-1]
    elif len(sa) == 1:
        shape = sb[:-2] + sb[-1:]
    else:
        batch = broadcast(sa[:-2], sb[:-2], e.span, "the batch dimensions of '@'")
        shape = tuple(batch) + (sa[-2], sb[-1])
    v = RV(TensorT(a.type.dtype, shape))
    fc.rec(e, v, dtype=a.type.dtype)
    return v
