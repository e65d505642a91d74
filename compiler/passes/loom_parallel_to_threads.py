"""`loom-parallel-to-threads`: each `scf.parallel` (one dimension, no reductions) becomes a call to
the thread pool of `runtime/parallel.ll`, `loom_parallel_for(fn, ctx, n, error_values)`, which runs
`fn(ctx, lo, hi, error_values)` on chunks `[lo, hi)` of the `n` iterations on all threads.

The loop body is outlined into `@<f>_parallel<k>_body`, a function of the values it uses from
outside (constants and views of buffers are cloned in, not passed) and of its chunk: an `scf.for`
over `[lo, hi)`. `@<f>_parallel<k>` (llvm dialect: the signature the pool calls) loads those values
from `ctx`, an array of 8-byte slots the caller fills, and calls the body. Both are ordinary Loom
functions: a failing run-time check in the body returns its status, and the pool returns the
status of the first failing iteration in loop order (later chunks are skipped once one fails) with
its error values. Buffers from outside that the body's failing branches would free (see
`loom-buffer-dealloc`) are freed by the caller instead, once, when the pool reports a failure; then
`loom_parallel_status` returns that status from the caller, as a failing callee's is.

    func.func @f(%x: memref<8192x16xf32>, %y: memref<8192x16xf32>) {
      %c0 = arith.constant 0 : index
      %c1 = arith.constant 1 : index
      %c16 = arith.constant 16 : index
      %c8192 = arith.constant 8192 : index
      scf.parallel (%i) = (%c0) to (%c8192) step (%c1) {
        scf.for %j = %c0 to %c16 step %c1 { … %x[%i, %j] … %y[%i, %j] … }
        scf.reduce
      }
      func.return
    }
becomes
    func.func @f(%x: memref<8192x16xf32>, %y: memref<8192x16xf32>) {
      %ctx = llvm.alloca %two x i64 : (i64) -> !llvm.ptr          (in the entry block)
      %err = llvm.alloca %four x i64 : (i64) -> !llvm.ptr
      …
      (%x and %y stored in the slots of %ctx)
      %fn = llvm.mlir.addressof @f_parallel0 : !llvm.ptr
      %status = llvm.call @loom_parallel_for(%fn, %ctx, %n, %err) : (…) -> i32
      %failed = arith.cmpi ne, %status, %zero : i32
      scf.if %failed {
        func.call @loom_parallel_status(%status, %err) : (i32, !llvm.ptr) -> ()
      }
      func.return
    }
    llvm.func internal @f_parallel0(%ctx: !llvm.ptr, %lo: i64, %hi: i64, %err: !llvm.ptr) -> i32 {
      (load %x and %y from %ctx)
      %s = llvm.call @f_parallel0_body(%x, %y, %lo, %hi, %err) : (…) -> i32
      llvm.return %s : i32
    }
    func.func private @f_parallel0_body(%x: memref<8192x16xf32>, %y: memref<8192x16xf32>, %lo: index, %hi: index) {
      %c0 = arith.constant 0 : index  …
      scf.for %i = %lo to %hi step %c1 {
        scf.for %j = %c0 to %c16 step %c1 { … }
      }
      func.return
    }
"""

from __future__ import annotations

from dataclasses import dataclass

from xdsl.context import Context
from xdsl.dialects import arith, func, llvm, memref, scf
from xdsl.dialects.builtin import IndexType, MemRefType, ModuleOp, UnrealizedConversionCastOp, i32, i64
from xdsl.ir import Block, Operation, Region, SSAValue
from xdsl.passes import ModulePass
from xdsl.rewriter import InsertPoint, Rewriter

from compiler.diagnostics import LoomError
from compiler.passes.emitter import Emitter
from compiler.passes.llvm_types import byte_size, convert_type
from dialects import loom

PTR = llvm.LLVMPointerType()
POOL = "loom_parallel_for"  # i32 (ptr fn, ptr ctx, i64 n, ptr error_values)
STATUS = "loom_parallel_status"  # i32 (i32 status, ptr values, ptr error_values): returns status
ERROR_SLOTS = 4  # the int64_t[4] of run-time values a failing check's message shows
# ops defined outside the loop that the body recomputes rather than receives: constants, and views
# (a view and its buffer passed separately would be two `noalias` pointers to the same memory)
CLONED = (arith.ConstantOp, memref.CollapseShapeOp, memref.ExpandShapeOp)


def free_values(body: Block, loop: Operation) -> list[SSAValue]:
    """The values the loop body uses that are defined outside the loop, in first-use order."""
    inside: set[SSAValue] = set()
    for o in loop.walk():
        inside.update(o.results)
        for region in o.regions:
            for b in region.blocks:
                inside.update(b.args)
    seen: dict[SSAValue, None] = {}
    for o in body.walk():
        for v in o.operands:
            if v not in inside:
                seen.setdefault(v, None)
    return list(seen)


def remap(op: Operation, mapping: dict[SSAValue, SSAValue]) -> None:
    """Replace the operands of `op` and of the ops nested in it as `mapping` says: what
    `op.clone(value_mapper=mapping)` would do, for an op that is moved instead of cloned (a loop
    moved into the function outlined from it: cloning its body cost as much as the rest of the
    outlining)."""
    for o in op.walk():
        for i, v in enumerate(o.operands):
            if v in mapping:
                o.operands[i] = mapping[v]


def captures(values: list[SSAValue]) -> tuple[list[SSAValue], list[Operation]]:
    """The values to pass (each once) and the defining ops to clone, in dependency order."""
    passed: dict[SSAValue, None] = {}
    cloned: dict[Operation, None] = {}

    def visit(v: SSAValue) -> None:
        if isinstance(v.owner, CLONED):
            for w in v.owner.operands:
                visit(w)
            cloned.setdefault(v.owner, None)
        else:
            passed.setdefault(v, None)

    for v in values:
        visit(v)
    return list(passed), list(cloned)


def slot(ctx: SSAValue, k: int, v: SSAValue) -> llvm.GEPOp:
    """The address of slot `k` (8 bytes) of `ctx`, typed as `v` (its element count from `ctx`)."""
    t = convert_type(v.type)
    size = 8 if isinstance(t, llvm.LLVMPointerType) else byte_size(t)
    return llvm.GEPOp(ctx, [k * 8 // size], t, inbounds=True)


def entry_block(op: Operation) -> Block:
    while not isinstance(op, func.FuncOp):
        op = op.parent_op()
    return op.body.blocks[0]


def outline(loop: scf.ParallelOp, name: str) -> tuple[func.FuncOp, list[SSAValue], list[SSAValue]]:
    """The function `name(ctx, lo, hi)` that runs iterations `[lo, hi)` of `loop`: (the function,
    the values it reads from `ctx`, the buffers from outside that the body's failing branches
    freed in their `loom.on_failure` cleanups — now the caller's to free)."""
    body = loop.body.block
    passed, cloned = captures(free_values(body, loop) + [loop.lowerBound[0], loop.step[0]])
    fn_block = Block(arg_types=[PTR, IndexType(), IndexType()])
    ctx, lo, hi = fn_block.args
    mapping: dict[SSAValue, SSAValue] = {}
    e = Emitter(loop.location)
    for k, v in enumerate(passed):  # slot k of ctx holds value k (a buffer as its pointer)
        loaded = e.add(llvm.LoadOp(e.add(slot(ctx, k, v)), convert_type(v.type)))
        if isinstance(v.type, MemRefType):
            loaded = e.add(UnrealizedConversionCastOp.get([loaded], [v.type]))
        elif isinstance(v.type, IndexType):  # an index travels as i64
            loaded = e.add(arith.IndexCastOp(loaded, IndexType()))
        mapping[v] = loaded
    for o in cloned:
        c = o.clone(value_mapper=mapping)
        e.add(c)
        mapping.update(zip(o.results, c.results))
    chunk = Block(arg_types=[IndexType()])
    ce = Emitter(loop.location)  # iteration k of the loop is lb + k * step
    lb, step = mapping[loop.lowerBound[0]], mapping[loop.step[0]]
    mapping[body.args[0]] = ce.add(arith.AddiOp(lb, ce.add(arith.MuliOp(chunk.args[0], step))))
    chunk.add_ops(ce.ops)
    for o in list(body.ops):  # moved: the loop is replaced by the call to the pool
        if not isinstance(o, scf.ReduceOp):
            o.detach()
            chunk.add_op(o)
            remap(o, mapping)
    chunk.add_op(scf.YieldOp())
    e.add(scf.ForOp(lo, hi, e.index(1), [], chunk))
    e.add(func.ReturnOp())
    fn_block.add_ops(e.ops)
    fn = func.FuncOp(name, ([PTR, IndexType(), IndexType()], []), Region(fn_block), visibility="private")
    fn.location = loop.location
    inside = {mapping[v]: v for v in passed if isinstance(v.type, MemRefType)}
    freed: dict[SSAValue, None] = {}
    for o in list(chunk.walk()):
        if isinstance(o, memref.DeallocOp) and o.memref in inside:
            cleanup = o.parent_op()
            if not isinstance(cleanup, loom.OnFailureOp):  # only failure cleanups free outer buffers
                raise LoomError("loom-parallel-to-threads: a parallel loop frees a buffer it does not own "
                                "(a compiler bug)")
            freed.setdefault(inside[o.memref], None)
            o.detach()
            o.erase()
            if cleanup.body.block.first_op is None:  # nothing left to do there
                cleanup.detach()
                cleanup.erase()
    return fn, passed, list(freed)


def launch(loop: scf.ParallelOp, name: str, passed: list[SSAValue], freed: list[SSAValue]) -> None:
    """Replace `loop` with the call to the pool (and the frees and status on failure)."""
    entry = entry_block(loop)
    a = Emitter(loop.location)
    ctx = a.add(llvm.AllocaOp(a.const(max(len(passed), 1), i64), PTR, alignment=8))  # 8-byte slots
    err = a.add(llvm.AllocaOp(a.const(ERROR_SLOTS, i64), i64, alignment=8))
    Rewriter.insert_op(a.ops, InsertPoint.at_start(entry))
    e = Emitter(loop.location)
    for k, v in enumerate(passed):
        e.add(llvm.StoreOp(v, e.add(slot(ctx, k, v))))
    lb, ub, step = loop.lowerBound[0], loop.upperBound[0], loop.step[0]
    span = e.add(arith.SubiOp(e.add(arith.AddiOp(ub, step)), e.add(arith.AddiOp(lb, e.index(1)))))
    n = e.add(arith.IndexCastOp(e.add(arith.DivSIOp(span, step)), i64))  # ceil((ub - lb) / step)
    fn = e.add(llvm.AddressOfOp(name, PTR))
    status = e.add(llvm.CallOp(POOL, fn, ctx, n, err, return_type=i32))
    failed = e.add(arith.CmpiOp(status, e.const(0, i32), "ne"))
    fail = Emitter(loop.location)
    for v in freed:
        fail.add(memref.DeallocOp.get(v))
    fail.add(func.CallOp(STATUS, [status, err], []))
    fail.add(scf.YieldOp())
    e.add(scf.IfOp(failed, [], Region(Block(fail.ops))))
    Rewriter.replace_op(loop, e.ops, [])


def declare_runtime(module: ModuleOp) -> None:
    names = {o.sym_name.data for o in module.ops if isinstance(o, (func.FuncOp, llvm.FuncOp))}
    if POOL not in names:
        module.body.block.add_op(llvm.FuncOp(POOL, llvm.LLVMFunctionType([PTR, PTR, i64, PTR], i32),
                                             linkage=llvm.LinkageAttr("external")))
    if STATUS not in names:
        module.body.block.add_op(func.FuncOp(STATUS, ([i32, PTR], []), Region()))  # public: external


@dataclass(frozen=True)
class LoomParallelToThreads(ModulePass):
    name = "loom-parallel-to-threads"

    def apply(self, ctx: Context, op: ModuleOp) -> None:
        loops = [o for o in op.walk() if isinstance(o, scf.ParallelOp)]
        for k, loop in enumerate(loops):
            if len(loop.lowerBound) != 1 or loop.initVals:
                raise LoomError("loom-parallel-to-threads: only one-dimensional scf.parallel loops without "
                                "reductions run on threads (a compiler bug: none other is generated)")
            parent = loop
            while not isinstance(parent, func.FuncOp):
                parent = parent.parent_op()
            name = f"{parent.sym_name.data}_parallel{k}"
            fn, passed, freed = outline(loop, name)
            op.body.block.add_op(fn)
            launch(loop, name, passed, freed)
        if loops:
            declare_runtime(op)
