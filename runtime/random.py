"""Counter-based random numbers: element k of a tensor is a pure function of (seed, k).

The generator is SplitMix64's finalizer applied to `key(seed) + k·γ` (γ the golden-ratio
increment), so any element can be computed independently — eagerly here with NumPy's wrapping
uint64 arithmetic, or in compiled code with the same integer operations.

- `uniform`: the top 24 (f32) or 53 (f64) bits of the hash, scaled to [0, 1).
- `normal`: Box–Muller in f64 on the hashes of counters 2k and 2k+1, rounded to the dtype:
  `sqrt(-2·log(u1))·cos(2π·u2)` with u1 in (0, 1].
"""

from __future__ import annotations

import numpy as np

GAMMA = np.uint64(0x9E3779B97F4A7C15)
M1 = np.uint64(0xBF58476D1CE4E5B9)
M2 = np.uint64(0x94D049BB133111EB)


def _mix(z: np.ndarray) -> np.ndarray:
    z = (z ^ (z >> np.uint64(30))) * M1
    z = (z ^ (z >> np.uint64(27))) * M2
    return z ^ (z >> np.uint64(31))


def bits(seed: int, counters: np.ndarray) -> np.ndarray:
    """64 random bits for each counter."""
    with np.errstate(over="ignore"):
        key = _mix(np.asarray(np.int64(seed)).astype(np.uint64) + GAMMA)
        return _mix(key + counters.astype(np.uint64) * GAMMA)


CHUNK = 1 << 16  # counters computed at a time: the temporaries stay small, whatever the shape


def _generate(shape: tuple[int, ...], dtype, values) -> np.ndarray:
    """A tensor of `shape` whose elements k are `values(k)` (uint64 counters, a chunk at a time):
    the memory needed is the result's, not several uint64 and f64 temporaries of its size."""
    n = int(np.prod(shape, dtype=np.int64))
    out = np.empty(n, dtype=dtype)
    for lo in range(0, n, CHUNK):
        out[lo:lo + CHUNK] = values(np.arange(lo, min(n, lo + CHUNK), dtype=np.uint64))
    return out.reshape(shape)


def uniform(shape: tuple[int, ...], seed: int, dtype) -> np.ndarray:
    if np.dtype(dtype) == np.float32:
        return _generate(shape, dtype, lambda k: (bits(seed, k) >> np.uint64(40)).astype(np.float32)
                         * np.float32(2.0**-24))
    return _generate(shape, dtype, lambda k: (bits(seed, k) >> np.uint64(11)).astype(np.float64) * 2.0**-53)


def normal(shape: tuple[int, ...], seed: int, dtype) -> np.ndarray:
    def values(k: np.ndarray) -> np.ndarray:
        u1 = ((bits(seed, 2 * k) >> np.uint64(11)).astype(np.float64) + 1.0) * 2.0**-53
        u2 = (bits(seed, 2 * k + np.uint64(1)) >> np.uint64(11)).astype(np.float64) * 2.0**-53
        return np.sqrt(-2.0 * np.log(u1)) * np.cos(2.0 * np.pi * u2)
    return _generate(shape, dtype, values)
