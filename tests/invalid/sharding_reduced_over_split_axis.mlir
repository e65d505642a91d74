// ERROR: 6:87: a reduction over a mesh axis that the result is split on
// A pending sum over mesh axis 0 of a value whose dimension 0 is split over mesh axis 0: the
// devices of an axis either hold different blocks or partial values of the same block, not both.
shard.grid @M(shape = 2x4)
func.func @f(%x: tensor<8x4xf32>) -> tensor<8x4xf32> {
  %0 = loom.neg %x {spmd.shardings = [#spmd.sharding<@M, [[0], []], partial = sum [0]>]} : (tensor<8x4xf32>) -> tensor<8x4xf32>
  func.return %0 : tensor<8x4xf32>
}
