"""Diagnostics for invalid programs: every file in tests/invalid/ holds one error.

The first line of each file is `# ERROR: <line>:<col>: <fragment>`: where the error must be reported
and a stable fragment of its message. `loom check` must exit with status 1 and print
`<path>:<line>:<col>: error: <message>`, the source line and a caret under the column — never a
Python traceback — and `compiler.load` must raise a `LoomError` at the same place. The `.mlir`
files (header `// ERROR: …`) are IR that `loom opt` must reject the same way: the verifier of
global-view shardings and `sharding-propagation` (an op verified after parsing is reported at its
`loc(...)`, which these files give relative to the repository root).

Files listed in BUGS are programs Loom currently diagnoses wrongly (bad place, confusing message,
accepted, or a crash); their headers give the *correct* diagnostic, and the tests are strict xfails
so that a fix shows up as XPASS (then delete the entry).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys

import pytest

import compiler
from compiler.cli import main

HERE = os.path.dirname(os.path.abspath(__file__))
INVALID = os.path.join(HERE, "invalid")
ROOT = os.path.dirname(HERE)
HEADER = re.compile(rb"^(?:#|//) ERROR: (\d+):(\d+): (.+?)\r?$")

BUGS: dict[str, str] = {}


def _header(path: str) -> tuple[int, int, str]:
    with open(path, "rb") as f:
        first = f.readline()
    m = HEADER.match(first.rstrip(b"\n"))
    assert m, f"{path}: the first line must be '# ERROR: <line>:<col>: <fragment>'"
    return int(m.group(1)), int(m.group(2)), m.group(3).decode("utf-8")


def _cases():
    names = sorted(n for n in os.listdir(INVALID) if n.endswith(".loom"))
    out = []
    for n in names:
        marks = [pytest.mark.xfail(reason=BUGS[n], strict=True)] if n in BUGS else []
        out.append(pytest.param(n, marks=marks, id=n[:-5]))
    return out


CASES = _cases()
IR_CASES = sorted(n for n in os.listdir(INVALID) if n.endswith(".mlir"))


def test_corpus_is_large_and_headers_are_well_formed():
    names = [n for n in os.listdir(INVALID) if n.endswith(".loom")]
    assert len(names) >= 50
    for n in names:
        line, col, frag = _header(os.path.join(INVALID, n))
        assert line >= 1 and col >= 1 and frag.strip()
    assert set(BUGS) <= set(names), "BUGS names a file that does not exist"


@pytest.mark.parametrize("name", CASES)
def test_check_reports_the_error(name, capsys):
    path = os.path.join(INVALID, name)
    line, col, frag = _header(path)
    code = main(["check", path])
    out, err = capsys.readouterr()
    assert "Traceback" not in err and "internal compiler error" not in err, err
    assert code == 1, f"exit status {code}\n{out}{err}"
    prefix = f"{path}:{line}:{col}: error:"
    assert err.startswith(prefix), f"expected {prefix!r}, got:\n{err}"
    lines = err.splitlines()
    assert frag in lines[0], f"fragment {frag!r} not in the message:\n{err}"
    if name.startswith("unsupported_"):
        assert "not supported" in lines[0]
    # the source line, then a caret under the reported column
    assert len(lines) >= 3, err
    caret = lines[2]
    assert caret.strip().startswith("^"), err
    assert caret.index("^") == 2 + col - 1, f"caret not under column {col}:\n{err}"


@pytest.mark.parametrize("name", IR_CASES, ids=[n[:-5] for n in IR_CASES])
def test_opt_rejects_the_invalid_ir(name, capsys, monkeypatch):
    monkeypatch.chdir(ROOT)
    path = os.path.join("tests", "invalid", name)
    line, col, frag = _header(path)
    code = main(["opt", path, "-p", "sharding-propagation,shard-partition"])
    out, err = capsys.readouterr()
    assert "Traceback" not in err and "internal compiler error" not in err, err
    assert code == 1 and not out, f"exit status {code}\n{out}{err}"
    prefix = f"{path}:{line}:{col}: error:"
    assert err.startswith(prefix), f"expected {prefix!r}, got:\n{err}"
    lines = err.splitlines()
    assert frag in lines[0], f"fragment {frag!r} not in the message:\n{err}"
    assert len(lines) >= 3 and lines[2].index("^") == 2 + col - 1, f"caret not under column {col}:\n{err}"


@pytest.mark.parametrize("name", CASES)
def test_api_raises_at_the_same_place(name):
    path = os.path.join(INVALID, name)
    line, col, frag = _header(path)
    with pytest.raises(compiler.LoomError) as ei:
        compiler.load(path)
    e = ei.value
    assert (e.file, e.line, e.column) == (path, line, col), e.render()
    assert frag in e.message, e.render()
    assert isinstance(e, (compiler.LoomSyntaxError, compiler.LoomTypeError)), type(e)


# --- the command as a separate process: no tracebacks whatever the input ---------------------

RUNNER = "import sys; from compiler.cli import main; sys.exit(main(sys.argv[1:]))"


def loom(*argv: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", RUNNER, *argv], capture_output=True, text=True,
                          cwd=ROOT, timeout=120)


def _no_traceback(r: subprocess.CompletedProcess) -> None:
    assert "Traceback" not in r.stderr and "internal compiler error" not in r.stderr, r.stderr


def test_subprocess_directory(tmp_path):
    d = tmp_path / "prog.loom"
    d.mkdir()
    r = loom("check", str(d))
    _no_traceback(r)
    assert r.returncode == 1 and "error:" in r.stderr and "directory" in r.stderr


def test_subprocess_missing_file(tmp_path):
    r = loom("check", str(tmp_path / "missing.loom"))
    _no_traceback(r)
    assert r.returncode == 1 and "error:" in r.stderr and "no such file" in r.stderr


@pytest.mark.parametrize("data", [
    bytes(range(256)) * 4,                                         # NUL and invalid UTF-8
    b"\x7fELF\x02\x01\x01\x00" + bytes((i * 131 + 7) % 256 for i in range(512)),
    "def f(x: f32) -> f32:\n    return x\n".encode("utf-16"),        # not UTF-8
    b"\x01\x02\x03\x04 hello\n",                                     # valid UTF-8, control chars
    b"\x00" * 64,
], ids=["all-bytes", "elf", "utf16", "control-chars", "zeros"])
def test_subprocess_binary_garbage(tmp_path, data):
    p = tmp_path / "garbage.loom"
    p.write_bytes(data)
    r = loom("check", str(p))
    _no_traceback(r)
    assert r.returncode == 1
    assert r.stderr.startswith(f"{p}:") and ": error:" in r.stderr.splitlines()[0], r.stderr


def test_subprocess_invalid_corpus_file():
    path = os.path.join(INVALID, "type_matmul_shapes.loom")
    line, col, frag = _header(path)
    r = loom("check", path)
    _no_traceback(r)
    assert r.returncode == 1 and r.stderr.startswith(f"{path}:{line}:{col}: error:") and frag in r.stderr


def test_subprocess_run_without_main(tmp_path):
    p = tmp_path / "empty.loom"
    p.write_text("")
    r = loom("run", str(p))
    _no_traceback(r)
    assert r.returncode == 1 and "no function 'main'" in r.stderr


# --- F08: only text the compiler read is quoted ----------------------------------------------
BAD_RETURN = """"builtin.module"() ({{
  "func.func"() <{{sym_name = "f", function_type = (i32) -> i64}}> ({{
  ^bb0(%a: i32):
    "func.return"(%a) : (i32) -> () loc({loc})
  }}) : () -> ()
}}) : () -> ()
"""


def test_opt_does_not_quote_a_file_named_in_a_loc(tmp_path, capsys):
    secret = tmp_path / "secret.txt"
    secret.write_text("the secret line\n")
    mlir = tmp_path / "f.mlir"
    mlir.write_text(BAD_RETURN.format(loc=f'"{secret}":1:1'))
    assert main(["opt", str(mlir)]) == 1
    err = capsys.readouterr().err
    assert err.startswith(f"{secret}:1:1: error: invalid IR") and "secret line" not in err, err


def test_opt_quotes_the_mlir_file_it_reads(tmp_path, capsys):
    mlir = tmp_path / "f.mlir"
    mlir.write_text(BAD_RETURN.format(loc=f'"{mlir}":4:5'))
    assert main(["opt", str(mlir)]) == 1
    err = capsys.readouterr().err
    assert err.startswith(f"{mlir}:4:5: error: invalid IR") and '\n      "func.return"(%a)' in err, err
