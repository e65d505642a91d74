"""Golden-IR tests: run every file in tests/filecheck the way `lit` would, without needing lit.

Each test file (`.loom` or `.mlir`) carries its own commands in `RUN:` lines (`# RUN:` in Loom,
`// RUN:` in MLIR; a line ending in `\\` continues on the next RUN line) and its expectations as
FileCheck directives (`CHECK:`, `CHECK-NEXT:`, ...). Substitutions, as in lit:

    %s  the test file (relative to the repository root, the working directory)
    %S  the directory of the test file
    %t  a fresh temporary path for this test (not created; use `mkdir -p %t` or `rm -rf %t`)
    %%  a literal %

Every RUN line runs with `bash -o pipefail -c` (working directory: the repository root) and must
exit with status 0. As in lit, `not CMD` succeeds when CMD fails (exits non-zero). RUN lines use
only what lit's internal shell also understands (pipes, `&&`, `2>&1`, `rm`, `not`), so
`lit tests/filecheck` runs them too (see tests/filecheck/lit.cfg.py). The files run in parallel,
once per session; a failing file's report shows each command's output and, for `X | filecheck`,
the output of X (the IR that was checked).

Speed: a `loom` process spends most of its second importing xDSL, and a `filecheck` process
(FileCheck in Python) a fifth of one starting. Unless LOOM_FC_NO_SERVER=1 is set, the runner starts
one warm "fork server" process (this file run as a script) and puts tiny `loom` and `filecheck`
shims first on PATH for the RUN lines: a shim hands its program's name, argv, cwd, environment and
its stdin/stdout/stderr to the server, which forks a child that runs `compiler.cli.main(argv)`
(or `filecheck.main.main`) exactly as the real entry point would, and the shim exits with the
child's status. Each child is a fresh fork of the pristine server, so no state leaks between
commands. If the server cannot start, the real programs are used.

Known bugs are listed in XFAIL below by file name: those tests must fail (strict xfail), so the
suite stays green while the bug is visible; fix the bug, then delete the entry.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import struct
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
FC_DIR = Path(__file__).resolve().parent / "filecheck"
SUFFIXES = (".loom", ".mlir")
TIMEOUT_S = 120

# file name -> reason (each one a bug in the compiler; see the file's comments for the repro)
XFAIL: dict[str, str] = {
    "bug_symbolic_creation.loom":
        "bug: zeros/ones/full/uniform with a symbolic dimension give loom.full/loom.random a '?' result "
        "with no operand carrying its run-time size",
    "bug_duplicate_specialization.loom":
        "bug (minor): calling a generic function from one whose symbolic dims have other names creates a "
        "private copy (@rowsum_1) with exactly the generic function's IR types",
}

# lit's `not`: succeed iff the command fails
_NOT = 'not() { if "$@"; then return 1; else return 0; fi; }\n'

RUN_RE = re.compile(r"^\s*(?:#|//)\s*RUN:\s?(.*)$")


def discover() -> list[Path]:
    return sorted(p for p in FC_DIR.iterdir() if p.is_file() and p.suffix in SUFFIXES)


def run_lines(path: Path) -> list[str]:
    """The commands in `path`'s RUN lines, with `\\` continuations joined."""
    cmds, pending = [], ""
    for line in path.read_text(encoding="utf-8").splitlines():
        m = RUN_RE.match(line)
        if not m:
            continue
        part = m.group(1).rstrip()
        if part.endswith("\\"):
            pending += part[:-1] + " "
            continue
        cmds.append((pending + part).strip())
        pending = ""
    if pending.strip():
        cmds.append(pending.strip())
    return cmds


def substitute(cmd: str, path: Path, tmp: Path) -> str:
    rel = os.path.relpath(path, ROOT)
    subs = {"%s": rel, "%S": os.path.dirname(rel) or ".", "%t": str(tmp / "t"), "%%": "%"}
    return re.sub(r"%[sSt%]", lambda m: subs[m.group(0)], cmd)


def run_file(path: Path) -> tuple[bool, str]:
    """Run all of `path`'s RUN lines in order; (ok, report)."""
    cmds = run_lines(path)
    if not cmds:
        return False, f"{path.name}: no RUN lines"
    tmp = Path(tempfile.mkdtemp(prefix="loom-fc-"))
    report = []
    try:
        env = _command_env()
        for raw in cmds:
            cmd = substitute(raw, path, tmp)
            try:
                p = subprocess.run(["bash", "-o", "pipefail", "-c", _NOT + cmd], cwd=ROOT, env=env,
                                   capture_output=True, text=True, timeout=TIMEOUT_S)
            except subprocess.TimeoutExpired:
                report.append(f"$ {cmd}\n(timed out after {TIMEOUT_S}s)")
                return False, "\n".join(report)
            report.append(f"$ {cmd}\n[exit {p.returncode}]\n--- stdout ---\n{p.stdout}--- stderr ---\n{p.stderr}")
            if p.returncode != 0:
                report.append(_producer_output(cmd, env))
                return False, "\n".join(report)
        return True, "\n".join(report)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


# ------------------------------------------------------------------ the loom fork server
_SHIM = """#!{python} -SE
import json, os, socket, struct, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.connect({sock!r})
req = json.dumps({{"prog": os.path.basename(sys.argv[0]), "argv": sys.argv[1:], "cwd": os.getcwd(), "env": dict(os.environ)}}).encode()
socket.send_fds(s, [struct.pack("!I", len(req))], [0, 1, 2])
s.sendall(req)
data = b""
while len(data) < 4:
    chunk = s.recv(4 - len(data))
    if not chunk:
        break
    data += chunk
sys.exit(struct.unpack("!i", data)[0] if len(data) == 4 else 2)
"""

_server: dict | None = None  # {"proc", "bin", "dir"} while the server runs
PROGRAMS: dict = {}  # in the fork server: program name -> its main(argv), returning the exit status


def _recv_exact(conn: socket.socket, n: int) -> bytes:
    buf = b""
    while len(buf) < n:
        chunk = conn.recv(n - len(buf))
        if not chunk:
            raise EOFError("client went away")
        buf += chunk
    return buf


def _serve_child(conn: socket.socket) -> None:
    """In a forked child: become the `loom` or `filecheck` process the shim stands for, then exit."""
    import signal

    signal.signal(signal.SIGCHLD, signal.SIG_DFL)
    rc = 2
    try:
        head, fds, _, _ = socket.recv_fds(conn, 4, 3)
        (n,) = struct.unpack("!I", head + _recv_exact(conn, 4 - len(head)))
        req = json.loads(_recv_exact(conn, n))
        for i, fd in enumerate(fds):
            os.dup2(fd, i)
            os.close(fd)
        sys.stdin = open(0, "r", closefd=False)
        sys.stdout = open(1, "w", closefd=False)
        sys.stderr = open(2, "w", closefd=False)
        os.chdir(req["cwd"])
        os.environ.clear()
        os.environ.update(req["env"])
        sys.argv = [req["prog"], *req["argv"]]
        try:
            rc = PROGRAMS[req["prog"]](req["argv"])
        except SystemExit as e:  # argparse errors, --help
            rc = e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except (BrokenPipeError, OSError):
                pass
    except BaseException:  # pragma: no cover - a bug in the server itself
        import traceback

        traceback.print_exc()
    finally:
        try:
            conn.sendall(struct.pack("!i", int(rc or 0)))
        finally:
            os._exit(0)


def serve(sock_path: str) -> None:
    """The fork server: import everything `loom` needs once, then fork a child per command."""
    import signal

    sys.path.insert(0, str(ROOT))
    import compiler.cli  # noqa: F401
    import compiler.api  # noqa: F401
    import runtime.format  # noqa: F401
    import xdsl.parser  # noqa: F401
    from compiler.frontend.parser import parse
    from compiler.passes import PASSES

    PROGRAMS["loom"] = compiler.cli.main
    try:
        from filecheck.main import main as filecheck_main
    except ImportError:  # the real `filecheck` then
        pass
    else:
        PROGRAMS["filecheck"] = lambda argv: filecheck_main(["filecheck", *argv])
    for get in PASSES.values():
        get()
    parse("def f(x: f32) -> f32:\n    return x\n", "<warm-up>")  # builds the (cached) Lark parser
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # children are reaped automatically
    srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    srv.bind(sock_path)
    srv.listen(128)
    print("ready", *PROGRAMS, flush=True)
    while True:
        conn, _ = srv.accept()
        if os.fork() == 0:
            srv.close()
            _serve_child(conn)
        conn.close()


def _start_server() -> dict | None:
    if os.environ.get("LOOM_FC_NO_SERVER") or not hasattr(socket, "send_fds") or not hasattr(os, "fork") \
            or " " in sys.executable:
        return None
    d = Path(tempfile.mkdtemp(prefix="loom-fcsrv-"))
    sock, bindir = str(d / "s"), d / "bin"
    bindir.mkdir()
    try:
        proc = subprocess.Popen([sys.executable, __file__, "--serve", sock], cwd=ROOT, stdout=subprocess.PIPE,
                                stderr=subprocess.DEVNULL, text=True)
        ready = (proc.stdout.readline() if proc.stdout else "").split()
        if ready[:1] != ["ready"]:
            proc.kill()
            raise RuntimeError("fork server did not start")
        for prog in ready[1:]:
            shim = bindir / prog
            shim.write_text(_SHIM.format(python=sys.executable, sock=sock))
            shim.chmod(0o755)
        return {"proc": proc, "bin": str(bindir), "dir": d}
    except Exception:
        shutil.rmtree(d, ignore_errors=True)
        return None


def _stop_server(srv: dict | None) -> None:
    if srv:
        srv["proc"].kill()
        srv["proc"].wait()
        shutil.rmtree(srv["dir"], ignore_errors=True)


def _command_env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH")) if p)
    if _server:
        env["PATH"] = _server["bin"] + os.pathsep + env.get("PATH", "")
    return env


# ------------------------------------------------------------------ running the files
def _producer_output(cmd: str, env: dict[str, str]) -> str:
    """On failure, the output of the command feeding filecheck (the IR it was checking)."""
    m = re.match(r"(.*?)\|\s*filecheck\b", cmd)
    if not m:
        return ""
    try:
        p = subprocess.run(["bash", "-c", _NOT + m.group(1)], cwd=ROOT, env=env, capture_output=True, text=True,
                           timeout=TIMEOUT_S)
    except subprocess.TimeoutExpired:
        return ""
    out = p.stdout if len(p.stdout) < 20000 else p.stdout[:20000] + "\n... (truncated)\n"
    return f"--- output of `{m.group(1).strip()}` (what filecheck saw) ---\n{out}"


FILES = discover()
_results: dict[str, tuple[bool, str]] | None = None


def results() -> dict[str, tuple[bool, str]]:
    """Run every file once, in parallel; later calls reuse the results."""
    global _results, _server
    if _results is None:
        _server = _start_server()
        try:
            workers = max(2, min(8, (os.cpu_count() or 2) * 2))
            with ThreadPoolExecutor(max_workers=workers) as pool:
                outs = list(pool.map(run_file, FILES))
        finally:
            _stop_server(_server)
            _server = None
        _results = {f.name: r for f, r in zip(FILES, outs)}
    return _results


def _params():
    for f in FILES:
        marks = [pytest.mark.xdist_group("filecheck")]  # one worker runs the corpus (once), under pytest-xdist
        if f.name in XFAIL:
            marks.append(pytest.mark.xfail(reason=XFAIL[f.name], strict=True))
        yield pytest.param(f, id=f.name, marks=marks)


@pytest.mark.parametrize("path", list(_params()))
def test_filecheck(path: Path):
    ok, report = results()[path.name]
    assert ok, f"RUN lines of {path.relative_to(ROOT)} failed:\n{report}"


def test_enough_files():
    assert len(FILES) >= 30, [f.name for f in FILES]


def test_every_file_has_run_and_check_lines():
    for f in FILES:
        text = f.read_text(encoding="utf-8")
        assert run_lines(f), f"{f.name} has no RUN line"
        rest = "\n".join(line for line in text.splitlines() if not RUN_RE.match(line))
        assert re.search(r"\b[A-Z][A-Z0-9_]*(-(NEXT|NOT|LABEL|SAME|DAG|EMPTY|COUNT-\d+))?:", rest), \
            f"{f.name} has no CHECK lines"


def test_every_pass_has_golden_ir():
    """Every registered pass runs in a RUN line of some golden file, by its name; a part of
    `convert-to-llvm` (`PART_OF`: alone it leaves the IR type-inconsistent) through that pass, in a
    file named after the part."""
    from compiler.passes import PASSES

    runs = " ".join(" ".join(run_lines(f)) for f in FILES)
    names = {f.stem for f in FILES}
    missing = []
    for name, get in PASSES.items():
        part_of = getattr(get(), "PART_OF", None)
        if re.search(rf"(?<![\w-]){re.escape(name)}(?![\w-])", runs):
            continue
        if part_of and "backend_" + name.replace("-", "_") in names and part_of in runs:
            continue
        missing.append(name)
    assert not missing, f"passes without golden IR in tests/filecheck: {missing}"


def test_xfail_entries_match_files():
    """XFAIL here and the `XFAIL: *` lines lit reads name the same files."""
    marked = {f.name for f in FILES if re.search(r"^\s*(#|//)\s*XFAIL:", f.read_text(encoding="utf-8"), re.M)}
    assert set(XFAIL) == marked


def test_run_line_parsing(tmp_path):
    p = tmp_path / "x.loom"
    p.write_text("# RUN: echo a \\\n# RUN:   b | cat\n#   RUN: true %s %%s\n// RUN: x %t\nx = 1  # RUN is not here\n")
    assert [" ".join(c.split()) for c in run_lines(p)] == ["echo a b | cat", "true %s %%s", "x %t"]
    s = substitute("a %s b %% c %t", p, tmp_path)
    assert s.startswith("a ") and "%" in s and str(tmp_path / "t") in s


if __name__ == "__main__" and sys.argv[1:2] == ["--serve"]:
    serve(sys.argv[2])
