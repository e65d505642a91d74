"""`math-approximation`: `math.{exp,log,tanh,sin,cos,expm1,log1p}` on scalar f32/f64 → pure `arith`.

The point is vectorization: LLVM has no vector form of libm's `tanhf`/`expf`/`logf` (without a
vector math library), so a loop that calls them stays scalar. These expansions are branch-free
straight-line code (compares and selects instead of branches, no calls, one table: f64 sin/cos's
bits of 2/π), which LLVM's loop vectorizer turns into `<16 x float>` code.

Methods (Cephes/FreeBSD-msun style; coefficients are the published minimax ones):
- exp: n = rint(x·log2 e) by the 1.5·2^p "magic number" trick (which also yields n's bits), a
  two-constant Cody–Waite reduction r = x − n·ln 2, Cephes' polynomial (f32) or rational (f64)
  approximation of e^r, and 2^n applied as two exact power-of-two factors (so that results near
  the overflow and underflow thresholds come out right). The argument is clamped first.
- log: frexp by bit manipulation (denormals are scaled by 2^23 / 2^52 first), mantissa in
  [√½, √2), Cephes' polynomial (f32) / rational (f64) for log(1+f); exact special cases.
- tanh: odd polynomial (f32) / rational (f64) for |x| < 0.625, otherwise 1 − 2/(e^{2|x|}+1).
- sin/cos f32: computed in f64 with a table-free Payne–Hanek reduction that is exact over the
  whole float range: the 24-bit chunks of 2/π that matter for x's exponent are chosen with
  selects, products x·chunk are exact in f64, and the quadrant is taken mod 4 with the magic
  trick; then FreeBSD's `__kernel_sindf`/`__kernel_cosdf` polynomials.
- sin/cos f64: four-part Cody–Waite reduction (27-bit parts of π/2, exact products) for
  |x| < 2^26, and from there on an exact Payne–Hanek reduction in integers that reads the bits of
  2/π x's exponent needs from a table (`math_payne_hanek`: the one table, a module-level
  `memref.global`; r comes back as head + tail, and the kernels add the tail's first-order term);
  fdlibm kernels. ≈ 2–3e-16 relative over the whole range (tests/test_llvm_scalar.py); on 4,000
  doubles closest to multiples of π/2 (found by lattice reduction, both sides, every exponent)
  within 0.5 ulp of the correctly rounded value. Every lane computes both reductions (no branches), so
  an f64 sin costs about five times the Cody–Waite-only expansion it replaced (docs/backend.md).
- expm1/log1p: Kahan's tricks on top of exp/log ((u−1)·x/log u and log(u)·x/(u−1)).

The op's `fastmath` flags are put on every new float op, except `reassoc` (it would let LLVM
undo the exact reductions). Locations are copied from the replaced op.

Example (f32 exp; the full expansion is about 55 ops):

    %6 = memref.load %x[%5] : memref<4xf32>
    %7 = math.exp %6 : f32
becomes
    %6 = memref.load %x[%5] : memref<4xf32>
    %7 = arith.constant 8.880000e+01 : f32
    %8 = arith.cmpf olt, %6, %7 : f32
    %9 = arith.select %8, %6, %7 : f32              (clamp to [-104, 88.8])
    …
    %13 = arith.constant 1.44269502 : f32
    %14 = arith.mulf %12, %13 : f32
    %15 = arith.constant 0x4B400000 : f32           (n = rint(x·log2 e), magic number)
    %16 = arith.addf %14, %15 : f32
    %17 = arith.subf %16, %15 : f32
    …                                               (Cody–Waite reduction, polynomial, 2^n)
    %60 = arith.mulf %59, %58 : f32
    %61 = arith.cmpf uno, %6, %6 : f32
    %62 = arith.select %61, %6, %60 : f32           (NaN in, NaN out)
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from xdsl.context import Context
from xdsl.dialects import arith, math, memref
from xdsl.dialects.builtin import (
    Float32Type,
    Float64Type,
    FloatAttr,
    IntegerAttr,
    ModuleOp,
    f64,
    i32,
    i64,
)
from xdsl.dialects.utils.fast_math import FastMathFlag
from xdsl.ir import Attribute, Operation, SSAValue
from xdsl.passes import ModulePass
from xdsl.pattern_rewriter import (
    PatternRewriter,
    PatternRewriteWalker,
    RewritePattern,
)

from compiler.passes import math_payne_hanek as payne_hanek
from compiler.passes.emitter import Emitter

# ----------------------------------------------------------------------------------------------
# The kernel builder: float kernels written like formulas. Arguments may be SSA values or Python
# numbers (floats become float constants of the builder's type, ints become integer constants);
# the ops go to the shared `Emitter`, which gives them the replaced op's location.
# ----------------------------------------------------------------------------------------------


class KernelBuilder:
    def __init__(self, ft: Attribute, flags: arith.FastMathFlagsAttr, emitter: Emitter):
        self.ft = ft
        self.is64 = isinstance(ft, Float64Type)
        self.it = i64 if self.is64 else i32
        self.flags = flags
        self.emitter = emitter
        self._consts: dict = {}

    def retyped(self, ft: Attribute) -> KernelBuilder:
        return KernelBuilder(ft, self.flags, self.emitter)

    def emit(self, op: Operation) -> SSAValue:
        return self.emitter.add(op)

    def c(self, v) -> SSAValue:
        if isinstance(v, SSAValue):
            return v
        key = ("f", struct.pack("<d", float(v)))
        if key not in self._consts:
            self._consts[key] = self.emit(arith.ConstantOp(FloatAttr(float(v), self.ft)))
        return self._consts[key]

    def i(self, v) -> SSAValue:
        if isinstance(v, SSAValue):
            return v
        key = ("i", v)
        if key not in self._consts:
            w = self.it.width.data
            v = (v + (1 << (w - 1))) % (1 << w) - (1 << (w - 1))  # as a signed value
            self._consts[key] = self.emit(arith.ConstantOp(IntegerAttr(v, self.it)))
        return self._consts[key]

    # float arithmetic
    def add(self, a, b): return self.emit(arith.AddfOp(self.c(a), self.c(b), self.flags))
    def sub(self, a, b): return self.emit(arith.SubfOp(self.c(a), self.c(b), self.flags))
    def mul(self, a, b): return self.emit(arith.MulfOp(self.c(a), self.c(b), self.flags))
    def div(self, a, b): return self.emit(arith.DivfOp(self.c(a), self.c(b), self.flags))
    def neg(self, a): return self.emit(arith.NegfOp(a, self.flags))
    def abs(self, a): return self.emit(math.AbsFOp(a, self.flags))
    def fma(self, a, b, c): return self.emit(math.FmaOp(self.c(a), self.c(b), self.c(c), self.flags))
    def copysign(self, a, b): return self.emit(math.CopySignOp(self.c(a), self.c(b), self.flags))
    def cmp(self, pred: str, a, b): return self.emit(arith.CmpfOp(self.c(a), self.c(b), pred, self.flags))
    def sel(self, cond, a, b): return self.emit(arith.SelectOp(cond, self.c(a), self.c(b)))

    def two_sum(self, a, b):
        """(s, err) with s = fl(a + b) and s + err = a + b exactly (Knuth's two-sum, any order)."""
        s = self.add(a, b)
        bb = self.sub(s, a)
        return s, self.add(self.sub(a, self.sub(s, bb)), self.sub(b, bb))

    def poly(self, x, coeffs):
        """Horner: coeffs[0]·x^(n-1) + … + coeffs[-1]."""
        acc = self.c(coeffs[0])
        for k in coeffs[1:]:
            acc = self.add(self.mul(acc, x), k)
        return acc

    # integer views
    def bits(self, a): return self.emit(arith.BitcastOp(a, self.it))
    def flt(self, a): return self.emit(arith.BitcastOp(a, self.ft))
    def iadd(self, a, b): return self.emit(arith.AddiOp(self.i(a), self.i(b)))
    def isub(self, a, b): return self.emit(arith.SubiOp(self.i(a), self.i(b)))
    def imul(self, a, b): return self.emit(arith.MuliOp(self.i(a), self.i(b)))
    def udiv(self, a, b): return self.emit(arith.DivUIOp(self.i(a), self.i(b)))
    def iand(self, a, b): return self.emit(arith.AndIOp(self.i(a), self.i(b)))
    def ior(self, a, b): return self.emit(arith.OrIOp(self.i(a), self.i(b)))
    def ixor(self, a, b): return self.emit(arith.XOrIOp(self.i(a), self.i(b)))
    def shl(self, a, b): return self.emit(arith.ShLIOp(self.i(a), self.i(b)))
    def ashr(self, a, b): return self.emit(arith.ShRSIOp(self.i(a), self.i(b)))
    def lshr(self, a, b): return self.emit(arith.ShRUIOp(self.i(a), self.i(b)))
    def icmp(self, pred: str, a, b): return self.emit(arith.CmpiOp(self.i(a), self.i(b), pred))
    def sitofp(self, a): return self.emit(arith.SIToFPOp(a, self.ft))
    def to(self, a, ft):
        if ft == a.type:
            return a
        cls = arith.ExtFOp if isinstance(ft, Float64Type) else arith.TruncFOp
        return self.emit(cls(a, ft))


# ----------------------------------------------------------------------------------------------
# Building blocks
# ----------------------------------------------------------------------------------------------

def _magic(E: KernelBuilder) -> float:
    return 1.5 * 2.0 ** (52 if E.is64 else 23)


def rint(E: KernelBuilder, x):
    """(round-to-nearest(x) as a float, the same as an integer); |x| < 2^22 (f32) / 2^51 (f64)."""
    t = E.add(x, _magic(E))
    magic_bits = struct.unpack("<q", struct.pack("<d", _magic(E)))[0] if E.is64 else \
        struct.unpack("<i", struct.pack("<f", _magic(E)))[0]
    return E.sub(t, _magic(E)), E.isub(E.bits(t), magic_bits)


def ldexp(E: KernelBuilder, y, n, split: bool = True):
    """y·2^n for integer n in [-2·(bias-1), 2·bias] as two exact power-of-two factors (one factor
    when `split` is off: n in [1-bias, bias])."""
    mant, bias = (52, 1023) if E.is64 else (23, 127)
    if not split:
        return E.mul(y, E.flt(E.shl(E.iadd(n, bias), mant)))
    n1 = E.ashr(n, 1)
    n2 = E.isub(n, n1)
    s1 = E.flt(E.shl(E.iadd(n1, bias), mant))
    s2 = E.flt(E.shl(E.iadd(n2, bias), mant))
    return E.mul(E.mul(y, s1), s2)


def _exp_reduced(E: KernelBuilder, x, split: bool = True):
    """e^x for finite x within the clamping range (no NaN, no clamping); without `split`, only for
    x in [0, 88] (f32) / [0, 709] (f64)."""
    n, ni = rint(E, E.mul(x, 1.4426950408889634))
    if E.is64:
        r = E.sub(E.sub(x, E.mul(n, 6.93145751953125e-1)), E.mul(n, 1.42860682030941723212e-6))
        rr = E.mul(r, r)
        px = E.mul(r, E.poly(rr, [1.26177193074810590878e-4, 3.02994407707441961300e-2,
                                 9.99999999999999999910e-1]))
        q = E.poly(rr, [3.00198505138664455042e-6, 2.52448340349684104192e-3,
                        2.27265548208155028766e-1, 2.00000000000000000009e0])
        y = E.add(1.0, E.mul(2.0, E.div(px, E.sub(q, px))))
    else:
        r = E.sub(E.sub(x, E.mul(n, 0.693359375)), E.mul(n, -2.12194440e-4))
        p = E.poly(r, [1.9875691500e-4, 1.3981999507e-3, 8.3334519073e-3, 4.1665795894e-2,
                       1.6666665459e-1, 5.0000001201e-1])
        y = E.add(E.add(E.mul(p, E.mul(r, r)), r), 1.0)
    return ldexp(E, y, ni, split)


def _clamp(E: KernelBuilder, x, lo: float, hi: float):
    """min(max(x, lo), hi), with NaN → hi (so that later integer conversions stay defined)."""
    x = E.sel(E.cmp("olt", x, hi), x, hi)
    return E.sel(E.cmp("ogt", x, lo), x, lo)


def exp(E: KernelBuilder, x):
    lo, hi = (-746.0, 710.0) if E.is64 else (-104.0, 88.8)
    y = _exp_reduced(E, _clamp(E, x, lo, hi))
    return E.sel(E.cmp("uno", x, x), x, y)


def log(E: KernelBuilder, x):
    if E.is64:
        tiny, scale, scale_e, mant, sign_half = 2.0 ** -1022, 2.0 ** 52, 52, 52, 0x3FE0000000000000
        mant_mask, bias = (1 << 52) - 1, 1022
    else:
        tiny, scale, scale_e, mant, sign_half = 2.0 ** -126, 2.0 ** 23, 23, 23, 0x3F000000
        mant_mask, bias = (1 << 23) - 1, 126
    small = E.cmp("olt", x, tiny)                     # denormals (and ≤ 0, fixed up below)
    xs = E.sel(small, E.mul(x, scale), x)
    b = E.bits(xs)
    e = E.sitofp(E.isub(E.lshr(b, mant), bias))
    e = E.sub(e, E.sel(small, float(scale_e), 0.0))
    m = E.flt(E.ior(E.iand(b, mant_mask), sign_half))  # m in [0.5, 1)
    lt = E.cmp("olt", m, 0.70710678118654752440)
    e = E.sub(e, E.sel(lt, 1.0, 0.0))
    f = E.sub(E.sel(lt, E.add(m, m), m), 1.0)        # f in [√½-1, √2-1)
    z = E.mul(f, f)
    if E.is64:
        p = E.poly(f, [1.01875663804580931796e-4, 4.97494994976747001425e-1, 4.70579119878881725854e0,
                       1.44989225341610930846e1, 1.79368678507819816313e1, 7.70838733755885391666e0])
        q = E.poly(f, [1.0, 1.12873587189167450590e1, 4.52279145837532221105e1, 8.29875266912776603211e1,
                       7.11544750618563894466e1, 2.31251620126765340583e1])
        y = E.mul(f, E.div(E.mul(z, p), q))
    else:
        p = E.poly(f, [7.0376836292e-2, -1.1514610310e-1, 1.1676998740e-1, -1.2420140846e-1,
                       1.4249322787e-1, -1.6668057665e-1, 2.0000714765e-1, -2.4999993993e-1,
                       3.3333331174e-1])
        y = E.mul(E.mul(p, f), z)
    y = E.add(y, E.mul(e, -2.121944400546905827679e-4))
    y = E.sub(y, E.mul(z, 0.5))
    r = E.add(E.add(f, y), E.mul(e, 0.693359375))
    r = E.sel(E.cmp("oeq", x, float("inf")), x, r)
    r = E.sel(E.cmp("oeq", x, 0.0), float("-inf"), r)
    return E.sel(E.cmp("ult", x, 0.0), float("nan"), r)   # x < 0 or NaN


def tanh(E: KernelBuilder, x):
    s = E.mul(x, x)
    if E.is64:
        p = E.div(E.poly(s, [-9.64399179425052238628e-1, -9.92877231001918586564e1, -1.61468768441708447952e3]),
                  E.poly(s, [1.0, 1.12811678491632931402e2, 2.23548839060100448583e3, 4.84406305325125486048e3]))
        small = E.add(x, E.mul(E.mul(x, s), p))
    else:
        p = E.poly(s, [-5.70498872745e-3, 2.06390887954e-2, -5.37397155531e-2, 1.33314422036e-1,
                       -3.33332819422e-1])
        small = E.add(E.mul(E.mul(p, s), x), x)
    z = E.abs(x)
    zc = E.sel(E.cmp("olt", z, 20.0 if E.is64 else 10.0), z, 20.0 if E.is64 else 10.0)
    big = E.sub(1.0, E.div(2.0, E.add(_exp_reduced(E, E.add(zc, zc), split=False), 1.0)))
    y = E.sel(E.cmp("ult", z, 0.625), small, big)       # NaN takes the polynomial: NaN
    return E.copysign(y, x)                             # tanh(-0) = -0


def expm1(E: KernelBuilder, x):
    u = exp(E, x)
    um1 = E.sub(u, 1.0)
    y = E.mul(um1, E.div(x, log(E, u)))                 # Kahan: (u-1)·x/log(u)
    y = E.sel(E.cmp("oeq", u, 1.0), x, y)               # tiny x (also ±0)
    y = E.sel(E.cmp("oeq", um1, -1.0), -1.0, y)
    y = E.sel(E.cmp("oeq", u, float("inf")), u, y)
    return E.sel(E.cmp("uno", x, x), x, y)


def log1p(E: KernelBuilder, x):
    u = E.add(x, 1.0)
    um1 = E.sub(u, 1.0)
    y = E.mul(log(E, u), E.div(x, um1))                 # Kahan: log(u)·x/(u-1)
    y = E.sel(E.cmp("oeq", um1, 0.0), x, y)             # tiny x (also ±0)
    y = E.sel(E.cmp("oeq", u, float("inf")), u, y)
    y = E.sel(E.cmp("oeq", u, 0.0), float("-inf"), y)
    return E.sel(E.cmp("ult", u, 0.0), float("nan"), y)  # x < -1 or NaN


# sin/cos -------------------------------------------------------------------------------------

# 24-bit chunks of 2/π: K[j] = c_j·2^(-24(j+1)), exact doubles
_K = [float.fromhex(h) for h in (
    "0x1.45f306p-1", "0x1.b93910p-26", "0x1.529fc0p-52", "0x1.3abe88p-75", "0x1.ea69bap-97",
    "0x1.81b6c4p-121", "0x1.2b3278p-145", "0x1.0e4104p-170")]
_PIO2 = 1.5707963267948966
# π/2 as 27+27+27+53 bits (products with n < 2^26 are exact)
_PIO2_PARTS = [float.fromhex(h) for h in (
    "0x1.921fb54p+0", "0x1.10b461p-30", "0x1.a626330p-58", "0x1.45c06e0e68948p-86")]


def _sin_kernel_f(D: KernelBuilder, r, z):  # FreeBSD __kernel_sindf: |error| < 2^-37.5 relative
    w = D.mul(z, z)
    s = D.mul(z, r)
    return D.add(D.add(r, D.mul(s, D.poly(z, [0x111110896efbb2 * 2.0 ** -59, -0x15555554cbac77 * 2.0 ** -55]))),
                 D.mul(D.mul(s, w), D.poly(z, [0x16cd878c3b46a7 * 2.0 ** -71, -0x1a00f9e2cae774 * 2.0 ** -65])))


def _cos_kernel_f(D: KernelBuilder, z):  # FreeBSD __kernel_cosdf: |error| < 2^-34.1
    w = D.mul(z, z)
    return D.add(D.add(D.add(1.0, D.mul(z, -0x1ffffffd0c5e81 * 2.0 ** -54)), D.mul(w, 0x155553e1053a42 * 2.0 ** -57)),
                 D.mul(D.mul(w, z), D.poly(z, [0x199342e0ee5069 * 2.0 ** -68, -0x16c087e80f1e27 * 2.0 ** -62])))


def _sin_kernel_d(D: KernelBuilder, r, z):  # fdlibm __kernel_sin (tail-free)
    p = D.poly(z, [1.58969099521155010221e-10, -2.50507602534068634195e-08, 2.75573137070700676789e-06,
                   -1.98412698298579493134e-04, 8.33333333332248946124e-03])
    return D.add(r, D.mul(D.mul(z, r), D.add(-1.66666666666666324348e-01, D.mul(z, p))))


def _cos_kernel_d(D: KernelBuilder, z):  # fdlibm __kernel_cos (tail-free)
    r = D.mul(z, D.poly(z, [-1.13596475577881948265e-11, 2.08757232129817482790e-09, -2.75573143513906633035e-07,
                            2.48015872894767294178e-05, -1.38888888888741095749e-03, 4.16666666666666019037e-02]))
    hz = D.mul(z, 0.5)
    w = D.sub(1.0, hz)
    return D.add(w, D.add(D.sub(D.sub(1.0, w), hz), D.mul(z, r)))


def _reduce_f32(E: KernelBuilder, x):
    """|x| (f32) → (r in f64 with |r| ≤ ~π/4, quadrant bits as i64): |x| = r + q·π/2 (mod 2π)."""
    D = E.retyped(f64)
    xa = D.abs(E.to(x, f64))
    ebits = E.iand(E.lshr(E.bits(x), 23), 0xFF)
    wide = [E.icmp("sge", ebits, t) for t in (176, 200, 224, 248)]  # which chunks still matter

    def chunk(k):
        v = D.c(_K[k])
        for step, cond in enumerate(wide):
            v = D.sel(cond, _K[k + step + 1], v)
        return v

    t = [D.mul(xa, chunk(k)) for k in range(4)]  # exact products
    m4 = 1.5 * 2.0 ** 54                         # rounds to a multiple of 4
    t0 = D.sub(t[0], D.sub(D.add(t[0], m4), m4))
    t1 = D.sub(t[1], D.sub(D.add(t[1], m4), m4))
    a = D.add(t0, t1)                            # exact
    q1, _ = rint(D, a)
    a = D.sub(a, q1)
    s, err = D.two_sum(a, t[2])
    q2, _ = rint(D, s)
    f = D.add(D.sub(s, q2), D.add(err, t[3]))
    _, qi = rint(D, D.add(q1, q2))
    return D, D.mul(f, _PIO2), qi


def _reduce_f64(E: KernelBuilder, x):
    """|x| → (r = head + tail, |head| ≤ ~π/4, quadrant bits): Cody–Waite below 2^26 (exact products
    n·part for n < 2^26), Payne–Hanek from there on (math_payne_hanek); inf and NaN give NaN."""
    xa = E.abs(x)
    n, qi = rint(E, E.mul(xa, 0.6366197723675814))
    r = xa
    for p in _PIO2_PARTS:
        r = E.sub(r, E.mul(n, p))
    large = E.iand(E.cmp("oge", xa, payne_hanek.LARGE), E.cmp("olt", xa, float("inf")))
    qb, rb, tail = payne_hanek.reduce(E, xa)
    return E, E.sel(large, rb, r), E.sel(large, tail, 0.0), E.sel(large, qb, qi)


def _sincos(E: KernelBuilder, x, want_cos: bool):
    if E.is64:
        D, r, tail, q = _reduce_f64(E, x)
    else:
        D, r, q = _reduce_f32(E, x)
    z = D.mul(r, r)
    s = (_sin_kernel_d if E.is64 else _sin_kernel_f)(D, r, z)
    c = (_cos_kernel_d if E.is64 else _cos_kernel_f)(D, z)
    if E.is64:                                   # sin(r + t) ≈ sin r + t·cos r, cos(r + t) ≈ cos r − t·sin r
        s, c = D.add(s, D.mul(tail, c)), D.sub(c, D.mul(tail, s))
    if want_cos:
        q = D.iadd(q, 1)                         # cos x = sin(x + π/2)
    odd = D.icmp("ne", D.iand(q, 1), 0)
    neg = D.icmp("ne", D.iand(q, 2), 0)
    v = D.sel(odd, c, s)
    v = D.sel(neg, D.neg(v), v)
    v = E.to(v, E.ft)
    if not want_cos:                             # sin is odd: put x's sign back (exactly)
        sign = E.iand(E.bits(x), 1 << (63 if E.is64 else 31))
        v = E.flt(E.ixor(E.bits(v), sign))
    return v


def sin(E: KernelBuilder, x):
    return _sincos(E, x, False)


def cos(E: KernelBuilder, x):
    return _sincos(E, x, True)


# ----------------------------------------------------------------------------------------------
# Patterns
# ----------------------------------------------------------------------------------------------

def _flags(op: Operation) -> arith.FastMathFlagsAttr:
    fm = getattr(op, "fastmath", None)
    flags = {FastMathFlag(f) for f in fm.data} if fm is not None else set()
    flags.discard(FastMathFlag.REASSOC)
    return arith.FastMathFlagsAttr(flags)


# op → its expansion into arith (the functions above)
APPROXIMATIONS = {math.ExpOp: exp, math.LogOp: log, math.TanhOp: tanh, math.SinOp: sin, math.CosOp: cos,
                  math.ExpM1Op: expm1, math.Log1pOp: log1p}


class Approximate(RewritePattern):
    """A `math` op on a scalar f32/f64 → its polynomial/rational expansion."""

    def __init__(self):
        self.uses_table = False  # an expansion read 2/π's bits (math_payne_hanek.TABLE)

    def match_and_rewrite(self, op: Operation, rewriter: PatternRewriter, /):
        expand = APPROXIMATIONS.get(type(op))
        ft = op.results[0].type if op.results else None
        if expand is None or not isinstance(ft, Float32Type | Float64Type):
            return
        E = KernelBuilder(ft, _flags(op), Emitter(op.location))
        y = expand(E, op.operands[0])
        self.uses_table |= any(isinstance(o, memref.GetGlobalOp) for o in E.emitter.ops)
        rewriter.replace(op, E.emitter.ops, [y])


@dataclass(frozen=True)
class MathApproximation(ModulePass):
    name = "math-approximation"

    def apply(self, ctx: Context, op: ModuleOp) -> None:
        pattern = Approximate()
        PatternRewriteWalker(pattern, apply_recursively=False).rewrite_module(op)
        if pattern.uses_table:
            payne_hanek.add_table(op)
