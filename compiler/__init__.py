"""Loom: a compiler for a small tensor language, on xDSL (MLIR in Python).

    import compiler
    prog = compiler.load("examples/newton.loom")
    prog.newton(2.0)
"""

from compiler.api import Function, Lowered, Program, load, loads
from compiler.diagnostics import (
    InternalCompilerError, LoomError, LoomInputError, LoomRuntimeError, LoomSyntaxError, LoomTypeError,
)

__version__ = "0.1.0"


def rank() -> int:
    """This process's rank in an MPI job (`loom launch -n N python script.py`); 0 outside a job."""
    from runtime import mpi

    return mpi.rank()


def world_size() -> int:
    """The number of processes of the MPI job; 1 outside a job."""
    from runtime import mpi

    return mpi.world_size()


__all__ = [
    "load", "loads", "Program", "Function", "Lowered", "LoomError", "LoomSyntaxError", "LoomTypeError",
    "LoomRuntimeError", "LoomInputError", "InternalCompilerError", "rank", "world_size",
]
