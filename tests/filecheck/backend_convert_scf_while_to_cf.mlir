// convert-scf-while-to-cf: an scf.while becomes blocks and branches (xDSL's convert-scf-to-cf lowers
// scf.for and scf.if but not scf.while):
//     ^pre:          ...                               cf.br ^before(inits)
//     ^before(args): <before region>                   cf.cond_br %c, ^after(vals), ^exit(vals)
//     ^after(args):  <after region (the body)>         cf.br ^before(yielded)
//     ^exit(res):    <the rest of ^pre, using res>
// where `vals` are the values of scf.condition: they go both to the body and, when the condition
// is false, out of the loop as its results.
// RUN: loom opt %s -p convert-scf-while-to-cf | filecheck %s

// while k*k < n: k += 1   (the loop of `--emit=loops` for that Loom code)
// CHECK-LABEL: func.func @wl(%n: i64, %0: memref<i64>) {
// CHECK-NEXT:    [[INIT:%.*]] = arith.constant 0 : i64
// CHECK-NEXT:    cf.br ^[[BEFORE:bb[0-9]+]]([[INIT]] : i64)
// CHECK-NEXT:  ^[[BEFORE]]([[K:%.*]]: i64):
// CHECK-NEXT:    [[SQ:%.*]] = arith.muli [[K]], [[K]] : i64
// CHECK-NEXT:    [[C:%.*]] = arith.cmpi slt, [[SQ]], %n : i64
// CHECK-NEXT:    cf.cond_br [[C]], ^[[AFTER:bb[0-9]+]]([[K]] : i64), ^[[EXIT:bb[0-9]+]]([[K]] : i64)
// CHECK-NEXT:  ^[[AFTER]]([[KA:%.*]]: i64):
// CHECK-NEXT:    [[ONE:%.*]] = arith.constant 1 : i64
// CHECK-NEXT:    [[NEXT:%.*]] = arith.addi [[KA]], [[ONE]] : i64
// CHECK-NEXT:    cf.br ^[[BEFORE]]([[NEXT]] : i64)
// CHECK-NEXT:  ^[[EXIT]]([[KE:%.*]]: i64):
// CHECK-NEXT:    memref.store [[KE]], %0[] : memref<i64>
// CHECK-NEXT:    func.return
// CHECK-NOT:     scf.
func.func @wl(%n: i64, %0: memref<i64>) {
  %1 = arith.constant 0 : i64
  %k = scf.while (%k_1 = %1) : (i64) -> i64 {
    %2 = arith.muli %k_1, %k_1 : i64
    %3 = arith.cmpi slt, %2, %n : i64
    scf.condition(%3) %k_1 : i64
  } do {
  ^bb0(%k_2: i64):
    %4 = arith.constant 1 : i64
    %5 = arith.addi %k_2, %4 : i64
    scf.yield %5 : i64
  }
  memref.store %k, %0[] : memref<i64>
  func.return
}

// The condition passes on a value computed in the before region (%d, not the block argument %a):
// both the body and the exit receive %d; a value from the body (%s) flows back to ^before, and
// the two results map to the exit block's two arguments, in order.
// CHECK-LABEL: func.func @dbl(%x: i64, %n: i64) -> (i64, i64) {
// CHECK-NEXT:    [[Z:%.*]] = arith.constant 0 : i64
// CHECK-NEXT:    cf.br ^[[BEFORE:bb[0-9]+]](%x, [[Z]] : i64, i64)
// CHECK-NEXT:  ^[[BEFORE]]([[A:%.*]]: i64, [[S:%.*]]: i64):
// CHECK-NEXT:    [[D:%.*]] = arith.addi [[A]], [[A]] : i64
// CHECK-NEXT:    [[C:%.*]] = arith.cmpi slt, [[D]], %n : i64
// CHECK-NEXT:    cf.cond_br [[C]], ^[[AFTER:bb[0-9]+]]([[D]], [[S]] : i64, i64), ^[[EXIT:bb[0-9]+]]([[D]], [[S]] : i64, i64)
// CHECK-NEXT:  ^[[AFTER]]([[B:%.*]]: i64, [[T:%.*]]: i64):
// CHECK-NEXT:    [[T2:%.*]] = arith.addi [[T]], [[B]] : i64
// CHECK-NEXT:    cf.br ^[[BEFORE]]([[B]], [[T2]] : i64, i64)
// CHECK-NEXT:  ^[[EXIT]]([[R0:%.*]]: i64, [[R1:%.*]]: i64):
// CHECK-NEXT:    func.return [[R1]], [[R0]] : i64, i64
func.func @dbl(%x: i64, %n: i64) -> (i64, i64) {
  %z = arith.constant 0 : i64
  %r:2 = scf.while (%a = %x, %s = %z) : (i64, i64) -> (i64, i64) {
    %d = arith.addi %a, %a : i64
    %c = arith.cmpi slt, %d, %n : i64
    scf.condition(%c) %d, %s : i64, i64
  } do {
  ^bb0(%b: i64, %t: i64):
    %t2 = arith.addi %t, %b : i64
    scf.yield %b, %t2 : i64, i64
  }
  func.return %r#1, %r#0 : i64, i64
}
