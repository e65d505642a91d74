// Regression (was a bug): `--no-verify-each` is documented as "verify only
// at the end", but `loom opt` (and `loom compile --emit=loom`) then never verify at all: a pipeline
// that leaves invalid IR prints it and exits 0. Here convert-memref-to-llvm runs alone, which
// leaves an llvm.getelementptr on a memref-typed operand (the single convert-*-to-llvm passes are
// only consistent together; see convert-to-llvm): with verification after each pass it is an error
// (first RUN line), with --no-verify-each it should be the same error, reported at the end. The
// error says it is a partial conversion (a user's pipeline stopped midway), not a bug in the pass.
// Repro: `loom opt FILE -p convert-memref-to-llvm --no-verify-each; echo $?` prints the IR and 0.
// Fix: PassManager.run (or cmd_opt/cmd_compile) verifies once after the last pass when
// verify_each is off.
// RUN: not loom opt %s -p convert-memref-to-llvm --verify-each 2>&1 | filecheck %s --check-prefix=EACH
// RUN: not loom opt %s -p convert-memref-to-llvm --no-verify-each 2>&1 | filecheck %s --check-prefix=END
// EACH: error: the IR after 'convert-memref-to-llvm' is a partial conversion
// EACH-SAME: run -p convert-to-llvm
// END: error: the IR after 'convert-memref-to-llvm' is a partial conversion
func.func @f(%x: memref<4xf32>, %i: index) -> f32 {
  %v = memref.load %x[%i] : memref<4xf32>
  func.return %v : f32
}
