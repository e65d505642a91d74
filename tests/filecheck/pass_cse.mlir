// cse: identical pure ops (same operands, attributes and types) are merged -- loom.random too,
// since it is deterministic in its seed and shape -- while ops with effects (loom.print,
// loom.assert) are never merged, and ops that differ in an attribute are kept apart.
// RUN: loom opt %s -p cse | filecheck %s

// CHECK-LABEL: func.func @f(%x: tensor<4xf32>, %c: i1) -> tensor<4xf32>
// CHECK-NEXT:    [[E:%.*]] = loom.exp %x : (tensor<4xf32>) -> tensor<4xf32>
// CHECK-NEXT:    [[A:%.*]] = loom.add [[E]], [[E]] : (tensor<4xf32>, tensor<4xf32>) -> tensor<4xf32>
// CHECK-NEXT:    [[S1:%.*]] = loom.sum %x {axes = array<i64: 0>} : (tensor<4xf32>) -> f32
// CHECK-NEXT:    [[S2:%.*]] = loom.sum %x {axes = array<i64: 0>, keepdims} : (tensor<4xf32>) -> tensor<1xf32>
// CHECK-NEXT:    [[K:%.*]] = arith.constant 1 : i64
// CHECK-NEXT:    [[R1:%.*]] = loom.random "uniform", [[K]] : (i64) -> tensor<4xf32>
// CHECK-NEXT:    [[R3:%.*]] = loom.random "normal", [[K]] : (i64) -> tensor<4xf32>
// CHECK-NEXT:    loom.print "x = {}", %x : tensor<4xf32>
// CHECK-NEXT:    loom.print "x = {}", %x : tensor<4xf32>
// CHECK-NEXT:    loom.assert %c, "c must hold"
// CHECK-NEXT:    loom.assert %c, "c must hold"
// CHECK-NEXT:    [[M1:%.*]] = loom.mul [[A]], [[S1]]
// CHECK-NEXT:    [[M2:%.*]] = loom.mul [[M1]], [[S1]]
// CHECK-NEXT:    [[M3:%.*]] = loom.mul [[M2]], [[S2]]
// CHECK-NEXT:    [[RR:%.*]] = loom.add [[R1]], [[R1]]
// CHECK-NEXT:    [[RN:%.*]] = loom.add [[RR]], [[R3]]
// CHECK-NEXT:    [[OUT:%.*]] = loom.add [[M3]], [[RN]]
// CHECK-NEXT:    func.return [[OUT]]
func.func @f(%x: tensor<4xf32>, %c: i1) -> tensor<4xf32> {
  %0 = loom.exp %x : (tensor<4xf32>) -> tensor<4xf32>
  %1 = loom.exp %x : (tensor<4xf32>) -> tensor<4xf32>
  %2 = loom.add %0, %1 : (tensor<4xf32>, tensor<4xf32>) -> tensor<4xf32>
  %s1 = loom.sum %x {axes = array<i64: 0>} : (tensor<4xf32>) -> f32
  %s2 = loom.sum %x {axes = array<i64: 0>, keepdims} : (tensor<4xf32>) -> tensor<1xf32>
  %s3 = loom.sum %x {axes = array<i64: 0>} : (tensor<4xf32>) -> f32
  %k = arith.constant 1 : i64
  %k2 = arith.constant 1 : i64
  %r1 = loom.random "uniform", %k : (i64) -> tensor<4xf32>
  %r2 = loom.random "uniform", %k2 : (i64) -> tensor<4xf32>
  %r3 = loom.random "normal", %k : (i64) -> tensor<4xf32>
  loom.print "x = {}", %x : tensor<4xf32>
  loom.print "x = {}", %x : tensor<4xf32>
  loom.assert %c, "c must hold"
  loom.assert %c, "c must hold"
  %3 = loom.mul %2, %s1 : (tensor<4xf32>, f32) -> tensor<4xf32>
  %4 = loom.mul %3, %s3 : (tensor<4xf32>, f32) -> tensor<4xf32>
  %5 = loom.mul %4, %s2 : (tensor<4xf32>, tensor<1xf32>) -> tensor<4xf32>
  %6 = loom.add %r1, %r2 : (tensor<4xf32>, tensor<4xf32>) -> tensor<4xf32>
  %7 = loom.add %6, %r3 : (tensor<4xf32>, tensor<4xf32>) -> tensor<4xf32>
  %8 = loom.add %5, %7 : (tensor<4xf32>, tensor<4xf32>) -> tensor<4xf32>
  func.return %8 : tensor<4xf32>
}

// Indexing ops merge when their spec and index operands agree, not otherwise.
// CHECK-LABEL: func.func @slices(%x: tensor<5xf32>, %i: i64, %j: i64) -> (f32, f32, f32)
// CHECK-NEXT:    [[A:%.*]] = loom.slice %x[%i]
// CHECK-NEXT:    [[C:%.*]] = loom.slice %x[%j]
// CHECK-NEXT:    func.return [[A]], [[A]], [[C]]
func.func @slices(%x: tensor<5xf32>, %i: i64, %j: i64) -> (f32, f32, f32) {
  %a = loom.slice %x[%i] {kinds = array<i64: 3>, starts = array<i64: 0>, stops = array<i64: 0>, steps = array<i64: 1>} : (tensor<5xf32>, i64) -> f32
  %b = loom.slice %x[%i] {kinds = array<i64: 3>, starts = array<i64: 0>, stops = array<i64: 0>, steps = array<i64: 1>} : (tensor<5xf32>, i64) -> f32
  %c = loom.slice %x[%j] {kinds = array<i64: 3>, starts = array<i64: 0>, stops = array<i64: 0>, steps = array<i64: 1>} : (tensor<5xf32>, i64) -> f32
  func.return %a, %b, %c : f32, f32, f32
}

// An op inside a region is merged with an identical one that dominates it from outside.
// CHECK-LABEL: func.func @regions(%x: f32, %c: i1) -> f32
// CHECK-NEXT:    [[E:%.*]] = loom.exp %x
// CHECK-NEXT:    [[R:%.*]] = scf.if %c -> (f32) {
// CHECK-NEXT:      scf.yield [[E]] : f32
// CHECK-NEXT:    } else {
// CHECK-NEXT:      scf.yield %x : f32
// CHECK-NEXT:    }
func.func @regions(%x: f32, %c: i1) -> f32 {
  %e = loom.exp %x : (f32) -> f32
  %r = scf.if %c -> (f32) {
    %e2 = loom.exp %x : (f32) -> f32
    scf.yield %e2 : f32
  } else {
    scf.yield %x : f32
  }
  %s = loom.add %r, %e : (f32, f32) -> f32
  func.return %s : f32
}
