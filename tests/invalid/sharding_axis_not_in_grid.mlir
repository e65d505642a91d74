// ERROR: 4:8: names mesh axis 2, but grid @M has 2 axes
shard.grid @M(shape = 2x4)
func.func @f(%x: tensor<8x4xf32>) -> tensor<8x4xf32> {
  %0 = spmd.sharding_constraint %x <@M, [[2], []]> {kind = "param"} : tensor<8x4xf32> loc("tests/invalid/sharding_axis_not_in_grid.mlir":4:8)
  func.return %0 : tensor<8x4xf32>
}
