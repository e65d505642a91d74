// loom-matmul-kernel with A's micro-panels in L1 (the AVX-512 tiles) and more columns than one block
// of B (NC = 512 for f32): A is packed once per depth block for all of its rows, into an Ap of
// ceil(M/12) panels shared by all threads, before the loop over B's column blocks; each column block
// packs B and runs the macro-kernel on A's row blocks, telling it where its block's first panel
// starts in Ap (a_base = ic * kc). With parallel=true and enough work, A is packed by all threads
// (a packing routine whose panels are an scf.parallel), like B. A contraction with no rows (an empty
// C) is left to the loops, even with min_size=0.
// RUN: loom opt %s -p 'loom-matmul-kernel{isa=avx512 min_size=0 direct_a=0 parallel=false},cse' | filecheck %s
// RUN: loom opt %s -p 'loom-matmul-kernel{isa=avx512 min_size=0 direct_a=0 parallel=true},cse' | filecheck %s --check-prefix=PAR

// CHECK-LABEL: func.func @wide(
// CHECK-NEXT:    [[BP:%[0-9a-z_]+]] = memref.alloc() {alignment = 64 : i64} : memref<16x20x32xf32>
// CHECK-NEXT:    [[AP:%[0-9a-z_]+]] = memref.alloc() {alignment = 64 : i64} : memref<3x20x12xf32>
// CHECK-NEXT:    [[CT:%[0-9a-z_]+]] = memref.alloc() {alignment = 64 : i64} : memref<12x32xf32>
// CHECK:         scf.for [[PC:%[0-9a-z_]+]] = {{%.*}} to {{%.*}} step {{%.*}} {
// CHECK:           [[KC:%[0-9a-z_]+]] = arith.minsi
// CHECK:           [[M:%[0-9a-z_]+]] = arith.constant 30 : index
// CHECK:           [[APF1:%[0-9a-z_]+]] = memref.collapse_shape [[AP]]
// CHECK-NEXT:      [[APF:%[0-9a-z_]+]] = "memref.cast"([[APF1]])
// All 30 rows of A from row 0, once per depth block:
// CHECK:           func.call @matmul_pack_a_f32_12x32({{%.*}}, [[APF]], {{%.*}}, {{%.*}}, {{%.*}}, [[C0:%[0-9a-z_]+]], [[M]], [[PC]], [[KC]], [[M]])
// CHECK:           scf.for [[JC:%[0-9a-z_]+]] = {{%.*}} to {{%.*}} step {{%.*}} {
// CHECK:             func.call @matmul_pack_b_f32_12x32(
// CHECK:             scf.for [[IC:%[0-9a-z_]+]] = [[C0]] to [[M]] step {{%.*}} {
// CHECK:               [[ABASE:%[0-9a-z_]+]] = arith.muli [[IC]], [[KC]] : index
// CHECK-NEXT:          func.call @matmul_macro_f32_12x32([[APF]], {{.*}}, [[CT]], {{.*}}, [[IC]], {{%.*}}, [[JC]], {{%.*}}, [[KC]], [[ABASE]])
// CHECK:         memref.dealloc [[BP]] : memref<16x20x32xf32>
// CHECK-NEXT:    memref.dealloc [[AP]] : memref<3x20x12xf32>
// CHECK-NEXT:    memref.dealloc [[CT]] : memref<12x32xf32>
// CHECK-NEXT:    func.return

// CHECK-LABEL: func.func @empty(
// CHECK-NEXT:    linalg.generic

// PAR-LABEL: func.func @widepar(
// One Ap for all threads, outside the loops; Ct per thread:
// PAR-NEXT:    memref.alloc() {alignment = 64 : i64} : memref<16x256x32xf32>
// PAR-NEXT:    [[AP:%[0-9a-z_]+]] = memref.alloc() {alignment = 64 : i64} : memref<25x256x12xf32>
// PAR:         scf.for
// PAR:           func.call @matmul_pack_a_f32_12x32_1(
// PAR:           scf.for
// PAR:             func.call @matmul_pack_b_f32_12x32_1(
// PAR:             "scf.parallel"
// PAR:               memref.alloc() {alignment = 64 : i64} : memref<12x32xf32>
// PAR:               func.call @matmul_macro_f32_12x32(
// PAR:         memref.dealloc [[AP]] : memref<25x256x12xf32>
// PAR-LABEL: func.func private @matmul_pack_a_f32_12x32_1(
// PAR:         "scf.parallel"

builtin.module {
  func.func @wide(%a: memref<30x20xf32>, %b: memref<20x600xf32>, %c: memref<30x600xf32>) {
    linalg.generic {indexing_maps = [affine_map<(d0, d1, d2) -> (d0, d2)>, affine_map<(d0, d1, d2) -> (d2, d1)>, affine_map<(d0, d1, d2) -> (d0, d1)>], iterator_types = ["parallel", "parallel", "reduction"]} ins(%a, %b : memref<30x20xf32>, memref<20x600xf32>) outs(%c : memref<30x600xf32>) {
    ^bb0(%x: f32, %y: f32, %acc: f32):
      %p = arith.mulf %x, %y fastmath<reassoc,contract> : f32
      %s = arith.addf %acc, %p fastmath<reassoc,contract> : f32
      linalg.yield %s : f32
    }
    func.return
  }
  func.func @widepar(%a: memref<300x256xf32>, %b: memref<256x600xf32>, %c: memref<300x600xf32>) {
    linalg.generic {indexing_maps = [affine_map<(d0, d1, d2) -> (d0, d2)>, affine_map<(d0, d1, d2) -> (d2, d1)>, affine_map<(d0, d1, d2) -> (d0, d1)>], iterator_types = ["parallel", "parallel", "reduction"]} ins(%a, %b : memref<300x256xf32>, memref<256x600xf32>) outs(%c : memref<300x600xf32>) {
    ^bb0(%x: f32, %y: f32, %acc: f32):
      %p = arith.mulf %x, %y fastmath<reassoc,contract> : f32
      %s = arith.addf %acc, %p fastmath<reassoc,contract> : f32
      linalg.yield %s : f32
    }
    func.return
  }
  func.func @empty(%a: memref<0x20xf32>, %b: memref<20x600xf32>, %c: memref<0x600xf32>) {
    linalg.generic {indexing_maps = [affine_map<(d0, d1, d2) -> (d0, d2)>, affine_map<(d0, d1, d2) -> (d2, d1)>, affine_map<(d0, d1, d2) -> (d0, d1)>], iterator_types = ["parallel", "parallel", "reduction"]} ins(%a, %b : memref<0x20xf32>, memref<20x600xf32>) outs(%c : memref<0x600xf32>) {
    ^bb0(%x: f32, %y: f32, %acc: f32):
      %p = arith.mulf %x, %y fastmath<reassoc,contract> : f32
      %s = arith.addf %acc, %p fastmath<reassoc,contract> : f32
      linalg.yield %s : f32
    }
    func.return
  }
}
