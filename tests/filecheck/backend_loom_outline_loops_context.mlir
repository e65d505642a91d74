// loom-outline-loops in a loop body on the thread pool (loom-parallel-to-threads): its buffers are
// loaded from its context argument, so they may alias each other and get no `llvm.noalias`; an
// allocation of the body (%t, a packing buffer) is none of them and still does. A buffer from a
// branch (%b in @branch, which may be %t) takes that away again.
// RUN: loom opt %s -p loom-outline-loops | filecheck %s

func.func @body(%ctx: !llvm.ptr, %lo: index, %hi: index) {
  %p = llvm.getelementptr inbounds %ctx[0] : (!llvm.ptr) -> !llvm.ptr, !llvm.ptr
  %q = llvm.load %p : !llvm.ptr -> !llvm.ptr
  %a = builtin.unrealized_conversion_cast %q : !llvm.ptr to memref<8xf32>
  %p1 = llvm.getelementptr inbounds %ctx[1] : (!llvm.ptr) -> !llvm.ptr, !llvm.ptr
  %q1 = llvm.load %p1 : !llvm.ptr -> !llvm.ptr
  %o = builtin.unrealized_conversion_cast %q1 : !llvm.ptr to memref<8xf32>
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c8 = arith.constant 8 : index
  %t = memref.alloc() {alignment = 64 : i64} : memref<8xf32>
  scf.for %i = %c0 to %c8 step %c1 {
    %v = memref.load %a[%i] : memref<8xf32>
    memref.store %v, %t[%i] : memref<8xf32>
  }
  scf.for %i = %c0 to %c8 step %c1 {
    %v = memref.load %t[%i] : memref<8xf32>
    %w = arith.addf %v, %v : f32
    memref.store %w, %o[%i] : memref<8xf32>
  }
  memref.dealloc %t : memref<8xf32>
  func.return
}

func.func @branch(%ctx: !llvm.ptr, %c: i1) {
  %p = llvm.getelementptr inbounds %ctx[0] : (!llvm.ptr) -> !llvm.ptr, !llvm.ptr
  %q = llvm.load %p : !llvm.ptr -> !llvm.ptr
  %a = builtin.unrealized_conversion_cast %q : !llvm.ptr to memref<8xf32>
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c8 = arith.constant 8 : index
  %t = memref.alloc() {alignment = 64 : i64} : memref<8xf32>
  %b = scf.if %c -> (memref<8xf32>) {
    scf.yield %t : memref<8xf32>
  } else {
    scf.yield %a : memref<8xf32>
  }
  scf.for %i = %c0 to %c8 step %c1 {
    %v = memref.load %a[%i] : memref<8xf32>
    memref.store %v, %t[%i] : memref<8xf32>
  }
  scf.for %i = %c0 to %c8 step %c1 {
    %v = memref.load %b[%i] : memref<8xf32>
    memref.store %v, %t[%i] : memref<8xf32>
  }
  memref.dealloc %t : memref<8xf32>
  func.return
}

// CHECK-LABEL: func.func @body(
// CHECK:         func.call @body_kernel0(%a, %t) : (memref<8xf32>, memref<8xf32>) -> ()
// CHECK-NEXT:    func.call @body_kernel1(%t, %o) : (memref<8xf32>, memref<8xf32>) -> ()
// CHECK-LABEL: func.func @branch(
// CHECK:         func.call @body_kernel0(%a, %t) : (memref<8xf32>, memref<8xf32>) -> ()
// CHECK-NEXT:    func.call @branch_kernel1(%b, %t) : (memref<8xf32>, memref<8xf32>) -> ()
// CHECK:       func.func private @body_kernel0(%a: memref<8xf32>, %t: memref<8xf32> {llvm.noalias}) attributes {no_inline} {
// CHECK:       func.func private @body_kernel1(%t: memref<8xf32> {llvm.noalias}, %o: memref<8xf32>) attributes {no_inline} {
// CHECK:       func.func private @branch_kernel1(%b: memref<8xf32>, %t: memref<8xf32>) attributes {no_inline} {
