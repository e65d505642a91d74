// canonicalize folds elementwise loom ops on scalar constants with the reference executor's own
// semantics (Python floor division/modulo, i64/i32 wrap-around, IEEE inf/nan), and folds
// select of a constant condition. Integer division by zero is NOT folded (it stays a run-time
// error). Folded constants that end up unused are erased.
// RUN: loom opt %s -p canonicalize | filecheck %s

// CHECK-LABEL: func.func @floats() -> (f32, f32, f32, f64, f32, i1, f32)
// CHECK-NEXT:    [[EXP6:%.*]] = arith.constant 403.428772 : f32
// CHECK-NEXT:    [[INF:%.*]] = arith.constant 0x7f800000 : f32
// CHECK-NEXT:    [[NAN:%.*]] = arith.constant 0xffc00000 : f32
// CHECK-NEXT:    [[SQ:%.*]] = arith.constant 0.70710678118654757 : f64
// CHECK-NEXT:    [[NZ:%.*]] = arith.constant -0.000000e+00 : f32
// CHECK-NEXT:    [[EQ:%.*]] = arith.constant false
// CHECK-NEXT:    [[C:%.*]] = arith.constant -7.000000e+00 : f32
// CHECK-NEXT:    func.return [[EXP6]], [[INF]], [[NAN]], [[SQ]], [[NZ]], [[EQ]], [[C]] : f32, f32, f32, f64, f32, i1, f32
func.func @floats() -> (f32, f32, f32, f64, f32, i1, f32) {
  %a = arith.constant 2.000000e+00 : f32
  %b = arith.constant 3.000000e+00 : f32
  %c = loom.mul %a, %b : (f32, f32) -> f32
  %d = loom.exp %c : (f32) -> f32
  %one = arith.constant 1.000000e+00 : f32
  %zero = arith.constant 0.000000e+00 : f32
  %inf = loom.div %one, %zero : (f32, f32) -> f32
  %nan = loom.div %zero, %zero : (f32, f32) -> f32
  %h = arith.constant 5.000000e-01 : f64
  %sq = loom.sqrt %h : (f64) -> f64
  %neg = loom.neg %zero : (f32) -> f32
  %eq = loom.cmp "eq", %nan, %nan : (f32, f32) -> i1
  %i = arith.constant -7 : i64
  %cv = loom.convert %i : (i64) -> f32
  func.return %d, %inf, %nan, %sq, %neg, %eq, %cv : f32, f32, f32, f64, f32, i1, f32
}

// CHECK-LABEL: func.func @ints() -> (i64, i64, i64, i64, i32, i1, i1, i64)
// CHECK-NEXT:    [[A:%.*]] = arith.constant -7 : i64
// CHECK-NEXT:    [[Q:%.*]] = arith.constant -4 : i64
// CHECK-NEXT:    [[R:%.*]] = arith.constant 1 : i64
// CHECK-NEXT:    [[P:%.*]] = arith.constant 4 : i64
// CHECK-NEXT:    [[OV:%.*]] = arith.constant -9223372036854775808 : i64
// CHECK-NEXT:    [[OV32:%.*]] = arith.constant -2147483648 : i32
// CHECK-NEXT:    [[O:%.*]] = arith.constant false
// CHECK-NEXT:    [[AN:%.*]] = arith.constant true
// CHECK-NEXT:    [[Z:%.*]] = arith.constant 0 : i64
// CHECK-NEXT:    [[DZ:%.*]] = loom.floordiv [[A]], [[Z]] : (i64, i64) -> i64
// CHECK-NEXT:    func.return [[Q]], [[R]], [[P]], [[OV]], [[OV32]], [[O]], [[AN]], [[DZ]]
func.func @ints() -> (i64, i64, i64, i64, i32, i1, i1, i64) {
  %a = arith.constant -7 : i64
  %b = arith.constant 2 : i64
  %q = loom.floordiv %a, %b : (i64, i64) -> i64
  %r = loom.rem %a, %b : (i64, i64) -> i64
  %p = loom.pow %b, %b : (i64, i64) -> i64
  %big = arith.constant 9223372036854775807 : i64
  %1 = arith.constant 1 : i64
  %ov = loom.add %big, %1 : (i64, i64) -> i64
  %a32 = arith.constant 2147483647 : i32
  %b32 = arith.constant 1 : i32
  %ov32 = loom.add %a32, %b32 : (i32, i32) -> i32
  %t = arith.constant true
  %f = arith.constant false
  %n = loom.not %t : (i1) -> i1
  %o = loom.or %n, %f : (i1, i1) -> i1
  %an = loom.and %t, %t : (i1, i1) -> i1
  %z = arith.constant 0 : i64
  %dz = loom.floordiv %a, %z : (i64, i64) -> i64
  func.return %q, %r, %p, %ov, %ov32, %o, %an, %dz : i64, i64, i64, i64, i32, i1, i1, i64
}

// select(true, a, b) -> a; select(false, v, y) is kept when y would need a broadcast;
// select(c, a, a) -> a for one value or two equal integer/bool constants (where(c, true, true):
// otherwise only the backend folded it, and a check that the fold made dead was gone in compiled
// code but not in the reference run of the loom-opt IR — a fuzz finding); two float constants
// are kept (-0.0 and 0.0 compare equal).
// CHECK-LABEL: func.func @select(%v: tensor<3xf32>, %c: i1, %z: f32) -> (f32, tensor<3xf32>, f32, i1, f32, f32)
// CHECK-NEXT:    [[T:%.*]] = arith.constant true
// CHECK-NEXT:    [[F:%.*]] = arith.constant false
// CHECK-NEXT:    [[X:%.*]] = arith.constant 1.500000e+00 : f32
// CHECK-NEXT:    [[Y:%.*]] = arith.constant 2.500000e+00 : f32
// CHECK-NEXT:    [[S2:%.*]] = loom.select [[F]], %v, [[Y]] : (i1, tensor<3xf32>, f32) -> tensor<3xf32>
// CHECK-NEXT:    [[P:%.*]] = arith.constant 0.000000e+00 : f32
// CHECK-NEXT:    [[M:%.*]] = arith.constant -0.000000e+00 : f32
// CHECK-NEXT:    [[S6:%.*]] = loom.select %c, [[P]], [[M]] : (i1, f32, f32) -> f32
// CHECK-NEXT:    func.return [[X]], [[S2]], [[Y]], [[T]], %z, [[S6]] : f32, tensor<3xf32>, f32, i1, f32, f32
func.func @select(%v: tensor<3xf32>, %c: i1, %z: f32) -> (f32, tensor<3xf32>, f32, i1, f32, f32) {
  %t = arith.constant true
  %f = arith.constant false
  %x = arith.constant 1.500000e+00 : f32
  %y = arith.constant 2.500000e+00 : f32
  %s = loom.select %t, %x, %y : (i1, f32, f32) -> f32
  %s2 = loom.select %f, %v, %y : (i1, tensor<3xf32>, f32) -> tensor<3xf32>
  %s3 = loom.select %f, %x, %y : (i1, f32, f32) -> f32
  %t2 = arith.constant true
  %s4 = loom.select %c, %t, %t2 : (i1, i1, i1) -> i1
  %s5 = loom.select %c, %z, %z : (i1, f32, f32) -> f32
  %p = arith.constant 0.000000e+00 : f32
  %m = arith.constant -0.000000e+00 : f32
  %s6 = loom.select %c, %p, %m : (i1, f32, f32) -> f32
  func.return %s, %s2, %s3, %s4, %s5, %s6 : f32, tensor<3xf32>, f32, i1, f32, f32
}

// Tensor ops on constants are not folded (only scalars are).
// CHECK-LABEL: func.func @tensor_not_folded() -> tensor<2xf32>
// CHECK:         loom.full
// CHECK-NEXT:    loom.exp
func.func @tensor_not_folded() -> tensor<2xf32> {
  %a = arith.constant 1.000000e+00 : f32
  %t = loom.full %a : (f32) -> tensor<2xf32>
  %e = loom.exp %t : (tensor<2xf32>) -> tensor<2xf32>
  func.return %e : tensor<2xf32>
}
