"""Scalar lowering to the llvm dialect: `math-approximation`, `convert-math-to-llvm`,
`convert-arith-to-llvm` and `dialects/llvm_ext.py`, checked by JIT-compiling small `llvm.func`s
with llvmlite (O3, host CPU) and comparing with NumPy."""

from __future__ import annotations

import ctypes
import re
import time

import llvmlite.binding as llb
import numpy as np
import pytest
from xdsl.backend.llvm.convert import convert_module
from xdsl.context import Context
from xdsl.dialects import arith, llvm, math
from xdsl.dialects.builtin import (
    ArrayAttr,
    DictionaryAttr,
    FileLineColLoc,
    FloatAttr,
    IndexType,
    IntAttr,
    IntegerAttr,
    IntegerType,
    ModuleOp,
    StringAttr,
    UnitAttr,
    f32,
    f64,
    i1,
    i32,
    i64,
)
from xdsl.ir import Block, Region

from compiler.passes.convert_arith_to_llvm import ConvertArithToLlvm
from compiler.passes.convert_math_to_llvm import ConvertMathToLlvm
from compiler.passes.convert_memref_to_llvm import ConvertMemrefToLlvm
from compiler.passes import math_payne_hanek as payne_hanek
from compiler.passes.math_approximation import MathApproximation
from dialects import llvm_ext

pytestmark = pytest.mark.filterwarnings("ignore::RuntimeWarning")  # NumPy references on inf/NaN
llb.initialize_native_target()
llb.initialize_native_asmprinter()
_ENGINES = []  # keep JIT'd code alive
PTR = llvm.LLVMPointerType()
CT = {f32: ctypes.c_float, f64: ctypes.c_double, i32: ctypes.c_int32, i64: ctypes.c_int64}


def lower(module: ModuleOp, approximate: bool = True) -> ModuleOp:
    passes = ([MathApproximation()] if approximate else []) + [ConvertMemrefToLlvm(), ConvertMathToLlvm(),
                                                                ConvertArithToLlvm()]
    for p in passes:  # (the conversions are parts of convert-to-llvm: valid IR once all have run)
        p.apply(Context(), module)
        if not isinstance(p, ConvertMemrefToLlvm | ConvertMathToLlvm):
            module.verify()
    return module


def jit(module: ModuleOp, approximate: bool = True):
    """Lower, translate, optimize (O3) and JIT; returns (engine, optimized IR text)."""
    lower(module, approximate)
    llvm_ext.install()
    mod = llb.parse_assembly(str(convert_module(module, fallback_target_triple=None)))
    mod.verify()
    tm = llb.Target.from_default_triple().create_target_machine(
        cpu=llb.get_host_cpu_name(), features=llb.get_host_cpu_features().flatten(), opt=3)
    mod.data_layout = str(tm.target_data)
    pto = llb.PipelineTuningOptions(speed_level=3)
    pto.loop_vectorization = pto.slp_vectorization = True
    pb = llb.create_pass_builder(tm, pto)
    pb.getModulePassManager().run(mod, pb)
    text = str(mod)
    engine = llb.create_mcjit_compiler(mod, tm)
    engine.finalize_object()
    _ENGINES.append(engine)
    return engine, text


def scalar_func(name, arg_types, ret_type, body):
    """llvm.func @name(args) -> ret { body(*args) -> ops; return last op's result }."""
    block = Block(arg_types=arg_types)
    ops = body(*block.args)
    block.add_ops([*ops, llvm.ReturnOp(ops[-1].results[0])])
    return llvm.FuncOp(name, llvm.LLVMFunctionType(arg_types, ret_type), linkage=llvm.LinkageAttr("external"),
                       body=Region([block]))


def then(first, cast, t):
    """[first, cast(first's result, t)]"""
    return [first, cast(first.results[0], t)]


def map_func(name, t, body):
    """llvm.func @name(%in: !llvm.ptr noalias, %out: !llvm.ptr noalias, %n: i64): out[i] = body(in[i])."""
    entry, header, loop, done = Block(arg_types=[PTR, PTR, i64]), Block(arg_types=[i64]), Block(), Block()
    src, dst, n = entry.args
    zero = llvm.ConstantOp(IntegerAttr(0, i64), i64)
    entry.add_ops([zero, llvm.BrOp(header, zero.result)])
    i = header.args[0]
    cond = llvm.ICmpOp(i, n, IntegerAttr(llvm.ICmpPredicateFlag("slt").to_int(), i64))
    header.add_ops([cond, llvm.CondBrOp(cond.res, loop, [], done, [])])
    p = llvm.GEPOp(src, [llvm.GEP_USE_SSA_VAL], t, ssa_indices=[i], inbounds=True)
    x = llvm.LoadOp(p, t)
    ops = body(x.dereferenced_value)
    q = llvm.GEPOp(dst, [llvm.GEP_USE_SSA_VAL], t, ssa_indices=[i], inbounds=True)
    one = llvm.ConstantOp(IntegerAttr(1, i64), i64)
    inc = llvm.AddOp(i, one.result)
    loop.add_ops([p, x, *ops, q, llvm.StoreOp(ops[-1].results[0], q), one, inc, llvm.BrOp(header, inc.res)])
    done.add_ops([llvm.ReturnOp()])
    noalias = DictionaryAttr({"llvm.noalias": UnitAttr()})
    return llvm.FuncOp(name, llvm.LLVMFunctionType([PTR, PTR, i64]), linkage=llvm.LinkageAttr("external"),
                       body=Region([entry, header, loop, done]),
                       other_props={"arg_attrs": ArrayAttr([noalias, noalias, DictionaryAttr({})])})


def function_ir(text: str, name: str) -> str:
    """The `define … @name(…) { … }` part of an LLVM IR module's text."""
    return re.search(rf"define [^@\n]*@\"?{name}\"?\(.*?\n}}", text, re.DOTALL).group(0)


def run_map(engine, name, x):
    y = np.empty_like(x)
    fn = ctypes.CFUNCTYPE(None, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int64)(engine.get_function_address(name))
    fn(x.ctypes.data, y.ctypes.data, x.size)
    return y


_CALLABLES = {}


def scalar_call(engine, name, ret, args, *values):
    key = (id(engine), name)
    if key not in _CALLABLES:
        addr = engine.get_function_address(name)
        assert addr, name
        _CALLABLES[key] = ctypes.CFUNCTYPE(CT[ret], *[CT[a] for a in args])(addr)
    return _CALLABLES[key](*values)


# ---------------------------------------------------------------------------------------------
# math-approximation: accuracy over the whole float range
# ---------------------------------------------------------------------------------------------

APPROX = {"exp": math.ExpOp, "log": math.LogOp, "tanh": math.TanhOp, "sin": math.SinOp, "cos": math.CosOp,
          "expm1": math.ExpM1Op, "log1p": math.Log1pOp}
SPECIAL = [0.0, -0.0, np.inf, -np.inf, np.nan, 1.0, -1.0, 0.5, -2.0, 1e-30, -1e-30, 88.72, 88.73, -87.0,
           -103.9, -110.0, 709.7, 709.8, -745.0, 1e30, -1e30, 3.4e38, -3.4e38, 1.4e-45, 1e-40, 0.625, 9.0,
           20.0, 1e8, 12345.678]

# f64 sin/cos: the double closest to a multiple of π/2 (x mod π/2 ≈ 2^-60.9; Muller, "Elementary
# Functions", table 11.1), another hard case, sin(1e22), doubles next to k·π/2, and doubles just
# below a multiple of π/2 (found by lattice reduction: the reduced fraction is 1 − ε, which a
# double-double formed before the fold to [-½, ½) got 11–23 ulp wrong)
HARD_TRIG = np.array([6381956970095103 * 2.0**797, 5261692873635770 * 2.0**499, 1e22,
                      *[k * (np.pi / 2) for k in (3, 7, 1e5, 123456789, 2**40 + 1, 3**30, 2**52 - 1)],
                      *map(float.fromhex, ["0x1.db41f3cb71d7bp+681", "0x1.cfe482285f8edp+860", "0x1.782b7a20df6d4p+67",
                                           "0x1.b951f1572eba5p+26"])])

@pytest.fixture(scope="module")
def approx_engine():
    funcs = [map_func(f"{n}_{t}", t, lambda x, op=op: [op(x)]) for n, op in APPROX.items() for t in (f32, f64)]
    engine, _ = jit(ModuleOp(funcs))
    return engine


def _inputs(dtype, rng):
    if dtype == np.float32:
        x = rng.integers(0, 2**32, 150_000, dtype=np.uint64).astype(np.uint32).view(np.float32)
    else:
        x = rng.integers(0, 2**64, 150_000, dtype=np.uint64).view(np.float64)
    dense = rng.uniform(-30, 30, 50_000)
    spread = np.sign(rng.uniform(-1, 1, 50_000)) * np.exp(rng.uniform(-20, 20, 50_000))
    return np.concatenate([x, dense.astype(dtype), spread.astype(dtype), np.array(SPECIAL, dtype)])


def ulp_error_f32(got, ref64):
    """|got - ref| in units of the last place of ref rounded to f32 (0 where both are the same
    inf/NaN/zero)."""
    r32 = ref64.astype(np.float32)
    spacing = np.maximum(np.spacing(np.abs(r32)).astype(np.float64), 2.0**-149)
    with np.errstate(invalid="ignore"):
        err = np.abs(got.astype(np.float64) - ref64) / spacing
    same = (got == r32) | (np.isnan(got) & np.isnan(r32))
    err[same] = 0.0
    return err


@pytest.mark.parametrize("name", list(APPROX))
def test_approximation_f32(approx_engine, name):
    rng = np.random.default_rng(42)
    x = _inputs(np.float32, rng)
    got = run_map(approx_engine, f"{name}_f32", x)
    with np.errstate(all="ignore"):
        ref = getattr(np, name)(x.astype(np.float64))
        mine, numpy_own = ulp_error_f32(got, ref), ulp_error_f32(getattr(np, name)(x), ref)
    vs_numpy = ulp_error_f32(got, getattr(np, name)(x).astype(np.float64))
    print(f"\n{name} f32: max {mine.max():.2f} ulp (NumPy's own f32: {numpy_own.max():.2f}; "
          f"vs NumPy f32: {vs_numpy.max():.2f})")
    assert mine.max() <= (3.0 if name in ("expm1", "log1p") else 2.0)
    assert np.array_equal(np.isnan(got), np.isnan(ref.astype(np.float32)))
    zero = ref == 0
    assert np.array_equal(np.signbit(got[zero]), np.signbit(ref[zero]))


@pytest.mark.parametrize("name", list(APPROX))
def test_approximation_f64(approx_engine, name):
    rng = np.random.default_rng(7)
    x = _inputs(np.float64, rng)
    if name in ("sin", "cos"):  # the whole range (Payne–Hanek from 2^26), and the doubles closest to k·π/2
        x = np.concatenate([x, HARD_TRIG, -HARD_TRIG, [2.0**26, np.nextafter(2.0**26, 0), 1.7976931348623157e308]])
    got = run_map(approx_engine, f"{name}_f64", x)
    with np.errstate(all="ignore"):
        ref = getattr(np, name)(x.astype(np.longdouble))
        normal = np.isfinite(ref) & (np.abs(ref) >= 2.0**-1022) & (np.abs(ref) <= np.finfo(np.float64).max)
        rel = np.abs((got[normal] - ref[normal]) / ref[normal]).astype(np.float64)
    print(f"\n{name} f64: max relative error {rel.max():.3g}")
    assert rel.max() <= 1e-15
    # inf, NaN, zero, overflow and underflow: the limits (denormal results to within a few denormal ulps)
    np.testing.assert_allclose(got[~normal], ref[~normal].astype(np.float64), rtol=0, atol=1e-300)



# the doubles closest to multiples of π/2 for many exponents (2-D lattice reduction; the hardest
# ones for the Payne–Hanek path as it is, found in review)
LATTICE_HARD = ["0x1.0aa3ff2b41abdp+675", "0x1.15c212999a0cap+89", "0x1.db38a45a9cd4ep+980", "0x1.b01ba31b74d0bp+396",
                "0x1.6931fae82dafbp+277", "0x1.cb7469954bac4p+472", "0x1.e491ef2bcc6d4p+222", "0x1.824ffd0fba2e4p+251",
                "0x1.06ef5c2d17524p+425", "0x1.a71df2723e34cp+749", "0x1.e06a67cd86969p+218", "0x1.fa5033f7d68d9p+592",
                "0x1.0d09901565674p+611", "0x1.47623428452f0p+120", "0x1.29460d8eb8d38p+696", "0x1.9578238d36543p+448"]


def test_sin_cos_f64_near_multiples_of_half_pi(approx_engine):
    """Where the reduced argument is tiny (x within ~2^-50 relative of k·π/2, on either side), sin
    and cos f64 are within 1 ulp of the correctly rounded value (NumPy's `longdouble` as reference)."""
    x = np.array([*HARD_TRIG, *map(float.fromhex, LATTICE_HARD)])
    x = np.concatenate([x, -x])
    for name in ("sin", "cos"):
        got = run_map(approx_engine, f"{name}_f64", x)
        ref = getattr(np, name)(x.astype(np.longdouble))
        ulps = (np.abs(got - ref) / np.spacing(np.abs(ref).astype(np.float64))).astype(np.float64)
        assert ulps.max() <= 1.0, (name, x[np.argmax(ulps)].hex(), ulps.max())

# fdlibm's table of 2/π (e_rem_pio2.c, `ipio2`: 66 24-bit integers), an independent source
IPIO2 = [0xA2F983, 0x6E4E44, 0x1529FC, 0x2757D1, 0xF534DD, 0xC0DB62, 0x95993C, 0x439041, 0xFE5163, 0xABDEBB,
         0xC561B7, 0x246E3A, 0x424DD2, 0xE00649, 0x2EEA09, 0xD1921C, 0xFE1DEB, 0x1CB129, 0xA73EE8, 0x8235F5,
         0x2EBB44, 0x84E99C, 0x7026B4, 0x5F7E41, 0x3991D6, 0x398353, 0x39F49C, 0x845F8B, 0xBDF928, 0x3B1FF8,
         0x97FFDE, 0x05980F, 0xEF2F11, 0x8B5A0A, 0x6D1F6D, 0x367ECF, 0x27CB09, 0xB74F46, 0x3F669E, 0x5FEA2D,
         0x7527BA, 0xC7EBE5, 0xF17B3D, 0x0739F7, 0x8A5292, 0xEA6BFB, 0x5FB11F, 0x8D5D08, 0x560330, 0x46FC7B,
         0x6BABF0, 0xCFBC20, 0x9AF436, 0x1DA9E3, 0x91615E, 0xE61B08, 0x659985, 0x5F14A0, 0x68408D, 0xFFD880,
         0x4D7327, 0x310606, 0x1556CA, 0x73A8C9, 0x60E27B, 0xC08C6B]


def test_payne_hanek_table_is_two_over_pi():
    """The f64 sin/cos table (computed from Machin's formula) holds the same 1,161 bits of 2/π as fdlibm's."""
    limbs = payne_hanek.two_over_pi_limbs()
    assert limbs[:payne_hanek.PAD] == (0,) * payne_hanek.PAD and len(limbs) == payne_hanek.TABLE_TYPE.get_shape()[0]
    mine = int("".join(f"{v:0{payne_hanek.LIMB}b}" for v in limbs[payne_hanek.PAD:]), 2)
    theirs = int("".join(f"{v:024b}" for v in IPIO2), 2)
    n = payne_hanek.LIMBS * payne_hanek.LIMB
    assert mine == theirs >> (24 * len(IPIO2) - n)

def test_approximation_keeps_locations_and_flags():
    loc = FileLineColLoc(StringAttr("model.loom"), IntAttr(3), IntAttr(7))
    funcs = []
    for n, op_type in APPROX.items():
        def body(x, op_type=op_type):
            op = op_type(x, arith.FastMathFlagsAttr(["nsz", "reassoc"]))
            op.location = loc
            return [op]
        funcs.append(scalar_func(n, [f32], f32, body))
    module = ModuleOp(funcs)
    MathApproximation().apply(Context(), module)
    module.verify()
    new = [o for o in module.walk() if not isinstance(o, ModuleOp | llvm.FuncOp | llvm.ReturnOp)]
    assert new and all(o.location == loc for o in new)
    assert not any(isinstance(o, tuple(APPROX.values())) for o in new)
    for o in new:
        if isinstance(o, arith.AddfOp | arith.MulfOp):
            assert {str(f) for f in o.fastmath.data} == {"nsz"}  # the op's flags, less reassoc
    lower(module, approximate=False)
    assert all(o.location == loc for o in module.walk() if not isinstance(o, ModuleOp | llvm.FuncOp | llvm.ReturnOp))
    assert not any(o.name.startswith(("arith.", "math.")) for o in module.walk())


def test_tanh_loop_vectorizes():
    engine, text = jit(ModuleOp([map_func("tanh_loop", f32, lambda x: [math.TanhOp(x)])]))
    text = function_ir(text, "tanh_loop")
    assert "x float>" in text, "the tanh loop was not vectorized"
    assert not re.search(r"call [^@\n]*@\"?(?!llvm\.)", text), "a call to a non-intrinsic function remains"
    rng = np.random.default_rng(0)
    x = rng.standard_normal(1 << 20).astype(np.float32) * 4
    np.testing.assert_allclose(run_map(engine, "tanh_loop", x), np.tanh(x), rtol=3e-7, atol=1e-7)
    big = rng.standard_normal(10_000_000).astype(np.float32) * 3
    out = np.empty_like(big)
    fn = ctypes.CFUNCTYPE(None, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int64)(
        engine.get_function_address("tanh_loop"))
    ours, theirs = [], []
    for _ in range(3):
        t0 = time.perf_counter()
        fn(big.ctypes.data, out.ctypes.data, big.size)
        t1 = time.perf_counter()
        np.tanh(big, out=out)
        ours.append(t1 - t0)
        theirs.append(time.perf_counter() - t1)
    width = "16" if "<16 x float>" in text else "8" if "<8 x float>" in text else "?"
    print(f"\ntanh over 10M f32 (<{width} x float>): loom {min(ours) * 1e3:.1f} ms, "
          f"np.tanh {min(theirs) * 1e3:.1f} ms")


def test_relu_and_reduction_loops_vectorize():
    """maximumf (NaN-propagating) vectorizes; a sum whose adds carry `reassoc` vectorizes."""
    def relu(x):
        zero = arith.ConstantOp(FloatAttr(0.0, f32))
        return [zero, arith.MaximumfOp(x, zero.result)]

    # sum(%p: !llvm.ptr, %n: i64) -> f32 with a loop-carried accumulator
    entry, header, loop, done = Block(arg_types=[PTR, i64]), Block(arg_types=[i64, f32]), Block(), Block()
    src, n = entry.args
    i, acc = header.args
    zero, fzero = llvm.ConstantOp(IntegerAttr(0, i64), i64), arith.ConstantOp(FloatAttr(0.0, f32))
    entry.add_ops([zero, fzero, llvm.BrOp(header, zero.result, fzero.result)])
    cond = llvm.ICmpOp(i, n, IntegerAttr(llvm.ICmpPredicateFlag("slt").to_int(), i64))
    header.add_ops([cond, llvm.CondBrOp(cond.res, loop, [], done, [])])
    p = llvm.GEPOp(src, [llvm.GEP_USE_SSA_VAL], f32, ssa_indices=[i], inbounds=True)
    x = llvm.LoadOp(p, f32)
    add = arith.AddfOp(acc, x.dereferenced_value, arith.FastMathFlagsAttr(["reassoc", "contract"]))
    one = llvm.ConstantOp(IntegerAttr(1, i64), i64)
    inc = llvm.AddOp(i, one.result)
    loop.add_ops([p, x, add, one, inc, llvm.BrOp(header, inc.res, add.result)])
    done.add_ops([llvm.ReturnOp(acc)])
    total = llvm.FuncOp("total", llvm.LLVMFunctionType([PTR, i64], f32), linkage=llvm.LinkageAttr("external"),
                        body=Region([entry, header, loop, done]))
    engine, text = jit(ModuleOp([map_func("relu", f32, relu), total]))
    relu_ir = function_ir(text, "relu")
    assert "x float>" in relu_ir and "llvm.maximum" in relu_ir
    x = np.array([-1.0, 2.0, np.nan, -0.0, 0.0, np.inf, -np.inf] * 40, np.float32)
    y = run_map(engine, "relu", x)
    assert np.array_equal(y, np.maximum(x, 0), equal_nan=True) and not np.signbit(y).any()
    assert "x float>" in function_ir(text, "total")
    v = np.random.default_rng(3).standard_normal(1001).astype(np.float32)
    fn = ctypes.CFUNCTYPE(ctypes.c_float, ctypes.c_void_p, ctypes.c_int64)(engine.get_function_address("total"))
    assert fn(v.ctypes.data, v.size) == pytest.approx(float(v.astype(np.float64).sum()), rel=1e-4, abs=1e-4)


# ---------------------------------------------------------------------------------------------
# convert-math-to-llvm
# ---------------------------------------------------------------------------------------------

def test_math_ops_to_intrinsics_and_libm():
    un = {"sqrt": (math.SqrtOp, np.sqrt), "rsqrt": (math.RsqrtOp, lambda x: 1 / np.sqrt(x)),
          "absf": (math.AbsFOp, np.abs), "floor": (math.FloorOp, np.floor), "ceil": (math.CeilOp, np.ceil),
          "round": (math.RoundOp, lambda x: np.copysign(np.floor(np.abs(x) + 0.5), x)),
          "roundeven": (math.RoundEvenOp, np.round), "trunc": (math.TruncOp, np.trunc),
          "exp2": (math.Exp2Op, np.exp2), "log2": (math.Log2Op, np.log2), "log10": (math.Log10Op, np.log10),
          "tanh": (math.TanhOp, np.tanh), "atan": (math.AtanOp, np.arctan), "expm1": (math.ExpM1Op, np.expm1),
          "exp": (math.ExpOp, np.exp), "sin": (math.SinOp, np.sin)}
    bi = {"copysign": (math.CopySignOp, np.copysign), "powf": (math.PowFOp, np.power),
          "atan2": (math.Atan2Op, np.arctan2)}
    funcs = []
    for t in (f32, f64):
        funcs += [scalar_func(f"{n}_{t}", [t], t, lambda x, c=c: [c(x)]) for n, (c, _) in un.items()]
        funcs += [scalar_func(f"{n}_{t}", [t, t], t, lambda a, b, c=c: [c(a, b)]) for n, (c, _) in bi.items()]
        funcs.append(scalar_func(f"fma_{t}", [t, t, t], t, lambda a, b, c: [math.FmaOp(a, b, c)]))
        funcs.append(scalar_func(f"fpowi_{t}", [t, i32], t, lambda a, b: [math.FPowIOp(a, b)]))
    funcs.append(scalar_func("absi", [i64], i64, lambda a: [math.AbsIOp(a)]))
    module = ModuleOp(funcs)
    engine, _ = jit(module, approximate=False)  # tanh etc. stay: intrinsics / libm calls
    assert any(isinstance(o, llvm.CallOp) and o.callee.string_value() == "tanhf" for o in module.walk())
    values = [0.3, 2.5, -1.5, 0.5, -2.5, 7.0, 1e-3, 100.0]
    for t in (f32, f64):
        dt = np.float32 if t == f32 else np.float64
        tol = 4e-7 if t == f32 else 1e-15
        for n, (_, ref) in un.items():
            for v in values:
                if v <= 0 and n in ("sqrt", "rsqrt", "log2", "log10"):
                    continue
                want = float(ref(dt(v)))
                assert scalar_call(engine, f"{n}_{t}", t, [t], v) == pytest.approx(want, rel=tol, abs=1e-30), (n, t, v)
        for n, (_, ref) in bi.items():
            for a, b in [(1.5, -2.0), (2.0, 3.0), (-0.5, 0.25)]:
                if n == "powf" and a < 0:
                    continue
                got = scalar_call(engine, f"{n}_{t}", t, [t, t], a, b)
                assert got == pytest.approx(float(ref(dt(a), dt(b))), rel=tol), (n, t, a, b)
        assert scalar_call(engine, f"fma_{t}", t, [t, t, t], 1.5, 2.0, 0.25) == 3.25
        assert scalar_call(engine, f"fpowi_{t}", t, [t, i32], 1.5, 3) == pytest.approx(3.375)
    assert scalar_call(engine, "absi", i64, [i64], -42) == 42
    assert scalar_call(engine, "absi", i64, [i64], 42) == 42


# ---------------------------------------------------------------------------------------------
# convert-arith-to-llvm
# ---------------------------------------------------------------------------------------------

def _wrap(v, w):
    v &= (1 << w) - 1
    return v - (1 << w) if v >> (w - 1) else v


def _tdiv(a, b):
    q = abs(a) // abs(b)
    return q if (a < 0) == (b < 0) else -q


INT_OPS = {
    "addi": (arith.AddiOp, lambda a, b, w: a + b), "subi": (arith.SubiOp, lambda a, b, w: a - b),
    "muli": (arith.MuliOp, lambda a, b, w: a * b), "divsi": (arith.DivSIOp, lambda a, b, w: _tdiv(a, b)),
    "remsi": (arith.RemSIOp, lambda a, b, w: a - b * _tdiv(a, b)),
    "divui": (arith.DivUIOp, lambda a, b, w: (a % (1 << w)) // (b % (1 << w))),
    "remui": (arith.RemUIOp, lambda a, b, w: (a % (1 << w)) % (b % (1 << w))),
    "floordivsi": (arith.FloorDivSIOp, lambda a, b, w: a // b),
    "ceildivsi": (arith.CeilDivSIOp, lambda a, b, w: -((-a) // b)),
    "ceildivui": (arith.CeilDivUIOp, lambda a, b, w: -(-(a % (1 << w)) // (b % (1 << w)))),
    "maxsi": (arith.MaxSIOp, lambda a, b, w: max(a, b)), "minsi": (arith.MinSIOp, lambda a, b, w: min(a, b)),
    "maxui": (arith.MaxUIOp, lambda a, b, w: max(a % (1 << w), b % (1 << w))),
    "minui": (arith.MinUIOp, lambda a, b, w: min(a % (1 << w), b % (1 << w))),
    "andi": (arith.AndIOp, lambda a, b, w: a & b), "ori": (arith.OrIOp, lambda a, b, w: a | b),
    "xori": (arith.XOrIOp, lambda a, b, w: a ^ b),
    "shli": (arith.ShLIOp, lambda a, b, w: a << (b % w)),
    "shrsi": (arith.ShRSIOp, lambda a, b, w: a >> (b % w)),
    "shrui": (arith.ShRUIOp, lambda a, b, w: (a % (1 << w)) >> (b % w)),
}
INT_VALUES = [0, 1, -1, 7, -7, 3, -3, 100, -100, 12345, 2**31 - 1, -(2**31), 2**40 + 5, -(2**62)]


def _int_body(op_type, t):
    if t != IndexType():
        return lambda a, b: [op_type(a, b)]

    def body(a, b):  # i64 args → index → op → i64
        ca, cb = arith.IndexCastOp(a, t), arith.IndexCastOp(b, t)
        op = op_type(ca.result, cb.result)
        return [ca, cb, op, arith.IndexCastOp(op.result, i64)]
    return body


def test_integer_ops():
    funcs = []
    for w, t in [(32, i32), (64, i64), (64, IndexType())]:
        args = [i32] * 2 if w == 32 else [i64] * 2
        funcs += [scalar_func(f"{n}_{w}_{t}", args, args[0], _int_body(c, t)) for n, (c, _) in INT_OPS.items()]
    engine, _ = jit(ModuleOp(funcs))
    for w, t in [(32, i32), (64, i64), (64, IndexType())]:
        ct = i32 if w == 32 else i64
        vals = sorted({_wrap(v, w) for v in INT_VALUES})
        for n, (_, ref) in INT_OPS.items():
            for a in vals:
                for b in vals:
                    if ("div" in n or "rem" in n) and (b == 0 or (a == -(1 << (w - 1)) and b == -1)):
                        continue
                    if n.startswith("sh") and not 0 <= b < w:
                        continue
                    got = scalar_call(engine, f"{n}_{w}_{t}", ct, [ct, ct], a, b)
                    assert got == _wrap(ref(a, b, w), w), (n, w, a, b)


CMPF = ["false", "oeq", "ogt", "oge", "olt", "ole", "one", "ord", "ueq", "ugt", "uge", "ult", "ule", "une", "uno",
        "true"]


def _cmpf_ref(pred, a, b):
    unordered = np.isnan(a) or np.isnan(b)
    if pred in ("false", "true"):
        return pred == "true"
    if pred in ("ord", "uno"):
        return unordered == (pred == "uno")
    rel = {"eq": a == b, "gt": a > b, "ge": a >= b, "lt": a < b, "le": a <= b, "ne": a != b}[pred[1:]]
    return unordered or rel if pred[0] == "u" else not unordered and rel


def test_comparisons_and_select():
    funcs = [scalar_func(f"cmpf_{p}", [f64, f64], i32, lambda a, b, p=p: then(arith.CmpfOp(a, b, p), arith.ExtUIOp, i32))
             for p in CMPF]
    funcs += [scalar_func(f"cmpi_{p}", [i64, i64], i32, lambda a, b, p=p: then(arith.CmpiOp(a, b, p), arith.ExtUIOp, i32))
              for p in arith.CMPI_COMPARISON_OPERATIONS]

    def select(a, b, c):
        zero = arith.ConstantOp(IntegerAttr(0, i64))
        cond = arith.CmpiOp(a, zero.result, "ne")
        return [zero, cond, arith.SelectOp(cond.result, b, c)]
    funcs.append(scalar_func("select", [i64, f64, f64], f64, select))
    engine, _ = jit(ModuleOp(funcs))
    fvals = [0.0, -0.0, 1.0, -1.5, np.inf, -np.inf, np.nan]
    for p in CMPF:
        for a in fvals:
            for b in fvals:
                assert scalar_call(engine, f"cmpf_{p}", i32, [f64, f64], a, b) == _cmpf_ref(p, a, b), (p, a, b)
    for p in arith.CMPI_COMPARISON_OPERATIONS:
        for a in (-5, 0, 3, 2**63 - 1):
            for b in (-5, 0, 3):
                ua, ub = a % 2**64, b % 2**64
                want = {"eq": a == b, "ne": a != b, "slt": a < b, "sle": a <= b, "sgt": a > b, "sge": a >= b,
                        "ult": ua < ub, "ule": ua <= ub, "ugt": ua > ub, "uge": ua >= ub}[p]
                assert scalar_call(engine, f"cmpi_{p}", i32, [i64, i64], a, b) == want, (p, a, b)
    assert scalar_call(engine, "select", f64, [i64, f64, f64], 1, 2.5, 3.5) == 2.5
    assert scalar_call(engine, "select", f64, [i64, f64, f64], 0, 2.5, 3.5) == 3.5


FLOAT_OPS = {"addf": (arith.AddfOp, np.add), "subf": (arith.SubfOp, np.subtract), "mulf": (arith.MulfOp, np.multiply),
             "divf": (arith.DivfOp, np.divide), "maximumf": (arith.MaximumfOp, np.maximum),
             "minimumf": (arith.MinimumfOp, np.minimum), "maxnumf": (arith.MaxnumfOp, np.fmax),
             "minnumf": (arith.MinnumfOp, np.fmin)}


def test_float_ops_and_fastmath_flags():
    funcs = [scalar_func(f"{n}_{t}", [t, t], t, lambda a, b, c=c: [c(a, b)]) for n, (c, _) in FLOAT_OPS.items()
             for t in (f32, f64)]
    funcs.append(scalar_func("negf", [f64], f64, lambda a: [arith.NegfOp(a)]))
    funcs.append(scalar_func("reassoc", [f32, f32], f32,
                             lambda a, b: [arith.AddfOp(a, b, arith.FastMathFlagsAttr(["reassoc", "contract"]))]))
    module = ModuleOp(funcs)
    engine, _ = jit(module)
    flags = {o.parent_op().sym_name.data: {str(f) for f in o.fastmathFlags.data}
             for o in module.walk() if isinstance(o, llvm.FAddOp)}
    assert flags["addf_f32"] == {"contract"} and flags["reassoc"] == {"reassoc", "contract"}
    text = str(convert_module(module, fallback_target_triple=None))
    assert re.search(r"fadd (reassoc contract|contract reassoc) float", text)
    assert re.search(r"fadd contract float", text) and "nnan" not in text and "fast" not in text
    vals = [0.0, -0.0, 1.5, -2.25, 3.0, np.inf, -np.inf, np.nan]
    for n, (_, ref) in FLOAT_OPS.items():
        for t, dt in ((f32, np.float32), (f64, np.float64)):
            for a in vals:
                for b in vals:
                    got, want = dt(scalar_call(engine, f"{n}_{t}", t, [t, t], a, b)), ref(dt(a), dt(b))
                    if a == b == 0 and n in ("maximumf", "minimumf"):  # -0 < +0
                        neg = np.signbit(a) and np.signbit(b) if n == "maximumf" else np.signbit(a) or np.signbit(b)
                        want = dt(-0.0) if neg else dt(0.0)
                    same_sign = np.signbit(got) == np.signbit(want) or (a == b == 0 and "num" in n)
                    assert (np.isnan(got) and np.isnan(want)) or (got == want and same_sign), (n, t, a, b, got, want)
    assert np.signbit(scalar_call(engine, "negf", f64, [f64], 0.0))
    assert scalar_call(engine, "negf", f64, [f64], 2.5) == -2.5


def test_casts_and_constants():
    funcs = [
        scalar_func("sitofp", [i64], f64, lambda a: [arith.SIToFPOp(a, f64)]),
        scalar_func("uitofp", [i64], f64, lambda a: [arith.UIToFPOp(a, f64)]),
        scalar_func("fptosi", [f64], i32, lambda a: [arith.FPToSIOp(a, i32)]),
        scalar_func("fptoui", [f64], i32, lambda a: [arith.FPToUIOp(a, i32)]),
        scalar_func("extf", [f32], f64, lambda a: [arith.ExtFOp(a, f64)]),
        scalar_func("truncf", [f64], f32, lambda a: [arith.TruncFOp(a, f32)]),
        scalar_func("bitcast", [f32], i32, lambda a: [arith.BitcastOp(a, i32)]),
        scalar_func("trunc_extsi", [i32], i32, lambda a: then(arith.TruncIOp(a, IntegerType(8)), arith.ExtSIOp, i32)),
        scalar_func("trunc_extui", [i32], i32, lambda a: then(arith.TruncIOp(a, IntegerType(8)), arith.ExtUIOp, i32)),
        scalar_func("index_cast", [i32], i32, lambda a: then(arith.IndexCastOp(a, IndexType()), arith.IndexCastOp, i32)),
    ]

    def consts(a):  # select(true, index_cast(index_cast(a) + 40), a), with an unused f32 constant
        forty, true = arith.ConstantOp(IntegerAttr(40, IndexType())), arith.ConstantOp(IntegerAttr(1, i1))
        half = arith.ConstantOp(FloatAttr(0.5, f32))
        cast = arith.IndexCastOp(a, IndexType())
        add = arith.AddiOp(cast.result, forty.result)
        back = arith.IndexCastOp(add.result, i64)
        return [forty, true, half, cast, add, back, arith.SelectOp(true.result, back.result, a)]
    funcs.append(scalar_func("consts", [i64], i64, consts))
    engine, _ = jit(ModuleOp(funcs))
    assert scalar_call(engine, "sitofp", f64, [i64], -7) == -7.0
    assert scalar_call(engine, "uitofp", f64, [i64], -1) == 2.0**64
    assert scalar_call(engine, "fptosi", i32, [f64], -7.9) == -7
    assert scalar_call(engine, "fptoui", i32, [f64], 3e9) % 2**32 == 3_000_000_000
    assert scalar_call(engine, "extf", f64, [f32], 0.1) == float(np.float32(0.1))
    assert scalar_call(engine, "truncf", f32, [f64], 0.1) == float(np.float32(0.1))
    assert scalar_call(engine, "bitcast", i32, [f32], 1.0) == 0x3F800000
    assert scalar_call(engine, "trunc_extsi", i32, [i32], 0x1FF) == -1
    assert scalar_call(engine, "trunc_extui", i32, [i32], 0x1FF) == 255
    assert scalar_call(engine, "index_cast", i32, [i32], -5) == -5
    assert scalar_call(engine, "consts", i64, [i64], 2) == 42


# ---------------------------------------------------------------------------------------------
# dialects/llvm_ext.py
# ---------------------------------------------------------------------------------------------

def test_llvm_ext_ops_print_parse_and_install_is_idempotent():
    from xdsl.backend.llvm import convert
    from xdsl.dialects.builtin import Builtin
    from xdsl.parser import Parser

    llvm_ext.install()
    patched = convert.convert_op
    llvm_ext.install()
    assert convert.convert_op is patched
    block = Block(arg_types=[f32, i32])
    x, n = block.args
    ops = [llvm_ext.FPToSIOp(x, i32), llvm_ext.FPToUIOp(x, i64), llvm_ext.UIToFPOp(n, f64),
           llvm_ext.FreezeOp(x), llvm_ext.MaximumOp(x, x), llvm_ext.MinimumOp(x, x, llvm.FastMathAttr("fast")),
           llvm_ext.RoundOp(x), llvm_ext.RoundEvenOp(x), llvm_ext.FTruncOp(x), llvm_ext.Log10Op(x),
           llvm_ext.PowIOp(x, n)]
    block.add_ops([*ops, llvm.ReturnOp(ops[-1].results[0])])
    module = ModuleOp([llvm.FuncOp("f", llvm.LLVMFunctionType([f32, i32], f32), linkage=llvm.LinkageAttr("external"),
                                   body=Region([block]))])
    module.verify()
    text = str(module)
    for name in ("llvm.fptosi", "llvm.fptoui", "llvm.uitofp", "llvm.freeze", "llvm.intr.maximum",
                 "llvm.intr.minimum", "llvm.intr.round", "llvm.intr.roundeven", "llvm.intr.trunc",
                 "llvm.intr.log10", "llvm.intr.powi"):
        assert name in text
    ctx = Context()
    for d in (Builtin, llvm.LLVM, llvm_ext.LlvmExt):
        ctx.load_dialect(d)
    assert str(Parser(ctx, text).parse_module()) == text
    ll = str(convert_module(module, fallback_target_triple=None))
    for s in ("fptosi float", "fptoui float", "uitofp i32", "freeze float", '@"llvm.maximum.f32"',
              'nnan nsz reassoc float @"llvm.minimum.f32"', '@"llvm.powi.f32.i32"', '@"llvm.roundeven.f32"'):
        assert s in ll
    llb.parse_assembly(ll).verify()
