"""`memref` ops that xDSL 0.74 lacks, under their upstream MLIR names and semantics.

- `memref.prefetch %buf[%i, %j]`: a hint that the element will be read (or written) soon
  (upstream properties `isWrite`, `localityHint` 0–3, `isDataCache`); no effect on results.
  `convert-memref-to-llvm` lowers it to `llvm.prefetch`. The matmul micro-kernel prefetches its
  tile of C before the k loop, so adding the tile to C at the end does not wait for memory.
"""

from __future__ import annotations

from collections.abc import Sequence

from xdsl.dialects.builtin import BoolAttr, IndexType, IntegerAttr, MemRefType, i32
from xdsl.ir import Dialect, SSAValue
from xdsl.irdl import IRDLOperation, irdl_op_definition, operand_def, prop_def, var_operand_def
from xdsl.utils.exceptions import VerifyException


@irdl_op_definition
class PrefetchOp(IRDLOperation):
    name = "memref.prefetch"

    memref = operand_def(MemRefType)
    indices = var_operand_def(IndexType)
    isWrite = prop_def(BoolAttr)
    localityHint = prop_def(IntegerAttr)
    isDataCache = prop_def(BoolAttr)

    def __init__(self, buf: SSAValue, indices: Sequence[SSAValue], write: bool = False, locality: int = 3):
        super().__init__(operands=[buf, indices],
                         properties={"isWrite": BoolAttr.from_bool(write),
                                     "localityHint": IntegerAttr(locality, i32),
                                     "isDataCache": BoolAttr.from_bool(True)})

    def verify_(self) -> None:
        if self.memref.type.get_num_dims() != len(self.indices):
            raise VerifyException("expected an index for each dimension")
        if not 0 <= self.localityHint.value.data <= 3:
            raise VerifyException("localityHint must be 0..3")


MemrefExt = Dialect("memref_ext", [PrefetchOp], [])
