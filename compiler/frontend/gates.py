"""Feature gates, in one place: the parts of LANGUAGE.md this version of Loom parses but does
not implement (sharding, collectives, pipeline parallelism). The checker rejects each where it
meets it, with `not_yet(key, span)`: "<feature>: not supported by this version of Loom yet"."""

from __future__ import annotations

from compiler.diagnostics import LoomTypeError, Span
from compiler.frontend.check_common import err

UNSUPPORTED_CALLS = {
    "reshard": "sharding (reshard)", "all_reduce": "collectives (all_reduce)", "all_gather": "collectives (all_gather)",
    "reduce_scatter": "collectives (reduce_scatter)", "all_to_all": "collectives (all_to_all)",
    "broadcast": "collectives (broadcast)", "shift": "collectives (shift)", "axis_index": "collectives (axis_index)",
    "axis_size": "collectives (axis_size)", "stage": "pipeline parallelism (stage)",
}
UNSUPPORTED_SYNTAX = {
    "mesh": "device meshes and sharding (mesh)",
    "d@axis": "sharded dimensions (`d@axis`)",
    "@spmd": "@spmd (per-device programs)",
    "@pipeline": "@pipeline (pipeline parallelism)",
    "with stage": "pipeline stages (`with stage(k):`)",
}


def not_yet(key: str, span: Span) -> LoomTypeError:
    """The error for an unsupported feature: `key` is a call's name or a key of UNSUPPORTED_SYNTAX."""
    feature = UNSUPPORTED_CALLS.get(key) or UNSUPPORTED_SYNTAX[key]
    return err(f"{feature}: not supported by this version of Loom yet", span)
