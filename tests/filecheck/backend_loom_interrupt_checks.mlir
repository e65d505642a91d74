// loom-interrupt-checks: every loop of the program (scf.for, scf.while: tensor ops are still
// linalg ops here, so their loops are not polled) starts by reading the module's interrupt flag with
// an atomic load (LLVM cannot hoist it out of the loop) and checking that it is zero; the flag is a
// weak global initialized to 0 (the runtime's SIGINT handler sets it while a call runs).
// RUN: loom opt %s -p loom-interrupt-checks | filecheck %s
// RUN: loom opt %s -p loom-interrupt-checks,loom-scf-to-cf,convert-to-llvm,reconcile-unrealized-casts | filecheck %s --check-prefix=LLVM

// CHECK-LABEL: func.func @count(%n: index) -> i64 {
// CHECK:         scf.for %i = %c0 to %n step %c1 iter_args(%acc = %z) -> (i64) {
// CHECK-NEXT:      [[P:%.*]] = llvm.mlir.addressof @loom_interrupt : !llvm.ptr
// CHECK-NEXT:      [[F:%.*]] = llvm.load [[P]] atomic monotonic {alignment = 4 : i64} : !llvm.ptr -> i32
// CHECK-NEXT:      [[Z:%.*]] = arith.constant 0 : i32
// CHECK-NEXT:      [[OK:%.*]] = arith.cmpi eq, [[F]], [[Z]] : i32
// CHECK-NEXT:      cf.assert [[OK]], "interrupted"
// CHECK-NEXT:      arith.addi
// CHECK:         llvm.mlir.global weak @loom_interrupt(0 : i32)
// LLVM:          llvm.load {{%.*}} atomic monotonic
// LLVM:          llvm.mlir.global weak @loom_interrupt(0 : i32)
func.func @count(%n: index) -> i64 {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %z = arith.constant 0 : i64
  %one = arith.constant 1 : i64
  %r = scf.for %i = %c0 to %n step %c1 iter_args(%acc = %z) -> (i64) {
    %next = arith.addi %acc, %one : i64
    scf.yield %next : i64
  }
  func.return %r : i64
}
