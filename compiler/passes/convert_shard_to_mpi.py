"""`convert-shard-to-mpi`: the `shard` dialect's collectives → calls into libmpi.

Runs on tensors, right before `loom-bufferize` (as upstream MLIR's ShardToMPI does): each
collective becomes its communication on buffers between `bufferization.to_buffer` (the operand's
buffer, read only) and `bufferization.to_tensor` (a fresh `memref.alloc` the call writes), with
any re-layout around it as `linalg.generic` transposes on tensors, which the rest of the pipeline
bufferizes, fuses and frees like any other op:

    shard.grid @M(shape = 2) {loom.axes = ["dp"]}
    %r = shard.all_reduce %x on @M grid_axes = [0] : tensor<4x3xf32> -> tensor<4x3xf32>
  ↓ (`loom opt -p convert-shard-to-mpi`, verbatim)
    %0 = bufferization.to_buffer %x read_only : tensor<4x3xf32> to memref<4x3xf32>
    %1 = memref.alloc() {alignment = 64 : i64} : memref<4x3xf32>
    %2 = llvm.mlir.constant(12 : i32) : i32                  // count
    %3 = llvm.mlir.constant(1275069450 : i32) : i32          // MPI_FLOAT (mpich's ABI)
    %4 = llvm.mlir.constant(1476395011 : i32) : i32          // MPI_SUM
    %5 = llvm.mlir.addressof @loom_mpi_comms : !llvm.ptr
    %6 = llvm.getelementptr inbounds %5[0] : (!llvm.ptr) -> !llvm.ptr, i32   // slot of axes [0]
    %7 = llvm.load %6 : !llvm.ptr -> i32
    %8 = llvm.mlir.addressof @loom_mpi_site : !llvm.ptr
    %9 = llvm.mlir.addressof @loom_mpi_site.0 : !llvm.ptr
    llvm.store %9, %8 : !llvm.ptr, !llvm.ptr                 // "which collective", for the watchdog
    %10 = llvm.call @MPI_Allreduce(%0, %1, %2, %3, %4, %7) : (memref<4x3xf32>, memref<4x3xf32>, i32, i32, i32, i32) -> i32
    %11 = llvm.mlir.zero : !llvm.ptr
    llvm.store %11, %8 : !llvm.ptr, !llvm.ptr
    %12 = arith.constant 0 : i32
    %13 = arith.cmpi eq, %10, %12 : i32
    loom.assert %13[%10 : i32], "shard.all_reduce over grid axes [0] failed: MPI_Allreduce returned MPI error {}"
    %r = bufferization.to_tensor %1 restrict : memref<4x3xf32> to tensor<4x3xf32>
    ...
    llvm.mlir.global external @loom_mpi_comms() {addr_space = 0 : i32} : !llvm.array<64 x i32>
    llvm.func @MPI_Allreduce(!llvm.ptr, !llvm.ptr, i32, i32, i32, i32) -> i32

A collective along a tensor axis other than 0 (all_gather, reduce_scatter, all_to_all) also packs or
unpacks its device-major blocks with a `linalg.generic` transpose around the call.

Per op: `all_reduce` → `MPI_Allreduce`; `all_gather` → `MPI_Allgather` (+ unpacking unless along
axis 0); `reduce_scatter` → `MPI_Reduce_scatter_block` (+ packing unless along axis 0);
`all_to_all` → `MPI_Alltoall` (+ packing/unpacking unless split/concat is axis 0); `broadcast` →
a copy and `MPI_Bcast`; `shift` → `MPI_Sendrecv` (without `rotate`, `MPI_PROC_NULL` at the ends: a
device without a source keeps an undefined result, as upstream defines it); `all_slice` → a local slice at this device's
in-group index; `process_multi_index`/`process_linear_index` → in-group indices from
`loom_mpi_ranks`; `grid_shape` → constants; `spmd.enter`/`spmd.exit` → their operand. The
communicator of an ordered set of mesh axes is slot `runtime.mpi.comm_slot(axes)` of the global
`loom_mpi_comms` (`runtime/mpi.py` fills it at start-up); handles and datatypes come from the one
ABI table `runtime/mpi_abi.py`. Communicators return errors (`MPI_ERRORS_RETURN`): every call's
status is checked, so a failing call is a Loom run-time error at the collective's location.
"""

from __future__ import annotations

from dataclasses import dataclass

from xdsl.context import Context
from xdsl.dialects.builtin import ModuleOp
from xdsl.passes import ModulePass

from dialects import DISTRIBUTED_DIALECTS  # the ops this pass lowers (`compiler/passes/mpi_collectives.py`)


@dataclass(frozen=True)
class ConvertShardToMpi(ModulePass):
    name = "convert-shard-to-mpi"

    def apply(self, ctx: Context, op: ModuleOp) -> None:
        if not any(o.dialect_name() in DISTRIBUTED_DIALECTS for o in op.walk()):
            return  # nothing distributed: the rules (and the MPI and shard dialects) are not imported
        from compiler.passes.mpi_collectives import lower

        lower(op)
