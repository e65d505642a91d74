// shard-partition, Megatron-style tensor parallelism: W1 split by columns and W2 by rows over tp.
// x @ W1 and the bias and relu are local (each device has its columns of the hidden layer);
// h @ W2 contracts the split dimension, so each device holds a partial sum, and exactly one
// all_reduce makes it whole before the bias b2 (which is not linear in it) is added.
// RUN: loom opt %s -p shard-partition | filecheck %s
// RUN: loom opt %s -p shard-partition | filecheck %s --check-prefix=COUNT
// COUNT-COUNT-1: shard.all_reduce
// COUNT-NOT: shard.all_reduce
// COUNT-NOT: shard.all_gather
// COUNT-NOT: shard.all_to_all
// COUNT-NOT: shard.reduce_scatter

shard.grid @M(shape = 2) {loom.axes = ["tp"]}

// CHECK-LABEL: func.func @mlp(
// CHECK:         [[W1:%.*]] = shard.all_slice {{.*}} slice_axis = 1 {{.*}} : tensor<8x32xf32> -> tensor<8x16xf32>
// CHECK:         [[B1:%.*]] = shard.all_slice {{.*}} slice_axis = 0 {{.*}} : tensor<32xf32> -> tensor<16xf32>
// CHECK:         [[W2:%.*]] = shard.all_slice {{.*}} slice_axis = 0 {{.*}} : tensor<32x8xf32> -> tensor<16x8xf32>
// CHECK:         [[H:%.*]] = loom.matmul %{{.*}}, [[W1]] : (tensor<4x8xf32>, tensor<8x16xf32>) -> tensor<4x16xf32>
// CHECK-NEXT:    [[HB:%.*]] = loom.add [[H]], [[B1]] : (tensor<4x16xf32>, tensor<16xf32>) -> tensor<4x16xf32>
// CHECK-NEXT:    [[A:%.*]] = loom.relu [[HB]] : (tensor<4x16xf32>) -> tensor<4x16xf32>
// CHECK-NEXT:    [[Y:%.*]] = loom.matmul [[A]], [[W2]] : (tensor<4x16xf32>, tensor<16x8xf32>) -> tensor<4x8xf32>
// CHECK-NEXT:    [[R:%.*]] = shard.all_reduce [[Y]] on @M grid_axes = [0] {loom.reason = "loom.add at mlp.loom:9:12: operand #0 (%y) is partial sum over tp but the op needs replicated"} : tensor<4x8xf32> -> tensor<4x8xf32>
// CHECK-NEXT:    [[Z:%.*]] = loom.add [[R]], %{{.*}} : (tensor<4x8xf32>, tensor<8xf32>) -> tensor<4x8xf32>
// CHECK-NEXT:    [[E:%.*]] = spmd.exit [[Z]] on @M grid_axes = [0] : tensor<4x8xf32>
// CHECK-NEXT:    func.return [[E]] : tensor<4x8xf32>
func.func @mlp(%x: tensor<4x8xf32>, %w1: tensor<8x32xf32>, %b1: tensor<32xf32>, %w2: tensor<32x8xf32>,
               %b2: tensor<8xf32>) -> tensor<4x8xf32> attributes {
    spmd.arg_shardings = [#spmd.sharding<@M, [[], []]>, #spmd.sharding<@M, [[], [0]]>, #spmd.sharding<@M, [[0]]>,
                          #spmd.sharding<@M, [[0], []]>, #spmd.sharding<@M, [[]]>],
    spmd.res_shardings = [#spmd.sharding<@M, [[], []]>]} {
  %h = loom.matmul %x, %w1 {spmd.shardings = [#spmd.sharding<@M, [[], [0]]>]} : (tensor<4x8xf32>, tensor<8x32xf32>) -> tensor<4x32xf32>
  %hb = loom.add %h, %b1 {spmd.shardings = [#spmd.sharding<@M, [[], [0]]>]} : (tensor<4x32xf32>, tensor<32xf32>) -> tensor<4x32xf32>
  %a = loom.relu %hb {spmd.shardings = [#spmd.sharding<@M, [[], [0]]>]} : (tensor<4x32xf32>) -> tensor<4x32xf32>
  %y = loom.matmul %a, %w2 {spmd.shardings = [#spmd.sharding<@M, [[], []], partial = sum [0]>]} : (tensor<4x32xf32>, tensor<32x8xf32>) -> tensor<4x8xf32>
  %z = loom.add %y, %b2 {spmd.shardings = [#spmd.sharding<@M, [[], []]>]} : (tensor<4x8xf32>, tensor<8xf32>) -> tensor<4x8xf32> loc("mlp.loom":9:12)
  func.return %z : tensor<4x8xf32>
}
