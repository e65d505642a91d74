"""Type conventions shared by the `convert-*-to-llvm` passes.

Shapes are static inside a compilation (the JIT specializes per shape signature), so a memref is
lowered to a bare `!llvm.ptr` to its first element (row-major, contiguous, 64-byte aligned when we
allocate it) and addresses are computed with `llvm.getelementptr inbounds`. `index` is `i64`.
Scalar integer and float types are unchanged.
"""

from __future__ import annotations

from xdsl.dialects import cf, llvm
from xdsl.dialects.builtin import IndexType, IntegerAttr, MemRefType, i64
from xdsl.ir import Attribute, Operation, SSAValue


def convert_type(t: Attribute) -> Attribute:
    from dialects.ad import TapeType

    if isinstance(t, TapeType):
        return llvm.LLVMPointerType()  # see convert-ad-to-llvm and runtime/tape.ll
    if isinstance(t, IndexType):
        return i64
    if isinstance(t, MemRefType):
        return llvm.LLVMPointerType()
    return t


def byte_size(t: Attribute) -> int:
    """Bytes of one element (`i1` is a byte, as NumPy's bool)."""
    from xdsl.dialects.builtin import Float32Type, Float64Type, IntegerType

    if isinstance(t, Float64Type):
        return 8
    if isinstance(t, Float32Type):
        return 4
    assert isinstance(t, IntegerType), t
    return max(1, t.width.data // 8)


def nbytes(t: Attribute) -> int:
    """Bytes of a whole value: a static-shaped buffer or tensor, or a scalar."""
    import math

    from xdsl.dialects.builtin import TensorType

    if isinstance(t, (MemRefType, TensorType)):
        return math.prod(t.get_shape()) * byte_size(t.element_type)
    return byte_size(t)


def with_location(new: Operation | list[Operation], old: Operation):
    """Copy `old`'s source location onto the op(s) that replace it; returns `new`."""
    for o in new if isinstance(new, list) else [new]:
        o.location = old.location
    return new


def module_of(op: Operation):
    from xdsl.dialects.builtin import ModuleOp

    while not isinstance(op, ModuleOp):
        op = op.parent_op()
    return op


def declare(at: Operation, name: str, inputs: list[Attribute], output: Attribute | None,
            variadic: bool = False) -> None:
    """Declare the external function `name` in `at`'s module (once)."""
    from xdsl.dialects.builtin import StringAttr

    module = module_of(at)
    for o in module.ops:
        if isinstance(o, llvm.FuncOp) and o.sym_name == StringAttr(name):
            return
    ftype = llvm.LLVMFunctionType(inputs, output, is_variadic=variadic)
    f = llvm.FuncOp(name, ftype, linkage=llvm.LinkageAttr("external"))
    module.body.block.add_op(f)


def assert_not_null(ptr: SSAValue, message: str) -> list[Operation]:
    """A run-time check that `ptr` (what an allocation returned) is not null: running out of memory
    is a run-time error at the allocation (`cf.assert`; the `loom.on_failure` after the allocation
    frees what the call holds there), not a crash."""
    address = llvm.PtrToIntOp(ptr, i64)
    zero = llvm.ConstantOp(IntegerAttr(0, i64), i64)
    ok = llvm.ICmpOp(address.results[0], zero.result, IntegerAttr(1, i64))  # ne: not NULL
    return [address, zero, ok, cf.AssertOp(ok.res, message)]


def retype_block_args(module) -> None:
    """memref → ptr and index → i64 on every block argument (function bodies, loop headers)."""
    from xdsl.rewriter import Rewriter

    for op in module.walk():
        for region in op.regions:
            for block in region.blocks:
                for a in list(block.args):
                    t = convert_type(a.type)
                    if t != a.type:
                        Rewriter.replace_value_with_new_type(a, t)
