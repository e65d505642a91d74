"""The compile driver (stage table, semantic pipelines, executors) and the user surfaces built on it:
`loom --version`, `--help`, `loom opt -`, `loom run --cache`, `--timing`, `--out` with structs,
argument errors with a location, `loom graph`, and clean errors for CLI input mistakes."""

from __future__ import annotations

import importlib
import io
import os
import re

import numpy as np
import pytest
from conftest import run_cli

import compiler
from compiler import driver
from compiler.cli import build_parser, main
from compiler.pipeline import NAMED_PIPELINES, parse_passes

PROG = """struct P:
    w: f32[3]
    b: f32

def f(x: f32[N]) -> f32:
    return sum(x * 2)

def g(x: f32[N]) -> f32:
    return sum(x + 100)

def mk(x: f32[3]) -> P:
    return P(w=x * 2, b=sum(x))

def main() -> f32:
    return f(ones((3,)))

dg = grad(f)
"""


@pytest.fixture
def prog(tmp_path):
    p = tmp_path / "p.loom"
    p.write_text(PROG)
    return str(p)


run = run_cli


# ------------------------------------------------------------------ the stage table
def test_stage_table_is_the_native_pipeline():
    assert driver.IR_STAGES == ("loom", "spmd", "loom-opt", "linalg", "bufferized", "loops", "llvm-dialect")
    assert driver.TEXT_STAGES == ("llvm", "llvm-opt", "asm")
    # the native pipeline is the stages' pipelines in order, written once (`spmd` is made by the
    # semantic pipelines on devices alone: no passes of its own)
    assert driver.STAGES["spmd"].passes == "none"
    names = [driver.STAGES[s].passes for s in driver.IR_STAGES[2:]]
    assert driver.NATIVE_PIPELINE == ",".join(names)
    assert driver.pipeline_to("linalg") == "loom-opt,loom-to-linalg"
    assert driver.pipeline_to("loops", "linalg") == "linalg-to-buffers,buffers-to-loops"
    for name in names:
        assert name in NAMED_PIPELINES and parse_passes(name)


def test_semantic_pipelines_run_because_of_the_ops_present():
    p = driver.check_source(PROG, "s.loom")
    plain = driver.generate(p, [p.specialize("f", [compiler.api.TensorT("f32", (3,))])])
    assert driver.with_semantics(plain, "loom-opt") == "loom-opt"
    inst = p.specialize("dg", [compiler.api.TensorT("f32", (3,))])
    with_ad = driver.generate(p, [inst])
    assert any(op.name == "ad.vjp" for op in with_ad.walk())
    assert driver.with_semantics(with_ad, "loom-opt").startswith("autodiff,")
    # a user's explicit pass list runs exactly as written; a named pipeline builds derivatives first
    assert driver.user_pipeline(with_ad, "cse") == "cse"
    assert driver.user_pipeline(with_ad, "loom-opt").startswith("autodiff,")
    # the native pipeline: semantic passes, the user's loom-level passes, loom-opt, the backend
    full = driver.native_pipeline(with_ad, "canonicalize")
    assert full.startswith("autodiff,") and ",canonicalize,loom-opt,loom-to-linalg," in full


@pytest.mark.mpi  # the `mpi` executor initialises MPI in this process: never beside an MPI job
def test_every_executor_loads_and_runs():
    p = driver.check_source(PROG, "e.loom")
    x = np.arange(3, dtype=np.float32)
    for name in driver.EXECUTORS:
        ex = driver.executor(name)
        lowered = driver.Lowered(p, p.specialize("f", [compiler.api.TensorT("f32", (3,))]))
        fn = lowered.prepared(ex)
        assert lowered.prepared(ex) is fn  # prepared once per executor
        assert fn([x]) == (np.float32(6.0),)
    with pytest.raises(compiler.LoomError, match="unknown executor 'gpu'"):
        driver.executor("gpu")


def test_times_cover_every_phase():
    p = driver.check_source(PROG, "t.loom")
    lowered = driver.Lowered(p, p.specialize("f", [compiler.api.TensorT("f32", (3,))]))
    lowered.prepared(driver.executor("native"))
    names = [n for n, _ in p.times + lowered.times]
    for want in ("parse", "typecheck", "irgen (and verify)", "verify (after the passes)", "loom-inline",
                 "convert-loom-to-linalg", "translate to LLVM IR (llvmlite)", "LLVM O3 + codegen: the program's unit (",
                 "LLVM O3 + codegen (", "load"):
        assert any(n == want or want.endswith("(") and n.startswith(want) for n in names), want


# ------------------------------------------------------------------ API surfaces
def test_hidden_functions_are_not_the_users():
    p = compiler.loads("def f(x: f64) -> f64:\n    return x * x * x\n\n"
                       "def main() -> f64:\n    return grad(grad(f))(2.0)\n", name="h.loom", mode="eager")
    assert sorted(p.functions) == ["f", "main"]
    assert p.main() == 12.0


def test_argument_count_errors_have_a_location():
    p = compiler.loads(PROG, name="a.loom")
    for call, frag in ((lambda: p.f(), "missing argument"), (lambda: p.f(1, 2), "takes 1 argument"),
                       (lambda: p.f(y=1), "no parameter 'y'")):
        with pytest.raises(compiler.LoomInputError, match=frag) as e:
            call()
        assert e.value.span is not None and (e.value.span.file, e.value.span.line) == ("a.loom", 5)


def test_python_float_too_large_for_f32():
    p = compiler.loads("def sc(a: f32) -> f32:\n    return a * 1.0\n", name="b.loom")
    with pytest.raises(compiler.LoomInputError, match=r"'sc'.*: 1e\+300 is out of range for f32"):
        p.sc(1e300)
    with pytest.raises(compiler.LoomInputError, match=r": -3e\+39 is out of range for f32"):
        p.sc([-3e39, 1.0][0])
    assert p.sc(float("inf")) == np.inf  # an infinity is representable


def test_cache_key_names_the_function(tmp_path, monkeypatch):
    """F06: two functions with the same signature never share a cache entry."""
    monkeypatch.setenv("LOOM_CACHE_DIR", str(tmp_path))
    p = compiler.loads(PROG, name="c.loom", cache=True)
    x = np.arange(4, dtype=np.float32)
    assert p.g.lower(x).cache_key() != p.f.lower(x).cache_key()
    assert p.f(x) == 12.0 and p.g(x) == 406.0
    q = compiler.loads(PROG, name="c.loom", cache=True)  # from the disk cache
    assert q.g(x) == 406.0 and q.f(x) == 12.0


# ------------------------------------------------------------------ CLI surfaces
def test_version_and_help_on_every_subcommand(capsys):
    with pytest.raises(SystemExit) as e:
        main(["--version"])
    assert e.value.code == 0 and capsys.readouterr().out.strip() == f"loom {compiler.__version__}"
    sub = next(a for a in build_parser()._actions if a.dest == "command")
    assert {"check", "run", "compile", "opt", "graph"} <= set(sub.choices)
    for name in sub.choices:
        with pytest.raises(SystemExit) as e:
            main([name, "--help"])
        out = capsys.readouterr().out
        assert e.value.code == 0 and out.startswith(f"usage: loom {name}"), name


def test_opt_reads_stdin(prog, tmp_path, capsys, monkeypatch):
    mlir = tmp_path / "p.mlir"
    assert main(["compile", prog, "--entry", "f", "-o", str(mlir)]) == 0
    monkeypatch.setattr("sys.stdin", io.StringIO(mlir.read_text()))
    code, out, err = run(capsys, "opt", "-", "-p", "canonicalize")
    assert code == 0 and "func.func @f" in out, err


def test_run_cache_flag_and_env(prog, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("LOOM_CACHE_DIR", str(tmp_path / "c1"))
    assert run(capsys, "run", prog)[:2] == (0, "6.0\n")
    assert any(n.endswith(".entry") for n in os.listdir(tmp_path / "c1"))  # LOOM_CACHE_DIR honoured
    monkeypatch.delenv("LOOM_CACHE_DIR")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert run(capsys, "run", prog, "--cache")[:2] == (0, "6.0\n")
    assert any(n.endswith(".entry") for n in os.listdir(tmp_path / "home" / ".cache" / "loom"))


def test_timing_accounts_for_verification(prog, capsys):
    code, _, err = run(capsys, "run", prog, "--timing")
    assert code == 0
    rows = [(m.group(2).strip(), float(m.group(1))) for m in re.finditer(r"^\s+([\d.]+)\s+[\d.]+%\s+(.+)$", err, re.M)]
    names = [n for n, _ in rows]
    for want in ("parse", "typecheck", "irgen (and verify)", "verify (after the passes)", "execute (native)"):
        assert want in names, want
    assert names[-1] == "Total" and abs(sum(v for _, v in rows[:-1]) - rows[-1][1]) < 1e-3 * len(rows)


def test_out_keeps_struct_field_names(prog, tmp_path, capsys):
    np.savez(tmp_path / "in.npz", x=np.arange(3, dtype=np.float32))
    out = tmp_path / "res"  # no .npz suffix: written exactly there
    assert main(["run", prog, "--entry", "mk", "--inputs", str(tmp_path / "in.npz"), "--out", str(out)]) == 0
    with np.load(out) as r:
        assert sorted(r.files) == ["result.b", "result.w"]
        assert r["result.b"] == 3.0 and list(r["result.w"]) == [0.0, 2.0, 4.0]
    code, out_text, _ = run(capsys, "run", prog, "--entry", "mk", "--inputs", str(tmp_path / "in.npz"))
    assert code == 0 and out_text.startswith("P(w=")


def test_bad_pipeline_in_a_compiled_run(prog, capsys):
    code, _, err = run(capsys, "run", prog, "-p", "bogus")
    assert code == 1 and "unknown pass 'bogus'" in err


def test_compiled_run_honours_p(prog, capsys):
    code, out, _ = run(capsys, "run", prog, "-p", "canonicalize", "--print-ir-after-all")
    assert code == 0 and "IR Dump After canonicalize" in out.split("IR Dump After loom-inline")[0]


@pytest.mark.parametrize("argv,frag", [
    (["run", "{p}", "--entry", "f", "--inputs", "{d}/bad.npz"], "cannot read inputs"),
    (["run", "{p}", "--out", "/nonexistent/x.npz"], "cannot write --out"),
    (["run", "{p}", "--out", "{d}"], "cannot write --out"),
    (["compile", "{p}", "--emit=llvm", "--entry", "zz"], "no function 'zz'"),
    (["compile", "{p}", "--emit=llvm", "--entry", "f", "--shape", "N=99999999999999999999"], "below 2**62"),
    (["compile", "{p}", "--emit=loom", "-o", "{d}"], "cannot write"),
    (["run", "{p}", "--dump-dir", "{p}"], "is not a directory"),
    (["run", "{p}", "--eager", "-p", "convert-loom-to-linalg"], "reference executor runs loom-level IR"),
    (["compile", "{p}", "--emit=obj", "--entry", "f", "--shape", "N=4", "-o", "{d}/k.h"], "names a C header"),
])
def test_cli_input_mistakes_are_clean_errors(prog, tmp_path, capsys, argv, frag):
    """F16: each mistake is one error line with exit status 1, never a traceback."""
    (tmp_path / "bad.npz").write_bytes(b"PK\x03\x04garbage")
    code, _, err = run(capsys, *[a.format(p=prog, d=tmp_path) for a in argv])
    assert code == 1 and frag in err and "Traceback" not in err, err


def test_object_header_lands_next_to_the_object(prog, tmp_path, monkeypatch, capsys):
    """F09: `-o out.d/kernel` writes out.d/kernel and out.d/kernel.h, nothing outside."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "out.d").mkdir()
    (tmp_path / "out.h").write_text("precious")
    assert main(["compile", prog, "--emit=obj", "--entry", "f", "--shape", "N=4", "-o", "out.d/kernel"]) == 0
    assert sorted(os.listdir("out.d")) == ["kernel", "kernel.h"]
    assert (tmp_path / "out.h").read_text() == "precious"
    assert open("out.d/kernel", "rb").read(4) == b"\x7fELF"
    assert main(["compile", prog, "--emit=obj", "--entry", "f", "--shape", "N=4", "-o", "k.o"]) == 0
    assert os.path.exists("k.h") and open("k.o", "rb").read(4) == b"\x7fELF"


def test_dump_dir_does_not_follow_links(prog, tmp_path, capsys):
    """F18: a link planted in the dump directory is refused, its target untouched."""
    (tmp_path / "dd").mkdir()
    victim = tmp_path / "victim.txt"
    victim.write_text("victim-content")
    os.symlink(victim, tmp_path / "dd" / "00-irgen.mlir")
    code, _, err = run(capsys, "run", prog, "--dump-dir", str(tmp_path / "dd"))
    assert code == 1 and "symbolic link" in err
    assert victim.read_text() == "victim-content"


# ------------------------------------------------------------------ loom graph
def _dot_nodes_and_edges(dot: str):
    nodes = dict(re.findall(r'^\s*(n\d+) \[label="([^"]*)"', dot, re.M))
    edges = re.findall(r"^\s*(n\d+) -> (n\d+);", dot, re.M)
    return nodes, edges


def test_graph_dot_structure(prog, capsys):
    code, dot, _ = run(capsys, "graph", prog, "--entry", "f")
    assert code == 0 and dot.startswith("digraph loom {") and dot.rstrip().endswith("}")
    nodes, edges = _dot_nodes_and_edges(dot)
    labels = list(nodes.values())
    # x → mul → sum → return, with the constant 2 into mul; every edge joins two declared nodes
    assert labels[0] == "%x\\ntensor<?xf32>"
    mul = next(k for k, v in nodes.items() if v.startswith("loom.mul"))
    total = next(k for k, v in nodes.items() if v.startswith("loom.sum"))
    ret = next(k for k, v in nodes.items() if v.startswith("return"))
    assert ("n0", mul) in edges and (mul, total) in edges and (total, ret) in edges
    assert all(a in nodes and b in nodes for a, b in edges)


def test_graph_shows_fused_kernels_and_loops(tmp_path, capsys):
    src = tmp_path / "g.loom"
    src.write_text("def f(x: f32[N]) -> f32[N]:\n    y = x\n    for i in range(3):\n        y = tanh(y * 2.0 + 1.0)\n"
                   "    return y\n")
    code, dot, _ = run(capsys, "graph", str(src), "--entry", "f", "--stage", "linalg", "--shape", "N=8")
    assert code == 0 and "subgraph cluster_" in dot and 'label="scf.for"' in dot
    fused = [v for v in _dot_nodes_and_edges(dot)[0].values() if v.startswith("linalg.generic")]
    assert fused and any("fused: " in v and "tanh" in v and "mulf" in v for v in fused)


def test_graph_output_formats(prog, tmp_path, capsys):
    assert main(["graph", prog, "--entry", "f", "-o", str(tmp_path / "g.dot")]) == 0
    assert (tmp_path / "g.dot").read_text().startswith("digraph")
    code, _, err = run(capsys, "graph", prog, "--entry", "f", "-o", str(tmp_path / "g.txt"))
    assert code == 1 and ".svg" in err


def test_driver_imports_no_llvm():
    """The driver loads executors (and so LLVM's engine) only when one is used."""
    import subprocess
    import sys

    code = "import sys, compiler.driver; print('llvmlite.binding' in sys.modules or 'runtime.jit' in sys.modules)"
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=os.path.dirname(
        os.path.dirname(os.path.abspath(__file__))))
    assert r.stdout.strip() == "False", r.stderr
    assert importlib.import_module("runtime.executors")


def test_lowering_generic_ir_asks_for_shapes(prog, tmp_path, capsys):
    """Generic IR (symbolic dims) cannot go through the backend: the user is told to specialize."""
    mlir = tmp_path / "g.mlir"
    assert main(["compile", prog, "--entry", "f", "--locations", "-o", str(mlir)]) == 0
    for argv in (["opt", str(mlir), "-p", "convert-loom-to-linalg"], ["compile", prog, "--emit=loom", "-p", "loops-to-llvm"]):
        code, _, err = run(capsys, *argv)
        assert code == 1 and "needs static shapes" in err and "--shape" in err and "Traceback" not in err
        assert err.startswith(f"{prog}:5:")  # the function with the dynamic shape
    code, out, _ = run(capsys, "compile", prog, "--emit=linalg", "--entry", "f", "--shape", "N=4")
    assert code == 0 and "linalg.generic" in out


def test_rank_and_world_size_outside_a_job(monkeypatch):
    monkeypatch.delenv("PMI_RANK", raising=False)
    monkeypatch.delenv("PMI_SIZE", raising=False)
    assert compiler.rank() == 0 and compiler.world_size() == 1
