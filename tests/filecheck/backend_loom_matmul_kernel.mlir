// loom-matmul-kernel: a float contraction generic on memrefs -> BLIS's loops around packing and a
// register-blocked macro-kernel, the packing routines and the macro-kernel being functions shared
// by every matmul of the module that needs the same variant (matmul_functions.py). Checked here:
// the packed buffers' shapes (zero-padded panels of MR rows of A / NR columns of B); each call
// site passing its buffers flat (collapse_shape + cast to memref<?xT>) with its sizes, strides and
// batch offsets as arguments; ONE macro-kernel for @mm (C 13x20, B transposed) and @mmwhole (C
// 12x32), which differ in every shape; packing that reads a transposed operand (B is 20x7,
// `x @ transpose(w)`) and a broadcast batch dim (A's `0`, stride 0) through strides; the
// micro-kernel (MR*NR/VL vector accumulators in scf.for iter_args, per k step NR/VL vector loads
// of packed B, MR broadcasts of packed A, MR*NR/VL vector.fma), C's tile prefetched, added to C
// with vector loads/stores when the tile is whole (rows past C's edge guarded), and through the
// small buffer Ct at C's right edge. A whole panel of B with contiguous rows is packed with vector
// loads and stores. An elementwise op on C right after the contraction (bias + relu) is applied to
// the tile in the last depth block; its body is part of the variant. The shared functions are
// private, no_inline, with llvm.noalias on their buffers.
// The checks without the DIRECT prefix pack A always (direct_a=0); by default (DIRECT) A, when its
// rows are contiguous along k and at most 16 panels of B (here all: N <= 40) re-read it, is not
// packed: the micro-kernel broadcasts from A's rows where they are.
// The tile depends on the instruction set: AVX2 6x16 f32 (vector<8xf32>) and 6x8 f64
// (vector<4xf64>), AVX-512 12x32 f32 (vector<16xf32>), 12x16 f64; `isa=host` asks LLVM.
// RUN: loom opt %s -p 'loom-matmul-kernel{isa=avx2 min_size=0 direct_a=0 parallel=false},cse' | filecheck %s
// RUN: loom opt %s -p 'loom-matmul-kernel{isa=avx512 min_size=0 direct_a=0 parallel=false},cse' | filecheck %s --check-prefix=AVX512
// RUN: loom opt %s -p 'loom-matmul-kernel{isa=avx2 min_size=0 direct_a=0 parallel=true},cse' | filecheck %s --check-prefix=PAR
// RUN: loom opt %s -p 'loom-matmul-kernel{isa=avx2 min_size=0 parallel=false},cse' | filecheck %s --check-prefix=DIRECT
// RUN: loom opt %s -p 'loom-matmul-kernel{isa=none min_size=0}' | filecheck %s --check-prefix=NONE
// RUN: loom opt %s -p loom-matmul-kernel | filecheck %s --check-prefix=SMALL
// RUN: not loom opt %s -p 'loom-matmul-kernel{isa=avx3}' 2>&1 | filecheck %s --check-prefix=BADISA

// CHECK-LABEL: func.func @mm(
// Bp: 2 panels of 16 columns (20 padded to 32) x depth 7; Ap: 3 panels of 6 rows (13 -> 18).
// CHECK-NEXT:    [[BP:%[0-9a-z_]+]] = memref.alloc() {alignment = 64 : i64} : memref<2x7x16xf32>
// CHECK-NEXT:    [[AP:%[0-9a-z_]+]] = memref.alloc() {alignment = 64 : i64} : memref<3x7x6xf32>
// Ct: the macro-kernel's buffer for tiles past C's right edge (the caller's: a kernel cannot fail).
// CHECK-NEXT:    [[CT0:%[0-9a-z_]+]] = memref.alloc() {alignment = 64 : i64} : memref<6x16xf32>
// CHECK-NEXT:    [[C0:%[0-9a-z_]+]] = arith.constant 0 : index
// CHECK-NEXT:    [[C20:%[0-9a-z_]+]] = arith.constant 20 : index
// CHECK:         scf.for [[JC:%[0-9a-z_]+]] = [[C0]] to [[C20]] step {{%.*}} {
// CHECK:           [[C7:%[0-9a-z_]+]] = arith.constant 7 : index
// CHECK:           scf.for [[PC:%[0-9a-z_]+]] = [[C0]] to [[C7]] step {{%.*}} {
// B (20x7, read as w^T: n stride 7, k stride 1) packed into Bp, both flat.
// CHECK:             [[B1:%[0-9a-z_]+]] = memref.collapse_shape %b {{\[}}[0 : i64, 1 : i64]] : memref<20x7xf32> into memref<140xf32>
// CHECK-NEXT:        [[BF:%[0-9a-z_]+]] = "memref.cast"([[B1]]) : (memref<140xf32>) -> memref<?xf32>
// CHECK-NEXT:        [[BP1:%[0-9a-z_]+]] = memref.collapse_shape [[BP]] {{\[}}[0 : i64, 1 : i64, 2 : i64]] : memref<2x7x16xf32> into memref<224xf32>
// CHECK-NEXT:        [[BPF:%[0-9a-z_]+]] = "memref.cast"([[BP1]]) : (memref<224xf32>) -> memref<?xf32>
// CHECK-NEXT:        [[C1:%[0-9a-z_]+]] = arith.constant 1 : index
// CHECK-NEXT:        func.call @matmul_pack_b_f32_6x16([[BF]], [[BPF]], [[C0]], [[C7]], [[C1]], [[JC]], {{%.*}}, [[PC]], {{%.*}}, [[C20]])
// CHECK:             scf.for [[IC:%[0-9a-z_]+]] = [[C0]] to {{%.*}} step {{%.*}} {
// CHECK:               func.call @matmul_pack_a_f32_6x16(
// C flat: base 0, row stride 20, 13 rows.
// CHECK:               [[CF1:%[0-9a-z_]+]] = memref.collapse_shape %c {{\[}}[0 : i64, 1 : i64]] : memref<13x20xf32> into memref<260xf32>
// CHECK-NEXT:          [[CF:%[0-9a-z_]+]] = "memref.cast"([[CF1]]) : (memref<260xf32>) -> memref<?xf32>
// CHECK-NEXT:          func.call @matmul_macro_f32_6x16({{%.*}}, [[BPF]], [[CF]], [[CT0]], [[C0]], [[C20]], {{%.*}}, [[IC]], {{%.*}}, [[JC]], {{%.*}}, {{%.*}}, [[C0]]) : (memref<?xf32>, memref<?xf32>, memref<?xf32>, memref<6x16xf32>, index, index, index, index, index, index, index, index, index) -> ()
// CHECK:         memref.dealloc [[BP]] : memref<2x7x16xf32>
// CHECK-NEXT:    memref.dealloc [[AP]] : memref<3x7x6xf32>
// CHECK-NEXT:    memref.dealloc [[CT0]] : memref<6x16xf32>
// CHECK-NEXT:    func.return

// Batched, A broadcast over the batch (its batch dim has size 1): the batch loop stays in the
// caller, which passes B's and C's offsets of the batch (55 = 5*11, 99 = 9*11) and A's (0).
// CHECK-LABEL: func.func @bmm(
// CHECK-NEXT:    memref.alloc() {alignment = 64 : i64} : memref<2x5x8xf64>
// CHECK-NEXT:    memref.alloc() {alignment = 64 : i64} : memref<2x5x6xf64>
// CHECK-NEXT:    memref.alloc() {alignment = 64 : i64} : memref<6x8xf64>
// CHECK:         scf.for [[BATCH:%[0-9a-z_]+]] = {{%.*}} to {{%.*}} step {{%.*}} {
// CHECK:             [[C55:%[0-9a-z_]+]] = arith.constant 55 : index
// CHECK-NEXT:        [[BOFF:%[0-9a-z_]+]] = arith.muli [[BATCH]], [[C55]] : index
// CHECK-NEXT:        [[BBASE:%[0-9a-z_]+]] = arith.addi {{%.*}}, [[BOFF]] : index
// CHECK-NEXT:        func.call @matmul_pack_b_f64_6x8({{%.*}}, {{%.*}}, [[BBASE]],
// CHECK:               func.call @matmul_pack_a_f64_6x8(
// CHECK:               [[C99:%[0-9a-z_]+]] = arith.constant 99 : index
// CHECK-NEXT:          [[COFF:%[0-9a-z_]+]] = arith.muli [[BATCH]], [[C99]] : index
// CHECK-NEXT:          [[CBASE:%[0-9a-z_]+]] = arith.addi {{%.*}}, [[COFF]] : index
// CHECK-NEXT:          func.call @matmul_macro_f64_6x8({{%.*}}, {{%.*}}, {{%.*}}, [[CBASE]],

// batched A, B shared by the batch (`x @ transpose(w)`, w 2-D): B is packed once per block, and
// the batch loop runs inside the depth block, over A's rows and C.
// CHECK-LABEL: func.func @bmmshared(
// CHECK:         scf.for {{%.*}} = {{%.*}} to {{%.*}} step {{%.*}} {
// CHECK:         scf.for {{%.*}} = {{%.*}} to {{%.*}} step {{%.*}} {
// CHECK:         func.call @matmul_pack_b_f32_6x16(
// CHECK-NOT:     func.call @matmul_pack_b
// CHECK:         scf.for [[BATCH:%[0-9a-z_]+]] = {{%.*}} to {{%.*}} step {{%.*}} {
// CHECK-NOT:     func.call @matmul_pack_b
// CHECK:         [[AOFF:%[0-9a-z_]+]] = arith.muli [[BATCH]], {{%.*}} : index
// CHECK:         func.call @matmul_pack_a_f32_6x16(
// CHECK-NOT:     func.call @matmul_pack_b
// CHECK:         [[COFF:%[0-9a-z_]+]] = arith.muli [[BATCH]], {{%.*}} : index
// CHECK:         func.call @matmul_macro_f32_6x16(
// CHECK-NOT:     func.call @matmul_pack_b
// CHECK:         func.return

// M = 12 and N = 32, C's row stride 32 (not 20 as @mm's): the same macro-kernel as @mm. B's rows
// are contiguous: another packing routine (vector loads).
// CHECK-LABEL: func.func @mmwhole(
// CHECK:         func.call @matmul_pack_b_f32_6x16_1(
// CHECK:         func.call @matmul_pack_a_f32_6x16(
// CHECK:         func.call @matmul_macro_f32_6x16({{%.*}}, {{%.*}}, {{%.*}}, {{%.*}}, {{%.*}}, {{%.*}}, {{%.*}}, {{%.*}}, {{%.*}}, {{%.*}}, {{%.*}}, {{%.*}}) :

// A fill of C with 0 right before: the fill goes; the first depth block (pc == 0) stores the tile
// instead of adding it to C: another variant, told `pc == 0`.
// CHECK-LABEL: func.func @mmfill(
// CHECK-NOT:     linalg.fill
// CHECK:         scf.for {{%.*}} = {{%.*}} to {{%.*}} step {{%.*}} {
// CHECK:         scf.for [[PC:%[0-9a-z_]+]] = {{%.*}} to {{%.*}} step {{%.*}} {
// CHECK:           [[FIRST:%[0-9a-z_]+]] = arith.cmpi eq, [[PC]], {{%.*}} : index
// CHECK:           func.call @matmul_macro_f32_6x16_1({{.*}}, [[FIRST]]) : ({{.*}}, i1) -> ()

// Bias + relu in place on C after the contraction: the epilogue's constant moves before the
// kernel, the generic goes; the macro-kernel is told the last depth block (pc + kc == K) and gets
// the bias flat (base 0, row stride 0: a bias over columns) and the constant.
// CHECK-LABEL: func.func @mmbiasrelu(
// CHECK:         [[ZERO:%[0-9a-z_]+]] = arith.constant 0.000000e+00 : f32
// CHECK:         scf.for {{%.*}} = {{%.*}} to {{%.*}} step {{%.*}} {
// CHECK:         scf.for [[PC:%[0-9a-z_]+]] = {{%.*}} to {{%.*}} step {{%.*}} {
// CHECK:           [[END:%[0-9a-z_]+]] = arith.addi [[PC]], {{%.*}} : index
// CHECK-NEXT:      [[LAST:%[0-9a-z_]+]] = arith.cmpi eq, [[END]], {{%.*}} : index
// CHECK:             [[BIAS:%[0-9a-z_]+]] = "memref.cast"(%bias) : (memref<40xf32>) -> memref<?xf32>
// CHECK-NEXT:        func.call @matmul_macro_f32_6x16_2({{.*}}, [[LAST]], [[BIAS]], [[B0:%[0-9a-z_]+]], [[B0]], [[ZERO]]) : ({{.*}}, i1, i1, memref<?xf32>, index, index, f32) -> ()
// CHECK-NOT:     linalg.generic
// CHECK:         func.return

// A free between the contraction and the epilogue (bufferization frees the matmul's left operand
// after its last use, as in an MLP's second layer): the epilogue is still fused (a bias without
// relu: yet another variant), the free stays after the kernel.
// CHECK-LABEL: func.func @mmfreebias(
// CHECK:             func.call @matmul_macro_f32_6x16_3(
// CHECK-NOT:     linalg.generic
// CHECK:         memref.dealloc %a : memref<13x700xf32>
// CHECK-NEXT:    func.return

// An epilogue reading C through a view is not fused (it would read C before the last depth block).
// CHECK-LABEL: func.func @mmalias(
// CHECK:         func.call @matmul_macro_f32_6x16_1(
// CHECK:         linalg.generic
// CHECK:         func.return
// A bias the function did not allocate and was not passed (a call's result): it may be C's
// memory as far as the pass knows, so this variant's C and bias are not llvm.noalias.
// CHECK-LABEL: func.func @mmcallbias(
// CHECK:         func.call @matmul_macro_f32_6x16_4(

// A transposed (`transpose(a) @ b`, A is 7x13): a packing routine of its own (below).
// CHECK-LABEL: func.func @mmta(
// CHECK:         func.call @matmul_pack_a_f32_6x16_1(

// The shared functions, after the module's own.
// Packing A: element (i, k) of A at base + i*stride_mn + k*stride_k. A is row-major here, so
// stride_k is 1 and not read, and a whole panel of 6 rows is copied 8 depth steps (AVX2's VL) at
// a time: one vector load per row, the 6 x 8 block (and 2 zero rows) transposed in registers by
// 3 stages of two-source vector.shuffle (stage b exchanges bit b of the row and lane indices),
// each depth step's 6 lanes stored as one vector; the last kc mod 8 steps lane by lane. The last
// panel has its rows clamped (to full - 1) and padded with 0.
// CHECK-LABEL: func.func private @matmul_pack_a_f32_6x16(%src: memref<?xf32> {llvm.noalias}, %buf: memref<?xf32> {llvm.noalias}, %base: index, %stride_mn: index, %stride_k: index, %start: index, %size: index, %pc: index, %kc: index, %full: index) attributes {no_inline} {
// CHECK-NOT:     %stride_k
// CHECK:         scf.if {{%.*}} {
// CHECK:           [[BLOCKS:%[0-9a-z_]+]] = arith.divsi %kc, [[VL:%[0-9a-z_]+]] : index
// CHECK-NEXT:      [[BEND:%[0-9a-z_]+]] = arith.muli [[BLOCKS]], [[VL]] : index
// CHECK:           scf.for [[P0:%[0-9a-z_]+]] = {{%.*}} to [[BEND]] step [[VL]] {
// CHECK-COUNT-6:     vector.load %src[{{%.*}}] : memref<?xf32>, vector<8xf32>
// CHECK-NEXT:        vector.shuffle {{%.*}}, {{%.*}} [0, 8, 2, 10, 4, 12, 6, 14] : vector<8xf32>, vector<8xf32>
// CHECK-NEXT:        vector.shuffle {{%.*}}, {{%.*}} [1, 9, 3, 11, 5, 13, 7, 15] : vector<8xf32>, vector<8xf32>
// CHECK:             vector.shuffle {{%.*}}, {{%.*}} [0, 1, 8, 9, 4, 5, 12, 13] : vector<8xf32>, vector<8xf32>
// CHECK:             vector.shuffle {{%.*}}, {{%.*}} [0, 1, 2, 3, 8, 9, 10, 11] : vector<8xf32>, vector<8xf32>
// CHECK:             [[COL:%[0-9a-z_]+]] = vector.shuffle {{%.*}}, {{%.*}} [0, 1, 2, 3, 4, 5] : vector<8xf32>, vector<8xf32>
// CHECK:             vector.store [[COL]], %buf[{{%.*}}] : memref<?xf32>, vector<6xf32>
// CHECK-COUNT-7:     vector.store {{%.*}}, %buf[{{%.*}}] : memref<?xf32>, vector<6xf32>
// CHECK:           }
// CHECK-NEXT:      scf.for {{%.*}} = [[BEND]] to %kc step {{%.*}} {
// CHECK:             [[K:%[0-9a-z_]+]] = arith.addi %pc, {{%.*}} : index
// CHECK:             [[I:%[0-9a-z_]+]] = arith.muli {{%.*}}, %stride_mn : index
// CHECK-NEXT:        [[IB:%[0-9a-z_]+]] = arith.addi %base, [[I]] : index
// CHECK-NEXT:        [[AT:%[0-9a-z_]+]] = arith.addi [[IB]], [[K]] : index
// CHECK-NEXT:      [[AW:%[0-9a-z_]+]] = memref.load %src{{\[}}[[AT]]] : memref<?xf32>
// CHECK:           memref.store [[AW]], %buf[{{%.*}}] : memref<?xf32>
// CHECK:         } else {
// CHECK:           arith.subi %full,
// CHECK:           [[AV:%[0-9a-z_]+]] = memref.load %src[{{%.*}}] : memref<?xf32>
// CHECK-NEXT:      [[AS:%[0-9a-z_]+]] = arith.select {{%.*}}, [[AV]], {{%.*}} : f32
// CHECK:           memref.store [[AS]], %buf[{{%.*}}] : memref<?xf32>
// CHECK:         func.return

// One macro-kernel for @mm and @mmwhole: C's rows, row stride and offset are arguments.
// CHECK-LABEL: func.func private @matmul_macro_f32_6x16(%ap: memref<?xf32> {llvm.noalias}, %bp: memref<?xf32> {llvm.noalias}, %c: memref<?xf32> {llvm.noalias}, %ct: memref<6x16xf32> {llvm.noalias}, %c_base: index, %ldc: index, %m: index, %ic: index, %mc: index, %jc: index, %nc: index, %kc: index, %a_base: index) attributes {no_inline} {
// CHECK-NOT:     memref.alloc
// The micro-kernel: C's 6 rows prefetched (clamped to row m - 1), 12 accumulators from zero.
// CHECK:         [[Z:%[0-9a-z_]+]] = vector.broadcast {{%.*}} : f32 to vector<8xf32>
// CHECK-NEXT:    [[LASTROW:%[0-9a-z_]+]] = arith.subi %m, {{%.*}} : index
// CHECK-COUNT-6: "memref.prefetch"(%c, {{%.*}}) <{isWrite = true, localityHint = 3 : i32, isDataCache = true}>
// Panel iq of Ap at a_base + iq*kc*6, depth step p at +p*6 (Bp likewise with 16, from 0).
// CHECK:         [[A0:%[0-9a-z_]+]] = arith.muli {{%.*}}, %kc : index
// CHECK-NEXT:    [[A1:%[0-9a-z_]+]] = arith.muli [[A0]], {{%.*}} : index
// CHECK-NEXT:    [[APANEL:%[0-9a-z_]+]] = arith.addi %a_base, [[A1]] : index
// CHECK:         scf.for [[P:%[0-9a-z_]+]] = {{%.*}} to %kc step {{%.*}} iter_args([[ACC0:%[0-9a-z_]+]] = [[Z]], [[ACC1:%[0-9a-z_]+]] = [[Z]], {{.*}}) -> (vector<8xf32>, vector<8xf32>, vector<8xf32>, vector<8xf32>, vector<8xf32>, vector<8xf32>, vector<8xf32>, vector<8xf32>, vector<8xf32>, vector<8xf32>, vector<8xf32>, vector<8xf32>) {
// CHECK-NEXT:      {{%.*}} = arith.muli [[P]], {{%.*}} : index
// CHECK-NEXT:      [[BAT:%[0-9a-z_]+]] = arith.addi {{%.*}}, {{%.*}} : index
// CHECK-NEXT:      {{%.*}} = arith.muli [[P]], {{%.*}} : index
// CHECK-NEXT:      [[AAT:%[0-9a-z_]+]] = arith.addi [[APANEL]], {{%.*}} : index
// CHECK-NEXT:      [[B0:%[0-9a-z_]+]] = vector.load %bp{{\[}}[[BAT]]] : memref<?xf32>, vector<8xf32>
// CHECK-NEXT:      [[C8:%[0-9a-z_]+]] = arith.constant 8 : index
// CHECK-NEXT:      [[BAT8:%[0-9a-z_]+]] = arith.addi [[BAT]], [[C8]] : index
// CHECK-NEXT:      [[B1:%[0-9a-z_]+]] = vector.load %bp{{\[}}[[BAT8]]] : memref<?xf32>, vector<8xf32>
// CHECK-NEXT:      [[A0:%[0-9a-z_]+]] = memref.load %ap{{\[}}[[AAT]]] : memref<?xf32>
// CHECK-NEXT:      [[A0V:%[0-9a-z_]+]] = vector.broadcast [[A0]] : f32 to vector<8xf32>
// CHECK-NEXT:      {{%.*}} = vector.fma [[A0V]], [[B0]], [[ACC0]] : vector<8xf32>
// CHECK-NEXT:      {{%.*}} = vector.fma [[A0V]], [[B1]], [[ACC1]] : vector<8xf32>
// CHECK-COUNT-10:  vector.fma
// CHECK:           scf.yield {{.*}} : vector<8xf32>, vector<8xf32>, vector<8xf32>, vector<8xf32>, vector<8xf32>, vector<8xf32>, vector<8xf32>, vector<8xf32>, vector<8xf32>, vector<8xf32>, vector<8xf32>, vector<8xf32>
// CHECK-NEXT:    }
// A tile with all 16 columns: C += the accumulators, vector by vector, every row's loads before
// the stores (C's rows 4 KiB apart would alias in the store buffer); element (i, j) of C at
// c_base + i*ldc + j; rows 1..5 are guarded by `r < rows` (read, updated and stored only inside C).
// CHECK:         [[WHOLE:%[0-9a-z_]+]] = arith.cmpi eq, {{%.*}}, {{%.*}} : index
// CHECK-NEXT:    scf.if [[WHOLE]] {
// CHECK:           [[ROW0:%[0-9a-z_]+]] = arith.muli {{%.*}}, %ldc : index
// CHECK-NEXT:      [[R0:%[0-9a-z_]+]] = arith.addi %c_base, [[ROW0]] : index
// CHECK-NEXT:      [[I0:%[0-9a-z_]+]] = arith.addi [[R0]], {{%.*}} : index
// CHECK:           [[OLD:%[0-9a-z_]+]] = vector.load %c{{\[}}[[I0]]] : memref<?xf32>, vector<8xf32>
// CHECK-NEXT:      [[NEW:%[0-9a-z_]+]] = arith.addf [[OLD]], {{%.*}} fastmath<reassoc,contract> : vector<8xf32>
// CHECK:           [[ROW1:%[0-9a-z_]+]] = arith.cmpi slt, {{%.*}}, [[ROWS:%[0-9a-z_]+]] : index
// CHECK-NEXT:      {{%.*}}, {{%.*}} = scf.if [[ROW1]] -> (vector<8xf32>, vector<8xf32>) {
// CHECK-NEXT:        vector.load %c
// CHECK:           } else {
// CHECK-NEXT:        scf.yield [[Z]], [[Z]] : vector<8xf32>, vector<8xf32>
// CHECK-COUNT-4:   arith.cmpi slt, {{%.*}}, [[ROWS]] : index
// CHECK:           vector.store [[NEW]], %c{{\[}}[[I0]]] : memref<?xf32>, vector<8xf32>
// CHECK-NOT:       vector.load
// CHECK:           scf.if [[ROW1]] {
// CHECK-NEXT:        vector.store {{%.*}}, %c
// An edge tile (fewer than 16 columns): accumulators to Ct, then only the rows and columns inside C.
// CHECK-NOT:       vector.load
// CHECK:           vector.store {{%.*}}, %ct[{{%.*}}, {{%.*}}] : memref<6x16xf32>, vector<8xf32>
// CHECK:           memref.load %ct[{{%.*}}, {{%.*}}] : memref<6x16xf32>
// CHECK-NOT:     memref.dealloc
// CHECK:         func.return

// CHECK-LABEL: func.func private @matmul_macro_f64_6x8(
// CHECK-COUNT-12: vector.fma {{.*}} : vector<4xf64>

// B with contiguous rows: whole panels packed with vector loads and stores.
// CHECK-LABEL: func.func private @matmul_pack_b_f32_6x16_1(
// CHECK:           [[BV:%[0-9a-z_]+]] = vector.load %src[{{%.*}}] : memref<?xf32>, vector<8xf32>
// CHECK-NEXT:      {{%.*}} = arith.muli {{%.*}}, %kc : index
// CHECK:           vector.store [[BV]], %buf[{{%.*}}] : memref<?xf32>, vector<8xf32>

// Overwriting: the tile stored in the first depth block, added to C's in the others.
// CHECK-LABEL: func.func private @matmul_macro_f32_6x16_1({{.*}}, %first: i1) attributes {no_inline} {
// CHECK:           scf.if %first {
// CHECK:             vector.store {{%.*}}, %c[{{%.*}}] : memref<?xf32>, vector<8xf32>
// CHECK:           } else {
// CHECK:             vector.load %c[{{%.*}}] : memref<?xf32>, vector<8xf32>
// CHECK:         arith.select %first, {{%.*}}, {{%.*}} : f32

// The epilogue in the last block: the bias read along C's row at e0_base + i*e0_stride + j as a
// vector, the constant broadcast.
// CHECK-LABEL: func.func private @matmul_macro_f32_6x16_2({{.*}}, %first: i1, %last: i1, %e0: memref<?xf32> {llvm.noalias}, %e0_base: index, %e0_stride: index, %s0: f32) attributes {no_inline} {
// CHECK:             scf.if %last {
// CHECK:               [[RS:%[0-9a-z_]+]] = arith.muli {{%.*}}, %e0_stride : index
// CHECK-NEXT:          [[RB:%[0-9a-z_]+]] = arith.addi %e0_base, [[RS]] : index
// CHECK-NEXT:          [[AT:%[0-9a-z_]+]] = arith.addi [[RB]], {{%.*}} : index
// CHECK-NEXT:          [[BIAS:%[0-9a-z_]+]] = vector.load %e0{{\[}}[[AT]]] : memref<?xf32>, vector<8xf32>
// CHECK-NEXT:          [[S0:%[0-9a-z_]+]] = vector.broadcast %s0 : f32 to vector<8xf32>
// CHECK-NEXT:          [[S:%[0-9a-z_]+]] = arith.addf {{%.*}}, [[BIAS]] fastmath<contract> : vector<8xf32>
// CHECK-NEXT:          [[R:%[0-9a-z_]+]] = arith.maximumf [[S]], [[S0]] : vector<8xf32>
// CHECK:               vector.store [[R]], %c[{{%.*}}] : memref<?xf32>, vector<8xf32>
// CHECK:         arith.select %last, {{%.*}}, {{%.*}} : f32
// CHECK-LABEL: func.func private @matmul_macro_f32_6x16_3(
// CHECK-LABEL: func.func private @matmul_macro_f32_6x16_4(%ap: memref<?xf32> {llvm.noalias}, %bp: memref<?xf32> {llvm.noalias}, %c: memref<?xf32>, %ct: memref<6x16xf32> {llvm.noalias}, %c_base: index, {{.*}}, %e0: memref<?xf32>, %e0_base: index, %e0_stride: index) attributes {no_inline} {
// CHECK-NOT:     func.func private @matmul_macro_f32_6x16_5(
// Packing a transposed A: a panel's MR rows are contiguous in A, so a whole panel is copied with
// one vector of MR lanes per depth step, whatever MR is (6 on AVX2; 12 on AVX-512, a
// vector<12xf32> that LLVM splits into legal vectors), and stride_mn is not read.
// CHECK-LABEL: func.func private @matmul_pack_a_f32_6x16_1({{.*}}) attributes {no_inline} {
// CHECK-NOT:     %stride_mn
// CHECK:         [[TA:%[0-9a-z_]+]] = vector.load %src[{{%.*}}] : memref<?xf32>, vector<6xf32>
// CHECK:         vector.store [[TA]], %buf[{{%.*}}] : memref<?xf32>, vector<6xf32>
// CHECK:         } else {

// AVX512-LABEL: func.func @mm(
// AVX512-NEXT:    memref.alloc() {alignment = 64 : i64} : memref<1x7x32xf32>
// AVX512-NEXT:    memref.alloc() {alignment = 64 : i64} : memref<2x7x12xf32>
// AVX512:         func.call @matmul_macro_f32_12x32(
// AVX512-LABEL: func.func @bmm(
// AVX512-NEXT:    memref.alloc() {alignment = 64 : i64} : memref<1x5x16xf64>
// AVX512-NEXT:    memref.alloc() {alignment = 64 : i64} : memref<1x5x12xf64>
// AVX512:         func.call @matmul_macro_f64_12x16(
// AVX512-LABEL: func.func private @matmul_macro_f32_12x32(
// On AVX-512 the panels of A are the outer loop (A's 12-row micro-panel stays in L1) and B's stream
// past it, each depth step prefetching Bp's two cache lines 16 steps (16 x 32 floats) ahead.
// AVX512:         %[[NQ:.*]] = arith.ceildivsi %nc, %{{.*}} : index
// AVX512:         %[[MQ:.*]] = arith.ceildivsi %mc, %{{.*}} : index
// AVX512:         scf.for %{{.*}} = %{{.*}} to %[[MQ]] step
// AVX512:           scf.for %{{.*}} = %{{.*}} to %[[NQ]] step
// AVX512:         scf.for {{.*}} iter_args({{.*}}) -> (vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>) {
// AVX512:           %[[B0:.*]] = vector.load %bp[%[[AT:.*]]] : memref<?xf32>, vector<16xf32>
// AVX512:           vector.load %bp[{{.*}}] : memref<?xf32>, vector<16xf32>
// AVX512-NEXT:      %[[D0:.*]] = arith.constant 512 : index
// AVX512-NEXT:      %[[P0:.*]] = arith.addi %[[AT]], %[[D0]] : index
// AVX512-NEXT:      "memref.prefetch"(%bp, %[[P0]]) <{isWrite = false, localityHint = 3 : i32, isDataCache = true}>
// AVX512-NEXT:      %[[D1:.*]] = arith.constant 528 : index
// AVX512-NEXT:      %[[P1:.*]] = arith.addi %[[AT]], %[[D1]] : index
// AVX512-NEXT:      "memref.prefetch"(%bp, %[[P1]]) <{isWrite = false, localityHint = 3 : i32, isDataCache = true}>
// AVX512-COUNT-24: vector.fma {{.*}} : vector<16xf32>
// AVX512-LABEL: func.func private @matmul_macro_f64_12x16(
// AVX512-COUNT-24: vector.fma {{.*}} : vector<8xf64>
// AVX512-LABEL: func.func private @matmul_pack_a_f32_12x32_1(
// AVX512:         vector.load %src[{{%.*}}] : memref<?xf32>, vector<12xf32>

// With parallel=true (the default) the loop over blocks of A's rows is an scf.parallel (2 blocks
// of 12 and 1 rows: an even count); each iteration packs its own Ap and gives the macro-kernel
// its own Ct.
// PAR-LABEL: func.func @mm(
// PAR-NEXT:    [[BP:%[0-9a-z_]+]] = memref.alloc() {alignment = 64 : i64} : memref<2x7x16xf32>
// PAR:         "scf.parallel"({{%.*}}, {{%.*}}, {{%.*}}) <{operandSegmentSizes = array<i32: 1, 1, 1, 0>}> ({
// PAR:           [[AP:%[0-9a-z_]+]] = memref.alloc() {alignment = 64 : i64} : memref<2x7x6xf32>
// PAR-NEXT:      [[CT:%[0-9a-z_]+]] = memref.alloc() {alignment = 64 : i64} : memref<6x16xf32>
// PAR:           func.call @matmul_pack_a_f32_6x16(
// PAR:           func.call @matmul_macro_f32_6x16({{%.*}}, {{%.*}}, {{%.*}}, [[CT]],
// PAR-NEXT:      memref.dealloc [[AP]] : memref<2x7x6xf32>
// PAR-NEXT:      memref.dealloc [[CT]] : memref<6x16xf32>
// PAR-NEXT:      scf.reduce
// PAR:         memref.dealloc [[BP]] : memref<2x7x16xf32>
// In parallel, a B block of at least PARALLEL_MIN_WORK elements (here 256 x 256) is packed by all
// threads too: a packing routine of its own whose panels are an scf.parallel.
// PAR-LABEL: func.func @mmwide(
// PAR-NEXT:    [[BPW:%[0-9a-z_]+]] = memref.alloc() {alignment = 64 : i64} : memref<16x256x16xf32>
// PAR:         func.call @matmul_pack_b_f32_6x16_2(
// PAR:         "scf.parallel"({{%.*}}, {{%.*}}, {{%.*}}) <{operandSegmentSizes = array<i32: 1, 1, 1, 0>}> ({
// PAR:           memref.alloc() {alignment = 64 : i64} : memref<{{[0-9]+}}x256x6xf32>
// PAR:           func.call @matmul_macro_f32_6x16(
// PAR:         memref.dealloc [[BPW]] : memref<16x256x16xf32>
// PAR-LABEL: func.func private @matmul_pack_b_f32_6x16_2(
// PAR-NEXT:    arith.constant 16 : index
// PAR:         "scf.parallel"({{%.*}}, {{%.*}}, {{%.*}}) <{operandSegmentSizes = array<i32: 1, 1, 1, 0>}> ({
// PAR:           vector.load %src[{{%.*}}] : memref<?xf32>, vector<8xf32>
// PAR:           vector.store {{%.*}}, %buf[{{%.*}}] : memref<?xf32>, vector<8xf32>
// PAR:           scf.reduce

// Read directly (BLIS's "sup" kernels): no Ap and no packing of A; the macro-kernel gets A flat,
// its batch offset plus the depth block's first column (a_base) and its row stride (lda); each of
// the tile's MR rows is clamped to the last row of C (rows past the edge are read, then discarded)
// and read at a_base + row*lda + p.
// DIRECT-LABEL: func.func @mm(
// DIRECT-NEXT:    memref.alloc() {alignment = 64 : i64} : memref<2x7x16xf32>
// DIRECT-NEXT:    memref.alloc() {alignment = 64 : i64} : memref<6x16xf32>
// DIRECT-NOT:     func.call @matmul_pack_a
// DIRECT:         func.call @matmul_pack_b_f32_6x16(
// DIRECT:         [[AF:%[0-9a-z_]+]] = "memref.cast"({{%.*}}) : (memref<91xf32>) -> memref<?xf32>
// DIRECT:         [[ABASE:%[0-9a-z_]+]] = arith.addi {{%.*}}, {{%.*}} : index
// DIRECT-NEXT:    func.call @matmul_macro_f32_6x16([[AF]], {{.*}}, [[ABASE]], [[LDA:%[0-9a-z_]+]]) :
// DIRECT-LABEL: func.func private @matmul_macro_f32_6x16(%a: memref<?xf32> {llvm.noalias}, %bp: memref<?xf32> {llvm.noalias}, {{.*}}, %kc: index, %a_base: index, %lda: index) attributes {no_inline} {
// DIRECT:         [[LAST:%[0-9a-z_]+]] = arith.subi %m, {{%.*}} : index
// DIRECT:         [[ROW0:%[0-9a-z_]+]] = arith.minsi {{%.*}}, [[LAST]] : index
// DIRECT:         [[OFF0:%[0-9a-z_]+]] = arith.muli [[ROW0]], %lda : index
// DIRECT-NEXT:    [[A0:%[0-9a-z_]+]] = arith.addi %a_base, [[OFF0]] : index
// DIRECT:         scf.for [[P:%[0-9a-z_]+]] = {{%.*}} to %kc step {{%.*}} iter_args(
// DIRECT:           [[AT:%[0-9a-z_]+]] = arith.addi [[A0]], [[P]] : index
// DIRECT-NEXT:      [[X:%[0-9a-z_]+]] = memref.load %a{{\[}}[[AT]]] : memref<?xf32>
// DIRECT-NEXT:      vector.broadcast [[X]] : f32 to vector<8xf32>

// No FMA (isa=none), or smaller than min_size (default 32768 = M*N*K): left to the loops.
// NONE-LABEL: func.func @mm(
// NONE-NEXT:    linalg.generic
// NONE-LABEL: func.func @bmm(
// NONE-NEXT:    linalg.generic
// NONE-LABEL: func.func @mmfill(
// NONE-NEXT:    arith.constant
// NONE-NEXT:    linalg.fill
// NONE-NOT:     func.func private @matmul
// SMALL-LABEL: func.func @mm(
// SMALL-NEXT:    linalg.generic
// SMALL-LABEL: func.func @bmm(
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
  func.func @bmm(%a: memref<1x9x5xf64>, %b: memref<3x5x11xf64>, %c: memref<3x9x11xf64>) {
    linalg.generic {indexing_maps = [affine_map<(d0, d1, d2, d3) -> (0, d1, d3)>, affine_map<(d0, d1, d2, d3) -> (d0, d3, d2)>, affine_map<(d0, d1, d2, d3) -> (d0, d1, d2)>], iterator_types = ["parallel", "parallel", "parallel", "reduction"]} ins(%a, %b : memref<1x9x5xf64>, memref<3x5x11xf64>) outs(%c : memref<3x9x11xf64>) {
    ^bb0(%x: f64, %y: f64, %acc: f64):
      %p = arith.mulf %x, %y fastmath<reassoc,contract> : f64
      %s = arith.addf %acc, %p fastmath<reassoc,contract> : f64
      linalg.yield %s : f64
    }
    func.return
  }
  func.func @bmmshared(%a: memref<3x9x5xf32>, %b: memref<11x5xf32>, %c: memref<3x9x11xf32>) {
    linalg.generic {indexing_maps = [affine_map<(d0, d1, d2, d3) -> (d0, d1, d3)>, affine_map<(d0, d1, d2, d3) -> (d2, d3)>, affine_map<(d0, d1, d2, d3) -> (d0, d1, d2)>], iterator_types = ["parallel", "parallel", "parallel", "reduction"]} ins(%a, %b : memref<3x9x5xf32>, memref<11x5xf32>) outs(%c : memref<3x9x11xf32>) {
    ^bb0(%x: f32, %y: f32, %acc: f32):
      %p = arith.mulf %x, %y fastmath<reassoc,contract> : f32
      %s = arith.addf %acc, %p fastmath<reassoc,contract> : f32
      linalg.yield %s : f32
    }
    func.return
  }
  func.func @mmwhole(%a: memref<12x7xf32>, %b: memref<7x32xf32>, %c: memref<12x32xf32>) {
    linalg.generic {indexing_maps = [affine_map<(d0, d1, d2) -> (d0, d2)>, affine_map<(d0, d1, d2) -> (d2, d1)>, affine_map<(d0, d1, d2) -> (d0, d1)>], iterator_types = ["parallel", "parallel", "reduction"]} ins(%a, %b : memref<12x7xf32>, memref<7x32xf32>) outs(%c : memref<12x32xf32>) {
    ^bb0(%x: f32, %y: f32, %acc: f32):
      %p = arith.mulf %x, %y fastmath<reassoc,contract> : f32
      %s = arith.addf %acc, %p fastmath<reassoc,contract> : f32
      linalg.yield %s : f32
    }
    func.return
  }
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
  func.func @mmalias(%a: memref<13x700xf32>, %b: memref<700x40xf32>, %c: memref<13x40xf32>) {
    %cv = memref.expand_shape %c [[0], [1, 2]] output_shape [13, 40, 1] : memref<13x40xf32> into memref<13x40x1xf32>
    %zero = arith.constant 0.000000e+00 : f32
    linalg.fill ins(%zero : f32) outs(%c : memref<13x40xf32>)
    linalg.generic {indexing_maps = [affine_map<(d0, d1, d2) -> (d0, d2)>, affine_map<(d0, d1, d2) -> (d2, d1)>, affine_map<(d0, d1, d2) -> (d0, d1)>], iterator_types = ["parallel", "parallel", "reduction"]} ins(%a, %b : memref<13x700xf32>, memref<700x40xf32>) outs(%c : memref<13x40xf32>) {
    ^bb0(%x: f32, %y: f32, %acc: f32):
      %p = arith.mulf %x, %y fastmath<reassoc,contract> : f32
      %s = arith.addf %acc, %p fastmath<reassoc,contract> : f32
      linalg.yield %s : f32
    }
    linalg.generic {indexing_maps = [affine_map<(d0, d1) -> (d0, d1)>, affine_map<(d0, d1) -> (d0, d1, 0)>, affine_map<(d0, d1) -> (d0, d1)>], iterator_types = ["parallel", "parallel"]} ins(%c, %cv : memref<13x40xf32>, memref<13x40x1xf32>) outs(%c : memref<13x40xf32>) {
    ^bb0(%v: f32, %w: f32, %o: f32):
      %t = arith.addf %v, %w fastmath<contract> : f32
      linalg.yield %t : f32
    }
    func.return
  }
  func.func @mmcallbias(%a: memref<13x700xf32>, %b: memref<700x40xf32>, %c: memref<13x40xf32>) {
    %bias = func.call @make_bias() : () -> memref<40xf32>
    %zero = arith.constant 0.000000e+00 : f32
    linalg.fill ins(%zero : f32) outs(%c : memref<13x40xf32>)
    linalg.generic {indexing_maps = [affine_map<(d0, d1, d2) -> (d0, d2)>, affine_map<(d0, d1, d2) -> (d2, d1)>, affine_map<(d0, d1, d2) -> (d0, d1)>], iterator_types = ["parallel", "parallel", "reduction"]} ins(%a, %b : memref<13x700xf32>, memref<700x40xf32>) outs(%c : memref<13x40xf32>) {
    ^bb0(%x: f32, %y: f32, %acc: f32):
      %p = arith.mulf %x, %y fastmath<reassoc,contract> : f32
      %s = arith.addf %acc, %p fastmath<reassoc,contract> : f32
      linalg.yield %s : f32
    }
    linalg.generic {indexing_maps = [affine_map<(d0, d1) -> (d0, d1)>, affine_map<(d0, d1) -> (d1)>, affine_map<(d0, d1) -> (d0, d1)>], iterator_types = ["parallel", "parallel"]} ins(%c, %bias : memref<13x40xf32>, memref<40xf32>) outs(%c : memref<13x40xf32>) {
    ^bb0(%v: f32, %w: f32, %o: f32):
      %t = arith.addf %v, %w fastmath<contract> : f32
      linalg.yield %t : f32
    }
    func.return
  }
  func.func private @make_bias() -> memref<40xf32>
  func.func @mmwide(%a: memref<64x256xf32>, %b: memref<256x256xf32>, %c: memref<64x256xf32>) {
    linalg.generic {indexing_maps = [affine_map<(d0, d1, d2) -> (d0, d2)>, affine_map<(d0, d1, d2) -> (d2, d1)>, affine_map<(d0, d1, d2) -> (d0, d1)>], iterator_types = ["parallel", "parallel", "reduction"]} ins(%a, %b : memref<64x256xf32>, memref<256x256xf32>) outs(%c : memref<64x256xf32>) {
    ^bb0(%x: f32, %y: f32, %acc: f32):
      %p = arith.mulf %x, %y fastmath<reassoc,contract> : f32
      %s = arith.addf %acc, %p fastmath<reassoc,contract> : f32
      linalg.yield %s : f32
    }
    func.return
  }
  func.func @mmta(%a: memref<7x13xf32>, %b: memref<7x20xf32>, %c: memref<13x20xf32>) {
    linalg.generic {indexing_maps = [affine_map<(d0, d1, d2) -> (d2, d0)>, affine_map<(d0, d1, d2) -> (d2, d1)>, affine_map<(d0, d1, d2) -> (d0, d1)>], iterator_types = ["parallel", "parallel", "reduction"]} ins(%a, %b : memref<7x13xf32>, memref<7x20xf32>) outs(%c : memref<13x20xf32>) {
    ^bb0(%x: f32, %y: f32, %acc: f32):
      %p = arith.mulf %x, %y fastmath<reassoc,contract> : f32
      %s = arith.addf %acc, %p fastmath<reassoc,contract> : f32
      linalg.yield %s : f32
    }
    func.return
  }
}
