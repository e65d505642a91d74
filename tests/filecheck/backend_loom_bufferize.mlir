// loom-bufferize: tensors -> memrefs (buffers), in destination-passing style. The pass is purely
// functional: every buffer is written only right after it is allocated, copies are made whenever
// a value is updated, and nothing is freed -- `loom-buffer-dealloc` then removes copies, reuses
// buffers and inserts the frees. What to look for:
//   - a linalg op writing into a `tensor.empty` gets a fresh `memref.alloc` aligned to 64 bytes (a
//     rank-0 reduction accumulator gets a `memref.alloca` at the function's entry instead);
//   - functions return nothing: each result becomes a trailing out-parameter (`memref<...>`, or
//     `memref<f32>` for a scalar) that the function writes before returning;
//   - tensor.extract -> memref.load; insert_slice -> a copy of the destination + an scf.for nest
//     of load/store; collapse/expand_shape -> the memref views of the same names (no copy).
// The inputs are what `loom compile --emit=linalg` gives for small Loom functions.
// RUN: loom opt %s -p loom-bufferize | filecheck %s
// No tensor type survives, anywhere in the module:
// RUN: loom opt %s -p loom-bufferize | filecheck %s --check-prefix=NOTENSOR
// NOTENSOR-NOT: tensor

// exp(x) * k: the result is computed into a fresh aligned buffer, then copied into the out-param
// %0 (dealloc later makes the generic write %0 directly). No tensor is left anywhere.
// CHECK-LABEL: func.func @ew(%x: memref<4x3xf32>, %k: f32, %0: memref<4x3xf32>) {
// CHECK-NEXT:    [[B:%.*]] = memref.alloc() {alignment = 64 : i64} : memref<4x3xf32>
// CHECK-NEXT:    linalg.generic {indexing_maps = [affine_map<(d0, d1) -> (d0, d1)>, affine_map<(d0, d1) -> (d0, d1)>], iterator_types = ["parallel", "parallel"]}
// CHECK-SAME:      ins(%x : memref<4x3xf32>) outs([[B]] : memref<4x3xf32>) {
// CHECK:         }
// CHECK-NEXT:    "memref.copy"([[B]], %0) : (memref<4x3xf32>, memref<4x3xf32>) -> ()
// CHECK-NEXT:    func.return
// CHECK-NEXT:  }
func.func @ew(%x: tensor<4x3xf32>, %k: f32) -> tensor<4x3xf32> {
  %0 = tensor.empty() : tensor<4x3xf32>
  %1 = linalg.generic {indexing_maps = [affine_map<(d0, d1) -> (d0, d1)>, affine_map<(d0, d1) -> (d0, d1)>], iterator_types = ["parallel", "parallel"]} ins(%x : tensor<4x3xf32>) outs(%0 : tensor<4x3xf32>) {
  ^bb0(%2: f32, %3: f32):
    %4 = math.exp %2 : f32
    %5 = arith.mulf %4, %k fastmath<contract> : f32
    linalg.yield %5 : f32
  } -> tensor<4x3xf32>
  func.return %1 : tensor<4x3xf32>
}

// sum(x) -> f32: the scalar result is an out-param memref<f32>. The accumulator is an entry-block
// stack slot; the fill and the reduction write it in place (the fill's only user is the
// reduction, so no copy); tensor.extract becomes memref.load and the result is stored into %0.
// CHECK-LABEL: func.func @total(%x: memref<8xf32>, %0: memref<f32>) {
// CHECK-NEXT:    [[ACC:%.*]] = memref.alloca() : memref<f32>
// CHECK-NEXT:    [[Z:%.*]] = arith.constant 0.000000e+00 : f32
// CHECK-NEXT:    linalg.fill ins([[Z]] : f32) outs([[ACC]] : memref<f32>)
// CHECK-NEXT:    linalg.generic {{.*}} iterator_types = ["reduction"]} ins(%x : memref<8xf32>) outs([[ACC]] : memref<f32>) {
// CHECK:         }
// CHECK-NEXT:    [[V:%.*]] = memref.load [[ACC]][] : memref<f32>
// CHECK-NEXT:    memref.store [[V]], %0[] : memref<f32>
// CHECK-NEXT:    func.return
// CHECK-NEXT:  }
func.func @total(%x: tensor<8xf32>) -> f32 {
  %0 = arith.constant 0.000000e+00 : f32
  %1 = tensor.empty() : tensor<f32>
  %2 = linalg.fill ins(%0 : f32) outs(%1 : tensor<f32>) -> tensor<f32>
  %3 = linalg.generic {indexing_maps = [affine_map<(d0) -> (d0)>, affine_map<(d0) -> ()>], iterator_types = ["reduction"]} ins(%x : tensor<8xf32>) outs(%2 : tensor<f32>) {
  ^bb0(%4: f32, %5: f32):
    %6 = arith.addf %5, %4 fastmath<reassoc,contract> : f32
    linalg.yield %6 : f32
  } -> tensor<f32>
  %7 = tensor.extract %3[] : tensor<f32>
  func.return %7 : f32
}

// Two results (a tensor and a scalar): two out-params, in order, written at the return.
// CHECK-LABEL: func.func @two(%x: memref<4xf32>, %0: memref<4xf32>, %1: memref<f32>) {
// CHECK-NEXT:    [[ACC:%.*]] = memref.alloca() : memref<f32>
// CHECK:         [[B:%.*]] = memref.alloc() {alignment = 64 : i64} : memref<4xf32>
// CHECK:         [[S:%.*]] = memref.load [[ACC]][] : memref<f32>
// CHECK-NEXT:    "memref.copy"([[B]], %0) : (memref<4xf32>, memref<4xf32>) -> ()
// CHECK-NEXT:    memref.store [[S]], %1[] : memref<f32>
// CHECK-NEXT:    func.return
func.func @two(%x: tensor<4xf32>) -> (tensor<4xf32>, f32) {
  %0 = arith.constant 2.000000e+00 : f32
  %1 = tensor.empty() : tensor<4xf32>
  %2 = linalg.generic {indexing_maps = [affine_map<(d0) -> (d0)>, affine_map<(d0) -> (d0)>], iterator_types = ["parallel"]} ins(%x : tensor<4xf32>) outs(%1 : tensor<4xf32>) {
  ^bb0(%3: f32, %4: f32):
    %5 = arith.mulf %3, %0 fastmath<contract> : f32
    linalg.yield %5 : f32
  } -> tensor<4xf32>
  %6 = arith.constant 0.000000e+00 : f32
  %7 = tensor.empty() : tensor<f32>
  %8 = linalg.fill ins(%6 : f32) outs(%7 : tensor<f32>) -> tensor<f32>
  %9 = linalg.generic {indexing_maps = [affine_map<(d0) -> (d0)>, affine_map<(d0) -> ()>], iterator_types = ["reduction"]} ins(%x : tensor<4xf32>) outs(%8 : tensor<f32>) {
  ^bb0(%10: f32, %11: f32):
    %12 = arith.addf %11, %10 fastmath<reassoc,contract> : f32
    linalg.yield %12 : f32
  } -> tensor<f32>
  %13 = tensor.extract %9[] : tensor<f32>
  func.return %2, %13 : tensor<4xf32>, f32
}

// x[i, :] = v on an argument: the destination is copied first (an input buffer is never written),
// then a loop over v's 3 elements stores v[j] at (i', 0 + j*1), i' being the wrapped index.
// CHECK-LABEL: func.func @upd(%x: memref<4x3xf32>, %v: memref<3xf32>, %i: i64, %0: memref<4x3xf32>) {
// CHECK:         loom.assert {{%.*}}[%i : i64], "index {} is out of range for axis 0 of size 4"
// CHECK:         [[I:%.*]] = arith.index_cast {{%.*}} : i64 to index
// CHECK-NEXT:    [[C:%.*]] = memref.alloc() {alignment = 64 : i64} : memref<4x3xf32>
// CHECK-NEXT:    "memref.copy"(%x, [[C]]) : (memref<4x3xf32>, memref<4x3xf32>) -> ()
// CHECK-NEXT:    [[OFF:%.*]] = arith.constant 0 : index
// CHECK-NEXT:    [[LB:%.*]] = arith.constant 0 : index
// CHECK-NEXT:    [[STEP:%.*]] = arith.constant 1 : index
// CHECK-NEXT:    [[UB:%.*]] = arith.constant 3 : index
// CHECK-NEXT:    scf.for [[J:%.*]] = [[LB]] to [[UB]] step [[STEP]] {
// CHECK-NEXT:      [[E:%.*]] = memref.load %v{{\[}}[[J]]{{\]}} : memref<3xf32>
// CHECK-NEXT:      [[ST:%.*]] = arith.constant 1 : index
// CHECK-NEXT:      [[JS:%.*]] = arith.muli [[J]], [[ST]] : index
// CHECK-NEXT:      [[COL:%.*]] = arith.addi [[OFF]], [[JS]] : index
// CHECK-NEXT:      memref.store [[E]], [[C]]{{\[}}[[I]], [[COL]]{{\]}} : memref<4x3xf32>
// CHECK-NEXT:    }
// CHECK-NEXT:    "memref.copy"([[C]], %0) : (memref<4x3xf32>, memref<4x3xf32>) -> ()
// CHECK-NEXT:    func.return
func.func @upd(%x: tensor<4x3xf32>, %v: tensor<3xf32>, %i: i64) -> tensor<4x3xf32> {
  %0 = arith.constant -4 : i64
  %1 = arith.cmpi sge, %i, %0 : i64
  %2 = arith.constant 4 : i64
  %3 = arith.cmpi slt, %i, %2 : i64
  %4 = arith.andi %1, %3 : i1
  loom.assert %4[%i : i64], "index {} is out of range for axis 0 of size 4"
  %5 = arith.constant 0 : i64
  %6 = arith.cmpi slt, %i, %5 : i64
  %7 = arith.addi %i, %2 : i64
  %8 = arith.select %6, %7, %i : i64
  %9 = arith.index_cast %8 : i64 to index
  %10 = tensor.insert_slice %v into %x[%9, 0] [1, 3] [1, 1] : tensor<3xf32> into tensor<4x3xf32>
  func.return %10 : tensor<4x3xf32>
}

// reshape(x * 2.0, (2, 6)): collapse + expand become memref views of the same buffer.
// CHECK-LABEL: func.func @rs(%x: memref<4x3xf32>, %0: memref<2x6xf32>) {
// CHECK:         [[B:%.*]] = memref.alloc() {alignment = 64 : i64} : memref<4x3xf32>
// CHECK:         [[FLAT:%.*]] = memref.collapse_shape [[B]] {{\[\[}}0 : i64, 1 : i64{{\]\]}} : memref<4x3xf32> into memref<12xf32>
// CHECK-NEXT:    [[R:%.*]] = memref.expand_shape [[FLAT]] {{\[\[}}0 : i64, 1 : i64{{\]\]}} output_shape [2, 6] : memref<12xf32> into memref<2x6xf32>
// CHECK-NEXT:    "memref.copy"([[R]], %0) : (memref<2x6xf32>, memref<2x6xf32>) -> ()
func.func @rs(%x: tensor<4x3xf32>) -> tensor<2x6xf32> {
  %0 = arith.constant 2.000000e+00 : f32
  %1 = tensor.empty() : tensor<4x3xf32>
  %2 = linalg.generic {indexing_maps = [affine_map<(d0, d1) -> (d0, d1)>, affine_map<(d0, d1) -> (d0, d1)>], iterator_types = ["parallel", "parallel"]} ins(%x : tensor<4x3xf32>) outs(%1 : tensor<4x3xf32>) {
  ^bb0(%3: f32, %4: f32):
    %5 = arith.mulf %3, %0 fastmath<contract> : f32
    linalg.yield %5 : f32
  } -> tensor<4x3xf32>
  %6 = tensor.collapse_shape %2 [[0 : i64, 1 : i64]] : tensor<4x3xf32> into tensor<12xf32>
  %7 = tensor.expand_shape %6 [[0 : i64, 1 : i64]] output_shape [2, 6] : tensor<12xf32> into tensor<2x6xf32>
  func.return %7 : tensor<2x6xf32>
}

// A call: the caller allocates the callee's result buffers (a heap buffer for the tensor, a stack
// slot for the scalar), passes them after the arguments, and loads the scalar back afterwards.
// (Loom inlines every call before the backend; this is the ABI of functions that stay calls.)
// CHECK-LABEL: func.func @caller(%x: memref<4xf32>, %0: memref<f32>) {
// CHECK-NEXT:    [[T:%.*]] = memref.alloc() {alignment = 64 : i64} : memref<4xf32>
// CHECK-NEXT:    [[S:%.*]] = memref.alloca() : memref<f32>
// CHECK-NEXT:    func.call @two_ext(%x, [[T]], [[S]]) : (memref<4xf32>, memref<4xf32>, memref<f32>) -> ()
// CHECK-NEXT:    [[SV:%.*]] = memref.load [[S]][] : memref<f32>
// CHECK-NEXT:    [[I:%.*]] = arith.constant 0 : index
// CHECK-NEXT:    [[E:%.*]] = memref.load [[T]]{{\[}}[[I]]{{\]}} : memref<4xf32>
// CHECK-NEXT:    [[R:%.*]] = arith.addf [[E]], [[SV]] : f32
// CHECK-NEXT:    memref.store [[R]], %0[] : memref<f32>
// CHECK-NEXT:    func.return
// CHECK-LABEL: func.func private @two_ext(memref<4xf32>, memref<4xf32>, memref<f32>) -> ()
func.func @caller(%x: tensor<4xf32>) -> f32 {
  %t, %s = func.call @two_ext(%x) : (tensor<4xf32>) -> (tensor<4xf32>, f32)
  %i = arith.constant 0 : index
  %e = tensor.extract %t[%i] : tensor<4xf32>
  %r = arith.addf %e, %s : f32
  func.return %r : f32
}
func.func private @two_ext(%x: tensor<4xf32>) -> (tensor<4xf32>, f32)
