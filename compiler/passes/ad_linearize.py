"""`ad-linearize`: partial evaluation of a JVP function into a primal and a linear program.

For `ad.vjp @g {form = "jvp"}` (g from `ad-jvp`: primals and tangents in, results and result
tangents out) the ops of `g` are split by whether they depend on the tangent inputs:

- `@g_fwd(primals…) -> (results…, tape)`: the primal ops. The primal values the linear ops need
  (*residuals*) are pushed on a tape: at the end of the block that defines them (the function
  body, a loop body per iteration, a branch), so nested blocks push first;
- `@g_lin(tape, tangents…) -> (result tangents…)`: the linear ops (every one has a transpose rule);
  each block starts by popping its residuals (constants are recomputed instead). It is linear in
  the tangents — and only ever run transposed, so its pops are in reverse order already.

Control flow splits in two: a loop becomes a primal loop (carrying the tape) and a linear loop
over the same iterations; a `while` loop counts its iterations (the count is pushed after the
loop, the linear loop is an `scf.for` over it — so loops without a bound work, the tape grows as
needed); an `if` becomes a primal and a linear `if` on the same condition. The derivative op
becomes a call of `@g_fwd` and `ad.vjp @g_lin {form = "linear"}` on the tape. A call of a callee's
JVP function (`ad.jvp_call`, kept by ad-jvp) splits into calls of that function's halves, which
take and return this program's tape (`@h_fwd` pushes the callee's residuals on it, `@h_lin` pops):

    %2, %3 = func.call @f1_jvp(%0, %1) {ad.jvp_call = 1 : i64} : (f64, f64) -> (f64, f64)
becomes, in the primal and in the linear program,
    %2, %3 = func.call @f1_fwd(%0, %1) : (f64, !ad.tape) -> (f64, !ad.tape)
    %6, %7 = func.call @f1_lin(%4, %1) {ad.linear_call} : (!ad.tape, f64) -> (f64, !ad.tape)

Example (`@loss_jvp` of the `ad-jvp` example, `loss(w, x) = sum(tanh(x * w))`):

    %1, %2 = ad.vjp @loss_jvp(%w, %x, %0) {wrt = array<i64: 0>, form = "jvp"} : …
becomes
    %1, %2 = func.call @loss_fwd(%w, %x) : (tensor<?xf32>, tensor<?xf32>) -> (f32, !ad.tape)
    %3 = ad.vjp @loss_lin(%2, %0) {wrt = array<i64: 0>, form = "linear"} : (!ad.tape, f32) -> tensor<?xf32>
    func.func private @loss_fwd(%0: tensor<?xf32>, %1: tensor<?xf32>) -> (f32, !ad.tape) {
      %2 = ad.tape_new
      %3 = loom.mul %1, %0 : …
      %4 = loom.tanh %3 : …
      …
      %7 = loom.sub %5, %6 : (f32, tensor<?xf32>) -> tensor<?xf32>                (1 - tanh²)
      %8 = loom.sum %4 {axes = array<i64: 0>} : (tensor<?xf32>) -> f32
      %9 = ad.push %2, %1 : tensor<?xf32>                                         (x)
      %10 = ad.push %9, %7 : tensor<?xf32>
      func.return %8, %10 : f32, !ad.tape
    }
    func.func private @loss_lin(%0: !ad.tape, %1: tensor<?xf32>) -> f32 {
      %2, %3 = ad.pop %0 : tensor<?xf32>
      %4, %5 = ad.pop %2 : tensor<?xf32>
      %6 = loom.mul %5, %1 : (tensor<?xf32>, tensor<?xf32>) -> tensor<?xf32>
      %7 = loom.mul %6, %3 : (tensor<?xf32>, tensor<?xf32>) -> tensor<?xf32>
      %8 = loom.sum %7 {axes = array<i64: 0>} : (tensor<?xf32>) -> f32
      func.return %8 : f32
    }
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from xdsl.context import Context
from xdsl.dialects import arith, func, scf
from xdsl.dialects.builtin import ModuleOp, UnitAttr, i64
from xdsl.ir import Block, Operation, Region, SSAValue
from xdsl.passes import ModulePass
from xdsl.traits import IsTerminator

from compiler.passes.autodiff.functions import COUNT, JVP_CALL, LINEAR_CALL, lookup, new_function, replace_derivative
from compiler.passes.autodiff.activity import active_values
from compiler.passes.autodiff.build import B
from compiler.passes.llvm_types import nbytes
from compiler.passes.loom_inline import CHECKPOINT  # tags the ops inlined from @checkpoint functions
from dialects import ad, loom



def defined_in(v: SSAValue, block: Block) -> bool:
    owner = v.owner
    return owner is block if isinstance(owner, Block) else owner.parent_block() is block


def made_at(v: SSAValue):
    """The source location of what made `v` (for a block argument: the op holding the block), where
    the push and the pop of `v` report their run-time errors (out of memory)."""
    owner = v.owner
    return (owner.parent_op() if isinstance(owner, Block) else owner).location


def remat(v: SSAValue) -> bool:
    """Constants are recomputed in the linear program rather than taped."""
    o = v.owner
    if isinstance(o, (arith.ConstantOp, ad.TapeNewOp)):  # (a fresh tangent tape, in reverse over reverse)
        return True
    if isinstance(o, ad.TapeReserveOp):  # a hint on a fresh tape: the fresh tape will do
        return remat(o.tape)
    return isinstance(o, loom.FullOp) and isinstance(o.value.owner, arith.ConstantOp)


SplitOf = Callable[[str, int], tuple[func.FuncOp, func.FuncOp]]
"""The tape-passing halves (`_fwd`, `_lin`) of a called JVP function with that many primal inputs."""


class Splitter:
    def __init__(self, linear: set[SSAValue], split_of: SplitOf):
        self.linear = linear
        self.split_of = split_of
        self.fmap: dict[SSAValue, SSAValue] = {}
        self.lmap: dict[SSAValue, SSAValue] = {}

    def is_linear(self, op: Operation) -> bool:
        return any(v in self.linear for v in op.operands) or any(r in self.linear for r in op.results) or \
            any(self.is_linear(o) for r in op.regions for b in r.blocks for o in b.ops)

    def linear_uses(self, op: Operation) -> list[SSAValue]:
        """Primal values the linear part of `op` reads (at any depth; nested blocks' own values
        are filtered out by the caller)."""
        if JVP_CALL in op.attributes:  # its linear half takes the tangent operands only
            return [v for v in op.operands[op.attributes[JVP_CALL].value.data:] if v not in self.linear]
        if not op.regions:
            return [v for v in op.operands if v not in self.linear]
        out: list[SSAValue] = []
        if isinstance(op, scf.ForOp):
            out += [op.lb, op.ub, op.step] + [v for v, a in zip(op.iter_args, op.body.block.args[1:]) if a in self.linear]
        elif isinstance(op, scf.IfOp):
            out.append(op.cond)
        elif isinstance(op, scf.WhileOp):
            out += [v for v, a in zip(op.arguments, op.before_region.block.args) if a in self.linear]
        out = [v for v in out if v not in self.linear]
        for region in op.regions:
            for block in region.blocks:
                for inner in block.ops:
                    if self.is_linear(inner):
                        out += self.linear_uses(inner)
        return out

    def residuals(self, src: Block, lin_k: list[int]) -> list[SSAValue]:
        """Primal values defined in `src` that its linear part reads (incl. its terminator's
        operands at the linear positions `lin_k`), in definition order."""
        seen: dict[SSAValue, None] = {}
        uses = []
        for op in src.ops:
            if op.has_trait(IsTerminator):
                uses += [op.operands[k] for k in lin_k if op.operands[k] not in self.linear]
            elif self.is_linear(op):
                uses += self.linear_uses(op)
        for v in uses:
            if defined_in(v, src) and (not isinstance(v.type, ad.TapeType) or remat(v)):
                seen[v] = None
        order = {v: i for i, v in enumerate(list(src.args) + [r for o in src.ops for r in o.results])}
        return sorted(seen, key=lambda v: order[v])

    def rematerialize(self, v: SSAValue, ldst: Block) -> None:
        """Recompute a constant (or a fresh tape) in the linear program instead of taping it."""
        if v in self.lmap:
            return
        o = v.owner
        if isinstance(o, ad.TapeReserveOp):
            self.rematerialize(o.tape, ldst)
            self.lmap[v] = self.lmap[o.tape]
            return
        if isinstance(o, loom.FullOp):
            self.clone(o.value.owner, ldst, self.lmap)
        self.clone(o, ldst, self.lmap)

    def clone(self, op: Operation, dst: Block, vmap: dict) -> None:
        new = op.clone(value_mapper=vmap)
        dst.add_op(new)
        for a, b in zip(op.results, new.results):
            vmap[a] = b

    def recompute(self, res: list[SSAValue], src: Block) -> tuple[list[SSAValue], list[Operation], list[SSAValue]]:
        """`@checkpoint`: a residual made by an op from a checkpointed function (tagged by the
        inliner) is recomputed in the linear program from that op's own inputs instead of being
        taped. Returns the residuals still taped, the ops to recompute, in order, and the constants
        to rematerialize (the residuals' and the recomputed ops' operands': `sum(full(…))`)."""
        taped: dict[SSAValue, None] = {}
        again: dict[Operation, None] = {}
        remats: dict[SSAValue, None] = {}

        def need(v: SSAValue) -> None:
            o = v.owner
            if remat(v):
                remats[v] = None
            elif isinstance(o, Operation) and CHECKPOINT in o.attributes and not o.regions \
                    and o.parent_block() is src:
                for x in o.operands:
                    if x not in self.linear:
                        need(x)
                again[o] = None
            else:
                taped[v] = None

        for v in res:
            need(v)
        order = {o: i for i, o in enumerate(src.ops)}
        return list(taped), sorted(again, key=lambda o: order[o]), list(remats)

    def split(self, src: Block, fdst: Block, ldst: Block, ftape: SSAValue, ltape: SSAValue, lin_k: list[int]):
        """Split `src` (without its terminator, whose operands at `lin_k` are linear results)
        into `fdst`/`ldst`; returns the tapes after it."""
        res, again, remats = self.recompute(self.residuals(src, lin_k), src)
        order = {v: i for i, v in enumerate(list(src.args) + [r for o in src.ops for r in o.results])}
        res = sorted(set(res), key=lambda v: order.get(v, -1))  # values from outside the block first
        for v in remats:
            self.rematerialize(v, ldst)
        for v in reversed(res):
            pop = ad.PopOp(ltape, v.type)
            pop.location = made_at(v)  # (a pop allocates: running out of memory is reported there)
            ldst.add_op(pop)
            ltape, self.lmap[v] = pop.result_tape, pop.value
        for o in again:  # @checkpoint: recomputed, not taped
            self.clone(o, ldst, self.lmap)
        for op in src.ops:
            if op.has_trait(IsTerminator):
                break
            if not self.is_linear(op):
                self.clone(op, fdst, self.fmap)
            elif isinstance(op, scf.ForOp):
                ftape, ltape = self.for_(op, fdst, ldst, ftape, ltape)
            elif isinstance(op, scf.IfOp):
                ftape, ltape = self.if_(op, fdst, ldst, ftape, ltape)
            elif isinstance(op, scf.WhileOp):
                ftape, ltape = self.while_(op, fdst, ldst, ftape, ltape)
            elif JVP_CALL in op.attributes:
                ftape, ltape = self.call(op, fdst, ldst, ftape, ltape)
            else:
                self.clone(op, ldst, self.lmap)
        for v in res:
            push = ad.PushOp(ftape, self.fmap.get(v, v))
            push.location = made_at(v)
            fdst.add_op(push)
            ftape = push.result
        return ftape, ltape

    def call(self, op: func.CallOp, fdst: Block, ldst: Block, ftape, ltape):
        """A call of a JVP function splits into calls of its halves: `@g_fwd(primals…, tape) ->
        (results…, tape)` pushes the callee's residuals on this tape, `@g_lin(tape, tangents…) ->
        (result tangents…, tape)` pops them (and is only ever run transposed, like this program)."""
        n, half = op.attributes[JVP_CALL].value.data, len(op.results) // 2
        fwd, lin = self.split_of(op.callee.string_value(), n)
        fcall = func.CallOp(fwd.sym_name.data, [self.fmap.get(v, v) for v in op.operands[:n]] + [ftape],
                            list(fwd.function_type.outputs))
        lcall = func.CallOp(lin.sym_name.data, [ltape] + [self.lmap.get(v, v) for v in op.operands[n:]],
                            list(lin.function_type.outputs))
        lcall.attributes[LINEAR_CALL] = UnitAttr()
        fcall.location = lcall.location = op.location
        fdst.add_op(fcall)
        ldst.add_op(lcall)
        for k in range(half):
            self.fmap[op.results[k]] = fcall.results[k]
            self.lmap[op.results[half + k]] = lcall.results[k]
        return fcall.results[-1], lcall.results[-1]

    def _terminate(self, src: Block, fdst: Block, ldst: Block, ftape, ltape, lin_k, pri_k, extra_f=()):
        t = src.last_op
        fy = scf.YieldOp(*([self.fmap.get(t.operands[k], t.operands[k]) for k in pri_k] + list(extra_f) + [ftape]))
        ly = scf.YieldOp(*([self.lmap.get(t.operands[k], t.operands[k]) for k in lin_k] + [ltape]))
        fy.location = ly.location = t.location
        fdst.add_op(fy)
        ldst.add_op(ly)

    def for_(self, op: scf.ForOp, fdst: Block, ldst: Block, ftape, ltape):
        body = op.body.block
        lin_k = [k for k, a in enumerate(body.args[1:]) if a in self.linear]
        pri_k = [k for k in range(len(op.iter_args)) if k not in lin_k]
        fb = Block(arg_types=[body.args[0].type] + [body.args[1 + k].type for k in pri_k] + [ad.TapeType()])
        lb = Block(arg_types=[body.args[0].type] + [body.args[1 + k].type for k in lin_k] + [ad.TapeType()])
        self.fmap[body.args[0]] = fb.args[0]
        for j, k in enumerate(pri_k):
            self.fmap[body.args[1 + k]] = fb.args[1 + j]
        for j, k in enumerate(lin_k):
            self.lmap[body.args[1 + k]] = lb.args[1 + j]
        ft, lt = self.split(body, fb, lb, fb.args[-1], lb.args[-1], lin_k)
        self._terminate(body, fb, lb, ft, lt, lin_k, pri_k)
        f = self.fmap
        lb_, ub_, step_ = f.get(op.lb, op.lb), f.get(op.ub, op.ub), f.get(op.step, op.step)
        ftape = self.reserve(fdst, fb, lb_, ub_, step_, ftape, op)
        fop = scf.ForOp(lb_, ub_, step_, [f.get(op.iter_args[k], op.iter_args[k]) for k in pri_k] + [ftape],
                        Region(fb))
        m = self.lmap
        lop = scf.ForOp(m[op.lb], m[op.ub], m[op.step],
                        [m.get(op.iter_args[k], op.iter_args[k]) for k in lin_k] + [ltape], Region(lb))
        return self.place(op, fop, lop, fdst, ldst, pri_k, lin_k)

    @staticmethod
    def reserve(fdst: Block, body: Block, lb, ub, step, ftape, op, trips: int | None = None) -> SSAValue:
        """Preallocate the tape for the values a loop body pushes per iteration, times its trip
        count — of a `for`, from its bounds; of a `while … bound K`, K (pushes of nested loops
        still grow the tape as they go)."""
        pushed = [o.value.type for o in body.ops if isinstance(o, ad.PushOp)]
        if any(d < 0 for t in pushed for d in loom.shape_of(t) or ()):
            return ftape  # sizes unknown here (generic IR): let the tape grow
        per_iter = sum(nbytes(t) for t in pushed)
        if not per_iter or (trips is None and lb.type != i64):
            return ftape
        b = B(op.location)
        if trips is not None:
            size = b.const(trips * per_iter, i64)
        else:
            one, zero = b.const(1, i64), b.const(0, i64)
            span = b.add(loom.SubOp(b.add(loom.AddOp(b.add(loom.SubOp(ub, lb, i64)), step, i64)), one, i64))
            count = b.add(loom.MaximumOp(b.add(loom.FloorDivOp(span, step, i64)), zero, i64))
            size = b.add(loom.MulOp(count, b.const(per_iter, i64), i64))
        fdst.add_ops(b.ops)
        res = ad.TapeReserveOp(ftape, size)
        res.location = op.location
        fdst.add_op(res)
        return res.result

    def place(self, op, fop, lop, fdst: Block, ldst: Block, pri_k: list[int], lin_k: list[int]):
        """Add the primal and linear halves of `op`; its results at `pri_k`/`lin_k` come from them
        (each half carries the tape last). Returns the two tapes after it."""
        fop.location = lop.location = op.location
        fdst.add_op(fop)
        ldst.add_op(lop)
        for j, k in enumerate(pri_k):
            self.fmap[op.results[k]] = fop.results[j]
        for j, k in enumerate(lin_k):
            self.lmap[op.results[k]] = lop.results[j]
        return fop.results[-1], lop.results[-1]

    def if_(self, op: scf.IfOp, fdst: Block, ldst: Block, ftape, ltape):
        lin_k = [k for k, r in enumerate(op.results) if r in self.linear]
        pri_k = [k for k in range(len(op.results)) if k not in lin_k]
        fregions, lregions = [], []
        for region in (op.true_region, op.false_region):
            fb, lb = Block(), Block()
            if region.blocks:
                ft, lt = self.split(region.block, fb, lb, ftape, ltape, lin_k)
                self._terminate(region.block, fb, lb, ft, lt, lin_k, pri_k)
            else:
                fb.add_op(scf.YieldOp(ftape))
                lb.add_op(scf.YieldOp(ltape))
            fregions.append(Region(fb))
            lregions.append(Region(lb))
        fop = scf.IfOp(self.fmap.get(op.cond, op.cond), [op.results[k].type for k in pri_k] + [ad.TapeType()], *fregions)
        lop = scf.IfOp(self.lmap[op.cond], [op.results[k].type for k in lin_k] + [ad.TapeType()], *lregions)
        return self.place(op, fop, lop, fdst, ldst, pri_k, lin_k)

    def while_(self, op: scf.WhileOp, fdst: Block, ldst: Block, ftape, ltape):
        """Primal: the while loop, carrying the tape and counting its trips. Linear: a for loop over
        the trip count (pushed after the primal loop, popped before the linear one)."""
        before, after = op.before_region.block, op.after_region.block
        lin_k = [k for k, a in enumerate(after.args) if a in self.linear]
        pri_k = [k for k in range(len(op.arguments)) if k not in lin_k]
        types = [before.args[k].type for k in pri_k] + [i64, ad.TapeType()]
        fbefore = Block(arg_types=types)
        for j, k in enumerate(pri_k):
            self.fmap[before.args[k]] = fbefore.args[j]
        for o in before.ops:
            if o.has_trait(IsTerminator):
                c = scf.ConditionOp(self.fmap.get(o.condition, o.condition), *fbefore.args)
                c.location = o.location
                fbefore.add_op(c)
            elif not self.is_linear(o):  # tangents computed here are not passed on (dead)
                self.clone(o, fbefore, self.fmap)
        fafter = Block(arg_types=types)
        for j, k in enumerate(pri_k):
            self.fmap[after.args[k]] = fafter.args[j]
        iv = Block(arg_types=[i64] + [after.args[k].type for k in lin_k] + [ad.TapeType()])
        for j, k in enumerate(lin_k):
            self.lmap[after.args[k]] = iv.args[1 + j]
        ft, lt = self.split(after, fafter, iv, fafter.args[-1], iv.args[-1], lin_k)
        b = B(op.location)
        one = b.const(1, i64)
        fafter.add_ops(b.ops)
        count = loom.AddOp(fafter.args[-2], one, i64)
        fafter.add_op(count)
        self._terminate(after, fafter, iv, ft, lt, lin_k, pri_k, extra_f=[count.result])
        bound = op.attributes.get("loom.bound")
        if bound is not None:
            ftape = self.reserve(fdst, fafter, None, None, None, ftape, op, trips=bound.value.data)
        b = B(op.location)
        zero = b.const(0, i64)
        fdst.add_ops(b.ops)
        fop = scf.WhileOp([self.fmap.get(op.arguments[k], op.arguments[k]) for k in pri_k] + [zero, ftape], types,
                          Region(fbefore), Region(fafter))
        fop.location = op.location
        fdst.add_op(fop)
        push = ad.PushOp(fop.results[-1], fop.results[-2])
        fdst.add_op(push)
        pop = ad.PopOp(ltape, i64)
        push.location = pop.location = op.location
        pop.attributes[COUNT] = UnitAttr()
        ldst.add_op(pop)
        b = B(op.location)
        lo, step = b.const(0, i64), b.const(1, i64)
        ldst.add_ops(b.ops)
        lop = scf.ForOp(lo, pop.value, step, [self.lmap.get(op.arguments[k], op.arguments[k]) for k in lin_k] +
                        [pop.result_tape], Region(iv))
        lop.location = op.location
        ldst.add_op(lop)
        for j, k in enumerate(pri_k):
            self.fmap[op.results[k]] = fop.results[j]
        for j, k in enumerate(lin_k):
            self.lmap[op.results[k]] = lop.results[j]
        return push.result, lop.results[-1]


def linearize(module: ModuleOp, g: func.FuncOp, n_primal: int, loc, split_of: SplitOf,
              threaded: bool = False) -> tuple[func.FuncOp, func.FuncOp]:
    """`@g_fwd(primals…) -> (results…, tape)` and `@g_lin(tape, tangents…) -> (result tangents…)`;
    `threaded` (a called JVP function): `@g_fwd(primals…, tape) -> (results…, tape)` pushes on
    its caller's tape and `@g_lin(tape, tangents…) -> (result tangents…, tape)` returns it."""
    body = g.body.block
    ins = list(g.function_type.inputs)
    outs = list(g.function_type.outputs)
    n_res = len(outs) // 2
    tangent_params = list(body.args[n_primal:])
    sp = Splitter(active_values(g, tangent_params, mirror_tapes=False), split_of)
    tape_in = [ad.TapeType()] if threaded else []
    base = g.sym_name.data.replace("_jvp", "")
    fwd, fb = new_function(module, base + "_fwd", ins[:n_primal] + tape_in, outs[:n_res] + [ad.TapeType()], loc)
    lin, lb = new_function(module, base + "_lin", [ad.TapeType()] + ins[n_primal:], outs[n_res:] + tape_in, loc)
    for a, na in zip(body.args[:n_primal], fb.args):
        sp.fmap[a] = na
    for a, na in zip(tangent_params, lb.args[1:]):
        sp.lmap[a] = na
    if threaded:
        tape = fb.args[-1]
    else:
        new = ad.TapeNewOp()
        new.location = loc
        fb.add_op(new)
        tape = new.tape
    ft, lt = sp.split(body, fb, lb, tape, lb.args[0], list(range(n_res, 2 * n_res)))
    ret = body.last_op
    r1 = func.ReturnOp(*([sp.fmap.get(v, v) for v in ret.operands[:n_res]] + [ft]))
    b = B(ret.location)
    lin_out = [sp.lmap[v] if v in sp.lmap else b.materialize(None, v.type) for v in ret.operands[n_res:]]
    lb.add_ops(b.ops)
    r2 = func.ReturnOp(*(lin_out + ([lt] if threaded else [])))
    r1.location = r2.location = ret.location
    fb.add_op(r1)
    lb.add_op(r2)
    return fwd, lin


@dataclass(frozen=True)
class AdLinearize(ModulePass):
    name = "ad-linearize"

    def apply(self, ctx: Context, op: ModuleOp) -> None:
        split: dict[tuple[str, bool], tuple[func.FuncOp, func.FuncOp]] = {}  # one split per JVP function

        def split_of(name: str, n_primal: int, loc=None, threaded: bool = True):
            if (name, threaded) not in split:
                g = lookup(op, name)
                split[name, threaded] = linearize(op, g, n_primal, loc or g.location, split_of, threaded)
            return split[name, threaded]

        for d in [o for o in op.walk() if isinstance(o, ad.VjpOp) and o.form_name() == "jvp"]:
            g = lookup(op, d.callee.string_value())
            n_primal = len(g.function_type.inputs) - len(d.wrt_list())
            n_res = len(g.function_type.outputs) // 2
            fwd, lin = split_of(g.sym_name.data, n_primal, d.location, threaded=False)
            call = func.CallOp(fwd.sym_name.data, list(d.args[:n_primal]), list(fwd.function_type.outputs))
            vjp = ad.VjpOp(lin.sym_name.data, d.wrt_list(), [call.results[-1]] + list(d.args[n_primal:]),
                           [r.type for r in d.outs[n_res:]], form="linear")
            replace_derivative(d, [call, vjp], list(call.results[:-1]) + list(vjp.results))
