"""The roofline's two ceilings for this machine, measured (nothing here is assumed about the CPU):

- **FMA peak per core**: a loop of independent fused multiply-adds on the widest vector the host
  has (16 f32 lanes with AVX-512, 8 with AVX2, 4 otherwise), compiled by LLVM for the host CPU
  like Loom's own code, timed in CPU time on one thread. It has more accumulators than FMA
  latency × FMA pipes (4 × 2 on current x86 cores), so it runs at the pipes' throughput, and
  fewer than the vector registers (`chains`): with 16 accumulators and the constant in AVX2's 16
  registers LLVM kept one accumulator on the stack, and the loop ran at 50 GFLOP/s where 12
  accumulators ran at 86-94 (an AMD EPYC core on 2026-12-02, whose matmul kernels reach 77-88);
- **memory bandwidth**: a 64 MiB NumPy copy (read + write), in CPU time.

Both are medians of `repeats` runs; `bench.run` and `bench.targets` print Loom's GFLOP/s or GB/s
as a fraction of them.
"""

from __future__ import annotations

import ctypes
import os
import platform
import statistics
import time

import numpy as np


def chains(lanes: int) -> int:
    """Independent accumulators: 16 of AVX-512's 32 registers, 12 of AVX2's (or SSE's) 16."""
    return 16 if lanes == 16 else 12


def vector_lanes() -> int:
    """f32 lanes of the host's widest vector registers (what Loom's matmul kernel uses too)."""
    import llvmlite.binding as llvm

    from runtime import jit

    jit.target_machine()
    features = llvm.get_host_cpu_features()
    if features.get("avx512f"):
        return 16
    if features.get("avx2") or features.get("avx"):
        return 8
    return 4


def _fma_ir(lanes: int) -> str:
    n = chains(lanes)
    vt = f"<{lanes} x float>"
    ones = ", ".join(["float 1.0"] * lanes)
    small = ", ".join(["float 0x3EB0C6F7A0000000"] * lanes)  # 1e-6: the accumulators stay finite
    phis = "\n".join(f"  %a{i} = phi {vt} [ <{ones}>, %entry ], [ %b{i}, %loop ]" for i in range(n))
    fmas = "\n".join(f"  %b{i} = call {vt} @llvm.fma.v{lanes}f32({vt} %a{i}, {vt} <{small}>, {vt} <{small}>)"
                     for i in range(n))
    total = [f"%b{i}" for i in range(n)]
    sums, k = [], 0
    while len(total) > 1:
        nxt = []
        for a, b in zip(total[::2], total[1::2]):
            sums.append(f"  %s{k} = fadd {vt} {a}, {b}")
            nxt.append(f"%s{k}")
            k += 1
        total = nxt + total[len(total) // 2 * 2:]  # an odd one out joins the next round
    return f"""
declare {vt} @llvm.fma.v{lanes}f32({vt}, {vt}, {vt})
define float @peak(i64 %n) {{
entry:
  br label %loop
loop:
  %i = phi i64 [ 0, %entry ], [ %i1, %loop ]
{phis}
{fmas}
  %i1 = add i64 %i, 1
  %more = icmp ult i64 %i1, %n
  br i1 %more, label %loop, label %done
done:
{chr(10).join(sums)}
  %r = extractelement {vt} {total[0]}, i32 0
  ret float %r
}}
"""


def fma_peak_gflops(repeats: int = 5, iterations: int = 4_000_000) -> float:
    """GFLOP/s of `chains(lanes)` independent vector FMA chains on one thread (2 flops per lane)."""
    from runtime import jit

    lanes = vector_lanes()
    native = jit.NativeModule(jit.optimize(_fma_ir(lanes)))
    peak = ctypes.CFUNCTYPE(ctypes.c_float, ctypes.c_int64)(native.address("peak"))
    peak(1000)
    times = []
    for _ in range(repeats):
        t = time.process_time()
        peak(iterations)
        times.append(time.process_time() - t)
    return iterations * chains(lanes) * lanes * 2 / statistics.median(times) / 1e9


def copy_gbps(repeats: int) -> float:
    """A 64 MiB copy's bandwidth (read + write) in CPU time, median of `repeats`."""
    src = np.ones(16 * 2 ** 20, np.float32)
    dst = np.empty_like(src)
    times = []
    for _ in range(repeats):
        t = time.process_time()
        np.copyto(dst, src)
        times.append(time.process_time() - t)
    return 2 * src.nbytes / statistics.median(times) / 1e9


def machine_info() -> dict:
    """What the benchmark ran on (printed at the top and kept in --json)."""
    cpu = platform.processor() or "?"
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next((ln.split(":", 1)[1].strip() for ln in f if ln.startswith("model name")), cpu)
    except OSError:
        pass
    import llvmlite
    return {"python": platform.python_version(), "numpy": np.__version__, "llvmlite": llvmlite.__version__,
            "cpu": cpu, "cpus_available": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity")
            else os.cpu_count(), "time": time.strftime("%Y-%m-%d %H:%M:%S"),
            "load_avg_1min": os.getloadavg()[0] if hasattr(os, "getloadavg") else None}
