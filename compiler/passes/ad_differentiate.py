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

Before (`d1 = grad(f, wrt=x)`, `d2 = grad(d1, wrt=x)`):

```mlir
func.func @d2(%x: f64) -> f64 {
  %0 = arith.constant 1.000000e+00 : f64
  %1, %2 = ad.vjp @d1(%x, %0) {wrt = array<i64: 0>} : (f64, f64) -> (f64, f64)
  func.return %2 : f64
}
func.func private @d1(%x: f64) -> f64 {
  %0 = arith.constant 1.000000e+00 : f64
  %1, %2 = ad.vjp @f(%x, %0) {wrt = array<i64: 0>} : (f64, f64) -> (f64, f64)
  func.return %2 : f64
}
```

After (round 1 differentiates `@f`: `@f_jvp`, `@f_fwd`, `@f_lin`, `@f_lin_t`; then `@d1` has no
derivative op left and round 2 differentiates it: `@d1_jvp`, …):

```mlir
func.func @d2(%x: f64) -> f64 {
  %0 = arith.constant 1.000000e+00 : f64
  %1, %2 = func.call @d1_fwd(%x) : (f64) -> (f64, !ad.tape)
  %3 = func.call @d1_lin_t(%2, %0) : (!ad.tape, f64) -> f64
  func.return %3 : f64
}
func.func private @d1(%x: f64) -> f64 {
  %0 = arith.constant 1.000000e+00 : f64
  %1, %2 = func.call @f_fwd(%x) : (f64) -> (f64, !ad.tape)
  %3 = func.call @f_lin_t(%2, %0) : (!ad.tape, f64) -> f64
  func.return %3 : f64
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
                raise LoomError(f"ad-differentiate: {left} derivative op(s) left after {rounds} round(s) "
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
