// canonicalize: transpose(A @ B) whose innermost dim is the product's rows becomes a transpose of
// Bᵀ @ Aᵀ that keeps the innermost dim in place -- none at all for a plain 2-D transpose. The
// operands' transposes compose with the transposes that made them (attention's gradient of k:
// transpose(transpose(q) @ dS) is dSᵀ @ q, whose rows are copied whole). A product with another
// use, and a transpose that keeps the product's columns innermost, are left alone.
// RUN: loom opt %s -p canonicalize | filecheck %s

// CHECK-LABEL: func.func @plain(%a: tensor<5x3xf32>, %b: tensor<3x4xf32>) -> tensor<4x5xf32>
// CHECK-NEXT:    [[AT:%.*]] = loom.transpose %a {permutation = array<i64: 1, 0>} : (tensor<5x3xf32>) -> tensor<3x5xf32>
// CHECK-NEXT:    [[BT:%.*]] = loom.transpose %b {permutation = array<i64: 1, 0>} : (tensor<3x4xf32>) -> tensor<4x3xf32>
// CHECK-NEXT:    [[P:%.*]] = loom.matmul [[BT]], [[AT]] : (tensor<4x3xf32>, tensor<3x5xf32>) -> tensor<4x5xf32>
// CHECK-NEXT:    func.return [[P]]
func.func @plain(%a: tensor<5x3xf32>, %b: tensor<3x4xf32>) -> tensor<4x5xf32> {
  %p = loom.matmul %a, %b : (tensor<5x3xf32>, tensor<3x4xf32>) -> tensor<5x4xf32>
  %t = loom.transpose %p {permutation = array<i64: 1, 0>} : (tensor<5x4xf32>) -> tensor<4x5xf32>
  func.return %t : tensor<4x5xf32>
}

// Attention's dk: q' = transpose(q, (0, 2, 3, 1)) is [b, h, d, s]; transpose(q' @ dS, (0, 3, 1, 2))
// is [b, s, h, d]. After: dSᵀ @ transpose(q, (0, 2, 1, 3)), then a (0, 2, 1, 3) transpose.
// CHECK-LABEL: func.func @attention_dk(%q: tensor<2x8x3x4xf32>, %ds: tensor<2x3x8x8xf32>) -> tensor<2x8x3x4xf32>
// CHECK-NEXT:    [[QH:%.*]] = loom.transpose %q {permutation = array<i64: 0, 2, 1, 3>} : (tensor<2x8x3x4xf32>) -> tensor<2x3x8x4xf32>
// CHECK-NEXT:    [[DST:%.*]] = loom.transpose %ds {permutation = array<i64: 0, 1, 3, 2>} : (tensor<2x3x8x8xf32>) -> tensor<2x3x8x8xf32>
// CHECK-NEXT:    [[P:%.*]] = loom.matmul [[DST]], [[QH]] : (tensor<2x3x8x8xf32>, tensor<2x3x8x4xf32>) -> tensor<2x3x8x4xf32>
// CHECK-NEXT:    [[R:%.*]] = loom.transpose [[P]] {permutation = array<i64: 0, 2, 1, 3>} : (tensor<2x3x8x4xf32>) -> tensor<2x8x3x4xf32>
// CHECK-NEXT:    func.return [[R]]
func.func @attention_dk(%q: tensor<2x8x3x4xf32>, %ds: tensor<2x3x8x8xf32>) -> tensor<2x8x3x4xf32> {
  %qt = loom.transpose %q {permutation = array<i64: 0, 2, 3, 1>} : (tensor<2x8x3x4xf32>) -> tensor<2x3x4x8xf32>
  %p = loom.matmul %qt, %ds : (tensor<2x3x4x8xf32>, tensor<2x3x8x8xf32>) -> tensor<2x3x4x8xf32>
  %t = loom.transpose %p {permutation = array<i64: 0, 3, 1, 2>} : (tensor<2x3x4x8xf32>) -> tensor<2x8x3x4xf32>
  func.return %t : tensor<2x8x3x4xf32>
}

// Broadcast batch dims and '?' sizes: a 3-D @ 2-D product.
// CHECK-LABEL: func.func @batched(%a: tensor<?x5x3xf32>, %w: tensor<3x4xf32>) -> tensor<?x4x5xf32>
// CHECK-NEXT:    [[AT:%.*]] = loom.transpose %a {permutation = array<i64: 0, 2, 1>} : (tensor<?x5x3xf32>) -> tensor<?x3x5xf32>
// CHECK-NEXT:    [[WT:%.*]] = loom.transpose %w {permutation = array<i64: 1, 0>} : (tensor<3x4xf32>) -> tensor<4x3xf32>
// CHECK-NEXT:    [[P:%.*]] = loom.matmul [[WT]], [[AT]] : (tensor<4x3xf32>, tensor<?x3x5xf32>) -> tensor<?x4x5xf32>
// CHECK-NEXT:    func.return [[P]]
func.func @batched(%a: tensor<?x5x3xf32>, %w: tensor<3x4xf32>) -> tensor<?x4x5xf32> {
  %p = loom.matmul %a, %w : (tensor<?x5x3xf32>, tensor<3x4xf32>) -> tensor<?x5x4xf32>
  %t = loom.transpose %p {permutation = array<i64: 0, 2, 1>} : (tensor<?x5x4xf32>) -> tensor<?x4x5xf32>
  func.return %t : tensor<?x4x5xf32>
}

// Left alone: the product is used twice; the columns stay innermost; a matrix-vector product.
// CHECK-LABEL: func.func @kept
// CHECK-NEXT:    [[P:%.*]] = loom.matmul %a, %b : (tensor<5x3xf32>, tensor<3x4xf32>) -> tensor<5x4xf32>
// CHECK-NEXT:    [[T:%.*]] = loom.transpose [[P]] {permutation = array<i64: 1, 0>}
// CHECK-NEXT:    [[Q:%.*]] = loom.matmul %c, %d : (tensor<2x5x3xf32>, tensor<3x4xf32>) -> tensor<2x5x4xf32>
// CHECK-NEXT:    [[U:%.*]] = loom.transpose [[Q]] {permutation = array<i64: 1, 0, 2>}
// CHECK-NEXT:    [[V:%.*]] = loom.matmul %a, %v : (tensor<5x3xf32>, tensor<3xf32>) -> tensor<5xf32>
// CHECK-NEXT:    func.return [[T]], [[P]], [[U]], [[V]]
func.func @kept(%a: tensor<5x3xf32>, %b: tensor<3x4xf32>, %c: tensor<2x5x3xf32>, %d: tensor<3x4xf32>, %v: tensor<3xf32>) -> (tensor<4x5xf32>, tensor<5x4xf32>, tensor<5x2x4xf32>, tensor<5xf32>) {
  %p = loom.matmul %a, %b : (tensor<5x3xf32>, tensor<3x4xf32>) -> tensor<5x4xf32>
  %t = loom.transpose %p {permutation = array<i64: 1, 0>} : (tensor<5x4xf32>) -> tensor<4x5xf32>
  %q = loom.matmul %c, %d : (tensor<2x5x3xf32>, tensor<3x4xf32>) -> tensor<2x5x4xf32>
  %u = loom.transpose %q {permutation = array<i64: 1, 0, 2>} : (tensor<2x5x4xf32>) -> tensor<5x2x4xf32>
  %w = loom.matmul %a, %v : (tensor<5x3xf32>, tensor<3xf32>) -> tensor<5xf32>
  func.return %t, %p, %u, %w : tensor<4x5xf32>, tensor<5x4xf32>, tensor<5x2x4xf32>, tensor<5xf32>
}
