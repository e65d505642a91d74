// loom-interrupt-checks: the program's loops (scf.for, scf.while: tensor ops are still linalg ops
// here, so their loops are not polled) read the module's interrupt flag with an atomic load (LLVM
// cannot hoist it out of a loop) and check that it is zero; the flag is a weak global initialized
// to 0 (the runtime's SIGINT handler sets it while a call runs). An scf.for is strip-mined: the
// outer loop polls once per chunk of 65536 iterations and the original loop, its body unchanged (so
// LLVM can still vectorize it), runs over the chunk. A loop of at most 65536 iterations is polled
// once, before it; an scf.while polls in every iteration.
// RUN: loom opt %s -p loom-interrupt-checks | filecheck %s
// RUN: loom opt %s -p loom-interrupt-checks,loom-scf-to-cf,convert-to-llvm,reconcile-unrealized-casts | filecheck %s --check-prefix=LLVM

// CHECK-LABEL: func.func @count(%n: index) -> i64 {
// The outer loop counts chunks, ceil((n - 0) / 65536) computed unsigned (no bound can wrap past the
// largest integer, whatever n is); chunk k runs [c, end) with end = c + 65536 or n.
// CHECK:         [[BIG:%.*]] = arith.constant 65536 : index
// CHECK-NEXT:    [[ONE:%.*]] = arith.constant 1 : index
// CHECK-NEXT:    [[ZERO:%.*]] = arith.constant 0 : index
// CHECK-NEXT:    [[SPAN:%.*]] = arith.subi %n, %c0 : index
// CHECK-NEXT:    [[SPAN1:%.*]] = arith.subi [[SPAN]], [[ONE]] : index
// CHECK-NEXT:    [[Q:%.*]] = arith.divui [[SPAN1]], [[BIG]] : index
// CHECK-NEXT:    [[Q1:%.*]] = arith.addi [[Q]], [[ONE]] : index
// CHECK-NEXT:    [[NONEMPTY:%.*]] = arith.cmpi slt, %c0, %n : index
// CHECK-NEXT:    [[CHUNKS:%.*]] = arith.select [[NONEMPTY]], [[Q1]], [[ZERO]] : index
// CHECK-NEXT:    %r = scf.for [[K:%.*]] = [[ZERO]] to [[CHUNKS]] step [[ONE]] iter_args([[A:%.*]] = %z) -> (i64) {
// CHECK-NEXT:      [[P:%.*]] = llvm.mlir.addressof @loom_interrupt : !llvm.ptr
// CHECK-NEXT:      [[F:%.*]] = llvm.load [[P]] atomic monotonic {alignment = 4 : i64} : !llvm.ptr -> i32
// CHECK-NEXT:      [[Z:%.*]] = arith.constant 0 : i32
// CHECK-NEXT:      [[OK:%.*]] = arith.cmpi eq, [[F]], [[Z]] : i32
// CHECK-NEXT:      cf.assert [[OK]], "interrupted"
// CHECK-NEXT:      [[OFF:%.*]] = arith.muli [[K]], [[BIG]] : index
// CHECK-NEXT:      [[C:%.*]] = arith.addi %c0, [[OFF]] : index
// CHECK-NEXT:      [[LEFT:%.*]] = arith.subi %n, [[C]] : index
// CHECK-NEXT:      [[FULL:%.*]] = arith.cmpi ugt, [[LEFT]], [[BIG]] : index
// CHECK-NEXT:      [[NEXT:%.*]] = arith.addi [[C]], [[BIG]] : index
// CHECK-NEXT:      [[END:%.*]] = arith.select [[FULL]], [[NEXT]], %n : index
// CHECK-NEXT:      [[R:%.*]] = scf.for %i = [[C]] to [[END]] step %c1 iter_args(%acc = [[A]]) -> (i64) {
// CHECK-NEXT:        %next = arith.addi %acc, %one : i64
// CHECK-NEXT:        scf.yield %next : i64
// CHECK-NEXT:      }
// CHECK-NEXT:      scf.yield [[R]] : i64
// CHECK-NEXT:    }
// A step too large for 65536 of them to fit in 64 bits: chunks of fewer iterations (2**62: one).
// CHECK-LABEL: func.func @huge_step(%n: i64) -> i64 {
// CHECK:         [[BIG:%[0-9]+]] = arith.constant 4611686018427387904 : i64
// CHECK:         arith.divui {{%.*}}, [[BIG]] : i64
// CHECK-LABEL: func.func @short() -> i64 {
// CHECK:         cf.assert {{%.*}}, "interrupted"
// CHECK-NEXT:    %r = scf.for %i = %c0 to %c100 step %c1 iter_args(%acc = %z) -> (i64) {
// CHECK-NEXT:      %next = arith.addi %acc, %one : i64
// CHECK-NEXT:      scf.yield %next : i64
// CHECK-NEXT:    }
// CHECK-LABEL: func.func @spin(%n: i64) -> i64 {
// CHECK:         scf.while
// CHECK:         } do {
// CHECK-NEXT:    ^{{.*}}(%j: i64):
// CHECK-NEXT:      llvm.mlir.addressof @loom_interrupt
// CHECK-NEXT:      llvm.load {{%.*}} atomic monotonic
// CHECK-NEXT:      arith.constant 0 : i32
// CHECK-NEXT:      arith.cmpi eq
// CHECK-NEXT:      cf.assert {{%.*}}, "interrupted"
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
func.func @huge_step(%n: i64) -> i64 {
  %lo = arith.constant -9223372036854775807 : i64
  %s = arith.constant 4611686018427387904 : i64
  %z = arith.constant 0 : i64
  %one = arith.constant 1 : i64
  %r = scf.for %i = %lo to %n step %s iter_args(%acc = %z) -> (i64) : i64 {
    %next = arith.addi %acc, %one : i64
    scf.yield %next : i64
  }
  func.return %r : i64
}
func.func @short() -> i64 {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c100 = arith.constant 100 : index
  %z = arith.constant 0 : i64
  %one = arith.constant 1 : i64
  %r = scf.for %i = %c0 to %c100 step %c1 iter_args(%acc = %z) -> (i64) {
    %next = arith.addi %acc, %one : i64
    scf.yield %next : i64
  }
  func.return %r : i64
}
func.func @spin(%n: i64) -> i64 {
  %z = arith.constant 0 : i64
  %one = arith.constant 1 : i64
  %r = scf.while (%i = %z) : (i64) -> i64 {
    %c = arith.cmpi slt, %i, %n : i64
    scf.condition(%c) %i : i64
  } do {
  ^bb0(%j: i64):
    %next = arith.addi %j, %one : i64
    scf.yield %next : i64
  }
  func.return %r : i64
}
