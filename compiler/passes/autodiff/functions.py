"""Building the functions that differentiation makes (`ad-jvp`, `ad-linearize`, `ad-transpose`):
looking a function up, a fresh private function with a unique name, and replacing a derivative op
by the code that computes it (with the op's location)."""

from __future__ import annotations

from xdsl.dialects import func
from xdsl.dialects.builtin import ModuleOp
from xdsl.ir import Block, Operation, Region, SSAValue
from xdsl.traits import SymbolTable

from compiler.diagnostics import LoomError

COUNT = "ad.trip_count"  # marks the pop of a while loop's trip count (pushed by ad-linearize, read by ad-transpose)

# A call kept by differentiation (a large callee called from several places, see ad-jvp):
JVP_CALL = "ad.jvp_call"
"""On a call of a JVP function `@g_jvp(primals…, tangents…) -> (results…, result tangents…)`: the
number of primal operands (from ad-jvp; ad-linearize splits the call in two)."""
LINEAR_CALL = "ad.linear_call"
"""On a call of a linear function `@g_lin(tape, tangents…) -> (result tangents…, tape)` that pops
its residuals from its caller's tape (from ad-linearize; ad-transpose transposes it)."""


def lookup(module: ModuleOp, name: str) -> func.FuncOp:
    f = SymbolTable.lookup_symbol(module, name)
    if not isinstance(f, func.FuncOp):  # pragma: no cover - irgen only names functions
        raise LoomError(f"cannot differentiate '{name}': no such function")
    return f


def replace_derivative(d: Operation, ops: list[Operation], results: list[SSAValue]) -> None:
    """Put `ops` (with `d`'s location) where the derivative op `d` is; its results become `results`."""
    for o in ops:
        o.location = d.location
    d.parent_block().insert_ops_before(ops, d)
    for old, new in zip(d.results, results):
        old.replace_all_uses_with(new)
    d.detach()
    d.erase()


def fresh_name(module: ModuleOp, base: str) -> str:
    name, k = base, 1
    while SymbolTable.lookup_symbol(module, name) is not None:
        name, k = f"{base}_{k}", k + 1
    return name


def new_function(module: ModuleOp, name: str, inputs, outputs, loc) -> tuple[func.FuncOp, Block]:
    block = Block(arg_types=list(inputs))
    f = func.FuncOp(fresh_name(module, name), (list(inputs), list(outputs)), Region(block), "private")
    f.location = loc
    module.body.block.add_op(f)
    return f, block
