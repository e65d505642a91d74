// convert-to-llvm: the whole lowering of memref/func/cf/arith/math to the llvm dialect, in one pass
// (the single convert-*-to-llvm passes leave the IR type-inconsistent until all have run). What
// Loom's native code looks like:
//   - memrefs are bare !llvm.ptr; an access is `getelementptr inbounds` on the row-major linear
//     index (i * 3 + j for a 4x3 buffer), then llvm.load/llvm.store;
//   - memref.alloc -> aligned_alloc(64, size rounded up to 64) checked for null; dealloc -> free;
//     memref.copy -> memcpy of the byte size;
//   - every function returns an i32 status and takes one extra last argument, a pointer where a
//     failing check stores the values its message shows; pointer arguments are `noalias`; public
//     functions keep external linkage (the JIT looks them up), private ones become internal;
//   - each run-time check (cf.assert, loom.assert) is numbered in the module attribute
//     loom.error_sites; failing, it branches to a block that returns its number; a caller returns
//     a nonzero status of its callee unchanged;
//   - float ops get fastmath `contract` (so LLVM may form FMAs) plus the op's own flags.
// RUN: loom opt %s -p convert-to-llvm | filecheck %s
// Nothing of the input dialects is left, anywhere:
// RUN: loom opt %s -p convert-to-llvm | filecheck %s --check-prefix=GONE
// GONE-NOT: {{memref\.|arith\.|cf\.|func\.|math\.}}

// The sites, numbered from 1 in order: the allocation, the bounds check, the helper's check.
// CHECK:       builtin.module attributes {loom.error_sites = [
// CHECK-SAME:    ["out of memory (allocating 48 bytes)", "", "0", "0"],
// CHECK-SAME:    ["index {} is out of range for axis 0 of size 4", "", "0", "0"],
// CHECK-SAME:    ["a[0, 0] must not be negative", "", "0", "0"]]}

// Public: no linkage keyword (external). Arguments: x, k, i, the out-param, the error-values pointer.
// CHECK-LABEL: llvm.func @entry(
// CHECK-SAME:    %x: !llvm.ptr {llvm.noalias}, %k: f32, %i: i64, %0: !llvm.ptr {llvm.noalias}, [[ERR:%[0-9]+]]: !llvm.ptr {llvm.noalias}) -> i32 {
// A 4x3xf32 buffer is 48 bytes: 64 after rounding up to the alignment.
// CHECK-NEXT:    [[ALIGN:%.*]] = llvm.mlir.constant(64) : i64
// CHECK-NEXT:    [[SIZE:%.*]] = llvm.mlir.constant(64) : i64
// CHECK-NEXT:    [[B:%.*]] = llvm.call @aligned_alloc([[ALIGN]], [[SIZE]]) : (i64, i64) -> !llvm.ptr
// CHECK-NEXT:    [[BI:%.*]] = llvm.ptrtoint [[B]] : !llvm.ptr to i64
// CHECK-NEXT:    [[NULL:%.*]] = llvm.mlir.constant(0) : i64
// CHECK-NEXT:    [[NZ:%.*]] = llvm.icmp "ne" [[BI]], [[NULL]] : i64
// CHECK-NEXT:    llvm.cond_br [[NZ]], ^[[OK1:bb[0-9]+]], ^[[OOM:bb[0-9]+]]
// CHECK-NEXT:  ^[[OOM]]:
// CHECK-NEXT:    [[ONE:%.*]] = llvm.mlir.constant(1 : i32) : i32
// CHECK-NEXT:    llvm.return [[ONE]] : i32
// CHECK-NEXT:  ^[[OK1]]:
// The bounds check (a loom.assert showing %i): failing, it stores %i into the error values and
// returns 2.
// CHECK:         [[OK:%.*]] = llvm.and {{%.*}}, {{%.*}} : i1
// CHECK-NEXT:    llvm.cond_br [[OK]], ^[[IN:bb[0-9]+]], ^[[FAIL:bb[0-9]+]]
// CHECK-NEXT:  ^[[FAIL]]:
// CHECK-NEXT:    [[SLOT:%.*]] = llvm.getelementptr inbounds [[ERR]][0] : (!llvm.ptr) -> !llvm.ptr, i64
// CHECK-NEXT:    llvm.store %i, [[SLOT]] : i64, !llvm.ptr
// CHECK-NEXT:    [[TWO:%.*]] = llvm.mlir.constant(2 : i32) : i32
// CHECK-NEXT:    llvm.return [[TWO]] : i32
// CHECK-NEXT:  ^[[IN]]:
// x[i, 2]: address x + (i * 3 + 2) floats.
// CHECK-NEXT:    [[C2:%.*]] = llvm.mlir.constant(2) : i64
// CHECK-NEXT:    [[ROW:%.*]] = llvm.mlir.constant(3) : i64
// CHECK-NEXT:    [[IR:%.*]] = llvm.mul %i, [[ROW]] : i64
// CHECK-NEXT:    [[LIN:%.*]] = llvm.add [[IR]], [[C2]] : i64
// CHECK-NEXT:    [[P:%.*]] = llvm.getelementptr inbounds %x{{\[}}[[LIN]]{{\]}} : (!llvm.ptr, i64) -> !llvm.ptr, f32
// CHECK-NEXT:    [[V:%.*]] = llvm.load [[P]] : !llvm.ptr -> f32
// CHECK-NEXT:    [[M:%.*]] = llvm.fmul [[V]], %k {fastmathFlags = #llvm.fastmath<contract>} : f32
// CHECK-NEXT:    [[S:%.*]] = llvm.fadd [[M]], [[V]] {fastmathFlags = #llvm.fastmath<reassoc,contract>} : f32
// CHECK:         [[Q:%.*]] = llvm.getelementptr inbounds [[B]][{{%.*}}] : (!llvm.ptr, i64) -> !llvm.ptr, f32
// CHECK-NEXT:    llvm.store [[S]], [[Q]] : f32, !llvm.ptr
// The call passes the error-values pointer on and propagates a nonzero status.
// CHECK-NEXT:    [[ST:%.*]] = llvm.call @helper([[B]], %0, [[ERR]]) : (!llvm.ptr, !llvm.ptr, !llvm.ptr) -> i32
// CHECK-NEXT:    [[Z:%.*]] = llvm.mlir.constant(0 : i32) : i32
// CHECK-NEXT:    [[GOOD:%.*]] = llvm.icmp "eq" [[ST]], [[Z]] : i32
// CHECK-NEXT:    llvm.cond_br [[GOOD]], ^[[CONT:bb[0-9]+]], ^[[PROP:bb[0-9]+]]
// CHECK-NEXT:  ^[[PROP]]:
// CHECK-NEXT:    llvm.return [[ST]] : i32
// CHECK-NEXT:  ^[[CONT]]:
// CHECK-NEXT:    llvm.call @free([[B]]) : (!llvm.ptr) -> ()
// CHECK-NEXT:    [[ZERO:%.*]] = llvm.mlir.constant(0 : i32) : i32
// CHECK-NEXT:    llvm.return [[ZERO]] : i32
// CHECK-NEXT:  }
func.func @entry(%x: memref<4x3xf32>, %k: f32, %i: i64, %0: memref<4x3xf32>) {
  %b = memref.alloc() {alignment = 64 : i64} : memref<4x3xf32>
  %lo = arith.constant 0 : i64
  %hi = arith.constant 4 : i64
  %ge = arith.cmpi sge, %i, %lo : i64
  %lt = arith.cmpi slt, %i, %hi : i64
  %ok = arith.andi %ge, %lt : i1
  loom.assert %ok[%i : i64], "index {} is out of range for axis 0 of size 4"
  %r = arith.index_cast %i : i64 to index
  %c = arith.constant 2 : index
  %v = memref.load %x[%r, %c] : memref<4x3xf32>
  %m = arith.mulf %v, %k fastmath<contract> : f32
  %s = arith.addf %m, %v fastmath<reassoc,contract> : f32
  memref.store %s, %b[%r, %c] : memref<4x3xf32>
  func.call @helper(%b, %0) : (memref<4x3xf32>, memref<4x3xf32>) -> ()
  memref.dealloc %b : memref<4x3xf32>
  func.return
}

// Private: internal linkage. Its check is site 3; the copy is a memcpy of 4*3*4 = 48 bytes.
// CHECK-LABEL: llvm.func internal @helper(%a: !llvm.ptr {llvm.noalias}, %out: !llvm.ptr {llvm.noalias}, {{%.*}}: !llvm.ptr {llvm.noalias}) -> i32 {
// CHECK:         [[POS:%.*]] = llvm.fcmp "oge" {{%.*}}, {{%.*}} : f32
// CHECK-NEXT:    llvm.cond_br [[POS]], ^[[GO:bb[0-9]+]], ^[[BAD:bb[0-9]+]]
// CHECK-NEXT:  ^[[BAD]]:
// CHECK-NEXT:    [[THREE:%.*]] = llvm.mlir.constant(3 : i32) : i32
// CHECK-NEXT:    llvm.return [[THREE]] : i32
// CHECK-NEXT:  ^[[GO]]:
// CHECK-NEXT:    [[N:%.*]] = llvm.mlir.constant(48) : i64
// CHECK-NEXT:    {{%.*}} = llvm.call @memcpy(%out, %a, [[N]]) : (!llvm.ptr, !llvm.ptr, i64) -> !llvm.ptr
// CHECK-NEXT:    [[ZERO:%.*]] = llvm.mlir.constant(0 : i32) : i32
// CHECK-NEXT:    llvm.return [[ZERO]] : i32
// CHECK-NEXT:  }
// The C library functions used are declared.
// CHECK-DAG:   llvm.func @memcpy(!llvm.ptr, !llvm.ptr, i64) -> !llvm.ptr
// CHECK-DAG:   llvm.func @aligned_alloc(i64, i64) -> !llvm.ptr
// CHECK-DAG:   llvm.func @free(!llvm.ptr)
func.func private @helper(%a: memref<4x3xf32>, %out: memref<4x3xf32>) {
  %z = arith.constant 0 : index
  %v = memref.load %a[%z, %z] : memref<4x3xf32>
  %zero = arith.constant 0.000000e+00 : f32
  %pos = arith.cmpf oge, %v, %zero : f32
  cf.assert %pos, "a[0, 0] must not be negative"
  "memref.copy"(%a, %out) : (memref<4x3xf32>, memref<4x3xf32>) -> ()
  func.return
}
