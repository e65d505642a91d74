"""`loom-buffer-dealloc`: ownership, in-place updates, buffer reuse and frees at last use.

Runs on the output of `loom-bufferize`, where every buffer is written once. Ownership is static:
a block owns the buffers it allocates, the memref results of its `scf` ops, and the iteration
arguments of a loop body (or `scf.while` region). Per block, in this order:

1. region results are owned: a value an `scf.yield`/`scf.condition` passes on that the block does
   not own (defined outside, a view, yielded twice) is copied first; a loop's initial value must
   be an owned buffer dead after the loop and not read inside it (the loop takes it over and may
   update it), else it is copied;
2. in place: an elementwise `linalg.generic` writes into an input of the same type that dies there
   instead of a fresh buffer; a copy made to update a value (`x[i] = v`) is dropped when the
   value dies there; a function's result buffer is the caller's output array (no final copy);
3. reuse and frees: walking the block, a buffer dead before a `memref.alloc` of the same type is
   reused for it; every other owned buffer gets a `memref.dealloc` right after its last use
   (uses inside nested regions count at the op that holds them; views extend their source).
A loop-carried tensor therefore lives in one buffer updated in place when the body allows it.

4. frees on failure: a run-time check (`cf.assert`, `loom.assert`) that fails ends the call, and so
   does a call whose callee fails and an allocation that gets no memory (a buffer, an autodiff
   tape, a push that grows one, a popped buffer); after each such op, a
   `loom.on_failure` (run on its failing path only) frees what is live there — per enclosing
   block, the buffers it owns that are allocated before the op holding it and not yet freed or
   handed to a loop, and the autodiff tapes not yet freed:

       cf.assert %ok, "index out of range"
   becomes
       cf.assert %ok, "index out of range"
       loom.on_failure {
         memref.dealloc %a : memref<16xf32>
         ad.tape_free %t
       }

Example (`exp(x) * 2.0 + x` after `loom-bufferize`): the result is written straight into the
caller's out-buffer `%0`, so the buffer and the final copy go away:

    func.func @f(%x: memref<4xf32>, %0: memref<4xf32>) {
      %1 = arith.constant 2.000000e+00 : f32
      %2 = memref.alloc() {alignment = 64 : i64} : memref<4xf32>
      linalg.generic {…} ins(%x : memref<4xf32>) outs(%2 : memref<4xf32>) { … }
      "memref.copy"(%2, %0) : (memref<4xf32>, memref<4xf32>) -> ()
      func.return
    }
becomes
    func.func @f(%x: memref<4xf32>, %0: memref<4xf32>) {
      %1 = arith.constant 2.000000e+00 : f32
      linalg.generic {…} ins(%x : memref<4xf32>) outs(%0 : memref<4xf32>) { … }
      func.return
    }
"""

from __future__ import annotations

from dataclasses import dataclass

from xdsl.context import Context
from xdsl.dialects import arith, cf, func, memref, scf
from xdsl.dialects.linalg import attrs as linalg_attrs
from xdsl.dialects.linalg import ops as linalg
from xdsl.dialects.builtin import MemRefType, ModuleOp, i1
from xdsl.ir import Block, Operation, Region, SSAValue
from xdsl.passes import ModulePass
from xdsl.rewriter import InsertPoint, Rewriter

from compiler.passes.emitter import Emitter
from dialects import ad, loom

VIEWS = (memref.CollapseShapeOp, memref.ExpandShapeOp)


def root(v: SSAValue) -> SSAValue:
    while isinstance(v.owner, VIEWS):
        v = v.owner.operands[0]
    return v


def is_buffer(v: SSAValue) -> bool:
    return isinstance(v.type, MemRefType)


def owned(v: SSAValue, block: Block) -> bool:
    """Does `block` own buffer `v` (and may hence free it or hand it on)?"""
    if not is_buffer(v) or root(v) is not v:
        return False
    owner = v.owner
    if isinstance(owner, Block):
        if owner is not block:
            return False
        parent = block.parent_op()
        if isinstance(parent, scf.ForOp):
            return v.index > 0
        return isinstance(parent, scf.WhileOp)
    return owner.parent_block() is block and isinstance(owner, (memref.AllocOp, scf.ForOp, scf.IfOp, scf.WhileOp,
                                                                ad.PopOp))


def ancestor_in(op: Operation, block: Block) -> Operation | None:
    while op is not None and op.parent_block() is not block:
        op = op.parent_op()
    return op


def last_uses(block: Block) -> tuple[list[Operation], dict[SSAValue, int]]:
    """Index of the last op of `block` using each buffer root (directly, nested, or via a view)."""
    ops = list(block.ops)
    pos = {o: i for i, o in enumerate(ops)}
    last: dict[SSAValue, int] = {}
    for i, o in enumerate(ops):
        for inner in o.walk():
            for v in inner.operands:
                if is_buffer(v):
                    r = root(v)
                    last[r] = max(last.get(r, -1), i)
    for a in block.args:
        last.setdefault(a, -1)
    for o in ops:
        for r in o.results:
            if is_buffer(r):
                last.setdefault(r, pos[o])
    return ops, last


def copy_before(op: Operation, v: SSAValue) -> SSAValue:
    e = Emitter(op.location)
    buf = e.alloc(v.type)
    e.add(memref.CopyOp(v, buf))
    Rewriter.insert_op(e.ops, InsertPoint.before(op))
    return buf


def set_operand(op: Operation, k: int, v: SSAValue) -> None:
    ops = list(op.operands)
    ops[k] = v
    op.operands = ops


def escaping(block: Block) -> set[SSAValue]:
    """Buffers this block hands on: yielded, or given to a loop as its initial value."""
    out: set[SSAValue] = set()
    t = block.last_op
    if isinstance(t, (scf.YieldOp, scf.ConditionOp)):
        out |= {root(v) for v in t.operands if is_buffer(v)}
    for o in block.ops:
        if isinstance(o, (scf.ForOp, scf.WhileOp)):
            out |= {root(v) for v in o.operands if is_buffer(v)}
    return out


class Dealloc:
    def __init__(self):
        self._live: dict[Block, tuple[dict, dict, set]] = {}
        # the buffers a view is taken of, kept up to date by `merged` (asking each buffer's uses
        # was quadratic: in-place rewrites merge a residual stream into one buffer of ~n uses)
        self._viewed: set[SSAValue] = set()

    def function(self, f: func.FuncOp) -> None:
        if f.is_declaration:
            return
        self._viewed.update(v for o in f.walk() if isinstance(o, VIEWS) for v in o.operands)
        self.block(f.body.block, top=True)
        free_on_failure(f.body.block, [], {})

    def block(self, block: Block, top: bool = False) -> None:
        for o in list(block.ops):
            for r in o.regions:
                for b in r.blocks:
                    self.block(b)
        self.own_results(block)
        self.own_loop_inits(block)
        self.in_place(block)
        if top:
            self.results_in_place(block)
        self.free_and_reuse(block)

    # 1 ------------------------------------------------------------------
    def own_results(self, block: Block) -> None:
        t = block.last_op
        if not isinstance(t, (scf.YieldOp, scf.ConditionOp)):
            return
        seen: set[SSAValue] = set()
        for k, v in enumerate(t.operands):
            if is_buffer(v) and (not owned(v, block) or v in seen):
                set_operand(t, k, copy_before(t, v))
            seen.add(t.operands[k])

    def own_loop_inits(self, block: Block) -> None:
        ops, last = last_uses(block)
        t = block.last_op
        esc_out = {root(v) for v in t.operands if is_buffer(v)} if isinstance(t, (scf.YieldOp, scf.ConditionOp)) else set()
        for i, o in enumerate(ops):
            if not isinstance(o, (scf.ForOp, scf.WhileOp)):
                continue
            first = 3 if isinstance(o, scf.ForOp) else 0
            seen: set[SSAValue] = set()
            for k in range(first, len(o.operands)):
                v = o.operands[k]
                if not is_buffer(v):
                    continue
                captured = any(v in inner.operands for r in o.regions for b in r.blocks for inner in b.walk())
                if not owned(v, block) or last.get(v, -1) > i or v in esc_out or v in seen or self.has_views(v) \
                        or captured:  # the loop would update it while its body still reads it
                    set_operand(o, k, copy_before(o, v))
                seen.add(o.operands[k])

    def has_views(self, v: SSAValue) -> bool:
        return v in self._viewed

    # 2 ------------------------------------------------------------------
    def liveness(self, block: Block) -> tuple[dict, dict, set]:
        """(position of each op, last use of each buffer, buffers handed on) of `block`: computed
        once per block and updated by the in-place rewrites (`merged`)."""
        cached = self._live.get(block)
        if cached is None:
            ops, last = last_uses(block)
            cached = ({o: i for i, o in enumerate(ops)}, last, escaping(block))
            self._live[block] = cached
        return cached

    def merged(self, block: Block, gone: SSAValue, kept: SSAValue) -> None:
        """The uses of buffer `gone` now use `kept`: the liveness carries over, updated in place
        (recomputing it for the block after every in-place rewrite was quadratic in its length;
        erased ops leave gaps in the positions, which only order ops)."""
        _, last, esc = self.liveness(block)
        if gone in last:
            last[kept] = max(last.get(kept, -1), last.pop(gone))
        if gone in esc:
            esc.discard(gone)
            esc.add(kept)
        if gone in self._viewed:
            self._viewed.discard(gone)
            self._viewed.add(kept)

    def first_written_by(self, buf: SSAValue, op: Operation, block: Block) -> bool:
        """No op of `block` before `op` uses `buf` (nested uses count at the op holding them): `op`
        is where the buffer is first written, so it may take another buffer's place. Not so where
        loom-bufferize gave one buffer to equal values — every zero-size tensor of a type, folded
        into one `tensor.empty`, is read before a later op writes into it (fuzz finding
        zero_size_update_in_branch)."""
        pos = self.liveness(block)[0]
        for use in buf.uses:
            holder = use.operation
            while holder.parent_block() is not block:
                holder = holder.parent_op()
            if pos[holder] < pos[op]:
                return False
        return True

    def dies_at(self, v: SSAValue, op: Operation, block: Block) -> bool:
        if not owned(v, block) or self.has_views(v):
            return False
        pos, last, esc = self.liveness(block)
        return v not in esc and last.get(v, -1) == pos[op]

    def in_place(self, block: Block) -> None:
        for o in list(block.ops):
            if isinstance(o, linalg.GenericOp) and not o.res:
                self.generic_in_place(o, block)
            elif isinstance(o, memref.CopyOp):
                dst = o.destination
                if isinstance(dst.owner, memref.AllocOp) and dst.owner.parent_block() is block \
                        and o.source.type == dst.type and self.dies_at(o.source, o, block) \
                        and self.first_written_by(dst, o, block):
                    src = o.source
                    Rewriter.erase_op(o)
                    a = dst.owner
                    dst.replace_all_uses_with(src)
                    Rewriter.erase_op(a)
                    self.merged(block, dst, src)

    def generic_in_place(self, g: linalg.GenericOp, block: Block) -> None:
        if any(it.data != linalg_attrs.IteratorType.PARALLEL for it in g.iterator_types):
            return
        maps = [m.data for m in g.indexing_maps.data]
        n_in = len(g.inputs)
        ident = maps[0].identity(maps[0].num_dims)
        for k, out in enumerate(g.outputs):
            a = out.owner
            if not (isinstance(a, memref.AllocOp) and a.parent_block() is block) or maps[n_in + k] != ident \
                    or not self.first_written_by(out, g, block):
                continue
            for j, v in enumerate(g.inputs):
                # each element is read only at the position written: every read of v identity-mapped
                same_place = all(maps[i] == ident for i, w in enumerate(g.inputs) if w is v) and \
                    not any(v in inner.operands for inner in g.body.walk())
                if v.type == out.type and same_place and v not in g.outputs and self.dies_at(v, g, block):
                    out.replace_all_uses_with(v)
                    Rewriter.erase_op(a)
                    self.merged(block, out, v)
                    break

    def results_in_place(self, block: Block) -> None:
        """`memref.copy %buf, %out` before the return: compute into the output array directly."""
        params = set(block.args)
        for o in list(block.ops):
            if isinstance(o, memref.CopyOp) and o.destination in params:
                src = o.source
                a = src.owner
                # (a buffer returned twice does not die at its first copy: only the last one goes)
                if isinstance(a, memref.AllocOp) and a.parent_block() is block \
                        and src.type == o.destination.type and not self.has_views(src) \
                        and self.dies_at(src, o, block):
                    dst = o.destination
                    Rewriter.erase_op(o)
                    src.replace_all_uses_with(dst)
                    Rewriter.erase_op(a)
                    self.merged(block, src, dst)

    # 3 ------------------------------------------------------------------
    def free_and_reuse(self, block: Block) -> None:
        ops, last = last_uses(block)
        esc = escaping(block)
        free: dict[object, list[SSAValue]] = {}
        deaths: dict[int, list[SSAValue]] = {}
        death_of: dict[SSAValue, int] = {}
        for v, i in last.items():
            if owned(v, block) and v not in esc:
                death_of[v] = i
                deaths.setdefault(i, []).append(v)
        dead_at: dict[SSAValue, int] = {}

        def retire(i: int) -> None:
            for v in deaths.get(i, []):
                free.setdefault(v.type, []).append(v)
                dead_at[v] = i

        retire(-1)
        for i, o in enumerate(ops):
            if isinstance(o, memref.AllocOp) and free.get(o.memref.type):
                b = free[o.memref.type].pop()
                v = o.memref
                if v in death_of:  # b lives on as v: it dies where v dies
                    deaths[death_of[v]].remove(v)
                    deaths[death_of[v]].append(b)
                    death_of[b] = death_of.pop(v)
                del dead_at[b]
                v.replace_all_uses_with(b)
                if v in self._viewed:
                    self._viewed.add(b)
                Rewriter.erase_op(o)
                if b in esc or v in esc:
                    esc.add(b)
            retire(i)
        for b, i in dead_at.items():
            d = memref.DeallocOp.get(b)
            d.location = ops[i].location if i >= 0 else (block.first_op.location if block.first_op else d.location)
            if i < 0:
                if block.first_op is not None:
                    Rewriter.insert_op(d, InsertPoint.before(block.first_op))
                else:
                    block.add_op(d)
            else:
                Rewriter.insert_op(d, InsertPoint.after(ops[i]))


# 4 ----------------------------------------------------------------------
CHECKS = (cf.AssertOp, loom.AssertOp)


def can_fail(op: Operation) -> bool:
    """Ends the call with a run-time error when it fails: a check, a call (its callee's checks), an
    allocation (out of memory) — of a buffer, a tape, a tape's growth, a popped buffer."""
    if isinstance(op, ad.PopOp):
        return isinstance(op.value.type, MemRefType)
    return isinstance(op, (*CHECKS, func.CallOp, memref.AllocOp, ad.TapeNewOp, ad.PushOp))


def is_tape(v: SSAValue) -> bool:
    return isinstance(v.type, ad.TapeType)


def free_on_failure(block: Block, outer: list[SSAValue], outer_tapes: dict[SSAValue, None]) -> None:
    """After each op of `block` (and of its nested blocks) that can fail, a `loom.on_failure` freeing
    what the function holds there: per enclosing block, the buffers it owns that are allocated
    before and not yet freed or handed to a loop, and the tapes not yet used (a tape value is used
    once: each push, pop or loop gives the next one). One walk per block: `outer`/`outer_tapes` are
    what the enclosing blocks hold at the op holding this block."""
    buffers = [a for a in block.args if owned(a, block)]
    tapes = dict(outer_tapes)
    if not isinstance(block.parent_op(), func.FuncOp):  # a function's tape parameters are its caller's
        tapes.update((a, None) for a in block.args if is_tape(a))
    for o in list(block.ops):
        if can_fail(o):
            on_failure(o, outer + buffers + list(tapes))
        loop = isinstance(o, (scf.ForOp, scf.WhileOp))
        if loop:  # the loop takes its initial buffers and tapes over
            buffers = [v for v in buffers if v not in o.operands]
        used = [v for inner in o.walk() for v in inner.operands if is_tape(v)]
        if o.regions:
            held = {t: None for t in tapes if not (loop and t in o.operands)}
            for r in o.regions:
                for b in r.blocks:
                    free_on_failure(b, outer + buffers, held)
        if isinstance(o, memref.DeallocOp):
            buffers = [v for v in buffers if v is not root(o.memref)]
        buffers += [r for r in o.results if owned(r, block)]
        for t in used:
            tapes.pop(t, None)
        tapes.update((r, None) for r in o.results if is_tape(r))


def on_failure(op: Operation, live: list[SSAValue]) -> None:
    if not live:
        return
    frees = [ad.TapeFreeOp(v) if is_tape(v) else memref.DeallocOp.get(v) for v in live]
    cleanup = loom.OnFailureOp(frees)
    for o in (cleanup, *frees):
        o.location = op.location
    Rewriter.insert_op(cleanup, InsertPoint.after(op))


@dataclass(frozen=True)
class LoomBufferDealloc(ModulePass):
    name = "loom-buffer-dealloc"

    def apply(self, ctx: Context, op: ModuleOp) -> None:
        d = Dealloc()
        for f in list(op.ops):
            if isinstance(f, func.FuncOp):
                d.function(f)
