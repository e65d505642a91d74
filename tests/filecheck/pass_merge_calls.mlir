// loom-merge-calls: a call of a pure function with the same callee and operands as an earlier
// call that dominates it (same block or an enclosing one) reuses that call's results. @sq is pure
// (a check is allowed: equal operands fail alike); @loud prints, so its calls all stay. Inside
// the `scf.if`, `@sq(%x)` reuses the call before it; `@sq(%y)` in both branches stays twice
// (neither dominates the other), and so does the one after the `scf.if` (neither dominates it).
// RUN: loom opt %s -p loom-merge-calls | filecheck %s

// CHECK-LABEL: func.func @main(%x: f32, %y: f32, %c: i1) -> f32 {
// CHECK-NEXT:    [[A:%.*]] = func.call @sq(%x) : (f32) -> f32
// CHECK-NEXT:    [[S:%.*]] = loom.add [[A]], [[A]]
// CHECK-NEXT:    [[L1:%.*]] = func.call @loud(%x) : (f32) -> f32
// CHECK-NEXT:    [[L2:%.*]] = func.call @loud(%x) : (f32) -> f32
// CHECK-NEXT:    [[I:%.*]] = scf.if %c -> (f32) {
// CHECK-NEXT:      [[T:%.*]] = func.call @sq(%y) : (f32) -> f32
// CHECK-NEXT:      [[U:%.*]] = loom.add [[A]], [[T]]
// CHECK-NEXT:      scf.yield [[U]] : f32
// CHECK-NEXT:    } else {
// CHECK-NEXT:      [[V:%.*]] = func.call @sq(%y) : (f32) -> f32
// CHECK-NEXT:      scf.yield [[V]] : f32
// CHECK-NEXT:    }
// CHECK-NEXT:    [[W:%.*]] = func.call @sq(%y) : (f32) -> f32
// CHECK-NEXT:    [[W2:%.*]] = loom.add [[S]], [[W]]
// CHECK-NEXT:    [[R1:%.*]] = loom.add [[W2]], [[L1]]
// CHECK-NEXT:    [[R2:%.*]] = loom.add [[R1]], [[L2]]
// CHECK-NEXT:    [[R3:%.*]] = loom.add [[R2]], [[I]]
// CHECK-NEXT:    func.return [[R3]] : f32
func.func @main(%x: f32, %y: f32, %c: i1) -> f32 {
  %0 = func.call @sq(%x) : (f32) -> f32
  %2 = func.call @sq(%x) : (f32) -> f32
  %3 = loom.add %0, %2 : (f32, f32) -> f32
  %4 = func.call @loud(%x) : (f32) -> f32
  %5 = func.call @loud(%x) : (f32) -> f32
  %6 = scf.if %c -> (f32) {
    %7 = func.call @sq(%x) : (f32) -> f32
    %8 = func.call @sq(%y) : (f32) -> f32
    %9 = loom.add %7, %8 : (f32, f32) -> f32
    scf.yield %9 : f32
  } else {
    %10 = func.call @sq(%y) : (f32) -> f32
    scf.yield %10 : f32
  }
  %1 = func.call @sq(%y) : (f32) -> f32
  %14 = loom.add %3, %1 : (f32, f32) -> f32
  %11 = loom.add %14, %4 : (f32, f32) -> f32
  %12 = loom.add %11, %5 : (f32, f32) -> f32
  %13 = loom.add %12, %6 : (f32, f32) -> f32
  func.return %13 : f32
}
func.func private @sq(%x: f32) -> f32 {
  %0 = loom.mul %x, %x : (f32, f32) -> f32
  %c0 = arith.constant 0.000000e+00 : f32
  %ok = loom.cmp "ge", %0, %c0 : (f32, f32) -> i1
  loom.assert %ok, "a square is never negative"
  func.return %0 : f32
}
func.func private @loud(%x: f32) -> f32 {
  loom.print "x = {}", %x : f32
  func.return %x : f32
}
