// convert-vector-to-llvm: the vector ops of the matmul micro-kernel on LLVM vector types. Loads and
// stores address the first element like scalar memref accesses (getelementptr inbounds on the
// linearized index) and are aligned to one element; a broadcast is insertelement + an all-zero
// shufflevector; vector.fma is llvm.intr.fma. memref.prefetch becomes llvm.prefetch (rw, locality,
// data cache) of a getelementptr without inbounds (a prefetch may point past its buffer). Vector
// float arithmetic lowers like scalar (convert-arith-to-llvm). A 1-D vector.shuffle is
// llvm.shufflevector with the same mask (the packing's transposes), also to a shorter vector.
// RUN: loom opt %s -p convert-to-llvm | filecheck %s

// CHECK-LABEL: llvm.func @kernel(%b: !llvm.ptr {llvm.noalias}, %c: !llvm.ptr {llvm.noalias}, %x: f32, %acc: vector<8xf32>, %i: i64, %j: i64
// CHECK:         [[S:%[0-9a-z_]+]] = llvm.mlir.constant(16) : i64
// CHECK-NEXT:    [[R:%[0-9a-z_]+]] = llvm.mul %i, [[S]] : i64
// CHECK-NEXT:    [[L:%[0-9a-z_]+]] = llvm.add [[R]], %j : i64
// CHECK-NEXT:    [[P:%[0-9a-z_]+]] = llvm.getelementptr inbounds %b{{\[}}[[L]]] : (!llvm.ptr, i64) -> !llvm.ptr, f32
// CHECK-NEXT:    [[V:%[0-9a-z_]+]] = llvm.load [[P]] {alignment = 4 : i64} : !llvm.ptr -> vector<8xf32>
// CHECK-NEXT:    [[U:%[0-9a-z_]+]] = llvm.mlir.undef : vector<8xf32>
// CHECK-NEXT:    [[Z:%[0-9a-z_]+]] = llvm.mlir.constant(0 : i32) : i32
// CHECK-NEXT:    [[I:%[0-9a-z_]+]] = llvm.insertelement %x, [[U]]{{\[}}[[Z]] : i32] : vector<8xf32>
// CHECK-NEXT:    [[SPLAT:%[0-9a-z_]+]] = llvm.shufflevector [[I]], [[I]] [0, 0, 0, 0, 0, 0, 0, 0] : vector<8xf32>
// CHECK-NEXT:    [[F:%[0-9a-z_]+]] = llvm.intr.fma([[SPLAT]], [[V]], %acc) : (vector<8xf32>, vector<8xf32>, vector<8xf32>) -> vector<8xf32>
// CHECK-NEXT:    [[SUM:%[0-9a-z_]+]] = llvm.fadd [[F]], [[V]] {fastmathFlags = #llvm.fastmath<reassoc,contract>} : vector<8xf32>
// CHECK:         [[Q:%[0-9a-z_]+]] = llvm.getelementptr inbounds %c{{\[}}{{%.*}}] : (!llvm.ptr, i64) -> !llvm.ptr, f32
// CHECK-NEXT:    llvm.store [[SUM]], [[Q]] {alignment = 4 : i64} : vector<8xf32>, !llvm.ptr
// CHECK:         [[PF:%[0-9a-z_]+]] = llvm.getelementptr %c{{\[}}{{%.*}}] : (!llvm.ptr, i64) -> !llvm.ptr, f32
// CHECK-NEXT:    [[RW:%[0-9a-z_]+]] = llvm.mlir.constant(1 : i32) : i32
// CHECK-NEXT:    [[LOC:%[0-9a-z_]+]] = llvm.mlir.constant(3 : i32) : i32
// CHECK-NEXT:    [[DATA:%[0-9a-z_]+]] = llvm.mlir.constant(1 : i32) : i32
// CHECK-NEXT:    llvm.call_intrinsic "llvm.prefetch.p0"([[PF]], [[RW]], [[LOC]], [[DATA]]) : (!llvm.ptr, i32, i32, i32) -> ()
// CHECK-LABEL: llvm.func @shuffles(
// CHECK-NEXT:    [[U:%[0-9a-z_]+]] = llvm.shufflevector %a, {{%[0-9a-z_]+}} [0, 4, 2, 6] : vector<4xf32>
// CHECK-NEXT:    [[V:%[0-9a-z_]+]] = llvm.shufflevector [[U]], [[U]] [0, 1, 2] : vector<4xf32>
// CHECK:         llvm.store [[V]], {{%.*}} {alignment = 4 : i64} : vector<3xf32>, !llvm.ptr
builtin.module {
  func.func @kernel(%b: memref<4x16xf32>, %c: memref<4x16xf32>, %x: f32, %acc: vector<8xf32>, %i: index, %j: index) {
    %v = vector.load %b[%i, %j] : memref<4x16xf32>, vector<8xf32>
    %s = vector.broadcast %x : f32 to vector<8xf32>
    %r = vector.fma %s, %v, %acc : vector<8xf32>
    %t = arith.addf %r, %v fastmath<reassoc,contract> : vector<8xf32>
    vector.store %t, %c[%i, %j] : memref<4x16xf32>, vector<8xf32>
    "memref.prefetch"(%c, %i, %j) <{isWrite = true, localityHint = 3 : i32, isDataCache = true}> : (memref<4x16xf32>, index, index) -> ()
    func.return
  }
  func.func @shuffles(%a: vector<4xf32>, %b: vector<4xf32>, %out: memref<3xf32>) {
    %u = vector.shuffle %a, %b [0, 4, 2, 6] : vector<4xf32>, vector<4xf32>
    %v = vector.shuffle %u, %u [0, 1, 2] : vector<4xf32>, vector<4xf32>
    %z = arith.constant 0 : index
    vector.store %v, %out[%z] : memref<3xf32>, vector<3xf32>
    func.return
  }
}
