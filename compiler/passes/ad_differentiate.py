"""`ad-differentiate`: differentiate everything — `ad-jvp`, `ad-linearize`, `ad-transpose` in
rounds until no derivative op (`ad.jvp`, `ad.vjp`) is left.

A round replaces the derivative ops whose callee contains none itself (the innermost ones), so
`grad(grad(grad(grad(f))))` takes four rounds: derivatives nest to any depth. Each round must
remove at least one derivative op (the front end rejects recursion, so the innermost op is always
ready); a round that removes none, or more rounds than `max-rounds`, is a compiler bug and raises
a clear internal error rather than looping or leaving derivative ops for the backend.

A pass manager that prints, dumps or times each pass can run the rounds' passes itself, one at a
time, from `steps(module)` (the next pass is chosen after the previous one has run); `apply` runs
them all.

Before (`d2 = grad(d1, wrt=x)`, `d1 = grad(f, wrt=x)`):

```mlir
func.func @d1(%x: f64) -> f64 {
  %one = arith.constant 1.0 : f64
  %r:2 = ad.vjp @f(%x, %one) {wrt = array<i64: 0>} : (f64, f64) -> (f64, f64)
  func.return %r#1 : f64
}
func.func @d2(%x: f64) -> f64 {
  %one = arith.constant 1.0 : f64
  %r:2 = ad.vjp @d1(%x, %one) {wrt = array<i64: 0>} : (f64, f64) -> (f64, f64)
  func.return %r#1 : f64
}
```

After (round 1 builds `@d1` from `@f`'s derivative functions, round 2 `@d2` from `@d1`'s):

```mlir
func.func @d1(%x: f64) -> f64 {
  %y, %tape = func.call @f_inlined_jvp_fwd(%x) : (f64) -> (f64, !ad.tape)
  %dx = func.call @f_inlined_jvp_lin_t(%tape, %one) : (!ad.tape, f64) -> f64
  func.return %dx : f64
}
func.func @d2(%x: f64) -> f64 {
  %y, %tape = func.call @d1_inlined_jvp_fwd(%x) : (f64) -> (f64, !ad.tape)
  %dx = func.call @d1_inlined_jvp_lin_t(%tape, %one) : (!ad.tape, f64) -> f64
  func.return %dx : f64
}
```
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from xdsl.context import Context
from xdsl.dialects.builtin import ModuleOp
from xdsl.passes import ModulePass

from compiler.diagnostics import LoomError
from compiler.passes.ad_jvp import AdJvp
from compiler.passes.ad_linearize import AdLinearize
from compiler.passes.ad_transpose import AdTranspose
from dialects import ad

ROUND = (AdJvp(), AdLinearize(), AdTranspose())


def derivative_ops(module: ModuleOp) -> int:
    return sum(isinstance(o, (ad.JvpOp, ad.VjpOp)) for o in module.walk())


@dataclass(frozen=True)
class AdDifferentiate(ModulePass):
    name = "ad-differentiate"

    max_rounds: int = 64
    """A bound on the nesting depth (derivative of a derivative of …), as a sanity check."""

    def steps(self, module: ModuleOp) -> Iterator[ModulePass]:
        """The passes of each round, until no derivative op is left (run each before the next)."""
        left, rounds = derivative_ops(module), 0
        while left:
            if rounds == self.max_rounds:
                raise LoomError(f"ad-differentiate: {left} derivative op(s) left after {rounds} rounds "
                                f"(derivatives nested deeper than max-rounds={self.max_rounds}?)")
            yield from ROUND
            rounds += 1
            now = derivative_ops(module)
            if now >= left:
                raise LoomError(f"ad-differentiate: round {rounds} differentiated none of the {left} "
                                "derivative op(s) left (a compiler bug)")
            left = now

    def apply(self, ctx: Context, op: ModuleOp) -> None:
        for p in self.steps(op):
            p.apply(ctx, op)
