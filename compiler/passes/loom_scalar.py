"""Scalar semantics of the `loom` elementwise ops, as `arith`/`math`/`scf` ops.

`convert-loom-to-linalg` uses these twice: for ops on scalar values, and inside the body of the
`linalg.generic` it builds for ops on tensors. Each entry takes an `Emitter` and the operand
scalars and returns the result scalar; the Python/NumPy meaning (floor division, modulo with the
sign of the divisor, NaN-propagating maximum, …) is written out here, one small function per op.
"""

from __future__ import annotations

import math as pymath
from collections.abc import Callable

from xdsl.dialects import arith, math, scf
from xdsl.dialects.builtin import (
    Float64Type,
    IndexType,
    UnitAttr,
    i1,
    i64,
)
from xdsl.ir import Attribute, Block, Operation, Region, SSAValue

from dialects import loom
from dialects.arith_ext import RemFOp
from compiler.passes.emitter import CONTRACT, Emitter, is_bool_t, is_float_t

# ---------------------------------------------------------------- binary ops
def sub_not_contracted(e: Emitter, a, b):
    """`a - b` for a `loom.sub` marked `loom.NO_CONTRACT` (a float subtraction: the softmax family's
    shift, layer_norm's centering)."""
    op = arith.SubfOp(a, b)
    op.attributes[loom.NO_CONTRACT] = UnitAttr()
    return e.add(op)


def _add(e: Emitter, a, b):
    return e.add(arith.AddfOp(a, b, CONTRACT) if is_float_t(a.type) else arith.AddiOp(a, b))


def _sub(e, a, b):
    return e.add(arith.SubfOp(a, b, CONTRACT) if is_float_t(a.type) else arith.SubiOp(a, b))


def _mul(e, a, b):
    return e.add(arith.MulfOp(a, b, CONTRACT) if is_float_t(a.type) else arith.MuliOp(a, b))


def _div(e, a, b):
    return e.add(arith.DivfOp(a, b, CONTRACT))


def _nonzero_divisor(e: Emitter, b):
    e.check(e.cmp("ne", b, e.const(0, b.type)), "integer division by zero")


def _safe_divisor(e: Emitter, b):
    """Hardware division traps on MIN / -1 (and on 0, checked before): divide by 1 instead."""
    minus_one = e.cmp("eq", b, e.const(-1, b.type))
    return minus_one, e.select(minus_one, e.const(1, b.type), b)


def _float_divmod(e: Emitter, a, b) -> tuple[SSAValue, SSAValue]:
    """(a // b, a % b) for floats, exactly as NumPy's `npy_divmod` (and Python's `divmod`): the
    remainder from `fmod`, moved to the sign of the divisor; the quotient `(a - mod) / b`, floored
    and snapped to the nearest integer; signed zeros where the result is zero; `a / b` for
    `a // 0`. So `5 // inf == 0`, `-5 // inf == -1`, `-5 % inf == inf`, `inf // 1 == nan`."""
    t = a.type
    zero = e.const(0.0, t)
    mod = e.add(RemFOp(a, b))
    div = e.add(arith.DivfOp(e.add(arith.SubfOp(a, mod)), b))
    # a nonzero remainder with the dividend's sign moves to the divisor's (C's `if (mod)`: NaN too)
    fix = e.add(arith.AndIOp(e.cmp("ne", mod, zero), e.add(arith.XOrIOp(e.cmp("lt", b, zero), e.cmp("lt", mod, zero)))))
    moved = e.select(fix, e.add(arith.AddfOp(mod, b)), mod)
    div = e.select(fix, e.add(arith.SubfOp(div, e.const(1.0, t))), div)
    signed_zero = e.add(math.CopySignOp(zero, b))
    mod = e.select(e.cmp("eq", mod, zero), signed_zero, moved)
    floor = e.add(math.FloorOp(div))
    half_up = e.cmp("gt", e.add(arith.SubfOp(div, floor)), e.const(0.5, t))
    snapped = e.select(half_up, e.add(arith.AddfOp(floor, e.const(1.0, t))), floor)
    quotient = e.add(arith.DivfOp(a, b))
    q = e.select(e.cmp("eq", div, zero), e.add(math.CopySignOp(zero, quotient)), snapped)
    return e.select(e.cmp("eq", b, zero), quotient, q), mod


def _floordiv(e, a, b):
    if is_float_t(a.type):
        return _float_divmod(e, a, b)[0]
    _nonzero_divisor(e, b)
    minus_one, safe = _safe_divisor(e, b)
    q = e.add(arith.FloorDivSIOp(a, safe))
    return e.select(minus_one, _neg(e, a), q)  # MIN // -1 wraps to MIN, as in NumPy


def _rem(e, a, b):
    """Python's modulo: the result has the sign of the divisor."""
    if is_float_t(a.type):
        return _float_divmod(e, a, b)[1]
    zero = e.const(0, a.type)
    _nonzero_divisor(e, b)
    minus_one, safe = _safe_divisor(e, b)
    r = e.select(minus_one, zero, e.add(arith.RemSIOp(a, safe)))
    fix = e.add(arith.AndIOp(e.cmp("ne", r, zero),
                             e.cmp("ne", e.cmp("lt", r, zero), e.cmp("lt", b, zero))))
    return e.select(fix, e.add(arith.AddiOp(r, b)), r)


def _ipow(e: Emitter, a, b):
    """Integer power by repeated squaring (an `scf.while`); negative exponents are an error."""
    t = a.type
    e.check(e.cmp("ge", b, e.const(0, t)), "integers cannot be raised to negative integer powers")
    before = Block(arg_types=[t, t, t])
    r, base, n = before.args
    bef = Emitter(e.loc)
    go = bef.cmp("gt", n, bef.const(0, t))
    bef.add(scf.ConditionOp(go, r, base, n))
    before.add_ops(bef.ops)
    after = Block(arg_types=[t, t, t])
    r, base, n = after.args
    aft = Emitter(e.loc)
    one = aft.const(1, t)
    odd = aft.cmp("ne", aft.add(arith.AndIOp(n, one)), aft.const(0, t))
    r2 = aft.select(odd, aft.add(arith.MuliOp(r, base)), r)
    aft.add(scf.YieldOp(r2, aft.add(arith.MuliOp(base, base)), aft.add(arith.ShRSIOp(n, one))))
    after.add_ops(aft.ops)
    loop = scf.WhileOp([e.const(1, t), a, b], [t, t, t], Region(before), Region(after))
    e.add(loop)
    return loop.results[0]


def _pow(e, a, b):
    if is_float_t(a.type):
        return e.add(math.PowFOp(a, b))
    return _ipow(e, a, b)


def _maximum(e, a, b):
    if is_float_t(a.type):
        return e.add(arith.MaximumfOp(a, b))
    return e.add(arith.MaxUIOp(a, b) if is_bool_t(a.type) else arith.MaxSIOp(a, b))


def _minimum(e, a, b):
    if is_float_t(a.type):
        return e.add(arith.MinimumfOp(a, b))
    return e.add(arith.MinUIOp(a, b) if is_bool_t(a.type) else arith.MinSIOp(a, b))


BINARY: dict[type[Operation], Callable] = {
    loom.AddOp: _add, loom.SubOp: _sub, loom.MulOp: _mul, loom.DivOp: _div,
    loom.FloorDivOp: _floordiv, loom.RemOp: _rem, loom.PowOp: _pow,
    loom.MaximumOp: _maximum, loom.MinimumOp: _minimum,
    loom.AndOp: lambda e, a, b: e.add(arith.AndIOp(a, b)),
    loom.OrOp: lambda e, a, b: e.add(arith.OrIOp(a, b)),
}


# ---------------------------------------------------------------- unary ops
def _neg(e, a):
    return e.add(arith.NegfOp(a)) if is_float_t(a.type) else e.add(arith.SubiOp(e.const(0, a.type), a))


def _sigmoid(e, a):
    one = e.const(1.0, a.type)
    return e.add(arith.DivfOp(one, e.add(arith.AddfOp(one, e.add(math.ExpOp(e.add(arith.NegfOp(a))))))))


def _relu(e, a):
    return _maximum(e, a, e.const(0, a.type))


def _gelu(e, a):
    """0.5·a·(1 + tanh(u)), u = √(2/π)(a + 0.044715a³), as a / (1 + exp(-2u)): the same function
    without the cancellation of 1 + tanh(u) for a < 0 (at a = -3 in f32 it kept 5 digits)."""
    t = a.type
    c = e.const(-2.0 * pymath.sqrt(2.0 / pymath.pi), t)
    x3 = e.add(arith.MulfOp(e.add(arith.MulfOp(a, a, CONTRACT)), a, CONTRACT))
    minus_2u = e.add(arith.MulfOp(c, e.add(arith.AddfOp(a, e.add(arith.MulfOp(e.const(0.044715, t), x3, CONTRACT)), CONTRACT)), CONTRACT))
    one = e.const(1.0, t)
    return e.add(arith.DivfOp(a, e.add(arith.AddfOp(one, e.add(math.ExpOp(minus_2u)), CONTRACT))))


def _abs(e, a):
    return e.add(math.AbsFOp(a)) if is_float_t(a.type) else e.add(math.AbsIOp(a))


def _sign(e, a):
    t = a.type
    zero, one, minus = e.const(0, t), e.const(1, t), e.const(-1, t)
    neg = e.select(e.cmp("lt", a, zero), minus, a if is_float_t(t) else zero)  # keeps NaN, ±0
    return e.select(e.cmp("gt", a, zero), one, neg)


UNARY: dict[type[Operation], Callable] = {
    loom.NegOp: _neg,
    loom.NotOp: lambda e, a: e.add(arith.XOrIOp(a, e.const(1, i1))),
    loom.ExpOp: lambda e, a: e.add(math.ExpOp(a)),
    loom.LogOp: lambda e, a: e.add(math.LogOp(a)),
    loom.SqrtOp: lambda e, a: e.add(math.SqrtOp(a)),
    loom.RsqrtOp: lambda e, a: e.add(arith.DivfOp(e.const(1.0, a.type), e.add(math.SqrtOp(a)))),
    loom.TanhOp: lambda e, a: e.add(math.TanhOp(a)),
    loom.SigmoidOp: _sigmoid,
    loom.ReluOp: _relu,
    loom.GeluOp: _gelu,
    loom.AbsOp: _abs,
    loom.SinOp: lambda e, a: e.add(math.SinOp(a)),
    loom.CosOp: lambda e, a: e.add(math.CosOp(a)),
    loom.SignOp: _sign,
}


def convert(e: Emitter, a: SSAValue, to: Attribute) -> SSAValue:
    """Element-type conversion with loom.convert's meaning (checked float→int)."""
    src = a.type
    if src == to:
        return a
    if is_bool_t(to):
        return e.cmp("ne", a, e.const(0, src))
    if is_float_t(src) and is_float_t(to):
        return e.add(arith.ExtFOp(a, to) if isinstance(to, Float64Type) else arith.TruncFOp(a, to))
    if is_float_t(src):  # → integer: NaN, inf and out-of-range values are run-time errors
        bits = to.width.data
        finite = e.cmp("lt", e.add(math.AbsFOp(a)), e.const(float("inf"), src))  # false for NaN
        e.check(finite, "cannot convert a NaN or infinite value to an integer")
        lo, hi = e.const(-(2.0 ** (bits - 1)), src), e.const(2.0 ** (bits - 1), src)
        t = e.add(math.TruncOp(a))
        ok = e.add(arith.AndIOp(e.cmp("ge", t, lo), e.cmp("lt", t, hi)))
        e.check(ok, f"a value is out of range for int{bits}")
        return e.add(arith.FPToSIOp(a, to))
    if is_float_t(to):
        return e.add(arith.UIToFPOp(a, to) if is_bool_t(src) else arith.SIToFPOp(a, to))
    if is_bool_t(src):
        return e.add(arith.ExtUIOp(a, to))
    if to.width.data > src.width.data:
        return e.add(arith.ExtSIOp(a, to))
    return e.add(arith.TruncIOp(a, to))


def to_index(e: Emitter, a: SSAValue) -> SSAValue:
    return e.add(arith.IndexCastOp(a, IndexType()))


def from_index(e: Emitter, a: SSAValue, t: Attribute = i64) -> SSAValue:
    return e.add(arith.IndexCastOp(a, t))
