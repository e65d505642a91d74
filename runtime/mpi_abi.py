"""The MPI ABI constants Loom's native code is compiled with: one table, checked at start-up.

MPICH's handles are plain `int`s fixed at compile time (`MPI_COMM_WORLD` = 0x44000000, `MPI_FLOAT` =
0x4c00040a, …), so compiled code carries them as constants. The table is xDSL's `MpiLibraryInfo`
(the values `lower-mpi` uses, taken from MPICH) plus the few handles Loom also needs. `verify()`
compares every entry with the value of the MPI library actually loaded (through mpi4py): a
different MPI (Open MPI, the MPI-5 standard ABI of `libmpi_abi.so`) is detected at start-up
instead of being called with wrong handles.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

from xdsl.dialects.builtin import Float32Type, Float64Type, IntegerType
from xdsl.ir import Attribute
from xdsl.transforms.lower_mpi import MpiLibraryInfo


@dataclass(frozen=True)
class LoomMpiInfo(MpiLibraryInfo):
    """xDSL's MPICH table, extended."""

    MPI_C_BOOL: int = 0x4C00013F
    MPI_ERRORS_RETURN: int = 0x54000001
    MPI_ERRORS_ARE_FATAL: int = 0x54000000
    MPI_COMM_NULL: int = 0x04000000
    MPI_THREAD_MULTIPLE: int = 3
    MPI_SUCCESS: int = 0
    MPI_PROC_NULL: int = -1


ABI = LoomMpiInfo()

# Loom element type → datatype; reduction kind (`shard.partial` / §9.3 `op=`) → MPI_Op
_DATATYPES = {"f32": "MPI_FLOAT", "f64": "MPI_DOUBLE", "i32": "MPI_INT", "i64": "MPI_LONG_LONG",
              "i1": "MPI_C_BOOL"}
_REDUCTIONS = {"sum": "MPI_SUM", "max": "MPI_MAX", "min": "MPI_MIN"}
# booleans: MPI defines only logical reductions on MPI_C_BOOL (max = or, min = and; a sum of
# booleans is their or, as Loom's `+` on i1)
_BOOL_REDUCTIONS = {"sum": "MPI_LOR", "max": "MPI_LOR", "min": "MPI_LAND"}
# handles that are not MPI_* datatypes, ops, communicators or errhandlers (nothing to compare)
_NOT_HANDLES = {"MPI_Datatype_size", "MPI_Op_size", "MPI_Comm_size", "MPI_Request_size", "MPI_Status_size",
                "MPI_STATUS_IGNORE", "MPI_STATUSES_IGNORE", "MPI_Status_field_MPI_SOURCE",
                "MPI_Status_field_MPI_TAG", "MPI_Status_field_MPI_ERROR", "MPI_IN_PLACE", "MPI_WCHAR"}


def type_name(t: Attribute) -> str:
    if isinstance(t, Float32Type):
        return "f32"
    if isinstance(t, Float64Type):
        return "f64"
    if isinstance(t, IntegerType) and t.width.data in (1, 32, 64):
        return f"i{t.width.data}"
    raise ValueError(f"no MPI datatype for element type {t}")


def datatype(t: Attribute) -> int:
    """The MPI_Datatype handle of a scalar element type."""
    return getattr(ABI, _DATATYPES[type_name(t)])


def reduction(kind: str, t: Attribute) -> int:
    """The MPI_Op handle of a reduction (`sum`, `max`, `min`) on elements of type `t`."""
    table = _BOOL_REDUCTIONS if type_name(t) == "i1" else _REDUCTIONS
    if kind not in table:
        raise ValueError(f"no MPI reduction for '{kind}' (Loom has: {', '.join(table)})")
    return getattr(ABI, table[kind])


class MpiAbiError(RuntimeError):
    pass


def mismatches(mpi_module) -> list[str]:
    """Entries of the table whose value differs from the loaded library's (via mpi4py's `MPI`)."""
    bad = []
    for f in fields(ABI):
        if f.name in _NOT_HANDLES or not f.name.startswith("MPI_"):
            continue
        name = f.name[4:]
        mine = getattr(ABI, f.name)
        obj = getattr(mpi_module, name, None)
        if obj is None:
            continue  # mpi4py does not expose it (e.g. MPI_LONG_LONG_INT, an alias)
        theirs = obj if isinstance(obj, int) else mpi_module._handleof(obj)
        if theirs != mine:
            bad.append(f"{f.name}: compiled with {mine:#x}, the library has {theirs:#x}")
    return bad


def verify(mpi_module) -> None:
    bad = mismatches(mpi_module)
    if bad:
        raise MpiAbiError("the loaded MPI library does not have MPICH's ABI, which Loom's native code "
                          "is compiled for (is another MPI than the `mpich` wheel first on the library "
                          "path?):\n  " + "\n  ".join(bad))
