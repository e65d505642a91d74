"""Global-view sharding IR: the `#spmd.sharding` attribute and `spmd.sharding_constraint`
(dialects/shard_ext.py), the factor rules of every op (compiler/passes/sharding/rules.py) and the
`sharding-propagation` pass."""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from xdsl.dialects import func
from xdsl.parser import Parser
from xdsl.utils.exceptions import VerifyException

from compiler.passes.sharding.rules import RULES, rule_for
from compiler.passes.sharding_propagation import Propagation, propagate
from compiler.pipeline import make_context
from dialects import loom
from dialects.spmd import SPMD, ShardingAttr, ShardingConstraintOp


def parse(text: str, verify: bool = True):
    m = Parser(make_context(), text).parse_module()
    if verify:
        m.verify()
    return m


def module(body: str, args: str, grid: str = "2x4", results: str = "") -> str:
    return (f"shard.grid @M(shape = {grid})\nfunc.func @f({args}){' -> ' + results if results else ''} {{\n"
            f"{body}\n}}\n")


# ------------------------------------------------------------------ attribute and op
def test_attribute_python_api():
    s = ShardingAttr("M", [[0], [], [2, 1]])
    assert s.grid == "M" and s.split_axes == ((0,), (), (2, 1)) and s.partial == () and s.partial_kind == "sum"
    assert s.axes_used() == (0, 2, 1) and not s.is_replicated
    assert s.local_shape([8, 3, 24], [2, 3, 4]) == [4, 3, 2]
    assert s.local_shape([-1, 3, 24], [2, 3, 4]) == [-1, 3, 2]
    assert ShardingAttr.replicated("M", 2).is_replicated and ShardingAttr.replicated("M", 0).split_axes == ()
    p = ShardingAttr("M", [[], []], partial=[1], partial_kind="max")
    assert not p.is_replicated and p.axes_used() == (1,)
    assert p == ShardingAttr("M", [(), ()], (1,), "max")


def test_constraint_round_trips_in_mlir_syntax():
    text = module('  %0 = spmd.sharding_constraint %x <@M, [[0], []]> {kind = "param"} : tensor<8x4xf32>\n'
                  '  %1 = spmd.sharding_constraint %0 <@M, [[], [1]]> {kind = "reshard"} : tensor<8x4xf32>\n'
                  '  func.return %1 : tensor<8x4xf32>', "%x: tensor<8x4xf32>", results="tensor<8x4xf32>")
    m = parse(text)
    printed = str(m)
    assert '<@M, [[], [1]]> {kind = "reshard"}' in printed
    assert str(parse(printed)) == printed
    c = next(op for op in m.walk() if isinstance(op, ShardingConstraintOp))
    assert c.sharding == ShardingAttr("M", [[0], []]) and c.kind.data == "param"


def test_attribute_in_attribute_dicts_round_trips():
    text = module('  %0 = loom.neg %x {spmd.shardings = [#spmd.sharding<@M, [[1]], partial = sum [0]>]} '
                  ': (tensor<8xf32>) -> tensor<8xf32>\n  func.return', "%x: tensor<8xf32>")
    printed = str(parse(text))
    assert "#spmd.sharding<@M, [[1]], partial = sum [0]>" in printed
    assert str(parse(printed)) == printed


@pytest.mark.parametrize("sharding, typ, message", [
    ("[[0], [0]]", "tensor<8x4xf32>", "splits dimensions 0 and 1 over mesh axis 0: a mesh axis splits at most one"),
    ("[[0, 0], []]", "tensor<8x4xf32>", "splits dimension 0 over mesh axis 0 twice"),
    ("[[], [1]], partial = sum [1]", "tensor<8x4xf32>", "is a pending sum over mesh axis 1, which also splits "
     "dimension 1: a reduction over a mesh axis that the result is split on"),
    ("[[], []], partial = max [0, 0]", "tensor<8x4xf32>", "names mesh axis 0 twice in its pending reduction"),
    ("[[2], []]", "tensor<8x4xf32>", "names mesh axis 2, but grid @M has 2 axes"),
    ("[[0]]", "tensor<8x4xf32>", "has 1 dimensions but the value's type tensor<8x4xf32> has rank 2"),
    ("[[], [1]]", "tensor<8x6xf32>", "dimension 1 of size 6 does not split evenly over mesh axes [1] (4 devices)"),
    ("[[1, 0]]", "tensor<4xf32>", "dimension 0 of size 4 does not split evenly over mesh axes [1, 0] (8 devices)"),
    ("[[0]], partial = mean [1]", "tensor<8xf32>", "unknown partial kind 'mean'"),
])
def test_invalid_shardings_are_verify_errors(sharding, typ, message):
    text = module(f'  %0 = spmd.sharding_constraint %x <@M, {sharding}> {{kind = "param"}} : {typ}\n  func.return',
                  f"%x: {typ}")
    with pytest.raises(Exception) as e:
        parse(text)
    assert message in str(e.value)


def test_constraint_kind_and_grid_are_checked():
    bad_kind = module('  %0 = spmd.sharding_constraint %x <@M, [[0]]> {kind = "other"} : tensor<8xf32>\n  func.return',
                      "%x: tensor<8xf32>")
    with pytest.raises(VerifyException, match="kind must be one of param, result, reshard"):
        parse(bad_kind)
    no_grid = bad_kind.replace('"other"', '"param"').replace("shard.grid @M(shape = 2x4)\n", "")
    with pytest.raises(VerifyException, match="not a shard.grid of the module"):
        parse(no_grid)


# ------------------------------------------------------------------ rules
def test_every_op_has_a_rule():
    names = {op.name for op in loom.Loom.operations} | {ShardingConstraintOp.name}
    assert names <= set(RULES), f"ops without a sharding rule: {sorted(names - set(RULES))}"
    assert {op.name for op in SPMD.operations} - set(RULES) == {"spmd.enter", "spmd.exit"}  # replicated default


def rules_of(body: str, args: str) -> list[str]:
    m = parse(module(body + "\n  func.return", args), verify=False)
    return [str(rule_for(op)) for op in m.walk() if op.name.startswith(("loom.", "spmd.", "arith."))]


@pytest.mark.parametrize("op, args, rule", [
    ("loom.matmul %a, %b : (tensor<8x16xf32>, tensor<16x4xf32>) -> tensor<8x4xf32>",
     "%a: tensor<8x16xf32>, %b: tensor<16x4xf32>", "([i, k], [k, j]) -> ([i, j]) {i=8, j=4, k=16} reduction={k}"),
    ("loom.matmul %a, %b : (tensor<2x1x8x16xf32>, tensor<3x16x4xf32>) -> tensor<2x3x8x4xf32>",
     "%a: tensor<2x1x8x16xf32>, %b: tensor<3x16x4xf32>",
     "([i, n, k, m], [j, m, l]) -> ([i, j, k, l]) {i=2, j=3, k=8, l=4, m=16, n=1} reduction={m}"),
    ("loom.matmul %a, %b : (tensor<16xf32>, tensor<16xf32>) -> f32", "%a: tensor<16xf32>, %b: tensor<16xf32>",
     "([i], [i]) -> ([]) {i=16} reduction={i}"),
    ("loom.add %a, %b : (tensor<8x1xf32>, tensor<6xf32>) -> tensor<8x6xf32>", "%a: tensor<8x1xf32>, %b: tensor<6xf32>",
     "([i, k], [j]) -> ([i, j]) {i=8, j=6, k=1}"),
    ("loom.select %c, %a, %s : (tensor<8xi1>, tensor<8xf32>, f32) -> tensor<8xf32>",
     "%c: tensor<8xi1>, %a: tensor<8xf32>, %s: f32", "([i], [i], []) -> ([i]) {i=8}"),
    ("loom.sum %a {axes = array<i64: 1>} : (tensor<8x6xf32>) -> tensor<8xf32>", "%a: tensor<8x6xf32>",
     "([i, j]) -> ([i]) {i=8, j=6} reduction={j}"),
    ("loom.max %a {axes = array<i64: 0>, keepdims} : (tensor<8x6xf32>) -> tensor<1x6xf32>", "%a: tensor<8x6xf32>",
     "([i, j]) -> ([k, j]) {i=8, j=6, k=1} reduction={i} (max)"),
    ("loom.argmax %a {axes = array<i64: 1>} : (tensor<8x6xf32>) -> tensor<8xi64>", "%a: tensor<8x6xf32>",
     "([i, j]) -> ([i]) {i=8, j=6} need_replicated={j}"),
    ("loom.reshape %a : (tensor<8x6xf32>) -> tensor<2x4x6xf32>", "%a: tensor<8x6xf32>",
     "([i, k]) -> ([i, j, k]) {i=2, j=4, k=6} need_replicated={j}"),
    ("loom.reshape %a : (tensor<2x6xf32>) -> tensor<4x3xf32>", "%a: tensor<2x6xf32>",
     "([i, j]) -> ([k, l]) {i=2, j=6, k=4, l=3} need_replicated={i, j, k, l}"),
    ("loom.transpose %a {permutation = array<i64: 1, 0>} : (tensor<8x6xf32>) -> tensor<6x8xf32>",
     "%a: tensor<8x6xf32>", "([i, j]) -> ([j, i]) {i=8, j=6}"),
    ("loom.broadcast_to %a : (tensor<6xf32>) -> tensor<8x6xf32>", "%a: tensor<6xf32>",
     "([j]) -> ([i, j]) {i=8, j=6}"),
    ("loom.concat %a, %a {axis = array<i64: 0>} : (tensor<8x6xf32>, tensor<8x6xf32>) -> tensor<16x6xf32>",
     "%a: tensor<8x6xf32>", "([k, j], [l, j]) -> ([i, j]) {i=16, j=6, k=8, l=8} need_replicated={i, k, l}"),
    ("loom.slice %a {kinds = array<i64: 0, 2>, starts = array<i64: -9223372036854775808, 3>, "
     "stops = array<i64: -9223372036854775808, 0>, steps = array<i64: -9223372036854775808, 1>} "
     ": (tensor<8x6xf32>) -> tensor<8xf32>", "%a: tensor<8x6xf32>", "([i, j]) -> ([i]) {i=8, j=6} need_replicated={j}"),
    ("loom.slice %a {kinds = array<i64: 0>, starts = array<i64: 2>, stops = array<i64: 6>, steps = array<i64: 1>} "
     ": (tensor<8xf32>) -> tensor<4xf32>", "%a: tensor<8xf32>", "([i]) -> ([i]) {i=4} windows={i=[2:6] of 8}"),
    ("loom.update %a, %v {kinds = array<i64: 2, 0>, starts = array<i64: 1, 0>, stops = array<i64: 0, 6>, "
     "steps = array<i64: 1, 1>} : (tensor<8x6xf32>, tensor<6xf32>) -> tensor<8x6xf32>",
     "%a: tensor<8x6xf32>, %v: tensor<6xf32>", "([i, j], [j]) -> ([i, j]) {i=8, j=6} need_replicated={i}"),
    ("loom.dim %a {axis = array<i64: 0>} : (tensor<8x6xf32>) -> i64", "%a: tensor<8x6xf32>",
     "([i, j]) -> ([]) {i=8, j=6}"),
    ("loom.random \"normal\", %s : (i64) -> tensor<8x6xf32>", "%s: i64",
     "([]) -> ([i, j]) {i=8, j=6} need_replicated={i, j}"),
    ("loom.full %s : (f32) -> tensor<8xf32>", "%s: f32", "([]) -> ([i]) {i=8}"),
    ("spmd.sharding_constraint %a <@M, [[0], []]> {kind = \"param\"} : tensor<8x6xf32>", "%a: tensor<8x6xf32>",
     "([i, j]) -> ([i, j]) {i=8, j=6}"),
])
def test_rules(op, args, rule):
    assert rules_of(f"  %r = {op}", args) == [rule]


def test_print_needs_its_operands_whole():
    (r,) = rules_of('  loom.print "{}", %a : tensor<8xf32>', "%a: tensor<8xf32>")
    assert r == "([i]) -> () {i=8} need_replicated={i}"


@settings(max_examples=60, deadline=None)
@given(st.lists(st.sampled_from([1, 2, 3, 4, 6]), min_size=1, max_size=4), st.data())
def test_reshape_factor_blocks_are_the_same_elements(dims, data):
    """For every splittable factor of a reshape and every n dividing it: block k of the operand
    along the operand's dim carrying it holds exactly the elements of block k of the result along
    the result's dim carrying it (so splitting the factor is a valid sharding of both)."""
    total = math.prod(dims)
    perm = data.draw(st.permutations(dims))
    cut = data.draw(st.integers(0, len(perm)))
    out = [math.prod(perm[:cut]), *perm[cut:]] if cut else list(perm)
    out = [d for d in out if d != 1] or [1]
    a_shape, b_shape = list(dims), out
    if math.prod(b_shape) != total:
        return
    (rule,) = [rule_for(op) for op in parse(module(
        f"  %r = loom.reshape %a : ({_t(a_shape)}) -> {_t(b_shape)}\n  func.return", f"%a: {_t(a_shape)}"),
        verify=False).walk() if op.name == "loom.reshape"]
    a = np.arange(total).reshape(a_shape)
    b = a.reshape(b_shape)
    for f, size in rule.factor_sizes.items():
        if f in rule.need_replicated or size == 1:
            continue
        (da,) = [d for d, g in enumerate(rule.operand_factors[0]) if g == f]
        (db,) = [d for d, g in enumerate(rule.result_factors[0]) if g == f]
        for n in (k for k in range(2, size + 1) if size % k == 0):
            for x, y in zip(np.split(a, n, axis=da), np.split(b, n, axis=db)):
                assert sorted(x.ravel()) == sorted(y.ravel())


def _t(shape) -> str:
    return f"tensor<{'x'.join(map(str, shape))}xf32>"


# ------------------------------------------------------------------ propagation
def propagated(body: str, args: str, results: str, grid: str = "2x4"):
    m = parse(module(body, args, grid, results))
    fn = next(op for op in m.ops if isinstance(op, func.FuncOp))
    propagate(fn)
    m.verify()
    return fn


def shardings(fn) -> dict[str, str]:
    out = {}
    for op in fn.walk():
        for r, s in zip(op.results, op.attributes.get("spmd.shardings", []).data if "spmd.shardings" in op.attributes
                        else []):
            out[r.name_hint or op.name] = str(s).removeprefix("#spmd.sharding")
    return out


def test_dp_mlp():
    fn = propagated("""
  %x = spmd.sharding_constraint %a <@M, [[0], []]> {kind = "param"} : tensor<8x4xf32>
  %w = spmd.sharding_constraint %b <@M, [[], []]> {kind = "param"} : tensor<4x6xf32>
  %h = loom.matmul %x, %w : (tensor<8x4xf32>, tensor<4x6xf32>) -> tensor<8x6xf32>
  %r = loom.relu %h : (tensor<8x6xf32>) -> tensor<8x6xf32>
  %s = loom.sum %r {axes = array<i64: 0, 1>} : (tensor<8x6xf32>) -> f32
  func.return %s : f32""", "%a: tensor<8x4xf32>, %b: tensor<4x6xf32>", "f32")
    s = shardings(fn)
    assert s["h"] == s["r"] == "<@M, [[0], []]>"
    assert s["s"] == "<@M, [], partial = sum [0]>"
    assert [str(a) for a in fn.attributes["spmd.arg_shardings"].data] == [
        "#spmd.sharding<@M, [[0], []]>", "#spmd.sharding<@M, [[], []]>"]
    assert [str(a) for a in fn.attributes["spmd.res_shardings"].data] == ["#spmd.sharding<@M, [], partial = sum [0]>"]


def test_backward_propagation_and_user_constraints_win():
    """A value with no sharding from its operands takes its users'; a constraint's own result
    never changes, whatever reaches it."""
    fn = propagated("""
  %e = loom.exp %a : (tensor<8x4xf32>) -> tensor<8x4xf32>
  %t = loom.transpose %e {permutation = array<i64: 1, 0>} : (tensor<8x4xf32>) -> tensor<4x8xf32>
  %c = spmd.sharding_constraint %t <@M, [[], [1]]> {kind = "reshard"} : tensor<4x8xf32>
  %n = loom.neg %c : (tensor<4x8xf32>) -> tensor<4x8xf32>
  %d = spmd.sharding_constraint %n <@M, [[0], []]> {kind = "result"} : tensor<4x8xf32>
  func.return %d : tensor<4x8xf32>""", "%a: tensor<8x4xf32>", "tensor<4x8xf32>")
    s = shardings(fn)
    assert s["e"] == "<@M, [[1], []]>" and s["t"] == "<@M, [[], [1]]>"
    assert s["c"] == "<@M, [[], [1]]>" and s["n"] == "<@M, [[], [1]]>" and s["d"] == "<@M, [[0], []]>"
    assert str(fn.attributes["spmd.arg_shardings"].data[0]) == "#spmd.sharding<@M, [[1], []]>"


def test_partial_passes_through_linear_ops_only():
    fn = propagated("""
  %x = spmd.sharding_constraint %a <@M, [[], [1]]> {kind = "param"} : tensor<8x4xf32>
  %w = spmd.sharding_constraint %b <@M, [[1], []]> {kind = "param"} : tensor<4x6xf32>
  %y = loom.matmul %x, %w : (tensor<8x4xf32>, tensor<4x6xf32>) -> tensor<8x6xf32>
  %z = loom.matmul %x, %w : (tensor<8x4xf32>, tensor<4x6xf32>) -> tensor<8x6xf32>
  %s = loom.add %y, %z : (tensor<8x6xf32>, tensor<8x6xf32>) -> tensor<8x6xf32>
  %t = loom.mul %s, %c : (tensor<8x6xf32>, tensor<8x6xf32>) -> tensor<8x6xf32>
  %u = loom.add %t, %c : (tensor<8x6xf32>, tensor<8x6xf32>) -> tensor<8x6xf32>
  %v = loom.exp %t : (tensor<8x6xf32>) -> tensor<8x6xf32>
  func.return""", "%a: tensor<8x4xf32>, %b: tensor<4x6xf32>, %c: tensor<8x6xf32>", "")
    s = shardings(fn)
    partial = "<@M, [[], []], partial = sum [1]>"
    assert s["y"] == s["z"] == s["s"] == s["t"] == partial
    assert s["u"] == s["v"] == "<@M, [[], []]>"  # partial + whole, exp(partial): the sum comes first


def test_split_contraction_into_a_split_result_is_not_partial_there():
    """The user wants the result split over the axis the contraction is split over: the result
    is recorded split, not partial (the partitioner reduce-scatters)."""
    fn = propagated("""
  %w = spmd.sharding_constraint %b <@M, [[1], []]> {kind = "param"} : tensor<4x8xf32>
  %y = loom.matmul %a, %w : (tensor<8x4xf32>, tensor<4x8xf32>) -> tensor<8x8xf32>
  %c = spmd.sharding_constraint %y <@M, [[1], []]> {kind = "result"} : tensor<8x8xf32>
  func.return %c : tensor<8x8xf32>""", "%a: tensor<8x4xf32>, %b: tensor<4x8xf32>", "tensor<8x8xf32>")
    s = shardings(fn)
    assert s["y"] == "<@M, [[1], []]>"
    assert str(fn.attributes["spmd.arg_shardings"].data[0]) == "#spmd.sharding<@M, [[], [1]]>"


def test_uneven_and_blocked_factors_do_not_propagate():
    fn = propagated("""
  %x = spmd.sharding_constraint %a <@M, [[1], []]> {kind = "param"} : tensor<8x6xf32>
  %r = loom.reshape %x : (tensor<8x6xf32>) -> tensor<2x24xf32>
  %c = loom.concat %x, %x {axis = array<i64: 0>} : (tensor<8x6xf32>, tensor<8x6xf32>) -> tensor<16x6xf32>
  %t = loom.transpose %x {permutation = array<i64: 1, 0>} : (tensor<8x6xf32>) -> tensor<6x8xf32>
  func.return""", "%a: tensor<8x6xf32>", "")
    s = shardings(fn)
    assert s["r"] == "<@M, [[], []]>"  # the major factor (size 2) does not split over 4 devices
    assert s["c"] == "<@M, [[], []]>"  # concat joins along dim 0: it stays whole
    assert s["t"] == "<@M, [[], [1]]>"


def test_loop_carried_values_agree():
    fn = propagated("""
  %lb = arith.constant 0 : index
  %ub = arith.constant 4 : index
  %st = arith.constant 1 : index
  %x = spmd.sharding_constraint %a <@M, [[0], []]> {kind = "param"} : tensor<8x4xf32>
  %l = scf.for %i = %lb to %ub step %st iter_args(%acc = %b) -> (tensor<8x4xf32>) {
    %n = loom.add %acc, %x : (tensor<8x4xf32>, tensor<8x4xf32>) -> tensor<8x4xf32>
    scf.yield %n : tensor<8x4xf32>
  }
  %w = scf.while (%v = %l) : (tensor<8x4xf32>) -> tensor<8x4xf32> {
    %s = loom.sum %v {axes = array<i64: 0, 1>} : (tensor<8x4xf32>) -> f32
    %k = arith.constant 1.0 : f32
    %c = loom.cmp "lt", %s, %k : (f32, f32) -> i1
    scf.condition(%c) %v : tensor<8x4xf32>
  } do {
  ^bb0(%q: tensor<8x4xf32>):
    %m = loom.neg %q : (tensor<8x4xf32>) -> tensor<8x4xf32>
    scf.yield %m : tensor<8x4xf32>
  }
  func.return %w : tensor<8x4xf32>""", "%a: tensor<8x4xf32>, %b: tensor<8x4xf32>", "tensor<8x4xf32>")
    s = shardings(fn)
    split = "<@M, [[0], []]>"
    assert s["n"] == s["l"] == s["w"] == s["m"] == split
    assert s["s"] == "<@M, [], partial = sum [0]>"
    assert str(fn.attributes["spmd.arg_shardings"].data[1]) == "#spmd.sharding" + split  # the init, backward


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["neg", "exp", "transpose", "sum", "add", "constraint"]),
                          st.integers(0, 2)), min_size=1, max_size=12))
def test_random_programs_get_valid_shardings_everywhere(steps):
    """Any chain of ops and constraints: every op gets one valid sharding per result (the pass
    verifies them against the types and the grid) and constraints keep theirs."""
    options = ["[[0], []]", "[[], [1]]", "[[1], [0]]", "[[], []]", "[[0, 1], []]"]
    shape = (8, 8)
    lines, cur = [f'  %p = spmd.sharding_constraint %x0 <@M, {options[len(steps) % 5]}> {{kind = "param"}} : {_t(shape)}'], "%p"
    for i, (kind, k) in enumerate(steps):
        t = _t(shape)
        name = f"%v{i}"
        if kind == "neg":
            lines.append(f"  {name} = loom.neg {cur} : ({t}) -> {t}")
        elif kind == "exp":
            lines.append(f"  {name} = loom.exp {cur} : ({t}) -> {t}")
        elif kind == "transpose":
            lines.append(f"  {name} = loom.transpose {cur} {{permutation = array<i64: 1, 0>}} : ({t}) -> {t}")
        elif kind == "add":
            lines.append(f"  {name} = loom.add {cur}, %p : ({t}, {t}) -> {t}")
        elif kind == "sum":
            lines.append(f"  {name} = loom.sum {cur} {{axes = array<i64: {k % 2}>, keepdims}} : ({t}) -> "
                         f"{_t((1, 8) if k % 2 == 0 else (8, 1))}")
            lines.append(f"  {name}b = loom.broadcast_to {name} : ({_t((1, 8) if k % 2 == 0 else (8, 1))}) -> {t}")
            name = f"{name}b"
        else:
            lines.append(f'  {name} = spmd.sharding_constraint {cur} <@M, {options[k + (i % 3)]}> '
                         f'{{kind = "reshard"}} : {t}')
        cur = name
    lines.append(f"  func.return {cur} : {_t(shape)}")
    fn = propagated("\n".join(lines), f"%x0: {_t(shape)}", _t(shape), grid="2x4")
    for op in fn.walk():
        if op.results:
            assert len(op.attributes["spmd.shardings"].data) == len(op.results)
        if isinstance(op, ShardingConstraintOp):
            assert op.attributes["spmd.shardings"].data[0] == op.sharding


def test_visits_grow_linearly():
    """A long chain: each node is visited a bounded number of times (no rescans per change)."""
    n = 400
    body = ['  %v0 = spmd.sharding_constraint %a <@M, [[0], [1]]> {kind = "param"} : tensor<8x8xf32>']
    body += [f"  %v{i + 1} = loom.exp %v{i} : (tensor<8x8xf32>) -> tensor<8x8xf32>" for i in range(n)]
    body.append(f'  %r = spmd.sharding_constraint %v{n} <@M, [[], []]> {{kind = "result"}} : tensor<8x8xf32>')
    body.append("  func.return %r : tensor<8x8xf32>")
    m = parse(module("\n".join(body), "%a: tensor<8x8xf32>", results="tensor<8x8xf32>"))
    fn = next(op for op in m.ops if isinstance(op, func.FuncOp))
    p = Propagation(fn, "M", [2, 4])
    p.run()
    assert p.visits <= 3 * len(p.nodes)
    p.record()
    assert str(fn.body.block.ops.last.prev_op.attributes["spmd.shardings"].data[0]) == "#spmd.sharding<@M, [[], []]>"
