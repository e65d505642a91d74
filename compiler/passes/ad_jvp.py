"""`ad-jvp`: forward-mode differentiation — build the JVP function of each differentiated callee.

For `ad.jvp @f {wrt}` the pass builds `@f_jvp_<wrt>(primals…, tangents…) -> (results…, result
tangents…)` and replaces the op with a call. The JVP function is `f`'s body (its calls inlined)
where every op is followed by its tangent code from the rule table (autodiff/jvp_rules.py);
values that are not active (autodiff/activity.py) have no tangent code at all (symbolic zeros).
Control flow is differentiated structurally: `scf.for`/`scf.while` carry a tangent next to each
active carried value, `scf.if` yields one next to each active result.

Calls that `loom-inline` would keep (a callee called from several places, larger than `max-ops`
or still making several calls once its own calls are inlined, with no `ad` op inside and not
`@checkpoint`) stay calls: a
kept call with active operands calls the callee's JVP function for those operands, built once
per (callee, active operands), so a call DAG is differentiated in time linear in its size
(tests/filecheck/autodiff_call_dag.loom):

    %0 = func.call @f1(%x) : (f64) -> f64
becomes
    %2, %3 = func.call @f1_jvp(%0, %1) {ad.jvp_call = 1 : i64} : (f64, f64) -> (f64, f64)

For `ad.vjp @f` it builds the same JVP function (the wrt parameters' tangents as inputs) and
retargets the op at it (`form = "jvp"`); `ad-linearize` and `ad-transpose` take it from there.
A derivative op is only processed once its callee contains no derivative ops itself (nested
`grad(grad(f))` is done inside out: `ad-differentiate` repeats the three passes). Derivative ops
of the same function and `wrt` share one JVP function (however many places differentiate it).

Example (`dloss = grad(loss, wrt=w)` with `loss(w, x) = sum(tanh(x * w))`, from
tests/filecheck/autodiff_grad_ir.loom):

    %1, %2 = ad.vjp @loss(%w, %x, %0) {wrt = array<i64: 0>} : (…, f32) -> (f32, tensor<?xf32>)
becomes (reverse mode: the vjp now names the JVP function, for `ad-linearize`)
    %1, %2 = ad.vjp @loss_jvp(%w, %x, %0) {wrt = array<i64: 0>, form = "jvp"} : …
    func.func private @loss_jvp(%0: tensor<?xf32>, %1: tensor<?xf32>, %2: tensor<?xf32>) -> (f32, f32) {
      %3 = loom.mul %1, %0 : (tensor<?xf32>, tensor<?xf32>) -> tensor<?xf32>      (x * w)
      %4 = loom.mul %1, %2 : (tensor<?xf32>, tensor<?xf32>) -> tensor<?xf32>      (x * tw)
      %5 = loom.tanh %3 : (tensor<?xf32>) -> tensor<?xf32>
      %6 = arith.constant 1.000000e+00 : f32
      %7 = loom.mul %5, %5 : (tensor<?xf32>, tensor<?xf32>) -> tensor<?xf32>
      %8 = loom.sub %6, %7 : (f32, tensor<?xf32>) -> tensor<?xf32>
      %9 = loom.mul %4, %8 : (tensor<?xf32>, tensor<?xf32>) -> tensor<?xf32>      (tanh's rule)
      %10 = loom.sum %5 {axes = array<i64: 0>} : (tensor<?xf32>) -> f32
      %11 = loom.sum %9 {axes = array<i64: 0>} : (tensor<?xf32>) -> f32
      func.return %10, %11 : f32, f32
    }
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from xdsl.context import Context
from xdsl.dialects import func, scf
from xdsl.dialects.builtin import IntegerAttr, ModuleOp, StringAttr, i64
from xdsl.ir import Attribute, Block, Operation, Region, SSAValue
from xdsl.passes import ModulePass
from xdsl.pattern_rewriter import GreedyRewritePatternApplier, PatternRewriteWalker
from xdsl.traits import IsTerminator
from xdsl.transforms.canonicalize import CanonicalizationRewritePattern
from xdsl.transforms.common_subexpression_elimination import cse
from xdsl.transforms.dead_code_elimination import region_dce

from compiler.diagnostics import LoomError
from compiler.passes.ad_tape_forwarding import forward_tapes
from compiler.passes.autodiff.activity import active_values
from compiler.passes.autodiff.functions import JVP_CALL, fresh_name, lookup, new_function, replace_derivative
from compiler.passes.autodiff.build import B, differentiable
from compiler.passes.autodiff.jvp_rules import jvp_rule, zero_derivative
from compiler.passes.loom_inline import CHECKPOINT, InlineCall, LoomInline, bottom_up, call_graph, kept_callees
from compiler.passes.loom_merge_calls import merge_calls, pure_functions
from dialects import ad


def has_derivative_ops(module: ModuleOp, f: func.FuncOp, seen: set | None = None) -> bool:
    """Does `f` (or a function it calls) still contain derivative ops?"""
    seen = set() if seen is None else seen
    for o in f.walk():
        if isinstance(o, (ad.JvpOp, ad.VjpOp)):
            return True
        if isinstance(o, func.CallOp) and o.callee.string_value() not in seen:
            seen.add(o.callee.string_value())
            if has_derivative_ops(module, lookup(module, o.callee.string_value()), seen):
                return True
    return False


def kept_calls(module: ModuleOp, max_ops: int) -> tuple[set[str], set[str]]:
    """The callees whose calls differentiation keeps (each gets one JVP function, called): those
    `loom-inline` keeps — called from several places, larger than its `max-ops` or still making
    several calls once their own calls are inlined — that contain no `ad` op at any call depth (derivative code, with its tapes,
    is inlined and simplified before it is differentiated again) and are not `@checkpoint`
    functions (whose ops must be inlined to be tagged). Also returns the pure functions
    (`loom-merge-calls`): two calls of one with the same operands compute the same results."""
    functions = {f.sym_name.data: f for f in module.body.block.ops if isinstance(f, func.FuncOp)}
    calls = call_graph(functions)
    impure: set[str] = set()
    for name in bottom_up(functions, calls):
        if any(o.name.startswith("ad.") for o in functions[name].walk()) or \
                any(c.callee.string_value() in impure for c in calls[name]):
            impure.add(name)
    keep = kept_callees(functions, max_ops, lambda name: name not in impure and
                        CHECKPOINT not in functions[name].attributes)
    return keep, pure_functions(module)


def simplified_copy(ctx: Context, module: ModuleOp, f: func.FuncOp, keep: set[str], pure: set[str]) -> func.FuncOp:
    """A private copy of `f` with every call inlined except those to `keep`, then canonicalized
    and CSE'd (calls of `pure` functions too): differentiation sees one body, as small as it gets (an inner derivative's code is
    simplified before it is differentiated again, instead of each order re-expanding the last
    one's redundancy)."""
    g = f.clone()
    g.sym_name = StringAttr(fresh_name(module, f.sym_name.data + "_inlined"))
    g.sym_visibility = StringAttr("private")
    module.body.block.add_op(g)
    PatternRewriteWalker(InlineCall(keep), apply_recursively=True).rewrite_region(g.body)
    forward_tapes(g)  # an inner derivative's tape, where it is plain dataflow
    canonicalize = GreedyRewritePatternApplier([CanonicalizationRewritePattern()], ctx=ctx, folding_enabled=True)
    PatternRewriteWalker(canonicalize, post_walk_func=region_dce).rewrite_region(g.body)
    cse(g)
    merge_calls(g.body.block, pure)
    g.detach()
    return g


JvpOf = Callable[[str, list[int], Attribute], func.FuncOp]
"""The JVP function of a callee for its active operands (built once per callee and operands)."""


class JvpBuilder:
    """Clones a function body into a new block, adding tangent code after every active op."""

    def __init__(self, active: set[SSAValue], jvp_of: JvpOf):
        self.active = active
        self.jvp_of = jvp_of
        self.vmap: dict[SSAValue, SSAValue] = {}
        self.tmap: dict[SSAValue, SSAValue | None] = {}

    def t(self, v: SSAValue) -> SSAValue | None:
        return self.tmap.get(v)

    def tangent_or_zero(self, b: B, v: SSAValue) -> SSAValue:
        return b.materialize(self.t(v), self.vmap.get(v, v).type)

    def block(self, src: Block, dst: Block) -> Operation:
        """Copy `src`'s ops (not its terminator, which is returned) into `dst` with tangents."""
        for op in src.ops:
            if op is src.last_op and op.has_trait(IsTerminator):
                return op
            if isinstance(op, scf.ForOp):
                self.for_(op, dst)
            elif isinstance(op, scf.IfOp):
                self.if_(op, dst)
            elif isinstance(op, scf.WhileOp):
                self.while_(op, dst)
            else:
                self.simple(op, dst)
        return None  # pragma: no cover - blocks end with a terminator

    def tape(self, op: Operation, new: Operation, dst: Block) -> None:
        """Tapes (from an inner reverse-mode derivative): the tangent of a tape is a tape of the
        tangents of its values, pushed and popped in step with it (forward over reverse)."""
        b = B(op.location)
        if isinstance(op, ad.TapeNewOp):
            self.tmap[op.tape] = b.add(ad.TapeNewOp())
        elif isinstance(op, ad.PushOp):
            tt = b.materialize(self.t(op.tape), op.tape.type)
            tv = b.materialize(self.t(op.value), new.value.type)
            self.tmap[op.result] = b.add(ad.PushOp(tt, tv))
        elif isinstance(op, ad.PopOp):
            tt = b.materialize(self.t(op.tape), op.tape.type)
            pop = ad.PopOp(tt, new.value.type)
            b.add(pop)
            self.tmap[op.result_tape] = pop.result_tape
            if op.value in self.active:
                self.tmap[op.value] = pop.value
        elif isinstance(op, ad.TapeReserveOp):
            self.tmap[op.result] = b.add(ad.TapeReserveOp(b.materialize(self.t(op.tape), op.tape.type), new.bytes))
        elif isinstance(op, ad.TapeFreeOp) and self.t(op.tape) is not None:
            b.add(ad.TapeFreeOp(self.t(op.tape)))
        dst.add_ops(b.ops)

    def call(self, op: func.CallOp, dst: Block) -> None:
        """A kept call with active operands calls the callee's JVP function (for those operands)."""
        act = [k for k, v in enumerate(op.operands) if v in self.active]
        g = self.jvp_of(op.callee.string_value(), act, op.location)
        b = B(op.location)
        args = [self.vmap.get(v, v) for v in op.operands] + [self.tangent_or_zero(b, op.operands[k]) for k in act]
        call = func.CallOp(g.sym_name.data, args, list(g.function_type.outputs))
        call.attributes[JVP_CALL] = IntegerAttr(len(op.operands), i64)
        b.add(call)
        dst.add_ops(b.ops)
        n = len(op.results)
        for k, r in enumerate(op.results):
            self.vmap[r] = call.results[k]
            if r in self.active:
                self.tmap[r] = call.results[n + k]

    def copy(self, op: Operation, dst: Block) -> Operation:
        """`op` (with its regions) in `dst` on the new values, without tangents."""
        new = op.clone(value_mapper=self.vmap)
        dst.add_op(new)
        for old, nv in zip(op.results, new.results):
            self.vmap[old] = nv
        return new

    def primal_block(self, src: Block, dst: Block) -> Operation:
        """Copy `src`'s ops (not its terminator, which is returned) into `dst` without tangents: a
        while loop's condition region, whose values only decide whether the loop goes on (it passes
        its arguments on unchanged), so their tangents would be dead. As in JAX, the condition has
        no derivative: the derivative is that of the iterations the loop runs."""
        for op in src.ops:
            if op is src.last_op and op.has_trait(IsTerminator):
                return op
            self.copy(op, dst)
        return None  # pragma: no cover - blocks end with a terminator

    def simple(self, op: Operation, dst: Block) -> None:
        if isinstance(op, func.CallOp) and any(v in self.active for v in op.operands):
            self.call(op, dst)
            return
        new = self.copy(op, dst)
        if isinstance(op, (ad.TapeNewOp, ad.PushOp, ad.PopOp, ad.TapeReserveOp, ad.TapeFreeOp)):
            if any(v in self.active for v in list(op.operands) + list(op.results)):
                self.tape(op, new, dst)
            return
        tangents = [self.t(o) for o in op.operands]
        if all(t is None for t in tangents) or not any(r in self.active for r in op.results):
            return
        rule = jvp_rule(op)
        if rule is None:
            if zero_derivative(op):
                return
            raise LoomError(f"ad-jvp: no JVP rule for {op.name} (a compiler bug)")
        b = B(op.location)
        outs = rule(b, new, tangents)
        dst.add_ops(b.ops)
        for r, t in zip(op.results, outs):
            if t is not None and r in self.active:
                self.tmap[r] = t

    # ------------------------------------------------------------ control flow
    def _carried(self, values) -> list[int]:
        return [k for k, v in enumerate(values) if v in self.active]

    def yield_(self, term: Operation, dst: Block, act: list[int]) -> None:
        """A region's `scf.yield`, with the tangents of its active values (positions `act`) after."""
        b = B(term.location)
        ys = [self.vmap.get(y, y) for y in term.operands] + [self.tangent_or_zero(b, term.operands[k]) for k in act]
        dst.add_ops(b.ops)
        y = scf.YieldOp(*ys)
        y.location = term.location
        dst.add_op(y)

    def bind_args(self, args, new_args, act: list[int], first: int = 0) -> None:
        """A region's arguments are the new block's first ones; the tangents of the active ones
        (positions `act`, counted from `first`: a for body's induction variable has none) follow."""
        for a, na in zip(args, new_args):
            self.vmap[a] = na
        for j, k in enumerate(act):
            self.tmap[args[first + k]] = new_args[len(args) + j]

    def bind_results(self, op: Operation, new: Operation, act: list[int]) -> None:
        """`op`'s results are `new`'s first results; the tangents of the active ones follow."""
        n = len(op.results)
        for k, r in enumerate(op.results):
            self.vmap[r] = new.results[k]
        for j, k in enumerate(act):
            self.tmap[op.results[k]] = new.results[n + j]

    def for_(self, op: scf.ForOp, dst: Block) -> None:
        body = op.body.block
        act = self._carried(body.args[1:])
        b = B(op.location)
        inits = [self.vmap.get(v, v) for v in op.iter_args] + [self.tangent_or_zero(b, op.iter_args[k]) for k in act]
        dst.add_ops(b.ops)
        nb = Block(arg_types=[a.type for a in body.args] + [body.args[1 + k].type for k in act])
        self.bind_args(body.args, nb.args, act, first=1)
        term = self.block(body, nb)
        self.yield_(term, nb, act)
        lb, ub, st = (self.vmap.get(v, v) for v in (op.lb, op.ub, op.step))
        new = scf.ForOp(lb, ub, st, inits, Region(nb))
        new.location = op.location
        dst.add_op(new)
        self.bind_results(op, new, act)

    def if_(self, op: scf.IfOp, dst: Block) -> None:
        act = self._carried(op.results)
        regions = []
        for region in (op.true_region, op.false_region):
            nb = Block()
            if region.blocks:
                self.yield_(self.block(region.block, nb), nb, act)
            regions.append(Region(nb) if region.blocks else Region())
        types = [r.type for r in op.results] + [op.results[k].type for k in act]
        new = scf.IfOp(self.vmap.get(op.cond, op.cond), types, regions[0], regions[1])
        new.location = op.location
        dst.add_op(new)
        self.bind_results(op, new, act)

    def while_(self, op: scf.WhileOp, dst: Block) -> None:
        before, after = op.before_region.block, op.after_region.block
        act = self._carried(before.args)
        b = B(op.location)
        inits = [self.vmap.get(v, v) for v in op.arguments] + [self.tangent_or_zero(b, op.arguments[k]) for k in act]
        dst.add_ops(b.ops)
        ttypes = [before.args[k].type for k in act]
        nbefore = Block(arg_types=[a.type for a in before.args] + ttypes)
        self.bind_args(before.args, nbefore.args, act)
        cond = self.primal_block(before, nbefore)
        if [self.vmap.get(a, a) for a in cond.args] != list(nbefore.args[:len(before.args)]):
            raise LoomError("ad-jvp: a while loop's condition region must pass its arguments on unchanged "
                            "(a compiler bug)")
        c = scf.ConditionOp(self.vmap.get(cond.condition, cond.condition), *nbefore.args)
        c.location = cond.location
        nbefore.add_op(c)
        nafter = Block(arg_types=[a.type for a in after.args] + ttypes)
        self.bind_args(after.args, nafter.args, act)
        self.yield_(self.block(after, nafter), nafter, act)
        new = scf.WhileOp(inits, [a.type for a in nbefore.args], Region(nbefore), Region(nafter))
        new.location = op.location
        new.attributes.update(op.attributes)  # e.g. loom.bound
        dst.add_op(new)
        self.bind_results(op, new, act)


def build_jvp(ctx: Context, module: ModuleOp, f: func.FuncOp, wrt: list[int], loc,
              calls: tuple[set[str], set[str]], jvp_of: JvpOf) -> func.FuncOp:
    """`@f_jvp(primals…, tangents of wrt…) -> (results…, result tangents…)`; the kept calls
    (`calls`: from `kept_calls`) with active operands call their callees' JVP functions (`jvp_of`)."""
    g = simplified_copy(ctx, module, f, *calls)
    body = g.body.block
    ins = list(g.function_type.inputs)
    outs = list(g.function_type.outputs)
    for k in wrt:
        if not differentiable(ins[k]):
            raise LoomError(f"cannot differentiate with respect to parameter {k} of '{f.sym_name.data}': "
                            f"it is not a float value", None)
    jf, nb = new_function(module, f"{f.sym_name.data}_jvp", ins + [ins[k] for k in wrt], outs + outs, loc)
    builder = JvpBuilder(active_values(g, [body.args[k] for k in wrt]), jvp_of)
    for a, na in zip(body.args, nb.args):
        builder.vmap[a] = na
    for j, k in enumerate(wrt):
        builder.tmap[body.args[k]] = nb.args[len(ins) + j]
    term = builder.block(body, nb)
    b = B(term.location)
    tangents = [builder.tangent_or_zero(b, v) for v in term.operands]
    nb.add_ops(b.ops)
    ret = func.ReturnOp(*([builder.vmap.get(v, v) for v in term.operands] + tangents))
    ret.location = term.location
    nb.add_op(ret)
    return jf


@dataclass(frozen=True)
class AdJvp(ModulePass):
    name = "ad-jvp"

    max_ops: int = LoomInline.max_ops
    """A callee larger than this (once its own calls are inlined), called from several places, is
    differentiated once and called, as `loom-inline` keeps it."""

    def apply(self, ctx: Context, op: ModuleOp) -> None:
        built: dict[tuple[str, tuple[int, ...]], func.FuncOp] = {}  # one JVP function per (callee, wrt)
        calls = kept_calls(op, self.max_ops)

        def jvp_of(name: str, wrt: list[int], loc: Attribute) -> func.FuncOp:
            if (name, tuple(wrt)) not in built:
                built[name, tuple(wrt)] = build_jvp(ctx, op, lookup(op, name), wrt, loc, calls, jvp_of)
            return built[name, tuple(wrt)]

        for d in [o for o in op.walk() if isinstance(o, (ad.JvpOp, ad.VjpOp))]:
            if isinstance(d, ad.VjpOp) and d.form_name() != "primal":
                continue
            f = lookup(op, d.callee.string_value())
            if has_derivative_ops(op, f):
                continue  # nested derivative: its inner ops go first (ad-differentiate repeats)
            jf = jvp_of(f.sym_name.data, d.wrt_list(), d.location)
            if isinstance(d, ad.JvpOp):
                call = func.CallOp(jf.sym_name.data, list(d.args), [r.type for r in d.outs])
            else:
                call = ad.VjpOp(jf.sym_name.data, d.wrt_list(), list(d.args), [r.type for r in d.outs], form="jvp")
            replace_derivative(d, [call], list(call.results))
