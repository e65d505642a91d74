"""What keeps a first call cheap (docs/performance.md, "Compile time"), checked structurally (no
timings): `import compiler` and checking a program import neither xDSL nor LLVM, a call served from
the compile cache — from Python or by `loom run` — imports no xDSL (so runs no pass), compiling a
program that does not distribute imports nothing of the distributed half (the shard, spmd, mpi and
bufferization dialects, the MPI ABI table, the collectives' rules), and verification after every
pass is opt-in outside the tests."""

from __future__ import annotations

import importlib
import json
import os
import subprocess
import sys

import numpy as np
import pytest

import compiler
from compiler import driver
from compiler.diagnostics import LoomError
from compiler.pipeline import parse_passes
from compiler.pipeline_config import NAMED_PIPELINES

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SRC = "def f(x: f32[N]) -> f32:\n    return sum(x * 2.0)\n"

# in a fresh process: which heavy packages are loaded after each step
CHILD = r"""
import json, sys
import numpy as np
def loaded():
    return sorted({m.split('.')[0] for m in sys.modules} & {"xdsl", "llvmlite"})
steps = {}
import compiler
steps["import"] = loaded()
prog = compiler.loads(sys.argv[1], name="t.loom", cache=True)
steps["check"] = loaded()
steps["result"] = float(prog.f(np.arange(4, dtype=np.float32)))
steps["call"] = loaded()
print(json.dumps(steps))
"""


def run_child(cache_dir) -> dict:
    env = dict(os.environ, LOOM_CACHE_DIR=str(cache_dir))
    r = subprocess.run([sys.executable, "-c", CHILD, SRC], cwd=ROOT, env=env, capture_output=True, text=True,
                       timeout=300)
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout.strip().splitlines()[-1])


def test_import_and_check_need_no_xdsl_nor_llvm_and_a_cache_hit_no_xdsl(tmp_path):
    cold = run_child(tmp_path / "cache")
    assert cold["import"] == [] and cold["check"] == []
    assert cold["call"] == ["llvmlite", "xdsl"] and cold["result"] == 12.0
    hit = run_child(tmp_path / "cache")  # the same cache directory: the object code is loaded
    assert hit["call"] == ["llvmlite"] and hit["result"] == 12.0


# `loom run` in a fresh process: its output, then which heavy packages it loaded
CLI_CHILD = r"""
import sys
from compiler.cli import main
code = main(sys.argv[1:])
print(code, sorted({m.split('.')[0] for m in sys.modules} & {"xdsl", "llvmlite"}))
"""


def test_loom_run_served_from_the_cache_imports_no_xdsl(tmp_path):
    """The `loom` command imports xDSL only to run passes: a run whose object code is in the
    cache (the same source, entry point and inputs) runs no pass, so it loads no xDSL."""
    path = tmp_path / "main.loom"
    path.write_text("def main() -> f32:\n    return sum(f32(arange(4)) * 2.0)\n")
    env = dict(os.environ, LOOM_CACHE_DIR=str(tmp_path / "cache"))
    outs = [subprocess.run([sys.executable, "-c", CLI_CHILD, "run", str(path)], cwd=ROOT, env=env,
                           capture_output=True, text=True, timeout=300, check=False) for _ in range(2)]
    assert [r.stdout.splitlines() for r in outs] == [["12.0", "0 ['llvmlite', 'xdsl']"], ["12.0", "0 ['llvmlite']"]], \
        [r.stderr for r in outs]


# a compilation in a fresh process (a derivative, a matmul, a loop): which modules of the
# distributed half it loaded
DISTRIBUTED_CHILD = r"""
import sys
import numpy as np
import compiler
src = '''
def loss(w: f32[16, 16], x: f32[8, 16]) -> f32:
    h = relu(x @ w)
    for i in range(2):
        h = h * 0.5
    return sum(h * h)

def step(w: f32[16, 16], x: f32[8, 16]):
    return value_and_grad(loss)(w, x)
'''
prog = compiler.loads(src, name="t.loom", cache=False)
prog.step(np.ones((16, 16), np.float32), np.ones((8, 16), np.float32))
print(sorted(m for m in sys.modules if m in sys.argv[1:]))
"""
DISTRIBUTED_MODULES = ("dialects.spmd", "dialects.shard_ext", "xdsl.dialects.shard", "xdsl.dialects.mpi",
                       "xdsl.dialects.bufferization", "xdsl.transforms.lower_mpi", "runtime.mpi_abi",
                       "compiler.passes.mpi_collectives", "compiler.passes.autodiff.collective_rules",
                       "compiler.frontend.spmd_emit", "compiler.frontend.global_view_emit")


def test_a_program_that_does_not_distribute_imports_nothing_of_the_distributed_half():
    r = subprocess.run([sys.executable, "-c", DISTRIBUTED_CHILD, *DISTRIBUTED_MODULES], cwd=ROOT,
                       capture_output=True, text=True, timeout=300, check=False)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip().splitlines()[-1] == "[]"
    for name in DISTRIBUTED_MODULES:  # and the names are not stale: each module exists
        importlib.import_module(name)


CHECK_NAMED = ("import sys; from compiler import driver; driver.check_pipeline('loom-opt'); "
               "print(sorted(m for m in sys.modules if m.split('.')[0] == 'xdsl'))")


def test_a_named_pipeline_is_checked_without_xdsl_and_a_bad_one_with_it():
    r = subprocess.run([sys.executable, "-c", CHECK_NAMED], cwd=ROOT, capture_output=True, text=True, timeout=300,
                       check=False)
    assert r.stdout.strip() == "[]", r.stderr
    for name in NAMED_PIPELINES:  # what check_pipeline takes as valid without parsing it: it is
        parse_passes(name)
    with pytest.raises(LoomError, match="unknown pass 'loom-nope'"):
        driver.check_pipeline("loom-opt,loom-nope")


BROKEN = "func.func @f(%x: f32) -> i32 {\n  func.return %x : f32\n}\n"  # returns the wrong type


def parsed(text: str):
    from xdsl.parser import Parser

    from compiler.pipeline import make_context

    return Parser(make_context(), text).parse_module()


@pytest.mark.parametrize("setting, each", [("1", True), ("0", False), ("", False)])
def test_verify_each_follows_loom_verify_each(monkeypatch, setting, each):
    monkeypatch.setenv("LOOM_VERIFY_EACH", setting)
    pm = driver.run_passes(parsed("func.func @f(%x: f32) -> f32 {\n  func.return %x : f32\n}\n"), "cse,dce")
    assert pm.verify_each is each


@pytest.mark.parametrize("setting", ["1", "0"])
def test_invalid_ir_is_reported_either_way(monkeypatch, setting):
    """Without verify-each the IR is still verified after the last pass; the error says which passes
    ran and how to find the culprit."""
    monkeypatch.setenv("LOOM_VERIFY_EACH", setting)
    with pytest.raises(LoomError) as e:
        driver.run_passes(parsed(BROKEN), "cse,dce")
    if setting == "1":
        assert "after pass 'cse' (a bug in that pass)" in e.value.message
    else:
        assert "after the passes up to 'dce'" in e.value.message and "LOOM_VERIFY_EACH=1" in e.value.message


# ---------------------------------------------------------------- the compile path's shortcuts
@pytest.mark.parametrize("loom_verify, each, verified", [("", "0", False), ("1", "0", True), ("", "1", True)])
def test_ir_compiled_for_a_call_is_verified_on_request(monkeypatch, loom_verify, each, verified):
    """The JIT path skips the final verification unless LOOM_VERIFY=1 (or LOOM_VERIFY_EACH=1, as in
    the tests); IR a user asks for (`stage`, `as_text`) is always verified."""
    from compiler import pipeline

    calls = []
    real = pipeline.verify
    monkeypatch.setattr(pipeline, "verify", lambda m, *a, **k: (calls.append(a[0] if a else None), real(m, *a, **k)))
    monkeypatch.setenv("LOOM_VERIFY", loom_verify)
    monkeypatch.setenv("LOOM_VERIFY_EACH", each)
    low = compiler.loads(SRC).f.lower(np.arange(4, dtype=np.float32))
    low.artifact()
    after_passes = [c for c in calls if c is not None]  # (IR generation's verification names no pass)
    assert bool(after_passes) is verified
    calls.clear()
    low.stage("llvm-dialect")  # a stage asked for: verified (now, unless it was for the call)
    assert bool([c for c in calls if c is not None]) is not verified


def test_no_full_collections_while_compiling():
    """`young_collections_only` turns generation 2 off and restores the thresholds, also on errors."""
    import gc

    before = gc.get_threshold()
    with pytest.raises(RuntimeError):
        with driver.young_collections_only():
            assert gc.get_threshold() == (before[0], before[1], driver.NO_FULL_COLLECTIONS)
            raise RuntimeError
    assert gc.get_threshold() == before
