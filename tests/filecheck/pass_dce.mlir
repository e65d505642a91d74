// dce: pure ops whose results are unused are erased (transitively), ops with effects stay
// (loom.print, loom.assert), and so do loops/ifs whose bodies have effects. Nothing is folded.
// RUN: loom opt %s -p dce | filecheck %s

// CHECK-LABEL: func.func @f(%x: tensor<4xf32>, %c: i1) -> tensor<4xf32>
// CHECK-NEXT:    [[ONE:%.*]] = arith.constant 1.000000e+00 : f32
// CHECK-NEXT:    [[M:%.*]] = loom.mul %x, [[ONE]]
// CHECK-NEXT:    loom.print "x = {}", %x : tensor<4xf32>
// CHECK-NEXT:    loom.assert %c, "c must hold"
// CHECK-NEXT:    func.return [[M]] : tensor<4xf32>
// CHECK-NEXT:  }
func.func @f(%x: tensor<4xf32>, %c: i1) -> tensor<4xf32> {
  %one = arith.constant 1.000000e+00 : f32
  %m = loom.mul %x, %one : (tensor<4xf32>, f32) -> tensor<4xf32>
  %dead1 = loom.exp %x : (tensor<4xf32>) -> tensor<4xf32>
  %dead2 = loom.sum %dead1 {axes = array<i64: 0>} : (tensor<4xf32>) -> f32
  %k = arith.constant 3 : i64
  %dead3 = loom.random "normal", %k : (i64) -> tensor<4xf32>
  loom.print "x = {}", %x : tensor<4xf32>
  loom.assert %c, "c must hold"
  func.return %m : tensor<4xf32>
}

// A loop with an unused result but a print in its body is kept; a pure one is erased.
// CHECK-LABEL: func.func @loops(%n: i64) -> i64
// CHECK:         scf.for
// CHECK:           loom.print
// CHECK-NOT:     scf.for
// CHECK:         func.return %n
func.func @loops(%n: i64) -> i64 {
  %lb = arith.constant 0 : i64
  %st = arith.constant 1 : i64
  %a = scf.for %i = %lb to %n step %st iter_args(%acc = %lb) -> (i64) : i64 {
    loom.print "{}", %i : i64
    %b = loom.add %acc, %i : (i64, i64) -> i64
    scf.yield %b : i64
  }
  %p = scf.for %i = %lb to %n step %st iter_args(%acc = %lb) -> (i64) : i64 {
    %b = loom.add %acc, %i : (i64, i64) -> i64
    scf.yield %b : i64
  }
  func.return %n : i64
}
