// convert-arith-to-llvm and convert-math-to-llvm, each run alone on scalar code (where the other
// passes have nothing to retype, so the IR stays valid in between).
// arith: one llvm op per arith op, except what LLVM lacks (floordivsi becomes sdiv/srem and a
// correction); every float op gets fastmath `contract` plus its own flags (`reassoc` only where the
// input had it: reduction combiners); maximumf (NaN-propagating, like NumPy) -> llvm.intr.maximum.
// math: intrinsics where LLVM has one (sqrt), libm calls where it does not (tanhf) -- which is why
// `math-approximation` runs first in the real pipeline: a call blocks vectorization.
// RUN: loom opt %s -p convert-arith-to-llvm | filecheck %s --check-prefix=ARITH
// RUN: loom opt %s -p convert-math-to-llvm | filecheck %s --check-prefix=MATH

// ARITH-LABEL: func.func @s(%a: f32, %b: f32, %i: i64, %j: i64) -> f32 {
// ARITH-NEXT:    [[M:%.*]] = llvm.fmul %a, %b {fastmathFlags = #llvm.fastmath<contract>} : f32
// ARITH-NEXT:    [[R:%.*]] = llvm.fadd [[M]], %a {fastmathFlags = #llvm.fastmath<reassoc,contract>} : f32
// Division of floats gets `contract` too, even with no flags on the input op.
// ARITH-NEXT:    [[D:%.*]] = llvm.fdiv [[R]], %b {fastmathFlags = #llvm.fastmath<contract>} : f32
// ARITH-NEXT:    [[X:%.*]] = llvm.intr.maximum([[D]], %b) {fastmathFlags = #llvm.fastmath<contract>} : (f32, f32) -> f32
// floor(i / j): q = sdiv, r = srem; if r != 0 and (r < 0) != (j < 0), q - 1.
// ARITH-NEXT:    [[ZERO:%.*]] = llvm.mlir.constant(0) : i64
// ARITH-NEXT:    [[ONE:%.*]] = llvm.mlir.constant(1) : i64
// ARITH-NEXT:    [[Q:%.*]] = llvm.sdiv %i, %j : i64
// ARITH-NEXT:    [[REM:%.*]] = llvm.srem %i, %j : i64
// ARITH-NEXT:    [[NZ:%.*]] = llvm.icmp "ne" [[REM]], [[ZERO]] : i64
// ARITH-NEXT:    [[RNEG:%.*]] = llvm.icmp "slt" [[REM]], [[ZERO]] : i64
// ARITH-NEXT:    [[JNEG:%.*]] = llvm.icmp "slt" %j, [[ZERO]] : i64
// ARITH-NEXT:    [[DIFF:%.*]] = llvm.icmp "ne" [[RNEG]], [[JNEG]] : i1
// ARITH-NEXT:    [[FIX:%.*]] = llvm.and [[NZ]], [[DIFF]] : i1
// ARITH-NEXT:    [[QM1:%.*]] = llvm.sub [[Q]], [[ONE]] : i64
// ARITH-NEXT:    [[FQ:%.*]] = llvm.select [[FIX]], [[QM1]], [[Q]] : i1, i64
// ARITH-NEXT:    [[F:%.*]] = llvm.sitofp [[FQ]] : i64 to f32
// ARITH-NEXT:    [[C:%.*]] = llvm.fcmp "olt" [[X]], [[F]] : f32
// ARITH-NEXT:    [[SEL:%.*]] = llvm.select [[C]], [[X]], [[F]] : i1, f32
// The math ops are not this pass's business.
// ARITH-NEXT:    [[T:%.*]] = math.tanh [[SEL]] : f32
// ARITH-NEXT:    [[E:%.*]] = math.sqrt [[T]] : f32
// ARITH-NEXT:    func.return [[E]] : f32

// MATH-LABEL: func.func @s(%a: f32, %b: f32, %i: i64, %j: i64) -> f32 {
// MATH:          [[SEL:%.*]] = arith.select
// MATH-NEXT:     [[T:%.*]] = llvm.call @tanhf([[SEL]]) : (f32) -> f32
// MATH-NEXT:     [[E:%.*]] = llvm.intr.sqrt([[T]]) : (f32) -> f32
// MATH-NEXT:     func.return [[E]] : f32
// MATH:        llvm.func @tanhf(f32) -> f32
func.func @s(%a: f32, %b: f32, %i: i64, %j: i64) -> f32 {
  %m = arith.mulf %a, %b fastmath<contract> : f32
  %r = arith.addf %m, %a fastmath<reassoc,contract> : f32
  %d = arith.divf %r, %b : f32
  %x = arith.maximumf %d, %b : f32
  %q = arith.floordivsi %i, %j : i64
  %f = arith.sitofp %q : i64 to f32
  %c = arith.cmpf olt, %x, %f : f32
  %s = arith.select %c, %x, %f : f32
  %t = math.tanh %s : f32
  %e = math.sqrt %t : f32
  func.return %e : f32
}

// The softmax family's shift by the maximum (`loom.no_contract`, dialects/loom.py: NO_CONTRACT) gets
// no `contract`, so LLVM cannot fuse it with the multiply that made its operand: the product is
// rounded before the maximum is subtracted, and the largest element shifts to exactly 0.
// ARITH-LABEL: func.func @shift(%y: f32, %m: f32) -> f32 {
// ARITH-NEXT:    [[SQ:%.*]] = llvm.fmul %y, %y {fastmathFlags = #llvm.fastmath<contract>} : f32
// ARITH-NEXT:    [[D:%.*]] = llvm.fsub [[SQ]], %m : f32
// ARITH-NEXT:    func.return [[D]] : f32
func.func @shift(%y: f32, %m: f32) -> f32 {
  %sq = arith.mulf %y, %y fastmath<contract> : f32
  %d = arith.subf %sq, %m {loom.no_contract} : f32
  func.return %d : f32
}
