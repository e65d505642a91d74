"""`loom explain` (compiler/explain.py): the table of a partitioned program's collectives.

The table builder is a function of a module, tested on hand-written partitioned IR
(tests/fixtures/partitioned_mlp.mlir: what `shard-partition` writes, docs/sharding.md §3); the CLI
subcommand on programs compiled to stage `spmd`."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import run_cli
from xdsl.parser import Parser

from compiler import explain
from compiler.passes.sharding.cost_model import collective_time
from compiler.pipeline import make_context, verify

FIXTURES = Path(__file__).parent / "fixtures"


def parse(text: str, name: str = "fixture.mlir"):
    module = Parser(make_context(), text, name).parse_module()
    verify(module)
    return module


@pytest.fixture(scope="module")
def mlp():
    return parse((FIXTURES / "partitioned_mlp.mlir").read_text())


def test_rows_in_program_order(mlp):
    rows, local = explain.collectives(mlp)
    assert [(r.where, r.kind, r.axes, r.group) for r in rows] == [
        ("mlp.loom:4:12", "all_reduce", ("tp",), 2),
        ("mlp.loom:6:13", "all_to_all", ("tp",), 2),
        ("mlp.loom:6:13", "all_gather", ("tp",), 2),
        ("mlp.loom:7:5", "all_gather", ("dp",), 2)]
    assert local == 3  # the three arguments cut by all_slice
    assert rows[0].reason.startswith("loom.matmul at mlp.loom:4:12: result is partial sum over tp")
    assert [r.count for r in rows] == [1, 3, 3, 1]  # the loop runs 3 times


def test_bytes_follow_the_formulas(mlp):
    rows, _ = explain.collectives(mlp)
    # operands: 4x4 f32 (64 B), 4x4 (64 B), 8x2 (64 B), 4x4 (64 B); n = 2
    assert [r.operand_bytes for r in rows] == [64, 64, 64, 64]
    assert [r.bytes for r in rows] == [2 * 1 * 64 // 2, 1 * 64 // 2, 1 * 64, 1 * 64]
    assert [r.seconds for r in rows] == [collective_time(r.kind, r.operand_bytes, r.group) for r in rows]


@pytest.mark.parametrize("kind, s, n, sent", [
    ("all_reduce", 1024, 4, 1536), ("all_gather", 256, 4, 768), ("reduce_scatter", 1024, 4, 768),
    ("all_to_all", 1024, 4, 768), ("broadcast", 1024, 4, 1024), ("shift", 1024, 4, 1024),
    ("all_reduce", 1024, 1, 0)])
def test_send_bytes(kind, s, n, sent):
    assert explain.SEND_BYTES[kind](s, n) == sent


def test_totals_count_loop_iterations(mlp):
    rows, local = explain.collectives(mlp)
    text = explain.format_table(rows, local)
    total = 64 + 3 * 32 + 3 * 64 + 64
    assert f"total: 8 collective(s) per call (all_gather 4, all_reduce 1, all_to_all 3); {total:,} bytes" in text
    assert "and 3 all_slice" in text
    assert "all_to_all(axis 1 -> 0) over tp x3" in text
    assert "all_reduce 2(n-1)/n*S" in text  # the formulas are stated


def test_unknown_trip_count_is_left_out_of_totals():
    module = parse("""
shard.grid @M(shape = 4) {loom.axes = ["dp"]}
func.func @f(%x: tensor<8xf32>, %n: index) -> tensor<8xf32> {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %r = scf.for %i = %c0 to %n step %c1 iter_args(%a = %x) -> (tensor<8xf32>) {
    %s = shard.all_reduce %a on @M grid_axes = [0] reduction = max : tensor<8xf32> -> tensor<8xf32>
    scf.yield %s : tensor<8xf32>
  }
  %b = shard.broadcast %r on @M grid_axes = [0] root = [2] : (tensor<8xf32>) -> tensor<8xf32>
  func.return %b : tensor<8xf32>
}
""")
    rows, _ = explain.collectives(module)
    assert [(r.kind, r.detail, r.count, r.reason) for r in rows] == [
        ("all_reduce", "max", None, explain.WRITTEN), ("broadcast", "root 2", 1, explain.WRITTEN)]
    text = explain.explain(module, "f")
    assert text.startswith("f on mesh M = (dp=4)")
    assert "all_reduce(max) over dp (per iteration)" in text
    assert "total: 1 collective(s) per call (broadcast 1); 32 bytes" in text
    assert "not in the total: 1 collective(s) in loops" in text


def test_a_module_without_collectives():
    text = explain.explain(parse("func.func @f(%x: f32) -> f32 {\n  func.return %x : f32\n}\n"), "f")
    assert text.splitlines()[0] == "f (no mesh: nothing is distributed)"
    assert "total: 0 collective(s) per call (none); 0 bytes" in text


# ------------------------------------------------------------------ the CLI
SPMD = """mesh M = (dp=2, tp=2)

@spmd(M)
def f(x: f32[8@dp, 4], w: f32[4@tp]) -> (f32[8@dp, 4], f32):
    s = all_reduce(sum(x), over=dp)
    g = all_gather(w, over=tp, axis=0)
    return x * g, s
"""

GLOBAL = """mesh M = (tp=4)

def f(x: f32[B, 16], w1: f32[16, 32@tp], w2: f32[32@tp, 16]) -> f32[B, 16]:
    return relu(x @ w1) @ w2
"""


def test_cli_explains_an_spmd_program(tmp_path, capsys):
    path = tmp_path / "s.loom"
    path.write_text(SPMD)
    code, out, err = run_cli(capsys, "explain", str(path), "--entry", "f")
    assert code == 0, err
    lines = out.splitlines()
    assert lines[0] == f"loom explain {path} --entry f on mesh M = (dp=2, tp=2)"
    assert f"{path}:5:9" in lines[2] and "all_reduce(sum) over dp" in lines[2] and "written in the program" in lines[2]
    assert f"{path}:6:9" in lines[3] and "all_gather(axis 0) over tp" in lines[3]
    assert explain.ASSEMBLES in lines[4]
    assert "total: 3 collective(s) per call (all_gather 2, all_reduce 1); 76 bytes sent per device" in out


def test_cli_explains_a_global_view_program(tmp_path, capsys):
    """Megatron: x replicated, w1 split by columns, w2 by rows: the second matmul's result is a
    partial sum over tp, all-reduced (8x16 f32 = 512 B: 2·3/4·512 = 768 B per device)."""
    path = tmp_path / "g.loom"
    path.write_text(GLOBAL)
    code, out, err = run_cli(capsys, "explain", str(path), "--entry", "f", "--shape", "B=8")
    assert code == 0, err
    rows = [line for line in out.splitlines() if line.startswith(str(path))]
    assert len(rows) == 1 and "all_reduce(sum) over tp" in rows[0] and "768" in rows[0], out
    # it serves the result's constraint (the declared result type, line 3), which needs it whole
    assert f"{path}:3:" in rows[0] and "partial sum over tp" in rows[0]


def test_cli_explain_errors(tmp_path, capsys):
    path = tmp_path / "g.loom"
    path.write_text(GLOBAL)
    code, _, err = run_cli(capsys, "explain", str(path), "--entry", "f")
    assert code == 1 and "--shape B=N" in err
    code, _, err = run_cli(capsys, "explain", str(path), "--entry", "nope")
    assert code == 1 and "has no function 'nope'" in err


def test_cli_help(capsys):
    with pytest.raises(SystemExit) as e:
        run_cli(capsys, "explain", "--help")
    assert e.value.code == 0
    out = capsys.readouterr().out
    assert "loom.reason" in out and "--entry" in out and "--shape" in out
