// ERROR: 4:67: unknown partial kind 'mean' (one of sum, max, min)
shard.grid @M(shape = 2x4)
func.func @f(%x: tensor<8xf32>) -> tensor<8xf32> {
  %0 = spmd.sharding_constraint %x <@M, [[]], partial = mean [1]> {kind = "param"} : tensor<8xf32>
  func.return %0 : tensor<8xf32>
}
