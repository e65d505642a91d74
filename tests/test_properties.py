"""Property tests (Hypothesis) of the reference executor against NumPy: broadcasting of binary ops,
reductions over random axes, static slicing and functional updates, transposes, reshapes and
batched matmul, over random shapes.

Loom types are static, so each example writes one small Loom program for its shapes/axes, loads it
(with and without the optimizing passes) and compares the result, its dtype and shape with NumPy.
"""

from __future__ import annotations

import inspect

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import compiler
from compiler.passes.loom_matmul_kernel import host_isa
from tests.conftest import EXECUTIONS, how
from tests.kernel_helpers import uses_kernel

PIPELINES = list(EXECUTIONS)
NP = {"f32": np.float32, "f64": np.float64, "i32": np.int32, "i64": np.int64, "bool": np.bool_}
FLOATS = ("f32", "f64")
TOL = {"f32": dict(rtol=1e-5, atol=1e-6), "f64": dict(rtol=1e-12, atol=1e-13)}
# Examples per execution. A compiled example builds and JIT-compiles its own program (~0.3 s), so the
# compiled run draws fewer; the reference executor checks the same properties on 30 examples each.
EXAMPLES = {"none": 30, "loom-opt": 30, "jit": 12}


def prop(**strategies):
    """`@given(**strategies)` for each execution in PIPELINES, with EXAMPLES[execution] examples: the
    decorated `test(pipeline, **drawn)` becomes a test parametrized over `pipeline`."""
    def decorate(body):
        def bind(pipeline: str):
            def run(*args, **kwargs):
                body(pipeline, *args, **kwargs)

            sig = inspect.signature(body)
            run.__signature__ = sig.replace(parameters=list(sig.parameters.values())[1:])
            run.__name__ = run.__qualname__ = f"{body.__name__}_{pipeline.replace('-', '_')}"
            run.__module__ = body.__module__
            return settings(max_examples=EXAMPLES[pipeline], deadline=None,
                            suppress_health_check=[HealthCheck.too_slow])(given(**strategies)(run))

        runs = {p: bind(p) for p in PIPELINES}

        @pytest.mark.parametrize("pipeline", PIPELINES)
        def test(pipeline):
            runs[pipeline]()

        test.__name__, test.__qualname__, test.__doc__ = body.__name__, body.__qualname__, body.__doc__
        return test
    return decorate
seeds = st.integers(0, 2**32 - 1)
dtypes = st.sampled_from(["f32", "f64", "i32", "i64"])


def ty(dt: str, shape) -> str:
    shape = tuple(shape)
    return dt if shape == () else f"{dt}[{', '.join(map(str, shape))}]"


def tup(xs) -> str:
    """A Loom tuple literal: `(1, 2)`, `(3,)` or `()`."""
    xs = list(xs)
    return "(" + ", ".join(map(str, xs)) + ("," if len(xs) == 1 else "") + ")"


def values(rng, dt: str, shape, lo=-5, hi=5):
    shape = tuple(shape)
    if dt == "bool":
        a = rng.random(shape) < 0.5
    elif dt in FLOATS:
        a = rng.uniform(lo, hi, shape).astype(NP[dt])
    else:
        a = rng.integers(lo, hi + 1, shape).astype(NP[dt])
    return NP[dt](a) if shape == () else a


def call(src: str, pipeline: str, *args):
    return compiler.loads(src, name="prop.loom", **how(pipeline)).f(*args)


def check(got, want, dt: str):
    want = np.asarray(want)
    g = np.asarray(got)
    if want.shape == ():
        assert isinstance(got, np.generic), type(got)
    assert g.dtype == NP[dt], (g.dtype, dt)
    assert g.shape == want.shape, (g.shape, want.shape)
    if dt in FLOATS:
        np.testing.assert_allclose(g, want.astype(NP[dt]), equal_nan=True, **TOL[dt])
    else:
        np.testing.assert_array_equal(g, want.astype(NP[dt]))


# ---------------------------------------------------------------------- broadcasting
BINARY = {
    "+": np.add, "-": np.subtract, "*": np.multiply, "/": np.true_divide, "//": np.floor_divide,
    "%": np.mod, "<": np.less, ">=": np.greater_equal, "==": np.equal, "!=": np.not_equal,
    "maximum": np.maximum, "minimum": np.minimum,
}
CMP = {"<", ">=", "==", "!="}


@prop(shapes=hnp.mutually_broadcastable_shapes(num_shapes=2, min_dims=0, max_dims=4, max_side=4),
       op=st.sampled_from(sorted(BINARY)), dt=dtypes, seed=seeds)
def test_binary_broadcasting(pipeline, shapes, op, dt, seed):
    if op == "/" and dt not in FLOATS:
        dt = "f64"
    (sa, sb), out = shapes.input_shapes, shapes.result_shape
    rng = np.random.default_rng(seed)
    a, b = values(rng, dt, sa), values(rng, dt, sb)
    if op in ("//", "%", "/"):
        b = np.where(b == 0, NP[dt](3), b).astype(NP[dt])
        b = NP[dt](b) if sb == () else b
    expr = f"{op}(a, b)" if op.isalpha() else f"a {op} b"
    rdt = "bool" if op in CMP else dt
    src = f"def f(a: {ty(dt, sa)}, b: {ty(dt, sb)}) -> {ty(rdt, out)}:\n    return {expr}\n"
    with np.errstate(all="ignore"):
        want = BINARY[op](a, b)
    check(call(src, pipeline, a, b), want, rdt)


@prop(shapes=hnp.mutually_broadcastable_shapes(num_shapes=3, min_dims=0, max_dims=4, max_side=3),
       dt=dtypes, seed=seeds)
def test_where_and_logic_broadcasting(pipeline, shapes, dt, seed):
    (sc, sa, sb), out = shapes.input_shapes, shapes.result_shape
    rng = np.random.default_rng(seed)
    c, a, b = values(rng, "bool", sc), values(rng, dt, sa), values(rng, dt, sb)
    src = (f"def f(c: {ty('bool', sc)}, a: {ty(dt, sa)}, b: {ty(dt, sb)}) -> ({ty(dt, out)}, {ty('bool', out)}):\n"
           f"    return where(c, a, b), (c and a > b) or not (c or a == b)\n")
    got = call(src, pipeline, c, a, b)
    check(got[0], np.where(c, a, b), dt)
    check(got[1], (c & (a > b)) | ~(c | (a == b)), "bool")


@prop(shapes=hnp.mutually_broadcastable_shapes(signature="(m?,n),(n,p?)->(m?,p?)",
                                                 min_dims=0, max_dims=2, max_side=4),
       dt=dtypes, seed=seeds)
def test_matmul_shapes(pipeline, shapes, dt, seed):
    (sa, sb), out = shapes.input_shapes, shapes.result_shape
    rng = np.random.default_rng(seed)
    a, b = values(rng, dt, sa), values(rng, dt, sb)
    src = f"def f(a: {ty(dt, sa)}, b: {ty(dt, sb)}) -> {ty(dt, out)}:\n    return a @ b\n"
    check(call(src, pipeline, a, b), np.matmul(a, b), dt)


# ---------------------------------------------------------------------- reductions
REDUCE = {
    "sum": lambda x, ax, k: np.sum(x, axis=ax, keepdims=k, dtype=x.dtype),
    "prod": lambda x, ax, k: np.prod(x, axis=ax, keepdims=k, dtype=x.dtype),
    "max": lambda x, ax, k: np.max(x, axis=ax, keepdims=k),
    "min": lambda x, ax, k: np.min(x, axis=ax, keepdims=k),
    "mean": lambda x, ax, k: np.mean(x.astype(np.float64), axis=ax, keepdims=k),
    "any": lambda x, ax, k: np.any(x, axis=ax, keepdims=k),
    "all": lambda x, ax, k: np.all(x, axis=ax, keepdims=k),
}


@st.composite
def reduction_cases(draw):
    shape = draw(hnp.array_shapes(min_dims=1, max_dims=4, min_side=1, max_side=4))
    ndim = len(shape)
    name = draw(st.sampled_from(sorted(REDUCE)))
    dt = {"any": "bool", "all": "bool", "mean": draw(st.sampled_from(FLOATS))}.get(name) or draw(dtypes)
    kind = draw(st.sampled_from(["none", "int", "tuple"]))
    if kind == "none":
        axis = None
    elif kind == "int":
        axis = draw(st.integers(-ndim, ndim - 1))
    else:
        axis = draw(hnp.valid_tuple_axes(ndim))  # random subsets, negative axes included
    return name, dt, shape, axis, draw(st.booleans())


@prop(case=reduction_cases(), seed=seeds)
def test_reductions_random_axes(pipeline, case, seed):
    name, dt, shape, axis, keep = case
    rng = np.random.default_rng(seed)
    x = values(rng, dt, shape, -2, 2) if name == "prod" and dt not in FLOATS else values(rng, dt, shape)
    if name == "prod" and dt in FLOATS:
        x = values(rng, dt, shape, 0.5, 1.5)
    with np.errstate(over="ignore"):
        want = REDUCE[name](x, axis, keep)
    rdt = "f64" if name == "mean" and dt == "f64" else dt
    if axis is None and keep:
        axis_text = f", axis={tup(range(len(shape)))}, keepdims=true"
    else:
        axis_text = ("" if axis is None else f", axis={axis if isinstance(axis, int) else tup(axis)}") + \
                    (", keepdims=true" if keep else "")
    src = f"def f(x: {ty(dt, shape)}) -> {ty(rdt, np.shape(want))}:\n    return {name}(x{axis_text})\n"
    check(call(src, pipeline, x), want, rdt)


@prop(shape=hnp.array_shapes(min_dims=1, max_dims=4, min_side=1, max_side=4), data=st.data(),
       name=st.sampled_from(["argmax", "argmin"]), dt=dtypes, seed=seeds)
def test_argmax_argmin_random_axis(pipeline, shape, data, name, dt, seed):
    ndim = len(shape)
    axis = data.draw(st.one_of(st.none(), st.integers(-ndim, ndim - 1)))
    keep = axis is not None and data.draw(st.booleans())
    x = values(np.random.default_rng(seed), dt, shape, -2, 2)  # ties: the first index wins
    f = np.argmax if name == "argmax" else np.argmin
    want = f(x) if axis is None else f(x, axis=axis, keepdims=keep)
    args = "" if axis is None else f", axis={axis}" + (", keepdims=true" if keep else "")
    src = f"def f(x: {ty(dt, shape)}) -> {ty('i64', np.shape(want))}:\n    return {name}(x{args})\n"
    check(call(src, pipeline, x), want, "i64")


# ---------------------------------------------------------------------- static slicing and updates
@st.composite
def static_index(draw, shape):
    """A random static index for `shape`: per axis an in-range integer or a slice with any bounds."""
    parts, keys = [], []
    n_axes = draw(st.integers(1, len(shape)))
    for n in shape[:n_axes]:
        if draw(st.integers(0, 4)) == 0:
            i = draw(st.integers(-n, n - 1))
            parts.append(str(i))
            keys.append(i)
            continue
        start = draw(st.one_of(st.none(), st.integers(-n - 2, n + 2)))
        stop = draw(st.one_of(st.none(), st.integers(-n - 2, n + 2)))
        step = draw(st.one_of(st.none(), st.integers(-3, 3).filter(lambda s: s != 0)))
        text = ("" if start is None else str(start)) + ":" + ("" if stop is None else str(stop))
        if step is not None:
            text += f":{step}"
        parts.append(text)
        keys.append(slice(start, stop, step))
    return ", ".join(parts), tuple(keys)


@st.composite
def slicing_cases(draw):
    shape = draw(hnp.array_shapes(min_dims=1, max_dims=3, min_side=1, max_side=6))
    text, key = draw(static_index(shape))
    return shape, text, key


@prop(case=slicing_cases(), dt=dtypes, seed=seeds)
def test_static_slicing(pipeline, case, dt, seed):
    shape, text, key = case
    x = values(np.random.default_rng(seed), dt, shape)
    want = x[key]
    src = f"def f(x: {ty(dt, shape)}) -> {ty(dt, np.shape(want))}:\n    return x[{text}]\n"
    check(call(src, pipeline, x), want, dt)


@prop(case=slicing_cases(), seed=seeds, scalar=st.booleans())
def test_static_slice_update(pipeline, case, seed, scalar):
    shape, text, key = case
    rng = np.random.default_rng(seed)
    x = values(rng, "f64", shape)
    part = np.shape(x[key])
    v = values(rng, "f64", () if scalar else part)
    src = (f"def f(x: {ty('f64', shape)}, v: {ty('f64', np.shape(v))}) -> ({ty('f64', shape)}, {ty('f64', shape)}):\n"
           f"    y = x\n"
           f"    y[{text}] = v\n"
           f"    x[{text}] += 1.0\n"
           f"    return y, x\n")
    got = call(src, pipeline, x, v)
    want_y, want_x = x.copy(), x.copy()
    want_y[key] = v
    want_x[key] += 1.0
    check(got[0], want_y, "f64")
    check(got[1], want_x, "f64")


@prop(shape=hnp.array_shapes(min_dims=1, max_dims=3, min_side=1, max_side=6), data=st.data(), seed=seeds)
def test_dynamic_index_and_window(pipeline, shape, data, seed):
    n = shape[0]
    i = data.draw(st.integers(-n, n - 1), label="i")
    k = data.draw(st.integers(1, n), label="K")
    w = data.draw(st.integers(0, n - k), label="window start")
    x = values(np.random.default_rng(seed), "i64", shape)
    rest = shape[1:]
    src = (f"def f(x: {ty('i64', shape)}, i: i64, w: i64) -> ({ty('i64', rest)}, {ty('i64', (k,) + rest)}, {ty('i64', shape)}):\n"
           f"    y = x\n"
           f"    y[w:w+{k}] = x[w:w+{k}] * 2\n"
           f"    y[i] = -1\n"
           f"    return x[i], x[w:w+{k}], y\n")
    got = call(src, pipeline, x, i, w)
    want = x.copy()
    want[w:w + k] = x[w:w + k] * 2
    want[i] = -1
    check(got[0], x[i], "i64")
    check(got[1], x[w:w + k], "i64")
    check(got[2], want, "i64")


# ---------------------------------------------------------------------- transpose and reshape
@prop(shape=hnp.array_shapes(min_dims=1, max_dims=5, min_side=1, max_side=4), data=st.data(), seed=seeds)
def test_transpose_random_permutation(pipeline, shape, data, seed):
    ndim = len(shape)
    perm = data.draw(st.permutations(range(ndim)), label="perm")
    neg = data.draw(st.lists(st.booleans(), min_size=ndim, max_size=ndim), label="negate")
    written = [p - ndim if m else p for p, m in zip(perm, neg)]
    x = values(np.random.default_rng(seed), "f32", shape)
    want, want_default = np.transpose(x, perm), np.transpose(x)
    src = (f"def f(x: {ty('f32', shape)}) -> ({ty('f32', want.shape)}, {ty('f32', want_default.shape)}, {ty('f32', shape)}):\n"
           f"    return transpose(x, {tup(written)}), transpose(x), transpose(transpose(x, {tup(written)}), "
           f"{tup(np.argsort(perm).tolist())})\n")
    got = call(src, pipeline, x)
    check(got[0], want, "f32")
    check(got[1], want_default, "f32")
    check(got[2], x, "f32")


@st.composite
def moved_products(draw):
    """A product big enough for the matmul kernel (M·N·K ≥ 32768), with 0–2 batch dims (B shared
    or batched like A), and a random permutation of its result."""
    batch = draw(st.lists(st.integers(1, 3), max_size=2))
    m, n, k = (draw(st.integers(32, 64), label=d) for d in "mnk")
    b_batched = draw(st.booleans())
    perm = draw(st.permutations(range(len(batch) + 2)), label="perm")
    return tuple(batch) + (m, k), (tuple(batch) if b_batched else ()) + (k, n), perm


@prop(case=moved_products(), seed=seeds)
def test_matmul_result_random_permutation(pipeline, case, seed):
    """transpose(a @ b, perm): canonicalize may turn it into a transpose of bᵀ @ aᵀ, and
    linalg-fuse-elementwise may fold the transpose into the product, whose kernel then writes C's
    rows away from its columns — every permutation must still give NumPy's result."""
    sa, sb, perm = case
    rng = np.random.default_rng(seed)
    a, b = values(rng, "f32", sa, -1, 1), values(rng, "f32", sb, -1, 1)
    want = np.transpose(np.matmul(a.astype(np.float64), b), perm)
    src = (f"def f(a: {ty('f32', sa)}, b: {ty('f32', sb)}) -> {ty('f32', want.shape)}:\n"
           f"    return transpose(a @ b, {tup(perm)})\n")
    f = compiler.loads(src, name="prop.loom", **how(pipeline)).f
    got = f(a, b)
    assert got.shape == want.shape and got.dtype == np.float32
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4 * sa[-1])
    if pipeline == "jit" and host_isa() != "none":  # and the product ran in the kernel, however C lies
        assert uses_kernel(f, a, b)


def _divisors(m: int) -> list[int]:
    return [d for d in range(1, m + 1) if m % d == 0]


@st.composite
def factorizations(draw, n: int):
    """A random shape with `n` elements (sizes may be 1), of rank 1 to 5."""
    dims, m = [], n
    for _ in range(draw(st.integers(0, 4))):
        d = draw(st.sampled_from(_divisors(m)))
        dims.append(d)
        m //= d
    dims.append(m)
    return draw(st.permutations(dims))


@prop(shape=hnp.array_shapes(min_dims=1, max_dims=4, min_side=1, max_side=5), data=st.data(), dt=dtypes,
       seed=seeds)
def test_reshape_random_factorization(pipeline, shape, data, dt, seed):
    n = int(np.prod(shape))
    new = list(data.draw(factorizations(n), label="new shape"))
    written = list(new)
    if data.draw(st.booleans(), label="infer one dim"):
        written[data.draw(st.integers(0, len(new) - 1), label="-1 at")] = -1
    x = values(np.random.default_rng(seed), dt, shape)
    src = (f"def f(x: {ty(dt, shape)}) -> ({ty(dt, new)}, {ty(dt, shape)}):\n"
           f"    y = reshape(x, {tup(written)})\n"
           f"    return y, reshape(y, {tup(shape)})\n")
    got = call(src, pipeline, x)
    check(got[0], x.reshape(new), dt)
    check(got[1], x, dt)
