"""Whole-module verification in time linear in the IR's size (issue 9).

xDSL's `Operation.verify` checks each block's last op against `len(region.blocks)`, and a region's
block list is a linked list, so verifying a region of B blocks costs O(B^2): after `loom-scf-to-cf`
a long function has thousands of blocks. `first_failure` makes the same checks as xDSL's
`Operation.verify` / `Block.verify` / `Region.verify` in one pre-order walk, counting each
region's blocks once, and reports the first op that fails (the op whose location names the
mistake). Every op still runs its own verifier (`verify_`: the IRDL constraints, traits and
custom checks); only the last op of a block, when its class does not override `verify`, has the
structural part of `Operation.verify` done here with the precomputed count.

It also checks what xDSL 0.74 does not: an operand defined in the same block (or the block of an
enclosing op) must be defined before its use, and the value's block must lie in a region that
encloses the use. (Dominance across the blocks of one CFG region is not checked.)
"""

from __future__ import annotations

from xdsl.ir import Block, BlockArgument, Operation, OpResult, Region, SSAValue
from xdsl.ir.core import ErasedSSAValue
from xdsl.traits import IsTerminator, NoTerminator
from xdsl.utils.exceptions import VerifyException


class _Failure(Exception):
    def __init__(self, op: Operation, message: str):
        super().__init__(message)
        self.op, self.message = op, message


def first_failure(root: Operation) -> tuple[Operation, str] | None:
    """The first op (pre-order) that does not verify and the first line of why, or None."""
    try:
        _Walker().op(root, None)
    except _Failure as f:
        return f.op, f.message
    return None


def _first_line(e: Exception) -> str:
    return str(e).splitlines()[0] if str(e) else "verification failed"


class _Walker:
    def __init__(self):
        self.seen: set[Operation] = set()  # ops visited so far, in pre-order

    def op(self, op: Operation, blocks_in_parent_region: int | None) -> None:
        self.seen.add(op)
        try:
            block = op.parent
            if blocks_in_parent_region is None or block.last_op is not op or type(op).verify is not Operation.verify:
                op.verify(verify_nested_ops=False)  # no block count needed (or a custom verify)
            else:
                _verify_last_op(op, block, blocks_in_parent_region)
            self.operands_defined_before(op)
        except (VerifyException, ValueError) as e:
            raise _Failure(op, _first_line(e)) from None
        for region in op.regions:
            self.region(region, op)

    def region(self, region: Region, owner: Operation) -> None:
        count = 0
        for _ in region.blocks:
            count += 1
        for block in region.blocks:
            if block.parent is not region:
                raise _Failure(owner, "Parent pointer of block does not refer to containing region")
            if block.first_op is None and count == 1 and not owner.has_trait(NoTerminator):
                raise _Failure(owner, f"Operation {owner.name} contains empty block in single-block region "
                                      "that expects at least a terminator")
            for op in block.ops:
                if op.parent is not block:
                    raise _Failure(op, "Parent pointer of operation does not refer to containing region")
                self.op(op, count)

    def operands_defined_before(self, op: Operation) -> None:
        for i, value in enumerate(op.operands):
            where = _defining_block(value)
            if where is None:
                continue
            user = op  # the op, or the ancestor of it, that lies in the value's block
            while user is not None and user.parent is not where:
                user = user.parent_op()
            if user is None:
                if not _encloses(where.parent, op):
                    raise VerifyException(f"operand #{i} of '{op.name}' is defined in a region that does not "
                                          "enclose its use")
            elif isinstance(value, OpResult) and (value.op is user or value.op not in self.seen):
                raise VerifyException(f"operand #{i} of '{op.name}' is used before it is defined")


def _defining_block(value: SSAValue) -> Block | None:
    if isinstance(value, OpResult):
        return value.op.parent
    if isinstance(value, BlockArgument):
        return value.block
    return None


def _encloses(region: Region | None, op: Operation) -> bool:
    r = op.parent_region()
    while r is not None and r is not region:
        owner = r.parent
        r = owner.parent_region() if owner is not None else None
    return r is not None


def _verify_last_op(op: Operation, block: Block, blocks_in_region: int) -> None:
    """`Operation.verify(verify_nested_ops=False)` for the last op of a block of a region of
    `blocks_in_region` blocks (xDSL recounts them, walking the region's block list)."""
    for operand in op.operands:
        if isinstance(operand, ErasedSSAValue):
            raise ValueError("Erased SSA value is used by the operation")
    region = block.parent
    for succ in op.successors:
        if succ.parent != region:
            raise VerifyException(f"Operation {op.name} is branching to a block of a different region")
    if not op.has_trait(IsTerminator):
        if blocks_in_region > 1:
            raise VerifyException(f"Operation {op.name} terminates block in multi-block region but is not a "
                                  "terminator")
        if (owner := region.parent) is not None and not owner.has_trait(NoTerminator):
            raise VerifyException(f"Operation {op.name} terminates block in single-block region but is not a "
                                  "terminator")
    try:
        op.verify_()
    except VerifyException as err:
        op.emit_error(f"Operation does not verify: {err}", err)
