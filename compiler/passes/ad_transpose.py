"""`ad-transpose`: reverse a linear program — reverse mode is linearize + transpose (JAX, Dex).

For `ad.vjp @h {form = "linear"}` (h from `ad-linearize`: tape and tangents in, result tangents
out) the pass builds `@h_t(tape, result cotangents…) -> (cotangents of the tangent inputs…)` and
replaces the op with a call. Each block of `h` is transposed into a block that first pops its
residuals (as `h` does), then visits the linear ops in reverse order, turning the cotangent of
each result into cotangents of its linear operands with the op's transpose rule
(autodiff/transpose_rules.py) and adding up the contributions to each value.

- a linear `scf.for` becomes a loop over the same number of iterations carrying the cotangents of
  the loop's carried values (and accumulating those of linear values from outside the loop); its
  iterations run in reverse because each pops the residuals of the matching primal iteration;
- a linear `scf.if` becomes an `if` on the same (taped) condition whose branches yield the
  cotangents of the outside values they use;
- a linear call (`ad.linear_call`, from ad-linearize) `@h(tape, tangents…) -> (result tangents…,
  tape)` becomes a call of its transpose `@h_t(tape, cotangents…) -> (cotangents…, tape)`, which
  pops the callee's residuals where the reversed program reaches it and hands the tape on (only
  the entry's transpose frees it):
      %16, %17 = func.call @f1_lin_t(%4, %10) : (!ad.tape, f64) -> (f64, !ad.tape)

Example (`@loss_lin` of the `ad-linearize` example, `loss(w, x) = sum(tanh(x * w))`):

    %3 = ad.vjp @loss_lin(%2, %0) {wrt = array<i64: 0>, form = "linear"} : (!ad.tape, f32) -> tensor<?xf32>
    func.func private @loss_lin(%0: !ad.tape, %1: tensor<?xf32>) -> f32 {
      %2, %3 = ad.pop %0 : tensor<?xf32>
      %4, %5 = ad.pop %2 : tensor<?xf32>
      %6 = loom.mul %5, %1 : …
      %7 = loom.mul %6, %3 : …
      %8 = loom.sum %7 {axes = array<i64: 0>} : (tensor<?xf32>) -> f32
      func.return %8 : f32
    }
becomes (sum transposes to a broadcast, a mul by a residual to a mul guarded so that a zero
cotangent stays 0 against an infinite residual)
    %3 = func.call @loss_lin_t(%2, %0) : (!ad.tape, f32) -> tensor<?xf32>
    func.func private @loss_lin_t(%0: !ad.tape, %1: f32) -> tensor<?xf32> {
      %2, %3 = ad.pop %0 : tensor<?xf32>
      %4, %5 = ad.pop %2 : tensor<?xf32>
      %6 = loom.reshape %1 : (f32) -> tensor<1xf32>
      %7 = loom.broadcast_to %6 : (tensor<1xf32>) -> tensor<?xf32>
      %8 = loom.mul %7, %3 : (tensor<?xf32>, tensor<?xf32>) -> tensor<?xf32>
      %9 = arith.constant 0.000000e+00 : f32
      %10 = loom.cmp "eq", %7, %9 : (tensor<?xf32>, f32) -> tensor<?xi1>
      …
      %12 = loom.select %10, %11, %8 : (tensor<?xi1>, f32, tensor<?xf32>) -> tensor<?xf32>
      %13 = loom.mul %12, %5 : (tensor<?xf32>, tensor<?xf32>) -> tensor<?xf32>
      …                                                                           (same guard)
      ad.tape_free %4
      func.return %17 : tensor<?xf32>
    }
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from xdsl.context import Context
from xdsl.dialects import func, scf
from xdsl.dialects.builtin import ModuleOp
from xdsl.ir import Block, Operation, Region, SSAValue
from xdsl.passes import ModulePass
from xdsl.traits import IsTerminator

from compiler.diagnostics import LoomError
from compiler.passes.autodiff.functions import COUNT, LINEAR_CALL, lookup, new_function, replace_derivative
from compiler.passes.autodiff.activity import active_values
from compiler.passes.autodiff.build import B
from compiler.passes.autodiff.transpose_rules import transpose_rule
from dialects import ad


def outside_linear_uses(op: Operation, linear: set[SSAValue]) -> list[SSAValue]:
    """Linear values defined outside `op` that its regions read."""
    inside = {r for o in op.walk() for r in o.results} | \
             {a for o in op.walk() for reg in o.regions for blk in reg.blocks for a in blk.args}
    seen: dict[SSAValue, None] = {}
    for o in op.walk():
        if o is op:
            continue
        for v in o.operands:
            if v in linear and v not in inside:
                seen[v] = None
    return list(seen)


TransposeOf = Callable[[str], func.FuncOp]
"""The transpose of a called tape-passing linear function (built once per function)."""


class Transposer:
    def __init__(self, linear: set[SSAValue], transpose_of: TransposeOf):
        self.linear = linear
        self.transpose_of = transpose_of
        self.pmap: dict[SSAValue, SSAValue] = {}  # primal values (pops, constants) → transposed copies
        self.ct: dict[SSAValue, SSAValue] = {}

    def accumulate(self, b: B, v: SSAValue, c: SSAValue | None) -> None:
        if c is None or v not in self.linear:
            return
        if isinstance(v.type, ad.TapeType):  # a tape's cotangent is a tape (used once, never summed)
            self.ct[v] = c
            return
        self.ct[v] = b.add_(self.ct.get(v), c)

    def block(self, src: Block, dst: Block, tape: SSAValue) -> SSAValue:
        """Transpose `src`'s ops (cotangents of its terminator's operands already in self.ct)."""
        ops = [o for o in src.ops if not o.has_trait(IsTerminator)]
        rest = []
        for o in ops:  # the residual pops and constants that open the block
            residual_pop = isinstance(o, ad.PopOp) and COUNT not in o.attributes and o.tape not in self.linear
            if residual_pop or not self.is_linear(o) and not isinstance(o, ad.PopOp):
                tape = self.primal(o, dst, tape)
            else:
                rest.append(o)
        for o in reversed(rest):
            if isinstance(o, ad.PopOp) and o.tape not in self.linear:
                continue  # a trip-count pop: emitted with its loop
            if isinstance(o, scf.ForOp):
                tape = self.for_(o, dst, tape)
            elif isinstance(o, scf.IfOp):
                tape = self.if_(o, dst, tape)
            elif LINEAR_CALL in o.attributes:
                tape = self.call(o, dst, tape)
            else:
                self.simple(o, dst)
        return tape

    def is_linear(self, op: Operation) -> bool:
        """Reads or makes a linear value (a branch or loop: in its regions too, even when all it
        makes there is dead, e.g. a branch slicing a tangent it never uses)."""
        return any(v in self.linear for o in op.walk() for v in o.operands) or \
            any(r in self.linear for r in op.results)

    def primal(self, o: Operation, dst: Block, tape: SSAValue) -> SSAValue:
        if isinstance(o, ad.PopOp):
            new = ad.PopOp(tape, o.value.type)
            new.attributes.update(o.attributes)
            new.location = o.location
            dst.add_op(new)
            self.pmap[o.value] = new.value
            return new.result_tape
        new = o.clone(value_mapper=self.pmap)
        dst.add_op(new)
        for a, b in zip(o.results, new.results):
            self.pmap[a] = b
        return tape

    def tape_op(self, o: Operation, dst: Block) -> None:
        """Tangent tapes (reverse over reverse): a linear program that pushes and pops tangents on
        a tape transposes to one that pops and pushes their cotangents on a cotangent tape, in
        reverse order — push and pop swap roles, and freeing a tape becomes making one."""
        b = B(o.location)
        if isinstance(o, ad.TapeFreeOp):
            self.ct[o.tape] = b.add(ad.TapeNewOp())
        elif isinstance(o, ad.TapeReserveOp):  # only a hint: the cotangent passes through
            self.ct[o.tape] = b.materialize(self.ct.get(o.result), o.result.type)
        elif isinstance(o, ad.PopOp):
            ct_tape = b.materialize(self.ct.get(o.result_tape), o.result_tape.type)
            ct_val = b.materialize(self.ct.get(o.value), o.value.type)
            self.ct[o.tape] = b.add(ad.PushOp(ct_tape, ct_val))
        else:  # push
            ct_tape = b.materialize(self.ct.get(o.result), o.result.type)
            pop = ad.PopOp(ct_tape, o.value.type)
            b.add(pop)
            if o.tape in self.linear:
                self.ct[o.tape] = pop.result_tape
            else:
                b.add(ad.TapeFreeOp(pop.result_tape))  # back at the fresh tangent tape: empty
            if o.value in self.linear:
                self.accumulate(b, o.value, pop.value)
        dst.add_ops(b.ops)

    def simple(self, o: Operation, dst: Block) -> None:
        if isinstance(o, (ad.PushOp, ad.PopOp, ad.TapeReserveOp, ad.TapeFreeOp)):
            self.tape_op(o, dst)
            return
        cts = [self.ct.get(r) for r in o.results]
        if all(c is None for c in cts):
            return
        rule = transpose_rule(o)
        if rule is None:
            raise LoomError(f"ad-transpose: no transpose rule for {o.name} (a compiler bug)")
        b = B(o.location)
        shadow = o.clone(value_mapper=self.pmap)  # the op with primal operands mapped (not inserted)
        lin = [v in self.linear for v in o.operands]
        outs = rule(b, shadow, cts[0], lin)
        dst.add_ops(b.ops)
        for v, c in zip(o.operands, outs):
            if c is not None and v in self.linear:
                bb = B(o.location)
                self.ct[v] = bb.add_(self.ct.get(v), c)
                dst.add_ops(bb.ops)
        shadow.erase(safe_erase=False)

    def call(self, o: func.CallOp, dst: Block, tape: SSAValue) -> SSAValue:
        """`@g_lin(tape, tangents…) -> (result tangents…, tape)` transposes to `@g_lin_t(tape,
        result cotangents…) -> (cotangents of the tangents…, tape)`: it pops the callee's
        residuals from this tape, at the point where the reversed program reaches the call."""
        g = self.transpose_of(o.callee.string_value())
        b = B(o.location)
        cts = [b.materialize(self.ct.get(r), r.type) for r in o.results[:-1]]
        call = b.add(func.CallOp(g.sym_name.data, [tape] + cts, list(g.function_type.outputs))).owner
        for v, c in zip(o.operands[1:], call.results[:-1]):
            self.accumulate(b, v, c)
        dst.add_ops(b.ops)
        return call.results[-1]

    def for_(self, o: scf.ForOp, dst: Block, tape: SSAValue) -> SSAValue:
        body = o.body.block
        n = len(o.iter_args) - 1  # the last carried value is the tape
        b = B(o.location)
        if isinstance(o.ub.owner, ad.PopOp) and COUNT in o.ub.owner.attributes:
            tape = self.primal(o.ub.owner, dst, tape)  # a while loop's trip count, taped after it
        outside = outside_linear_uses(o, self.linear)
        inits = [b.materialize(self.ct.get(r), r.type) for r in o.results[:n]] + [tape] + \
                [b.zeros(v.type) for v in outside]
        dst.add_ops(b.ops)
        nb = Block(arg_types=[body.args[0].type] + [v.type for v in inits])
        saved = self.ct
        self.ct = {}
        term = body.last_op
        bb = B(o.location)
        for k in range(n):
            self.accumulate(bb, term.operands[k], nb.args[1 + k])
        nb.add_ops(bb.ops)
        t = self.block(body, nb, nb.args[1 + n])
        bb = B(o.location)
        ys = [bb.materialize(self.ct.get(a), a.type) for a in body.args[1:1 + n]] + [t] + \
             [bb.add_(acc, self.ct.get(v)) if self.ct.get(v) is not None else acc
              for acc, v in zip(nb.args[2 + n:], outside)]
        nb.add_ops(bb.ops)
        nb.add_op(scf.YieldOp(*ys))
        self.ct = saved
        new = scf.ForOp(self.pmap[o.lb], self.pmap[o.ub], self.pmap[o.step], inits, Region(nb))
        new.location = o.location
        dst.add_op(new)
        bb = B(o.location)
        for k in range(n):
            self.accumulate(bb, o.iter_args[k], new.results[k])
        for v, r in zip(outside, new.results[n + 1:]):
            self.accumulate(bb, v, r)
        dst.add_ops(bb.ops)
        return new.results[n]

    def if_(self, o: scf.IfOp, dst: Block, tape: SSAValue) -> SSAValue:
        n = len(o.results) - 1
        outside = outside_linear_uses(o, self.linear)
        regions = []
        for region in (o.true_region, o.false_region):
            nb = Block()
            saved = self.ct
            self.ct = {}
            t = tape
            if region.blocks:
                term = region.block.last_op
                bb = B(o.location)
                for k in range(n):
                    self.accumulate(bb, term.operands[k], saved.get(o.results[k]))
                nb.add_ops(bb.ops)
                t = self.block(region.block, nb, tape)
            bb = B(o.location)
            ys = [bb.materialize(self.ct.get(v), v.type) for v in outside] + [t]
            nb.add_ops(bb.ops)
            nb.add_op(scf.YieldOp(*ys))
            self.ct = saved
            regions.append(Region(nb))
        new = scf.IfOp(self.pmap[o.cond], [v.type for v in outside] + [tape.type], regions[0], regions[1])
        new.location = o.location
        dst.add_op(new)
        bb = B(o.location)
        for v, r in zip(outside, new.results):
            self.accumulate(bb, v, r)
        dst.add_ops(bb.ops)
        return new.results[-1]


def transpose(module: ModuleOp, h: func.FuncOp, loc, transpose_of: TransposeOf, threaded: bool = False) -> func.FuncOp:
    """`@h_t(tape, result cotangents…) -> (cotangents of the tangents…)`, which frees the tape;
    `threaded` (`@h(tape, tangents…) -> (result tangents…, tape)`, a called linear function):
    `@h_t(tape, result cotangents…) -> (cotangents…, tape)`, which returns it."""
    body = h.body.block
    ins = list(h.function_type.inputs)
    outs = list(h.function_type.outputs)
    if threaded:
        outs = outs[:-1]
    tangents = list(body.args[1:])
    tr = Transposer(active_values(h, tangents, mirror_tapes=False), transpose_of)
    ht, nb = new_function(module, h.sym_name.data + "_t", [ins[0]] + outs, ins[1:] + ins[:1] * threaded, loc)
    ret = body.last_op
    b = B(ret.location)
    for v, c in zip(ret.operands[:len(outs)], nb.args[1:]):
        tr.accumulate(b, v, c)
    nb.add_ops(b.ops)
    tape = tr.block(body, nb, nb.args[0])
    if not threaded:
        free = ad.TapeFreeOp(tape)
        free.location = ret.location
        nb.add_op(free)
    b = B(ret.location)
    grads = [b.materialize(tr.ct.get(a), a.type) for a in tangents]
    nb.add_ops(b.ops)
    r = func.ReturnOp(*(grads + [tape] * threaded))
    r.location = ret.location
    nb.add_op(r)
    return ht


@dataclass(frozen=True)
class AdTranspose(ModulePass):
    name = "ad-transpose"

    def apply(self, ctx: Context, op: ModuleOp) -> None:
        built: dict[str, func.FuncOp] = {}  # one transpose per linear function

        def transpose_of(name: str, loc=None, threaded: bool = True) -> func.FuncOp:
            if name not in built:
                h = lookup(op, name)
                built[name] = transpose(op, h, loc or h.location, transpose_of, threaded)
            return built[name]

        for d in [o for o in op.walk() if isinstance(o, ad.VjpOp) and o.form_name() == "linear"]:
            ht = transpose_of(d.callee.string_value(), d.location, threaded=False)
            call = func.CallOp(ht.sym_name.data, list(d.args), [r.type for r in d.outs])
            replace_derivative(d, [call], list(call.results))
