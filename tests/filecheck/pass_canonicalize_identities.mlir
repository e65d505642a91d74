// canonicalize: algebraic identities that are exact in IEEE arithmetic -- x*1, 1*x, x/1, x-0,
// -(-x), not(not b), and x+0 for integers only (for floats -0.0 + 0.0 is +0.0, so x+0.0 stays;
// x - (-0.0) stays for the same reason).
// RUN: loom opt %s -p canonicalize | filecheck %s

// CHECK-LABEL: func.func @ident(%x: tensor<4xf32>) -> tensor<4xf32>
// CHECK-NEXT:    [[Z:%.*]] = arith.constant 0.000000e+00 : f32
// CHECK-NEXT:    [[A:%.*]] = loom.add %x, [[Z]] : (tensor<4xf32>, f32) -> tensor<4xf32>
// CHECK-NEXT:    func.return [[A]] : tensor<4xf32>
// CHECK-NEXT:  }
func.func @ident(%x: tensor<4xf32>) -> tensor<4xf32> {
  %one = arith.constant 1.000000e+00 : f32
  %zero = arith.constant 0.000000e+00 : f32
  %m = loom.mul %x, %one : (tensor<4xf32>, f32) -> tensor<4xf32>
  %m2 = loom.mul %one, %m : (f32, tensor<4xf32>) -> tensor<4xf32>
  %d = loom.div %m2, %one : (tensor<4xf32>, f32) -> tensor<4xf32>
  %s = loom.sub %d, %zero : (tensor<4xf32>, f32) -> tensor<4xf32>
  %n = loom.neg %s : (tensor<4xf32>) -> tensor<4xf32>
  %nn = loom.neg %n : (tensor<4xf32>) -> tensor<4xf32>
  %add = loom.add %nn, %zero : (tensor<4xf32>, f32) -> tensor<4xf32>
  func.return %add : tensor<4xf32>
}

// CHECK-LABEL: func.func @ints(%i: i64, %b: tensor<3xi1>) -> (i64, i64, tensor<3xi1>)
// CHECK-NEXT:    func.return %i, %i, %b : i64, i64, tensor<3xi1>
func.func @ints(%i: i64, %b: tensor<3xi1>) -> (i64, i64, tensor<3xi1>) {
  %z = arith.constant 0 : i64
  %a = loom.add %i, %z : (i64, i64) -> i64
  %a2 = loom.add %z, %a : (i64, i64) -> i64
  %one = arith.constant 1 : i64
  %m = loom.mul %one, %i : (i64, i64) -> i64
  %n = loom.not %b : (tensor<3xi1>) -> tensor<3xi1>
  %nn = loom.not %n : (tensor<3xi1>) -> tensor<3xi1>
  func.return %a2, %m, %nn : i64, i64, tensor<3xi1>
}

// Subtracting -0.0 is not an identity (x - (-0.0) = x + 0.0 maps -0.0 to +0.0): kept.
// CHECK-LABEL: func.func @negzero(%x: f32) -> f32
// CHECK-NEXT:    [[NZ:%.*]] = arith.constant -0.000000e+00 : f32
// CHECK-NEXT:    [[S:%.*]] = loom.sub %x, [[NZ]] : (f32, f32) -> f32
// CHECK-NEXT:    func.return [[S]]
func.func @negzero(%x: f32) -> f32 {
  %nz = arith.constant -0.000000e+00 : f32
  %s = loom.sub %x, %nz : (f32, f32) -> f32
  func.return %s : f32
}

// Scalars and tensors alike, the constant on either side.
// CHECK-LABEL: func.func @mixed(%s: f32, %t: tensor<3xf32>) -> (f32, tensor<3xf32>)
// CHECK-NEXT:    func.return %s, %t : f32, tensor<3xf32>
func.func @mixed(%s: f32, %t: tensor<3xf32>) -> (f32, tensor<3xf32>) {
  %one = arith.constant 1.000000e+00 : f32
  %a = loom.mul %one, %s : (f32, f32) -> f32
  %c = loom.mul %one, %t : (f32, tensor<3xf32>) -> tensor<3xf32>
  func.return %a, %c : f32, tensor<3xf32>
}
