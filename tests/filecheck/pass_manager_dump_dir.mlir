// --dump-dir DIR writes the module before the first pass (00-input.mlir) and after each pass
// (NN-PASS.mlir) into DIR (creating it); stdout still gets the final module.
// RUN: rm -rf %t && loom opt %s -p loom-opt --dump-dir %t | filecheck %s --check-prefix=OUT
// RUN: ls %t | filecheck %s --check-prefix=LS
// RUN: filecheck %s --check-prefix=INPUT --input-file %t/00-input.mlir
// RUN: filecheck %s --check-prefix=CANON --input-file %t/02-canonicalize.mlir
// RUN: filecheck %s --check-prefix=DCE --input-file %t/05-dce.mlir

// OUT:       func.func @f(%x: f32) -> f32 {
// OUT-NEXT:    [[E:%.*]] = loom.exp %x : (f32) -> f32
// OUT-NEXT:    func.return [[E]] : f32

// LS:      00-input.mlir
// LS-NEXT: 01-loom-inline.mlir
// LS-NEXT: 02-canonicalize.mlir
// LS-NEXT: 03-cse.mlir
// LS-NEXT: 04-loom-merge-calls.mlir
// LS-NEXT: 05-dce.mlir
// LS-EMPTY:

// INPUT:       func.func @f(%x: f32
// INPUT:         loom.mul %x, %{{.*}} : (f32, f32) -> f32

// CANON-NOT:   loom.mul
// CANON:       loom.exp %x : (f32) -> f32
// CANON-NOT:   loom.mul

// DCE:         func.func @f(%x: f32
// DCE-NEXT:      [[E:%.*]] = loom.exp %x
// DCE-NEXT:      func.return [[E]]
func.func @f(%x: f32) -> f32 {
  %one = arith.constant 1.000000e+00 : f32
  %y = loom.mul %x, %one : (f32, f32) -> f32
  %e = loom.exp %y : (f32) -> f32
  func.return %e : f32
}
