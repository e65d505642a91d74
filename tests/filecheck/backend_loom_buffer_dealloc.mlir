// loom-buffer-dealloc: runs on loom-bufferize's output (where every buffer is freshly allocated
// and written once, and nothing is freed) and decides, block by block, who owns each buffer:
//   (a) in place: an elementwise generic writes into an input of the same type that dies there;
//   (b) every owned buffer gets a memref.dealloc right after its last use;
//   (c) a buffer that is dead before a memref.alloc of the same type is reused for it;
//   (d) a loop-carried tensor lives in one buffer, updated in place by the loop body;
//   (e) a function's result is computed straight into its out-param (no final copy);
//   (f) a region may only yield buffers it owns: a value from outside is copied first, and a
//       loop's initial value is copied unless it dies at the loop.
// The inputs are what `loom compile --emit=linalg` gives; BUF lines show loom-bufferize's output
// alone, for comparison.
// RUN: loom opt %s -p loom-bufferize,loom-buffer-dealloc | filecheck %s
// RUN: loom opt %s -p loom-bufferize | filecheck %s --check-prefix=BUF

// (a) + (b). y = sum(x, axis=1); z = exp(y); sum(z) + max(z). loom-bufferize gives z its own
// buffer; here exp writes over y (read elementwise, dead after), and that buffer is freed right
// after the max, its last reader -- before the final scalar arithmetic. (The scalar accumulators
// are stack slots: never freed.)
// BUF-LABEL:   func.func @inplace
// BUF:           [[Y:%.*]] = memref.alloc() {alignment = 64 : i64} : memref<4xf32>
// BUF:           [[Z:%.*]] = memref.alloc() {alignment = 64 : i64} : memref<4xf32>
// BUF-NEXT:      linalg.generic {{.*}} ins([[Y]] : memref<4xf32>) outs([[Z]] : memref<4xf32>)
// BUF-NOT:       memref.dealloc
// CHECK-LABEL: func.func @inplace(%x: memref<4x3xf32>, %0: memref<f32>) {
// CHECK:         [[Y:%.*]] = memref.alloc() {alignment = 64 : i64} : memref<4xf32>
// CHECK-NEXT:    linalg.fill ins({{%.*}} : f32) outs([[Y]] : memref<4xf32>)
// CHECK-NEXT:    linalg.generic {{.*}} iterator_types = ["parallel", "reduction"]} ins(%x : memref<4x3xf32>) outs([[Y]] : memref<4xf32>)
// CHECK-NOT:     memref.alloc()
// CHECK:         linalg.generic {{.*}} iterator_types = ["parallel"]} ins([[Y]] : memref<4xf32>) outs([[Y]] : memref<4xf32>)
// CHECK-NEXT:    ^bb0
// CHECK-NEXT:      math.exp
// CHECK-NOT:     memref.alloc()
// CHECK:         arith.addf
// CHECK-NOT:     memref.dealloc
// CHECK:         arith.maximumf
// CHECK-NEXT:      linalg.yield
// CHECK-NEXT:    }
// CHECK-NEXT:    memref.dealloc [[Y]] : memref<4xf32>
// CHECK-NEXT:    memref.load
// CHECK-NEXT:    arith.addf
// CHECK-NEXT:    memref.store
// CHECK-NEXT:    func.return
func.func @inplace(%x: tensor<4x3xf32>) -> f32 {
  %0 = arith.constant 0.000000e+00 : f32
  %1 = tensor.empty() : tensor<4xf32>
  %2 = linalg.fill ins(%0 : f32) outs(%1 : tensor<4xf32>) -> tensor<4xf32>
  %3 = linalg.generic {indexing_maps = [affine_map<(d0, d1) -> (d0, d1)>, affine_map<(d0, d1) -> (d0)>], iterator_types = ["parallel", "reduction"]} ins(%x : tensor<4x3xf32>) outs(%2 : tensor<4xf32>) {
  ^bb0(%4: f32, %5: f32):
    %6 = arith.addf %5, %4 fastmath<reassoc,contract> : f32
    linalg.yield %6 : f32
  } -> tensor<4xf32>
  %7 = linalg.generic {indexing_maps = [affine_map<(d0) -> (d0)>, affine_map<(d0) -> (d0)>], iterator_types = ["parallel"]} ins(%3 : tensor<4xf32>) outs(%1 : tensor<4xf32>) {
  ^bb0(%8: f32, %9: f32):
    %10 = math.exp %8 : f32
    linalg.yield %10 : f32
  } -> tensor<4xf32>
  %11 = tensor.empty() : tensor<f32>
  %12 = linalg.fill ins(%0 : f32) outs(%11 : tensor<f32>) -> tensor<f32>
  %13 = linalg.generic {indexing_maps = [affine_map<(d0) -> (d0)>, affine_map<(d0) -> ()>], iterator_types = ["reduction"]} ins(%7 : tensor<4xf32>) outs(%12 : tensor<f32>) {
  ^bb0(%14: f32, %15: f32):
    %16 = arith.addf %15, %14 fastmath<reassoc,contract> : f32
    linalg.yield %16 : f32
  } -> tensor<f32>
  %17 = tensor.extract %13[] : tensor<f32>
  %18 = arith.constant 0xff800000 : f32
  %19 = linalg.fill ins(%18 : f32) outs(%11 : tensor<f32>) -> tensor<f32>
  %20 = linalg.generic {indexing_maps = [affine_map<(d0) -> (d0)>, affine_map<(d0) -> ()>], iterator_types = ["reduction"]} ins(%7 : tensor<4xf32>) outs(%19 : tensor<f32>) {
  ^bb0(%21: f32, %22: f32):
    %23 = arith.maximumf %22, %21 : f32
    linalg.yield %23 : f32
  } -> tensor<f32>
  %24 = tensor.extract %20[] : tensor<f32>
  %25 = arith.addf %17, %24 fastmath<contract> : f32
  func.return %25 : f32
}

// (c). a = sum(x, axis=1) is dead after max(a); b = sum(x*x, axis=1) then needs a 4xf32 buffer and
// gets a's, instead of a second allocation. One alloc, one dealloc, for the two.
// BUF-LABEL:   func.func @reuse
// BUF-COUNT-2:   memref.alloc() {alignment = 64 : i64} : memref<4xf32>
// CHECK-LABEL: func.func @reuse(%x: memref<4x3xf32>, %0: memref<f32>) {
// CHECK:         [[A:%.*]] = memref.alloc() {alignment = 64 : i64} : memref<4xf32>
// CHECK-NOT:     memref.alloc()
// CHECK:         linalg.generic {{.*}} ins([[A]] : memref<4xf32>)
// CHECK:         arith.maximumf
// CHECK-NOT:     memref.alloc()
// CHECK-NOT:     memref.dealloc
// CHECK:         linalg.fill ins({{%.*}} : f32) outs([[A]] : memref<4xf32>)
// CHECK-NEXT:    linalg.generic {{.*}} ins(%x : memref<4x3xf32>) outs([[A]] : memref<4xf32>)
// CHECK-NOT:     memref.alloc()
// CHECK:         memref.dealloc [[A]] : memref<4xf32>
// CHECK-NOT:     memref.dealloc
// CHECK:         func.return
func.func @reuse(%x: tensor<4x3xf32>) -> f32 {
  %0 = arith.constant 0.000000e+00 : f32
  %1 = tensor.empty() : tensor<4xf32>
  %2 = linalg.fill ins(%0 : f32) outs(%1 : tensor<4xf32>) -> tensor<4xf32>
  %3 = linalg.generic {indexing_maps = [affine_map<(d0, d1) -> (d0, d1)>, affine_map<(d0, d1) -> (d0)>], iterator_types = ["parallel", "reduction"]} ins(%x : tensor<4x3xf32>) outs(%2 : tensor<4xf32>) {
  ^bb0(%4: f32, %5: f32):
    %6 = arith.addf %5, %4 fastmath<reassoc,contract> : f32
    linalg.yield %6 : f32
  } -> tensor<4xf32>
  %7 = arith.constant 0xff800000 : f32
  %8 = tensor.empty() : tensor<f32>
  %9 = linalg.fill ins(%7 : f32) outs(%8 : tensor<f32>) -> tensor<f32>
  %10 = linalg.generic {indexing_maps = [affine_map<(d0) -> (d0)>, affine_map<(d0) -> ()>], iterator_types = ["reduction"]} ins(%3 : tensor<4xf32>) outs(%9 : tensor<f32>) {
  ^bb0(%11: f32, %12: f32):
    %13 = arith.maximumf %12, %11 : f32
    linalg.yield %13 : f32
  } -> tensor<f32>
  %14 = tensor.extract %10[] : tensor<f32>
  %15 = linalg.fill ins(%0 : f32) outs(%1 : tensor<4xf32>) -> tensor<4xf32>
  %16 = linalg.generic {indexing_maps = [affine_map<(d0, d1) -> (d0, d1)>, affine_map<(d0, d1) -> (d0)>], iterator_types = ["parallel", "reduction"]} ins(%x : tensor<4x3xf32>) outs(%15 : tensor<4xf32>) {
  ^bb0(%17: f32, %18: f32):
    %19 = arith.mulf %17, %17 fastmath<contract> : f32
    %20 = arith.addf %18, %19 fastmath<reassoc,contract> : f32
    linalg.yield %20 : f32
  } -> tensor<4xf32>
  %21 = linalg.fill ins(%7 : f32) outs(%8 : tensor<f32>) -> tensor<f32>
  %22 = linalg.generic {indexing_maps = [affine_map<(d0) -> (d0)>, affine_map<(d0) -> ()>], iterator_types = ["reduction"]} ins(%16 : tensor<4xf32>) outs(%21 : tensor<f32>) {
  ^bb0(%23: f32, %24: f32):
    %25 = arith.maximumf %24, %23 : f32
    linalg.yield %25 : f32
  } -> tensor<f32>
  %26 = tensor.extract %22[] : tensor<f32>
  %27 = arith.addf %14, %26 fastmath<contract> : f32
  func.return %27 : f32
}

// (d). acc = x*1.5; 3 times acc = acc*0.5 + x. loom-bufferize allocates a new buffer per iteration
// and yields it; here the body updates its iteration argument in place and yields it back, so the
// loop allocates nothing. (The loop result is then copied into the out-param and freed.)
// BUF-LABEL:   func.func @loop
// BUF:           scf.for
// BUF-NEXT:        memref.alloc()
// CHECK-LABEL: func.func @loop(%x: memref<8xf32>, %0: memref<8xf32>) {
// CHECK:         [[INIT:%.*]] = memref.alloc() {alignment = 64 : i64} : memref<8xf32>
// CHECK:         [[R:%.*]] = scf.for {{%.*}} = {{%.*}} to {{%.*}} step {{%.*}} iter_args([[ACC:%.*]] = [[INIT]]) -> (memref<8xf32>) : i64 {
// CHECK-NEXT:      linalg.generic {{.*}} ins(%x, [[ACC]] : memref<8xf32>, memref<8xf32>) outs([[ACC]] : memref<8xf32>)
// CHECK-NOT:       memref.alloc
// CHECK:           scf.yield [[ACC]] : memref<8xf32>
// CHECK-NEXT:    }
// CHECK-NEXT:    "memref.copy"([[R]], %0) : (memref<8xf32>, memref<8xf32>) -> ()
// CHECK-NEXT:    memref.dealloc [[R]] : memref<8xf32>
// CHECK-NEXT:    func.return
func.func @loop(%x: tensor<8xf32>) -> tensor<8xf32> {
  %0 = arith.constant 1.500000e+00 : f32
  %1 = tensor.empty() : tensor<8xf32>
  %2 = linalg.generic {indexing_maps = [affine_map<(d0) -> (d0)>, affine_map<(d0) -> (d0)>], iterator_types = ["parallel"]} ins(%x : tensor<8xf32>) outs(%1 : tensor<8xf32>) {
  ^bb0(%3: f32, %4: f32):
    %5 = arith.mulf %3, %0 fastmath<contract> : f32
    linalg.yield %5 : f32
  } -> tensor<8xf32>
  %6 = arith.constant 3 : i64
  %7 = arith.constant 0 : i64
  %8 = arith.constant 1 : i64
  %9 = arith.constant 5.000000e-01 : f32
  %acc = scf.for %i = %7 to %6 step %8 iter_args(%acc_1 = %2) -> (tensor<8xf32>) : i64 {
    %10 = linalg.generic {indexing_maps = [affine_map<(d0) -> (d0)>, affine_map<(d0) -> (d0)>, affine_map<(d0) -> (d0)>], iterator_types = ["parallel"]} ins(%x, %acc_1 : tensor<8xf32>, tensor<8xf32>) outs(%1 : tensor<8xf32>) {
    ^bb0(%11: f32, %12: f32, %13: f32):
      %14 = arith.mulf %12, %9 fastmath<contract> : f32
      %15 = arith.addf %14, %11 fastmath<contract> : f32
      linalg.yield %15 : f32
    } -> tensor<8xf32>
    scf.yield %10 : tensor<8xf32>
  }
  func.return %acc : tensor<8xf32>
}

// (e). exp(x) * k returned: loom-bufferize computes it into a fresh buffer and copies that into the
// out-param %0; here the generic writes %0 directly: no allocation, no copy.
// BUF-LABEL:   func.func @direct
// BUF-NEXT:      [[B:%.*]] = memref.alloc()
// BUF:           "memref.copy"([[B]], %0)
// CHECK-LABEL: func.func @direct(%x: memref<4x3xf32>, %k: f32, %0: memref<4x3xf32>) {
// CHECK-NEXT:    linalg.generic {{.*}} ins(%x : memref<4x3xf32>) outs(%0 : memref<4x3xf32>)
// CHECK-NOT:     memref.
// CHECK:         func.return
func.func @direct(%x: tensor<4x3xf32>, %k: f32) -> tensor<4x3xf32> {
  %0 = tensor.empty() : tensor<4x3xf32>
  %1 = linalg.generic {indexing_maps = [affine_map<(d0, d1) -> (d0, d1)>, affine_map<(d0, d1) -> (d0, d1)>], iterator_types = ["parallel", "parallel"]} ins(%x : tensor<4x3xf32>) outs(%0 : tensor<4x3xf32>) {
  ^bb0(%2: f32, %3: f32):
    %4 = math.exp %2 : f32
    %5 = arith.mulf %4, %k fastmath<contract> : f32
    linalg.yield %5 : f32
  } -> tensor<4x3xf32>
  func.return %1 : tensor<4x3xf32>
}

// (f). y = x if c else x*2: each branch of the scf.if must yield a buffer the if's result will own
// (it is freed after the final copy; if a branch's allocation fails, x*2 is freed there). The argument %x (not ours to free) and the buffer of x*2
// (defined outside the region) are both copied inside their branch; x*2 is freed after the if.
// CHECK-LABEL: func.func @pick(%x: memref<8xf32>, %c: i1, %0: memref<8xf32>) {
// CHECK:         [[Y2:%.*]] = memref.alloc() {alignment = 64 : i64} : memref<8xf32>
// CHECK:         [[Y:%.*]] = scf.if %c -> (memref<8xf32>) {
// CHECK-NEXT:      [[C1:%.*]] = memref.alloc() {alignment = 64 : i64} : memref<8xf32>
// CHECK-NEXT:      loom.on_failure {
// CHECK-NEXT:        memref.dealloc [[Y2]] : memref<8xf32>
// CHECK-NEXT:      }
// CHECK-NEXT:      "memref.copy"(%x, [[C1]]) : (memref<8xf32>, memref<8xf32>) -> ()
// CHECK-NEXT:      scf.yield [[C1]] : memref<8xf32>
// CHECK-NEXT:    } else {
// CHECK-NEXT:      [[C2:%.*]] = memref.alloc() {alignment = 64 : i64} : memref<8xf32>
// CHECK-NEXT:      loom.on_failure {
// CHECK-NEXT:        memref.dealloc [[Y2]] : memref<8xf32>
// CHECK-NEXT:      }
// CHECK-NEXT:      "memref.copy"([[Y2]], [[C2]]) : (memref<8xf32>, memref<8xf32>) -> ()
// CHECK-NEXT:      scf.yield [[C2]] : memref<8xf32>
// CHECK-NEXT:    }
// CHECK-NEXT:    memref.dealloc [[Y2]] : memref<8xf32>
// CHECK-NEXT:    "memref.copy"([[Y]], %0) : (memref<8xf32>, memref<8xf32>) -> ()
// CHECK-NEXT:    memref.dealloc [[Y]] : memref<8xf32>
// CHECK-NEXT:    func.return
func.func @pick(%x: tensor<8xf32>, %c: i1) -> tensor<8xf32> {
  %0 = arith.constant 2.000000e+00 : f32
  %1 = tensor.empty() : tensor<8xf32>
  %2 = linalg.generic {indexing_maps = [affine_map<(d0) -> (d0)>, affine_map<(d0) -> (d0)>], iterator_types = ["parallel"]} ins(%x : tensor<8xf32>) outs(%1 : tensor<8xf32>) {
  ^bb0(%3: f32, %4: f32):
    %5 = arith.mulf %3, %0 fastmath<contract> : f32
    linalg.yield %5 : f32
  } -> tensor<8xf32>
  %y = scf.if %c -> (tensor<8xf32>) {
    scf.yield %x : tensor<8xf32>
  } else {
    scf.yield %2 : tensor<8xf32>
  }
  func.return %y : tensor<8xf32>
}

// (f) for loops. acc starts as y, but y is still read after the loop (acc + y): the loop cannot take
// y's buffer over, so it starts from a copy, and the final add then writes over the loop's result
// (dead there) while y is freed after it.
// CHECK-LABEL: func.func @keep(%x: memref<8xf32>, %0: memref<8xf32>) {
// CHECK:         [[Y:%.*]] = memref.alloc() {alignment = 64 : i64} : memref<8xf32>
// CHECK:         [[C:%.*]] = memref.alloc() {alignment = 64 : i64} : memref<8xf32>
// CHECK-NEXT:    loom.on_failure {
// CHECK-NEXT:      memref.dealloc [[Y]] : memref<8xf32>
// CHECK-NEXT:    }
// CHECK-NEXT:    "memref.copy"([[Y]], [[C]]) : (memref<8xf32>, memref<8xf32>) -> ()
// CHECK-NEXT:    [[R:%.*]] = scf.for {{.*}} iter_args([[ACC:%.*]] = [[C]]) -> (memref<8xf32>) : i64 {
// CHECK-NEXT:      linalg.generic {{.*}} ins([[ACC]] : memref<8xf32>) outs([[ACC]] : memref<8xf32>)
// CHECK:           scf.yield [[ACC]] : memref<8xf32>
// CHECK-NEXT:    }
// CHECK-NEXT:    linalg.generic {{.*}} ins([[R]], [[Y]] : memref<8xf32>, memref<8xf32>) outs([[R]] : memref<8xf32>)
// CHECK:         memref.dealloc [[Y]] : memref<8xf32>
func.func @keep(%x: tensor<8xf32>) -> tensor<8xf32> {
  %0 = arith.constant 1.500000e+00 : f32
  %1 = tensor.empty() : tensor<8xf32>
  %2 = linalg.generic {indexing_maps = [affine_map<(d0) -> (d0)>, affine_map<(d0) -> (d0)>], iterator_types = ["parallel"]} ins(%x : tensor<8xf32>) outs(%1 : tensor<8xf32>) {
  ^bb0(%3: f32, %4: f32):
    %5 = arith.mulf %3, %0 fastmath<contract> : f32
    linalg.yield %5 : f32
  } -> tensor<8xf32>
  %6 = arith.constant 3 : i64
  %7 = arith.constant 0 : i64
  %8 = arith.constant 1 : i64
  %9 = arith.constant 5.000000e-01 : f32
  %acc = scf.for %i = %7 to %6 step %8 iter_args(%acc_1 = %2) -> (tensor<8xf32>) : i64 {
    %10 = linalg.generic {indexing_maps = [affine_map<(d0) -> (d0)>, affine_map<(d0) -> (d0)>], iterator_types = ["parallel"]} ins(%acc_1 : tensor<8xf32>) outs(%1 : tensor<8xf32>) {
    ^bb0(%11: f32, %12: f32):
      %13 = arith.mulf %11, %9 fastmath<contract> : f32
      linalg.yield %13 : f32
    } -> tensor<8xf32>
    scf.yield %10 : tensor<8xf32>
  }
  %14 = linalg.generic {indexing_maps = [affine_map<(d0) -> (d0)>, affine_map<(d0) -> (d0)>, affine_map<(d0) -> (d0)>], iterator_types = ["parallel"]} ins(%acc, %2 : tensor<8xf32>, tensor<8xf32>) outs(%1 : tensor<8xf32>) {
  ^bb0(%15: f32, %16: f32, %17: f32):
    %18 = arith.addf %15, %16 fastmath<contract> : f32
    linalg.yield %18 : f32
  } -> tensor<8xf32>
  func.return %14 : tensor<8xf32>
}

// (a), the limit: y + transpose(y) reads y at (i, j) AND at (j, i). Writing the sum over y would
// clobber y[j, i] before it is read, so the add may not work in place: y keeps its buffer, the add
// writes the out-param (e), and y is freed after the add.
// CHECK-LABEL: func.func @symm(%a: memref<3x3x2xf32>, %0: memref<3x3xf32>) {
// CHECK:         [[Y:%.*]] = memref.alloc() {alignment = 64 : i64} : memref<3x3xf32>
// CHECK-NEXT:    linalg.fill ins({{%.*}} : f32) outs([[Y]] : memref<3x3xf32>)
// CHECK-NEXT:    linalg.generic {{.*}} ins(%a : memref<3x3x2xf32>) outs([[Y]] : memref<3x3xf32>)
// CHECK:         linalg.generic {indexing_maps = [affine_map<(d0, d1) -> (d0, d1)>, affine_map<(d0, d1) -> (d1, d0)>, affine_map<(d0, d1) -> (d0, d1)>], iterator_types = ["parallel", "parallel"]}
// CHECK-SAME:      ins([[Y]], [[Y]] : memref<3x3xf32>, memref<3x3xf32>) outs(%0 : memref<3x3xf32>)
// CHECK:         memref.dealloc [[Y]] : memref<3x3xf32>
// CHECK-NEXT:    func.return
func.func @symm(%a: tensor<3x3x2xf32>) -> tensor<3x3xf32> {
  %0 = arith.constant 0.000000e+00 : f32
  %1 = tensor.empty() : tensor<3x3xf32>
  %2 = linalg.fill ins(%0 : f32) outs(%1 : tensor<3x3xf32>) -> tensor<3x3xf32>
  %3 = linalg.generic {indexing_maps = [affine_map<(d0, d1, d2) -> (d0, d1, d2)>, affine_map<(d0, d1, d2) -> (d0, d1)>], iterator_types = ["parallel", "parallel", "reduction"]} ins(%a : tensor<3x3x2xf32>) outs(%2 : tensor<3x3xf32>) {
  ^bb0(%4: f32, %5: f32):
    %6 = arith.addf %5, %4 fastmath<reassoc,contract> : f32
    linalg.yield %6 : f32
  } -> tensor<3x3xf32>
  %7 = linalg.generic {indexing_maps = [affine_map<(d0, d1) -> (d0, d1)>, affine_map<(d0, d1) -> (d1, d0)>, affine_map<(d0, d1) -> (d0, d1)>], iterator_types = ["parallel", "parallel"]} ins(%3, %3 : tensor<3x3xf32>, tensor<3x3xf32>) outs(%1 : tensor<3x3xf32>) {
  ^bb0(%8: f32, %9: f32, %10: f32):
    %11 = arith.addf %8, %9 fastmath<contract> : f32
    linalg.yield %11 : f32
  } -> tensor<3x3xf32>
  func.return %7 : tensor<3x3xf32>
}
