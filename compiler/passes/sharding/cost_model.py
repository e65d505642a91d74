"""The α-β cost model of the collectives the SPMD partitioner inserts (`shard-partition`).

A message of `m` bytes between two devices costs `ALPHA + m * BETA` seconds. The collectives are
modelled as their standard ring / pairwise algorithms over a group of `n` devices, where `b` is
`bytes_per_device`: the bytes of the operand each device contributes (its local input block, the
operand type of the `shard` op):

| kind             | time                                  | (ring algorithm)                            |
|------------------|---------------------------------------|---------------------------------------------|
| `all_reduce`     | 2(n-1)·α + 2(n-1)/n · b·β             | reduce-scatter, then all-gather, of `b`      |
| `reduce_scatter` | (n-1)·α + (n-1)/n · b·β               | each device ends with b/n of the sum         |
| `all_gather`     | (n-1)·α + (n-1) · b·β                 | each device receives the n-1 other blocks    |
| `all_to_all`     | (n-1)·α + (n-1)/n · b·β               | pairwise exchange of the b/n parts           |
| `broadcast`      | ⌈log2 n⌉ · (α + b·β)                  | binomial tree                                |
| `shift`          | α + b·β                               | one send and one receive per device          |
| `all_slice`      | 0                                     | no communication: a local slice             |

A group of one device costs nothing. `ALPHA` and `BETA` are the only constants, fitted on this
machine (2 cores, idle: load 0.0) by `python -m bench.alpha_beta` to mpi4py's Allreduce and
Allgather at 2 and 4 ranks with the formulas above (docs/sharding.md §6 keeps every fit); the
planner's choices depend on their ratio α/β (≈ 11 KB).
"""

from __future__ import annotations

import math

ALPHA = 7.911e-06
"""Seconds per message step (7.9 µs)."""

BETA = 6.920e-10
"""Seconds per byte (1.45 GB/s)."""

KINDS = ("all_reduce", "reduce_scatter", "all_gather", "all_to_all", "broadcast", "shift", "all_slice")


def collective_time(kind: str, bytes_per_device: int, group_size: int) -> float:
    """Estimated seconds of one `shard.<kind>` whose operand is `bytes_per_device` bytes on each of
    `group_size` devices (the table in the module docstring)."""
    n, b = group_size, float(bytes_per_device)
    if kind not in KINDS:
        raise ValueError(f"unknown collective '{kind}' (known: {', '.join(KINDS)})")
    if n <= 1 or kind == "all_slice":
        return 0.0
    steps = n - 1
    if kind == "all_reduce":
        return 2 * steps * ALPHA + 2 * steps / n * b * BETA
    if kind in ("reduce_scatter", "all_to_all"):
        return steps * ALPHA + steps / n * b * BETA
    if kind == "all_gather":
        return steps * ALPHA + steps * b * BETA
    if kind == "broadcast":
        return math.ceil(math.log2(n)) * (ALPHA + b * BETA)
    return ALPHA + b * BETA  # shift
