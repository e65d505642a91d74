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
                           "--threads", "2", "--json", str(out)], cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    res = json.loads(out.read_text())
    assert [r["name"] for r in res["rows"]] == ["matmul64", "matmul128", "matmul256", "softmax"]
    for r in res["rows"]:
        assert r["verdict"] in ("PASS", "MISS", "-"), r
        assert "speedup" in r and r["roofline"] != "-"
        checks = res["results"][r["name"]]["check"]
        assert "loom" in checks and "loom x2" in checks and all(ok for ok, _ in checks.values())
    assert "== targets" in proc.stdout
