"""Feature gates, in one place: the parts of LANGUAGE.md this version of Loom parses but does
not implement (pipeline parallelism). The checker rejects each where it
meets it, with `not_yet(key, span)`: "<feature>: not supported by this version of Loom yet"."""

from __future__ import annotations

from compiler.diagnostics import LoomTypeError, Span
from compiler.frontend.check_common import err

UNSUPPORTED_CALLS = {"stage": "pipeline parallelism (stage)"}
UNSUPPORTED_SYNTAX = {
    "@pipeline": "@pipeline (pipeline parallelism)",
    "with stage": "pipeline stages (`with stage(k):`)",
}


def not_yet(key: str, span: Span) -> LoomTypeError:
    """The error for an unsupported feature: `key` is a call's name or a key of UNSUPPORTED_SYNTAX."""
    feature = UNSUPPORTED_CALLS.get(key) or UNSUPPORTED_SYNTAX[key]
    return err(f"{feature}: not supported by this version of Loom yet", span)
