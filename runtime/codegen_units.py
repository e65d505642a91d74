"""Codegen units: a program's LLVM IR split into modules that LLVM optimizes and compiles
separately, so that the matmul kernels are compiled once per machine, not once per program.

`loom-matmul-kernel` emits its packing routines and macro-kernels as shared functions
(`compiler/passes/matmul_functions.py`) whose code depends on the element type, the tile, the
operands' layout and the epilogue, not on the matrices' sizes (run-time arguments). The same
kernels therefore recur across programs and across specializations of one program (another batch
size). `split` makes each of them, with the internal functions only it reaches (the body of its
parallel loop), a unit of its own, named by its content:

    define internal i32 @"matmul_macro_f32_12x32_1"(…) noinline { … }    (in the program's module)
      → define i32 @"matmul_macro_f32_12x32.3fa9c1d2e4b5a6f7"(…) noinline { … }   (a kernel unit)
      + declare i32 @"matmul_macro_f32_12x32.3fa9c1d2e4b5a6f7"(…)          (in the program's unit)

The name's hash covers the unit's text with its own functions' names replaced by placeholders, the
compiler's identity (Loom's version and sources, xDSL's and llvmlite's versions, the host CPU and
its features) and how the unit is compiled. `compile_units` optimizes and compiles each unit (O3 —
for a kernel without LLVM's loop unroller, `runtime.jit.compile_unit` — code generation for the host) and
keeps a kernel unit's object code in memory for the rest of the process and, when the on-disk cache
is in use, in it (`ObjectCache.load_unit`/`store_unit`): a later program that needs the same kernel
loads its object instead of compiling it. The objects are loaded together into one MCJIT engine,
which resolves the calls between them (`runtime.jit.NativeModule`).

What a split costs: LLVM no longer sees a kernel together with its callers. The kernels are
`noinline`, so nothing was inlined either way, but O3 no longer propagates the constants that the
call sites pass into a kernel: 11 % more instructions and 7–20 % more LLVM time when nothing is
cached, the same run time (docs/performance.md, "Kernels compiled once per machine"). A kernel that
refers to a global variable (none does today) stays in the program's unit.
"""

from __future__ import annotations

import hashlib
import re
import threading
from dataclasses import dataclass, field

KERNEL_PREFIX = "matmul_"  # the shared functions of loom-matmul-kernel
PIPELINE = "O3 without loop unrolling"  # how kernel units are compiled (part of a kernel's key)
_NAME = re.compile(r'@"((?:[^"\\]|\\.)*)"|@([-\w.$]+)')
_LINKAGE = re.compile(r"^define\s+(?:(internal|private)\s+)?")

_memory: dict[str, bytes] = {}  # kernel key -> object code, for this process
_memory_lock = threading.Lock()


@dataclass
class Function:
    name: str
    lines: list[str]
    internal: bool
    refs: list[str] = field(default_factory=list)  # names it refers to, in order of appearance

    def declaration(self, name: str) -> str:
        """`declare` with this function's signature, for a unit that calls it by `name`."""
        head = _LINKAGE.sub("declare ", self.lines[0]).rstrip()
        head = head.removesuffix("{").rstrip()
        return head.replace(_quoted(self.name), _quoted(name), 1)


@dataclass
class Unit:
    text: str  # LLVM IR
    key: str | None  # a kernel's content key; None for the program's own unit
    symbol: str | None = None  # the kernel's entry point
    roots: list[str] = field(default_factory=list)  # the kernel's names in the program


def _quoted(name: str) -> str:
    return f'@"{name}"'


def _names(line: str) -> list[str]:
    return [q if q is not None and q != "" else u for q, u in _NAME.findall(line)]


def parse(ir: str) -> tuple[list[str], dict[str, Function], set[str]]:
    """(the module's lines outside function definitions, its definitions by name, the names of its
    global variables)."""
    head: list[str] = []
    functions: dict[str, Function] = {}
    current: Function | None = None
    for line in ir.split("\n"):
        if current is None and line.startswith("define"):
            m = _LINKAGE.match(line)
            name = _names(line[m.end():])[0]
            current = Function(name, [line], internal=bool(m.group(1)))
            continue
        if current is not None:
            current.lines.append(line)
            if line == "}":
                functions[current.name] = current
                current = None
            continue
        head.append(line)
    for fn in functions.values():
        seen: dict[str, None] = {}
        for line in fn.lines[1:]:
            for n in _names(line):
                seen.setdefault(n)
        fn.refs = list(seen)
    globals_ = {_names(line)[0] for line in head if line.startswith("@")}
    return head, functions, globals_


def _closure(root: str, functions: dict[str, Function], roots: set[str]) -> list[str] | None:
    """`root`, then the internal functions it reaches without passing through another root, in the
    module's order; None when they refer to another root, an external definition or a global."""
    reached, todo = {root}, [root]
    while todo:
        for n in functions[todo.pop()].refs:
            if n in reached:
                continue
            f = functions.get(n)
            if f is None:  # a declaration (the run-time library) or a global variable
                continue
            if n in roots or not f.internal:
                return None
            reached.add(n)
            todo.append(n)
    return [root, *(n for n in functions if n in reached and n != root)]


def _rename(lines: list[str], names: dict[str, str]) -> list[str]:
    if not names:
        return lines
    pattern = re.compile("|".join(re.escape(_quoted(n)) for n in sorted(names, key=len, reverse=True)))
    return [pattern.sub(lambda m: _quoted(names[m.group(0)[2:-1]]), line) for line in lines]


def split(ir: str, identity: tuple[str, ...]) -> list[Unit]:
    """The program's unit first, then one unit per kernel (`identity`: `jit.compiler_identity()`)."""
    head, functions, globals_ = parse(ir)
    candidates = {n for n, f in functions.items() if f.internal and n.startswith(KERNEL_PREFIX)}
    referenced = {r for n in candidates for r in functions[n].refs if r != n}
    roots = candidates - referenced  # a kernel's parallel body is part of its kernel's unit
    declares = [line for line in head if line.startswith("declare")]
    preamble = [line for line in head if not line.startswith(("declare", "@")) and line.strip()]
    kernels: list[Unit] = []
    moved: dict[str, str] = {}  # a kernel's name in the program -> its content name
    taken: set[str] = set()
    for root in [n for n in functions if n in roots]:
        members = _closure(root, functions, roots)
        if members is None or any(r in globals_ for m in members for r in functions[m].refs):
            continue
        local = {m: f"\0{i}" for i, m in enumerate(members)}
        body = [line for m in members for line in functions[m].lines]
        stem = re.sub(r"_\d+$", "", root)
        digest = hashlib.sha256("\0".join([*identity, PIPELINE, stem, *_rename(body, local)]).encode()).hexdigest()
        symbol = f"{stem}.{digest[:16]}"
        names = {m: symbol if m == root else f"{symbol}.{i}" for i, m in enumerate(members)}
        body = _rename(body, names)
        body[0] = _LINKAGE.sub("define ", body[0], count=1)  # the entry point: external
        kernels.append(Unit("\n".join([*preamble, *declares, *body, ""]), digest[:32], symbol, [root]))
        moved[root] = symbol
        taken.update(members)
    # a function of a kernel's unit that the program's code calls too stays there as well (a copy)
    keep = set(functions) - taken
    todo = list(keep)
    while todo:
        for r in functions[todo.pop()].refs:
            if r in functions and r not in keep and r not in moved:
                keep.add(r)
                todo.append(r)
    rest = [line for n, f in functions.items() if n in keep for line in f.lines]
    # one declaration per content name (none where the program declares it already: a kernel the
    # kernel library had, which the program also built under another recipe)
    present = {n for line in declares for n in _names(line)[:1]}
    declared = {s: functions[n].declaration(s) for n, s in moved.items() if s not in present}
    program = [*head, *declared.values(), *_rename(rest, moved), ""]
    # the same kernel twice in one program (two names, one content) is compiled once
    unique: dict[str, Unit] = {}
    for u in kernels:
        if u.key in unique:
            unique[u.key].roots += u.roots
        else:
            unique[u.key] = u
    return [Unit("\n".join(program), None), *unique.values()]


def compile_units(units: list[Unit], compile_one, store=None) -> tuple[list[bytes], int]:
    """Object code for each unit (`compile_one(text, kernel=…) -> bytes`), the kernels from this process's
    memory or `store` (a `runtime.object_cache.ObjectCache`) when they are there; (objects, how
    many kernels were found compiled)."""
    objects, found = [], 0
    for unit in units:
        obj = None if unit.key is None else lookup(unit.key, unit.symbol, store)
        found += obj is not None
        if obj is None:
            obj = compile_one(unit.text, kernel=unit.key is not None)
            if unit.key is not None:
                keep(unit.key, unit.symbol, obj, store)
        objects.append(obj)
    return objects, found


def lookup(key: str, symbol: str, store=None) -> bytes | None:
    """The kernel `key`'s object code from this process's memory or, verified, from `store`; one
    found in memory is written to `store` too when it is not there (compiled while the disk cache
    was off)."""
    with _memory_lock:
        obj = _memory.get(key)
    if obj is None:
        obj = store.load_unit(key, symbol) if store is not None else None
        if obj is not None:
            keep(key, symbol, obj)
    elif store is not None and not store.has_unit(key):
        store.store_unit(key, symbol, obj)
    return obj


def keep(key: str, symbol: str, obj: bytes, store=None) -> None:
    """Keep a kernel's object code for this process, and in `store`."""
    with _memory_lock:
        _memory[key] = obj
    if store is not None:
        store.store_unit(key, symbol, obj)


def remembered(key: str) -> bytes | None:
    """A kernel's object code if this process compiled or loaded it."""
    with _memory_lock:
        return _memory.get(key)


def forget() -> None:
    """Drop the kernels compiled by this process (tests)."""
    with _memory_lock:
        _memory.clear()
