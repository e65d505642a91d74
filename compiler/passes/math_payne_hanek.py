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
  two bits are the quadrant, the next 133 the fraction f, to 2^-133 (the two lowest columns only carry):
  more than the 2^-61·2^-53 that the double closest to a multiple of π/2 needs
  (6381956970095103·2^797: x mod π/2 ≈ 2^-60.9);
- f ≥ ½ is folded to −(1 − f) in the integers (the digits' bits flipped, the quadrant moved on):
  folded in doubles, 1 − f would cancel what was rounded away when f is within 2^-53 of 1 (found
  in review: 11–23 ulp just below a multiple of π/2); then f becomes an exact-enough
  double-double and r = f·π/2 is returned as (head, tail) with an FMA: the kernels add
  tail·cos(head) or −tail·sin(head).

Branch-free like the rest of `math-approximation` (the loads are gathers when LLVM vectorizes).
tests/test_llvm_scalar.py checks sin and cos over the whole range (random bit patterns, and the
doubles closest to multiples of π/2 on both sides) against NumPy's `longdouble`; the table against
fdlibm's.
"""

from __future__ import annotations

import functools

from xdsl.dialects import arith, memref
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

from compiler.diagnostics import LoomError, span_of

LIMB = 27                    # bits per limb (a product of two limbs is < 2^54: exact in i64)
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
    value = DenseIntOrFPElementsAttr.from_list(TensorType(i64, TABLE_TYPE.get_shape()), list(two_over_pi_limbs()))
    table = memref.GlobalOp.get(StringAttr(TABLE), TABLE_TYPE, value, constant=UnitAttr())
    for o in block.ops:
        if getattr(o, "sym_name", None) == StringAttr(TABLE):
            if isinstance(o, memref.GlobalOp) and o.type == TABLE_TYPE and o.initial_value == value:
                return  # (the pass ran on this module before)
            raise LoomError(f"math-approximation: the module already defines @{TABLE}, the name of the table "
                            "f64 sin/cos read, as something else", span_of(o))
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
    first = E.udiv(pos, LIMB)                                      # limb and bit of the window's start
    shift = E.isub(pos, E.imul(first, LIMB))
    table = E.emit(memref.GetGlobalOp(TABLE, TABLE_TYPE))
    limbs = []
    for k in range(8):                                             # the limbs first … first+7
        idx = E.emit(arith.IndexCastOp(E.iadd(first, k) if k else first, IndexType()))
        limbs.append(E.emit(memref.LoadOp.get(table, [idx])))
    w = [E.iand(E.ior(E.shl(limbs[k], shift), E.lshr(limbs[k + 1], E.isub(LIMB, shift))), mask) for k in range(7)]
    m0, m1 = E.iand(m, mask), E.lshr(m, LIMB)
    digits, carry = [], None
    for c in range(7):                                             # column c is worth 2^(27c − 187)
        col = E.imul(m0, w[6 - c]) if c == 0 else E.iadd(E.imul(m0, w[6 - c]), E.imul(m1, w[7 - c]))
        total = col if carry is None else E.iadd(col, carry)
        digits.append(E.iand(total, mask))
        carry = E.lshr(total, LIMB)
    # digits[6]'s top 2 bits are the quadrant, the rest the fraction f (digits 0 and 1 only carry). Fold
    # f ≥ ½ to f − 1 = −(1 − f) in the integers — each digit's bits flipped, the next quadrant — so
    # that the double-double below never cancels (1 − f, taken from doubles, would lose what was
    # rounded away when f is within 2^-53 of 1)
    up = E.icmp("ne", E.iand(digits[6], 1 << (LIMB - 3)), 0)
    quad = E.lshr(digits[6], LIMB - 2)
    quad = E.sel(up, E.iadd(quad, 1), quad)
    flip = E.sel(up, E.i(mask), E.i(0))
    d = [E.ixor(digits[c], flip) for c in range(2, 6)] + [E.iand(E.ixor(digits[6], flip), (1 << (LIMB - 3)) - 1)]
    # f (< ½) as a double-double from its first 51 bits (exact), the next 27 (exact) and the 54 after
    hi = E.mul(E.sitofp(E.ior(E.shl(d[4], LIMB), d[3])), 2.0 ** -52)
    mid = E.mul(E.sitofp(d[2]), 2.0 ** -79)
    s1, err = E.two_sum(hi, mid)
    s2 = E.add(err, E.add(E.mul(E.sitofp(d[1]), 2.0 ** -106), E.mul(E.sitofp(d[0]), 2.0 ** -133)))
    f = E.add(s1, s2)                                              # |s1| ≥ |s2|: fast two-sum
    lo = E.sub(s2, E.sub(f, s1))
    f, lo = E.sel(up, E.neg(f), f), E.sel(up, E.neg(lo), lo)
    head = E.mul(f, PIO2_HI)                                       # r = (f + lo)·π/2
    tail = E.add(E.fma(f, PIO2_HI, E.neg(head)), E.add(E.mul(f, PIO2_LO), E.mul(lo, PIO2_HI)))
    r = E.add(head, tail)
    return quad, r, E.sub(tail, E.sub(r, head))
