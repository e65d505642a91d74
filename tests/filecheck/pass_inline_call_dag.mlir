// loom-inline does not inline a shared callee that still makes several calls: copying @f2 (two
// calls of the kept @f1) into both its call sites would leave four calls in @f3, and each level
// more of the DAG would double them (2^levels calls of the lowest kept function). With
// max-ops=8, @f0 (7 ops) is inlined into @f1 (kept: 18 ops, two callers); @f2 (6 ops) is small
// but keeps its two calls, so it stays a function too; @f3, called once, is inlined.
// RUN: loom opt %s -p 'loom-inline{max-ops=8}' | filecheck %s

// CHECK-LABEL: func.func @main(%x: f32) -> f32 {
// CHECK-NEXT:    [[A:%.*]] = func.call @f2(%x) : (f32) -> f32
// CHECK-NEXT:    [[H:%.*]] = loom.mul %x, %x
// CHECK-NEXT:    [[B:%.*]] = func.call @f2([[H]]) : (f32) -> f32
// CHECK-NEXT:    [[S:%.*]] = loom.add [[A]], [[B]]
// CHECK-NEXT:    func.return [[S]] : f32
// CHECK-NEXT:  }
// CHECK-NOT:   @f3
// CHECK-LABEL: func.func private @f2(%x: f32) -> f32 {
// CHECK-NEXT:    func.call @f1(%x)
// CHECK-NEXT:    loom.mul %x, %x
// CHECK-NEXT:    func.call @f1(
// CHECK-NEXT:    loom.add
// CHECK-NEXT:    func.return
// CHECK-NEXT:  }
// CHECK-LABEL: func.func private @f1(%x: f32) -> f32 {
// CHECK-NOT:     func.call
// CHECK:         func.return
// CHECK-NOT:   @f0
func.func @main(%x: f32) -> f32 {
  %0 = func.call @f3(%x) : (f32) -> f32
  func.return %0 : f32
}
func.func private @f3(%x: f32) -> f32 {
  %0 = func.call @f2(%x) : (f32) -> f32
  %h = loom.mul %x, %x : (f32, f32) -> f32
  %1 = func.call @f2(%h) : (f32) -> f32
  %2 = loom.add %0, %1 : (f32, f32) -> f32
  func.return %2 : f32
}
func.func private @f2(%x: f32) -> f32 {
  %0 = func.call @f1(%x) : (f32) -> f32
  %h = loom.mul %x, %x : (f32, f32) -> f32
  %1 = func.call @f1(%h) : (f32) -> f32
  %2 = loom.add %0, %1 : (f32, f32) -> f32
  func.return %2 : f32
}
func.func private @f1(%x: f32) -> f32 {
  %0 = func.call @f0(%x) : (f32) -> f32
  %h = loom.mul %x, %x : (f32, f32) -> f32
  %1 = func.call @f0(%h) : (f32) -> f32
  %2 = loom.add %0, %1 : (f32, f32) -> f32
  func.return %2 : f32
}
func.func private @f0(%x: f32) -> f32 {
  %0 = loom.add %x, %x : (f32, f32) -> f32
  %1 = loom.mul %0, %x : (f32, f32) -> f32
  %2 = loom.sub %1, %x : (f32, f32) -> f32
  %3 = loom.mul %2, %2 : (f32, f32) -> f32
  %4 = loom.add %3, %1 : (f32, f32) -> f32
  %5 = loom.tanh %4 : (f32) -> f32
  func.return %5 : f32
}
