"""Type conventions shared by the `convert-*-to-llvm` passes.

Shapes are static inside a compilation (the JIT specializes per shape signature), so a memref is
lowered to a bare `!llvm.ptr` to its first element (row-major, contiguous, 64-byte aligned when we
allocate it) and addresses are computed with `llvm.getelementptr inbounds`. `index` is `i64`.
Scalar integer and float types are unchanged.
"""

from __future__ import annotations

from functools import cache

from xdsl.dialects import cf, llvm
from xdsl.dialects.builtin import DenseArrayBase, IndexType, IntegerAttr, MemRefType, UnitAttr, i1, i32, i64
from xdsl.ir import Attribute, Block, Operation, SSAValue


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
    zero = constant(0)
    ok = icmp(address.results[0], zero.result, "ne")  # not NULL
    return [address, zero, ok, cf.AssertOp(ok.res, message)]


# Builders of the llvm ops the conversion makes most (constants, index arithmetic, addresses, loads,
# stores, comparisons, branches): `Operation.create` with attributes made once. The op is the one
# its IRDL `__init__` builds (the same properties, in the same order), at a third of the cost:
# `__init__` passes every operand, result and property through IRDL's generic argument building
# and makes each `IntegerAttr` anew, which verifies it (~30 µs an op; the MLP train step's
# conversion makes ~7,500 ops).

NO_FLAGS = IntegerAttr(0, 32)  # `overflowFlags` / `noWrapFlags`: none
NOT_ATOMIC = IntegerAttr(0, i64)  # a load's or store's `ordering`
ONE_SSA_INDEX = DenseArrayBase.from_list(i32, [llvm.GEP_USE_SSA_VAL])


@cache
def int_attr(value: int, t: Attribute) -> IntegerAttr:
    """`IntegerAttr(value, t)`, made once (attributes are immutable values)."""
    return IntegerAttr(value, t)


@cache
def _segments(*sizes: int) -> DenseArrayBase:
    return DenseArrayBase.from_list(i32, list(sizes))


def constant(value: int, t: Attribute = i64) -> llvm.ConstantOp:
    return llvm.ConstantOp.create(properties={"value": int_attr(value, t)}, result_types=[t])


def int_arith(cls: type[Operation], lhs: SSAValue, rhs: SSAValue, t: Attribute = i64) -> Operation:
    """`llvm.add`, `llvm.mul`, … without overflow flags, of type `t` (its operands may still be
    `index` values, which become `i64` later in the conversion)."""
    return cls.create(operands=[lhs, rhs], result_types=[t], properties={"overflowFlags": NO_FLAGS})


def icmp(lhs: SSAValue, rhs: SSAValue, predicate: str) -> llvm.ICmpOp:
    """A comparison of scalars."""
    p = int_attr(llvm.ICmpPredicateFlag(predicate).to_int(), i64)
    return llvm.ICmpOp.create(operands=[lhs, rhs], result_types=[i1], properties={"predicate": p})


def address(ptr: SSAValue, index: SSAValue, element_type: Attribute, inbounds: bool = True) -> llvm.GEPOp:
    """`llvm.getelementptr inbounds ptr[index]` over elements of `element_type` (without `inbounds`:
    an address that may lie outside the buffer, e.g. a prefetch's)."""
    props = {"rawConstantIndices": ONE_SSA_INDEX, "elem_type": element_type, "noWrapFlags": NO_FLAGS}
    return llvm.GEPOp.create(operands=[ptr, index], result_types=[llvm.LLVMPointerType()],
                             properties=props | ({"inbounds": UnitAttr()} if inbounds else {}))


def load(ptr: SSAValue, t: Attribute, alignment: int | None = None) -> llvm.LoadOp:
    props = {"ordering": NOT_ATOMIC} | ({} if alignment is None else {"alignment": int_attr(alignment, i64)})
    return llvm.LoadOp.create(operands=[ptr], result_types=[t], properties=props)


def store(value: SSAValue, ptr: SSAValue, alignment: int | None = None) -> llvm.StoreOp:
    props = {"ordering": NOT_ATOMIC} | ({} if alignment is None else {"alignment": int_attr(alignment, i64)})
    return llvm.StoreOp.create(operands=[value, ptr], properties=props)


def br(dest: Block, args) -> llvm.BrOp:
    return llvm.BrOp.create(operands=list(args), successors=[dest])


def cond_br(cond: SSAValue, then: Block, then_args, other: Block, other_args) -> llvm.CondBrOp:
    then_args, other_args = list(then_args), list(other_args)
    return llvm.CondBrOp.create(operands=[cond, *then_args, *other_args], successors=[then, other],
                                properties={"operandSegmentSizes": _segments(1, len(then_args), len(other_args))})


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
