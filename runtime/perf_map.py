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
"""

from __future__ import annotations

import os
import struct
import threading

ENV = "LOOM_PERF_MAP"
_lock = threading.Lock()
SHT_SYMTAB, STT_FUNC, STB_GLOBAL = 2, 2, 1


def enabled() -> bool:
    return os.environ.get(ENV, "") not in ("", "0")


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


def record(engine, objects: list[bytes]) -> int:
    """Append the functions of `objects`, loaded by `engine`, to this process's perf map; the
    number of lines written."""
    lines = []
    for obj in objects:
        symbols = function_symbols(obj)
        base = {}
        for name, section, value, _, is_global in symbols:
            if is_global and section not in base:
                address = engine.get_function_address(name)
                if address:
                    base[section] = address - value
        lines += [f"{base[section] + value:x} {size:x} {name}\n"
                  for name, section, value, size, _ in symbols if section in base and size]
    if lines:
        with _lock, open(f"/tmp/perf-{os.getpid()}.map", "a") as f:
            f.writelines(lines)
    return len(lines)
