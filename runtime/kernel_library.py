"""The kernel library: matmul kernels found by their recipe before their IR is built.

`runtime/codegen_units.py` compiles each matmul kernel once per machine, keyed by its LLVM IR. A
program still had to build every kernel's IR in `loom-matmul-kernel` and lower it through each later
pass, only to find the same text again: on the MLP training step, two thirds of the ops after that
pass are in kernel bodies. The library remembers, for each kernel the JIT compiled, the recipe it
was built from — the pass's key for the shared function (element type, tile, layouts, epilogue, its
arguments: `matmul_functions.recipe`) under a salt that covers everything else its code depends on
(the compiler's identity and sources, the pipeline) — and the codegen unit that came out of it. In a
later compilation the pass asks the library first (`find`): for a kernel compiled before it emits
only a declaration, named by the unit's symbol,

    func.func private @"matmul_macro_f32_12x32.86ed0cd511b1e7a7"(memref<?xf32> {llvm.noalias}, …)

and the unit's object code is linked in (`objects`).

Only the JIT uses it (`Lowered.artifact(library=…)`, around the passes and the code generation of
one compilation); the text stages (`loom compile --emit=…`, `Lowered.as_text`) and IR dumps build
every kernel. A recipe is only an index: a kernel is declared only when its unit's object is in this
process's memory or verifies in the disk cache (`ObjectCache.load_unit`); else it is built as before.
"""

from __future__ import annotations

import hashlib
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from runtime import codegen_units

_recipes: dict[str, tuple[str, str]] = {}  # recipe key -> (unit key, symbol), this process
_RETURN = re.compile(r"^\s*ret i32 (.+?)\s*$", re.MULTILINE)
_FUNCTION = re.compile(r"^define .*?^}$", re.MULTILINE | re.DOTALL)
_lock = threading.Lock()
_active: ContextVar[KernelLibrary | None] = ContextVar("loom_kernel_library", default=None)


class KernelLibrary:
    """The kernels of one compilation: found by recipe (declared), or built and then recorded."""

    def __init__(self, salt: str, store=None):
        self.salt = salt  # what else a kernel's code depends on (`Lowered.kernel_library`)
        self.store = store  # a `runtime.object_cache.ObjectCache`, or None (this process only)
        self.built: dict[str, str] = {}  # a kernel built this time: its name in the program -> recipe key
        self.found: dict[str, str] = {}  # a kernel declared this time: its symbol -> unit key

    def key(self, recipe: str) -> str:
        return hashlib.sha256(f"{self.salt}\0{recipe}".encode()).hexdigest()[:32]

    def find(self, recipe: str) -> str | None:
        """The symbol of the kernel compiled before from `recipe`, its object code now in this
        process's memory; None when there is none."""
        rkey = self.key(recipe)
        with _lock:
            hit = _recipes.get(rkey)
        on_disk = hit is None
        if on_disk and self.store is not None:
            hit = self.store.load_recipe(rkey)
        if hit is None:
            return None
        unit, symbol = hit
        if codegen_units.lookup(unit, symbol, self.store) is None:  # (and onto the disk, if only in memory)
            return None
        if not on_disk and self.store is not None and not self.store.has_recipe(rkey):
            self.store.store_recipe(rkey, unit, symbol)  # found while the disk cache was off
        with _lock:
            _recipes[rkey] = hit
        self.found[symbol] = unit
        return symbol

    def built_as(self, name: str, recipe: str) -> None:
        """The pass built the kernel `name` of this program from `recipe`."""
        self.built[name] = self.key(recipe)

    def record(self, units: list[codegen_units.Unit]) -> None:
        """Remember the units of the kernels built this time under their recipes. A kernel that can
        return a failure status is not remembered: its status numbers are its program's numbering
        of run-time checks (none of today's kernels has a check)."""
        for u in units:
            rkeys = [self.built[root] for root in u.roots if root in self.built]
            if not rkeys or can_fail(u.text):
                continue
            with _lock:
                _recipes.update((rkey, (u.key, u.symbol)) for rkey in rkeys)
            if self.store is not None:
                for rkey in rkeys:
                    self.store.store_recipe(rkey, u.key, u.symbol)

    def objects(self, units: list[codegen_units.Unit]) -> list[bytes]:
        """The object code of the kernels declared from the library that this compilation's units
        do not define themselves."""
        defined = {u.symbol for u in units}
        out = []
        for symbol, unit in self.found.items():
            if symbol in defined:
                continue
            obj = codegen_units.remembered(unit)
            if obj is None:
                raise RuntimeError(f"kernel '{symbol}' left this process's memory while in use (a compiler bug)")
            out.append(obj)
        return out


def can_fail(text: str) -> bool:
    """Whether a unit's LLVM IR can return a status other than 0: a function of it returns a
    literal other than 0, or a value that is not the thread pool's status passed on
    (`loom_parallel_status` of what `loom_parallel_for` returned, in the same function: the status
    of the unit's own loop bodies, which this same test covers — a packing routine whose panel loop
    runs on the pool). Value names are per function, so each `define` is read on its own."""
    for body in _FUNCTION.findall(text):
        for value in _RETURN.findall(body):
            if value == "0":
                continue
            passed = re.search(re.escape(value) + r' = call ccc i32 @"loom_parallel_status"\(i32 (%\S+),', body)
            if passed is None or f'{passed.group(1)} = call ccc i32 @"loom_parallel_for"' not in body:
                return True
    return False


def active() -> KernelLibrary | None:
    """The library of the compilation under way in this thread, if the JIT gave it one."""
    return _active.get()


@contextmanager
def using(library: KernelLibrary | None) -> Iterator[KernelLibrary | None]:
    token = _active.set(library)
    try:
        yield library
    finally:
        _active.reset(token)


def forget() -> None:
    """Drop this process's recipes (tests)."""
    with _lock:
        _recipes.clear()
