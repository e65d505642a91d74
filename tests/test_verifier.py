"""Whole-module verification (compiler/verifier.py): linear in the number of blocks (issue 9:
xDSL's verifier walks a region's block list once per block), and it rejects what xDSL's does,
plus uses before definitions, naming the failing op's location. Also the block splitting of
convert-func-to-llvm, which must not walk the block list either."""

import pytest
from xdsl.ir.core import RegionBlocks, _RegionBlocksIterator
from xdsl.parser import Parser

from compiler.diagnostics import LoomError
from compiler.passes.convert_func_to_llvm import split_before
from compiler.pipeline import make_context, verify


def parse(body: str):
    """A module of one `func.func @f`; each op of `body` gets the location bad.mlir:<line>:3 (a
    region op that of the line that closes it)."""
    lines = [l if l.startswith("^") or l.endswith("{") else f'{l} loc("bad.mlir":{i + 2}:3)'
             for i, l in enumerate(body.splitlines())]
    return Parser(make_context(), "builtin.module {\nfunc.func @f(%c: i1) -> i32 {\n" + "\n".join(lines) + "\n}\n}\n").parse_module()


def branch_chain(blocks: int) -> str:
    """`blocks` blocks, each a constant and a branch to the next; the last returns."""
    out = []
    for b in range(blocks):
        out += [f"^bb{b}:"] if b else []
        out += [f"%v{b} = arith.constant {b} : i32"]
        out += [f"cf.br ^bb{b + 1}" if b + 1 < blocks else f"func.return %v{b} : i32"]
    return "\n".join(out)


def block_visits(run, monkeypatch) -> tuple[int, int]:
    """(steps through region block lists, calls of len() on a block list) during run()."""
    steps, lens = [0], [0]
    step, length = _RegionBlocksIterator.__next__, RegionBlocks.__len__

    def counted_step(self):
        steps[0] += 1
        return step(self)

    def counted_len(self):
        lens[0] += 1
        return length(self)

    with monkeypatch.context() as mp:
        mp.setattr(_RegionBlocksIterator, "__next__", counted_step)
        mp.setattr(RegionBlocks, "__len__", counted_len)
        run()
    return steps[0], lens[0]


def test_verifying_a_function_of_2000_blocks_walks_its_block_list_a_bounded_number_of_times(monkeypatch):
    m1000, m2000 = parse(branch_chain(1000)), parse(branch_chain(2000))
    (s1000, l1000), (s2000, l2000) = block_visits(lambda: verify(m1000), monkeypatch), block_visits(lambda: verify(m2000), monkeypatch)
    # xDSL's Operation.verify calls len(region.blocks) for each block's last op: 2000^2 steps;
    # here only the few ops whose own verifiers look at their region's blocks (func.func) do
    assert l1000 == l2000 <= 8
    assert s2000 <= 12 * 2000 and s2000 - s1000 <= 12 * 1000


@pytest.mark.parametrize("body, line, fragment", [
    # a block of a multi-block region that does not end in a terminator
    ("cf.br ^bb1\n^bb1:\n%0 = arith.constant 1 : i32", 4, "terminates block in multi-block region"),
    # a single-block region whose only block does not end in a terminator
    ("%0 = arith.constant 1 : i32", 2, "terminates block in single-block region"),
    # a terminator that is not the last op of its block
    ("%0 = arith.constant 1 : i32\nfunc.return %0 : i32\n%1 = arith.constant 2 : i32\nfunc.return %1 : i32",
     3, "must be the last operation"),
    # an operand defined after its use, in the same block and from inside a nested region
    ("%1 = arith.addi %0, %0 : i32\n%0 = arith.constant 1 : i32\nfunc.return %1 : i32", 2, "used before it is defined"),
    ("scf.if %c {\n%1 = arith.addi %0, %0 : i32\n}\n%0 = arith.constant 1 : i32\nfunc.return %0 : i32",
     3, "used before it is defined"),
    # an op using its own result
    ("%0 = arith.addi %0, %0 : i32\nfunc.return %0 : i32", 2, "used before it is defined"),
])
def test_invalid_ir_is_rejected_at_the_failing_op(body, line, fragment):
    m = parse(body)
    with pytest.raises(LoomError) as ei:
        verify(m, after="some-pass")
    assert fragment in ei.value.message and "after pass 'some-pass'" in ei.value.message
    assert (ei.value.file, ei.value.line) == ("bad.mlir", line)


def test_a_value_from_a_region_that_does_not_enclose_its_use_is_rejected():
    m = parse("scf.if %c {\n%0 = arith.constant 1 : i32\n}\n%1 = arith.constant 2 : i32\nfunc.return %1 : i32")
    inner = next(o for o in m.walk() if o.name == "arith.constant")
    ret = next(o for o in m.walk() if o.name == "func.return")
    ret.operands = [inner.results[0]]
    with pytest.raises(LoomError) as ei:
        verify(m)
    assert "does not enclose its use" in ei.value.message and ei.value.line == 6


def test_a_branch_into_another_region_is_rejected():
    m = parse("%0 = arith.constant 1 : i32\nscf.if %c {\nscf.yield\n}\ncf.br ^bb1\n^bb1:\nfunc.return %0 : i32")
    if_op = next(o for o in m.walk() if o.name == "scf.if")
    br = next(o for o in m.walk() if o.name == "cf.br")
    br.successors = [if_op.regions[0].block]
    with pytest.raises(LoomError) as ei:
        verify(m)
    assert "branching to a block of a different region" in ei.value.message and ei.value.line == 6


def test_valid_ir_verifies():
    verify(parse(branch_chain(3)))
    verify(parse("%0 = arith.constant 1 : i32\nscf.if %c {\n%1 = arith.addi %0, %0 : i32\n}\nfunc.return %0 : i32"))


def test_splitting_a_block_does_not_walk_the_block_list(monkeypatch):
    m = parse(branch_chain(2000))
    blocks = list(next(o for o in m.walk() if o.name == "func.func").regions[0].blocks)
    middle = blocks[1000]
    br = middle.last_op
    steps, lens = block_visits(lambda: split_before(br), monkeypatch)
    assert (steps, lens) == (0, 0)  # xDSL's Block.split_before walks it twice: ~2000 steps
    cont = middle.next_block
    assert cont.next_block is blocks[1001] and list(cont.ops) == [br] and br.parent is cont
    assert [o.name for o in middle.ops] == ["arith.constant"]
