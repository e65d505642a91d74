// The named pipeline loom-opt = loom-inline,canonicalize,cse,loom-merge-calls,dce; spelled out it gives the same
// result. After inlining, constants fold across the former call boundary.
// RUN: loom opt %s -p loom-opt | filecheck %s
// RUN: loom opt %s -p loom-inline,canonicalize,cse,loom-merge-calls,dce | filecheck %s

// CHECK-LABEL: func.func @main(%x: tensor<4xf32>) -> tensor<4xf32> {
// CHECK-NEXT:    [[C:%.*]] = arith.constant 6.000000e+00 : f32
// CHECK-NEXT:    [[M:%.*]] = loom.mul %x, [[C]] : (tensor<4xf32>, f32) -> tensor<4xf32>
// CHECK-NEXT:    [[A:%.*]] = loom.add [[M]], [[M]]
// CHECK-NEXT:    func.return [[A]] : tensor<4xf32>
// CHECK-NEXT:  }
// CHECK-NOT:   func.func
func.func @main(%x: tensor<4xf32>) -> tensor<4xf32> {
  %two = arith.constant 2.000000e+00 : f32
  %0 = func.call @scale(%x, %two) : (tensor<4xf32>, f32) -> tensor<4xf32>
  %1 = func.call @scale(%x, %two) : (tensor<4xf32>, f32) -> tensor<4xf32>
  %2 = loom.add %0, %1 : (tensor<4xf32>, tensor<4xf32>) -> tensor<4xf32>
  func.return %2 : tensor<4xf32>
}
func.func private @scale(%x: tensor<4xf32>, %k: f32) -> tensor<4xf32> {
  %three = arith.constant 3.000000e+00 : f32
  %k3 = loom.mul %k, %three : (f32, f32) -> f32
  %one = arith.constant 1.000000e+00 : f32
  %y = loom.mul %x, %k3 : (tensor<4xf32>, f32) -> tensor<4xf32>
  %z = loom.mul %y, %one : (tensor<4xf32>, f32) -> tensor<4xf32>
  %dead = loom.exp %z : (tensor<4xf32>) -> tensor<4xf32>
  func.return %z : tensor<4xf32>
}
