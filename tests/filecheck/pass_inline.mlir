// loom-inline: every func.call to a small or once-called function is replaced by a copy of the
// callee's body (recursively, so calls inside inlined bodies are inlined too), multi-result calls
// included; private functions that are no longer called are erased, public ones stay. (Large
// functions called from several places stay calls: see pass_inline_shared.mlir.)
// RUN: loom opt %s -p loom-inline | filecheck %s

// CHECK-LABEL: func.func @main(%x: tensor<4xf32>) -> (tensor<4xf32>, f32) {
// CHECK-NOT:     func.call
// CHECK-NEXT:    [[T:%.*]] = loom.add %x, %x : (tensor<4xf32>, tensor<4xf32>) -> tensor<4xf32>
// CHECK-NEXT:    [[T2:%.*]] = loom.add [[T]], [[T]] : (tensor<4xf32>, tensor<4xf32>) -> tensor<4xf32>
// CHECK-NEXT:    [[S:%.*]] = loom.sum [[T]] {axes = array<i64: 0>} : (tensor<4xf32>) -> f32
// CHECK-NEXT:    [[N:%.*]] = loom.neg [[T2]] : (tensor<4xf32>) -> tensor<4xf32>
// CHECK-NEXT:    func.return [[N]], [[S]] : tensor<4xf32>, f32
// CHECK-NEXT:  }
func.func @main(%x: tensor<4xf32>) -> (tensor<4xf32>, f32) {
  %0 = func.call @twice(%x) : (tensor<4xf32>) -> tensor<4xf32>
  %1, %2 = func.call @split(%0) : (tensor<4xf32>) -> (tensor<4xf32>, f32)
  %3 = func.call @pub(%1) : (tensor<4xf32>) -> tensor<4xf32>
  func.return %3, %2 : tensor<4xf32>, f32
}
// CHECK-NOT:   @twice
// CHECK-NOT:   @split
func.func private @twice(%x: tensor<4xf32>) -> tensor<4xf32> {
  %0 = loom.add %x, %x : (tensor<4xf32>, tensor<4xf32>) -> tensor<4xf32>
  func.return %0 : tensor<4xf32>
}
func.func private @split(%x: tensor<4xf32>) -> (tensor<4xf32>, f32) {
  %0 = func.call @twice(%x) : (tensor<4xf32>) -> tensor<4xf32>
  %1 = loom.sum %x {axes = array<i64: 0>} : (tensor<4xf32>) -> f32
  func.return %0, %1 : tensor<4xf32>, f32
}
// A public callee is inlined into its callers but kept.
// CHECK-LABEL: func.func @pub(%x: tensor<4xf32>) -> tensor<4xf32> {
// CHECK-NEXT:    [[N:%.*]] = loom.neg %x
// CHECK-NEXT:    func.return [[N]]
func.func @pub(%x: tensor<4xf32>) -> tensor<4xf32> {
  %0 = loom.neg %x : (tensor<4xf32>) -> tensor<4xf32>
  func.return %0 : tensor<4xf32>
}
// A private function nobody calls is erased too.
// CHECK-NOT:   @unused
func.func private @unused(%x: f32) -> f32 {
  func.return %x : f32
}
