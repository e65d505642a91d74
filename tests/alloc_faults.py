"""Test-only fault injection for the C allocator as compiled code sees it (nothing in `compiler/` or
`runtime/` knows about it).

Inside `with AllocFaults() as faults:`, code compiled by the JIT (in this process, after entering)
calls Python stand-ins for `malloc`, `aligned_alloc`, `calloc`, `realloc` and `free` instead of
libc's: llvmlite's `add_symbol` gives those names new addresses, which MCJIT looks up before the
process's symbols when it loads machine code. The stand-ins forward to libc, count the allocations
and keep the blocks compiled code holds, so a test can

- make the N-th allocation of a call fail (`faults.fail_at = N`, counted from `faults.reset()`),
  as running out of memory there would, without an LD_PRELOAD or an address-space limit;
- see what a call left allocated (`faults.live`: address → bytes): nothing, after a failing call.

Leaving the block points the names back at libc for code compiled later; code compiled inside keeps
the stand-ins, which forward to libc once no fault is armed (`fail_at = None`).
"""

from __future__ import annotations

import ctypes

import llvmlite.binding as llvm

SIZE, PTR = ctypes.c_size_t, ctypes.c_void_p
_libc = ctypes.CDLL(None)
_REAL = {}
for _name, _args in (("malloc", [SIZE]), ("aligned_alloc", [SIZE, SIZE]), ("calloc", [SIZE, SIZE]),
                     ("realloc", [PTR, SIZE]), ("free", [PTR])):
    _f = getattr(_libc, _name)
    _f.argtypes, _f.restype = _args, (None if _name == "free" else PTR)
    _REAL[_name] = _f


class AllocFaults:
    def __init__(self):
        self.fail_at: int | None = None  # the allocation (1, 2, …) that fails; None: none fails
        self.count = 0  # allocations since reset()
        self.failed = 0  # allocations made to fail since reset()
        self.live: dict[int, int] = {}  # blocks compiled code holds: address → bytes
        self._callbacks = {
            "malloc": ctypes.CFUNCTYPE(PTR, SIZE)(lambda n: self._alloc(n, _REAL["malloc"], n)),
            "aligned_alloc": ctypes.CFUNCTYPE(PTR, SIZE, SIZE)(
                lambda a, n: self._alloc(n, _REAL["aligned_alloc"], a, n)),
            "calloc": ctypes.CFUNCTYPE(PTR, SIZE, SIZE)(lambda k, n: self._alloc(k * n, _REAL["calloc"], k, n)),
            "realloc": ctypes.CFUNCTYPE(PTR, PTR, SIZE)(self._realloc),
            "free": ctypes.CFUNCTYPE(None, PTR)(self._free),
        }

    def reset(self) -> None:
        self.count = self.failed = 0
        self.live.clear()

    def _fails(self) -> bool:
        self.count += 1
        if self.fail_at is not None and self.count == self.fail_at:
            self.failed += 1
            return True
        return False

    def _alloc(self, n: int, real, *args) -> int | None:
        if self._fails():
            return None
        p = real(*args)
        if p:
            self.live[p] = n
        return p

    def _realloc(self, old: int | None, n: int) -> int | None:
        if self._fails():
            return None  # the old block stays valid (and held), as libc's realloc leaves it
        p = _REAL["realloc"](old, n)
        if p:
            self.live.pop(old, None)
            self.live[p] = n
        return p

    def _free(self, p: int | None) -> None:
        if p:
            self.live.pop(p, None)
        _REAL["free"](p)

    def __enter__(self) -> AllocFaults:
        for name, cb in self._callbacks.items():
            llvm.add_symbol(name, ctypes.cast(cb, PTR).value)
        return self

    def __exit__(self, *exc) -> None:
        self.fail_at = None  # compiled code keeps the stand-ins: they only forward from now on
        for name, f in _REAL.items():
            llvm.add_symbol(name, ctypes.cast(f, PTR).value)
        _KEEP.append(self)  # (their callbacks must outlive that code)


_KEEP: list[AllocFaults] = []
