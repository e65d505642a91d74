"""Activity analysis: which values of a function depend (differentiably) on some seed values.

A value is *active* if it is a float and some differentiable op computes it from an active value;
loop-carried values and branch results are active if any path makes them so (a fixed point over
the whole function). Derivative code is only built for active values: integers, booleans, values
independent of the `wrt` parameters and `stop_gradient` results get none (symbolic zeros).
"""

from __future__ import annotations

from collections.abc import Iterable

from xdsl.dialects import func, scf
from xdsl.ir import Operation, SSAValue

from compiler.passes.autodiff.build import differentiable
from compiler.passes.autodiff.functions import JVP_CALL, LINEAR_CALL
from compiler.passes.autodiff.jvp_rules import zero_derivative
from dialects import ad


def active_values(root: Operation, seeds: Iterable[SSAValue], mirror_tapes: bool = True) -> set[SSAValue]:
    """`mirror_tapes` (forward mode): every tape is active once any active value is pushed on
    one (its tangent tape mirrors it). Otherwise (linear programs) a tape is active only if it
    came from pushing an active value — the tangent tapes, not the primal ones."""
    active: set[SSAValue] = {s for s in seeds if differentiable(s.type)}

    def mark(v: SSAValue) -> bool:
        if v in active or not (differentiable(v.type) or isinstance(v.type, ad.TapeType)):
            return False
        active.add(v)
        return True

    def tapes_active() -> bool:
        """A tape with an active value pushed on it is active everywhere (its tangent is a tape
        mirroring it, so that pops stay matched with pushes): every tape value is marked."""
        if not any(isinstance(o, ad.PushOp) and o.value in active for o in root.walk()):
            return False
        changed = False
        for o in root.walk():
            for v in list(o.results) + [a for r in o.regions for b in r.blocks for a in b.args]:
                if isinstance(v.type, ad.TapeType):
                    changed |= mark(v)
        return changed

    changed = True
    while changed:
        changed = False
        for op in root.walk():
            if isinstance(op, scf.ForOp):
                body = op.body.block
                ys = body.last_op.operands
                for k, (init, arg, res) in enumerate(zip(op.iter_args, body.args[1:], op.results)):
                    if init in active or ys[k] in active or arg in active:
                        changed |= mark(arg) | mark(res)
            elif isinstance(op, scf.IfOp):
                for region in (op.true_region, op.false_region):
                    if region.blocks:
                        for y, r in zip(region.block.last_op.operands, op.results):
                            if y in active:
                                changed |= mark(r)
            elif isinstance(op, scf.WhileOp):
                before, after = op.before_region.block, op.after_region.block
                cond_args = before.last_op.args
                ys = after.last_op.operands
                for k, (init, barg) in enumerate(zip(op.arguments, before.args)):
                    if init in active or ys[k] in active:
                        changed |= mark(barg)
                for k, c in enumerate(cond_args):
                    if c in active:
                        changed |= mark(after.args[k]) | mark(op.results[k])
            elif isinstance(op, (scf.YieldOp, scf.ConditionOp, func.ReturnOp)) or zero_derivative(op):
                continue
            elif JVP_CALL in op.attributes:  # primal results depend on the primal operands only
                n, half = op.attributes[JVP_CALL].value.data, len(op.results) // 2
                if any(o in active for o in op.operands[:n]):
                    for r in op.results[:half]:
                        changed |= mark(r)
                if any(o in active for o in op.operands):
                    for r in op.results[half:]:
                        changed |= mark(r)
            elif LINEAR_CALL in op.attributes:  # the tape it returns is its caller's primal tape
                if any(o in active for o in op.operands):
                    for r in op.results[:-1]:
                        changed |= mark(r)
            elif any(o in active for o in op.operands):
                for r in op.results:
                    changed |= mark(r)
        if mirror_tapes:
            changed |= tapes_active()
    return active
