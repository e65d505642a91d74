// convert-scf-to-cf (xDSL's pass, registered for pipelines; Loom's own lowering is loom-scf-to-cf,
// which adds scf.while and run-time checks): an scf.for becomes a header block that compares the
// induction variable with the bound, a body, and a latch that steps it; an scf.if inside becomes a
// cf.cond_br to two blocks that meet in a block whose argument is the yielded value.
// RUN: loom opt %s -p convert-scf-to-cf | filecheck %s

// CHECK-LABEL: func.func @sum(%n: index, %x: memref<?xf32>) -> f32 {
// CHECK:         cf.br ^[[HEAD:bb[0-9]+]](%c0, %z : index, f32)
// CHECK-NEXT:  ^[[HEAD]](%i: index, %acc: f32):
// CHECK-NEXT:    [[LT:%.*]] = arith.cmpi slt, %i, %n : index
// CHECK-NEXT:    cf.cond_br [[LT]], ^[[BODY:bb[0-9]+]], ^[[EXIT:bb[0-9]+]]
// CHECK-NEXT:  ^[[BODY]]:
// CHECK-NEXT:    %v = memref.load %x[%i] : memref<?xf32>
// CHECK-NEXT:    %pos = arith.cmpf ogt, %v, %z : f32
// CHECK-NEXT:    cf.cond_br %pos, ^[[THEN:bb[0-9]+]], ^[[ELSE:bb[0-9]+]]
// CHECK-NEXT:  ^[[THEN]]:
// CHECK-NEXT:    %a = arith.addf %acc, %v : f32
// CHECK-NEXT:    cf.br ^[[JOIN:bb[0-9]+]](%a : f32)
// CHECK-NEXT:  ^[[ELSE]]:
// CHECK-NEXT:    cf.br ^[[JOIN]](%acc : f32)
// CHECK-NEXT:  ^[[JOIN]](%t: f32):
// CHECK:         [[NEXT:%.*]] = arith.addi %i, %c1 : index
// CHECK-NEXT:    cf.br ^[[HEAD]]([[NEXT]], %t : index, f32)
// CHECK-NEXT:  ^[[EXIT]]:
// CHECK-NEXT:    func.return %acc : f32
// CHECK-NOT:     scf.
func.func @sum(%n: index, %x: memref<?xf32>) -> f32 {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %z = arith.constant 0.000000e+00 : f32
  %s = scf.for %i = %c0 to %n step %c1 iter_args(%acc = %z) -> (f32) {
    %v = memref.load %x[%i] : memref<?xf32>
    %pos = arith.cmpf ogt, %v, %z : f32
    %t = scf.if %pos -> (f32) {
      %a = arith.addf %acc, %v : f32
      scf.yield %a : f32
    } else {
      scf.yield %acc : f32
    }
    scf.yield %t : f32
  }
  func.return %s : f32
}
