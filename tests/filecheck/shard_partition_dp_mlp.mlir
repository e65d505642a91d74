// shard-partition, data parallelism: the batch is split over dp, the weights are replicated.
// Each device runs the MLP on its rows with no communication; the mean loss (a sum over the
// split batch) is a pending sum, reduced by one all_reduce (of a tensor<1xf32>: a scalar travels
// as a one-element tensor) where the whole value is returned. The activations are never gathered.
// RUN: loom opt %s -p shard-partition | filecheck %s
// RUN: loom opt %s -p shard-partition | filecheck %s --check-prefix=COUNT
// COUNT-COUNT-1: shard.all_reduce
// COUNT-NOT: shard.all_gather
// COUNT-NOT: shard.all_to_all

shard.grid @M(shape = 4) {loom.axes = ["dp"]}

// CHECK-LABEL: func.func @loss(%x: tensor<16x8xf32>, %w1: tensor<8x32xf32>, %w2: tensor<32x4xf32>) -> f32 {
// CHECK-NEXT:    [[X:%.*]] = spmd.enter %x on @M grid_axes = [0] : tensor<16x8xf32>
// CHECK-NEXT:    [[XB:%.*]] = shard.all_slice [[X]] on @M grid_axes = [0] slice_axis = 0 {loom.reason = "argument #0 (%x) of @loss arrives replicated on every device; its sharding is (dp, _)"} : tensor<16x8xf32> -> tensor<4x8xf32>
// CHECK-NEXT:    [[W1:%.*]] = spmd.enter %w1 on @M grid_axes = [0] : tensor<8x32xf32>
// CHECK-NEXT:    [[W2:%.*]] = spmd.enter %w2 on @M grid_axes = [0] : tensor<32x4xf32>
// CHECK-NEXT:    [[H:%.*]] = loom.matmul [[XB]], [[W1]] : (tensor<4x8xf32>, tensor<8x32xf32>) -> tensor<4x32xf32>
// CHECK-NEXT:    [[A:%.*]] = loom.relu [[H]] : (tensor<4x32xf32>) -> tensor<4x32xf32>
// CHECK-NEXT:    [[Y:%.*]] = loom.matmul [[A]], [[W2]] : (tensor<4x32xf32>, tensor<32x4xf32>) -> tensor<4x4xf32>
// CHECK-NEXT:    [[SQ:%.*]] = loom.mul [[Y]], [[Y]] : (tensor<4x4xf32>, tensor<4x4xf32>) -> tensor<4x4xf32>
// CHECK-NEXT:    [[S:%.*]] = loom.mean [[SQ]] {axes = array<i64: 0, 1>} : (tensor<4x4xf32>) -> f32
// CHECK-NEXT:    [[N:%.*]] = arith.constant 4.000000e+00 : f32
// CHECK-NEXT:    [[L:%.*]] = loom.div [[S]], [[N]] : (f32, f32) -> f32
// CHECK-NEXT:    [[T:%.*]] = loom.reshape [[L]] : (f32) -> tensor<1xf32>
// CHECK-NEXT:    [[R:%.*]] = shard.all_reduce [[T]] on @M grid_axes = [0] {loom.reason = "func.return at dp.loom:6:5: result #0 (%loss) is partial sum over dp but the function returns it whole"} : tensor<1xf32> -> tensor<1xf32>
// CHECK-NEXT:    [[V:%.*]] = loom.reshape [[R]] : (tensor<1xf32>) -> f32
// CHECK-NEXT:    [[E:%.*]] = spmd.exit [[V]] on @M grid_axes = [0] : f32
// CHECK-NEXT:    func.return [[E]] : f32
func.func @loss(%x: tensor<16x8xf32>, %w1: tensor<8x32xf32>, %w2: tensor<32x4xf32>) -> f32 attributes {
    spmd.arg_shardings = [#spmd.sharding<@M, [[0], []]>, #spmd.sharding<@M, [[], []]>, #spmd.sharding<@M, [[], []]>],
    spmd.res_shardings = [#spmd.sharding<@M, []>]} {
  %0 = spmd.sharding_constraint %x <@M, [[0], []]> {kind = "param", spmd.shardings = [#spmd.sharding<@M, [[0], []]>]} : tensor<16x8xf32>
  %1 = loom.matmul %0, %w1 {spmd.shardings = [#spmd.sharding<@M, [[0], []]>]} : (tensor<16x8xf32>, tensor<8x32xf32>) -> tensor<16x32xf32>
  %2 = loom.relu %1 {spmd.shardings = [#spmd.sharding<@M, [[0], []]>]} : (tensor<16x32xf32>) -> tensor<16x32xf32>
  %3 = loom.matmul %2, %w2 {spmd.shardings = [#spmd.sharding<@M, [[0], []]>]} : (tensor<16x32xf32>, tensor<32x4xf32>) -> tensor<16x4xf32>
  %4 = loom.mul %3, %3 {spmd.shardings = [#spmd.sharding<@M, [[0], []]>]} : (tensor<16x4xf32>, tensor<16x4xf32>) -> tensor<16x4xf32>
  %loss = loom.mean %4 {axes = array<i64: 0, 1>, spmd.shardings = [#spmd.sharding<@M, [], partial = sum [0]>]} : (tensor<16x4xf32>) -> f32
  func.return %loss : f32 loc("dp.loom":6:5)
}
