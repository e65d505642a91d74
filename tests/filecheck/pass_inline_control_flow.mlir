// loom-inline moves a callee's structured control flow (scf.if / scf.for with regions) into the
// caller, and inlines calls that sit inside the caller's own regions.
// RUN: loom opt %s -p loom-inline | filecheck %s

// CHECK-LABEL: func.func @main(%x: f32, %c: i1, %n: i64) -> f32 {
// CHECK-NEXT:    [[R:%.*]] = scf.if %c -> (f32) {
// CHECK-NEXT:      [[E:%.*]] = loom.exp %x : (f32) -> f32
// CHECK-NEXT:      scf.yield [[E]] : f32
// CHECK-NEXT:    } else {
// CHECK-NEXT:      [[N:%.*]] = loom.neg %x : (f32) -> f32
// CHECK-NEXT:      scf.yield [[N]] : f32
// CHECK-NEXT:    }
// CHECK-NEXT:    [[Z:%.*]] = arith.constant 0 : i64
// CHECK-NEXT:    [[O:%.*]] = arith.constant 1 : i64
// CHECK-NEXT:    [[L:%.*]] = scf.for %{{.*}} = [[Z]] to %n step [[O]] iter_args([[A:%.*]] = [[R]]) -> (f32) : i64 {
// CHECK-NEXT:      [[IF:%.*]] = scf.if %c -> (f32) {
// CHECK-NEXT:        [[E2:%.*]] = loom.exp [[A]] : (f32) -> f32
// CHECK-NEXT:        scf.yield [[E2]] : f32
// CHECK-NEXT:      } else {
// CHECK-NEXT:        [[N2:%.*]] = loom.neg [[A]] : (f32) -> f32
// CHECK-NEXT:        scf.yield [[N2]] : f32
// CHECK-NEXT:      }
// CHECK-NEXT:      scf.yield [[IF]] : f32
// CHECK-NEXT:    }
// CHECK-NEXT:    func.return [[L]] : f32
// CHECK-NEXT:  }
// CHECK-NOT:   func.func
func.func @main(%x: f32, %c: i1, %n: i64) -> f32 {
  %0 = func.call @pick(%x, %c) : (f32, i1) -> f32
  %lb = arith.constant 0 : i64
  %st = arith.constant 1 : i64
  %1 = scf.for %i = %lb to %n step %st iter_args(%a = %0) -> (f32) : i64 {
    %2 = func.call @pick(%a, %c) : (f32, i1) -> f32
    scf.yield %2 : f32
  }
  func.return %1 : f32
}
func.func private @pick(%x: f32, %c: i1) -> f32 {
  %0 = scf.if %c -> (f32) {
    %1 = loom.exp %x : (f32) -> f32
    scf.yield %1 : f32
  } else {
    %2 = loom.neg %x : (f32) -> f32
    scf.yield %2 : f32
  }
  func.return %0 : f32
}
