"""glibc's malloc thresholds for compiled code's buffers (set once, when the JIT starts).

Compiled code allocates its buffers with `aligned_alloc` and frees them before it returns, so a
function called in a loop (a training step) allocates and frees the same few megabytes every call.
glibc's default is a *dynamic* mmap threshold: blocks above it (128 KiB at first) get their own
`mmap`, and each `free` of such a block raises the threshold to its size and the heap's trim
threshold to twice that. With a call's many buffers of a few MiB, the heap grows past the trim
threshold and `free` hands the top of it back to the kernel (`brk`), so the next call faults every
page in again, zero-filled by the kernel: the Transformer block's training step (bench/transformer.py)
took ~5,000 page faults and ~20 ms of system time per 115 ms call, against ~700 for PyTorch's.

`tune_malloc` fixes the thresholds at the values glibc's dynamic rule moves towards anyway: an
mmap threshold of 32 MiB (`DEFAULT_MMAP_THRESHOLD_MAX` on 64-bit) and a trim threshold of twice
that. Blocks up to 32 MiB then come from the heap and are reused from call to call; at most 64 MiB
of free heap top is kept mapped. A process that chose its own malloc settings (glibc's
`MALLOC_*_` variables or `GLIBC_TUNABLES` with `glibc.malloc.`) keeps them, and so does any C
library without `mallopt`. The settings apply to the whole process (NumPy's buffers too).
"""

from __future__ import annotations

import ctypes
import os

M_TRIM_THRESHOLD = -1  # mallopt's parameter numbers (malloc.h)
M_MMAP_THRESHOLD = -3
MMAP_THRESHOLD = 32 << 20
TRIM_THRESHOLD = 2 * MMAP_THRESHOLD
USER_SETTINGS = ("MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_", "MALLOC_TOP_PAD_", "MALLOC_MMAP_MAX_")


def user_chose_malloc_settings(environ=os.environ) -> bool:
    return any(name in environ for name in USER_SETTINGS) or "glibc.malloc." in environ.get("GLIBC_TUNABLES", "")


def tune_malloc() -> bool:
    """Set the thresholds (module docstring); True when they were set."""
    if user_chose_malloc_settings():
        return False
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):  # not glibc
        return False
    mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    return bool(mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD)) and bool(mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD))
