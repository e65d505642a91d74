"""The conversion driver (`compiler/passes/conversion.py`) of `convert-to-llvm` and `loom-scf-to-cf`
against xDSL's greedy walker: the same IR comes out, and xDSL's walker finds nothing left to rewrite
(no op of a source dialect, no trivially dead op) after `convert-to-llvm`. The programs are those whose conversion needs more than one
walk of a greedy driver: tapes pushed and popped in `for`/`if`/`while` loops (a pop's
`loom.on_failure` is cloned with the tape's free inside), checks and calls that split blocks, the
matmul micro-kernel's vector ops, prints."""

from __future__ import annotations

import numpy as np
import pytest
from xdsl.pattern_rewriter import GreedyRewritePatternApplier, PatternRewriteWalker

import compiler
from compiler import driver
from compiler.passes import convert_ad_to_llvm, convert_arith_to_llvm, convert_cf_to_llvm, convert_func_to_llvm
from compiler.passes import convert_math_to_llvm, convert_memref_to_llvm, convert_to_llvm, convert_vector_to_llvm
from compiler.passes import loom_scf_to_cf
from compiler.pipeline import make_context, print_module
from compiler.pipeline_config import NAMED_PIPELINES
from tests.test_autodiff import LOOPS, WHILE_ACTIVE_CONDITION

BEFORE = NAMED_PIPELINES["loops-to-llvm"].split(",convert-to-llvm")[0]  # the passes that precede it

CHECKS_AND_CALLS = """
def helper(x: f32[N, N], k: i64) -> f32[N, N]:
    return x * x[k, 0]

def main(a: f32[16, 16], b: f32[16, 16], k: i64) -> f32[16, 16]:
    c = a @ b
    print("sum:", sum(c))
    for i in range(k):
        c = helper(c, k) + 1.0
    return c
"""

PROGRAMS = {
    "grad_for_if_while": (LOOPS + "\ndef main(w: f64[3], x: f64[3], n: i64) -> f64[3]:\n"
                          "    return grad(f, wrt=w)(w, x, n)\n",
                          "main", (np.zeros(3), np.zeros(3), 3)),
    "grad_of_grad_nested_while": (WHILE_ACTIVE_CONDITION, "d2f", (0.5, 3)),
    "checks_calls_matmul_print": (CHECKS_AND_CALLS, "main",
                                  (np.zeros((16, 16), np.float32), np.zeros((16, 16), np.float32), 2)),
}


def greedy(module, patterns, last_first=False):
    """xDSL's driver, as the passes used before: every op offered to all the patterns, to a fixpoint."""
    everything = [p for ps in patterns.values() for p in ps]
    PatternRewriteWalker(GreedyRewritePatternApplier(everything), walk_reverse=last_first).rewrite_module(module)


def greedy_region(region, patterns, last_first=False):
    everything = [p for ps in patterns.values() for p in ps]
    PatternRewriteWalker(GreedyRewritePatternApplier(everything), walk_reverse=last_first).rewrite_region(region)


def before_conversion(name: str, passes: str = BEFORE):
    src, entry, args = PROGRAMS[name]
    lowered = getattr(compiler.loads(src, cache=False), entry).lower(*args)
    m = lowered.stage("loops")
    driver.run_passes(m, passes)
    return m


@pytest.mark.parametrize("name", sorted(PROGRAMS))
def test_scf_to_cf_same_ir_as_xdsls_greedy_walker(name, monkeypatch):
    m = before_conversion(name, BEFORE.split(",loom-scf-to-cf")[0])
    reference = m.clone()
    loom_scf_to_cf.LoomScfToCf().apply(make_context(), m)
    with monkeypatch.context() as patch:
        patch.setattr(loom_scf_to_cf, "convert", greedy_region)
        loom_scf_to_cf.LoomScfToCf().apply(make_context(), reference)
    assert print_module(m, locations=True) == print_module(reference, locations=True)
    assert "scf." not in print_module(m)


@pytest.mark.parametrize("name", sorted(PROGRAMS))
def test_same_ir_as_xdsls_greedy_walker(name, monkeypatch):
    m = before_conversion(name)
    reference = m.clone()
    convert_to_llvm.ConvertToLlvm().apply(make_context(), m)
    with monkeypatch.context() as patch:
        patch.setattr(convert_to_llvm, "rewrite", greedy)
        convert_to_llvm.ConvertToLlvm().apply(make_context(), reference)
    assert print_module(m, locations=True) == print_module(reference, locations=True)
    # nothing left for the greedy walker: no op it would convert, no dead op it would erase
    parts = (convert_ad_to_llvm.patterns(), convert_vector_to_llvm.patterns(), convert_memref_to_llvm.access_patterns(),
             convert_memref_to_llvm.definition_patterns(), convert_math_to_llvm.patterns(),
             convert_arith_to_llvm.patterns(), convert_func_to_llvm.patterns(), convert_cf_to_llvm.patterns())
    all_patterns = {"all": [p for ps in parts for p in ps]}
    text = print_module(m)
    greedy(m, all_patterns)
    assert print_module(m) == text


def test_dead_code_is_erased_not_converted():
    """A trivially dead op is erased before its pattern would turn it into one that is not (an
    unused `memref.load` must not become an `llvm.load`), and so are the ops only it used."""
    from xdsl.dialects import arith, func, memref
    from xdsl.dialects.builtin import IndexType, MemRefType, ModuleOp, f32
    from xdsl.ir import Block, Region

    body = Block(arg_types=[MemRefType(f32, [4])])
    i = arith.ConstantOp.from_int_and_width(0, IndexType())
    body.add_ops([i, memref.LoadOp.get(body.args[0], [i.result]), func.ReturnOp()])
    m = ModuleOp([func.FuncOp("f", ([MemRefType(f32, [4])], []), Region(body))])
    convert_to_llvm.ConvertToLlvm().apply(make_context(), m)
    text = print_module(m)
    assert "llvm.return" in text and "load" not in text and "constant(0) : i64" not in text, text
