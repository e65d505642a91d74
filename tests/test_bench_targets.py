"""bench/targets.py (the performance issue's targets table) runs end to end in its quick mode:
every row's result is checked against NumPy and gets a verdict (no timing is asserted)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_targets_quick_table(tmp_path):
    out = tmp_path / "targets.json"
    proc = subprocess.run([sys.executable, "-m", "bench.targets", "--quick", "--only", "softmax,matmul", "--repeats", "1",
                           "--threads", "2", "--json", str(out)], check=False, cwd=ROOT, capture_output=True, text=True,
                           timeout=600)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    res = json.loads(out.read_text())
    assert [r["name"] for r in res["rows"]] == ["matmul64", "matmul128", "matmul256", "softmax"]
    for r in res["rows"]:
        assert r["verdict"] in ("PASS", "MISS", "-"), r
        assert "speedup" in r and r["back_to_back"] > 0 and r["roofline"] != "-"
        checks = res["results"][r["name"]]["check"]
        assert "loom" in checks and "loom x2" in checks and all(ok for ok, _ in checks.values())
    assert "== targets" in proc.stdout


@pytest.mark.parametrize("lanes, registers", [(4, 16), (8, 16), (16, 32)])
def test_the_fma_peak_loop_keeps_every_chain_live_in_registers(lanes, registers):
    """bench/machine.py's FMA peak: more chains than FMA latency x pipes (4 x 2), fewer than the vector
    registers with the constant (16 chains spilled one to the stack on AVX2: 50 instead of ~90
    GFLOP/s), and every chain summed into the result (a chain left out would be dead code)."""
    from bench import machine

    n = machine.chains(lanes)
    assert 8 <= n < registers - 1
    ir = machine._fma_ir(lanes)
    adds = [line for line in ir.splitlines() if " = fadd " in line]
    assert len(adds) == n - 1
    operands = {op.strip() for line in adds for op in line.split(">", 1)[1].split(",")}
    assert {f"%b{i}" for i in range(n)} <= operands
