// loom-linalg-to-loops: linalg.generic / linalg.fill on memrefs -> scf.for nests of memref.load,
// the scalar body, memref.store. Its one decision is the loop ORDER: the innermost loop runs over
// the dimension that is the last (contiguous) index of the most operands, so that consecutive
// iterations touch consecutive addresses and LLVM can vectorize it. A matmul (m, n, k) therefore
// runs i-k-j: its inner loop is an axpy along a row of B and a row of C, not a dot product striding
// down a column of B. Indexing maps are evaluated per access (a pinned `0` becomes a constant index,
// a transposed map swaps the store's indices). When the innermost loop reduces, an accumulator it
// does not index is loaded once before it, carried in `iter_args` and stored once after (@rowsum);
// otherwise it is loaded and stored per iteration (@mm, @colsum, whose inner loop is parallel).
// Inputs are loom-bufferize's output (`--emit=bufferized`).
// RUN: loom opt %s -p loom-linalg-to-loops | filecheck %s

// Matmul C[i, j] += A[i, k] * B[k, j] after a fill of C with 0.
// CHECK-LABEL: func.func @mm(%a: memref<2x3xf32>, %b: memref<3x5xf32>, %0: memref<2x5xf32>) {
// The fill: a plain 2x5 nest of stores.
// CHECK-NEXT:    [[ZERO:%.*]] = arith.constant 0.000000e+00 : f32
// CHECK-NEXT:    [[LB:%.*]] = arith.constant 0 : index
// CHECK-NEXT:    [[ONE:%.*]] = arith.constant 1 : index
// CHECK-NEXT:    [[M:%.*]] = arith.constant 2 : index
// CHECK-NEXT:    scf.for [[FI:%.*]] = [[LB]] to [[M]] step [[ONE]] {
// CHECK-NEXT:      [[N:%.*]] = arith.constant 5 : index
// CHECK-NEXT:      scf.for [[FJ:%.*]] = [[LB]] to [[N]] step [[ONE]] {
// CHECK-NEXT:        memref.store [[ZERO]], %0{{\[}}[[FI]], [[FJ]]{{\]}} : memref<2x5xf32>
// CHECK-NEXT:      }
// CHECK-NEXT:    }
// The product: i (2 iterations) outside, then k (3), and j (5, the columns of B and C) innermost.
// CHECK:         scf.for [[I:%.*]] = {{%.*}} to {{%.*}} step {{%.*}} {
// CHECK-NEXT:      [[K3:%.*]] = arith.constant 3 : index
// CHECK-NEXT:      scf.for [[K:%.*]] = {{%.*}} to [[K3]] step {{%.*}} {
// CHECK-NEXT:        [[N5:%.*]] = arith.constant 5 : index
// CHECK-NEXT:        scf.for [[J:%.*]] = {{%.*}} to [[N5]] step {{%.*}} {
// CHECK-NEXT:          [[AV:%.*]] = memref.load %a{{\[}}[[I]], [[K]]{{\]}} : memref<2x3xf32>
// CHECK-NEXT:          [[BV:%.*]] = memref.load %b{{\[}}[[K]], [[J]]{{\]}} : memref<3x5xf32>
// CHECK-NEXT:          [[CV:%.*]] = memref.load %0{{\[}}[[I]], [[J]]{{\]}} : memref<2x5xf32>
// CHECK-NEXT:          [[P:%.*]] = arith.mulf [[AV]], [[BV]] fastmath<reassoc,contract> : f32
// CHECK-NEXT:          [[S:%.*]] = arith.addf [[CV]], [[P]] fastmath<reassoc,contract> : f32
// CHECK-NEXT:          memref.store [[S]], %0{{\[}}[[I]], [[J]]{{\]}} : memref<2x5xf32>
// CHECK-NEXT:        }
// CHECK-NEXT:      }
// CHECK-NEXT:    }
// CHECK-NEXT:    func.return
// CHECK-NOT:     linalg.
func.func @mm(%a: memref<2x3xf32>, %b: memref<3x5xf32>, %0: memref<2x5xf32>) {
  %1 = arith.constant 0.000000e+00 : f32
  linalg.fill ins(%1 : f32) outs(%0 : memref<2x5xf32>)
  linalg.generic {indexing_maps = [affine_map<(d0, d1, d2) -> (d0, d2)>, affine_map<(d0, d1, d2) -> (d2, d1)>, affine_map<(d0, d1, d2) -> (d0, d1)>], iterator_types = ["parallel", "parallel", "reduction"]} ins(%a, %b : memref<2x3xf32>, memref<3x5xf32>) outs(%0 : memref<2x5xf32>) {
  ^bb0(%2: f32, %3: f32, %4: f32):
    %5 = arith.mulf %2, %3 fastmath<reassoc,contract> : f32
    %6 = arith.addf %4, %5 fastmath<reassoc,contract> : f32
    linalg.yield %6 : f32
  }
  func.return
}

// Row sum out[i] += x[i, j]: x's last index is the reduction dim j, so j is innermost (the loop
// walks along a row; the accumulator out[i] is loop-invariant in it, so it rides in the loop's
// iter_args: one load before the row, one store after, nothing for LLVM to prove about aliasing).
// CHECK-LABEL: func.func @rowsum(%x: memref<4x6xf32>, %0: memref<4xf32>) {
// The fill of the accumulators with 0 comes first, a loop of its own:
// CHECK:         scf.for [[F:%.*]] = {{%.*}} to {{%.*}} step {{%.*}} {
// CHECK-NEXT:      memref.store {{%.*}}, %0{{\[}}[[F]]{{\]}} : memref<4xf32>
// CHECK-NEXT:    }
// CHECK:         scf.for [[I:%.*]] = {{%.*}} to {{%.*}} step {{%.*}} {
// CHECK-NEXT:      [[INIT:%.*]] = memref.load %0{{\[}}[[I]]{{\]}} : memref<4xf32>
// CHECK:           [[SIX:%.*]] = arith.constant 6 : index
// CHECK:           [[OUT:%.*]] = scf.for [[J:%.*]] = {{%.*}} to [[SIX]] step {{%.*}} iter_args([[ACC:%.*]] = [[INIT]]) -> (f32) {
// CHECK-NEXT:        [[XV:%.*]] = memref.load %x{{\[}}[[I]], [[J]]{{\]}} : memref<4x6xf32>
// CHECK-NEXT:        [[S:%.*]] = arith.addf [[ACC]], [[XV]] fastmath<reassoc,contract> : f32
// CHECK-NEXT:        scf.yield [[S]] : f32
// CHECK-NEXT:      }
// CHECK-NEXT:      memref.store [[OUT]], %0{{\[}}[[I]]{{\]}} : memref<4xf32>
// CHECK-NEXT:    }
func.func @rowsum(%x: memref<4x6xf32>, %0: memref<4xf32>) {
  %1 = arith.constant 0.000000e+00 : f32
  linalg.fill ins(%1 : f32) outs(%0 : memref<4xf32>)
  linalg.generic {indexing_maps = [affine_map<(d0, d1) -> (d0, d1)>, affine_map<(d0, d1) -> (d0)>], iterator_types = ["parallel", "reduction"]} ins(%x : memref<4x6xf32>) outs(%0 : memref<4xf32>) {
  ^bb0(%2: f32, %3: f32):
    %4 = arith.addf %3, %2 fastmath<reassoc,contract> : f32
    linalg.yield %4 : f32
  }
  func.return
}

// Column sum out[j] += x[i, j]: here the reduction dim i is the OUTER loop and the parallel j runs
// inside, along the row of x and along out -- the loop order is not the iteration-space order
// (which lists the reduction d0 first) but the memory layout's.
// CHECK-LABEL: func.func @colsum(%x: memref<4x6xf32>, %0: memref<6xf32>) {
// CHECK:         [[FOUR:%.*]] = arith.constant 4 : index
// CHECK-NEXT:    scf.for [[I:%.*]] = {{%.*}} to [[FOUR]] step {{%.*}} {
// CHECK-NEXT:      [[SIX:%.*]] = arith.constant 6 : index
// CHECK-NEXT:      scf.for [[J:%.*]] = {{%.*}} to [[SIX]] step {{%.*}} {
// CHECK-NEXT:        [[XV:%.*]] = memref.load %x{{\[}}[[I]], [[J]]{{\]}} : memref<4x6xf32>
// CHECK-NEXT:        [[ACC:%.*]] = memref.load %0{{\[}}[[J]]{{\]}} : memref<6xf32>
// CHECK-NEXT:        [[S:%.*]] = arith.addf [[ACC]], [[XV]] fastmath<reassoc,contract> : f32
// CHECK-NEXT:        memref.store [[S]], %0{{\[}}[[J]]{{\]}} : memref<6xf32>
func.func @colsum(%x: memref<4x6xf32>, %0: memref<6xf32>) {
  %1 = arith.constant 0.000000e+00 : f32
  linalg.fill ins(%1 : f32) outs(%0 : memref<6xf32>)
  linalg.generic {indexing_maps = [affine_map<(d0, d1) -> (d0, d1)>, affine_map<(d0, d1) -> (d1)>], iterator_types = ["reduction", "parallel"]} ins(%x : memref<4x6xf32>) outs(%0 : memref<6xf32>) {
  ^bb0(%2: f32, %3: f32):
    %4 = arith.addf %3, %2 fastmath<reassoc,contract> : f32
    linalg.yield %4 : f32
  }
  func.return
}

// Broadcast of c (4x1) along the columns: its map (d0, 0) reads c[i, 0].
// CHECK-LABEL: func.func @bc(%x: memref<4x3xf32>, %c: memref<4x1xf32>, %0: memref<4x3xf32>) {
// CHECK:         scf.for [[I:%.*]] = {{%.*}} to {{%.*}} step {{%.*}} {
// CHECK:           scf.for [[J:%.*]] = {{%.*}} to {{%.*}} step {{%.*}} {
// CHECK-NEXT:        [[XV:%.*]] = memref.load %x{{\[}}[[I]], [[J]]{{\]}} : memref<4x3xf32>
// CHECK-NEXT:        [[Z:%.*]] = arith.constant 0 : index
// CHECK-NEXT:        [[CV:%.*]] = memref.load %c{{\[}}[[I]], [[Z]]{{\]}} : memref<4x1xf32>
// CHECK-NEXT:        [[S:%.*]] = arith.addf [[XV]], [[CV]] fastmath<contract> : f32
// CHECK-NEXT:        memref.store [[S]], %0{{\[}}[[I]], [[J]]{{\]}} : memref<4x3xf32>
func.func @bc(%x: memref<4x3xf32>, %c: memref<4x1xf32>, %0: memref<4x3xf32>) {
  linalg.generic {indexing_maps = [affine_map<(d0, d1) -> (d0, d1)>, affine_map<(d0, d1) -> (d0, 0)>, affine_map<(d0, d1) -> (d0, d1)>], iterator_types = ["parallel", "parallel"]} ins(%x, %c : memref<4x3xf32>, memref<4x1xf32>) outs(%0 : memref<4x3xf32>) {
  ^bb0(%1: f32, %2: f32, %3: f32):
    %4 = arith.addf %1, %2 fastmath<contract> : f32
    linalg.yield %4 : f32
  }
  func.return
}

// transpose(x) * 2: out[d0, d1] = x[d1, d0]. One operand has d0 last, the other d1: the tie goes
// to the input, so the loops follow x's rows (outer over x's 2 rows, inner over its 3 columns) and
// the store writes out[inner, outer].
// CHECK-LABEL: func.func @tr(%x: memref<2x3xf32>, %0: memref<3x2xf32>) {
// CHECK:         [[TWO:%.*]] = arith.constant 2 : index
// CHECK-NEXT:    scf.for [[R:%.*]] = {{%.*}} to [[TWO]] step {{%.*}} {
// CHECK-NEXT:      [[THREE:%.*]] = arith.constant 3 : index
// CHECK-NEXT:      scf.for [[C:%.*]] = {{%.*}} to [[THREE]] step {{%.*}} {
// CHECK-NEXT:        [[XV:%.*]] = memref.load %x{{\[}}[[R]], [[C]]{{\]}} : memref<2x3xf32>
// CHECK-NEXT:        [[M:%.*]] = arith.mulf [[XV]], {{%.*}} fastmath<contract> : f32
// CHECK-NEXT:        memref.store [[M]], %0{{\[}}[[C]], [[R]]{{\]}} : memref<3x2xf32>
func.func @tr(%x: memref<2x3xf32>, %0: memref<3x2xf32>) {
  %1 = arith.constant 2.000000e+00 : f32
  linalg.generic {indexing_maps = [affine_map<(d0, d1) -> (d1, d0)>, affine_map<(d0, d1) -> (d0, d1)>], iterator_types = ["parallel", "parallel"]} ins(%x : memref<2x3xf32>) outs(%0 : memref<3x2xf32>) {
  ^bb0(%2: f32, %3: f32):
    %4 = arith.mulf %2, %1 fastmath<contract> : f32
    linalg.yield %4 : f32
  }
  func.return
}

// A large contraction is also blocked for the cache: loops over tiles of k and of j come first
// (a tile of B stays in cache while every row of A streams past it), then i, then k and j within
// their tiles -- still i-k-j inside, and j, contiguous in B and C, still innermost.
// CHECK-LABEL: func.func @big(%a: memref<2x256xf32>, %b: memref<256x512xf32>, %0: memref<2x512xf32>) {
// CHECK:         scf.for [[KT:%.*]] = {{%.*}} to {{%.*}} step [[TK:%.*]] {
// CHECK:           scf.for [[JT:%.*]] = {{%.*}} to {{%.*}} step [[TJ:%.*]] {
// CHECK:             scf.for [[I:%.*]] = {{%.*}} to {{%.*}} step {{%.*}} {
// CHECK:               [[KE:%.*]] = arith.addi [[KT]], {{%.*}} : index
// CHECK-NEXT:          scf.for [[K:%.*]] = [[KT]] to [[KE]] step {{%.*}} {
// CHECK:                 [[JE:%.*]] = arith.addi [[JT]], {{%.*}} : index
// CHECK-NEXT:            scf.for [[J:%.*]] = [[JT]] to [[JE]] step {{%.*}} {
// CHECK-NEXT:              memref.load %a{{\[}}[[I]], [[K]]{{\]}} : memref<2x256xf32>
// CHECK-NEXT:              memref.load %b{{\[}}[[K]], [[J]]{{\]}} : memref<256x512xf32>
// CHECK-NEXT:              memref.load %0{{\[}}[[I]], [[J]]{{\]}} : memref<2x512xf32>
func.func @big(%a: memref<2x256xf32>, %b: memref<256x512xf32>, %0: memref<2x512xf32>) {
  linalg.generic {indexing_maps = [affine_map<(d0, d1, d2) -> (d0, d2)>, affine_map<(d0, d1, d2) -> (d2, d1)>, affine_map<(d0, d1, d2) -> (d0, d1)>], iterator_types = ["parallel", "parallel", "reduction"]} ins(%a, %b : memref<2x256xf32>, memref<256x512xf32>) outs(%0 : memref<2x512xf32>) {
  ^bb0(%2: f32, %3: f32, %4: f32):
    %5 = arith.mulf %2, %3 fastmath<reassoc,contract> : f32
    %6 = arith.addf %4, %5 fastmath<reassoc,contract> : f32
    linalg.yield %6 : f32
  }
  func.return
}

// A reduction whose input reads the buffer it accumulates into (here row i of %b summed into %b[i, 0],
// through a view): the accumulator is not carried in a register, since the loop reads the buffer
// as it goes (iteration j = 1 reads the %b[i, 0] that iteration 0 wrote).
// CHECK-LABEL: func.func @selfsum(%b: memref<4x6xf32>) {
// CHECK:           [[SIX:%.*]] = arith.constant 6 : index
// CHECK-NEXT:      scf.for [[J:%.*]] = {{%.*}} to [[SIX]] step {{%.*}} {
// CHECK-NEXT:        [[XV:%.*]] = memref.load %b{{\[}}{{%.*}}, [[J]]{{\]}} : memref<4x6xf32>
// CHECK:             [[ACC:%.*]] = memref.load %v{{\[.*\]}} : memref<4x1xf32, strided<[6, 1]>>
// CHECK-NEXT:        [[S:%.*]] = arith.addf [[ACC]], [[XV]] fastmath<reassoc,contract> : f32
// CHECK:             memref.store [[S]], %v{{\[.*\]}} : memref<4x1xf32, strided<[6, 1]>>
// CHECK-NOT:     iter_args
func.func @selfsum(%b: memref<4x6xf32>) {
  %v = memref.subview %b[0, 0] [4, 1] [1, 1] : memref<4x6xf32> to memref<4x1xf32, strided<[6, 1]>>
  linalg.generic {indexing_maps = [affine_map<(d0, d1) -> (d0, d1)>, affine_map<(d0, d1) -> (d0, 0)>], iterator_types = ["parallel", "reduction"]} ins(%b : memref<4x6xf32>) outs(%v : memref<4x1xf32, strided<[6, 1]>>) {
  ^bb0(%x: f32, %acc: f32):
    %s = arith.addf %acc, %x fastmath<reassoc,contract> : f32
    linalg.yield %s : f32
  }
  func.return
}

// A dim of one iteration gets no loop (its index is the constant 0, as scf.for's canonicalization
// folds a single-iteration loop): one row (what loom-fuse-rows gives each op) is one loop.
// CHECK-LABEL: func.func @onerow(%x: memref<1x6xf32>, %0: memref<1xf32>) {
// CHECK-NEXT:    [[Z:%.*]] = arith.constant 0 : index
// CHECK-NEXT:    arith.constant 1 : index
// CHECK-NEXT:    [[INIT:%.*]] = memref.load %0{{\[}}[[Z]]{{\]}} : memref<1xf32>
// CHECK:         [[SIX:%.*]] = arith.constant 6 : index
// CHECK-NEXT:    arith.constant 1 : index
// CHECK-NEXT:    [[S:%.*]] = scf.for [[J:%.*]] = {{%.*}} to [[SIX]] step {{%.*}} iter_args({{%.*}} = [[INIT]]) -> (f32) {
// CHECK-NEXT:      memref.load %x{{\[}}[[Z]], [[J]]{{\]}} : memref<1x6xf32>
// CHECK:         memref.store [[S]], %0{{\[}}[[Z]]{{\]}} : memref<1xf32>
// CHECK-NEXT:    func.return
func.func @onerow(%x: memref<1x6xf32>, %0: memref<1xf32>) {
  linalg.generic {indexing_maps = [affine_map<(d0, d1) -> (d0, d1)>, affine_map<(d0, d1) -> (d0)>], iterator_types = ["parallel", "reduction"]} ins(%x : memref<1x6xf32>) outs(%0 : memref<1xf32>) {
  ^bb0(%2: f32, %3: f32):
    %4 = arith.addf %3, %2 fastmath<reassoc,contract> : f32
    linalg.yield %4 : f32
  }
  func.return
}

// The same through a cast (views are followed through casts, subviews and reshapes), and two
// outputs in one buffer: nothing is carried (a register copy of one would miss the other's stores).
// CHECK-LABEL: func.func @selfsum_cast(%b: memref<4x6xf32>) {
// CHECK-NOT:     iter_args
// CHECK:         func.return
func.func @selfsum_cast(%b: memref<4x6xf32>) {
  %c = "memref.cast"(%b) : (memref<4x6xf32>) -> memref<4x6xf32, strided<[6, 1]>>
  %v = memref.subview %c[0, 0] [4, 1] [1, 1] : memref<4x6xf32, strided<[6, 1]>> to memref<4x1xf32, strided<[6, 1]>>
  linalg.generic {indexing_maps = [affine_map<(d0, d1) -> (d0, d1)>, affine_map<(d0, d1) -> (d0, 0)>], iterator_types = ["parallel", "reduction"]} ins(%b : memref<4x6xf32>) outs(%v : memref<4x1xf32, strided<[6, 1]>>) {
  ^bb0(%x: f32, %acc: f32):
    %s = arith.addf %acc, %x : f32
    linalg.yield %s : f32
  }
  func.return
}

// CHECK-LABEL: func.func @two_outs(%x: memref<4x6xf32>, %o: memref<4x1xf32>) {
// CHECK-NOT:     iter_args
// CHECK:         func.return
func.func @two_outs(%x: memref<4x6xf32>, %o: memref<4x1xf32>) {
  linalg.generic {indexing_maps = [affine_map<(d0, d1) -> (d0, d1)>, affine_map<(d0, d1) -> (d0, 0)>, affine_map<(d0, d1) -> (d0, 0)>], iterator_types = ["parallel", "reduction"]} ins(%x : memref<4x6xf32>) outs(%o, %o : memref<4x1xf32>, memref<4x1xf32>) {
  ^bb0(%a: f32, %p: f32, %q: f32):
    %s = arith.addf %p, %a : f32
    %t = arith.addf %q, %a : f32
    linalg.yield %s, %t : f32, f32
  }
  func.return
}
