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
__all__ = [
    "load", "loads", "Program", "Function", "Lowered", "LoomError", "LoomSyntaxError", "LoomTypeError",
    "LoomRuntimeError", "LoomInputError", "InternalCompilerError",
]
