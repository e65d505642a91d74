// loom-outline-loops: each loop nest of a function with several becomes a call to a private
// `no_inline` kernel of its own. A kernel receives the values the nest uses from outside, each
// once; constants and views are recomputed inside (%o, a view of %out, arrives as %out). Its
// buffers are `llvm.noalias` when each is an allocation or an argument of the caller; a buffer
// carried by a loop (%b) might be another one (here it is %t), so then none is. Equal kernels are
// one function (the first and third nests: @f_kernel0 twice). A nest with a run-time check is not a
// kernel, the nest inside it is; @g has one nest and is left as it is.
// RUN: loom opt %s -p loom-outline-loops | filecheck %s
// RUN: loom opt %s -p loom-outline-loops,loom-scf-to-cf,convert-to-llvm,reconcile-unrealized-casts | filecheck %s --check-prefix=LLVM

func.func @f(%x: memref<8xf32>, %a: f32, %out: memref<2x4xf32>) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c8 = arith.constant 8 : index
  %t = memref.alloc() {alignment = 64 : i64} : memref<8xf32>
  scf.for %i = %c0 to %c8 step %c1 {
    %v = memref.load %x[%i] : memref<8xf32>
    %w = arith.mulf %v, %a : f32
    memref.store %w, %t[%i] : memref<8xf32>
  }
  %o = memref.collapse_shape %out [[0, 1]] : memref<2x4xf32> into memref<8xf32>
  scf.for %i = %c0 to %c8 step %c1 {
    %v = memref.load %t[%i] : memref<8xf32>
    memref.store %v, %o[%i] : memref<8xf32>
  }
  scf.for %i = %c0 to %c8 step %c1 {
    %v = memref.load %x[%i] : memref<8xf32>
    %w = arith.mulf %v, %a : f32
    memref.store %w, %t[%i] : memref<8xf32>
  }
  %ok = arith.cmpf olt, %a, %a : f32
  scf.for %j = %c0 to %c8 step %c1 {
    cf.assert %ok, "not a kernel"
    scf.for %i = %c0 to %c8 step %c1 {
      %v = memref.load %t[%i] : memref<8xf32>
      memref.store %v, %x[%i] : memref<8xf32>
    }
  }
  %r = scf.for %j = %c0 to %c8 step %c1 iter_args(%b = %t) -> (memref<8xf32>) {
    scf.for %i = %c0 to %c8 step %c1 {
      %v = memref.load %b[%i] : memref<8xf32>
      memref.store %v, %t[%i] : memref<8xf32>
    }
    scf.yield %b : memref<8xf32>
  }
  memref.dealloc %t : memref<8xf32>
  func.return
}

func.func @g(%x: memref<8xf32>, %y: memref<8xf32>) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c8 = arith.constant 8 : index
  scf.for %i = %c0 to %c8 step %c1 {
    %v = memref.load %x[%i] : memref<8xf32>
    memref.store %v, %y[%i] : memref<8xf32>
  }
  func.return
}

// CHECK-LABEL: func.func @f(%x: memref<8xf32>, %a: f32, %out: memref<2x4xf32>) {
// CHECK:         %t = memref.alloc() {alignment = 64 : i64} : memref<8xf32>
// CHECK-NEXT:    func.call @f_kernel0(%x, %a, %t) : (memref<8xf32>, f32, memref<8xf32>) -> ()
// CHECK-NEXT:    func.call @f_kernel1(%t, %out) : (memref<8xf32>, memref<2x4xf32>) -> ()
// CHECK-NEXT:    func.call @f_kernel0(%x, %a, %t) : (memref<8xf32>, f32, memref<8xf32>) -> ()
// CHECK-NEXT:    %ok = arith.cmpf olt, %a, %a : f32
// CHECK-NEXT:    scf.for %j = %c0 to %c8 step %c1 {
// CHECK-NEXT:      cf.assert %ok, "not a kernel"
// CHECK-NEXT:      func.call @f_kernel2(%t, %x) : (memref<8xf32>, memref<8xf32>) -> ()
// CHECK-NEXT:    }
// CHECK-NEXT:    %r = scf.for %j_1 = %c0 to %c8 step %c1 iter_args(%b = %t) -> (memref<8xf32>) {
// CHECK-NEXT:      func.call @f_kernel3(%b, %t) : (memref<8xf32>, memref<8xf32>) -> ()
// CHECK-NEXT:      scf.yield %b : memref<8xf32>
// CHECK-NEXT:    }
// CHECK-NEXT:    memref.dealloc %t : memref<8xf32>
// CHECK-NEXT:    func.return
// CHECK-NEXT:  }
// CHECK-LABEL: func.func @g(%x: memref<8xf32>, %y: memref<8xf32>) {
// CHECK-NEXT:    %c0 = arith.constant 0 : index
// CHECK-NEXT:    %c1 = arith.constant 1 : index
// CHECK-NEXT:    %c8 = arith.constant 8 : index
// CHECK-NEXT:    scf.for %i = %c0 to %c8 step %c1 {
// CHECK:       func.func private @f_kernel0(%x: memref<8xf32> {llvm.noalias}, %a: f32, %t: memref<8xf32> {llvm.noalias}) attributes {no_inline} {
// CHECK-NEXT:    %c0 = arith.constant 0 : index
// CHECK-NEXT:    %c8 = arith.constant 8 : index
// CHECK-NEXT:    %c1 = arith.constant 1 : index
// CHECK-NEXT:    scf.for %i = %c0 to %c8 step %c1 {
// CHECK-NEXT:      %v = memref.load %x[%i] : memref<8xf32>
// CHECK-NEXT:      %w = arith.mulf %v, %a : f32
// CHECK-NEXT:      memref.store %w, %t[%i] : memref<8xf32>
// CHECK-NEXT:    }
// CHECK-NEXT:    func.return
// CHECK-NEXT:  }
// CHECK-NEXT:  func.func private @f_kernel1(%t: memref<8xf32> {llvm.noalias}, %out: memref<2x4xf32> {llvm.noalias}) attributes {no_inline} {
// CHECK:         %o = memref.collapse_shape %out {{\[}}[0 : i64, 1 : i64]] : memref<2x4xf32> into memref<8xf32>
// CHECK-NEXT:    scf.for %i = %c0 to %c8 step %c1 {
// CHECK-NEXT:      %v = memref.load %t[%i] : memref<8xf32>
// CHECK-NEXT:      memref.store %v, %o[%i] : memref<8xf32>
// CHECK:       func.func private @f_kernel2(%t: memref<8xf32> {llvm.noalias}, %x: memref<8xf32> {llvm.noalias}) attributes {no_inline} {
// CHECK:       func.func private @f_kernel3(%b: memref<8xf32>, %t: memref<8xf32>) attributes {no_inline} {
// CHECK-NOT:   func.func

// The kernels keep their arguments' attributes (and the error-values pointer, as every function)
// and `no_inline`; the caller's arguments are `noalias` by Loom's convention.
// LLVM-LABEL: llvm.func @f(%x: !llvm.ptr {llvm.noalias}, %a: f32, %out: !llvm.ptr {llvm.noalias}, %0: !llvm.ptr {llvm.noalias}) -> i32 {
// LLVM:         llvm.call @f_kernel0(%x, %a, {{%.*}}, %0) : (!llvm.ptr, f32, !llvm.ptr, !llvm.ptr) -> i32
// LLVM:       llvm.func internal @f_kernel0(%{{.*}}: !llvm.ptr {llvm.noalias}, %{{.*}}: f32, %{{.*}}: !llvm.ptr {llvm.noalias}, %{{.*}}: !llvm.ptr {llvm.noalias}) -> i32 attributes {no_inline} {
// LLVM:       llvm.func internal @f_kernel3(%{{.*}}: !llvm.ptr, %{{.*}}: !llvm.ptr, %{{.*}}: !llvm.ptr {llvm.noalias}) -> i32 attributes {no_inline} {
