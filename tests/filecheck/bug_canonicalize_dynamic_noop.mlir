// MISSED FOLD (xfail in tests/test_filecheck.py): NoOpShape bails out whenever the type has a '?'
// or is unranked. That is needed for broadcast_to (a '?' may be a 1 that broadcasts) and fine for
// reshape, but a convert to the operand's own type and a transpose with the identity permutation
// are no-ops whatever the shape, and should vanish like their static counterparts do.
// Seen from Loom: `def f(x: f32[B, D]) -> f32[B, D]: return transpose(transpose(x))` with
// -p loom-opt leaves `loom.transpose %x {permutation = array<i64: 0, 1>}`.
// RUN: loom opt %s -p canonicalize | filecheck %s

// CHECK-LABEL: func.func @dyn(%y: tensor<?x3xf32>, %u: tensor<*xf32>)
// CHECK-NEXT:    func.return %y, %u, %y
func.func @dyn(%y: tensor<?x3xf32>, %u: tensor<*xf32>) -> (tensor<?x3xf32>, tensor<*xf32>, tensor<?x3xf32>) {
  %a = loom.convert %y : (tensor<?x3xf32>) -> tensor<?x3xf32>
  %b = loom.convert %u : (tensor<*xf32>) -> tensor<*xf32>
  %c = loom.transpose %y {permutation = array<i64: 0, 1>} : (tensor<?x3xf32>) -> tensor<?x3xf32>
  func.return %a, %b, %c : tensor<?x3xf32>, tensor<*xf32>, tensor<?x3xf32>
}
