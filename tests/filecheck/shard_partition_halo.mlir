// shard-partition, a static slice along a split dimension: x[2:14] of a tensor<16xf32> split over
// the 4 devices of dp (block 4, result block 3). Device j's part starts at 2 − j in its block, so
// devices 1–3 need their left neighbour's last element and device 0 its right neighbour's first:
// two `shard.shift`s of one element (no `rotate`: the end devices' undefined halos are never
// read), a concat [left, block, right] and a window of 3 at offset 3 − j. The result stays split;
// no all_gather but the one that assembles the function's result.
// RUN: loom opt %s -p shard-partition | filecheck %s
// RUN: loom opt %s -p shard-partition | filecheck %s --check-prefix=COUNT
// COUNT-COUNT-2: shard.shift
// COUNT-NOT: shard.shift
// COUNT-COUNT-1: shard.all_gather
// COUNT-NOT: shard.all_gather

shard.grid @M(shape = 4) {loom.axes = ["dp"]}

// CHECK-LABEL: func.func @f(%x: tensor<16xf32>) -> tensor<12xf32> {
// CHECK:         [[B:%.*]] = shard.all_slice {{%.*}} on @M grid_axes = [0] slice_axis = 0 {{.*}} : tensor<16xf32> -> tensor<4xf32>
// CHECK-NEXT:    [[HI:%.*]] = loom.slice [[B]] {kinds = array<i64: 0>, starts = array<i64: 3>, stops = array<i64: 4>, steps = array<i64: 1>} : (tensor<4xf32>) -> tensor<1xf32>
// CHECK-NEXT:    [[L:%.*]] = shard.shift [[HI]] on @M grid_axes = [0] shift_axis = 0 offset = 1 {loom.reason = "loom.slice at f.loom:3:12: operand #0 (%x) is (dp,) and the slice [2:14] of dimension 0 crosses its blocks: each device sends its last 1 element(s) to its right neighbour over dp (a halo exchange instead of an all_gather)"} : tensor<1xf32> -> tensor<1xf32>
// CHECK-NEXT:    [[LO:%.*]] = loom.slice [[B]] {kinds = array<i64: 0>, starts = array<i64: 0>, stops = array<i64: 1>, steps = array<i64: 1>} : (tensor<4xf32>) -> tensor<1xf32>
// CHECK-NEXT:    [[R:%.*]] = shard.shift [[LO]] on @M grid_axes = [0] shift_axis = 0 offset = -1 {loom.reason = "{{.*}} sends its first 1 element(s) to its left neighbour over dp {{.*}}"} : tensor<1xf32> -> tensor<1xf32>
// CHECK-NEXT:    [[E:%.*]] = loom.concat [[L]], [[B]], [[R]] {axis = array<i64: 0>} : (tensor<1xf32>, tensor<4xf32>, tensor<1xf32>) -> tensor<6xf32>
// CHECK-NEXT:    [[J:%.*]] = shard.process_multi_index on @M axes = [0] : index
// CHECK-NEXT:    [[JI:%.*]] = arith.index_cast [[J]] : index to i64
// CHECK-NEXT:    [[C3:%.*]] = arith.constant 3 : i64
// CHECK-NEXT:    [[CM1:%.*]] = arith.constant -1 : i64
// CHECK-NEXT:    [[D:%.*]] = loom.mul [[JI]], [[CM1]] : (i64, i64) -> i64
// CHECK-NEXT:    [[OFF:%.*]] = loom.add [[C3]], [[D]] : (i64, i64) -> i64
// CHECK-NEXT:    %y = loom.slice [[E]][[[OFF]]] {kinds = array<i64: 1>, starts = array<i64: -9223372036854775808>, stops = array<i64: 3>, steps = array<i64: 1>} : (tensor<6xf32>, i64) -> tensor<3xf32>
// CHECK-NEXT:    {{%.*}} = shard.all_gather %y on @M grid_axes = [0] gather_axis = 0 {loom.reason = "func.return{{.*}}"} : tensor<3xf32> -> tensor<12xf32>
func.func @f(%x: tensor<16xf32>) -> tensor<12xf32> attributes {
    spmd.arg_shardings = [#spmd.sharding<@M, [[0]]>], spmd.res_shardings = [#spmd.sharding<@M, [[0]]>]} {
  %y = loom.slice %x {kinds = array<i64: 0>, starts = array<i64: 2>, stops = array<i64: 14>, steps = array<i64: 1>, spmd.shardings = [#spmd.sharding<@M, [[0]]>]} : (tensor<16xf32>) -> tensor<12xf32> loc("f.loom":3:12)
  func.return %y : tensor<12xf32>
}
