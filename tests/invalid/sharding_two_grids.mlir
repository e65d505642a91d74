// ERROR: 7:8: the constraint names grid @N, but this function's constraints use @M (one mesh per program)
// A global-view function lies on one mesh: sharding-propagation rejects constraints on two grids.
shard.grid @M(shape = 2x4)
shard.grid @N(shape = 2)
func.func @f(%x: tensor<8x4xf32>) -> tensor<8x4xf32> {
  %0 = spmd.sharding_constraint %x <@M, [[0], []]> {kind = "param"} : tensor<8x4xf32>
  %1 = spmd.sharding_constraint %0 <@N, [[0], []]> {kind = "reshard"} : tensor<8x4xf32> loc("tests/invalid/sharding_two_grids.mlir":7:8)
  func.return %1 : tensor<8x4xf32>
}
