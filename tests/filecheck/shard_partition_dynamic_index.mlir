// shard-partition, x[i] at a run-time i of a tensor<16384xf32> split over the 4 devices of dp: the
// index is range-checked as unpartitioned (same message), made non-negative, and taken relative
// to this device's block (4096 · its index); the device whose block holds it reads it at the
// local position, the others (at a clamped position 0) contribute zero, and one all_reduce of the
// 4-byte result replaces an all_gather of the 64 KiB operand (the cost model's choice).
// RUN: loom opt %s -p shard-partition | filecheck %s
// RUN: loom opt %s -p shard-partition | filecheck %s --check-prefix=COUNT
// COUNT-COUNT-1: shard.all_reduce
// COUNT-NOT: shard.all_reduce
// COUNT-NOT: shard.all_gather

shard.grid @M(shape = 4) {loom.axes = ["dp"]}

// CHECK-LABEL: func.func @f(%x: tensor<16384xf32>, %i: i64) -> f32 {
// CHECK:         [[B:%.*]] = shard.all_slice {{%.*}} on @M grid_axes = [0] slice_axis = 0 {{.*}} : tensor<16384xf32> -> tensor<4096xf32>
// CHECK-NEXT:    [[I:%.*]] = spmd.enter %i on @M grid_axes = [0] : i64
// CHECK:         loom.assert {{%.*}}[[[I]] : i64], "index {} is out of range for axis 0 of size 16384"
// CHECK:         [[G:%.*]] = loom.select {{%.*}}, {{%.*}}, [[I]] : (i1, i64, i64) -> i64
// CHECK-NEXT:    [[J:%.*]] = shard.process_multi_index on @M axes = [0] : index
// CHECK-NEXT:    [[JI:%.*]] = arith.index_cast [[J]] : index to i64
// CHECK-NEXT:    [[M:%.*]] = arith.constant 4096 : i64
// CHECK-NEXT:    [[START:%.*]] = loom.mul [[JI]], [[M]] : (i64, i64) -> i64
// CHECK-NEXT:    [[REL:%.*]] = loom.sub [[G]], [[START]] : (i64, i64) -> i64
// CHECK:         [[IN:%.*]] = loom.and {{%.*}}, {{%.*}} : (i1, i1) -> i1
// CHECK-NEXT:    [[ZERO:%.*]] = arith.constant 0 : i64
// CHECK-NEXT:    [[LI:%.*]] = loom.select [[IN]], [[REL]], [[ZERO]] : (i1, i64, i64) -> i64
// CHECK-NEXT:    [[V:%.*]] = loom.slice [[B]][[[LI]]] {kinds = array<i64: 3>, {{.*}}} : (tensor<4096xf32>, i64) -> f32
// CHECK-NEXT:    [[Z:%.*]] = arith.constant -0.000000e+00 : f32
// CHECK-NEXT:    [[MINE:%.*]] = loom.select [[IN]], [[V]], [[Z]] : (i1, f32, f32) -> f32
// CHECK-NEXT:    [[T:%.*]] = loom.reshape [[MINE]] : (f32) -> tensor<1xf32>
// CHECK-NEXT:    [[S:%.*]] = shard.all_reduce [[T]] on @M grid_axes = [0] {loom.reason = "loom.slice at f.loom:3:12: operand #0 (%x) is (dp,) and the index of dimension(s) 0 picks one device's element: it sends it, the others zero (an all_reduce of the result instead of an all_gather of the operand)"} : tensor<1xf32> -> tensor<1xf32>
// CHECK-NEXT:    %y = loom.reshape [[S]] : (tensor<1xf32>) -> f32
func.func @f(%x: tensor<16384xf32>, %i: i64) -> f32 attributes {
    spmd.arg_shardings = [#spmd.sharding<@M, [[0]]>, #spmd.sharding<@M, []>], spmd.res_shardings = [#spmd.sharding<@M, []>]} {
  %y = loom.slice %x[%i] {kinds = array<i64: 3>, starts = array<i64: 0>, stops = array<i64: 0>, steps = array<i64: 1>, spmd.shardings = [#spmd.sharding<@M, []>]} : (tensor<16384xf32>, i64) -> f32 loc("f.loom":3:12)
  func.return %y : f32
}
