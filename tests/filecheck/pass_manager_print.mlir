// Pass-manager flags: --print-ir-before=PASS / --print-ir-after=PASS print the module (under an
// MLIR-style header) only around the named passes; the final module is printed last.
// RUN: loom opt %s -p loom-opt --print-ir-before=cse --print-ir-after=canonicalize | filecheck %s
// Several names may be given, comma-separated or repeated.
// RUN: loom opt %s -p loom-opt --print-ir-after=loom-inline,dce --print-ir-before=canonicalize | filecheck %s --check-prefix=MULTI

// CHECK-NOT:   IR Dump Before loom-inline
// CHECK-NOT:   IR Dump After loom-inline
// CHECK:       // -----// IR Dump After canonicalize //----- //
// CHECK-NEXT:  builtin.module {
// CHECK-NEXT:    func.func @f(%x: f32) -> f32 {
// canonicalize folded x*1 but cse has not yet merged the two exps.
// CHECK-NEXT:      [[E1:%.*]] = loom.exp %x
// CHECK-NEXT:      [[E2:%.*]] = loom.exp %x
// CHECK-NEXT:      [[A:%.*]] = loom.add [[E1]], [[E2]]
// CHECK-NEXT:      func.return [[A]]
// CHECK:       // -----// IR Dump Before cse //----- //
// CHECK-NEXT:  builtin.module {
// CHECK:           loom.exp %x
// CHECK-NEXT:      loom.exp %x
// CHECK-NOT:   IR Dump
// CHECK:       builtin.module {
// CHECK-NEXT:    func.func @f(%x: f32) -> f32 {
// CHECK-NEXT:      [[E:%.*]] = loom.exp %x
// CHECK-NEXT:      [[A:%.*]] = loom.add [[E]], [[E]]
// CHECK-NEXT:      func.return [[A]]

// MULTI:       IR Dump After loom-inline
// MULTI-NEXT:  builtin.module {
// MULTI:       IR Dump Before canonicalize
// MULTI-NOT:   IR Dump After canonicalize
// MULTI-NOT:   IR Dump Before cse
// MULTI:       IR Dump After dce
// MULTI-NOT:   IR Dump
func.func @f(%x: f32) -> f32 {
  %one = arith.constant 1.000000e+00 : f32
  %y = loom.mul %x, %one : (f32, f32) -> f32
  %e1 = loom.exp %y : (f32) -> f32
  %e2 = loom.exp %x : (f32) -> f32
  %a = loom.add %e1, %e2 : (f32, f32) -> f32
  func.return %a : f32
}
