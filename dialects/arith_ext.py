"""`arith` ops that xDSL 0.74 lacks, under their upstream MLIR names (printed IR stays valid MLIR).

- `arith.remf`: the floating-point remainder with the sign of the dividend (C's `fmod`, LLVM's
  `frem`); float `%` and `//` are built on it (Python's and NumPy's `divmod`).
"""

from __future__ import annotations

from xdsl.dialects.arith import FloatingPointLikeBinaryOperation
from xdsl.ir import Dialect
from xdsl.irdl import irdl_op_definition, traits_def
from xdsl.traits import Pure


@irdl_op_definition
class RemFOp(FloatingPointLikeBinaryOperation):
    name = "arith.remf"

    traits = traits_def(Pure())


ArithExt = Dialect("arith_ext", [RemFOp], [])
