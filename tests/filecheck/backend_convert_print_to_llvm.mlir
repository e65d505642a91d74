// convert-print-to-llvm: loom.print -> a call into the runtime, `loom_rt_print(id, values)`. The
// format string and the values' types go into the module attribute loom.prints (entry `id`, in
// order); the call passes an array of pointers, one per value: a buffer's data pointer as is, a
// scalar through a stack slot holding it. The runtime then formats exactly like the eager
// executor. (It runs before the memref conversion: a buffer reaches the array through an
// unrealized_conversion_cast to !llvm.ptr, which reconcile-unrealized-casts removes.)
// RUN: loom opt %s -p convert-print-to-llvm | filecheck %s
// RUN: loom opt %s -p convert-print-to-llvm,convert-to-llvm,reconcile-unrealized-casts | filecheck %s --check-prefix=LLVM

// CHECK:       builtin.module attributes {loom.prints = {{\[}}["x = {} n = {} f = {}", [memref<3xf32>, i64, f32]], ["done", []]]} {
// CHECK-LABEL: func.func @main(%x: memref<3xf32>, %n: i64, %f: f32) {
// The stack slots are made in the entry block (a print in a loop must not grow the stack): the
// second print's array of 1 pointer, then the first print's array of 3 and its scalar slots.
// CHECK-NEXT:    [[ONE:%.*]] = llvm.mlir.constant(1) : i64
// CHECK-NEXT:    [[ARR1:%.*]] = llvm.alloca [[ONE]] x !llvm.ptr {alignment = 8 : i64} : (i64) -> !llvm.ptr
// CHECK-NEXT:    [[THREE:%.*]] = llvm.mlir.constant(3) : i64
// CHECK-NEXT:    [[ARR:%.*]] = llvm.alloca [[THREE]] x !llvm.ptr {alignment = 8 : i64} : (i64) -> !llvm.ptr
// CHECK:         [[NS:%.*]] = llvm.alloca {{%.*}} x i64 {alignment = 8 : i64} : (i64) -> !llvm.ptr
// CHECK:         [[FS:%.*]] = llvm.alloca {{%.*}} x f32 {alignment = 8 : i64} : (i64) -> !llvm.ptr
// ...slot 0: x's data pointer...
// CHECK-NEXT:    [[XP:%.*]] = builtin.unrealized_conversion_cast %x : memref<3xf32> to !llvm.ptr
// CHECK-NEXT:    [[A0:%.*]] = llvm.getelementptr inbounds [[ARR]][0] : (!llvm.ptr) -> !llvm.ptr, !llvm.ptr
// CHECK-NEXT:    llvm.store [[XP]], [[A0]] : !llvm.ptr, !llvm.ptr
// ...slot 1: the address of the stack slot holding n...
// CHECK-NEXT:    llvm.store %n, [[NS]] : i64, !llvm.ptr
// CHECK-NEXT:    [[A1:%.*]] = llvm.getelementptr inbounds [[ARR]][1] : (!llvm.ptr) -> !llvm.ptr, !llvm.ptr
// CHECK-NEXT:    llvm.store [[NS]], [[A1]] : !llvm.ptr, !llvm.ptr
// ...slot 2: the same for f...
// CHECK-NEXT:    llvm.store %f, [[FS]] : f32, !llvm.ptr
// CHECK-NEXT:    [[A2:%.*]] = llvm.getelementptr inbounds [[ARR]][2] : (!llvm.ptr) -> !llvm.ptr, !llvm.ptr
// CHECK-NEXT:    llvm.store [[FS]], [[A2]] : !llvm.ptr, !llvm.ptr
// ...and the call, with print number 0.
// CHECK-NEXT:    [[ID0:%.*]] = llvm.mlir.constant(0) : i64
// CHECK-NEXT:    llvm.call @loom_rt_print([[ID0]], [[ARR]]) : (i64, !llvm.ptr) -> ()
// The second print (no values) is number 1.
// CHECK-NEXT:    [[ID1:%.*]] = llvm.mlir.constant(1) : i64
// CHECK-NEXT:    llvm.call @loom_rt_print([[ID1]], [[ARR1]]) : (i64, !llvm.ptr) -> ()
// CHECK-NEXT:    func.return
// CHECK:       llvm.func @loom_rt_print(i64, !llvm.ptr)

// After the full lowering the cast is gone: the buffer argument itself is stored in the array.
// LLVM-LABEL: llvm.func @main(%x: !llvm.ptr {llvm.noalias}, %n: i64, %f: f32, {{%.*}}: !llvm.ptr {llvm.noalias}) -> i32 {
// LLVM:         [[THREE:%.*]] = llvm.mlir.constant(3) : i64
// LLVM-NEXT:    [[ARR:%.*]] = llvm.alloca [[THREE]] x !llvm.ptr
// LLVM:         [[A0:%.*]] = llvm.getelementptr inbounds [[ARR]][0]
// LLVM-NEXT:    llvm.store %x, [[A0]] : !llvm.ptr, !llvm.ptr
// LLVM-NOT:     unrealized_conversion_cast
// LLVM:         llvm.call @loom_rt_print
func.func @main(%x: memref<3xf32>, %n: i64, %f: f32) {
  loom.print "x = {} n = {} f = {}", %x, %n, %f : memref<3xf32>, i64, f32
  loom.print "done"
  func.return
}
