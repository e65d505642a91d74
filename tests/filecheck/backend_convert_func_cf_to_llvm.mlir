// convert-func-to-llvm and convert-cf-to-llvm: Loom's native calling convention and run-time checks.
// func: a (bufferized) function returns nothing; its llvm.func gains a last argument, a `noalias`
// pointer to the int64_t[4] where a failing check stores the values its message shows, and returns
// an i32 status, 0 on success. A call passes that pointer on and returns early with the callee's
// status when it is nonzero. Public functions keep external linkage; private ones are internal.
// cf: each cf.assert is numbered (its position in the module attribute loom.error_sites, + 1) and
// becomes a cond_br to a block returning that number; the runtime maps it back to the message.
// RUN: loom opt %s -p convert-func-to-llvm | filecheck %s --check-prefix=FUNC
// RUN: loom opt %s -p convert-func-to-llvm,convert-cf-to-llvm | filecheck %s
// RUN: loom opt %s -p convert-func-to-llvm,convert-cf-to-llvm | filecheck %s --check-prefix=NOCF
// NOCF-NOT: {{cf\.|func\.}}

// FUNC-LABEL: llvm.func @main(
// FUNC-SAME:    %a: i64, %c: i1, [[ERR:%[0-9]+]]: !llvm.ptr {llvm.noalias}) -> i32 {
// FUNC-NEXT:    [[ST:%.*]] = llvm.call @helper(%a, [[ERR]]) : (i64, !llvm.ptr) -> i32
// FUNC-NEXT:    [[Z:%.*]] = llvm.mlir.constant(0 : i32) : i32
// FUNC-NEXT:    [[OK:%.*]] = llvm.icmp "eq" [[ST]], [[Z]] : i32
// FUNC-NEXT:    llvm.cond_br [[OK]], ^[[GO:bb[0-9]+]], ^[[BACK:bb[0-9]+]]
// FUNC-NEXT:  ^[[BACK]]:
// FUNC-NEXT:    llvm.return [[ST]] : i32
// FUNC-NEXT:  ^[[GO]]:
// FUNC-NEXT:    cf.assert %c, "c must hold"
// FUNC-NEXT:    [[Z2:%.*]] = llvm.mlir.constant(0 : i32) : i32
// FUNC-NEXT:    llvm.return [[Z2]] : i32
// FUNC-NEXT:  }
// FUNC-NEXT:  llvm.func internal @helper(%a_1: i64, {{%.*}}: !llvm.ptr {llvm.noalias}) -> i32 {
// FUNC-NOT:   func.func

// CHECK:       builtin.module attributes {loom.error_sites = {{\[}}["c must hold", {{.*}}], ["a must be positive", {{.*}}]]} {
// CHECK-LABEL: llvm.func @main(
// CHECK:         llvm.cond_br {{%.*}}, ^[[GO:bb[0-9]+]], ^{{bb[0-9]+}}
// CHECK:       ^[[GO]]:
// CHECK-NEXT:    llvm.cond_br %c, ^[[PASS:bb[0-9]+]], ^[[FAIL:bb[0-9]+]]
// CHECK-NEXT:  ^[[FAIL]]:
// CHECK-NEXT:    [[ONE:%.*]] = llvm.mlir.constant(1 : i32) : i32
// CHECK-NEXT:    llvm.return [[ONE]] : i32
// CHECK-NEXT:  ^[[PASS]]:
// CHECK-NEXT:    [[Z:%.*]] = llvm.mlir.constant(0 : i32) : i32
// CHECK-NEXT:    llvm.return [[Z]] : i32
// CHECK-LABEL: llvm.func internal @helper(
// CHECK:         [[POS:%.*]] = arith.cmpi sgt, %a_1, {{%.*}} : i64
// CHECK-NEXT:    llvm.cond_br [[POS]], ^[[PASS:bb[0-9]+]], ^[[FAIL:bb[0-9]+]]
// CHECK-NEXT:  ^[[FAIL]]:
// CHECK-NEXT:    [[TWO:%.*]] = llvm.mlir.constant(2 : i32) : i32
// CHECK-NEXT:    llvm.return [[TWO]] : i32
// CHECK-NEXT:  ^[[PASS]]:
// CHECK-NEXT:    [[Z:%.*]] = llvm.mlir.constant(0 : i32) : i32
// CHECK-NEXT:    llvm.return [[Z]] : i32
func.func @main(%a: i64, %c: i1) {
  func.call @helper(%a) : (i64) -> ()
  cf.assert %c, "c must hold"
  func.return
}
func.func private @helper(%a: i64) {
  %z = arith.constant 0 : i64
  %ok = arith.cmpi sgt, %a, %z : i64
  cf.assert %ok, "a must be positive"
  func.return
}
