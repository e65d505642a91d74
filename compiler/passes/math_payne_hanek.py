"""Payne–Hanek reduction of a large f64 argument by π/2, for `math-approximation`'s sin and cos.

For |x| ≥ 2^26 the Cody–Waite reduction (x − n·π/2 with π/2 in four exact parts) runs out of
bits, so x·(2/π) mod 4 is computed exactly, in integers, from as many bits of 2/π as x's exponent
needs — one table of 2/π's bits, read at run time (the only memory a `math` expansion reads):

- x = M·2^p with M the 53-bit significand. Bits of 2/π worth 4 or more once multiplied by x do
  not change x·(2/π) mod 4, so the product needs only the window of 2/π's bits that starts where
  their weight in x·(2/π) is 2^1: 189 bits, seven 27-bit limbs, cut from the table (`TABLE`: 2/π's
  bits as 27-bit integers, after two limbs of zeros for |x| < 2^55) with two loads and shifts per
  limb;
- M (two 27-bit limbs) times the window is summed in 27-bit columns (products < 2^54: exact in
  i64) with the carries propagated; column 7 and above are multiples of 4 and dropped. The top
  two bits are the quadrant, the rest the fraction, to 2^-187 — more than the 2^-61·2^-53 that
  the double closest to a multiple of π/2 needs (6381956970095103·2^797: x mod π/2 ≈ 2^-60.9);
- the fraction f, folded to [-½, ½) (with the quadrant moved on), becomes a double-double, and
  r = f·π/2 is returned as (head, tail) with an FMA: the kernels add tail·cos(head) or
  −tail·sin(head).

Branch-free like the rest of `math-approximation` (the loads are gathers when LLVM vectorizes);
tests/test_math_approximation.py checks the quadrant and r against exact rational arithmetic.
"""

from __future__ import annotations

import functools

from xdsl.dialects import arith, math, memref
from xdsl.dialects.builtin import (
    DenseIntOrFPElementsAttr,
    IndexType,
    MemRefType,
    ModuleOp,
    StringAttr,
    TensorType,
    UnitAttr,
    i64,
)
from xdsl.ir import SSAValue

LIMB = 27                    # bits per limb (products of two limbs fit in 53 bits)
PAD = 2                      # limbs of zeros before 2/π's first bit (for 2^26 ≤ |x| < 2^55)
LIMBS = 43                   # 43·27 = 1161 bits of 2/π: the largest finite x needs bit 1158
TABLE = "__loom_two_over_pi"  # the module-level `memref.global` holding them
TABLE_TYPE = MemRefType(i64, [PAD + LIMBS])
PIO2_HI = float.fromhex("0x1.921fb54442d18p+0")   # π/2 = PIO2_HI + PIO2_LO to ~2^-107
PIO2_LO = float.fromhex("0x1.1a62633145c07p-54")
LARGE = 2.0 ** 26            # from here on (Cody–Waite below)


def _atan_inv(n: int, one: int) -> int:
    """atan(1/n)·one, in fixed point (Taylor series)."""
    s, t, k, sign = 0, one // n, 1, 1
    while t:
        s += sign * (t // k)
        t //= n * n
        k += 2
        sign = -sign
    return s


@functools.cache
def two_over_pi_limbs() -> tuple[int, ...]:
    """2/π's bits from the first after the point, as LIMB-bit integers, after PAD limbs of zeros
    (π by Machin's formula, 64 guard bits)."""
    nbits, guard = LIMBS * LIMB, 64
    one = 1 << (nbits + guard)
    pi = 16 * _atan_inv(5, one) - 4 * _atan_inv(239, one)          # π·2^(nbits+guard)
    bits = ((2 << (2 * (nbits + guard))) // pi) >> guard            # ⌊2/π·2^nbits⌋
    mask = (1 << LIMB) - 1
    return (0,) * PAD + tuple((bits >> (nbits - LIMB * (j + 1))) & mask for j in range(LIMBS))


def add_table(module: ModuleOp) -> None:
    """The table as a private constant global at the top of `module` (once)."""
    block = module.body.block
    if any(isinstance(o, memref.GlobalOp) and o.sym_name.data == TABLE for o in block.ops):
        return
    value = DenseIntOrFPElementsAttr.from_list(TensorType(i64, TABLE_TYPE.get_shape()), list(two_over_pi_limbs()))
    table = memref.GlobalOp.get(StringAttr(TABLE), TABLE_TYPE, value, constant=UnitAttr())
    if block.first_op is None:
        block.add_op(table)
    else:
        block.insert_op_before(table, block.first_op)


def reduce(E, xa: SSAValue) -> tuple[SSAValue, SSAValue, SSAValue]:
    """|x| (f64, finite, ≥ 2^26) → (quadrant q as i64, head, tail): |x| = head + tail + q·π/2
    (mod 2π), |head| ≤ π/4. Other inputs give garbage without leaving the table."""
    mask = (1 << LIMB) - 1
    b = E.bits(xa)
    e = E.lshr(b, 52)
    m = E.ior(E.iand(b, (1 << 52) - 1), 1 << 52)                   # x = m·2^p, p = e − 1075
    # the window's first bit, counted in the padded table: p + 52 (2/π's bit p−1 is worth 2^1)
    pos = E.isub(e, 1023)
    pos = E.sel(E.icmp("sgt", pos, 0), pos, E.i(0))                # (small or zero x: no UB)
    q = E.udiv(pos, LIMB)
    r = E.isub(pos, E.imul(q, LIMB))
    table = E._emit(memref.GetGlobalOp(TABLE, TABLE_TYPE))
    words = []
    for k in range(8):                                             # the limbs q … q+7
        idx = E._emit(arith.IndexCastOp(E.iadd(q, k) if k else q, IndexType()))
        words.append(E._emit(memref.LoadOp.get(table, [idx])))
    w = [E.iand(E.ior(E.shl(words[k], r), E.lshr(words[k + 1], E.isub(LIMB, r))), mask) for k in range(7)]
    m0, m1 = E.iand(m, mask), E.lshr(m, LIMB)
    digits, carry = [], None
    for c in range(7):                                             # column c is worth 2^(27c − 187)
        col = E.imul(m0, w[6 - c]) if c == 0 else E.iadd(E.imul(m0, w[6 - c]), E.imul(m1, w[7 - c]))
        s = col if carry is None else E.iadd(col, carry)
        digits.append(E.iand(s, mask))
        carry = E.lshr(s, LIMB)
    quad = E.lshr(digits[6], LIMB - 2)
    top = E.ior(E.shl(E.iand(digits[6], (1 << (LIMB - 2)) - 1), LIMB), digits[5])   # 52 bits
    hi = E.mul(E.sitofp(top), 2.0 ** -52)
    lo = E.add(E.add(E.mul(E.sitofp(digits[2]), 2.0 ** -133), E.mul(E.sitofp(digits[3]), 2.0 ** -106)),
               E.mul(E.sitofp(digits[4]), 2.0 ** -79))
    up = E.cmp("oge", hi, 0.5)                                     # fold to [-½, ½)
    hi = E.sel(up, E.sub(hi, 1.0), hi)
    quad = E.sel(up, E.iadd(quad, 1), quad)
    s = E.add(hi, lo)                                              # |hi| ≥ lo unless hi = 0
    lo = E.sub(lo, E.sub(s, hi))
    head = E.mul(s, PIO2_HI)
    err = E._emit(math.FmaOp(s, E.c(PIO2_HI), E.neg(head), E.flags))
    tail = E.add(err, E.add(E.mul(s, PIO2_LO), E.mul(lo, PIO2_HI)))
    rr = E.add(head, tail)
    return quad, rr, E.sub(tail, E.sub(rr, head))
