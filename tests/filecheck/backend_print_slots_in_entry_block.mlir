// Regression (was a bug): convert-print-to-llvm puts the `llvm.alloca`s
// for a print's pointer array and scalar slots right where the print is. Inside a loop (after
// loom-scf-to-cf, a non-entry block) every iteration then takes fresh stack space that is only
// released when the function returns, so a loop that prints often overflows the stack:
//     def main() -> i64:
//         t = 0
//         for i in range(1000000):
//             print(i)
//             t = t + i
//         return t
// `loom run` prints up to about 261600 and dies with SIGSEGV (exit 139) under an 8 MiB stack
// (the -O3 IR still has `alloca ptr` / `alloca i64` inside the loop block); `loom run --eager` is fine.
// Fix: create the allocas in the function's entry block (they are reused by every iteration),
// as loom-bufferize already does for its rank-0 accumulators.
// RUN: loom opt %s -p loom-scf-to-cf,convert-print-to-llvm | filecheck %s

// All stack slots are made in the entry block, before the loop's first branch...
// CHECK-LABEL: func.func @f(%n: i64, %x: memref<3xf32>) {
// CHECK-NOT:   ^bb
// CHECK-DAG:     [[ARR:%.*]] = llvm.alloca {{%.*}} x !llvm.ptr
// CHECK-DAG:     [[SLOT:%.*]] = llvm.alloca {{%.*}} x i64
// CHECK:         cf.br ^bb
// ...and the loop only fills them and calls the runtime.
// CHECK-NOT:     llvm.alloca
// CHECK:         llvm.store {{%.*}}, [[SLOT]] : i64, !llvm.ptr
// CHECK-NOT:     llvm.alloca
// CHECK:         llvm.call @loom_rt_print({{%.*}}, [[ARR]]) : (i64, !llvm.ptr) -> ()
// CHECK-NOT:     llvm.alloca
// CHECK:         func.return
func.func @f(%n: i64, %x: memref<3xf32>) {
  %z = arith.constant 0 : i64
  %o = arith.constant 1 : i64
  scf.for %i = %z to %n step %o : i64 {
    loom.print "i = {} x = {}", %i, %x : i64, memref<3xf32>
  }
  func.return
}
