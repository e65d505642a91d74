"""The kernel library (runtime/kernel_library.py): a matmul kernel the JIT compiled before is only
declared in a later program, found by its recipe, and its object code linked in; never in the text
stages; a damaged or foreign recipe entry, or a changed compiler, means the kernel is built again."""

from __future__ import annotations

import glob
import json
import os
import re
import subprocess
import sys

import numpy as np
import pytest

import compiler
from runtime import cache, codegen_units, jit, kernel_library

MLP = """\
def f(x: f32[B, 96], w1: f32[96, 64], b1: f32[64], w2: f32[64, 32]) -> f32[B, 32]:
    return relu(x @ w1 + b1) @ transpose(w2 @ transpose(w2)) @ w2
"""
KERNEL_DEFINED = re.compile(r'^define .*@"matmul_', re.MULTILINE)
KERNEL_DECLARED = re.compile(r'^declare .*@"(matmul_\w+\.[0-9a-f]{16})"', re.MULTILINE)


def inputs(batch: int):
    rng = np.random.default_rng(batch)
    return [rng.standard_normal(s, dtype=np.float32) for s in [(batch, 96), (96, 64), (64,), (64, 32)]]


def numpy_f(x, w1, b1, w2):
    h = np.maximum(x.astype(np.float64) @ w1 + b1, 0)
    return h @ (w2 @ w2.T).T @ w2


class Seen(list):
    """The units compiled (this list's texts) and the programs' LLVM IR before the split (`irs`)."""

    irs: list[str]


@pytest.fixture
def compiled():
    """Nothing compiled or found by recipe in this process yet; what is compiled from now on."""
    codegen_units.forget()
    kernel_library.forget()
    seen = Seen()
    seen.irs = []
    compile_unit, split = jit.compile_unit, codegen_units.split
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(jit, "compile_unit", lambda text, **kw: seen.append(text) or compile_unit(text, **kw))
        mp.setattr(codegen_units, "split", lambda ir, identity: seen.irs.append(ir) or split(ir, identity))
        yield seen
    codegen_units.forget()
    kernel_library.forget()


def run(batch: int, cache_on: bool = False):
    args = inputs(batch)
    got = compiler.loads(MLP, cache=cache_on).f(*args)
    np.testing.assert_allclose(got, numpy_f(*args), rtol=1e-4, atol=1e-3)


def test_a_kernel_compiled_before_is_declared_not_built(compiled):
    run(32)
    kernels = [t for t in compiled if KERNEL_DEFINED.search(t)]
    assert len(kernels) >= 4  # packings of A and B, macro-kernels
    assert KERNEL_DEFINED.search(compiled.irs[0]) and not KERNEL_DECLARED.search(compiled.irs[0])
    compiled.clear()
    run(20)  # another specialization: its program's unit only, every kernel declared by the pass
    assert len(compiled) == 1 and not KERNEL_DEFINED.search(compiled[0])
    assert not KERNEL_DEFINED.search(compiled.irs[1])
    assert len(set(KERNEL_DECLARED.findall(compiled.irs[1]))) == len(kernels)


def test_the_text_stages_build_every_kernel(compiled):
    run(32)
    args = inputs(20)
    prog = compiler.loads(MLP, cache=False)
    prog.f(*args)
    llvm = prog.f.lower(*args).as_text("llvm")
    assert KERNEL_DEFINED.search(llvm) and not KERNEL_DECLARED.search(llvm)
    assert "func.func private @matmul_macro_f32" in prog.f.lower(*args).as_text("loops")


def test_a_changed_compiler_builds_its_kernels_again(compiled, monkeypatch):
    run(32)
    first = len(compiled)
    monkeypatch.setitem(cache._identity, "sources", "0" * 16)  # as if a source file had changed
    compiled.clear()
    run(20)
    assert len(compiled) == first and not KERNEL_DECLARED.search(compiled.irs[-1])


@pytest.mark.parametrize("damage", ["bytes", "unit", "compiler"])
def test_a_bad_recipe_entry_means_the_kernel_is_built(compiled, tmp_path, monkeypatch, damage):
    monkeypatch.setenv("LOOM_CACHE_DIR", str(tmp_path))
    run(32, cache_on=True)
    recipes = sorted(glob.glob(str(tmp_path / "r*.entry")))
    assert recipes and len(recipes) == len(glob.glob(str(tmp_path / "k*.entry")))
    for path in recipes:
        meta = json.loads(cache.read_entry(path))
        if damage == "bytes":
            with open(path, "r+b") as f:
                f.seek(-3, os.SEEK_END)
                f.write(b"x")
            continue
        meta[damage] = "0123abcd" if damage == "unit" else ["0"]
        cache.write_entry(path, json.dumps(meta).encode() + b"\n")
    codegen_units.forget()  # as a new process: only the disk
    kernel_library.forget()
    compiled.clear()
    run(20, cache_on=True)
    assert len(compiled) == 1  # every kernel loaded from its entry, found by its content
    assert not KERNEL_DECLARED.search(compiled.irs[-1])  # but built from IR: no recipe trusted
    for path in recipes:  # and each recipe written again, naming its kernel's entry
        assert (tmp_path / f"k{json.loads(cache.read_entry(path))['unit']}.entry").exists()


CHILD = f"""
import re, sys
import numpy as np
import compiler
from runtime import jit
from runtime import codegen_units
texts, irs = [], []
real, split = jit.compile_unit, codegen_units.split
jit.compile_unit = lambda text, **kw: texts.append(text) or real(text, **kw)
codegen_units.split = lambda ir, identity: irs.append(ir) or split(ir, identity)
MLP = {MLP!r}
b = int(sys.argv[1])
rng = np.random.default_rng(b)
x, w1, b1, w2 = (rng.standard_normal(s, dtype=np.float32) for s in [(b, 96), (96, 64), (64,), (64, 32)])
got = compiler.loads(MLP, cache=True).f(x, w1, b1, w2)
want = np.maximum(x.astype(np.float64) @ w1 + b1, 0) @ (w2 @ w2.T).T @ w2
assert np.allclose(got, want, rtol=1e-4, atol=1e-3)
print(len(texts), len(set(re.findall(r'^declare .*@"(matmul_\\w+\\.[0-9a-f]{{16}})"', irs[0], re.MULTILINE))))
"""


def test_another_process_declares_the_kernels_of_the_first(tmp_path):
    """The real case: a second process (another hash seed: xDSL's fast-math flag sets iterate in
    another order, the recipes must not) builds no kernel and compiles only its program."""
    counts = []
    for seed, batch in (("1", "32"), ("2", "20")):
        env = dict(os.environ, LOOM_CACHE_DIR=str(tmp_path), PYTHONHASHSEED=seed)
        r = subprocess.run([sys.executable, "-c", CHILD, batch], capture_output=True, text=True, env=env,
                           check=False)
        assert r.returncode == 0, r.stderr
        counts.append(tuple(map(int, r.stdout.split()[-2:])))
    (units, declared), (units2, declared2) = counts
    assert declared == 0 and units >= 5 and (units2, declared2) == (1, units - 1), counts


def test_ir_dumps_show_every_kernel(compiled, tmp_path, monkeypatch):
    """LOOM_DUMP_DIR (like `--dump-dir`, `--print-ir-after…`) turns the library off: the dumped IR
    has every kernel's body, none is declared by its compiled unit's symbol."""
    run(32)
    monkeypatch.setenv("LOOM_DUMP_DIR", str(tmp_path))
    run(20)
    dumps = [p.read_text() for p in sorted(tmp_path.rglob("*.mlir"))]
    assert any("func.func private @matmul_macro_f32" in d and "vector.fma" in d for d in dumps)
    assert not any(re.search(r'@"?matmul_\w+\.[0-9a-f]{16}', d) for d in dumps)
    assert not KERNEL_DECLARED.search(compiled.irs[-1])


def test_a_kernel_that_can_fail_is_not_remembered(compiled):
    """A kernel's failure statuses would be its first program's numbering of run-time checks: such
    a unit is never found by recipe (today's kernels have no checks). Passing on the thread pool's
    status (a packing routine whose panel loop runs on the pool) is not failing: the pool's status
    is its loop bodies', in the same unit and held to the same test."""
    pool = ('  %".1" = call ccc i32 @"loom_parallel_for"(ptr %".5", ptr %".6", i64 8, i64* %".3")\n'
            '  %".2" = call ccc i32 @"loom_parallel_status"(i32 %".1", i64* %".3", ptr %".4")\n')
    literal = '  %".2" = call ccc i32 @"loom_parallel_status"(i32 7, i64* %".3", ptr %".4")\n'
    elsewhere = 'define i32 @"g"() {\n.1:\n' + pool + '  ret i32 0\n}\n'  # the same name, another function
    for status, body, remembered in (('%".2"', "", False), ("7", "", False), ("0", "", True),
                                     ('%".2"', pool, True), ('%".5"', pool, False), ('%".2"', literal, False)):
        kernel_library.forget()
        codegen_units.keep("k0", "matmul_x.0123456789abcdef", b"object code")
        library = kernel_library.KernelLibrary("salt")
        library.built_as("matmul_x", "recipe")
        text = f'define i32 @"matmul_x.0123456789abcdef"() {{\n.1:\n{body}  ret i32 {status}\n}}\n'
        assert kernel_library.can_fail(text) != remembered
        assert kernel_library.can_fail(elsewhere + text.replace(body, "")) == (status != "0"), status
        library.record([codegen_units.Unit(text, "k0", "matmul_x.0123456789abcdef", ["matmul_x"])])
        found = kernel_library.KernelLibrary("salt").find("recipe")
        assert (found == "matmul_x.0123456789abcdef") == remembered, (status, body)


def test_kernels_compiled_without_the_disk_cache_reach_it_later(compiled, tmp_path, monkeypatch):
    """Kernels compiled while the disk cache was off, then declared by a compilation that uses it,
    are written to it with their recipes: a later process finds them."""
    run(32)
    compiled.clear()
    monkeypatch.setenv("LOOM_CACHE_DIR", str(tmp_path))
    run(20, cache_on=True)
    assert len(compiled) == 1 and not KERNEL_DEFINED.search(compiled.irs[1])  # its program only
    units = glob.glob(str(tmp_path / "k*.entry"))
    assert len(units) >= 4 and len(units) == len(glob.glob(str(tmp_path / "r*.entry")))
    codegen_units.forget()  # as a new process: only the disk
    kernel_library.forget()
    compiled.clear()
    run(47, cache_on=True)
    declared = set(KERNEL_DECLARED.findall(compiled.irs[-1]))
    assert len(compiled) == 1 and len(declared) == len(units)


def test_a_packing_on_the_thread_pool_is_found_by_recipe(compiled):
    """B's panels of a 256-wide product are packed on the thread pool (a packing routine that
    passes on the pool's status): found by recipe like every other kernel. (They were rebuilt for
    each new program, then found identical by their text, until `can_fail` knew the pool's status.)"""
    src = "def f(x: f32[B, 256], w: f32[256, 256]) -> f32[B, 256]:\n    return x @ w\n"
    rng = np.random.default_rng(3)
    w = rng.standard_normal((256, 256), dtype=np.float32)
    for batch in (64, 48):
        x = rng.standard_normal((batch, 256), dtype=np.float32)
        np.testing.assert_allclose(compiler.loads(src).f(x, w), x.astype(np.float64) @ w, rtol=1e-4, atol=1e-3)
    assert any('@"loom_parallel_status"' in t and KERNEL_DEFINED.search(t) for t in compiled[:-1])
    assert not KERNEL_DEFINED.search(compiled.irs[-1])  # the second program declares every kernel
