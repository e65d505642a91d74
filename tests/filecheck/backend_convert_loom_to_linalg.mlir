// convert-loom-to-linalg: the first step of the native backend. Every `loom` tensor op becomes a
// `linalg.generic` whose indexing maps say, for each point (d0, d1, ...) of the iteration space,
// which element of each operand the scalar body reads. Nothing is materialized that a map can
// express: a broadcast operand simply has a map that drops a dimension (`(d0, d1) -> (d1)`) or pins
// a size-1 dimension to 0 (`(d0, d1) -> (d0, 0)`), a scalar operand is used directly in the body,
// a transpose is a permuted map around a body that just yields its input. Reductions get a
// `linalg.fill` of the identity as their initial value and `reduction` iterators; their combiner is
// `fastmath<reassoc,contract>` (reassociation is what lets LLVM vectorize a sum). A matmul is a
// contraction generic over (m, n, k). Run-time index checks become `loom.assert` (when the message
// shows the index's value) or `cf.assert`, before the access.
// RUN: loom opt %s -p convert-loom-to-linalg | filecheck %s

// Broadcasting: x (4x3) * r (3) reads r through a map that drops d0; c (4x1) * k uses the scalar k
// inside the body; the sum of a 4x3 and a 4x1 tensor reads the second through a map pinning d1 to 0.
// CHECK-LABEL: func.func @bcast(%x: tensor<4x3xf32>, %r: tensor<3xf32>, %c: tensor<4x1xf32>, %k: f32) -> tensor<4x3xf32>
// CHECK-NEXT:    [[E0:%.*]] = tensor.empty() : tensor<4x3xf32>
// CHECK-NEXT:    [[XR:%.*]] = linalg.generic {indexing_maps = [affine_map<(d0, d1) -> (d0, d1)>, affine_map<(d0, d1) -> (d1)>, affine_map<(d0, d1) -> (d0, d1)>], iterator_types = ["parallel", "parallel"]}
// CHECK-SAME:      ins(%x, %r : tensor<4x3xf32>, tensor<3xf32>) outs([[E0]] : tensor<4x3xf32>)
// CHECK-NEXT:    ^bb0([[A:%.*]]: f32, [[B:%.*]]: f32, {{%.*}}: f32):
// CHECK-NEXT:      [[M:%.*]] = arith.mulf [[A]], [[B]] fastmath<contract> : f32
// CHECK-NEXT:      linalg.yield [[M]] : f32
// CHECK-NEXT:    } -> tensor<4x3xf32>
// CHECK-NEXT:    [[E1:%.*]] = tensor.empty() : tensor<4x1xf32>
// The scalar %k is not an operand of the generic: the body captures it.
// CHECK-NEXT:    [[CK:%.*]] = linalg.generic {indexing_maps = [affine_map<(d0, d1) -> (d0, d1)>, affine_map<(d0, d1) -> (d0, d1)>], iterator_types = ["parallel", "parallel"]}
// CHECK-SAME:      ins(%c : tensor<4x1xf32>) outs([[E1]] : tensor<4x1xf32>)
// CHECK-NEXT:    ^bb0([[C:%.*]]: f32, {{%.*}}: f32):
// CHECK-NEXT:      [[CM:%.*]] = arith.mulf [[C]], %k fastmath<contract> : f32
// CHECK-NEXT:      linalg.yield [[CM]] : f32
// CHECK-NEXT:    } -> tensor<4x1xf32>
// CHECK-NEXT:    [[E2:%.*]] = tensor.empty() : tensor<4x3xf32>
// CHECK-NEXT:    [[S:%.*]] = linalg.generic {indexing_maps = [affine_map<(d0, d1) -> (d0, d1)>, affine_map<(d0, d1) -> (d0, 0)>, affine_map<(d0, d1) -> (d0, d1)>], iterator_types = ["parallel", "parallel"]}
// CHECK-SAME:      ins([[XR]], [[CK]] : tensor<4x3xf32>, tensor<4x1xf32>) outs([[E2]] : tensor<4x3xf32>)
// CHECK-NEXT:    ^bb0([[P:%.*]]: f32, [[Q:%.*]]: f32, {{%.*}}: f32):
// CHECK-NEXT:      [[AD:%.*]] = arith.addf [[P]], [[Q]] fastmath<contract> : f32
// CHECK-NEXT:      linalg.yield [[AD]] : f32
// CHECK-NEXT:    } -> tensor<4x3xf32>
// CHECK-NEXT:    func.return [[S]] : tensor<4x3xf32>
func.func @bcast(%x: tensor<4x3xf32>, %r: tensor<3xf32>, %c: tensor<4x1xf32>, %k: f32) -> tensor<4x3xf32> {
  %0 = loom.mul %x, %r : (tensor<4x3xf32>, tensor<3xf32>) -> tensor<4x3xf32>
  %1 = loom.mul %c, %k : (tensor<4x1xf32>, f32) -> tensor<4x1xf32>
  %2 = loom.add %0, %1 : (tensor<4x3xf32>, tensor<4x1xf32>) -> tensor<4x3xf32>
  func.return %2 : tensor<4x3xf32>
}

// A row sum: the init is a fill with 0 (the identity of +), d1 is a reduction dimension that the
// output map drops, and the combiner adds the element to the accumulator (the output's block arg).
// An f32 sum accumulates in f64 (docs/language.md §11) and is rounded to f32 by an elementwise
// generic after the reduction.
// CHECK-LABEL: func.func @rowsum(%x: tensor<4x3xf32>) -> tensor<4xf32>
// CHECK-NEXT:    [[ZERO:%.*]] = arith.constant 0.000000e+00 : f64
// CHECK-NEXT:    [[E:%.*]] = tensor.empty() : tensor<4xf64>
// CHECK-NEXT:    [[INIT:%.*]] = linalg.fill ins([[ZERO]] : f64) outs([[E]] : tensor<4xf64>) -> tensor<4xf64>
// CHECK-NEXT:    [[R:%.*]] = linalg.generic {indexing_maps = [affine_map<(d0, d1) -> (d0, d1)>, affine_map<(d0, d1) -> (d0)>], iterator_types = ["parallel", "reduction"]}
// CHECK-SAME:      ins(%x : tensor<4x3xf32>) outs([[INIT]] : tensor<4xf64>)
// CHECK-NEXT:    ^bb0([[EL:%.*]]: f32, [[ACC:%.*]]: f64):
// CHECK-NEXT:      [[WIDE:%.*]] = arith.extf [[EL]] : f32 to f64
// CHECK-NEXT:      [[NEW:%.*]] = arith.addf [[ACC]], [[WIDE]] fastmath<reassoc,contract> : f64
// CHECK-NEXT:      linalg.yield [[NEW]] : f64
// CHECK-NEXT:    } -> tensor<4xf64>
// CHECK-NEXT:    [[E2:%.*]] = tensor.empty() : tensor<4xf32>
// CHECK-NEXT:    [[S:%.*]] = linalg.generic {{.*}} iterator_types = ["parallel"]} ins([[R]] : tensor<4xf64>) outs([[E2]] : tensor<4xf32>)
// CHECK-NEXT:    ^bb0([[D:%.*]]: f64, {{%.*}}: f32):
// CHECK-NEXT:      [[T:%.*]] = arith.truncf [[D]] : f64 to f32
// CHECK-NEXT:      linalg.yield [[T]] : f32
// CHECK-NEXT:    } -> tensor<4xf32>
// CHECK-NEXT:    func.return [[S]] : tensor<4xf32>
func.func @rowsum(%x: tensor<4x3xf32>) -> tensor<4xf32> {
  %0 = loom.sum %x {axes = array<i64: 1>} : (tensor<4x3xf32>) -> tensor<4xf32>
  func.return %0 : tensor<4xf32>
}

// A full reduction to a scalar goes through a 0-d tensor (map `-> ()`), read back with tensor.extract
// (and rounded to f32).
// CHECK-LABEL: func.func @total(%x: tensor<4x3xf32>) -> f32
// CHECK:         [[INIT:%.*]] = linalg.fill ins({{%.*}} : f64) outs({{%.*}} : tensor<f64>) -> tensor<f64>
// CHECK-NEXT:    [[R:%.*]] = linalg.generic {indexing_maps = [affine_map<(d0, d1) -> (d0, d1)>, affine_map<(d0, d1) -> ()>], iterator_types = ["reduction", "reduction"]}
// CHECK-SAME:      outs([[INIT]] : tensor<f64>)
// CHECK:           arith.addf {{.*}} fastmath<reassoc,contract> : f64
// CHECK:         [[V:%.*]] = tensor.extract [[R]][] : tensor<f64>
// CHECK-NEXT:    [[T:%.*]] = arith.truncf [[V]] : f64 to f32
// CHECK-NEXT:    func.return [[T]] : f32
func.func @total(%x: tensor<4x3xf32>) -> f32 {
  %0 = loom.sum %x {axes = array<i64: 0, 1>} : (tensor<4x3xf32>) -> f32
  func.return %0 : f32
}

// Matmul: iteration space (m, n, k) = (d0, d1, d2); A is read at (m, k), B at (k, n), C written at
// (m, n); k is the reduction. The body is the multiply-accumulate.
// CHECK-LABEL: func.func @mm(%a: tensor<2x3xf32>, %b: tensor<3x5xf32>) -> tensor<2x5xf32>
// CHECK-NEXT:    [[ZERO:%.*]] = arith.constant 0.000000e+00 : f32
// CHECK-NEXT:    [[E:%.*]] = tensor.empty() : tensor<2x5xf32>
// CHECK-NEXT:    [[INIT:%.*]] = linalg.fill ins([[ZERO]] : f32) outs([[E]] : tensor<2x5xf32>) -> tensor<2x5xf32>
// CHECK-NEXT:    [[R:%.*]] = linalg.generic {indexing_maps = [affine_map<(d0, d1, d2) -> (d0, d2)>, affine_map<(d0, d1, d2) -> (d2, d1)>, affine_map<(d0, d1, d2) -> (d0, d1)>], iterator_types = ["parallel", "parallel", "reduction"]}
// CHECK-SAME:      ins(%a, %b : tensor<2x3xf32>, tensor<3x5xf32>) outs([[INIT]] : tensor<2x5xf32>)
// CHECK-NEXT:    ^bb0([[AV:%.*]]: f32, [[BV:%.*]]: f32, [[CV:%.*]]: f32):
// CHECK-NEXT:      [[P:%.*]] = arith.mulf [[AV]], [[BV]] fastmath<reassoc,contract> : f32
// CHECK-NEXT:      [[S:%.*]] = arith.addf [[CV]], [[P]] fastmath<reassoc,contract> : f32
// CHECK-NEXT:      linalg.yield [[S]] : f32
// CHECK-NEXT:    } -> tensor<2x5xf32>
// CHECK-NEXT:    func.return [[R]] : tensor<2x5xf32>
func.func @mm(%a: tensor<2x3xf32>, %b: tensor<3x5xf32>) -> tensor<2x5xf32> {
  %0 = loom.matmul %a, %b : (tensor<2x3xf32>, tensor<3x5xf32>) -> tensor<2x5xf32>
  func.return %0 : tensor<2x5xf32>
}

// A run-time index: first the bounds check -5 <= i < 5 (NumPy accepts negative indices), as a
// loom.assert whose message shows the index, then i is wrapped (i < 0 ? i + 5 : i) and read.
// CHECK-LABEL: func.func @idx(%x: tensor<5xf32>, %i: i64) -> f32
// CHECK-NEXT:    [[LO:%.*]] = arith.constant -5 : i64
// CHECK-NEXT:    [[GE:%.*]] = arith.cmpi sge, %i, [[LO]] : i64
// CHECK-NEXT:    [[HI:%.*]] = arith.constant 5 : i64
// CHECK-NEXT:    [[LT:%.*]] = arith.cmpi slt, %i, [[HI]] : i64
// CHECK-NEXT:    [[OK:%.*]] = arith.andi [[GE]], [[LT]] : i1
// CHECK-NEXT:    loom.assert [[OK]][%i : i64], "index {} is out of range for axis 0 of size 5"
// CHECK-NEXT:    [[Z:%.*]] = arith.constant 0 : i64
// CHECK-NEXT:    [[NEG:%.*]] = arith.cmpi slt, %i, [[Z]] : i64
// CHECK-NEXT:    [[FIVE:%.*]] = arith.constant 5 : i64
// CHECK-NEXT:    [[WR:%.*]] = arith.addi %i, [[FIVE]] : i64
// CHECK-NEXT:    [[J:%.*]] = arith.select [[NEG]], [[WR]], %i : i64
// CHECK-NEXT:    [[JI:%.*]] = arith.index_cast [[J]] : i64 to index
// CHECK-NEXT:    [[V:%.*]] = tensor.extract %x{{\[}}[[JI]]{{\]}} : tensor<5xf32>
// CHECK-NEXT:    func.return [[V]] : f32
func.func @idx(%x: tensor<5xf32>, %i: i64) -> f32 {
  %0 = loom.slice %x[%i] {kinds = array<i64: 3>, starts = array<i64: 0>, stops = array<i64: 0>, steps = array<i64: 1>} : (tensor<5xf32>, i64) -> f32
  func.return %0 : f32
}

// A slice with a run-time index (x[i, :]): checked once, outside; the generic has no inputs and
// reads the source with tensor.extract at (wrapped i, start + d0 * step) -- here start 0, step 1,
// left for canonicalize to fold.
// CHECK-LABEL: func.func @row(%x: tensor<4x3xf32>, %i: i64) -> tensor<3xf32>
// CHECK:         loom.assert {{%.*}}[%i : i64], "index {} is out of range for axis 0 of size 4"
// CHECK:         [[JI:%.*]] = arith.index_cast {{%.*}} : i64 to index
// CHECK-NEXT:    [[E:%.*]] = tensor.empty() : tensor<3xf32>
// CHECK-NEXT:    {{%.*}} = linalg.generic {indexing_maps = [affine_map<(d0) -> (d0)>], iterator_types = ["parallel"]} outs([[E]] : tensor<3xf32>)
// CHECK-NEXT:    ^bb0({{%.*}}: f32):
// CHECK-NEXT:      [[D0:%.*]] = linalg.index 0 : index
// CHECK-NEXT:      [[START:%.*]] = arith.constant 0 : index
// CHECK-NEXT:      [[STEP:%.*]] = arith.constant 1 : index
// CHECK-NEXT:      [[OFF:%.*]] = arith.muli [[D0]], [[STEP]] : index
// CHECK-NEXT:      [[COL:%.*]] = arith.addi [[START]], [[OFF]] : index
// CHECK-NEXT:      [[V:%.*]] = tensor.extract %x{{\[}}[[JI]], [[COL]]{{\]}} : tensor<4x3xf32>
// CHECK-NEXT:      linalg.yield [[V]] : f32
func.func @row(%x: tensor<4x3xf32>, %i: i64) -> tensor<3xf32> {
  %0 = loom.slice %x[%i] {kinds = array<i64: 3, 0>, starts = array<i64: 0, -9223372036854775808>, stops = array<i64: 0, -9223372036854775808>, steps = array<i64: 1, -9223372036854775808>} : (tensor<4x3xf32>, i64) -> tensor<3xf32>
  func.return %0 : tensor<3xf32>
}

// An assert whose message shows no values becomes a plain cf.assert; the comparison of scalars
// becomes an ordered arith.cmpf (NaN > 0 is false, as in Python).
// CHECK-LABEL: func.func @check(%x: f32) -> f32
// CHECK-NEXT:    [[Z:%.*]] = arith.constant 0.000000e+00 : f32
// CHECK-NEXT:    [[C:%.*]] = arith.cmpf ogt, %x, [[Z]] : f32
// CHECK-NEXT:    cf.assert [[C]], "x must be positive"
// CHECK-NEXT:    func.return %x : f32
func.func @check(%x: f32) -> f32 {
  %z = arith.constant 0.000000e+00 : f32
  %c = loom.cmp "gt", %x, %z : (f32, f32) -> i1
  loom.assert %c, "x must be positive"
  func.return %x : f32
}

// Transpose: output element (d0, d1) is input element (d1, d0); the body is a plain copy.
// CHECK-LABEL: func.func @tr(%x: tensor<2x3xf32>) -> tensor<3x2xf32>
// CHECK-NEXT:    [[E:%.*]] = tensor.empty() : tensor<3x2xf32>
// CHECK-NEXT:    [[T:%.*]] = linalg.generic {indexing_maps = [affine_map<(d0, d1) -> (d1, d0)>, affine_map<(d0, d1) -> (d0, d1)>], iterator_types = ["parallel", "parallel"]}
// CHECK-SAME:      ins(%x : tensor<2x3xf32>) outs([[E]] : tensor<3x2xf32>)
// CHECK-NEXT:    ^bb0([[V:%.*]]: f32, {{%.*}}: f32):
// CHECK-NEXT:      linalg.yield [[V]] : f32
// CHECK-NEXT:    } -> tensor<3x2xf32>
// CHECK-NEXT:    func.return [[T]] : tensor<3x2xf32>
func.func @tr(%x: tensor<2x3xf32>) -> tensor<3x2xf32> {
  %0 = loom.transpose %x {permutation = array<i64: 1, 0>} : (tensor<2x3xf32>) -> tensor<3x2xf32>
  func.return %0 : tensor<3x2xf32>
}
