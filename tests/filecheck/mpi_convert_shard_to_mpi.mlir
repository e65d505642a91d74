// convert-shard-to-mpi: each collective of the shard dialect becomes a call into libmpi on the
// communicator of its grid axes, on tensors (it runs right before loom-bufferize). What to look for:
//   - the operand's buffer (`bufferization.to_buffer ... read_only`) is sent; the result is a fresh
//     `memref.alloc` the call writes, turned back into a tensor by `bufferization.to_tensor`;
//   - the communicator is loaded from `@loom_mpi_comms[slot]` (slot of the ordered axes: [0] → 0,
//     [1] → 1, [0, 1] → 2, [1, 0] → 3 on a 2-axis grid), handles are MPICH's integers
//     (MPI_FLOAT = 1275069450, MPI_MAX = 1476395009, MPI_SUM = 1476395011);
//   - `@loom_mpi_site` names the collective while it runs (the watchdog reads it) and every call's
//     status is checked (`loom.assert`);
//   - gathering along axis 1 unpacks the device-major blocks with a transpose; scattering along
//     axis 1 packs them first; along axis 0 the layouts already agree (views only).
// RUN: loom opt %s -p convert-shard-to-mpi | filecheck %s
// No shard op (nor the grid) is left:
// RUN: loom opt %s -p convert-shard-to-mpi | filecheck %s --check-prefix=GONE
// GONE-NOT: = shard.
// GONE-NOT: shard.grid
// GONE-NOT: spmd.enter

shard.grid @M(shape = 2x2)

// CHECK-LABEL: func.func @reduce(%x: tensor<4x6xf32>) -> tensor<4x6xf32> {
// CHECK-NEXT:    [[SRC:%.*]] = bufferization.to_buffer %x read_only : tensor<4x6xf32> to memref<4x6xf32>
// CHECK-NEXT:    [[DST:%.*]] = memref.alloc() {alignment = 64 : i64} : memref<4x6xf32>
// CHECK-NEXT:    [[N:%.*]] = llvm.mlir.constant(24 : i32) : i32
// CHECK-NEXT:    [[FLOAT:%.*]] = llvm.mlir.constant(1275069450 : i32) : i32
// CHECK-NEXT:    [[MAX:%.*]] = llvm.mlir.constant(1476395009 : i32) : i32
// CHECK-NEXT:    [[T:%.*]] = llvm.mlir.addressof @loom_mpi_comms : !llvm.ptr
// CHECK-NEXT:    [[P:%.*]] = llvm.getelementptr inbounds [[T]][1] : (!llvm.ptr) -> !llvm.ptr, i32
// CHECK-NEXT:    [[COMM:%.*]] = llvm.load [[P]] : !llvm.ptr -> i32
// CHECK-NEXT:    [[SITE:%.*]] = llvm.mlir.addressof @loom_mpi_site : !llvm.ptr
// CHECK-NEXT:    [[NAME:%.*]] = llvm.mlir.addressof @loom_mpi_site.0 : !llvm.ptr
// CHECK-NEXT:    llvm.store [[NAME]], [[SITE]] : !llvm.ptr, !llvm.ptr
// CHECK-NEXT:    [[RC:%.*]] = llvm.call @MPI_Allreduce([[SRC]], [[DST]], [[N]], [[FLOAT]], [[MAX]], [[COMM]])
// CHECK-NEXT:    [[NULL:%.*]] = llvm.mlir.zero : !llvm.ptr
// CHECK-NEXT:    llvm.store [[NULL]], [[SITE]] : !llvm.ptr, !llvm.ptr
// CHECK:         loom.assert {{%.*}}[[[RC]] : i32], "shard.all_reduce over grid axes [1] failed: MPI_Allreduce returned MPI error {}"
// CHECK-NEXT:    %r = bufferization.to_tensor [[DST]] restrict : memref<4x6xf32> to tensor<4x6xf32>
// CHECK-NEXT:    func.return %r
func.func @reduce(%x: tensor<4x6xf32>) -> tensor<4x6xf32> {
  %r = shard.all_reduce %x on @M grid_axes = [1] reduction = max : tensor<4x6xf32> -> tensor<4x6xf32>
  func.return %r : tensor<4x6xf32>
}

// The blocks arrive device-major (2x4x6); the result wants them side by side along axis 1:
// CHECK-LABEL: func.func @gather(
// CHECK:         [[DST:%.*]] = memref.alloc() {alignment = 64 : i64} : memref<2x4x6xf32>
// CHECK:         llvm.call @MPI_Allgather({{%.*}}, [[N:%.*]], [[T:%.*]], [[DST]], [[N]], [[T]], {{%.*}})
// CHECK:         [[B:%.*]] = bufferization.to_tensor [[DST]] restrict : memref<2x4x6xf32> to tensor<2x4x6xf32>
// CHECK:         [[M:%.*]] = linalg.generic {indexing_maps = [affine_map<(d0, d1, d2) -> (d1, d0, d2)>, affine_map<(d0, d1, d2) -> (d0, d1, d2)>]{{.*}} ins([[B]] : tensor<2x4x6xf32>) outs({{%.*}} : tensor<4x2x6xf32>)
// CHECK:         %r = tensor.collapse_shape [[M]] {{\[}}[0 : i64], [1 : i64, 2 : i64]] : tensor<4x2x6xf32> into tensor<4x12xf32>
func.func @gather(%x: tensor<4x6xf32>) -> tensor<4x12xf32> {
  %r = shard.all_gather %x on @M grid_axes = [1] gather_axis = 1 : tensor<4x6xf32> -> tensor<4x12xf32>
  func.return %r : tensor<4x12xf32>
}

// Each device's part of axis 1 is packed device-major before the reduce-scatter:
// CHECK-LABEL: func.func @scatter(
// CHECK-NEXT:    [[E:%.*]] = tensor.expand_shape %x {{\[}}[0 : i64], [1 : i64, 2 : i64]] output_shape [4, 2, 3] : tensor<4x6xf32> into tensor<4x2x3xf32>
// CHECK:         [[P:%.*]] = linalg.generic {{.*}} ins([[E]] : tensor<4x2x3xf32>) outs({{%.*}} : tensor<2x4x3xf32>)
// CHECK:         [[SRC:%.*]] = bufferization.to_buffer [[P]] read_only : tensor<2x4x3xf32> to memref<2x4x3xf32>
// CHECK-NEXT:    [[DST:%.*]] = memref.alloc() {alignment = 64 : i64} : memref<4x3xf32>
// CHECK-NEXT:    llvm.mlir.constant(12 : i32)
// CHECK-NEXT:    llvm.mlir.constant(1275069450 : i32)
// CHECK-NEXT:    llvm.mlir.constant(1476395011 : i32)
// CHECK:         llvm.getelementptr inbounds {{%.*}}[0]
// CHECK:         llvm.call @MPI_Reduce_scatter_block([[SRC]], [[DST]],
func.func @scatter(%x: tensor<4x6xf32>) -> tensor<4x3xf32> {
  %r = shard.reduce_scatter %x on @M grid_axes = [0] scatter_axis = 1 : tensor<4x6xf32> -> tensor<4x3xf32>
  func.return %r : tensor<4x3xf32>
}

// Split along axis 1 (packed), concatenated along axis 0 (a view of the received blocks):
// CHECK-LABEL: func.func @alltoall(
// CHECK:         linalg.generic
// CHECK:         [[DST:%.*]] = memref.alloc() {alignment = 64 : i64} : memref<2x4x3xf32>
// CHECK:         llvm.call @MPI_Alltoall(
// CHECK:         [[R:%.*]] = bufferization.to_tensor [[DST]]
// CHECK-NEXT:    %r = tensor.collapse_shape [[R]] {{\[}}[0 : i64, 1 : i64], [2 : i64]] : tensor<2x4x3xf32> into tensor<8x3xf32>
func.func @alltoall(%x: tensor<4x6xf32>) -> tensor<8x3xf32> {
  %r = shard.all_to_all %x on @M grid_axes = [0] split_axis = 1 concat_axis = 0 : tensor<4x6xf32> -> tensor<8x3xf32>
  func.return %r : tensor<8x3xf32>
}

// A copy of x is broadcast in place from device 1 of the group:
// CHECK-LABEL: func.func @bcast(
// CHECK-NEXT:    [[DST:%.*]] = memref.alloc() {alignment = 64 : i64} : memref<4x6xf32>
// CHECK-NEXT:    [[SRC:%.*]] = bufferization.to_buffer %x read_only
// CHECK-NEXT:    "memref.copy"([[SRC]], [[DST]])
// CHECK:         [[ROOT:%.*]] = llvm.mlir.constant(1 : i32) : i32
// CHECK:         llvm.call @MPI_Bcast([[DST]], {{%.*}}, {{%.*}}, [[ROOT]], {{%.*}})
func.func @bcast(%x: tensor<4x6xf32>) -> tensor<4x6xf32> {
  %r = shard.broadcast %x on @M grid_axes = [0] root = [1] : (tensor<4x6xf32>) -> tensor<4x6xf32>
  func.return %r : tensor<4x6xf32>
}

// Send to (i + 1) mod 2, receive from (i - 1) mod 2, i = this device's index in the group:
// CHECK-LABEL: func.func @shift(
// CHECK-NEXT:    [[T:%.*]] = llvm.mlir.addressof @loom_mpi_ranks : !llvm.ptr
// CHECK-NEXT:    [[P:%.*]] = llvm.getelementptr inbounds [[T]][1]
// CHECK-NEXT:    [[I:%.*]] = llvm.load [[P]] : !llvm.ptr -> i32
// CHECK:         [[TO:%.*]] = arith.remui
// CHECK:         [[FROM:%.*]] = arith.remui
// CHECK:         llvm.call @MPI_Sendrecv({{%.*}}, {{%.*}}, {{%.*}}, [[TO]], {{%.*}}, {{%.*}}, {{%.*}}, {{%.*}}, [[FROM]],
func.func @shift(%x: tensor<4x6xf32>) -> tensor<4x6xf32> {
  %r = shard.shift %x on @M grid_axes = [1] shift_axis = 1 offset = 1 rotate : tensor<4x6xf32> -> tensor<4x6xf32>
  func.return %r : tensor<4x6xf32>
}
func.func @slice(%x: tensor<4x6xf32>) -> tensor<1x6xf32> {

// No communication: this device's slice, at its index in the group of axes [1, 0] (slot 3):
// CHECK-LABEL: func.func @slice(
// CHECK-NEXT:    [[T:%.*]] = llvm.mlir.addressof @loom_mpi_ranks : !llvm.ptr
// CHECK-NEXT:    [[P:%.*]] = llvm.getelementptr inbounds [[T]][3]
// CHECK-NOT:     llvm.call
// CHECK:         linalg.generic
// CHECK:         tensor.extract %x
  %e = spmd.enter %x on @M grid_axes = [0, 1] : tensor<4x6xf32>
  %r = shard.all_slice %e on @M grid_axes = [1, 0] slice_axis = 0 : tensor<4x6xf32> -> tensor<1x6xf32>
  func.return %r : tensor<1x6xf32>
}
func.func @where() -> (index, index) {
  %i = shard.process_linear_index on @M : index
  %n = shard.grid_shape @M axes = [1] : index
  func.return %i, %n : index, index
}

// CHECK-LABEL: func.func @where() -> (index, index) {
// CHECK-NEXT:    [[T:%.*]] = llvm.mlir.addressof @loom_mpi_ranks : !llvm.ptr
// CHECK-NEXT:    [[P:%.*]] = llvm.getelementptr inbounds [[T]][2]
// CHECK-NEXT:    [[R:%.*]] = llvm.load [[P]] : !llvm.ptr -> i32
// CHECK-NEXT:    %i = arith.index_cast [[R]] : i32 to index
// CHECK-NEXT:    %n = arith.constant 2 : index

// CHECK: llvm.mlir.global external @loom_mpi_comms() {addr_space = 0 : i32} : !llvm.array<64 x i32>
// CHECK: llvm.func @MPI_Allreduce(!llvm.ptr, !llvm.ptr, i32, i32, i32, i32) -> i32
// CHECK: llvm.mlir.global external @loom_mpi_site() {addr_space = 0 : i32} : !llvm.ptr
// CHECK: llvm.mlir.global internal constant @loom_mpi_site.0("shard.all_reduce over grid axes [1]\00")
