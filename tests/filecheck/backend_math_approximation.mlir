// math-approximation: math.{exp,log,tanh,sin,cos,expm1,log1p} on f32/f64 scalars -> straight-line
// arith code (polynomials, compares and selects, bit tricks; no branches, no calls; one table: the
// bits of 2/pi that f64 sin/cos read for |x| >= 2^26, a module-level constant memref.global), so
// that a loop calling them still vectorizes (LLVM has no vector tanhf/expf/logf without a vector
// math library). The op's fastmath flags go on every new float op, except `reassoc` (it would let
// LLVM undo the exact range reductions).
// RUN: loom opt %s -p math-approximation | filecheck %s
// Anywhere in the output: no transcendental math op and no call is left...
// RUN: loom opt %s -p math-approximation | filecheck %s --check-prefix=GONE
// GONE-NOT: {{math\.(tanh|exp|log)|call}}
// ...and `reassoc` was not copied from the tanh onto its expansion.
// RUN: loom opt %s -p math-approximation | filecheck %s --check-prefix=NOREASSOC
// NOREASSOC-NOT: reassoc

// The table (an f64 sin below needs it), once, at the top of the module: 2/pi's bits as 27-bit
// integers after two limbs of zeros (0x517CC1B = 85445659: 2/pi = 0.A2F9836E...).
// CHECK:       "memref.global"() <{sym_name = "__loom_two_over_pi", type = memref<45xi64>, initial_value = dense<[0, 0, 85445659, 60002565,
// CHECK-SAME:  sym_visibility = "private", constant}>
// CHECK-NOT:   memref.global
// CHECK-LABEL: func.func @f(%x: f32, %y: f64) -> (f32, f32, f64) {
// tanh f32: for |x| < 0.625 an odd polynomial in x*x, carrying the op's `contract` flag...
// CHECK-NEXT:    [[X2:%.*]] = arith.mulf %x, %x fastmath<contract> : f32
// CHECK:         [[ABS:%.*]] = math.absf %x fastmath<contract> : f32
// ...otherwise 1 - 2/(e^(2|x|) + 1), |x| clamped to 10 first (where tanh is 1.0f anyway)...
// CHECK:         [[TEN:%.*]] = arith.constant 1.000000e+01 : f32
// CHECK-NEXT:    [[SMALL:%.*]] = arith.cmpf olt, [[ABS]], [[TEN]] fastmath<contract> : f32
// CHECK-NEXT:    [[CL:%.*]] = arith.select [[SMALL]], [[ABS]], [[TEN]] : f32
// CHECK-NEXT:    [[TWOX:%.*]] = arith.addf [[CL]], [[CL]] fastmath<contract> : f32
// CHECK:         [[ONE:%.*]] = arith.constant 1.000000e+00 : f32
// CHECK:         [[TWO:%.*]] = arith.constant 2.000000e+00 : f32
// CHECK-NEXT:    [[Q:%.*]] = arith.divf [[TWO]], {{%.*}} fastmath<contract> : f32
// CHECK-NEXT:    [[FAR:%.*]] = arith.subf [[ONE]], [[Q]] fastmath<contract> : f32
// ...chosen by an unordered compare (so a NaN takes the polynomial path and stays NaN) and given
// x's sign back.
// CHECK-NEXT:    [[C0625:%.*]] = arith.constant 6.250000e-01 : f32
// CHECK-NEXT:    [[NEAR:%.*]] = arith.cmpf ult, [[ABS]], [[C0625]] fastmath<contract> : f32
// CHECK-NEXT:    [[MAG:%.*]] = arith.select [[NEAR]], {{%.*}}, [[FAR]] : f32
// CHECK-NEXT:    [[TANH:%.*]] = math.copysign [[MAG]], %x fastmath<contract> : f32
// exp f32 (no flags on the op: none on its expansion): x clamped to [-104, 88.8], n = rint(x*log2 e)
// with the 1.5*2^23 "magic number" (0x4B400000), whose bits also give n.
// CHECK-NEXT:    [[HI:%.*]] = arith.constant 8.880000e+01 : f32
// CHECK-NEXT:    [[LT:%.*]] = arith.cmpf olt, %x, [[HI]] : f32
// CHECK-NEXT:    [[A:%.*]] = arith.select [[LT]], %x, [[HI]] : f32
// CHECK-NEXT:    [[LO:%.*]] = arith.constant -1.040000e+02 : f32
// CHECK-NEXT:    [[GT:%.*]] = arith.cmpf ogt, [[A]], [[LO]] : f32
// CHECK-NEXT:    [[B:%.*]] = arith.select [[GT]], [[A]], [[LO]] : f32
// CHECK-NEXT:    [[LOG2E:%.*]] = arith.constant 1.44269502 : f32
// CHECK-NEXT:    [[XL:%.*]] = arith.mulf [[B]], [[LOG2E]] : f32
// CHECK-NEXT:    [[MAGIC:%.*]] = arith.constant 0x4B400000 : f32
// CHECK-NEXT:    [[NM:%.*]] = arith.addf [[XL]], [[MAGIC]] : f32
// CHECK-NEXT:    [[N:%.*]] = arith.subf [[NM]], [[MAGIC]] : f32
// CHECK-NEXT:    [[NBITS:%.*]] = arith.bitcast [[NM]] : f32 to i32
// A NaN argument is passed through (the clamps would have turned it into a number).
// CHECK:         [[ISNAN:%.*]] = arith.cmpf uno, %x, %x : f32
// CHECK-NEXT:    [[EXP:%.*]] = arith.select [[ISNAN]], %x, {{%.*}} : f32
// log f64: denormals (below 2.2250738585072014e-308, the smallest normal) are scaled first.
// CHECK-NEXT:    [[MINNORM:%.*]] = arith.constant 2.2250738585072014e-308 : f64
// CHECK-NEXT:    [[DEN:%.*]] = arith.cmpf olt, %y, [[MINNORM]] : f64
// The special cases last: log(+inf) = +inf, log(0) = -inf, log(x < 0 or NaN) = NaN.
// CHECK:         [[NEG:%.*]] = arith.cmpf ult, %y, {{%.*}} : f64
// CHECK-NEXT:    [[NAN:%.*]] = arith.constant 0x7ff8000000000000 : f64
// CHECK-NEXT:    [[LOG:%.*]] = arith.select [[NEG]], [[NAN]], {{%.*}} : f64
// CHECK-NEXT:    func.return [[TANH]], [[EXP]], [[LOG]] : f32, f32, f64
func.func @f(%x: f32, %y: f64) -> (f32, f32, f64) {
  %t = math.tanh %x fastmath<reassoc,contract> : f32
  %e = math.exp %x : f32
  %l = math.log %y : f64
  func.return %t, %e, %l : f32, f32, f64
}

// sin f64: Cody-Waite (n = rint(|x|*2/pi), pi/2 in four parts) for |x| < 2^26...
// CHECK-LABEL: func.func @sin64(%y: f64) -> f64 {
// CHECK-NEXT:    [[A:%.*]] = math.absf %y : f64
// CHECK-NEXT:    [[TWOPI:%.*]] = arith.constant 0.63661977236758138 : f64
// CHECK-NEXT:    {{%.*}} = arith.mulf [[A]], [[TWOPI]] : f64
// ...Payne-Hanek from 2^26 to the largest finite double (not inf: it takes Cody-Waite's NaN)...
// CHECK:         [[LIM:%.*]] = arith.constant 0x4190000000000000 : f64
// CHECK-NEXT:    [[GE:%.*]] = arith.cmpf oge, [[A]], [[LIM]] : f64
// CHECK-NEXT:    [[INF:%.*]] = arith.constant 0x7ff0000000000000 : f64
// CHECK-NEXT:    [[FIN:%.*]] = arith.cmpf olt, [[A]], [[INF]] : f64
// CHECK-NEXT:    [[LARGE:%.*]] = arith.andi [[GE]], [[FIN]] : i1
// the window of 2/pi's bits that x's exponent needs: limbs q .. q+7 of the table, q = (e - 1023) / 27
// CHECK:         [[Q:%.*]] = arith.divui {{%.*}}, {{%.*}} : i64
// CHECK:         [[T:%.*]] = memref.get_global @__loom_two_over_pi : memref<45xi64>
// CHECK-NEXT:    [[I0:%.*]] = arith.index_cast [[Q]] : i64 to index
// CHECK-NEXT:    {{%.*}} = memref.load [[T]][[[I0]]] : memref<45xi64>
// CHECK-COUNT-7: memref.load [[T]]
// the significand times the window in 27-bit columns (products exact in i64), r = f*pi/2 as head + tail (FMA)
// CHECK:         arith.muli
// CHECK:         math.fma
// CHECK:         {{%.*}} = arith.select [[LARGE]], {{%.*}}, {{%.*}} : f64
// CHECK-NEXT:    [[TAIL:%.*]] = arith.constant 0.000000e+00 : f64
// CHECK-NEXT:    {{%.*}} = arith.select [[LARGE]], {{%.*}}, [[TAIL]] : f64
// CHECK-NEXT:    {{%.*}} = arith.select [[LARGE]], {{%.*}}, {{%.*}} : i64
// then fdlibm's kernels, with the tail: sin(r + t) = sin r + t*cos r
// CHECK:         func.return
func.func @sin64(%y: f64) -> f64 {
  %s = math.sin %y : f64
  func.return %s : f64
}
