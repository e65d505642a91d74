"""`loom-bufferize`: tensors → memrefs, in destination-passing style (xDSL has no bufferization).

Every tensor value becomes a buffer (`memref`, static shape, row-major). This pass is purely
functional — each buffer is written only right after it is allocated — so it is correct by
construction; `loom-buffer-dealloc` then decides ownership, frees at last use, reuses dead buffers
and turns copies into in-place updates.

- a `linalg` op's `tensor.empty` output becomes a fresh 64-byte-aligned `memref.alloc` (a rank-0
  accumulator: a `memref.alloca` in the entry block, which LLVM promotes to a register); an output
  that holds data (a `linalg.fill` init) is written in place when this op is its only user, else
  copied first;
- `tensor.extract` → `memref.load`; `tensor.insert`/`tensor.insert_slice` write into a copy of the
  destination (a loop nest for a slice, with run-time offsets);
- `tensor.collapse_shape`/`expand_shape` → the `memref` ops of the same name (views, no copy);
- `bufferization.to_buffer`/`to_tensor` (around the MPI calls of `convert-shard-to-mpi`) → the
  buffer of their operand;
- functions take their results as trailing out-parameters (`memref<…>`, a `memref<T>` for a
  scalar) and return nothing — the native ABI writes results straight into NumPy arrays; a call
  allocates its results' buffers and reads scalars back;
- `scf.for/if/while` and block arguments are retyped in place.

Example (the fused `exp(x) * 2.0 + x`; the result becomes an out-buffer argument):

    func.func @f(%x: tensor<4xf32>) -> tensor<4xf32> {
      %0 = tensor.empty() : tensor<4xf32>
      %1 = arith.constant 2.000000e+00 : f32
      %2 = linalg.generic {…} ins(%x : tensor<4xf32>) outs(%0 : tensor<4xf32>) {
        … math.exp, arith.mulf, arith.addf …
      } -> tensor<4xf32>
      func.return %2 : tensor<4xf32>
    }
becomes
    func.func @f(%x: memref<4xf32>, %0: memref<4xf32>) {
      %1 = arith.constant 2.000000e+00 : f32
      %2 = memref.alloc() {alignment = 64 : i64} : memref<4xf32>
      linalg.generic {…} ins(%x : memref<4xf32>) outs(%2 : memref<4xf32>) {
        … math.exp, arith.mulf, arith.addf …
      }
      "memref.copy"(%2, %0) : (memref<4xf32>, memref<4xf32>) -> ()
      func.return
    }
"""

from __future__ import annotations

from dataclasses import dataclass

from xdsl.context import Context
from xdsl.dialects import arith, func, memref, tensor
from xdsl.dialects.linalg import ops as linalg
from xdsl.dialects.builtin import FunctionType, MemRefType, ModuleOp, TensorType
from xdsl.ir import Attribute, Block, Operation, SSAValue
from xdsl.passes import ModulePass
from xdsl.rewriter import InsertPoint, Rewriter

from compiler.diagnostics import LoomError
from compiler.passes.emitter import Emitter
from dialects import loom



def buffer_type(t: Attribute) -> Attribute:
    if isinstance(t, TensorType):
        return MemRefType(t.element_type, t.get_shape())
    return t


def insert_before(op: Operation, e: Emitter) -> None:
    Rewriter.insert_op(e.ops, InsertPoint.before(op))
    e.ops = []


class Bufferizer:
    def __init__(self, module: ModuleOp):
        self.module = module
        self.signatures: dict[str, tuple[list[Attribute], list[Attribute]]] = {}
        # fresh buffer → (the one op reading its tensor, the block where the tensor was made)
        self.single_user: dict[SSAValue, tuple[Operation, Block]] = {}

    # ------------------------------------------------------------ destinations
    def destination(self, e: Emitter, init: SSAValue, user: Operation) -> SSAValue:
        """The buffer an op writes its result into, given its `outs` operand."""
        owner = init.owner
        if isinstance(owner, tensor.EmptyOp):
            t = buffer_type(owner.tensor.type)
            if not t.get_shape():  # a scalar accumulator: a stack slot at function entry
                return self.entry_slot(t, owner)
            return e.alloc(t)
        if self.single_user.get(init) == (user, user.parent_block()):
            return init  # its tensor's only user, in the same block (not a loop running it again)
        buf = e.alloc(init.type)
        e.add(memref.CopyOp(init, buf))
        return buf

    def entry_slot(self, t: MemRefType, at: Operation) -> SSAValue:
        """`memref.alloca` in the function's entry block (LLVM keeps it in a register)."""
        f = at
        while not isinstance(f, func.FuncOp):
            f = f.parent_op()
        slot = memref.AllocaOp.get(t.element_type, None, [])
        slot.location = at.location
        block = f.body.blocks[0]
        Rewriter.insert_op(slot, InsertPoint.at_start(block))
        return slot.memref

    # ------------------------------------------------------------ ops
    def run(self) -> None:
        for f in list(self.module.ops):
            if isinstance(f, func.FuncOp):
                ins = [buffer_type(t) for t in f.function_type.inputs]
                outs = [buffer_type(t) if isinstance(t, TensorType) else MemRefType(t, []) for t in f.function_type.outputs]
                self.signatures[f.sym_name.data] = (ins, outs)
        for f in list(self.module.ops):
            if isinstance(f, func.FuncOp):
                self.function(f)

    def function(self, f: func.FuncOp) -> None:
        ins, outs = self.signatures[f.sym_name.data]
        f.function_type = FunctionType.from_lists(ins + outs, [])
        if f.is_declaration:
            return
        block = f.body.block
        for a in list(block.args):
            if isinstance(a.type, TensorType):
                Rewriter.replace_value_with_new_type(a, buffer_type(a.type))
        self.out_params = [block.insert_arg(t, len(block.args)) for t in outs]
        self.block(block)

    def block(self, block: Block) -> None:
        for a in list(block.args):
            if isinstance(a.type, TensorType):
                Rewriter.replace_value_with_new_type(a, buffer_type(a.type))
        for op in list(block.ops):
            self.op(op)

    def op(self, op: Operation) -> None:
        for r in op.regions:
            for b in r.blocks:
                self.block(b)
        e = Emitter(op.location)
        method = getattr(self, "op_" + op.name.replace(".", "_"), None)
        if method is not None:
            method(op, e)
            return
        for r in op.results:  # scf.for/if/while and anything else carrying tensors: retype
            if isinstance(r.type, TensorType):
                Rewriter.replace_value_with_new_type(r, buffer_type(r.type))

    def _replace(self, op: Operation, e: Emitter, results: list[SSAValue]) -> None:
        insert_before(op, e)
        for old, new in zip(op.results, results):
            users = {u.operation for u in old.uses}
            if len(users) == 1 and isinstance(new.type, MemRefType):
                self.single_user[new] = (users.pop(), op.parent_block())  # (user, where it was made)
            old.replace_all_uses_with(new)
        op.detach()
        op.erase()

    def op_tensor_empty(self, op, e):
        """A shape carrier: an op writing into it allocates (see `destination`); any other use
        (an empty result returned or yielded as is) gets a buffer now."""
        users = [u.operation for u in op.tensor.uses]
        def as_destination(u: Operation) -> bool:
            if isinstance(u, (linalg.GenericOp, linalg.FillOp)):
                return op.tensor in u.outputs and op.tensor not in u.inputs
            return isinstance(u, (tensor.InsertSliceOp, tensor.InsertOp)) and u.dest is op.tensor \
                and u.operands[0] is not op.tensor

        if all(as_destination(u) for u in users):
            return
        self._replace(op, e, [e.alloc(buffer_type(op.tensor.type))])

    def op_linalg_fill(self, op: linalg.FillOp, e: Emitter):
        buf = self.destination(e, op.outputs[0], op)
        e.add(linalg.FillOp([op.inputs[0]], [buf], []))
        self._replace(op, e, [buf])

    def op_linalg_generic(self, op: linalg.GenericOp, e: Emitter):
        bufs = [self.destination(e, v, op) for v in op.outputs]
        new = linalg.GenericOp(list(op.inputs), bufs, op.detach_region(op.body), op.indexing_maps,
                               op.iterator_types, [])
        e.add(new)
        self._replace(op, e, bufs)

    def op_tensor_extract(self, op: tensor.ExtractOp, e: Emitter):
        self._replace(op, e, [e.add(memref.LoadOp.get(op.tensor, list(op.indices)))])

    def op_tensor_insert(self, op: tensor.InsertOp, e: Emitter):
        buf = self.destination(e, op.dest, op)
        e.add(memref.StoreOp.get(op.scalar, buf, list(op.indices)))
        self._replace(op, e, [buf])

    def op_tensor_insert_slice(self, op: tensor.InsertSliceOp, e: Emitter):
        buf = self.destination(e, op.dest, op)
        src_shape = list(op.source.type.get_shape())
        dyn = iter(op.offsets)
        offsets = [next(dyn) if o == loom.DYNAMIC else e.index(o) for o in op.static_offsets.get_values()]
        sizes, strides = list(op.static_sizes.get_values()), list(op.static_strides.get_values())
        # match source dims to destination dims (rank-reducing: dropped dims have size 1; when a
        # size-1 dim could be either, both choices address the same elements)
        kept: list[int | None] = []
        j = 0
        for d, s in enumerate(sizes):
            if len(src_shape) - j < len(sizes) - d and s == 1:
                kept.append(None)
            else:
                kept.append(j)
                j += 1

        def index(be: Emitter, ivs: list[SSAValue]) -> list[SSAValue]:
            return [offsets[d] if kept[d] is None else
                    be.add(arith.AddiOp(offsets[d], be.add(arith.MuliOp(ivs[kept[d]], be.index(strides[d])))))
                    for d in range(len(sizes))]

        copy_nest(e, op.source, buf, src_shape, index)
        self._replace(op, e, [buf])

    def op_tensor_collapse_shape(self, op, e: Emitter):
        new = memref.CollapseShapeOp(operands=[op.src], result_types=[buffer_type(op.result.type)],
                                     properties={"reassociation": op.reassociation})
        self._replace(op, e, [e.add(new)])

    def op_tensor_expand_shape(self, op, e: Emitter):
        t = buffer_type(op.result.type)
        new = memref.ExpandShapeOp(operands=[op.src, []], result_types=[t],
                                   properties={"reassociation": op.reassociation,
                                               "static_output_shape": op.static_output_shape})
        self._replace(op, e, [e.add(new)])

    def op_bufferization_to_buffer(self, op, e: Emitter):
        """The operand's buffer (`convert-shard-to-mpi` reads it in a call into libmpi)."""
        self._replace(op, e, [op.tensor])

    def op_bufferization_to_tensor(self, op, e: Emitter):
        """The buffer itself (written right after its allocation, by a call into libmpi)."""
        self._replace(op, e, [op.memref])

    def op_func_call(self, op: func.CallOp, e: Emitter):
        ins, outs = self.signatures[op.callee.string_value()]
        bufs = [e.add(memref.AllocaOp.get(t.element_type, None, [])) if not t.get_shape() and not isinstance(r.type, TensorType)
                else e.alloc(t) for t, r in zip(outs, op.results)]
        e.add(func.CallOp(op.callee, list(op.arguments) + bufs, []))
        results = [b if isinstance(r.type, TensorType) else e.add(memref.LoadOp.get(b, [])) for b, r in zip(bufs, op.results)]
        self._replace(op, e, results)

    def op_func_return(self, op: func.ReturnOp, e: Emitter):
        for v, out in zip(op.arguments, self.out_params):
            if isinstance(v.type, MemRefType):
                e.add(memref.CopyOp(v, out))
            else:
                e.add(memref.StoreOp.get(v, out, []))
        e.add(func.ReturnOp())
        self._replace(op, e, [])


def copy_nest(e: Emitter, src: SSAValue, dst: SSAValue, shape: list[int], dst_index) -> None:
    """`for ivs in shape: dst[dst_index(ivs)] = src[ivs]` as an scf.for nest."""
    from compiler.passes.loom_linalg_to_loops import loop_nest

    def body(be: Emitter, ivs: list[SSAValue]) -> None:
        v = be.add(memref.LoadOp.get(src, list(ivs)))
        be.add(memref.StoreOp.get(v, dst, dst_index(be, list(ivs))))

    loop_nest(e, shape, list(range(len(shape))), body)


def erase_unused_empties(module: ModuleOp) -> None:
    for op in list(module.walk()):
        if isinstance(op, tensor.EmptyOp):
            if op.tensor.uses:
                e = Emitter(op.location)
                buf = e.alloc(buffer_type(op.tensor.type))
                insert_before(op, e)
                op.tensor.replace_all_uses_with(buf)
            op.detach()
            op.erase()


@dataclass(frozen=True)
class LoomBufferize(ModulePass):
    name = "loom-bufferize"

    def apply(self, ctx: Context, op: ModuleOp) -> None:
        Bufferizer(op).run()
        erase_unused_empties(op)
        for o in op.walk():
            for v in list(o.results) + [a for r in o.regions for b in r.blocks for a in b.args]:
                if isinstance(v.type, TensorType):
                    raise LoomError(f"loom-bufferize: {o.name} still produces a tensor (a compiler bug)")
