"""The epilogue of a matmul, fused into `loom-matmul-kernel`'s store: an elementwise `linalg.generic`
right after the contraction that updates C in place (`relu(x @ w + b)`, `x @ w + r`, as
bufferization leaves them) is applied to each tile when its last depth block is written, so C is
written once, already biased, activated or summed with a residual, instead of being read and
written again by a separate loop.

    linalg.generic {…contraction…} ins(%x, %w : …) outs(%c : memref<256x512xf32>) {…}
    linalg.generic {indexing_maps = [affine_map<(d0, d1) -> (d0, d1)>, affine_map<(d0, d1) -> (d1)>,
                                     affine_map<(d0, d1) -> (d0, d1)>], iterator_types = ["parallel", "parallel"]}
        ins(%c, %b : memref<256x512xf32>, memref<512xf32>) outs(%c : memref<256x512xf32>) {
    ^bb0(%v: f32, %bias: f32, %out: f32):
      %s = arith.addf %v, %bias fastmath<contract> : f32
      %r = arith.maximumf %s, %zero : f32
      linalg.yield %r : f32
    }
becomes, in the shared macro-kernel's write of a whole tile in the last depth block (vector by
vector; the bias is an argument, flat, with its offset and row stride: 0 for a bias over columns):

    %old = vector.load %c[%at] : memref<?xf32>, vector<8xf32>
    %sum = arith.addf %old, %acc fastmath<reassoc,contract> : vector<8xf32>
    %bv = vector.load %e0[%bat] : memref<?xf32>, vector<8xf32>     (%bat = e0_base + i·e0_stride + j)
    %z = vector.broadcast %s0 : f32 to vector<8xf32>                 (%s0: the constant, an argument)
    %s = arith.addf %sum, %bv fastmath<contract> : vector<8xf32>
    %r = arith.maximumf %s, %z : vector<8xf32>
    vector.store %r, %c[%at] : memref<?xf32>, vector<8xf32>

and the same body on scalars at C's edges. An operand of the epilogue is read along the tile's
columns as a vector when C's last dim is its last index (a bias over columns, a residual), as a
broadcast scalar when it does not depend on that dim (a bias over rows); values from outside the
body (constants) are broadcast. The body may use the float arithmetic of `EPILOGUE_OPS`, which
LLVM lowers on vectors as on scalars. Two epilogues with the same body, operand kinds and constants'
positions have the same `key()`: their matmuls share the macro-kernel.
"""

from __future__ import annotations

from dataclasses import dataclass

from xdsl.dialects import arith, memref, vector
from xdsl.dialects.builtin import MemRefType, NoneAttr, VectorType
from xdsl.dialects.linalg import attrs as linalg_attrs
from xdsl.dialects.linalg import ops as linalg
from xdsl.ir import Block, Operation, SSAValue
from xdsl.ir.affine import AffineConstantExpr, AffineDimExpr, AffineMap

from compiler.passes.emitter import Emitter
from compiler.passes.loom_buffer_dealloc import root

EPILOGUE_OPS = (arith.AddfOp, arith.SubfOp, arith.MulfOp, arith.DivfOp, arith.MaximumfOp, arith.MinimumfOp,
                arith.MaxnumfOp, arith.MinnumfOp, arith.NegfOp)


@dataclass(frozen=True)
class Epilogue:
    """An elementwise op on C after its contraction: `C[i] = body(C[i], X[map(i)], …)`."""
    op: linalg.GenericOp
    constants: tuple[arith.ConstantOp, ...]  # between the contraction and `op`: they move before the kernel
    reads: tuple[tuple[SSAValue, AffineMap, bool], ...]  # per input: buffer, map, vector (else broadcast)

    def scalars(self) -> list[SSAValue]:
        """The values from outside the body that it uses (constants), in first-use order: the shared
        kernel takes them as arguments."""
        block, seen = self.op.body.block, {}
        inside = set(block.args)
        for op in block.ops:
            seen.update((x, None) for x in op.operands if x not in inside)
            inside.update(op.results)
        return list(seen)

    def buffers(self) -> list[tuple[SSAValue, AffineMap]]:
        """The buffers the body reads besides C, with their maps (from C's indices)."""
        return [(buf, m) for buf, m, _ in self.reads if buf is not None]

    def key(self) -> tuple:
        """What the code of `apply` depends on: matmuls whose epilogues have equal keys share a kernel."""
        block = self.op.body.block
        ids: dict[SSAValue, tuple] = {arg: ("arg", i) for i, arg in enumerate(block.args)}
        ids.update((x, ("scalar", i)) for i, x in enumerate(self.scalars()))
        ops = []
        for j, op in enumerate(block.ops):
            ops.append((op.name, tuple(ids[x] for x in op.operands), tuple(sorted(op.properties.items())),
                        tuple(sorted(op.attributes.items()))))
            ids.update((r, ("op", j)) for r in op.results)
        return tuple(None if buf is None else along for buf, _, along in self.reads), tuple(ops)

    def apply(self, e: Emitter, value: SSAValue, row: SSAValue, col: SSAValue, vt: VectorType | None,
              buffers: list[tuple[SSAValue, SSAValue, SSAValue]], scalars: list[SSAValue]) -> SSAValue:
        """The body at C's element (or vector of elements, `vt`) in row `row`, column `col` of the
        current C matrix, C's value there being `value`. Each buffer is read flat (`memref<?xT>`) at
        `base + row·row_stride (+ col when read along C's rows)`: `buffers` are (flat, base,
        row_stride) in `buffers()` order, `scalars` stand for `scalars()`."""
        block = self.op.body.block
        env: dict[SSAValue, SSAValue] = {}
        flat = iter(buffers)
        for arg, (buf, _, along) in zip(block.args, self.reads):
            if buf is None:
                env[arg] = value
                continue
            src, base, row_stride = next(flat)
            idx = e.add(arith.AddiOp(base, e.add(arith.MuliOp(row, row_stride))))
            if along:
                idx = e.add(arith.AddiOp(idx, col))
            if vt is not None and along:
                env[arg] = e.add(vector.LoadOp(src, [idx], vt))
            else:
                x = e.add(memref.LoadOp.get(src, [idx]))
                env[arg] = e.add(vector.BroadcastOp(x, vt)) if vt is not None else x
        for x, s in zip(self.scalars(), scalars):
            env[x] = e.add(vector.BroadcastOp(s, vt)) if vt is not None else s
        for op in block.ops:
            if isinstance(op, linalg.YieldOp):
                return env[op.operands[0]]
            new = type(op).create(operands=[env[x] for x in op.operands], result_types=[vt or op.results[0].type],
                                  properties=dict(op.properties), attributes=dict(op.attributes))
            env[op.results[0]] = e.add(new)
        raise AssertionError("a linalg.generic body ends with linalg.yield")


def _reads_along(m: AffineMap, last: int) -> bool | None:
    """True: the map's last result is dim `last` (contiguous along C's rows); False: it does not
    use `last`; None: neither (a transposed read, or not a projection)."""
    dims = []
    for r in m.results:
        if isinstance(r, AffineDimExpr):
            dims.append(r.position)
        elif not (isinstance(r, AffineConstantExpr) and r.value == 0):
            return None
    if last not in dims:
        return False
    return True if dims.index(last) == len(dims) - 1 and dims.count(last) == 1 else None


def _body_is_elementwise(block: Block, elem) -> bool:
    inside = set(block.args)
    for op in block.ops:
        if isinstance(op, linalg.YieldOp):
            return len(op.operands) == 1 and op.operands[0] in inside and op.operands[0] is not block.args[-1]
        if not isinstance(op, EPILOGUE_OPS) or len(op.results) != 1 or op.results[0].type != elem or \
                op.regions or any(x.type != elem or x is block.args[-1] for x in op.operands):
            return False
        inside.add(op.results[0])
    return False


def match_epilogue(contraction: Operation, c: SSAValue) -> Epilogue | None:
    """The elementwise generic right after `contraction` that reads C at each element and writes
    the result back to C, its other operands read as vectors along C's rows or broadcast (constants
    in between are allowed, and frees of buffers the epilogue does not use: bufferization frees
    the matmul's left operand there when the matmul was its last use, as in an MLP's second layer)."""
    op, constants, freed = contraction.next_op, [], []
    while isinstance(op, (arith.ConstantOp, memref.DeallocOp)):
        if isinstance(op, arith.ConstantOp):
            constants.append(op)
        else:
            freed.append(root(op.memref))
        op = op.next_op
    if not isinstance(op, linalg.GenericOp) or op.res or list(op.outputs) != [c] or \
            any(root(x) in freed for x in op.operands):
        return None
    t = c.type
    assert isinstance(t, MemRefType)
    rank, elem = t.get_num_dims(), t.element_type
    maps = [m.data for m in op.indexing_maps.data]
    identity = AffineMap.identity(rank)
    if rank < 2 or maps[-1] != identity or len(op.iterator_types) != rank or \
            any(it.data != linalg_attrs.IteratorType.PARALLEL for it in op.iterator_types):
        return None
    reads = []
    for x, m in zip(op.inputs, maps):
        if x != c and root(x) == root(c):  # C through a view: it would read C before the last block
            return None
        if x == c:
            if m != identity:
                return None
            reads.append((None, m, True))
            continue
        along = _reads_along(m, rank - 1)
        if along is None or not isinstance(x.type, MemRefType) or x.type.element_type != elem or \
                any(size < 0 for size in x.type.get_shape()) or not isinstance(x.type.layout, NoneAttr):
            return None
        reads.append((x, m, along))
    if all(buf is not None for buf, _, _ in reads) or not _body_is_elementwise(op.body.block, elem):
        return None
    return Epilogue(op, tuple(constants), tuple(reads))
