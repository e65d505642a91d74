// ERROR: 5:53: splits dimensions 0 and 1 over mesh axis 0: a mesh axis splits at most one dimension
// A sharding names each mesh axis at most once: mesh axis 0 cannot split both dimensions.
shard.grid @M(shape = 2x4)
func.func @f(%x: tensor<8x4xf32>) -> tensor<8x4xf32> {
  %0 = spmd.sharding_constraint %x <@M, [[0], [0]]> {kind = "param"} : tensor<8x4xf32>
  func.return %0 : tensor<8x4xf32>
}
