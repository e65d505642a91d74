"""The pass registry: every pass Loom can run, by name (`loom opt -p a,b{x=1}`), also exported to
xDSL's `xdsl-opt` through the `xdsl.universe` entry point."""

from __future__ import annotations

from collections.abc import Callable

from xdsl.passes import ModulePass
from xdsl.universe import Universe


def _canonicalize():
    from xdsl.transforms.canonicalize import CanonicalizePass

    return CanonicalizePass


def _cse():
    from xdsl.transforms.common_subexpression_elimination import CommonSubexpressionElimination

    return CommonSubexpressionElimination


def _dce():
    from xdsl.transforms.dead_code_elimination import DeadCodeElimination

    return DeadCodeElimination


def _loom_inline():
    from compiler.passes.loom_inline import LoomInline

    return LoomInline


PASSES: dict[str, Callable[[], type[ModulePass]]] = {
    "loom-inline": _loom_inline,
    "canonicalize": _canonicalize,
    "cse": _cse,
    "dce": _dce,
}


def get_pass(name: str) -> type[ModulePass]:
    return PASSES[name]()


def _loom_dialect():
    from dialects.loom import Loom

    return Loom


LOOM_UNIVERSE = Universe(all_dialects={"loom": _loom_dialect},
                         all_passes={k: v for k, v in PASSES.items() if k.startswith("loom-")})
