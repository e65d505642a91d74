"""The `loom` command line: subcommands, pass-manager flags and error exits."""

import numpy as np
import pytest
from conftest import run_cli

from compiler.cli import main

PROG = """def f(x: f32[N]) -> f32:
    return sum(x * 2)

def main() -> f32:
    return f(ones((3,)))
"""


@pytest.fixture
def prog(tmp_path):
    p = tmp_path / "p.loom"
    p.write_text(PROG)
    return str(p)


run = run_cli


def test_check_and_run(prog, capsys):
    assert run(capsys, "check", prog)[:2] == (0, f"{prog}: ok (2 function(s))\n")
    code, out, err = run(capsys, "run", prog)
    assert (code, out) == (0, "6.0\n") and not err


def test_run_entry_with_inputs_and_out(prog, tmp_path, capsys):
    np.savez(tmp_path / "in.npz", x=np.arange(4, dtype=np.float32))
    code, out, _ = run(capsys, "run", prog, "--entry", "f", "--inputs", str(tmp_path / "in.npz"),
                       "--out", str(tmp_path / "out.npz"))
    assert code == 0 and out == ""
    assert np.load(tmp_path / "out.npz")["result"] == np.float32(12)


@pytest.mark.parametrize("make,frag", [
    (lambda d: None, "give them with --inputs"),
    (lambda d: np.savez(d / "in.npz", y=np.ones(3, np.float32)), "no array for parameter(s) x"),
    (lambda d: np.savez(d / "in.npz", x=np.ones(3)), "dtype float64"),
    (lambda d: (d / "in.npz").write_text("not an npz"), "cannot read inputs"),
])
def test_run_input_errors(prog, tmp_path, capsys, make, frag):
    make(tmp_path)
    args = ["run", prog, "--entry", "f"] + (["--inputs", str(tmp_path / "in.npz")] if (tmp_path / "in.npz").exists() else [])
    code, out, err = run(capsys, *args)
    assert code == 1 and frag in err and "Traceback" not in err


def test_unknown_entry(prog, capsys):
    code, _, err = run(capsys, "run", prog, "--entry", "g")
    assert code == 1 and "no function 'g'" in err


def test_compile_emit_ast_and_loom(prog, capsys):
    code, out, _ = run(capsys, "compile", prog, "--emit=ast")
    assert code == 0 and "FuncDef @1:1 name='f'" in out and "BinOp @2:16 op='*'" in out
    code, out, _ = run(capsys, "compile", prog, "--emit=loom", "--entry", "f")
    assert "func.func @f(%x: tensor<?xf32>) -> f32" in out and "@main" not in out
    code, out, _ = run(capsys, "compile", prog, "-p", "loom-opt", "--locations")
    assert "func.call" not in out and f'loc("{prog}":2:16)' in out


def test_print_ir_flags_timing_and_dumps(prog, tmp_path, capsys):
    dump = tmp_path / "dumps"
    code, out, err = run(capsys, "compile", prog, "-p", "loom-opt", "--print-ir-before=cse",
                         "--print-ir-after", "canonicalize", "--timing", "--dump-dir", str(dump))
    assert code == 0
    assert out.index("IR Dump Before cse") > out.index("IR Dump After canonicalize")
    assert "loom-inline" in err and "Total" in err
    assert sorted(p.name for p in dump.iterdir()) == ["00-irgen.mlir", "01-loom-inline.mlir", "02-canonicalize.mlir",
                                                      "03-cse.mlir", "04-loom-merge-calls.mlir", "05-dce.mlir"]
    code, out, _ = run(capsys, "run", prog, "--eager", "--print-ir-after-all")
    assert out.count("// -----// IR Dump After") == 5 and out.endswith("6.0\n")
    # compiled (the default): every pass of the whole pipeline, down to the llvm dialect
    from compiler.driver import NATIVE_PIPELINE
    from compiler.pipeline import parse_passes

    code, out, _ = run(capsys, "run", prog, "--print-ir-after-all")
    assert out.count("// -----// IR Dump After") == len(parse_passes(NATIVE_PIPELINE)) and out.endswith("6.0\n")
    assert "IR Dump After loom-bufferize" in out and "llvm.func" in out


def test_opt_roundtrip_and_errors(prog, tmp_path, capsys):
    mlir = tmp_path / "p.mlir"
    assert main(["compile", prog, "-o", str(mlir)]) == 0
    code, out, _ = run(capsys, "opt", str(mlir), "-p", "loom-inline,canonicalize,cse,dce")
    assert code == 0 and "func.call" not in out
    code, _, err = run(capsys, "opt", str(mlir), "-p", "no-such-pass")
    assert code == 1 and "unknown pass 'no-such-pass'" in err
    bad = tmp_path / "bad.mlir"
    bad.write_text("builtin.module {\n  %0 = loom.add %x : f32\n}\n")
    code, _, err = run(capsys, "opt", str(bad))
    assert code == 1 and err.startswith(f"{bad}:2:") and "Traceback" not in err
    invalid = tmp_path / "invalid.mlir"
    invalid.write_text('builtin.module {\n  %0 = arith.constant 1 : i64 loc("x.loom":7:3)\n'
                       '  %1 = loom.exp %0 : (i64) -> f32 loc("x.loom":8:5)\n}\n')
    code, _, err = run(capsys, "opt", str(invalid))
    assert code == 1 and err.startswith("x.loom:8:5: error: invalid IR")


def test_opt_runs_the_parts_of_convert_to_llvm(prog, tmp_path, capsys):
    """One part of convert-to-llvm alone is a user mistake (its IR verifies only with the other
    parts), named as such; all parts in order give the llvm dialect like convert-to-llvm does."""
    from compiler.passes import get_pass

    loops = tmp_path / "loops.mlir"
    assert main(["compile", prog, "--emit=loops", "--shape", "N=3", "-o", str(loops)]) == 0
    code, _, err = run(capsys, "opt", str(loops), "-p", "convert-memref-to-llvm")
    assert code == 1 and "partial conversion" in err and "run -p convert-to-llvm" in err
    assert "a bug" not in err and "missing: convert-ad-to-llvm" in err
    parts = ",".join(get_pass("convert-to-llvm").PARTS)
    pre = "math-approximation,loom-scf-to-cf,convert-print-to-llvm"
    code, by_parts, err = run(capsys, "opt", str(loops), "-p", f"{pre},{parts},reconcile-unrealized-casts")
    assert code == 0, err
    code, whole, _ = run(capsys, "opt", str(loops), "-p", f"{pre},convert-to-llvm,reconcile-unrealized-casts")
    assert code == 0 and by_parts == whole and "llvm.func" in whole


def test_bad_file_arguments(tmp_path, capsys):
    for path, frag in ((tmp_path, "is a directory"), (tmp_path / "nope.loom", "no such file")):
        code, _, err = run(capsys, "check", str(path))
        assert code == 1 and frag in err


def test_the_command_flushes_its_output_and_keeps_its_exit_status(prog, tmp_path):
    """`loom` (compiler.cli.console) leaves with os._exit, skipping the interpreter's teardown:
    what was printed must still arrive through a pipe, and every exit status must survive."""
    import os
    import subprocess
    import sys

    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    env = {**os.environ, "LOOM_CACHE_DIR": str(tmp_path / "cache")}

    def loom(*args):
        return subprocess.run([sys.executable, "-m", "compiler.cli", *args], check=False, cwd=root, env=env,
                              capture_output=True, text=True, timeout=300)

    many = tmp_path / "many.loom"  # more output than one pipe buffer holds
    many.write_text("def main() -> i32:\n    for i in range(3000):\n        print(\"line\", i)\n    return 7\n")
    r = loom("run", str(many))
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert len(lines) == 3001 and lines[-2] == "line 2999" and lines[-1] == "7"

    bad = tmp_path / "bad.loom"
    bad.write_text("def main() -> f32:\n    return y\n")
    r = loom("run", str(bad))
    assert r.returncode == 1 and "bad.loom:2:" in r.stderr and r.stdout == ""
    assert loom("run", prog).stdout == "6.0\n"
    assert loom("run", str(tmp_path / "missing.loom")).returncode == 1
