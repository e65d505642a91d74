// linalg-fuse-elementwise: producer -> consumer fusion of linalg.generic ops on tensors. A fused
// consumer reads the producer's inputs directly (through the composed indexing maps) and computes
// the producer's body inline, so the intermediate tensor -- and, later, its buffer and its loop --
// disappears. The rule: the producer must be elementwise (all parallel, identity output map, no
// linalg.index); a pure copy (broadcast, transpose, static slice) is always fused, since it costs
// nothing to redo; otherwise all of its uses must be in the consumer and the consumer must read each
// element exactly once (a permutation map over all loop dims). The inputs are what
// `convert-loom-to-linalg,canonicalize,cse` makes of small Loom functions (named after them).
// Last, a transpose of a matmul's result that keeps the innermost dim is folded into the matmul.
// RUN: loom opt %s -p linalg-fuse-elementwise | filecheck %s

// tanh(x*a + b)*c + x: five elementwise generics become ONE, reading x once (the two reads of x,
// from the first and the last op, are merged into one operand) with the scalars captured.
// CHECK-LABEL: func.func @chain(%x: tensor<8xf32>, %a: f32, %b: f32, %c: f32) -> tensor<8xf32>
// CHECK-NEXT:    [[E:%.*]] = tensor.empty() : tensor<8xf32>
// CHECK-NEXT:    [[R:%.*]] = linalg.generic {indexing_maps = [affine_map<(d0) -> (d0)>, affine_map<(d0) -> (d0)>], iterator_types = ["parallel"]}
// CHECK-SAME:      ins(%x : tensor<8xf32>) outs([[E]] : tensor<8xf32>)
// CHECK-NEXT:    ^bb0([[X:%.*]]: f32, {{%.*}}: f32):
// CHECK-NEXT:      [[M:%.*]] = arith.mulf [[X]], %a fastmath<contract> : f32
// CHECK-NEXT:      [[AB:%.*]] = arith.addf [[M]], %b fastmath<contract> : f32
// CHECK-NEXT:      [[T:%.*]] = math.tanh [[AB]] : f32
// CHECK-NEXT:      [[TC:%.*]] = arith.mulf [[T]], %c fastmath<contract> : f32
// CHECK-NEXT:      [[O:%.*]] = arith.addf [[TC]], [[X]] fastmath<contract> : f32
// CHECK-NEXT:      linalg.yield [[O]] : f32
// CHECK-NEXT:    } -> tensor<8xf32>
// CHECK-NEXT:    func.return [[R]] : tensor<8xf32>
// CHECK-NEXT:  }
func.func @chain(%x: tensor<8xf32>, %a: f32, %b: f32, %c: f32) -> tensor<8xf32> {
  %0 = tensor.empty() : tensor<8xf32>
  %1 = linalg.generic {indexing_maps = [affine_map<(d0) -> (d0)>, affine_map<(d0) -> (d0)>], iterator_types = ["parallel"]} ins(%x : tensor<8xf32>) outs(%0 : tensor<8xf32>) {
  ^bb0(%2: f32, %3: f32):
    %4 = arith.mulf %2, %a fastmath<contract> : f32
    linalg.yield %4 : f32
  } -> tensor<8xf32>
  %5 = linalg.generic {indexing_maps = [affine_map<(d0) -> (d0)>, affine_map<(d0) -> (d0)>], iterator_types = ["parallel"]} ins(%1 : tensor<8xf32>) outs(%0 : tensor<8xf32>) {
  ^bb0(%6: f32, %7: f32):
    %8 = arith.addf %6, %b fastmath<contract> : f32
    linalg.yield %8 : f32
  } -> tensor<8xf32>
  %9 = linalg.generic {indexing_maps = [affine_map<(d0) -> (d0)>, affine_map<(d0) -> (d0)>], iterator_types = ["parallel"]} ins(%5 : tensor<8xf32>) outs(%0 : tensor<8xf32>) {
  ^bb0(%10: f32, %11: f32):
    %12 = math.tanh %10 : f32
    linalg.yield %12 : f32
  } -> tensor<8xf32>
  %13 = linalg.generic {indexing_maps = [affine_map<(d0) -> (d0)>, affine_map<(d0) -> (d0)>], iterator_types = ["parallel"]} ins(%9 : tensor<8xf32>) outs(%0 : tensor<8xf32>) {
  ^bb0(%14: f32, %15: f32):
    %16 = arith.mulf %14, %c fastmath<contract> : f32
    linalg.yield %16 : f32
  } -> tensor<8xf32>
  %17 = linalg.generic {indexing_maps = [affine_map<(d0) -> (d0)>, affine_map<(d0) -> (d0)>, affine_map<(d0) -> (d0)>], iterator_types = ["parallel"]} ins(%13, %x : tensor<8xf32>, tensor<8xf32>) outs(%0 : tensor<8xf32>) {
  ^bb0(%18: f32, %19: f32, %20: f32):
    %21 = arith.addf %18, %19 fastmath<contract> : f32
    linalg.yield %21 : f32
  } -> tensor<8xf32>
  func.return %17 : tensor<8xf32>
}

// sum(x*x): the square is computed inside the reduction's body; no 8-element temporary is left.
// CHECK-LABEL: func.func @sumsq(%x: tensor<8xf32>) -> f32
// CHECK-NOT:     tensor<8xf32>
// CHECK:         [[INIT:%.*]] = linalg.fill ins({{%.*}} : f32) outs({{%.*}} : tensor<f32>) -> tensor<f32>
// CHECK-NEXT:    [[R:%.*]] = linalg.generic {indexing_maps = [affine_map<(d0) -> (d0)>, affine_map<(d0) -> ()>], iterator_types = ["reduction"]}
// CHECK-SAME:      ins(%x : tensor<8xf32>) outs([[INIT]] : tensor<f32>)
// CHECK-NEXT:    ^bb0([[X:%.*]]: f32, [[ACC:%.*]]: f32):
// CHECK-NEXT:      [[SQ:%.*]] = arith.mulf [[X]], [[X]] fastmath<contract> : f32
// CHECK-NEXT:      [[S:%.*]] = arith.addf [[ACC]], [[SQ]] fastmath<reassoc,contract> : f32
// CHECK-NEXT:      linalg.yield [[S]] : f32
// CHECK-NEXT:    } -> tensor<f32>
// CHECK-NEXT:    [[V:%.*]] = tensor.extract [[R]][] : tensor<f32>
// CHECK-NEXT:    func.return [[V]] : f32
func.func @sumsq(%x: tensor<8xf32>) -> f32 {
  %0 = tensor.empty() : tensor<8xf32>
  %1 = linalg.generic {indexing_maps = [affine_map<(d0) -> (d0)>, affine_map<(d0) -> (d0)>, affine_map<(d0) -> (d0)>], iterator_types = ["parallel"]} ins(%x, %x : tensor<8xf32>, tensor<8xf32>) outs(%0 : tensor<8xf32>) {
  ^bb0(%2: f32, %3: f32, %4: f32):
    %5 = arith.mulf %2, %3 fastmath<contract> : f32
    linalg.yield %5 : f32
  } -> tensor<8xf32>
  %6 = arith.constant 0.000000e+00 : f32
  %7 = tensor.empty() : tensor<f32>
  %8 = linalg.fill ins(%6 : f32) outs(%7 : tensor<f32>) -> tensor<f32>
  %9 = linalg.generic {indexing_maps = [affine_map<(d0) -> (d0)>, affine_map<(d0) -> ()>], iterator_types = ["reduction"]} ins(%1 : tensor<8xf32>) outs(%8 : tensor<f32>) {
  ^bb0(%10: f32, %11: f32):
    %12 = arith.addf %11, %10 fastmath<reassoc,contract> : f32
    linalg.yield %12 : f32
  } -> tensor<f32>
  %13 = tensor.extract %9[] : tensor<f32>
  func.return %13 : f32
}

// (x + bias) @ w: the matmul reads each element of x + bias once per output column (its map
// (d0, d2) does not mention d1), so fusing would redo the add 5 times per element. Not fused: the
// bias add stays a generic of its own and the matmul still reads its result.
// CHECK-LABEL: func.func @biasmm(%x: tensor<4x3xf32>, %bias: tensor<3xf32>, %w: tensor<3x5xf32>) -> tensor<4x5xf32>
// CHECK:         [[XB:%.*]] = linalg.generic {indexing_maps = [affine_map<(d0, d1) -> (d0, d1)>, affine_map<(d0, d1) -> (d1)>, affine_map<(d0, d1) -> (d0, d1)>], iterator_types = ["parallel", "parallel"]}
// CHECK-SAME:      ins(%x, %bias : tensor<4x3xf32>, tensor<3xf32>)
// CHECK:           arith.addf
// CHECK:         [[MM:%.*]] = linalg.generic {indexing_maps = [affine_map<(d0, d1, d2) -> (d0, d2)>, affine_map<(d0, d1, d2) -> (d2, d1)>, affine_map<(d0, d1, d2) -> (d0, d1)>], iterator_types = ["parallel", "parallel", "reduction"]}
// CHECK-SAME:      ins([[XB]], %w : tensor<4x3xf32>, tensor<3x5xf32>)
// CHECK-NEXT:    ^bb0({{.*}}):
// CHECK-NEXT:      arith.mulf
// CHECK-NEXT:      arith.addf
// CHECK-NEXT:      linalg.yield
// CHECK:         func.return [[MM]] : tensor<4x5xf32>
func.func @biasmm(%x: tensor<4x3xf32>, %bias: tensor<3xf32>, %w: tensor<3x5xf32>) -> tensor<4x5xf32> {
  %0 = tensor.empty() : tensor<4x3xf32>
  %1 = linalg.generic {indexing_maps = [affine_map<(d0, d1) -> (d0, d1)>, affine_map<(d0, d1) -> (d1)>, affine_map<(d0, d1) -> (d0, d1)>], iterator_types = ["parallel", "parallel"]} ins(%x, %bias : tensor<4x3xf32>, tensor<3xf32>) outs(%0 : tensor<4x3xf32>) {
  ^bb0(%2: f32, %3: f32, %4: f32):
    %5 = arith.addf %2, %3 fastmath<contract> : f32
    linalg.yield %5 : f32
  } -> tensor<4x3xf32>
  %6 = arith.constant 0.000000e+00 : f32
  %7 = tensor.empty() : tensor<4x5xf32>
  %8 = linalg.fill ins(%6 : f32) outs(%7 : tensor<4x5xf32>) -> tensor<4x5xf32>
  %9 = linalg.generic {indexing_maps = [affine_map<(d0, d1, d2) -> (d0, d2)>, affine_map<(d0, d1, d2) -> (d2, d1)>, affine_map<(d0, d1, d2) -> (d0, d1)>], iterator_types = ["parallel", "parallel", "reduction"]} ins(%1, %w : tensor<4x3xf32>, tensor<3x5xf32>) outs(%8 : tensor<4x5xf32>) {
  ^bb0(%10: f32, %11: f32, %12: f32):
    %13 = arith.mulf %10, %11 fastmath<reassoc,contract> : f32
    %14 = arith.addf %12, %13 fastmath<reassoc,contract> : f32
    linalg.yield %14 : f32
  } -> tensor<4x5xf32>
  func.return %9 : tensor<4x5xf32>
}

// x + broadcast_to(r, (4, 3)): the broadcast is a pure copy, fused whatever its consumer: the add
// reads r through the composed map (d0, d1) -> (d1), and the 4x3 broadcast tensor is never built.
// CHECK-LABEL: func.func @bcast(%x: tensor<4x3xf32>, %r: tensor<3xf32>) -> tensor<4x3xf32>
// CHECK-NEXT:    [[E:%.*]] = tensor.empty() : tensor<4x3xf32>
// CHECK-NEXT:    [[R:%.*]] = linalg.generic {indexing_maps = [affine_map<(d0, d1) -> (d0, d1)>, affine_map<(d0, d1) -> (d1)>, affine_map<(d0, d1) -> (d0, d1)>], iterator_types = ["parallel", "parallel"]}
// CHECK-SAME:      ins(%x, %r : tensor<4x3xf32>, tensor<3xf32>) outs([[E]] : tensor<4x3xf32>)
// CHECK-NEXT:    ^bb0([[XV:%.*]]: f32, [[RV:%.*]]: f32, {{%.*}}: f32):
// CHECK-NEXT:      [[S:%.*]] = arith.addf [[XV]], [[RV]] fastmath<contract> : f32
// CHECK-NEXT:      linalg.yield [[S]] : f32
// CHECK-NEXT:    } -> tensor<4x3xf32>
// CHECK-NEXT:    func.return [[R]] : tensor<4x3xf32>
func.func @bcast(%x: tensor<4x3xf32>, %r: tensor<3xf32>) -> tensor<4x3xf32> {
  %0 = tensor.empty() : tensor<4x3xf32>
  %1 = linalg.generic {indexing_maps = [affine_map<(d0, d1) -> (d1)>, affine_map<(d0, d1) -> (d0, d1)>], iterator_types = ["parallel", "parallel"]} ins(%r : tensor<3xf32>) outs(%0 : tensor<4x3xf32>) {
  ^bb0(%2: f32, %3: f32):
    linalg.yield %2 : f32
  } -> tensor<4x3xf32>
  %4 = linalg.generic {indexing_maps = [affine_map<(d0, d1) -> (d0, d1)>, affine_map<(d0, d1) -> (d0, d1)>, affine_map<(d0, d1) -> (d0, d1)>], iterator_types = ["parallel", "parallel"]} ins(%x, %1 : tensor<4x3xf32>, tensor<4x3xf32>) outs(%0 : tensor<4x3xf32>) {
  ^bb0(%5: f32, %6: f32, %7: f32):
    %8 = arith.addf %5, %6 fastmath<contract> : f32
    linalg.yield %8 : f32
  } -> tensor<4x3xf32>
  func.return %4 : tensor<4x3xf32>
}

// y = tanh(x*a) used by two reductions (sum(y) + max(y)): fusing into one would leave the other
// reading y anyway, and y is not cheap (a tanh), so it is computed once, into its own tensor, and
// both reductions read it. (A cheap producer — one or two arithmetic ops, like `x - mean` — is
// instead recomputed in each consumer: see @cheap_twice below.)
// CHECK-LABEL: func.func @twocons(%x: tensor<8xf32>, %a: f32) -> f32
// CHECK:         [[Y:%.*]] = linalg.generic {{.*}} iterator_types = ["parallel"]} ins(%x : tensor<8xf32>)
// CHECK:         linalg.generic {{.*}} iterator_types = ["reduction"]} ins([[Y]] : tensor<8xf32>)
// CHECK:           arith.addf
// CHECK:         linalg.generic {{.*}} iterator_types = ["reduction"]} ins([[Y]] : tensor<8xf32>)
// CHECK:           arith.maximumf
func.func @twocons(%x: tensor<8xf32>, %a: f32) -> f32 {
  %0 = tensor.empty() : tensor<8xf32>
  %1 = linalg.generic {indexing_maps = [affine_map<(d0) -> (d0)>, affine_map<(d0) -> (d0)>], iterator_types = ["parallel"]} ins(%x : tensor<8xf32>) outs(%0 : tensor<8xf32>) {
  ^bb0(%2: f32, %3: f32):
    %t = arith.mulf %2, %a fastmath<contract> : f32
    %4 = math.tanh %t : f32
    linalg.yield %4 : f32
  } -> tensor<8xf32>
  %5 = arith.constant 0.000000e+00 : f32
  %6 = tensor.empty() : tensor<f32>
  %7 = linalg.fill ins(%5 : f32) outs(%6 : tensor<f32>) -> tensor<f32>
  %8 = linalg.generic {indexing_maps = [affine_map<(d0) -> (d0)>, affine_map<(d0) -> ()>], iterator_types = ["reduction"]} ins(%1 : tensor<8xf32>) outs(%7 : tensor<f32>) {
  ^bb0(%9: f32, %10: f32):
    %11 = arith.addf %10, %9 fastmath<reassoc,contract> : f32
    linalg.yield %11 : f32
  } -> tensor<f32>
  %12 = tensor.extract %8[] : tensor<f32>
  %13 = arith.constant 0xff800000 : f32
  %14 = linalg.fill ins(%13 : f32) outs(%6 : tensor<f32>) -> tensor<f32>
  %15 = linalg.generic {indexing_maps = [affine_map<(d0) -> (d0)>, affine_map<(d0) -> ()>], iterator_types = ["reduction"]} ins(%1 : tensor<8xf32>) outs(%14 : tensor<f32>) {
  ^bb0(%16: f32, %17: f32):
    %18 = arith.maximumf %17, %16 : f32
    linalg.yield %18 : f32
  } -> tensor<f32>
  %19 = tensor.extract %15[] : tensor<f32>
  %20 = arith.addf %12, %19 fastmath<contract> : f32
  func.return %20 : f32
}

// y + transpose(y), y = x*2: y is cheap, so it is recomputed in each consumer — first in the
// transpose (a copy, reading y once), which is then fused into the add. The add ends up reading x
// through TWO maps, (d0, d1) and (d1, d0), with one copy of y's body per map: 2·x[i,j] + 2·x[j,i].
// (Fusing with a single map once computed 2*(x + x), which is wrong off the diagonal.)
// CHECK-LABEL: func.func @twomaps(%x: tensor<3x3xf32>) -> tensor<3x3xf32>
// CHECK:         [[S:%.*]] = linalg.generic {indexing_maps = [affine_map<(d0, d1) -> (d0, d1)>, affine_map<(d0, d1) -> (d1, d0)>, affine_map<(d0, d1) -> (d0, d1)>], iterator_types = ["parallel", "parallel"]}
// CHECK-SAME:      ins(%x, %x : tensor<3x3xf32>, tensor<3x3xf32>)
// CHECK-NEXT:    ^bb0([[A:%.*]]: f32, [[B:%.*]]: f32, {{%.*}}: f32):
// CHECK-NEXT:      [[MB:%.*]] = arith.mulf [[B]], {{%.*}}
// CHECK-NEXT:      [[MA:%.*]] = arith.mulf [[A]], {{%.*}}
// CHECK-NEXT:      [[R:%.*]] = arith.addf [[MA]], [[MB]] fastmath<contract> : f32
// CHECK-NEXT:      linalg.yield [[R]] : f32
// CHECK:         func.return [[S]]
func.func @twomaps(%x: tensor<3x3xf32>) -> tensor<3x3xf32> {
  %c2 = arith.constant 2.000000e+00 : f32
  %e = tensor.empty() : tensor<3x3xf32>
  %y = linalg.generic {indexing_maps = [affine_map<(d0, d1) -> (d0, d1)>, affine_map<(d0, d1) -> (d0, d1)>], iterator_types = ["parallel", "parallel"]} ins(%x : tensor<3x3xf32>) outs(%e : tensor<3x3xf32>) {
  ^bb0(%a: f32, %o: f32):
    %m = arith.mulf %a, %c2 fastmath<contract> : f32
    linalg.yield %m : f32
  } -> tensor<3x3xf32>
  %t = linalg.generic {indexing_maps = [affine_map<(d0, d1) -> (d1, d0)>, affine_map<(d0, d1) -> (d0, d1)>], iterator_types = ["parallel", "parallel"]} ins(%y : tensor<3x3xf32>) outs(%e : tensor<3x3xf32>) {
  ^bb0(%a: f32, %o: f32):
    linalg.yield %a : f32
  } -> tensor<3x3xf32>
  %s = linalg.generic {indexing_maps = [affine_map<(d0, d1) -> (d0, d1)>, affine_map<(d0, d1) -> (d0, d1)>, affine_map<(d0, d1) -> (d0, d1)>], iterator_types = ["parallel", "parallel"]} ins(%y, %t : tensor<3x3xf32>, tensor<3x3xf32>) outs(%e : tensor<3x3xf32>) {
  ^bb0(%a: f32, %b: f32, %o: f32):
    %r = arith.addf %a, %b fastmath<contract> : f32
    linalg.yield %r : f32
  } -> tensor<3x3xf32>
  func.return %s : tensor<3x3xf32>
}

// t - transpose(t), t = transpose(x): a copy read through two maps IS fused, once per map, each
// with its own composed map: t[d0, d1] = x[d1, d0] and t[d1, d0] = x[d0, d1]. So x^T - x.
// CHECK-LABEL: func.func @copytwice(%x: tensor<3x3xf32>) -> tensor<3x3xf32>
// CHECK-NEXT:    [[E:%.*]] = tensor.empty() : tensor<3x3xf32>
// CHECK-NEXT:    [[S:%.*]] = linalg.generic {indexing_maps = [affine_map<(d0, d1) -> (d1, d0)>, affine_map<(d0, d1) -> (d0, d1)>, affine_map<(d0, d1) -> (d0, d1)>], iterator_types = ["parallel", "parallel"]}
// CHECK-SAME:      ins(%x, %x : tensor<3x3xf32>, tensor<3x3xf32>) outs([[E]] : tensor<3x3xf32>)
// CHECK-NEXT:    ^bb0([[XT:%.*]]: f32, [[XV:%.*]]: f32, {{%.*}}: f32):
// CHECK-NEXT:      [[R:%.*]] = arith.subf [[XT]], [[XV]] fastmath<contract> : f32
// CHECK-NEXT:      linalg.yield [[R]] : f32
// CHECK-NEXT:    } -> tensor<3x3xf32>
// CHECK-NEXT:    func.return [[S]] : tensor<3x3xf32>
func.func @copytwice(%x: tensor<3x3xf32>) -> tensor<3x3xf32> {
  %e = tensor.empty() : tensor<3x3xf32>
  %t = linalg.generic {indexing_maps = [affine_map<(d0, d1) -> (d1, d0)>, affine_map<(d0, d1) -> (d0, d1)>], iterator_types = ["parallel", "parallel"]} ins(%x : tensor<3x3xf32>) outs(%e : tensor<3x3xf32>) {
  ^bb0(%a: f32, %o: f32):
    linalg.yield %a : f32
  } -> tensor<3x3xf32>
  %s = linalg.generic {indexing_maps = [affine_map<(d0, d1) -> (d0, d1)>, affine_map<(d0, d1) -> (d1, d0)>, affine_map<(d0, d1) -> (d0, d1)>], iterator_types = ["parallel", "parallel"]} ins(%t, %t : tensor<3x3xf32>, tensor<3x3xf32>) outs(%e : tensor<3x3xf32>) {
  ^bb0(%a: f32, %b: f32, %o: f32):
    %r = arith.subf %a, %b fastmath<contract> : f32
    linalg.yield %r : f32
  } -> tensor<3x3xf32>
  func.return %s : tensor<3x3xf32>
}

// x - m (cheap) read by two consumers, a reduction and an elementwise op: recomputed in both,
// so the centered values are never written to memory (the layer-norm pattern).
// CHECK-LABEL: func.func @cheap_twice(%x: tensor<8xf32>, %m: f32) -> (f32, tensor<8xf32>)
// CHECK-NOT:     iterator_types = ["parallel"]} ins(%x : tensor<8xf32>) outs
// CHECK:         linalg.generic {{.*}} iterator_types = ["reduction"]} ins(%x : tensor<8xf32>)
// CHECK:           arith.subf
// CHECK:           arith.mulf
// CHECK:         linalg.generic {{.*}} iterator_types = ["parallel"]} ins(%x : tensor<8xf32>)
// CHECK:           arith.subf
// CHECK:           arith.mulf
func.func @cheap_twice(%x: tensor<8xf32>, %m: f32) -> (f32, tensor<8xf32>) {
  %0 = tensor.empty() : tensor<8xf32>
  %1 = linalg.generic {indexing_maps = [affine_map<(d0) -> (d0)>, affine_map<(d0) -> (d0)>], iterator_types = ["parallel"]} ins(%x : tensor<8xf32>) outs(%0 : tensor<8xf32>) {
  ^bb0(%2: f32, %3: f32):
    %4 = arith.subf %2, %m fastmath<contract> : f32
    linalg.yield %4 : f32
  } -> tensor<8xf32>
  %5 = arith.constant 0.000000e+00 : f32
  %6 = tensor.empty() : tensor<f32>
  %7 = linalg.fill ins(%5 : f32) outs(%6 : tensor<f32>) -> tensor<f32>
  %8 = linalg.generic {indexing_maps = [affine_map<(d0) -> (d0)>, affine_map<(d0) -> ()>], iterator_types = ["reduction"]} ins(%1 : tensor<8xf32>) outs(%7 : tensor<f32>) {
  ^bb0(%9: f32, %10: f32):
    %11 = arith.mulf %9, %9 fastmath<contract> : f32
    %12 = arith.addf %10, %11 fastmath<reassoc,contract> : f32
    linalg.yield %12 : f32
  } -> tensor<f32>
  %13 = tensor.extract %8[] : tensor<f32>
  %14 = linalg.generic {indexing_maps = [affine_map<(d0) -> (d0)>, affine_map<(d0) -> (d0)>], iterator_types = ["parallel"]} ins(%1 : tensor<8xf32>) outs(%0 : tensor<8xf32>) {
  ^bb0(%15: f32, %16: f32):
    %17 = arith.mulf %15, %13 fastmath<contract> : f32
    linalg.yield %17 : f32
  } -> tensor<8xf32>
  func.return %13, %14 : f32, tensor<8xf32>
}

// sum(y[1::2]): the stepped slice is a copy, but the reduction's output map mentions no loop dim,
// so its only plain `d0` is the one it reads the slice through. Fused, the op would read y at
// `d0 * 2 + 1` only: no operand's shape would give d0's trip count (linalg rejects such maps as
// non-invertible). So the slice stays a copy of its own (as in MLIR's elementwise fusion).
// CHECK-LABEL: func.func @stepped_sum(%y: tensor<8xf32>) -> f32
// CHECK:         [[SL:%.*]] = linalg.generic {indexing_maps = [affine_map<(d0) -> (((d0 * 2) + 1))>, affine_map<(d0) -> (d0)>], iterator_types = ["parallel"]}
// CHECK-SAME:      ins(%y : tensor<8xf32>)
// CHECK:         linalg.generic {indexing_maps = [affine_map<(d0) -> (d0)>, affine_map<(d0) -> ()>], iterator_types = ["reduction"]}
// CHECK-SAME:      ins([[SL]] : tensor<4xf32>)
func.func @stepped_sum(%y: tensor<8xf32>) -> f32 {
  %0 = tensor.empty() : tensor<4xf32>
  %1 = linalg.generic {indexing_maps = [affine_map<(d0) -> (((d0 * 2) + 1))>, affine_map<(d0) -> (d0)>], iterator_types = ["parallel"]} ins(%y : tensor<8xf32>) outs(%0 : tensor<4xf32>) {
  ^bb0(%2: f32, %3: f32):
    linalg.yield %2 : f32
  } -> tensor<4xf32>
  %4 = arith.constant 0.000000e+00 : f32
  %5 = tensor.empty() : tensor<f32>
  %6 = linalg.fill ins(%4 : f32) outs(%5 : tensor<f32>) -> tensor<f32>
  %7 = linalg.generic {indexing_maps = [affine_map<(d0) -> (d0)>, affine_map<(d0) -> ()>], iterator_types = ["reduction"]} ins(%1 : tensor<4xf32>) outs(%6 : tensor<f32>) {
  ^bb0(%8: f32, %9: f32):
    %10 = arith.addf %9, %8 fastmath<reassoc,contract> : f32
    linalg.yield %10 : f32
  } -> tensor<f32>
  %11 = tensor.extract %7[] : tensor<f32>
  func.return %11 : f32
}

// y[::-1] * 2: an elementwise consumer's output map is the identity, so every loop dim keeps its
// bound: the reversed slice is fused and y is read at `7 - d0` directly.
// CHECK-LABEL: func.func @reversed_scale(%y: tensor<8xf32>) -> tensor<8xf32>
// CHECK-NEXT:    [[E:%.*]] = tensor.empty() : tensor<8xf32>
// CHECK-NEXT:    [[C:%.*]] = arith.constant 2.000000e+00 : f32
// CHECK-NEXT:    [[R:%.*]] = linalg.generic {indexing_maps = [affine_map<(d0) -> (((d0 * -1) + 7))>, affine_map<(d0) -> (d0)>], iterator_types = ["parallel"]}
// CHECK-SAME:      ins(%y : tensor<8xf32>) outs([[E]] : tensor<8xf32>)
// CHECK-NEXT:    ^bb0([[V:%.*]]: f32, {{%.*}}: f32):
// CHECK-NEXT:      [[M:%.*]] = arith.mulf [[V]], [[C]] fastmath<contract> : f32
// CHECK-NEXT:      linalg.yield [[M]] : f32
// CHECK-NEXT:    } -> tensor<8xf32>
// CHECK-NEXT:    func.return [[R]] : tensor<8xf32>
func.func @reversed_scale(%y: tensor<8xf32>) -> tensor<8xf32> {
  %0 = tensor.empty() : tensor<8xf32>
  %1 = linalg.generic {indexing_maps = [affine_map<(d0) -> (((d0 * -1) + 7))>, affine_map<(d0) -> (d0)>], iterator_types = ["parallel"]} ins(%y : tensor<8xf32>) outs(%0 : tensor<8xf32>) {
  ^bb0(%2: f32, %3: f32):
    linalg.yield %2 : f32
  } -> tensor<8xf32>
  %4 = arith.constant 2.000000e+00 : f32
  %5 = linalg.generic {indexing_maps = [affine_map<(d0) -> (d0)>, affine_map<(d0) -> (d0)>], iterator_types = ["parallel"]} ins(%1 : tensor<8xf32>) outs(%0 : tensor<8xf32>) {
  ^bb0(%6: f32, %7: f32):
    %8 = arith.mulf %6, %4 fastmath<contract> : f32
    linalg.yield %8 : f32
  } -> tensor<8xf32>
  func.return %5 : tensor<8xf32>
}

// transpose(p @ v, (0, 2, 1, 3)) -- attention's heads merged back: the copy of the matmul's result
// is folded into the matmul, which writes the transposed tensor itself (its output map composed
// with the permutation's inverse, its fill made again in the new shape). The innermost dim stays
// innermost, so the kernel's C rows stay contiguous.
// CHECK-LABEL: func.func @heads_merged(%p: tensor<2x3x4x4xf32>, %v: tensor<2x3x4x5xf32>) -> tensor<2x4x3x5xf32>
// CHECK-NEXT:    [[Z:%.*]] = arith.constant 0.000000e+00 : f32
// CHECK-NEXT:    [[E:%.*]] = tensor.empty() : tensor<2x4x3x5xf32>
// CHECK-NEXT:    [[F:%.*]] = linalg.fill ins([[Z]] : f32) outs([[E]] : tensor<2x4x3x5xf32>) -> tensor<2x4x3x5xf32>
// CHECK-NEXT:    [[R:%.*]] = linalg.generic {indexing_maps = [affine_map<(d0, d1, d2, d3, d4) -> (d0, d1, d2, d4)>, affine_map<(d0, d1, d2, d3, d4) -> (d0, d1, d4, d3)>, affine_map<(d0, d1, d2, d3, d4) -> (d0, d2, d1, d3)>], iterator_types = ["parallel", "parallel", "parallel", "parallel", "reduction"]}
// CHECK-SAME:      ins(%p, %v : tensor<2x3x4x4xf32>, tensor<2x3x4x5xf32>) outs([[F]] : tensor<2x4x3x5xf32>)
// CHECK:         } -> tensor<2x4x3x5xf32>
// CHECK-NEXT:    func.return [[R]] : tensor<2x4x3x5xf32>
func.func @heads_merged(%p: tensor<2x3x4x4xf32>, %v: tensor<2x3x4x5xf32>) -> tensor<2x4x3x5xf32> {
  %0 = arith.constant 0.000000e+00 : f32
  %1 = tensor.empty() : tensor<2x3x4x5xf32>
  %2 = linalg.fill ins(%0 : f32) outs(%1 : tensor<2x3x4x5xf32>) -> tensor<2x3x4x5xf32>
  %3 = linalg.generic {indexing_maps = [affine_map<(d0, d1, d2, d3, d4) -> (d0, d1, d2, d4)>, affine_map<(d0, d1, d2, d3, d4) -> (d0, d1, d4, d3)>, affine_map<(d0, d1, d2, d3, d4) -> (d0, d1, d2, d3)>], iterator_types = ["parallel", "parallel", "parallel", "parallel", "reduction"]} ins(%p, %v : tensor<2x3x4x4xf32>, tensor<2x3x4x5xf32>) outs(%2 : tensor<2x3x4x5xf32>) {
  ^bb0(%4: f32, %5: f32, %6: f32):
    %7 = arith.mulf %4, %5 fastmath<reassoc,contract> : f32
    %8 = arith.addf %6, %7 fastmath<reassoc,contract> : f32
    linalg.yield %8 : f32
  } -> tensor<2x3x4x5xf32>
  %9 = tensor.empty() : tensor<2x4x3x5xf32>
  %10 = linalg.generic {indexing_maps = [affine_map<(d0, d1, d2, d3) -> (d0, d2, d1, d3)>, affine_map<(d0, d1, d2, d3) -> (d0, d1, d2, d3)>], iterator_types = ["parallel", "parallel", "parallel", "parallel"]} ins(%3 : tensor<2x3x4x5xf32>) outs(%9 : tensor<2x4x3x5xf32>) {
  ^bb0(%11: f32, %12: f32):
    linalg.yield %11 : f32
  } -> tensor<2x4x3x5xf32>
  func.return %10 : tensor<2x4x3x5xf32>
}

// Kept: a transpose that moves the matmul's rows innermost (C would be written down its columns),
// and one of a product that is also returned (the product is needed as it is).
// CHECK-LABEL: func.func @transpose_kept
// CHECK-COUNT-2: linalg.generic
// CHECK:         linalg.generic {indexing_maps = [affine_map<(d0, d1, d2) -> (d0, d2, d1)>
// CHECK:         linalg.generic {indexing_maps = [affine_map<(d0, d1, d2) -> (d1, d0, d2)>
// CHECK:         func.return
func.func @transpose_kept(%a: tensor<2x4x3xf32>, %b: tensor<2x3x5xf32>) -> (tensor<2x5x4xf32>, tensor<4x2x5xf32>, tensor<2x4x5xf32>) {
  %0 = arith.constant 0.000000e+00 : f32
  %1 = tensor.empty() : tensor<2x4x5xf32>
  %2 = linalg.fill ins(%0 : f32) outs(%1 : tensor<2x4x5xf32>) -> tensor<2x4x5xf32>
  %3 = linalg.generic {indexing_maps = [affine_map<(d0, d1, d2, d3) -> (d0, d1, d3)>, affine_map<(d0, d1, d2, d3) -> (d0, d3, d2)>, affine_map<(d0, d1, d2, d3) -> (d0, d1, d2)>], iterator_types = ["parallel", "parallel", "parallel", "reduction"]} ins(%a, %b : tensor<2x4x3xf32>, tensor<2x3x5xf32>) outs(%2 : tensor<2x4x5xf32>) {
  ^bb0(%4: f32, %5: f32, %6: f32):
    %7 = arith.mulf %4, %5 fastmath<reassoc,contract> : f32
    %8 = arith.addf %6, %7 fastmath<reassoc,contract> : f32
    linalg.yield %8 : f32
  } -> tensor<2x4x5xf32>
  %9 = linalg.generic {indexing_maps = [affine_map<(d0, d1, d2, d3) -> (d0, d1, d3)>, affine_map<(d0, d1, d2, d3) -> (d0, d3, d2)>, affine_map<(d0, d1, d2, d3) -> (d0, d1, d2)>], iterator_types = ["parallel", "parallel", "parallel", "reduction"]} ins(%a, %b : tensor<2x4x3xf32>, tensor<2x3x5xf32>) outs(%2 : tensor<2x4x5xf32>) {
  ^bb0(%10: f32, %11: f32, %12: f32):
    %13 = arith.mulf %10, %11 fastmath<reassoc,contract> : f32
    %14 = arith.addf %12, %13 fastmath<reassoc,contract> : f32
    linalg.yield %14 : f32
  } -> tensor<2x4x5xf32>
  %15 = tensor.empty() : tensor<2x5x4xf32>
  %16 = linalg.generic {indexing_maps = [affine_map<(d0, d1, d2) -> (d0, d2, d1)>, affine_map<(d0, d1, d2) -> (d0, d1, d2)>], iterator_types = ["parallel", "parallel", "parallel"]} ins(%3 : tensor<2x4x5xf32>) outs(%15 : tensor<2x5x4xf32>) {
  ^bb0(%17: f32, %18: f32):
    linalg.yield %17 : f32
  } -> tensor<2x5x4xf32>
  %19 = tensor.empty() : tensor<4x2x5xf32>
  %20 = linalg.generic {indexing_maps = [affine_map<(d0, d1, d2) -> (d1, d0, d2)>, affine_map<(d0, d1, d2) -> (d0, d1, d2)>], iterator_types = ["parallel", "parallel", "parallel"]} ins(%9 : tensor<2x4x5xf32>) outs(%19 : tensor<4x2x5xf32>) {
  ^bb0(%21: f32, %22: f32):
    linalg.yield %21 : f32
  } -> tensor<4x2x5xf32>
  func.return %16, %20, %9 : tensor<2x5x4xf32>, tensor<4x2x5xf32>, tensor<2x4x5xf32>
}
