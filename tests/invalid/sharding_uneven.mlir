// ERROR: 5:8: dimension 1 of size 6 does not split evenly over mesh axes [1] (4 devices)
// Sizes split evenly (LANGUAGE.md §9.1): 6 columns do not split over mesh axis 1 of size 4.
shard.grid @M(shape = 2x4)
func.func @f(%x: tensor<8x6xf32>) -> tensor<8x6xf32> {
  %0 = spmd.sharding_constraint %x <@M, [[], [1]]> {kind = "param"} : tensor<8x6xf32> loc("tests/invalid/sharding_uneven.mlir":5:8)
  func.return %0 : tensor<8x6xf32>
}
