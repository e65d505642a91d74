"""Profiling JIT-compiled code with Linux `perf` (runtime/perf_map.py): `LOOM_PERF_MAP=1` names every
loaded function in /tmp/perf-<pid>.map; `LOOM_PERF_MAP=jitdump` also writes the functions' machine code
to a jitdump file, from which `perf inject --jit` makes the ELF files `perf annotate` reads."""

from __future__ import annotations

import ctypes
import os
import shutil
import struct
import subprocess
import sys

import pytest

import compiler
from runtime import codegen_units, perf_map
from tests.kernel_helpers import assert_product_close, rand

MM = "def f(a: f32[M, K], b: f32[K, N]) -> f32[M, N]:\n    return a @ b\n"
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_perf_map_names_every_function_at_its_address(tmp_path, monkeypatch):
    """LOOM_PERF_MAP=1: every function of the loaded objects (kernels, the entry, internal outlined
    loops) in /tmp/perf-<pid>.map, a global one at the address MCJIT gives it."""
    path = f"/tmp/perf-{os.getpid()}.map"
    if os.path.exists(path):
        os.remove(path)
    monkeypatch.setenv(perf_map.ENV, "1")
    codegen_units.forget()
    a, b = rand(64, 256), rand(256, 256)
    fn, objects = compiler.loads(MM, cache=False).f.lower(a, b).artifact().compiled()
    try:
        with open(path) as f:
            entries = {name: (int(start, 16), int(size, 16)) for start, size, name in (ln.split() for ln in f)}
    finally:
        os.remove(path)
    kernels = [n for n in entries if n.startswith("matmul_")]
    assert "f" in entries and kernels and any(n.startswith("f_") for n in entries)  # f_parallel…: internal
    for name in ["f", *kernels]:
        if name.count(".") > 1:  # a kernel's internal parallel body
            continue
        assert entries[name][0] == fn.native.engine.get_function_address(name)
        assert entries[name][1] > 0
    # (and the thread pool's functions, when this call started the pool)
    program = [n for n in entries if not n.startswith(("loom_parallel_", "lp_"))]
    assert sum(len(perf_map.function_symbols(o)) for o in objects) == len(program)


def test_perf_map_names_the_thread_pools_functions(tmp_path):
    """The thread pool (runtime/parallel.ll) is loaded as an object file too, so a profile of
    parallel code names its spin-wait and loop functions instead of showing raw addresses."""
    code = ("import os, numpy as np, compiler\n"
            f"p = compiler.loads({MM!r})\n"
            "a = np.ones((256, 256), np.float32)\n"
            "assert p.f(a, a)[0, 0] == 256\n"
            "print(os.getpid())\n")
    env = dict(os.environ, LOOM_PERF_MAP="1", LOOM_NUM_THREADS="2",
               PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
    r = subprocess.run([sys.executable, "-c", code], env=env, cwd=tmp_path, capture_output=True, text=True,
                       timeout=300, check=False)
    assert r.returncode == 0, r.stderr
    path = f"/tmp/perf-{int(r.stdout.split()[-1])}.map"
    try:
        names = {line.split()[2] for line in open(path)}
    finally:
        os.remove(path)
    assert {"loom_parallel_for", "lp_run", "lp_spin_until", "lp_worker"} <= names, sorted(names)


def read_jitdump(path: str) -> tuple[tuple, list[dict]]:
    """The header's fields and the JIT_CODE_LOAD records of a jitdump file, parsed independently of
    the writer (the layout of Linux's tools/perf/Documentation/jitdump-specification.txt)."""
    data = open(path, "rb").read()
    header = struct.unpack_from("<IIIIIIQQ", data, 0)
    at, records = header[2], []
    while at < len(data):
        kind, size, stamp = struct.unpack_from("<IIQ", data, at)
        assert size > 16 and at + size <= len(data), "a truncated record"
        if kind == 0:
            pid, tid, vma, addr, code_size, index = struct.unpack_from("<IIQQQQ", data, at + 16)
            name_at = at + 56
            name_end = data.index(b"\0", name_at)
            code = data[name_end + 1:at + size]
            assert len(code) == code_size
            records.append({"pid": pid, "tid": tid, "vma": vma, "addr": addr, "size": code_size, "index": index,
                            "name": data[name_at:name_end].decode(), "code": code, "time": stamp})
        at += size
    return header, records


def test_jitdump_records_every_function_with_its_code(monkeypatch, tmp_path):
    """LOOM_PERF_MAP=jitdump: a jitdump file with the spec's header and one JIT_CODE_LOAD record per
    function of the perf map — its address, size and the bytes that run there — and the file mapped
    executable in the process (how `perf record` sees it)."""
    monkeypatch.setenv(perf_map.ENV, perf_map.JITDUMP)
    monkeypatch.setenv("TMPDIR", str(tmp_path))  # the dump's directory (tempfile's)
    monkeypatch.setattr(perf_map.tempfile, "tempdir", None)
    monkeypatch.setattr(perf_map, "_dump", None)
    map_path = f"/tmp/perf-{os.getpid()}.map"
    codegen_units.forget()
    a, b = rand(64, 256), rand(256, 256)
    try:
        fn, _ = compiler.loads(MM, cache=False).f.lower(a, b).artifact().compiled()
        with open(map_path) as f:
            entries = [(int(start, 16), int(size, 16), name) for start, size, name in (ln.split() for ln in f)]
        mapped = open("/proc/self/maps").read() if os.path.exists("/proc/self/maps") else None
    finally:
        if os.path.exists(map_path):
            os.remove(map_path)
        dump, perf_map._dump = perf_map._dump, None
        if dump is not None:
            dump.mapping.close()
            os.close(dump.fd)
    path = tmp_path / f"jit-{os.getpid()}.dump"
    header, records = read_jitdump(str(path))
    magic, version, size, machine, _, pid, _, flags = header
    assert (magic, version, size, pid, flags) == (0x4A695444, 1, 40, os.getpid(), 0)
    assert machine in (62, 183, 0)
    assert sorted((r["addr"], r["size"], r["name"]) for r in records) == sorted(entries)
    assert [r["index"] for r in records] == list(range(len(records)))
    assert all(r["vma"] == r["addr"] and r["pid"] == os.getpid() for r in records)
    assert [r["time"] for r in records] == sorted(r["time"] for r in records)
    for r in records:  # the code as loaded, relocations applied
        assert r["code"] == ctypes.string_at(r["addr"], r["size"]), r["name"]
    assert any(r["name"].startswith("matmul_macro") for r in records) and any(r["name"] == "f" for r in records)
    if mapped is not None:
        line = next(ln for ln in mapped.splitlines() if ln.endswith(str(path)))
        assert line.split()[1][2] == "x", line  # r-xp: perf records executable mappings
    assert_product_close(fn([a, b])[0], a @ b, rtol=1e-4)


def test_a_jitdump_that_cannot_be_written_is_a_warning(monkeypatch, tmp_path, capsys):
    """Profiling never stops a program: a jitdump file that cannot be created (here, in a directory
    that does not exist) gives one warning on stderr, and the function runs."""
    monkeypatch.setenv(perf_map.ENV, perf_map.JITDUMP)
    monkeypatch.setattr(perf_map, "jitdump_path", lambda: str(tmp_path / "missing" / "jit-1.dump"))
    monkeypatch.setattr(perf_map, "_dump", None)
    monkeypatch.setattr(perf_map, "_dump_failed", set())
    map_path = f"/tmp/perf-{os.getpid()}.map"
    codegen_units.forget()
    a, b = rand(64, 256), rand(256, 256)
    try:
        for _ in range(2):  # told once per process
            out = compiler.loads(MM, cache=False).f(a, b)
            assert_product_close(out, a @ b, rtol=1e-4)
    finally:
        if os.path.exists(map_path):
            os.remove(map_path)
    err = capsys.readouterr().err
    assert err.count("warning: LOOM_PERF_MAP=jitdump: cannot write") == 1, err
    assert str(tmp_path / "missing") in err


JOB = """
import os, sys, numpy as np, compiler
from runtime import parallel
parallel.set_num_threads(1)
p = compiler.loads({mm!r})
a = np.ones((192, 192), np.float32)
for _ in range(300):
    p.f(a, a)
print(os.getpid())
"""


def run(argv: list[str], env: dict, cwd) -> subprocess.CompletedProcess:
    return subprocess.run(argv, env=env, cwd=cwd, capture_output=True, text=True, timeout=300, check=False)


@pytest.mark.slow
def test_perf_annotates_jit_compiled_code(tmp_path):
    """The whole recipe of docs/performance.md: `perf record -k mono`, `perf inject --jit`, then
    `perf report` names the matmul macro-kernel and `perf annotate` shows its instructions.
    Skipped where `perf` is missing or may not sample this process."""
    if not shutil.which("perf"):
        pytest.skip("no `perf` on this machine")
    env = dict(os.environ, LOOM_PERF_MAP=perf_map.JITDUMP, TMPDIR=str(tmp_path), HOME=str(tmp_path),
               PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
    script = tmp_path / "job.py"
    script.write_text(JOB.format(mm=MM))
    data, jitted = tmp_path / "perf.data", tmp_path / "perf.jit.data"
    rec = run(["perf", "record", "-k", "mono", "-N", "-F", "2000", "-o", str(data), sys.executable, str(script)],
              env, tmp_path)
    if rec.returncode != 0 and not data.exists():
        pytest.skip(f"`perf record` cannot sample here: {rec.stderr.strip().splitlines()[-1:]}")
    assert rec.returncode == 0, rec.stderr
    child = int(rec.stdout.split()[-1])
    try:
        inj = run(["perf", "inject", "--jit", "-i", str(data), "-o", str(jitted)], env, tmp_path)
        assert inj.returncode == 0, inj.stderr
        rep = run(["perf", "report", "-i", str(jitted), "--no-children", "--sort", "symbol", "--stdio"], env, tmp_path)
        assert rep.returncode == 0, rep.stderr
        macro = sorted({w for w in rep.stdout.split() if w.startswith("matmul_macro_")})
        assert macro, rep.stdout[:3000]
        ann = run(["perf", "annotate", "-i", str(jitted), "--stdio", "-s", macro[0]], env, tmp_path)
        assert ann.returncode == 0, ann.stderr
        assert "Disassembly of section .text" in ann.stdout, ann.stdout[:3000]
        assert any(op in ann.stdout for op in ("vfmadd", "fmla", "mulss", "vmul")), ann.stdout[:3000]
    finally:
        for leftover in (f"/tmp/perf-{child}.map",):
            if os.path.exists(leftover):
                os.remove(leftover)
