"""The rules of `convert-shard-to-mpi` (compiler/passes/convert_shard_to_mpi.py, whose docstring
shows the IR): one lowering per op of the `shard` and `spmd` dialects (`RULES`), and the module's
grid and globals the calls use (`Lowering`). Imported by the pass only for a module that has such
ops, so that a program that does not distribute never imports MPI's ABI table or these dialects."""

from __future__ import annotations

import math
from dataclasses import dataclass

from xdsl.dialects import arith, bufferization, llvm, memref, tensor
from xdsl.dialects.builtin import (
    ArrayAttr, IndexType, IntegerAttr, MemRefType, ModuleOp, StringAttr, TensorType, UnitAttr, i8, i32, i64,
)
from xdsl.dialects.linalg import ops as linalg
from xdsl.ir import Operation, SSAValue
from xdsl.pattern_rewriter import PatternRewriter, PatternRewriteWalker, RewritePattern
from xdsl.rewriter import InsertPoint

from compiler.diagnostics import LoomError, span_of
from compiler.passes.linalg_build import PAR, amap, empty, generic
from compiler.passes.llvm_types import declare
from compiler.passes.emitter import Emitter
from dialects import shard_ext as sx
from dialects.spmd import EnterOp, ExitOp
from runtime import mpi_abi
from runtime.mpi import COMMS_SYMBOL, RANKS_SYMBOL, SITE_SYMBOL, TABLE_SIZE, comm_slot

PTR = llvm.LLVMPointerType()
ABI = mpi_abi.ABI


class Lowering:
    """The module being converted: its grid and the globals the calls use."""

    def __init__(self, module: ModuleOp):
        self.module = module
        self.grids = {op.sym_name.data: op for op in module.body.block.ops if isinstance(op, sx.xshard.GridOp)}
        self.sites = 0
        self.globals: set[str] = set()

    # ------------------------------------------------------------ module-level declarations
    def global_(self, name: str, t, linkage: str = "external", value=None) -> None:
        if name not in self.globals:
            self.globals.add(name)
            g = llvm.GlobalOp(t, name, linkage, constant=value is not None or None, value=value)
            self.module.body.block.add_op(g)

    def table(self, e: Emitter, name: str, slot: int) -> SSAValue:
        """`name[slot]` of one of the runtime's i32 tables."""
        self.global_(name, llvm.LLVMArrayType(TABLE_SIZE, i32))
        base = e.add(llvm.AddressOfOp(name, PTR))
        gep = e.add(llvm.GEPOp(base, [slot], i32, inbounds=True))
        return e.add(llvm.LoadOp(gep, i32))

    # ------------------------------------------------------------ per op
    def shape(self, op: Operation) -> tuple[int, ...]:
        grid = self.grids.get(op.grid.root_reference.data)
        if grid is None:
            raise LoomError(f"{op.name} refers to an unknown grid {op.grid}", span_of(op))
        return tuple(grid.shape.get_values())

    def axes(self, op: Operation, prop: str = "grid_axes") -> tuple[int, ...]:
        axes = tuple(int(a) for a in op.properties[prop].get_values())
        return axes or tuple(range(len(self.shape(op))))

    def group(self, op: Operation) -> tuple[int, int]:
        """(communicator slot, group size) of a collective."""
        shape, axes = self.shape(op), self.axes(op)
        return comm_slot(axes, len(shape)), math.prod(shape[a] for a in axes)

    def call(self, e: Emitter, op: Operation, name: str, args: list, types: list) -> None:
        """`name(args)`, with the collective named for the watchdog and its status checked."""
        declare(op, name, types, i32)
        self.global_(SITE_SYMBOL, PTR)
        text = f"{op.name} over grid axes {list(self.axes(op))}"
        span = span_of(op)
        where = f"{text} at {span.file}:{span.line}:{span.col}" if span else text
        site = f"loom_mpi_site.{self.sites}"
        self.sites += 1
        self.global_(site, llvm.LLVMArrayType(len((where + "\0").encode()), i8), "internal",
                     StringAttr(where + "\0"))
        slot = e.add(llvm.AddressOfOp(SITE_SYMBOL, PTR))
        e.add(llvm.StoreOp(e.add(llvm.AddressOfOp(site, PTR)), slot))
        rc = e.add(llvm.CallOp(name, *args, return_type=i32))
        e.add(llvm.StoreOp(e.add(llvm.ZeroOp(result_types=[PTR])), slot))
        e.check(e.cmp("eq", rc, e.const(ABI.MPI_SUCCESS, i32)),
                f"{text} failed: {name} returned MPI error {{}}", [rc])


def i32c(e: Emitter, v: int) -> SSAValue:
    return e.add(llvm.ConstantOp(IntegerAttr(v, i32), i32))


def count(op: Operation, shape) -> int:
    n = math.prod(shape)
    if n >= 2 ** 31:
        raise LoomError(f"{op.name}: {n} elements exceed what one MPI call can send (2^31 - 1)", span_of(op))
    return n


def buffer_of(e: Emitter, x: SSAValue) -> SSAValue:
    t = x.type
    return e.add(bufferization.ToBufferOp.create(operands=[x], result_types=[MemRefType(t.element_type, t.get_shape())],
                                                 properties={"read_only": UnitAttr()}))


def fresh(e: Emitter, shape, elem) -> SSAValue:
    return e.add(memref.AllocOp.get(elem, 64, list(shape)))


def as_tensor(e: Emitter, buf: SSAValue) -> SSAValue:
    return e.add(bufferization.ToTensorOp(buf, restrict=True))


# ---------------------------------------------------------------- re-layout on tensors
def split_axis(e: Emitter, x: SSAValue, axis: int, n: int) -> SSAValue:
    """`(…, S, …)` → `(…, n, S/n, …)` (a view)."""
    shape = list(x.type.get_shape())
    out = shape[:axis] + [n, shape[axis] // n] + shape[axis + 1:]
    groups, k = [], 0
    for d in range(len(shape)):
        width = 2 if d == axis else 1
        groups.append(ArrayAttr([IntegerAttr(k + j, i64) for j in range(width)]))
        k += width
    return e.add(tensor.ExpandShapeOp(x, [], ArrayAttr(groups), out, TensorType(x.type.element_type, out)))


def merge_axis(e: Emitter, x: SSAValue, axis: int) -> SSAValue:
    """`(…, n, S, …)` → `(…, n·S, …)` with `n` at `axis` (a view)."""
    shape = list(x.type.get_shape())
    out = shape[:axis] + [shape[axis] * shape[axis + 1]] + shape[axis + 2:]
    groups, k = [], 0
    for d in range(len(out)):
        width = 2 if d == axis else 1
        groups.append(ArrayAttr([IntegerAttr(k + j, i64) for j in range(width)]))
        k += width
    return e.add(tensor.CollapseShapeOp(operands=[x], result_types=[TensorType(x.type.element_type, out)],
                                        properties={"reassociation": ArrayAttr(groups)}))


def move_axis(e: Emitter, x: SSAValue, src: int, dst: int) -> SSAValue:
    """A transposed copy with axis `src` moved to position `dst` (np.moveaxis)."""
    if src == dst:
        return x
    shape = list(x.type.get_shape())
    order = list(range(len(shape)))
    order.insert(dst, order.pop(src))  # out axis k is input axis order[k]
    out = [shape[k] for k in order]
    inv = [order.index(j) for j in range(len(shape))]  # input axis j read at loop dim inv[j]
    n = len(shape)
    return generic(e, [(x, amap(n, inv))], [(empty(e, out, x.type.element_type), amap(n, range(n)))],
                   [PAR] * n, lambda be, ins, outs: [ins[0]])[0]


def blocks_first(e: Emitter, x: SSAValue, axis: int, n: int) -> SSAValue:
    """The n parts of `x` along `axis`, stacked device-major: `(n, …, S/n, …)` (the send layout
    of the MPI collectives that send a different part to each device)."""
    return move_axis(e, split_axis(e, x, axis, n), axis, 0)


def concat_blocks(e: Emitter, stacked: SSAValue, axis: int) -> SSAValue:
    """Parts stacked device-major `(n, …)` concatenated along `axis` of one part."""
    return merge_axis(e, move_axis(e, stacked, 0, axis), axis)


# ---------------------------------------------------------------- the ops
def _all_reduce(L: Lowering, e: Emitter, op) -> list[SSAValue]:
    slot, _ = L.group(op)
    t = op.input.type
    elem = t.element_type
    src, dst = buffer_of(e, op.input), fresh(e, t.get_shape(), elem)
    L.call(e, op, "MPI_Allreduce",
           [src, dst, i32c(e, count(op, t.get_shape())), i32c(e, mpi_abi.datatype(elem)),
            i32c(e, reduction(op, elem)), L.table(e, COMMS_SYMBOL, slot)], [PTR, PTR, i32, i32, i32, i32])
    return [as_tensor(e, dst)]


def _exchange(L: Lowering, e: Emitter, op, name: str, send: SSAValue, part: list[int], axis: int) -> list[SSAValue]:
    """`MPI_Allgather`/`MPI_Alltoall`: blocks of shape `part` from every device of the group,
    received device-major and concatenated along `axis`."""
    slot, n = L.group(op)
    elem = send.type.element_type
    src, dst = buffer_of(e, send), fresh(e, [n] + part, elem)
    c, dt = i32c(e, count(op, part)), i32c(e, mpi_abi.datatype(elem))
    L.call(e, op, name, [src, c, dt, dst, c, dt, L.table(e, COMMS_SYMBOL, slot)], [PTR, i32, i32, PTR, i32, i32, i32])
    return [concat_blocks(e, as_tensor(e, dst), axis)]


def _all_gather(L: Lowering, e: Emitter, op) -> list[SSAValue]:
    return _exchange(L, e, op, "MPI_Allgather", op.input, list(op.input.type.get_shape()), op.gather_axis.value.data)


def _reduce_scatter(L: Lowering, e: Emitter, op) -> list[SSAValue]:
    slot, n = L.group(op)
    axis, elem = op.scatter_axis.value.data, op.input.type.element_type
    out = list(op.result.type.get_shape())
    src, dst = buffer_of(e, blocks_first(e, op.input, axis, n)), fresh(e, out, elem)
    L.call(e, op, "MPI_Reduce_scatter_block",
           [src, dst, i32c(e, count(op, out)), i32c(e, mpi_abi.datatype(elem)), i32c(e, reduction(op, elem)),
            L.table(e, COMMS_SYMBOL, slot)], [PTR, PTR, i32, i32, i32, i32])
    return [as_tensor(e, dst)]


def _all_to_all(L: Lowering, e: Emitter, op) -> list[SSAValue]:
    _, n = L.group(op)
    packed = blocks_first(e, op.input, op.split_axis.value.data, n)  # (n, part): part j goes to device j
    return _exchange(L, e, op, "MPI_Alltoall", packed, list(packed.type.get_shape())[1:], op.concat_axis.value.data)


def _broadcast(L: Lowering, e: Emitter, op) -> list[SSAValue]:
    slot, n = L.group(op)
    (root,) = op.root.get_values()
    if op.root_dynamic or not 0 <= root < n:
        raise LoomError(f"shard.broadcast: root {list(op.root.get_values())} is not a device of a group "
                        f"of {n}", span_of(op))
    t = op.input.type
    dst = fresh(e, t.get_shape(), t.element_type)
    e.add(memref.CopyOp(buffer_of(e, op.input), dst))
    L.call(e, op, "MPI_Bcast", [dst, i32c(e, count(op, t.get_shape())), i32c(e, mpi_abi.datatype(t.element_type)),
                                i32c(e, root), L.table(e, COMMS_SYMBOL, slot)], [PTR, i32, i32, i32, i32])
    return [as_tensor(e, dst)]


def _shift(L: Lowering, e: Emitter, op) -> list[SSAValue]:
    slot, n = L.group(op)
    t = op.input.type
    offset = op.offset.value.data
    i = L.table(e, RANKS_SYMBOL, slot)
    to = e.add(arith.AddiOp(i, e.const(offset, i32)))
    frm = e.add(arith.SubiOp(i, e.const(offset, i32)))
    if op.properties.get("rotate") is not None:
        def wrap(v):  # (v mod n) for |offset| < any multiple of n: add n·k first
            k = (abs(offset) // n + 1) * n
            return e.add(arith.RemUIOp(e.add(arith.AddiOp(v, e.const(k, i32))), e.const(n, i32)))
        to, frm = wrap(to), wrap(frm)
    else:
        def inside(v):
            return e.add(arith.AndIOp(e.cmp("ge", v, e.const(0, i32)), e.cmp("lt", v, e.const(n, i32))))
        # at the ends MPI_PROC_NULL: nothing is sent, and nothing received (the result is undefined)
        frm = e.select(inside(frm), frm, e.const(ABI.MPI_PROC_NULL, i32))
        to = e.select(inside(to), to, e.const(ABI.MPI_PROC_NULL, i32))
    elem = t.element_type
    src, dst = buffer_of(e, op.input), fresh(e, t.get_shape(), elem)
    c, dt, tag = i32c(e, count(op, t.get_shape())), i32c(e, mpi_abi.datatype(elem)), i32c(e, 0)
    status = e.add(llvm.IntToPtrOp(e.add(llvm.ConstantOp(IntegerAttr(ABI.MPI_STATUS_IGNORE, i64), i64))))
    L.call(e, op, "MPI_Sendrecv", [src, c, dt, to, tag, dst, c, dt, frm, tag, L.table(e, COMMS_SYMBOL, slot), status],
           [PTR, i32, i32, i32, i32, PTR, i32, i32, i32, i32, i32, PTR])
    return [as_tensor(e, dst)]


def _all_slice(L: Lowering, e: Emitter, op) -> list[SSAValue]:
    slot, _ = L.group(op)
    axis = op.slice_axis.value.data
    out = list(op.result.type.get_shape())
    elem = op.input.type.element_type
    start = e.add(arith.MuliOp(index(e, L.table(e, RANKS_SYMBOL, slot)), e.index(out[axis])))
    r = len(out)

    def body(be: Emitter, ins, outs):
        idx = [be.add(linalg.IndexOp(d)) for d in range(r)]
        idx[axis] = be.add(arith.AddiOp(start, idx[axis]))
        return [be.add(tensor.ExtractOp(op.input, idx, elem))]

    return generic(e, [], [(empty(e, out, elem), amap(r, range(r)))], [PAR] * r, body)


def index(e: Emitter, v: SSAValue) -> SSAValue:
    return e.add(arith.IndexCastOp(v, IndexType()))


def _process_multi_index(L: Lowering, e: Emitter, op) -> list[SSAValue]:
    rank = len(L.shape(op))
    return [index(e, L.table(e, RANKS_SYMBOL, comm_slot((a,), rank))) for a in L.axes(op, "axes")]


def _process_linear_index(L: Lowering, e: Emitter, op) -> list[SSAValue]:
    rank = len(L.shape(op))
    return [index(e, L.table(e, RANKS_SYMBOL, comm_slot(tuple(range(rank)), rank)))]


def _grid_shape(L: Lowering, e: Emitter, op) -> list[SSAValue]:
    shape = L.shape(op)
    return [e.index(shape[a]) for a in L.axes(op, "axes")]


def _identity(L: Lowering, e: Emitter, op) -> list[SSAValue]:
    return [op.input]


def reduction(op, elem) -> int:
    kind = op.reduction.data.value
    try:
        return mpi_abi.reduction(kind, elem)
    except ValueError as err:
        raise LoomError(f"{op.name}: {err}", span_of(op)) from None


RULES = {
    sx.xshard.AllReduceOp: _all_reduce,
    sx.AllGatherOp: _all_gather,
    sx.ReduceScatterOp: _reduce_scatter,
    sx.AllToAllOp: _all_to_all,
    sx.xshard.BroadcastOp: _broadcast,
    sx.ShiftOp: _shift,
    sx.AllSliceOp: _all_slice,
    sx.ProcessMultiIndexOp: _process_multi_index,
    sx.ProcessLinearIndexOp: _process_linear_index,
    sx.GridShapeOp: _grid_shape,
    EnterOp: _identity,
    ExitOp: _identity,
}


@dataclass
class LowerCollective(RewritePattern):
    """One shard/spmd op → its MPI lowering (`RULES`)."""

    lowering: Lowering

    def match_and_rewrite(self, op: Operation, rewriter: PatternRewriter, /):
        rule = RULES.get(type(op))
        if rule is None:
            if op.dialect_name() == "shard" and not isinstance(op, sx.xshard.GridOp):
                raise LoomError(f"{op.name} has no lowering to MPI", span_of(op))
            return
        e = Emitter(op.location)
        results = rule(self.lowering, e, op)
        rewriter.insert_op(e.ops, InsertPoint.before(op))  # (replace_op would name every new value after op's)
        for old, new in zip(op.results, results):
            old.replace_all_uses_with(new)
        rewriter.erase_op(op)


def lower(module: ModuleOp) -> None:
    """Every collective of `module` → its MPI calls; the grids are erased (the runtime knows the mesh)."""
    lowering = Lowering(module)
    PatternRewriteWalker(LowerCollective(lowering), apply_recursively=False).rewrite_module(module)
    for g in lowering.grids.values():  # the code refers to them no more
        g.detach()
        g.erase()
