// loom-inline keeps a call to a shared function when inlining would copy a large body into
// several places: @f2 calls @f1 twice and @f1 calls @f0 twice. With max-ops=3, @f0 (2 ops) is
// inlined into @f1, which then has 5 ops and two callers, so @f2 keeps its two calls to it; the
// entry calls @f2 once, so @f2 is inlined there. Code stays O(depth) for a call DAG of any depth
// (full inlining would make 2^depth copies of @f0). Callees are visited before callers, each once.
// RUN: loom opt %s -p 'loom-inline{max-ops=3}' | filecheck %s

// CHECK-LABEL: func.func @main(%x: f32) -> f32 {
// CHECK-NEXT:    [[A:%.*]] = func.call @f1(%x) : (f32) -> f32
// CHECK-NEXT:    [[H:%.*]] = loom.mul %x, %x
// CHECK-NEXT:    [[B:%.*]] = func.call @f1([[H]]) : (f32) -> f32
// CHECK-NEXT:    [[S:%.*]] = loom.add [[A]], [[B]]
// CHECK-NEXT:    func.return [[S]] : f32
// CHECK-NEXT:  }
// CHECK-NOT:   @f0
// CHECK-LABEL: func.func private @f1(%x: f32) -> f32 {
// CHECK-NEXT:    [[P:%.*]] = loom.add %x, %x
// CHECK-NEXT:    [[H:%.*]] = loom.mul %x, %x
// CHECK-NEXT:    [[Q:%.*]] = loom.add [[H]], [[H]]
// CHECK-NEXT:    [[S:%.*]] = loom.add [[P]], [[Q]]
// CHECK-NEXT:    func.return [[S]] : f32
// CHECK-NEXT:  }
// CHECK-NOT:   @f2
// CHECK-NOT:   @f0
func.func @main(%x: f32) -> f32 {
  %0 = func.call @f2(%x) : (f32) -> f32
  func.return %0 : f32
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
  func.return %0 : f32
}
