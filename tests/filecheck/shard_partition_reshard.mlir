// shard-partition, a reshard from rows to columns: `reshard(x, (_, dp))` of a value split (dp, _)
// is ONE all_to_all (each device sends the parts of its rows that belong to the others'
// columns), never an all_gather to the whole value followed by a slice. Its reason names the
// reshard's location and both shardings.
// RUN: loom opt %s -p shard-partition | filecheck %s
// RUN: loom opt %s -p shard-partition | filecheck %s --check-prefix=COUNT
// COUNT-COUNT-1: shard.all_to_all
// COUNT-NOT: shard.all_to_all
// COUNT-NOT: shard.all_reduce
// COUNT-COUNT-1: shard.all_gather
// COUNT-NOT: shard.all_gather

shard.grid @M(shape = 4) {loom.axes = ["dp"]}

// CHECK-LABEL: func.func @f(%x: tensor<8x16xf32>) -> tensor<8x16xf32> {
// CHECK-NEXT:    [[X:%.*]] = spmd.enter %x on @M grid_axes = [0] : tensor<8x16xf32>
// CHECK-NEXT:    [[XB:%.*]] = shard.all_slice [[X]] on @M grid_axes = [0] slice_axis = 0 {{.*}} : tensor<8x16xf32> -> tensor<2x16xf32>
// CHECK-NEXT:    [[E:%.*]] = loom.exp [[XB]] : (tensor<2x16xf32>) -> tensor<2x16xf32>
// CHECK-NEXT:    [[T:%.*]] = shard.all_to_all [[E]] on @M grid_axes = [0] split_axis = 1 concat_axis = 0 {loom.reason = "reshard at f.loom:3:9: operand #0 (%e) is (dp, _) but the op needs (_, dp)"} : tensor<2x16xf32> -> tensor<8x4xf32>
// CHECK-NEXT:    [[N:%.*]] = loom.neg [[T]] : (tensor<8x4xf32>) -> tensor<8x4xf32>
// CHECK-NEXT:    [[G:%.*]] = shard.all_gather [[N]] on @M grid_axes = [0] gather_axis = 1 {{.*}} : tensor<8x4xf32> -> tensor<8x16xf32>
// CHECK-NEXT:    [[R:%.*]] = spmd.exit [[G]] on @M grid_axes = [0] : tensor<8x16xf32>
// CHECK-NEXT:    func.return [[R]] : tensor<8x16xf32>
func.func @f(%x: tensor<8x16xf32>) -> tensor<8x16xf32> attributes {
    spmd.arg_shardings = [#spmd.sharding<@M, [[0], []]>], spmd.res_shardings = [#spmd.sharding<@M, [[], [0]]>]} {
  %e = loom.exp %x {spmd.shardings = [#spmd.sharding<@M, [[0], []]>]} : (tensor<8x16xf32>) -> tensor<8x16xf32>
  %t = spmd.sharding_constraint %e <@M, [[], [0]]> {kind = "reshard", spmd.shardings = [#spmd.sharding<@M, [[], [0]]>]} : tensor<8x16xf32> loc("f.loom":3:9)
  %n = loom.neg %t {spmd.shardings = [#spmd.sharding<@M, [[], [0]]>]} : (tensor<8x16xf32>) -> tensor<8x16xf32>
  func.return %n : tensor<8x16xf32>
}
