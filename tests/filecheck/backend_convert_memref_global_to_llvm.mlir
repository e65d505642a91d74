// convert-to-llvm on a constant table (what math-approximation's f64 sin/cos read: the bits of
// 2/pi): a private `memref.global` becomes an internal constant `llvm.mlir.global` of an array
// with the same initializer; `memref.get_global` becomes its address, and a load
// from it is a `getelementptr inbounds` + `llvm.load` like any other buffer's.
// RUN: loom opt %s -p convert-to-llvm | filecheck %s
// RUN: loom opt %s -p convert-to-llvm | filecheck %s --check-prefix=GONE
// GONE-NOT: memref.

// CHECK:       llvm.mlir.global internal constant @table(dense<[7, 11, 13]> : tensor<3xi64>) {addr_space = 0 : i32} : !llvm.array<3 x i64>
// CHECK-LABEL: llvm.func @get(%i: i64, %out: !llvm.ptr {llvm.noalias}, {{%.*}}: !llvm.ptr {llvm.noalias}) -> i32 {
// CHECK-NEXT:    [[T:%.*]] = llvm.mlir.addressof @table : !llvm.ptr
// CHECK-NEXT:    [[P:%.*]] = llvm.getelementptr inbounds [[T]][%i] : (!llvm.ptr, i64) -> !llvm.ptr, i64
// CHECK-NEXT:    [[V:%.*]] = llvm.load [[P]] : !llvm.ptr -> i64
// CHECK:         llvm.store [[V]], {{%.*}} : i64, !llvm.ptr
"memref.global"() <{sym_name = "table", type = memref<3xi64>, initial_value = dense<[7, 11, 13]> : tensor<3xi64>, sym_visibility = "private", constant}> : () -> ()
func.func @get(%i: index, %out: memref<1xi64>) {
  %t = memref.get_global @table : memref<3xi64>
  %v = memref.load %t[%i] : memref<3xi64>
  %c0 = arith.constant 0 : index
  memref.store %v, %out[%c0] : memref<1xi64>
  func.return
}
