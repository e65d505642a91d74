// canonicalize on shape ops: reshape(reshape(x)) -> one reshape, transpose(transpose(x)) -> one
// transpose with the composed permutation (vanishing when it is the identity), reshape /
// transpose / convert / broadcast_to to the operand's own static type vanish, and loom.dim of a
// static dimension becomes a constant (of a '?' one it stays). A broadcast_to between types with
// '?' is kept (it may broadcast a 1 at run time).
// RUN: loom opt %s -p canonicalize | filecheck %s

// CHECK-LABEL: func.func @shape(%x: tensor<2x3x4xf32>, %y: tensor<?x3xf32>)
// CHECK-NEXT:    [[R:%.*]] = loom.reshape %x : (tensor<2x3x4xf32>) -> tensor<24xf32>
// Composing inner perm p = (1, 0, 2) with outer perm q = (0, 2, 1): result dim i is x's dim
// p[q[i]], i.e. (1, 2, 0) -- 3x4x2 as the outer transpose's type says.
// CHECK-NEXT:    [[T:%.*]] = loom.transpose %x {permutation = array<i64: 1, 2, 0>} : (tensor<2x3x4xf32>) -> tensor<3x4x2xf32>
// CHECK-NEXT:    [[D0:%.*]] = loom.dim %y {axis = array<i64: 0>} : (tensor<?x3xf32>) -> i64
// CHECK-NEXT:    [[D1:%.*]] = arith.constant 3 : i64
// CHECK-NEXT:    func.return [[R]], %x, [[T]], %x, %x, [[D0]], [[D1]], %x
func.func @shape(%x: tensor<2x3x4xf32>, %y: tensor<?x3xf32>) -> (tensor<24xf32>, tensor<2x3x4xf32>, tensor<3x4x2xf32>, tensor<2x3x4xf32>, tensor<2x3x4xf32>, i64, i64, tensor<2x3x4xf32>) {
  %r1 = loom.reshape %x : (tensor<2x3x4xf32>) -> tensor<6x4xf32>
  %r2 = loom.reshape %r1 : (tensor<6x4xf32>) -> tensor<24xf32>
  %r3 = loom.reshape %x : (tensor<2x3x4xf32>) -> tensor<2x3x4xf32>
  %t1 = loom.transpose %x {permutation = array<i64: 1, 0, 2>} : (tensor<2x3x4xf32>) -> tensor<3x2x4xf32>
  %t2 = loom.transpose %t1 {permutation = array<i64: 0, 2, 1>} : (tensor<3x2x4xf32>) -> tensor<3x4x2xf32>
  %t3 = loom.transpose %x {permutation = array<i64: 0, 1, 2>} : (tensor<2x3x4xf32>) -> tensor<2x3x4xf32>
  %t4 = loom.transpose %t1 {permutation = array<i64: 1, 0, 2>} : (tensor<3x2x4xf32>) -> tensor<2x3x4xf32>
  %c = loom.convert %x : (tensor<2x3x4xf32>) -> tensor<2x3x4xf32>
  %b = loom.broadcast_to %c : (tensor<2x3x4xf32>) -> tensor<2x3x4xf32>
  %d0 = loom.dim %y {axis = array<i64: 0>} : (tensor<?x3xf32>) -> i64
  %d1 = loom.dim %y {axis = array<i64: 1>} : (tensor<?x3xf32>) -> i64
  func.return %r2, %r3, %t2, %t3, %b, %d0, %d1, %t4 : tensor<24xf32>, tensor<2x3x4xf32>, tensor<3x4x2xf32>, tensor<2x3x4xf32>, tensor<2x3x4xf32>, i64, i64, tensor<2x3x4xf32>
}

// A chain of three reshapes becomes one; a reshape back to the original type vanishes.
// CHECK-LABEL: func.func @chain(%x: tensor<2x6xf32>) -> (tensor<3x4xf32>, tensor<2x6xf32>)
// CHECK-NEXT:    [[R:%.*]] = loom.reshape %x : (tensor<2x6xf32>) -> tensor<3x4xf32>
// CHECK-NEXT:    func.return [[R]], %x
func.func @chain(%x: tensor<2x6xf32>) -> (tensor<3x4xf32>, tensor<2x6xf32>) {
  %a = loom.reshape %x : (tensor<2x6xf32>) -> tensor<12xf32>
  %b = loom.reshape %a : (tensor<12xf32>) -> tensor<4x3xf32>
  %c = loom.reshape %b : (tensor<4x3xf32>) -> tensor<3x4xf32>
  %d = loom.reshape %c : (tensor<3x4xf32>) -> tensor<2x6xf32>
  func.return %c, %d : tensor<3x4xf32>, tensor<2x6xf32>
}

// Not no-ops: a real convert, a real broadcast, broadcast between '?' types.
// CHECK-LABEL: func.func @kept(%x: tensor<3xf32>, %y: tensor<?xf32>)
// CHECK-NEXT:    loom.convert %x : (tensor<3xf32>) -> tensor<3xf64>
// CHECK-NEXT:    loom.broadcast_to %x : (tensor<3xf32>) -> tensor<2x3xf32>
// CHECK-NEXT:    loom.broadcast_to %y : (tensor<?xf32>) -> tensor<?xf32>
func.func @kept(%x: tensor<3xf32>, %y: tensor<?xf32>) -> (tensor<3xf64>, tensor<2x3xf32>, tensor<?xf32>) {
  %a = loom.convert %x : (tensor<3xf32>) -> tensor<3xf64>
  %b = loom.broadcast_to %x : (tensor<3xf32>) -> tensor<2x3xf32>
  %c = loom.broadcast_to %y : (tensor<?xf32>) -> tensor<?xf32>
  func.return %a, %b, %c : tensor<3xf64>, tensor<2x3xf32>, tensor<?xf32>
}
