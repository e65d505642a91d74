"""Simulated devices: every device of the module's mesh (`shard.grid`) in one process.

`run_spmd(module, name, args)` runs `@name` on every device — one thread per device, each with its
own reference interpreter (runtime/reference.py) — and the collectives of the `shard` dialect are
carried out between the threads: each device posts its operand to an `Exchange` and waits at a
barrier until every device has, then computes its own result from its group's operands as §9.3
defines it. Every device runs the same program (global-view code on identical values, `@spmd`
bodies on their blocks), so a global-view function's results are the same on every device; they
are compared, and device 0's are returned. Only device 0 prints.

This is the oracle for the MPI executor and how a mesh is run without MPI. A run-time error on any
device (with its source location) stops all of them and is raised once, naming the device.
"""

from __future__ import annotations

import functools
import threading
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from xdsl.dialects import arith
from xdsl.dialects.builtin import ModuleOp
from xdsl.interpreter import Interpreter, InterpreterFunctions, impl, register_impls
from xdsl.interpreters.func import FuncFunctions
from xdsl.interpreters.scf import ScfFunctions
from xdsl.ir import Operation

from compiler.diagnostics import LoomError, LoomRuntimeError
from dialects import loom
from dialects import shard_ext as sx
from dialects.spmd import EnterOp, ExitOp
from dialects.loom_semantics import result
from runtime.reference import LoomFunctions, fail

TIMEOUT_S = 600.0  # a device waiting this long at a collective: the others took another path


def mesh_shape(module: ModuleOp) -> tuple[int, ...] | None:
    """The shape of the module's `shard.grid` (a Loom module declares at most one), or None."""
    for op in module.body.block.ops:
        if isinstance(op, sx.xshard.GridOp):
            return tuple(op.shape.get_values())
    return None


def device_coords(shape: Sequence[int]) -> list[tuple[int, ...]]:
    """Every device's position on the mesh, in rank order (row-major, the first axis major)."""
    return [tuple(int(c) for c in ix) for ix in np.ndindex(*shape)] if shape else [()]


def group_of(shape: Sequence[int], coords: tuple[int, ...], axes: Sequence[int]) -> list[int]:
    """Ranks of the devices that differ from `coords` only on `axes`, by in-group index
    (the first listed axis major)."""
    members = []
    for ix in np.ndindex(*[shape[a] for a in axes]):
        c = list(coords)
        for a, v in zip(axes, ix):
            c[a] = int(v)
        members.append(int(np.ravel_multi_index(c, shape)))
    return members


class Exchange:
    """What the devices' threads share: one slot per device and a barrier."""

    def __init__(self, n: int):
        self.slots: list[Any] = [None] * n
        self.barrier = threading.Barrier(n, timeout=TIMEOUT_S)

    def all_gather(self, rank: int, op: Operation, value: Any) -> list[Any]:
        """Post `value` (with the op it comes from) and get every device's, in rank order."""
        self.slots[rank] = (op, value)
        self._wait(op)
        posted = list(self.slots)
        self._wait(op)  # nobody overwrites a slot before everyone has read it
        for other, _ in posted:
            if other is not op:
                raise fail(op, f"the devices reached different collectives ({op.name} and {other.name}): "
                               "every device must run the same collectives in the same order")
        return [v for _, v in posted]

    def _wait(self, op: Operation) -> None:
        try:
            self.barrier.wait()
        except threading.BrokenBarrierError:
            raise _Stopped() from None


class _Stopped(Exception):
    """Another device failed (its error is the one reported)."""


def _axes(op: Operation) -> list[int]:
    return [int(a) for a in op.grid_axes.get_values()]


def _reduce(kind: str, parts: list[np.ndarray]):
    if kind == "sum":  # in group order from the first part, as MPI does (np.sum starts from +0.0)
        return functools.reduce(np.add, parts)
    if kind == "max":
        return np.max(parts, axis=0)
    if kind == "min":
        return np.min(parts, axis=0)
    if kind == "product":
        return np.prod(parts, axis=0)
    if kind == "average":
        return np.mean(parts, axis=0)
    raise LoomRuntimeError(f"reduction '{kind}' is not one the simulator knows")


def _undefined(like: np.ndarray) -> np.ndarray:
    """What a non-rotating `shard.shift` gives a device without a source (undefined upstream)."""
    if like.dtype.kind == "f":
        return np.full_like(like, np.nan)
    return np.full_like(like, np.iinfo(like.dtype).min if like.dtype.kind in "iu" else 0)


@register_impls
class DeviceFunctions(InterpreterFunctions):
    """The shard/spmd ops on one simulated device."""

    def __init__(self, shape: tuple[int, ...], rank: int, exchange: Exchange):
        self.shape, self.rank, self.exchange = shape, rank, exchange
        self.coords = device_coords(shape)[rank]

    def _group(self, op, value) -> tuple[list[np.ndarray], int]:
        """The group's operands in in-group order, and this device's in-group index."""
        everyone = self.exchange.all_gather(self.rank, op, value)
        members = group_of(self.shape, self.coords, _axes(op))
        return [np.asarray(everyone[r]) for r in members], members.index(self.rank)

    @impl(sx.xshard.AllReduceOp)
    def run_all_reduce(self, interp, op, args):
        parts, _ = self._group(op, args[0])
        return (result(op, _reduce(op.reduction.data.value, parts)),)

    @impl(sx.AllGatherOp)
    def run_all_gather(self, interp, op, args):
        parts, _ = self._group(op, args[0])
        return (result(op, np.concatenate(parts, axis=op.gather_axis.value.data)),)

    @impl(sx.ReduceScatterOp)
    def run_reduce_scatter(self, interp, op, args):
        parts, i = self._group(op, args[0])
        total = _reduce(op.reduction.data.value, parts)
        return (result(op, np.split(total, len(parts), axis=op.scatter_axis.value.data)[i]),)

    @impl(sx.AllToAllOp)
    def run_all_to_all(self, interp, op, args):
        parts, i = self._group(op, args[0])
        n = len(parts)
        mine = [np.split(p, n, axis=op.split_axis.value.data)[i] for p in parts]
        return (result(op, np.concatenate(mine, axis=op.concat_axis.value.data)),)

    @impl(sx.AllSliceOp)
    def run_all_slice(self, interp, op, args):
        members = group_of(self.shape, self.coords, _axes(op))
        parts = np.split(np.asarray(args[0]), len(members), axis=op.slice_axis.value.data)
        return (result(op, parts[members.index(self.rank)]),)

    @impl(sx.xshard.BroadcastOp)
    def run_broadcast(self, interp, op, args):
        parts, _ = self._group(op, args[0])
        (root,) = op.root.get_values()
        return (result(op, parts[root]),)

    @impl(sx.ShiftOp)
    def run_shift(self, interp, op, args):
        parts, i = self._group(op, args[0])
        n, offset = len(parts), op.offset.value.data
        if op.rotate is None and not 0 <= i - offset < n:  # no source: undefined (here NaN, or the
            return (result(op, _undefined(parts[i])),)     # type's minimum, so that a read shows)
        return (result(op, parts[(i - offset) % n]),)

    def _queried(self, op) -> list[int]:
        return list(op.axes.get_values() or range(len(self.shape)))

    @impl(sx.ProcessMultiIndexOp)
    def run_process_multi_index(self, interp, op, args):
        return tuple(self.coords[a] for a in self._queried(op))

    @impl(sx.ProcessLinearIndexOp)
    def run_process_linear_index(self, interp, op, args):
        return (self.rank,)

    @impl(sx.GridShapeOp)
    def run_grid_shape(self, interp, op, args):
        return tuple(self.shape[a] for a in self._queried(op))

    @impl(EnterOp)
    def run_enter(self, interp, op, args):
        return (args[0],)

    @impl(ExitOp)
    def run_exit(self, interp, op, args):
        return (args[0],)

    @impl(arith.IndexCastOp)
    def run_index_cast(self, interp, op, args):
        return (result(op, args[0]) if loom.is_scalar_type(op.result.type) else int(args[0]),)


@register_impls
class SilentLoomFunctions(LoomFunctions):
    """The loom ops on a device other than device 0: the same, but `print` prints nothing."""

    @impl(loom.PrintOp)
    def run_print(self, interp, op, args):
        return ()


def _same(a, b) -> bool:
    if isinstance(a, (tuple, list)):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b))
    return np.array_equal(np.asarray(a), np.asarray(b), equal_nan=True)


def run_devices(module: ModuleOp, name: str, device_args: Sequence[Sequence[Any]],
                shape: Sequence[int] | None = None) -> list[tuple]:
    """Run `@name` on every device of the mesh (`shape`, default: the module's `shard.grid`),
    device r on `device_args[r]`; returns every device's results, in rank order."""
    shape = tuple(shape if shape is not None else mesh_shape(module) or ())
    n = int(np.prod(shape)) if shape else 1
    if len(device_args) != n:
        raise LoomRuntimeError(f"{len(device_args)} argument lists for a mesh of {n} devices")
    exchange = Exchange(n)
    results: list[Any] = [None] * n
    errors: list[tuple[int, BaseException]] = []

    def device(rank: int) -> None:
        interp = Interpreter(module)
        interp.register_implementations(LoomFunctions() if rank == 0 else SilentLoomFunctions())
        interp.register_implementations(ScfFunctions())
        interp.register_implementations(FuncFunctions())
        interp.register_implementations(DeviceFunctions(shape, rank, exchange))
        try:
            with np.errstate(all="ignore"), warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)
                results[rank] = tuple(interp.call_op(name, tuple(device_args[rank])))
        except _Stopped:
            pass
        except BaseException as e:  # noqa: BLE001 - reported below, with the device named
            errors.append((rank, e))
            exchange.barrier.abort()

    threads = [threading.Thread(target=device, args=(r,), name=f"loom-device-{r}") for r in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        rank, e = min(errors, key=lambda x: x[0])
        if isinstance(e, RecursionError):
            raise LoomRuntimeError("call stack exhausted") from None
        if isinstance(e, LoomRuntimeError) and n > 1:
            e.message = f"on device {rank} {device_coords(shape)[rank]}: {e.message}"
        raise e
    return results


def run_spmd(module: ModuleOp, name: str, args: Sequence[Any], shape: Sequence[int] | None = None) -> tuple:
    """Run `@name` (a global-view function: global arrays in, global arrays out) on every device of
    the mesh, simulated in this process; returns its results (device 0's, checked equal on all)."""
    n = len(device_coords(tuple(shape if shape is not None else mesh_shape(module) or ())))
    results = run_devices(module, name, [[a.copy() if isinstance(a, np.ndarray) else a for a in args] for _ in range(n)], shape)
    for rank in range(1, n):
        if not _same(results[rank], results[0]):
            raise LoomRuntimeError(f"@{name} returned different values on devices 0 and {rank}: "
                                   "a compiler bug (the results of a global-view function are replicated)")
    return results[0]


@dataclass(frozen=True)
class SimulatedExecutor:
    """The executor of programs with `@spmd` functions in one process (`simulated` in
    compiler/driver.py's table): every device of the mesh on the reference executor, after the
    loom-level passes `pipeline`. `devices` (`--eager --devices N`) must be the mesh's size."""

    pipeline: str = "none"
    pm_options: dict | None = field(default=None, compare=False)  # PassManager flags (CLI)
    devices: int | None = None

    def key(self) -> tuple:
        return ("simulated", self.pipeline, id(self.pm_options) if self.pm_options else None, self.devices)

    def prepare(self, lowered) -> Callable[[list], tuple]:
        module = lowered.module(self.pipeline, self.pm_options, devices=True)  # global-view functions partitioned
        shape = mesh_shape(module) or ()
        n = len(device_coords(shape))
        if self.devices is not None and self.devices != n:
            raise LoomError(f"--devices {self.devices}: the program's mesh has {n} devices"
                            if shape else f"--devices {self.devices}: '{lowered.symbol}' uses no mesh")
        symbol = lowered.symbol
        return lambda leaves: run_spmd(module, symbol, leaves, shape)
