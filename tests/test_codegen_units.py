"""Codegen units (runtime/codegen_units.py): the matmul kernels are compiled apart from the program,
named by their content, compiled once per process and, with the disk cache, once per machine; the
program's results do not change."""

from __future__ import annotations

import ctypes
import glob
import os
import re
import subprocess
import sys

import numpy as np
import pytest

import compiler
from runtime import cache, codegen_units, jit
from runtime.object_cache import ObjectCache
from tests.kernel_helpers import assert_product_close, rand

MM = "def f(a: f32[M, K], b: f32[K, N]) -> f32[M, N]:\n    return a @ b\n"
MLP = """\
def f(x: f32[B, 96], w1: f32[96, 64], b1: f32[64], w2: f32[64, 32]) -> f32[B, 32]:
    return relu(x @ w1 + b1) @ w2
"""
IDENTITY = ("v", "llvmlite", "cpu")


def mlp_numpy(x, w1, b1, w2):
    return np.maximum(x @ w1 + b1, 0) @ w2


def llvm_ir(src: str, *args) -> str:
    return compiler.loads(src, cache=False).f.lower(*args).artifact().llvm_ir


def units_of(src: str, *args) -> list[codegen_units.Unit]:
    return codegen_units.split(llvm_ir(src, *args), jit.compiler_identity())


@pytest.fixture
def fresh():
    """No kernel compiled in this process yet, and a count of the units compiled from now on."""
    codegen_units.forget()
    compiled = []
    real = jit.compile_unit

    def counting(text: str, **kw) -> bytes:
        compiled.append(text)
        return real(text, **kw)
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(jit, "compile_unit", counting)
        yield compiled
    codegen_units.forget()


def defined(text: str) -> dict[str, bool]:
    """Functions defined in a unit: name -> external (not internal)."""
    return {m.group(2): not m.group(1) for m in re.finditer(r'^define (internal )?\S+ @"([^"]+)"', text, re.MULTILINE)}


def test_each_kernel_is_a_unit_named_by_its_content():
    program, *kernels = units_of(MLP, rand(32, 96), rand(96, 64), rand(64), rand(64, 32))
    assert kernels and program.key is None
    assert not [n for n in defined(program.text) if n.startswith("matmul_")]
    for k in kernels:
        assert k.symbol.startswith("matmul_") and k.symbol.endswith(k.key[:16])
        external = [n for n, ext in defined(k.text).items() if ext]
        assert external == [k.symbol]  # its entry point; anything else it has is internal
        assert f'declare i32 @"{k.symbol}"' in program.text and f'@"{k.symbol}"(' in program.text
    assert len({k.key for k in kernels}) == len(kernels)


def test_a_kernels_parallel_loop_goes_with_it():
    """B (256 × 256) is packed on all threads: the body of that parallel loop, called through the
    thread pool, is an internal function of the packing kernel's unit."""
    program, *kernels = units_of(MM, rand(16, 256), rand(256, 256))
    (pack,) = [k for k in kernels if len(defined(k.text)) > 1]
    assert "loom_parallel_for" in pack.text and pack.symbol.startswith("matmul_pack_b")
    assert not [n for n in defined(program.text) if n.startswith("matmul_")]


def test_a_kernel_does_not_depend_on_the_matrix_sizes():
    small = {k.key for k in units_of(MM, rand(64, 48), rand(48, 40))[1:]}
    other = {k.key for k in units_of(MM, rand(67, 53), rand(53, 41))[1:]}
    assert small & other, "the same macro-kernel for two sizes"
    checked = "def f(a: f32[M, K], b: f32[K, N], n: i64) -> f32[M, N]:\n    return (a @ b) * f32(10 // n)\n"
    assert {k.key for k in units_of(checked, rand(64, 48), rand(48, 40), 3)[1:]} == small, \
        "a kernel has no run-time check of its own: the program's checks do not change it"
    fused = {k.key for k in units_of(MLP, rand(32, 96), rand(96, 64), rand(64), rand(64, 32))[1:]}
    assert fused - small, "a kernel with a fused epilogue (bias, ReLU) is another kernel"


def test_the_translation_writes_fast_math_flags_in_one_order():
    """xDSL writes fast-math flags in frozenset order, which changes with the hash seed of the
    process; `jit.translate` sorts them, so a kernel's text and key are the same in every process."""
    assert jit.sorted_fast_math("%a = fadd reassoc contract <16 x float> %b, %c\n"
                                "%d = call fast nnan float @f()\n%e = fmul contract float %x, %y") == \
        "%a = fadd contract reassoc <16 x float> %b, %c\n%d = call fast nnan float @f()\n%e = fmul contract float %x, %y"
    ir = llvm_ir(MLP, rand(32, 96), rand(96, 64), rand(64), rand(64, 32))
    assert "contract reassoc" in ir and "reassoc contract" not in ir


def test_the_same_split_twice_is_the_same_text():
    args = (rand(64, 48), rand(48, 40))
    assert [u.text for u in units_of(MM, *args)] == [u.text for u in units_of(MM, *args)]


def test_kernels_compiled_once_per_process(fresh):
    a, b = rand(64, 48), rand(48, 40)
    assert_product_close(compiler.loads(MM, cache=False).f(a, b), a @ b, 1e-5)
    first = len(fresh)
    assert first >= 2
    c, d = rand(67, 53), rand(53, 41)  # another specialization: its own program unit, shared kernels
    assert_product_close(compiler.loads(MM, cache=False).f(c, d), c @ d, 1e-5)
    assert 1 <= len(fresh) - first < first


def test_kernels_compiled_once_per_machine_with_the_disk_cache(fresh, tmp_path, monkeypatch):
    monkeypatch.setenv("LOOM_CACHE_DIR", str(tmp_path))
    args = (rand(32, 96), rand(96, 64), rand(64), rand(64, 32))
    assert_product_close(compiler.loads(MLP, cache=True).f(*args), mlp_numpy(*args), 1e-5)
    kernels = glob.glob(str(tmp_path / "k*.entry"))
    assert kernels and len(fresh) == len(kernels) + 1
    codegen_units.forget()  # as a new process: only the disk has them
    fresh.clear()
    args = (rand(20, 96), *args[1:])
    assert_product_close(compiler.loads(MLP, cache=True).f(*args), mlp_numpy(*args), 1e-5)
    assert len(fresh) == 1 and not re.search(r'^define .*@"matmul_', fresh[0], re.MULTILINE)


@pytest.mark.parametrize("damage", ["bytes", "symbol", "compiler"])
def test_a_bad_kernel_entry_is_recompiled(fresh, tmp_path, monkeypatch, damage):
    monkeypatch.setenv("LOOM_CACHE_DIR", str(tmp_path))
    a, b = rand(64, 48), rand(48, 40)
    compiler.loads(MM, cache=True).f(a, b)
    paths = sorted(glob.glob(str(tmp_path / "k*.entry")))
    for path in paths:
        payload = cache.read_entry(path)
        head, _, obj = payload.partition(b"\n")
        if damage == "bytes":
            with open(path, "r+b") as f:
                f.seek(-1, os.SEEK_END)
                f.write(bytes([payload[-1] ^ 1]))
        else:
            edit = (b'"symbol": "', b'"symbol": "x') if damage == "symbol" else (b'"compiler": ["', b'"compiler": ["0')
            cache.write_entry(path, head.replace(*edit) + b"\n" + obj)
    codegen_units.forget()
    fresh.clear()
    c, d = rand(67, 53), rand(53, 41)
    assert_product_close(compiler.loads(MM, cache=True).f(c, d), c @ d, 1e-5)
    assert len(fresh) == 1 + len(paths)  # every kernel compiled again, and its entry rewritten
    store = ObjectCache(str(tmp_path))
    units = {u.key: u for u in units_of(MM, c, d)[1:]}
    assert all(store.load_unit(k, u.symbol) is not None for k, u in units.items())


def define(name: str, *body: str, internal: bool = True) -> str:
    """An `i32 (i32)` function as xDSL's translation writes it; `%".1"` is its argument."""
    return "\n".join([f'define {"internal " if internal else ""}i32 @"{name}"(i32 %".1") noinline', "{", ".3:",
                      *(f"  {line}" for line in body), "}"])


SYNTHETIC = "\n".join([
    '; ModuleID = ""', 'target triple = "TRIPLE"', 'target datalayout = ""', '@"g" = internal global i32 7',
    define("main", *(f'%".{i + 4}" = call i32 @"{f}"(i32 %".{i + 3 if i else 1}")'
                     for i, f in enumerate(["matmul_a", "matmul_b_1", "matmul_g", "matmul_c", "matmul_c_2"])),
           'ret i32 %".8"', internal=False),
    define("helper", '%".4" = mul i32 %".1", 3', 'ret i32 %".4"'),
    define("matmul_a", '%".4" = add i32 %".1", 1', 'ret i32 %".4"'),
    define("matmul_b_1", '%".4" = call i32 @"helper"(i32 %".1")', '%".5" = call i32 @"matmul_a"(i32 %".4")',
           'ret i32 %".5"'),
    define("matmul_g", '%".4" = load i32, ptr @"g"', '%".5" = add i32 %".1", %".4"', 'ret i32 %".5"'),
    *(define(name, '%".4" = sub i32 %".1", 5', 'ret i32 %".4"') for name in ("matmul_c", "matmul_c_2")),
    ""])


def run_main(objects: list[bytes], x: int) -> int:
    native = jit.NativeModule(objects=objects)
    return ctypes.CFUNCTYPE(ctypes.c_int32, ctypes.c_int32)(native.address("main"))(x)


def test_what_becomes_a_unit_and_what_stays():
    jit.target_machine()
    import llvmlite.binding as llvm

    ir = SYNTHETIC.replace("TRIPLE", llvm.get_default_triple())
    program, *kernels = codegen_units.split(ir, IDENTITY)
    names = {k.symbol.split(".")[0] for k in kernels}
    # matmul_a is called by another kernel: it goes with it (and stays in the program, which calls
    # it too); matmul_g reads a global: it stays; matmul_c and matmul_c_2 are one kernel
    assert names == {"matmul_b", "matmul_c"} and len(kernels) == 2
    assert set(defined(program.text)) == {"main", "matmul_a", "matmul_g"}  # helper: only matmul_b calls it
    b = next(k for k in kernels if k.symbol.startswith("matmul_b"))
    assert sorted(defined(b.text).values()) == [False, False, True]  # its copies of helper, matmul_a
    assert program.text.count(f'declare i32 @"{next(k for k in kernels if k is not b).symbol}"') == 1
    objects, found = codegen_units.compile_units([program, *kernels], jit.compile_unit)
    assert found == 0
    expected = ((10 + 1) * 3 + 1 + 7 - 5 - 5)
    assert run_main(objects, 10) == expected == run_main([jit.compile_unit(ir)], 10)


CHILD = f"""
import sys
MM = {MM!r}
import numpy as np
import compiler
from runtime import jit
compiled = []
real = jit.compile_unit
jit.compile_unit = lambda text, **kw: compiled.append(text) or real(text, **kw)
m, k, n = map(int, sys.argv[1:])
rng = np.random.default_rng(0)
a, b = rng.standard_normal((m, k), dtype=np.float32), rng.standard_normal((k, n), dtype=np.float32)
c = compiler.loads(MM, cache=True).f(a, b)
assert np.allclose(c, a @ b, rtol=1e-5, atol=1e-4)
print(len(compiled))
"""


def test_another_process_uses_the_kernels_on_disk(tmp_path):
    """The real case: a later process (another hash seed, another matrix size) compiles only its
    program's unit; the kernels come from the disk cache. (Hash seeds 1 and 2 wrote fast-math flags
    in different orders before `split` sorted them.)"""
    counts = []
    for seed, size in (("1", ("64", "48", "40")), ("2", ("67", "53", "41"))):
        env = dict(os.environ, LOOM_CACHE_DIR=str(tmp_path), PYTHONHASHSEED=seed)
        r = subprocess.run([sys.executable, "-c", CHILD, *size], capture_output=True, text=True, env=env,
                           check=False)
        assert r.returncode == 0, r.stderr
        counts.append(int(r.stdout.split()[-1]))
    assert counts[0] >= 3 and counts[1] == 1, counts


def test_kernels_are_compiled_without_llvms_unroller():
    """loom-matmul-kernel unrolls its kernels itself (vector ops of the register tile): their units
    go through O3 without LLVM's loop unroller, the program's unit with it."""
    jit.target_machine()
    import llvmlite.binding as llvm

    # a loop of four iterations, which O3's unroller unrolls completely
    loop = ['br label %".4"', '.4:', '%".5" = phi i32 [0, %".3"], [%".7", %".4"]',
            '%".6" = phi i32 [%".1", %".3"], [%".8", %".4"]', '%".7" = add i32 %".5", 1',
            '%".8" = mul i32 %".6", %".6"', '%".9" = icmp slt i32 %".7", 4', 'br i1 %".9", label %".4", label %".10"',
            '.10:', 'ret i32 %".8"']
    ir = "\n".join(['; ModuleID = ""', f'target triple = "{llvm.get_default_triple()}"', 'target datalayout = ""',
                    define("main", '%".4" = call i32 @"matmul_k"(i32 %".1")', '%".5" = call i32 @"helper"(i32 %".4")',
                           'ret i32 %".5"', internal=False),
                    define("helper", *loop), define("matmul_k", *loop), ""])
    program, kernel = codegen_units.split(ir, IDENTITY)
    assert kernel.symbol.startswith("matmul_k.")
    seen = []
    objects, _ = codegen_units.compile_units(
        [program, kernel], lambda text, **kw: seen.append(kw) or jit.compile_unit(text, **kw))
    assert seen == [{"kernel": False}, {"kernel": True}]
    expected = ctypes.c_int32(pow(3, 16 * 16, 2 ** 32)).value  # x ** 16 twice, in 32 bits
    assert run_main(objects, 3) == expected == run_main([jit.compile_unit(ir)], 3)

    def has_loop(unroll: bool, name: str) -> bool:
        mod = jit.optimize(ir, unroll=unroll)
        return any("phi" in str(b) for b in mod.get_function(name).blocks)
    assert not has_loop(True, "helper") and has_loop(False, "matmul_k")
