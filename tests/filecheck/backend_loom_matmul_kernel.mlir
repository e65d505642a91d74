// loom-matmul-kernel: a float contraction generic on memrefs -> BLIS's loops around a register-
// blocked micro-kernel on vector types. Checked here: the packed buffers' shapes (zero-padded
// panels of MR rows of A / NR columns of B), packing that reads a transposed operand (B is
// 20x7, `x @ transpose(w)`) and a broadcast batch dim (A's `0`) through the indexing maps, the
// micro-kernel (MR*NR/VL vector accumulators in scf.for iter_args, per k step NR/VL vector loads
// of packed B, MR broadcasts of packed A, MR*NR/VL vector.fma), C's tile prefetched, added to C
// with vector loads/stores when the tile is whole, and through the small buffer Ct at C's edges.
// A whole panel of B with contiguous rows is packed with vector loads and stores. An elementwise
// op on C right after the contraction (bias + relu) is applied to the tile in the last depth block.
// The tile depends on the instruction set: AVX2 6x16 f32 (vector<8xf32>) and 6x8 f64
// (vector<4xf64>), AVX-512 12x32 f32 (vector<16xf32>), 12x16 f64; `isa=host` asks LLVM.
// RUN: loom opt %s -p 'loom-matmul-kernel{isa=avx2 min_size=0 parallel=false},cse' | filecheck %s
// RUN: loom opt %s -p 'loom-matmul-kernel{isa=avx512 min_size=0 parallel=false},cse' | filecheck %s --check-prefix=AVX512
// RUN: loom opt %s -p 'loom-matmul-kernel{isa=avx2 min_size=0 parallel=true},cse' | filecheck %s --check-prefix=PAR
// RUN: loom opt %s -p 'loom-matmul-kernel{isa=none min_size=0}' | filecheck %s --check-prefix=NONE
// RUN: loom opt %s -p loom-matmul-kernel | filecheck %s --check-prefix=SMALL
// RUN: not loom opt %s -p 'loom-matmul-kernel{isa=avx3}' 2>&1 | filecheck %s --check-prefix=BADISA

// CHECK-LABEL: func.func @mm(
// Bp: 2 panels of 16 columns (20 padded to 32) x depth 7; Ap: 3 panels of 6 rows (13 -> 18); Ct.
// CHECK-NEXT:    [[BP:%[0-9a-z_]+]] = memref.alloc() {alignment = 64 : i64} : memref<2x7x16xf32>
// CHECK-NEXT:    [[AP:%[0-9a-z_]+]] = memref.alloc() {alignment = 64 : i64} : memref<3x7x6xf32>
// CHECK-NEXT:    [[CT:%[0-9a-z_]+]] = memref.alloc() {alignment = 64 : i64} : memref<6x16xf32>
// Packing B (k contiguous in the transposed B): a whole panel of 16 columns copied as it is; the
// last one (lanes outside, depth inside) with rows clamped and padded with 0. A likewise.
// CHECK:         scf.if {{%.*}} {
// CHECK:           [[BW:%[0-9a-z_]+]] = memref.load %b[{{%.*}}, {{%.*}}] : memref<20x7xf32>
// CHECK-NEXT:      memref.store [[BW]], [[BP]][{{%.*}}, {{%.*}}, {{%.*}}] : memref<2x7x16xf32>
// CHECK:         } else {
// CHECK:         [[BV:%[0-9a-z_]+]] = memref.load %b[{{%.*}}, {{%.*}}] : memref<20x7xf32>
// CHECK-NEXT:    [[BS:%[0-9a-z_]+]] = arith.select {{%.*}}, [[BV]], {{%.*}} : f32
// CHECK-NEXT:    memref.store [[BS]], [[BP]][{{%.*}}, {{%.*}}, {{%.*}}] : memref<2x7x16xf32>
// CHECK:         memref.load %a
// CHECK:         } else {
// CHECK:         [[AV:%[0-9a-z_]+]] = memref.load %a[{{%.*}}, {{%.*}}] : memref<13x7xf32>
// CHECK-NEXT:    [[AS:%[0-9a-z_]+]] = arith.select {{%.*}}, [[AV]], {{%.*}} : f32
// CHECK-NEXT:    memref.store [[AS]], [[AP]][{{%.*}}, {{%.*}}, {{%.*}}] : memref<3x7x6xf32>
// The micro-kernel: C's 6 rows prefetched, 12 accumulators from zero.
// CHECK:         [[Z:%[0-9a-z_]+]] = vector.broadcast {{%.*}} : f32 to vector<8xf32>
// CHECK-COUNT-6: "memref.prefetch"(%c, {{%.*}}, {{%.*}}) <{isWrite = true, localityHint = 3 : i32, isDataCache = true}>
// CHECK:         scf.for [[P:%[0-9a-z_]+]] = {{%.*}} to {{%.*}} step {{%.*}} iter_args([[ACC0:%[0-9a-z_]+]] = [[Z]], [[ACC1:%[0-9a-z_]+]] = [[Z]], {{.*}}) -> (vector<8xf32>, vector<8xf32>, vector<8xf32>, vector<8xf32>, vector<8xf32>, vector<8xf32>, vector<8xf32>, vector<8xf32>, vector<8xf32>, vector<8xf32>, vector<8xf32>, vector<8xf32>) {
// CHECK-NEXT:      [[B0:%[0-9a-z_]+]] = vector.load [[BP]][{{%.*}}, [[P]], {{%.*}}] : memref<2x7x16xf32>, vector<8xf32>
// CHECK-NEXT:      [[C8:%[0-9a-z_]+]] = arith.constant 8 : index
// CHECK-NEXT:      [[B1:%[0-9a-z_]+]] = vector.load [[BP]][{{%.*}}, [[P]], [[C8]]] : memref<2x7x16xf32>, vector<8xf32>
// CHECK-NEXT:      [[A0:%[0-9a-z_]+]] = memref.load [[AP]][{{%.*}}, [[P]], {{%.*}}] : memref<3x7x6xf32>
// CHECK-NEXT:      [[A0V:%[0-9a-z_]+]] = vector.broadcast [[A0]] : f32 to vector<8xf32>
// CHECK-NEXT:      {{%.*}} = vector.fma [[A0V]], [[B0]], [[ACC0]] : vector<8xf32>
// CHECK-NEXT:      {{%.*}} = vector.fma [[A0V]], [[B1]], [[ACC1]] : vector<8xf32>
// CHECK-COUNT-10:  vector.fma
// CHECK:           scf.yield {{.*}} : vector<8xf32>, vector<8xf32>, vector<8xf32>, vector<8xf32>, vector<8xf32>, vector<8xf32>, vector<8xf32>, vector<8xf32>, vector<8xf32>, vector<8xf32>, vector<8xf32>, vector<8xf32>
// CHECK-NEXT:    }
// A tile with all 16 columns: C += the accumulators, vector by vector, every row's loads before
// the stores (C's rows 4 KiB apart would alias in the store buffer); 13 rows are not a multiple
// of 6, so rows 1..5 are guarded by `r < rows` (read, updated and stored only inside C).
// CHECK:         [[WHOLE:%[0-9a-z_]+]] = arith.cmpi eq, {{%.*}}, {{%.*}} : index
// CHECK-NEXT:    scf.if [[WHOLE]] {
// CHECK:           [[OLD:%[0-9a-z_]+]] = vector.load %c[[[R0:%[0-9a-z_]+]], [[J0:%[0-9a-z_]+]]] : memref<13x20xf32>, vector<8xf32>
// CHECK-NEXT:      [[NEW:%[0-9a-z_]+]] = arith.addf [[OLD]], {{%.*}} fastmath<reassoc,contract> : vector<8xf32>
// CHECK:           [[ROW1:%[0-9a-z_]+]] = arith.cmpi slt, {{%.*}}, [[ROWS:%[0-9a-z_]+]] : index
// CHECK-NEXT:      {{%.*}}, {{%.*}} = scf.if [[ROW1]] -> (vector<8xf32>, vector<8xf32>) {
// CHECK-NEXT:        vector.load %c
// CHECK:           } else {
// CHECK-NEXT:        scf.yield [[Z]], [[Z]] : vector<8xf32>, vector<8xf32>
// CHECK-COUNT-4:   arith.cmpi slt, {{%.*}}, [[ROWS]] : index
// CHECK:           vector.store [[NEW]], %c[[[R0]], [[J0]]] : memref<13x20xf32>, vector<8xf32>
// CHECK-NOT:       vector.load
// CHECK:           scf.if [[ROW1]] {
// CHECK-NEXT:        vector.store {{%.*}}, %c
// An edge tile (fewer than 16 columns: N = 20 is not a multiple of 16): accumulators to Ct, then
// only the rows and columns inside C.
// CHECK-NOT:       vector.load
// CHECK:           vector.store {{%.*}}, [[CT]][{{%.*}}, {{%.*}}] : memref<6x16xf32>, vector<8xf32>
// CHECK:           memref.load [[CT]][{{%.*}}, {{%.*}}] : memref<6x16xf32>
// CHECK:         memref.dealloc [[BP]] : memref<2x7x16xf32>
// CHECK-NEXT:    memref.dealloc [[AP]] : memref<3x7x6xf32>
// CHECK-NEXT:    memref.dealloc [[CT]] : memref<6x16xf32>
// CHECK-NEXT:    func.return

// AVX512-LABEL: func.func @mm(
// AVX512-NEXT:    memref.alloc() {alignment = 64 : i64} : memref<1x7x32xf32>
// AVX512-NEXT:    memref.alloc() {alignment = 64 : i64} : memref<2x7x12xf32>
// AVX512-NEXT:    memref.alloc() {alignment = 64 : i64} : memref<12x32xf32>
// AVX512:         scf.for {{.*}} iter_args({{.*}}) -> (vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>) {
// AVX512-COUNT-24: vector.fma {{.*}} : vector<16xf32>
// AVX512-LABEL: func.func @bmm(
// AVX512-NEXT:    memref.alloc() {alignment = 64 : i64} : memref<1x5x16xf64>
// AVX512-NEXT:    memref.alloc() {alignment = 64 : i64} : memref<1x5x12xf64>
// AVX512-NEXT:    memref.alloc() {alignment = 64 : i64} : memref<12x16xf64>
// AVX512-COUNT-24: vector.fma {{.*}} : vector<8xf64>

// With parallel=true (the default) the loop over blocks of A's rows is an scf.parallel (2 blocks of 12 and 1 rows: an even count); each
// iteration packs its own Ap and has its own Ct.
// PAR-LABEL: func.func @mm(
// PAR-NEXT:    [[BP:%[0-9a-z_]+]] = memref.alloc() {alignment = 64 : i64} : memref<2x7x16xf32>
// PAR:         "scf.parallel"({{%.*}}, {{%.*}}, {{%.*}}) <{operandSegmentSizes = array<i32: 1, 1, 1, 0>}> ({
// PAR:           memref.alloc() {alignment = 64 : i64} : memref<2x7x6xf32>
// PAR-NEXT:      memref.alloc() {alignment = 64 : i64} : memref<6x16xf32>
// PAR:           memref.dealloc {{%.*}} : memref<2x7x6xf32>
// PAR-NEXT:      memref.dealloc {{%.*}} : memref<6x16xf32>
// PAR-NEXT:      scf.reduce
// PAR:         memref.dealloc [[BP]] : memref<2x7x16xf32>

// No FMA (isa=none), or smaller than min_size (default 32768 = M*N*K): left to the loops.
// NONE-LABEL: func.func @mm(
// NONE-NEXT:    linalg.generic
// SMALL-LABEL: func.func @mm(
// SMALL-NEXT:    linalg.generic

// BADISA: bad options for pass 'loom-matmul-kernel': isa must be one of host, avx512, avx2, none, not 'avx3'
builtin.module {
  func.func @mm(%a: memref<13x7xf32>, %b: memref<20x7xf32>, %c: memref<13x20xf32>) {
    linalg.generic {indexing_maps = [affine_map<(d0, d1, d2) -> (d0, d2)>, affine_map<(d0, d1, d2) -> (d1, d2)>, affine_map<(d0, d1, d2) -> (d0, d1)>], iterator_types = ["parallel", "parallel", "reduction"]} ins(%a, %b : memref<13x7xf32>, memref<20x7xf32>) outs(%c : memref<13x20xf32>) {
    ^bb0(%x: f32, %y: f32, %acc: f32):
      %p = arith.mulf %x, %y fastmath<reassoc,contract> : f32
      %s = arith.addf %acc, %p fastmath<reassoc,contract> : f32
      linalg.yield %s : f32
    }
    func.return
  }
  // batched, A broadcast over the batch (its batch dim has size 1), f64
  // CHECK-LABEL: func.func @bmm(
  // CHECK-NEXT:    memref.alloc() {alignment = 64 : i64} : memref<2x5x8xf64>
  // CHECK-NEXT:    memref.alloc() {alignment = 64 : i64} : memref<2x5x6xf64>
  // CHECK-NEXT:    memref.alloc() {alignment = 64 : i64} : memref<6x8xf64>
  // The batch loop outside, B read at the batch index, A at 0.
  // CHECK:         scf.for [[BATCH:%[0-9a-z_]+]] = {{%.*}} to {{%.*}} step {{%.*}} {
  // CHECK:         memref.load %b{{\[}}[[BATCH]], {{%.*}}, {{%.*}}] : memref<3x5x11xf64>
  // CHECK:         memref.load %a{{\[}}{{%.*}}, {{%.*}}, {{%.*}}] : memref<1x9x5xf64>
  // CHECK-COUNT-12: vector.fma {{.*}} : vector<4xf64>
  // CHECK:         vector.load %c{{\[}}[[BATCH]], {{%.*}}, {{%.*}}] : memref<3x9x11xf64>, vector<4xf64>
  // NONE-LABEL: func.func @bmm(
  // NONE-NEXT:    linalg.generic
  // SMALL-LABEL: func.func @bmm(
  // SMALL-NEXT:    linalg.generic
  func.func @bmm(%a: memref<1x9x5xf64>, %b: memref<3x5x11xf64>, %c: memref<3x9x11xf64>) {
    linalg.generic {indexing_maps = [affine_map<(d0, d1, d2, d3) -> (0, d1, d3)>, affine_map<(d0, d1, d2, d3) -> (d0, d3, d2)>, affine_map<(d0, d1, d2, d3) -> (d0, d1, d2)>], iterator_types = ["parallel", "parallel", "parallel", "reduction"]} ins(%a, %b : memref<1x9x5xf64>, memref<3x5x11xf64>) outs(%c : memref<3x9x11xf64>) {
    ^bb0(%x: f64, %y: f64, %acc: f64):
      %p = arith.mulf %x, %y fastmath<reassoc,contract> : f64
      %s = arith.addf %acc, %p fastmath<reassoc,contract> : f64
      linalg.yield %s : f64
    }
    func.return
  }
  // batched A, B shared by the batch (`x @ transpose(w)`, w 2-D): B is packed once per block, and
  // the batch loop runs inside the depth block, over A's rows and C.
  // CHECK-LABEL: func.func @bmmshared(
  // CHECK:         scf.for {{%.*}} = {{%.*}} to {{%.*}} step {{%.*}} {
  // CHECK:         scf.for {{%.*}} = {{%.*}} to {{%.*}} step {{%.*}} {
  // CHECK:         memref.load %b{{\[}}{{%.*}}, {{%.*}}] : memref<11x5xf32>
  // CHECK:         memref.load %b{{\[}}{{%.*}}, {{%.*}}] : memref<11x5xf32>
  // CHECK-NOT:     memref.load %b
  // CHECK:         scf.for [[BATCH:%[0-9a-z_]+]] = {{%.*}} to {{%.*}} step {{%.*}} {
  // CHECK-NOT:     memref.load %b
  // CHECK:         memref.load %a{{\[}}[[BATCH]], {{%.*}}, {{%.*}}] : memref<3x9x5xf32>
  // CHECK-NOT:     memref.load %b
  // CHECK:         vector.load %c{{\[}}[[BATCH]], {{%.*}}, {{%.*}}] : memref<3x9x11xf32>, vector<8xf32>
  // CHECK-NOT:     memref.load %b
  // CHECK:         func.return
  func.func @bmmshared(%a: memref<3x9x5xf32>, %b: memref<11x5xf32>, %c: memref<3x9x11xf32>) {
    linalg.generic {indexing_maps = [affine_map<(d0, d1, d2, d3) -> (d0, d1, d3)>, affine_map<(d0, d1, d2, d3) -> (d2, d3)>, affine_map<(d0, d1, d2, d3) -> (d0, d1, d2)>], iterator_types = ["parallel", "parallel", "parallel", "reduction"]} ins(%a, %b : memref<3x9x5xf32>, memref<11x5xf32>) outs(%c : memref<3x9x11xf32>) {
    ^bb0(%x: f32, %y: f32, %acc: f32):
      %p = arith.mulf %x, %y fastmath<reassoc,contract> : f32
      %s = arith.addf %acc, %p fastmath<reassoc,contract> : f32
      linalg.yield %s : f32
    }
    func.return
  }
  // M = 12 and N = 32, multiples of the 6x16 tile: every tile is whole, written without a guard,
  // and there is no Ct.
  // CHECK-LABEL: func.func @mmwhole(
  // CHECK-NEXT:    memref.alloc() {alignment = 64 : i64} : memref<2x7x16xf32>
  // CHECK-NEXT:    memref.alloc() {alignment = 64 : i64} : memref<2x7x6xf32>
  // CHECK-NEXT:    arith.constant
  // CHECK-NOT:     memref.alloc
  // CHECK:         scf.yield {{.*}} : vector<8xf32>, vector<8xf32>, vector<8xf32>, vector<8xf32>, vector<8xf32>, vector<8xf32>, vector<8xf32>, vector<8xf32>, vector<8xf32>, vector<8xf32>, vector<8xf32>, vector<8xf32>
  // CHECK-NEXT:  }
  // CHECK-COUNT-12: vector.load %c
  // CHECK-COUNT-12: vector.store {{%.*}}, %c
  // CHECK-NEXT:  }
  // CHECK-NOT:     scf.if
  // CHECK:         func.return
  func.func @mmwhole(%a: memref<12x7xf32>, %b: memref<7x32xf32>, %c: memref<12x32xf32>) {
    linalg.generic {indexing_maps = [affine_map<(d0, d1, d2) -> (d0, d2)>, affine_map<(d0, d1, d2) -> (d2, d1)>, affine_map<(d0, d1, d2) -> (d0, d1)>], iterator_types = ["parallel", "parallel", "reduction"]} ins(%a, %b : memref<12x7xf32>, memref<7x32xf32>) outs(%c : memref<12x32xf32>) {
    ^bb0(%x: f32, %y: f32, %acc: f32):
      %p = arith.mulf %x, %y fastmath<reassoc,contract> : f32
      %s = arith.addf %acc, %p fastmath<reassoc,contract> : f32
      linalg.yield %s : f32
    }
    func.return
  }
  // A fill of C with 0 right before: the fill goes, the first depth block (pc == 0) stores the
  // tile instead of adding it to C (so C is not read while it holds only zeros).
  // CHECK-LABEL: func.func @mmfill(
  // CHECK-NOT:     linalg.fill
  // CHECK:         scf.for {{%.*}} = {{%.*}} to {{%.*}} step {{%.*}} {
  // CHECK:         scf.for [[PC:%[0-9a-z_]+]] = {{%.*}} to {{%.*}} step {{%.*}} {
  // CHECK:           [[FIRST:%[0-9a-z_]+]] = arith.cmpi eq, [[PC]], {{%.*}} : index
  // CHECK:           scf.if [[FIRST]] {
  // CHECK:             vector.store {{%.*}}, %c[{{%.*}}, {{%.*}}] : memref<13x20xf32>, vector<8xf32>
  // CHECK:           } else {
  // CHECK:             vector.load %c[{{%.*}}, {{%.*}}] : memref<13x20xf32>, vector<8xf32>
  // CHECK:           arith.select [[FIRST]], {{%.*}}, {{%.*}} : f32
  // NONE-LABEL: func.func @mmfill(
  // NONE-NEXT:    arith.constant
  // NONE-NEXT:    linalg.fill
  func.func @mmfill(%a: memref<13x700xf32>, %b: memref<700x20xf32>, %c: memref<13x20xf32>) {
    %zero = arith.constant 0.000000e+00 : f32
    linalg.fill ins(%zero : f32) outs(%c : memref<13x20xf32>)
    linalg.generic {indexing_maps = [affine_map<(d0, d1, d2) -> (d0, d2)>, affine_map<(d0, d1, d2) -> (d2, d1)>, affine_map<(d0, d1, d2) -> (d0, d1)>], iterator_types = ["parallel", "parallel", "reduction"]} ins(%a, %b : memref<13x700xf32>, memref<700x20xf32>) outs(%c : memref<13x20xf32>) {
    ^bb0(%x: f32, %y: f32, %acc: f32):
      %p = arith.mulf %x, %y fastmath<reassoc,contract> : f32
      %s = arith.addf %acc, %p fastmath<reassoc,contract> : f32
      linalg.yield %s : f32
    }
    func.return
  }
  // Bias + relu in place on C after the contraction: the epilogue's constant moves before the
  // kernel, the generic goes, and the last depth block (pc + kc == K) applies the body to the
  // tile's vectors: the bias read along C's row as a vector, the constant broadcast (cse shares it with the
  // accumulators' zero). B's whole
  // panels are packed with vector loads and stores (its rows are contiguous).
  // CHECK-LABEL: func.func @mmbiasrelu(
  // CHECK:         [[ZERO:%[0-9a-z_]+]] = arith.constant 0.000000e+00 : f32
  // CHECK:         scf.for {{%.*}} = {{%.*}} to {{%.*}} step {{%.*}} {
  // CHECK:         scf.for [[PC:%[0-9a-z_]+]] = {{%.*}} to {{%.*}} step {{%.*}} {
  // CHECK:           [[END:%[0-9a-z_]+]] = arith.addi [[PC]], {{%.*}} : index
  // CHECK-NEXT:      [[LAST:%[0-9a-z_]+]] = arith.cmpi eq, [[END]], {{%.*}} : index
  // CHECK:           [[BV:%[0-9a-z_]+]] = vector.load %b[{{%.*}}, {{%.*}}] : memref<700x40xf32>, vector<8xf32>
  // CHECK-NEXT:      vector.store [[BV]], {{%.*}}[{{%.*}}, {{%.*}}, {{%.*}}] : memref<3x256x16xf32>, vector<8xf32>
  // CHECK:           scf.if [[LAST]] {
  // CHECK:             [[BIAS:%[0-9a-z_]+]] = vector.load %bias[{{%.*}}] : memref<40xf32>, vector<8xf32>
  // CHECK-NEXT:        [[S:%[0-9a-z_]+]] = arith.addf {{%.*}}, [[BIAS]] fastmath<contract> : vector<8xf32>
  // CHECK-NEXT:        [[R:%[0-9a-z_]+]] = arith.maximumf [[S]], {{%.*}} : vector<8xf32>
  // CHECK:             vector.store [[R]], %c[{{%.*}}, {{%.*}}] : memref<13x40xf32>, vector<8xf32>
  // CHECK:           arith.select [[LAST]], {{%.*}}, {{%.*}} : f32
  // CHECK-NOT:     linalg.generic
  // CHECK:         func.return
  func.func @mmbiasrelu(%a: memref<13x700xf32>, %b: memref<700x40xf32>, %bias: memref<40xf32>, %c: memref<13x40xf32>) {
    %zero = arith.constant 0.000000e+00 : f32
    linalg.fill ins(%zero : f32) outs(%c : memref<13x40xf32>)
    linalg.generic {indexing_maps = [affine_map<(d0, d1, d2) -> (d0, d2)>, affine_map<(d0, d1, d2) -> (d2, d1)>, affine_map<(d0, d1, d2) -> (d0, d1)>], iterator_types = ["parallel", "parallel", "reduction"]} ins(%a, %b : memref<13x700xf32>, memref<700x40xf32>) outs(%c : memref<13x40xf32>) {
    ^bb0(%x: f32, %y: f32, %acc: f32):
      %p = arith.mulf %x, %y fastmath<reassoc,contract> : f32
      %s = arith.addf %acc, %p fastmath<reassoc,contract> : f32
      linalg.yield %s : f32
    }
    %zero2 = arith.constant 0.000000e+00 : f32
    linalg.generic {indexing_maps = [affine_map<(d0, d1) -> (d0, d1)>, affine_map<(d0, d1) -> (d1)>, affine_map<(d0, d1) -> (d0, d1)>], iterator_types = ["parallel", "parallel"]} ins(%c, %bias : memref<13x40xf32>, memref<40xf32>) outs(%c : memref<13x40xf32>) {
    ^bb0(%v: f32, %bv: f32, %o: f32):
      %t = arith.addf %v, %bv fastmath<contract> : f32
      %r = arith.maximumf %t, %zero2 : f32
      linalg.yield %r : f32
    }
    func.return
  }
  // A free between the contraction and the epilogue (bufferization frees the matmul's left operand
  // after its last use, as in an MLP's second layer): the epilogue is still fused, the free stays
  // after the kernel.
  // CHECK-LABEL: func.func @mmfreebias(
  // CHECK:           scf.if {{%.*}} {
  // CHECK:             [[BIAS:%[0-9a-z_]+]] = vector.load %bias[{{%.*}}] : memref<40xf32>, vector<8xf32>
  // CHECK-NEXT:        [[S:%[0-9a-z_]+]] = arith.addf {{%.*}}, [[BIAS]] fastmath<contract> : vector<8xf32>
  // CHECK:             vector.store [[S]], %c[{{%.*}}, {{%.*}}] : memref<13x40xf32>, vector<8xf32>
  // CHECK-NOT:     linalg.generic
  // CHECK:         memref.dealloc %a : memref<13x700xf32>
  // CHECK-NEXT:    func.return
  func.func @mmfreebias(%b: memref<700x40xf32>, %bias: memref<40xf32>, %c: memref<13x40xf32>) {
    %one = arith.constant 1.000000e+00 : f32
    %a = memref.alloc() {alignment = 64 : i64} : memref<13x700xf32>
    linalg.fill ins(%one : f32) outs(%a : memref<13x700xf32>)
    linalg.generic {indexing_maps = [affine_map<(d0, d1, d2) -> (d0, d2)>, affine_map<(d0, d1, d2) -> (d2, d1)>, affine_map<(d0, d1, d2) -> (d0, d1)>], iterator_types = ["parallel", "parallel", "reduction"]} ins(%a, %b : memref<13x700xf32>, memref<700x40xf32>) outs(%c : memref<13x40xf32>) {
    ^bb0(%x: f32, %y: f32, %acc: f32):
      %p = arith.mulf %x, %y fastmath<reassoc,contract> : f32
      %s = arith.addf %acc, %p fastmath<reassoc,contract> : f32
      linalg.yield %s : f32
    }
    memref.dealloc %a : memref<13x700xf32>
    linalg.generic {indexing_maps = [affine_map<(d0, d1) -> (d0, d1)>, affine_map<(d0, d1) -> (d1)>, affine_map<(d0, d1) -> (d0, d1)>], iterator_types = ["parallel", "parallel"]} ins(%c, %bias : memref<13x40xf32>, memref<40xf32>) outs(%c : memref<13x40xf32>) {
    ^bb0(%v: f32, %bv: f32, %o: f32):
      %t = arith.addf %v, %bv fastmath<contract> : f32
      linalg.yield %t : f32
    }
    func.return
  }
  // In parallel, a B block of at least PARALLEL_MIN_WORK elements (here 256 x 256) is packed by all
  // threads too: its panels are an scf.parallel before the one over the blocks of A's rows.
  // PAR-LABEL: func.func @mmwide(
  // PAR-NEXT:    [[BPW:%[0-9a-z_]+]] = memref.alloc() {alignment = 64 : i64} : memref<16x256x16xf32>
  // PAR:         "scf.parallel"({{%.*}}, {{%.*}}, {{%.*}}) <{operandSegmentSizes = array<i32: 1, 1, 1, 0>}> ({
  // PAR:           vector.load %b[{{%.*}}, {{%.*}}] : memref<256x256xf32>, vector<8xf32>
  // PAR:           vector.store {{%.*}}, [[BPW]][{{%.*}}, {{%.*}}, {{%.*}}] : memref<16x256x16xf32>, vector<8xf32>
  // PAR:           scf.reduce
  // PAR:         "scf.parallel"({{%.*}}, {{%.*}}, {{%.*}}) <{operandSegmentSizes = array<i32: 1, 1, 1, 0>}> ({
  // PAR:           memref.alloc() {alignment = 64 : i64} : memref<{{[0-9]+}}x256x6xf32>
  // PAR:         memref.dealloc [[BPW]] : memref<16x256x16xf32>
  func.func @mmwide(%a: memref<64x256xf32>, %b: memref<256x256xf32>, %c: memref<64x256xf32>) {
    linalg.generic {indexing_maps = [affine_map<(d0, d1, d2) -> (d0, d2)>, affine_map<(d0, d1, d2) -> (d2, d1)>, affine_map<(d0, d1, d2) -> (d0, d1)>], iterator_types = ["parallel", "parallel", "reduction"]} ins(%a, %b : memref<64x256xf32>, memref<256x256xf32>) outs(%c : memref<64x256xf32>) {
    ^bb0(%x: f32, %y: f32, %acc: f32):
      %p = arith.mulf %x, %y fastmath<reassoc,contract> : f32
      %s = arith.addf %acc, %p fastmath<reassoc,contract> : f32
      linalg.yield %s : f32
    }
    func.return
  }
}
