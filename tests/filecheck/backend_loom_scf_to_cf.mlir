// loom-scf-to-cf: all structured control flow -> cf branches in ONE rewrite: xDSL's patterns for
// scf.for / scf.if together with convert-scf-while-to-cf's for scf.while. Lowering only one kind
// would leave a multi-block region inside a loop of the other kind, which the verifier rejects
// (the ALONE run below) -- nested loops of mixed kinds must be lowered together.
// An scf.for becomes a header block testing iv < ub (with the iteration values as block
// arguments), a body that branches back with iv + step, and an exit that continues the parent.
// RUN: loom opt %s -p loom-scf-to-cf | filecheck %s
// RUN: not loom opt %s -p convert-scf-while-to-cf 2>&1 | filecheck %s --check-prefix=ALONE
// ALONE: error: invalid IR after pass 'convert-scf-while-to-cf'
// ALONE-SAME: expected a single block

// A while inside a for: t counts, for every i < n, the halvings of i down to 0.
// CHECK-LABEL: func.func @nest(%n: i64) -> i64 {
// CHECK-NEXT:    [[ZERO:%.*]] = arith.constant 0 : i64
// CHECK-NEXT:    [[ONE:%.*]] = arith.constant 1 : i64
// The for loop's header: (i, t), i < n.
// CHECK-NEXT:    cf.br ^[[FOR:bb[0-9]+]]([[ZERO]], [[ZERO]] : i64, i64)
// CHECK-NEXT:  ^[[FOR]]([[I:%.*]]: i64, [[T:%.*]]: i64):
// CHECK-NEXT:    [[LT:%.*]] = arith.cmpi slt, [[I]], %n : i64
// CHECK-NEXT:    cf.cond_br [[LT]], ^[[BODY:bb[0-9]+]], ^[[DONE:bb[0-9]+]]
// The for body is the while: it starts from (j = i, t).
// CHECK-NEXT:  ^[[BODY]]:
// CHECK-NEXT:    cf.br ^[[BEFORE:bb[0-9]+]]([[I]], [[T]] : i64, i64)
// CHECK-NEXT:  ^[[BEFORE]]([[J:%.*]]: i64, [[TW:%.*]]: i64):
// CHECK-NEXT:    [[GT:%.*]] = arith.cmpi sgt, [[J]], [[ZERO]] : i64
// CHECK-NEXT:    cf.cond_br [[GT]], ^[[AFTER:bb[0-9]+]]([[J]], [[TW]] : i64, i64), ^[[WEXIT:bb[0-9]+]]([[J]], [[TW]] : i64, i64)
// CHECK-NEXT:  ^[[AFTER]]([[JA:%.*]]: i64, [[TA:%.*]]: i64):
// CHECK-NEXT:    [[H:%.*]] = arith.shrsi [[JA]], [[ONE]] : i64
// CHECK-NEXT:    [[T1:%.*]] = arith.addi [[TA]], [[ONE]] : i64
// CHECK-NEXT:    cf.br ^[[BEFORE]]([[H]], [[T1]] : i64, i64)
// After the while, the rest of the for body: i + 1, and back to the header with the while's t.
// CHECK-NEXT:  ^[[WEXIT]]({{%.*}}: i64, [[TE:%.*]]: i64):
// CHECK-NEXT:    [[INEXT:%.*]] = arith.addi [[I]], [[ONE]] : i64
// CHECK-NEXT:    cf.br ^[[FOR]]([[INEXT]], [[TE]] : i64, i64)
// The for's result is the header's t.
// CHECK-NEXT:  ^[[DONE]]:
// CHECK-NEXT:    func.return [[T]] : i64
// CHECK-NOT:     scf.
func.func @nest(%n: i64) -> i64 {
  %zero = arith.constant 0 : i64
  %one = arith.constant 1 : i64
  %t = scf.for %i = %zero to %n step %one iter_args(%t0 = %zero) -> (i64) : i64 {
    %j, %tw = scf.while (%j0 = %i, %t1 = %t0) : (i64, i64) -> (i64, i64) {
      %gt = arith.cmpi sgt, %j0, %zero : i64
      scf.condition(%gt) %j0, %t1 : i64, i64
    } do {
    ^bb0(%ja: i64, %ta: i64):
      %h = arith.shrsi %ja, %one : i64
      %t2 = arith.addi %ta, %one : i64
      scf.yield %h, %t2 : i64, i64
    }
    scf.yield %tw : i64
  }
  func.return %t : i64
}

// An if inside a while (Collatz steps): the if becomes a cond_br to two blocks that both branch to
// a merge block carrying the if's result, and the while's body continues from there.
// CHECK-LABEL: func.func @collatz(%n: i64) -> i64 {
// CHECK:         cf.br ^[[BEFORE:bb[0-9]+]](%n, {{%.*}} : i64, i64)
// CHECK-NEXT:  ^[[BEFORE]]([[X:%.*]]: i64, [[S:%.*]]: i64):
// CHECK:         cf.cond_br {{%.*}}, ^[[AFTER:bb[0-9]+]]([[X]], [[S]] : i64, i64), ^[[EXIT:bb[0-9]+]]([[X]], [[S]] : i64, i64)
// CHECK-NEXT:  ^[[AFTER]]([[XA:%.*]]: i64, [[SA:%.*]]: i64):
// CHECK:         [[EVEN:%.*]] = arith.cmpi eq, {{%.*}}, {{%.*}} : i64
// CHECK-NEXT:    cf.cond_br [[EVEN]], ^[[THEN:bb[0-9]+]], ^[[ELSE:bb[0-9]+]]
// CHECK-NEXT:  ^[[THEN]]:
// CHECK-NEXT:    [[HALF:%.*]] = arith.shrsi [[XA]], {{%.*}} : i64
// CHECK-NEXT:    cf.br ^[[MERGE:bb[0-9]+]]([[HALF]] : i64)
// CHECK-NEXT:  ^[[ELSE]]:
// CHECK-NEXT:    [[TRIPLE:%.*]] = arith.muli [[XA]], {{%.*}} : i64
// CHECK-NEXT:    [[ODD:%.*]] = arith.addi [[TRIPLE]], {{%.*}} : i64
// CHECK-NEXT:    cf.br ^[[MERGE]]([[ODD]] : i64)
// CHECK-NEXT:  ^[[MERGE]]([[XN:%.*]]: i64):
// CHECK:         [[SN:%.*]] = arith.addi [[SA]], {{%.*}} : i64
// CHECK-NEXT:    cf.br ^[[BEFORE]]([[XN]], [[SN]] : i64, i64)
// CHECK-NEXT:  ^[[EXIT]]({{%.*}}: i64, [[SE:%.*]]: i64):
// CHECK-NEXT:    func.return [[SE]] : i64
// CHECK-NOT:     scf.
func.func @collatz(%n: i64) -> i64 {
  %zero = arith.constant 0 : i64
  %one = arith.constant 1 : i64
  %two = arith.constant 2 : i64
  %three = arith.constant 3 : i64
  %x, %steps = scf.while (%x0 = %n, %s0 = %zero) : (i64, i64) -> (i64, i64) {
    %ne = arith.cmpi ne, %x0, %one : i64
    scf.condition(%ne) %x0, %s0 : i64, i64
  } do {
  ^bb0(%xa: i64, %sa: i64):
    %r = arith.remsi %xa, %two : i64
    %even = arith.cmpi eq, %r, %zero : i64
    %xn = scf.if %even -> (i64) {
      %h = arith.shrsi %xa, %one : i64
      scf.yield %h : i64
    } else {
      %t = arith.muli %xa, %three : i64
      %o = arith.addi %t, %one : i64
      scf.yield %o : i64
    }
    %sn = arith.addi %sa, %one : i64
    scf.yield %xn, %sn : i64, i64
  }
  func.return %steps : i64
}

// A step other than 1 and a bound not known here: `i + 5` may wrap past the largest integer (n near
// 2**63 - 1), so the latch steps to n instead when at most 5 are left (ub - i, exact unsigned).
// CHECK-LABEL: func.func @strided(%n: i64) -> i64 {
// CHECK:       ^[[HEAD:bb[0-9]+]]([[I:%.*]]: i64, {{%.*}}: i64):
// CHECK:         [[NEXT:%.*]] = arith.addi [[I]], %five : i64
// CHECK-NEXT:    [[LEFT:%.*]] = arith.subi %n, [[I]] : i64
// CHECK-NEXT:    [[MORE:%.*]] = arith.cmpi ugt, [[LEFT]], %five : i64
// CHECK-NEXT:    [[TO:%.*]] = arith.select [[MORE]], [[NEXT]], %n : i64
// CHECK-NEXT:    cf.br ^[[HEAD]]([[TO]], {{%.*}} : i64, i64)
// Step 1 (i < n, so i + 1 fits) or constant bounds that leave room: the plain latch.
// CHECK-LABEL: func.func @unit(%n: i64) -> i64 {
// CHECK-NOT:     arith.select
// CHECK:         func.return
func.func @strided(%n: i64) -> i64 {
  %zero = arith.constant 0 : i64
  %five = arith.constant 5 : i64
  %r = scf.for %i = %zero to %n step %five iter_args(%a = %zero) -> (i64) : i64 {
    %b = arith.addi %a, %i : i64
    scf.yield %b : i64
  }
  func.return %r : i64
}
func.func @unit(%n: i64) -> i64 {
  %zero = arith.constant 0 : i64
  %one = arith.constant 1 : i64
  %c100 = arith.constant 100 : i64
  %five = arith.constant 5 : i64
  %r = scf.for %i = %zero to %n step %one iter_args(%a = %zero) -> (i64) : i64 {
    %b = arith.addi %a, %i : i64
    scf.yield %b : i64
  }
  %s = scf.for %i = %zero to %c100 step %five iter_args(%a = %r) -> (i64) : i64 {
    %b = arith.addi %a, %i : i64
    scf.yield %b : i64
  }
  func.return %s : i64
}
