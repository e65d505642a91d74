// loom-parallel-to-threads: an scf.parallel loop becomes a call to the thread pool
// (runtime/parallel.ll), `loom_parallel_for(fn, ctx, n, error_values)`. The body is outlined into
// `@f_parallel0(ctx, lo, hi)`, an scf.for over its chunk [lo, hi) of the iterations; the values it
// uses from outside are passed through `ctx` (8-byte slots the caller fills, allocated in the
// entry block; a buffer travels as its pointer and is cast back to its memref type), while
// constants and views of buffers are recomputed inside. A run-time check failing in the body
// returns its status; the buffer its failing branch freed (%t, the caller's) is freed by the caller
// instead — once, when the pool reports the failure — and `loom_parallel_status` returns the
// status from the caller.
// RUN: loom opt %s -p loom-parallel-to-threads | filecheck %s
// RUN: loom opt %s -p loom-parallel-to-threads,loom-scf-to-cf,convert-to-llvm,reconcile-unrealized-casts | filecheck %s --check-prefix=LLVM

func.func @f(%x: memref<8x4xf32>, %a: f32, %out: memref<32xf32>) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c4 = arith.constant 4 : index
  %c8 = arith.constant 8 : index
  %t = memref.alloc() {alignment = 64 : i64} : memref<8x4xf32>
  %o = memref.expand_shape %out [[0, 1]] output_shape [8, 4] : memref<32xf32> into memref<8x4xf32>
  "scf.parallel"(%c0, %c8, %c1) <{operandSegmentSizes = array<i32: 1, 1, 1, 0>}> ({
  ^bb0(%i: index):
    scf.for %j = %c0 to %c4 step %c1 {
      %v = memref.load %x[%i, %j] : memref<8x4xf32>
      %ok = arith.cmpf olt, %v, %a : f32
      cf.assert %ok, "too big"
      loom.on_failure {
        memref.dealloc %t : memref<8x4xf32>
      }
      memref.store %v, %t[%i, %j] : memref<8x4xf32>
      memref.store %v, %o[%i, %j] : memref<8x4xf32>
    }
    scf.reduce
  }) : (index, index, index) -> ()
  memref.dealloc %t : memref<8x4xf32>
  func.return
}

// CHECK-LABEL: func.func @f(%x: memref<8x4xf32>, %a: f32, %out: memref<32xf32>) {
// CHECK-NEXT:    [[NSLOTS:%.*]] = arith.constant 4 : i64
// CHECK-NEXT:    [[CTX:%.*]] = llvm.alloca [[NSLOTS]] x !llvm.ptr {alignment = 8 : i64} : (i64) -> !llvm.ptr
// CHECK-NEXT:    [[FOUR:%.*]] = arith.constant 4 : i64
// CHECK-NEXT:    [[ERR:%.*]] = llvm.alloca [[FOUR]] x i64 {alignment = 8 : i64} : (i64) -> !llvm.ptr
// CHECK:         %t = memref.alloc() {alignment = 64 : i64} : memref<8x4xf32>
// Slot k is at byte 8k: element 2 of an f32 view (%a, slot 1), element 2 of a pointer view (%t, slot 2).
// CHECK:         [[S0:%.*]] = llvm.getelementptr inbounds [[CTX]][0] : (!llvm.ptr) -> !llvm.ptr, !llvm.ptr
// CHECK-NEXT:    llvm.store %x, [[S0]] : memref<8x4xf32>, !llvm.ptr
// CHECK-NEXT:    [[S1:%.*]] = llvm.getelementptr inbounds [[CTX]][2] : (!llvm.ptr) -> !llvm.ptr, f32
// CHECK-NEXT:    llvm.store %a, [[S1]] : f32, !llvm.ptr
// CHECK-NEXT:    [[S2:%.*]] = llvm.getelementptr inbounds [[CTX]][2] : (!llvm.ptr) -> !llvm.ptr, !llvm.ptr
// CHECK-NEXT:    llvm.store %t, [[S2]] : memref<8x4xf32>, !llvm.ptr
// CHECK-NEXT:    [[S3:%.*]] = llvm.getelementptr inbounds [[CTX]][3] : (!llvm.ptr) -> !llvm.ptr, !llvm.ptr
// CHECK-NEXT:    llvm.store %out, [[S3]] : memref<32xf32>, !llvm.ptr
// The number of iterations: ceil((ub - lb) / step).
// CHECK:         [[N:%.*]] = arith.index_cast {{%.*}} : index to i64
// CHECK-NEXT:    [[FN:%.*]] = llvm.mlir.addressof @f_parallel0 : !llvm.ptr
// CHECK-NEXT:    [[STATUS:%.*]] = llvm.call @loom_parallel_for([[FN]], [[CTX]], [[N]], [[ERR]]) : (!llvm.ptr, !llvm.ptr, i64, !llvm.ptr) -> i32
// CHECK-NEXT:    [[ZERO:%.*]] = arith.constant 0 : i32
// CHECK-NEXT:    [[FAILED:%.*]] = arith.cmpi ne, [[STATUS]], [[ZERO]] : i32
// CHECK-NEXT:    scf.if [[FAILED]] {
// CHECK-NEXT:      memref.dealloc %t : memref<8x4xf32>
// CHECK-NEXT:      func.call @loom_parallel_status([[STATUS]], [[ERR]]) : (i32, !llvm.ptr) -> ()
// CHECK-NEXT:    }
// CHECK-NEXT:    memref.dealloc %t : memref<8x4xf32>
// CHECK-NEXT:    func.return

// CHECK-LABEL: func.func private @f_parallel0(%0: !llvm.ptr, %1: index, %2: index) {
// CHECK-NEXT:    [[P0:%.*]] = llvm.getelementptr inbounds %0[0] : (!llvm.ptr) -> !llvm.ptr, !llvm.ptr
// CHECK-NEXT:    [[X0:%.*]] = llvm.load [[P0]] : !llvm.ptr -> !llvm.ptr
// CHECK-NEXT:    [[X:%.*]] = builtin.unrealized_conversion_cast [[X0]] : !llvm.ptr to memref<8x4xf32>
// CHECK-NEXT:    [[P1:%.*]] = llvm.getelementptr inbounds %0[2] : (!llvm.ptr) -> !llvm.ptr, f32
// CHECK-NEXT:    [[A:%.*]] = llvm.load [[P1]] : !llvm.ptr -> f32
// CHECK:         [[T:%.*]] = builtin.unrealized_conversion_cast {{%.*}} : !llvm.ptr to memref<8x4xf32>
// CHECK:         [[OUT:%.*]] = builtin.unrealized_conversion_cast {{%.*}} : !llvm.ptr to memref<32xf32>
// Constants and the view are recomputed here, not passed.
// CHECK:         [[O:%.*]] = memref.expand_shape [[OUT]] {{.*}} output_shape [8, 4] : memref<32xf32> into memref<8x4xf32>
// CHECK:         scf.for [[K:%.*]] = %1 to %2 step {{%.*}} {
// CHECK-NEXT:      [[KS:%.*]] = arith.muli [[K]], {{%.*}} : index
// CHECK-NEXT:      [[I:%.*]] = arith.addi {{%.*}}, [[KS]] : index
// CHECK-NEXT:      scf.for [[J:%.*]] = {{%.*}} to {{%.*}} step {{%.*}} {
// CHECK-NEXT:        [[V:%.*]] = memref.load [[X]]{{\[}}[[I]], [[J]]] : memref<8x4xf32>
// CHECK-NEXT:        [[OK:%.*]] = arith.cmpf olt, [[V]], [[A]] : f32
// The failure cleanup no longer frees %t (the caller does): it is gone.
// CHECK-NEXT:        cf.assert [[OK]], "too big"
// CHECK-NEXT:        memref.store [[V]], [[T]]{{\[}}[[I]], [[J]]] : memref<8x4xf32>
// CHECK-NEXT:        memref.store [[V]], [[O]]{{\[}}[[I]], [[J]]] : memref<8x4xf32>
// CHECK:         func.return
// CHECK:       llvm.func @loom_parallel_for(!llvm.ptr, !llvm.ptr, i64, !llvm.ptr) -> i32
// CHECK:       func.func @loom_parallel_status(i32, !llvm.ptr) -> ()

// Lowered to the llvm dialect, the body is a Loom function (an i32 status, the error-values
// pointer last), the signature the pool calls; the status function propagates like any callee's.
// LLVM-LABEL: llvm.func @f(
// LLVM:         llvm.call @loom_parallel_for({{.*}}) : (!llvm.ptr, !llvm.ptr, i64, !llvm.ptr) -> i32
// LLVM:         llvm.call @free(
// LLVM-NEXT:    [[ST:%.*]] = llvm.call @loom_parallel_status({{.*}}) : (i32, !llvm.ptr, !llvm.ptr) -> i32
// LLVM-LABEL: llvm.func internal @f_parallel0({{%[0-9]+}}: !llvm.ptr {llvm.noalias}, {{%[0-9]+}}: i64, {{%[0-9]+}}: i64, {{%[0-9]+}}: !llvm.ptr {llvm.noalias}) -> i32 {
// LLVM-NOT:     unrealized_conversion_cast
// LLVM:       llvm.func @loom_parallel_for(!llvm.ptr, !llvm.ptr, i64, !llvm.ptr) -> i32
// LLVM:       llvm.func @loom_parallel_status(i32, !llvm.ptr, !llvm.ptr) -> i32
