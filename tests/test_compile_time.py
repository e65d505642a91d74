"""What keeps a first call cheap (docs/performance.md, "Compile time"), checked structurally (no
timings): `import compiler` and checking a program import neither xDSL nor LLVM, a call served from
the compile cache imports no xDSL, and verification after every pass is opt-in outside the tests."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from compiler import driver
from compiler.diagnostics import LoomError

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
