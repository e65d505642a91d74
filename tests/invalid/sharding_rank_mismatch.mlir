// ERROR: 4:8: has 1 dimensions but the value's type tensor<8x4xf32> has rank 2
shard.grid @M(shape = 2x4)
func.func @f(%x: tensor<8x4xf32>) -> tensor<8x4xf32> {
  %0 = spmd.sharding_constraint %x <@M, [[0]]> {kind = "param"} : tensor<8x4xf32> loc("tests/invalid/sharding_rank_mismatch.mlir":4:8)
  func.return %0 : tensor<8x4xf32>
}
