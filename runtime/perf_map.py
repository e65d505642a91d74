"""Names for JIT-compiled code in Linux `perf` profiles: with `LOOM_PERF_MAP=1`, every function of
the object files the JIT loads is appended to `/tmp/perf-<pid>.map` ("START SIZE name" in hex, the
file `perf report` reads for code it finds no ELF file for), so that a profile shows
`matmul_macro_f32_12x32.86ed0cd511b1e7a7` or `train_parallel36` instead of raw addresses:

    LOOM_PERF_MAP=1 perf record -g python train.py
    perf report --no-children --sort symbol

MCJIT tells where a global symbol was loaded (`get_function_address`); a function's place in its
object comes from the object's ELF symbol table (its section, offset and size), so a section's load
address is a global symbol's address less its offset, and every function of that section (internal
ones too: a program's outlined loops) gets its address from it. Objects that are not 64-bit
little-endian ELF (another platform) are skipped.

A map names code; it does not show it, so `perf annotate` cannot look inside a JIT-compiled
function. With `LOOM_PERF_MAP=jitdump` every function is also written, with its machine code as
loaded, to a *jitdump* file (`jit-<pid>.dump` in the temporary directory, `/tmp` unless `TMPDIR`
says otherwise; the format of Linux's
tools/perf/Documentation/jitdump-specification.txt that V8, the JVM and LLVM's own
PerfJITEventListener write): a header, then one JIT_CODE_LOAD record per function (its address,
size, name and bytes). The process maps the file executable, so that `perf record` notes the
mapping; `perf inject --jit` then finds the file through it and writes each function as a small
ELF file that `perf report` and `perf annotate` read like any other code:

    LOOM_PERF_MAP=jitdump perf record -k mono -g python train.py
    perf inject --jit -i perf.data -o perf.jit.data
    perf annotate -i perf.jit.data --stdio -s matmul_macro_f32_6x16.fc8b921a888b4178

(`-k mono`: the records' timestamps are CLOCK_MONOTONIC, which `perf inject` compares with the
samples'.)
"""

from __future__ import annotations

import ctypes
import mmap
import os
import platform
import struct
import sys
import tempfile
import threading
import time

ENV = "LOOM_PERF_MAP"
JITDUMP = "jitdump"  # the value of ENV that also writes a jitdump file
_lock = threading.Lock()
SHT_SYMTAB, STT_FUNC, STB_GLOBAL = 2, 2, 1
JITDUMP_MAGIC, JITDUMP_VERSION, JIT_CODE_LOAD = 0x4A695444, 1, 0
FILE_HEADER = struct.Struct("<IIIIIIQQ")  # magic, version, header size, ELF machine, pad, pid, time, flags
RECORD_HEADER = struct.Struct("<IIQ")  # record id, record size, time
CODE_LOAD = struct.Struct("<IIQQQQ")  # pid, tid, vma, code address, code size, code index
ELF_MACHINES = {"x86_64": 62, "amd64": 62, "aarch64": 183, "arm64": 183}


def enabled() -> bool:
    return os.environ.get(ENV, "") not in ("", "0")


def jitdump_enabled() -> bool:
    return os.environ.get(ENV, "") == JITDUMP


def jitdump_path() -> str:
    """Where this process writes its jitdump file (`perf inject --jit` requires the name)."""
    return os.path.join(tempfile.gettempdir(), f"jit-{os.getpid()}.dump")


def _now() -> int:
    return time.clock_gettime_ns(time.CLOCK_MONOTONIC)


class _JitDump:
    """This process's jitdump file: the header when opened, a JIT_CODE_LOAD record per function."""

    def __init__(self):
        self.pid = os.getpid()
        self.fd = os.open(jitdump_path(), os.O_CREAT | os.O_TRUNC | os.O_RDWR, 0o644)
        machine = ELF_MACHINES.get(platform.machine().lower(), 0)
        os.write(self.fd, FILE_HEADER.pack(JITDUMP_MAGIC, JITDUMP_VERSION, FILE_HEADER.size, machine, 0,
                                           self.pid, _now(), 0))
        # perf finds the file through this mapping (an executable one: perf records those)
        self.mapping = mmap.mmap(self.fd, FILE_HEADER.size, flags=mmap.MAP_PRIVATE,
                                 prot=mmap.PROT_READ | mmap.PROT_EXEC)
        self.index = 0

    def load(self, name: str, address: int, size: int) -> None:
        code = ctypes.string_at(address, size)  # the bytes as loaded (relocations applied)
        text = name.encode() + b"\0"
        total = RECORD_HEADER.size + CODE_LOAD.size + len(text) + size
        os.write(self.fd, RECORD_HEADER.pack(JIT_CODE_LOAD, total, _now())
                 + CODE_LOAD.pack(self.pid, threading.get_native_id(), address, address, size, self.index)
                 + text + code)
        self.index += 1


_dump: _JitDump | None = None
_dump_failed: set[int] = set()  # processes that could not write theirs (told once)


def function_symbols(obj: bytes) -> list[tuple[str, int, int, int, bool]]:
    """(name, section index, offset, size, global) of the functions an ELF64 object defines."""
    if obj[:6] != b"\x7fELF\x02\x01":  # ELF, 64-bit, little-endian
        return []
    shoff, = struct.unpack_from("<Q", obj, 0x28)
    shentsize, shnum = struct.unpack_from("<HH", obj, 0x3A)
    sections = [struct.unpack_from("<IIQQQQIIQQ", obj, shoff + i * shentsize) for i in range(shnum)]
    out = []
    for sh in sections:
        if sh[1] != SHT_SYMTAB:
            continue
        strings = sections[sh[6]][4]  # the linked string table's offset
        for at in range(sh[4], sh[4] + sh[5], sh[9] or 24):
            name, info, _, section, value, size = struct.unpack_from("<IBBHQQ", obj, at)
            if info & 0xF == STT_FUNC and 0 < section < shnum:
                text = obj[strings + name:obj.index(b"\0", strings + name)].decode()
                out.append((text, section, value, size, info >> 4 == STB_GLOBAL))
    return out


def loaded_functions(engine, objects: list[bytes]) -> list[tuple[int, int, str]]:
    """(address, size, name) of every function of `objects` as `engine` loaded them."""
    out = []
    for obj in objects:
        symbols = function_symbols(obj)
        base = {}
        for name, section, value, _, is_global in symbols:
            if is_global and section not in base:
                address = engine.get_function_address(name)
                if address:
                    base[section] = address - value
        out += [(base[section] + value, size, name) for name, section, value, size, _ in symbols
                if section in base and size]
    return out


def record(engine, objects: list[bytes]) -> int:
    """Append the functions of `objects`, loaded by `engine`, to this process's perf map (and with
    `LOOM_PERF_MAP=jitdump`, their code to its jitdump file); the number of functions."""
    global _dump
    functions = loaded_functions(engine, objects)
    if not functions:
        return 0
    with _lock:
        with open(f"/tmp/perf-{os.getpid()}.map", "a") as f:
            f.writelines(f"{address:x} {size:x} {name}\n" for address, size, name in functions)
        if jitdump_enabled() and os.getpid() not in _dump_failed:
            try:
                if _dump is None or _dump.pid != os.getpid():  # (a forked child writes its own)
                    _dump = _JitDump()
                for address, size, name in functions:
                    _dump.load(name, address, size)
            except OSError as e:  # a profiling aid never stops the program (e.g. /tmp mounted noexec)
                _dump_failed.add(os.getpid())
                sys.stderr.write(f"warning: {ENV}={JITDUMP}: cannot write {jitdump_path()} ({e}); "
                                 f"no jitdump for this process\n")
    return len(functions)
