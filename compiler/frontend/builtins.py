"""The builtins of LANGUAGE.md §7: their signatures and checking rules (their IR emitters are
in `emit_builtins.py`, keyed by the same names).

`check_*(fc, e, a)` receives the `FunctionChecker`, the call node and its arguments bound to
parameter names (`a`: name → AST node); it returns the result's checker value and may record
static facts (`fc.rec(e, value, key=…)`) that the emitter reads.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass

from compiler.frontend import ast as A
from compiler.frontend.check_common import broadcast, dim_add, err
from compiler.frontend.types import FLOATS, INTS, RV, DTypeV, StrV, TensorT, TupleV, fmt_shape

_MISSING = object()


@dataclass
class Builtin:
    params: tuple[str, ...]  # parameter names; a trailing '?' marks an optional one
    check: Callable
    varargs: bool = False


def bind_args(e: A.Call, name: str, params: tuple[str, ...]) -> dict[str, A.Expr | None]:
    names = [p.rstrip("?") for p in params]
    required = [p for p in params if not p.endswith("?")]
    if len(e.args) > len(names):
        raise err(f"{name}() takes at most {len(names)} argument(s), got {len(e.args)}", e.span)
    out: dict[str, A.Expr | None] = dict(zip(names, e.args))
    for k in e.kwargs:
        if k.name not in names:
            raise err(f"{name}() has no parameter '{k.name}' (parameters: {', '.join(names)})", k.span)
        if k.name in out:
            raise err(f"{name}() got '{k.name}' twice", k.span)
        out[k.name] = k.value
    for p in required:
        if p not in out:
            raise err(f"{name}() is missing its argument '{p}'", e.span)
    for p in names:
        out.setdefault(p, None)
    return out


def check_builtin(fc, e: A.Call, name: str):
    b = BUILTINS[name]
    if b.varargs:
        if e.kwargs:
            raise err(f"{name}() takes no keyword arguments", e.kwargs[0].span)
        a = {"*": e.args}
    else:
        a = bind_args(e, name, b.params)
    return b.check(fc, e, a)


# ------------------------------------------------------------------ static arguments
def tensor_arg(fc, node: A.Expr, what: str) -> RV:
    return fc.rv(fc.expr(node), node.span)


def int_const(fc, node: A.Expr | None, what: str, default=_MISSING):
    if node is None:
        if default is _MISSING:
            raise err(f"{what} is required", None)
        return default
    v = fc.expr(node)
    if not isinstance(v, RV) or not isinstance(v.const, int) or isinstance(v.const, bool) or v.type.dtype not in INTS:
        raise err(f"{what} must be an integer constant", node.span)
    return v.const


def bool_const(fc, node: A.Expr | None, what: str) -> bool:
    if node is None:
        return False
    v = fc.expr(node)
    if not isinstance(v, RV) or not isinstance(v.const, bool):
        raise err(f"{what} must be true or false", node.span)
    return v.const


def dtype_arg(fc, node: A.Expr | None, default: str | None) -> str | None:
    if node is None:
        return default
    v = fc.expr(node)
    if not isinstance(v, DTypeV):
        raise err("expected an element type (f32, f64, i32, i64 or bool)", node.span)
    return v.dtype


def shape_arg(fc, node: A.Expr, what: str = "a shape") -> tuple:
    """A static shape: a tuple (or one) of integer constants or sizes such as `x.shape[0]`."""
    v = fc.expr(node)
    elts = v.elts if isinstance(v, TupleV) else [v]
    dims = []
    for x in elts:
        if not isinstance(x, RV) or x.type.dtype not in INTS or not x.type.is_scalar or x.const is None \
                or isinstance(x.const, bool):
            raise err(f"{what} must be a tuple of integer constants (static sizes)", node.span)
        if isinstance(x.const, int) and x.const < -1:
            raise err(f"{what} has a negative size {x.const}", node.span)
        dims.append(x.const)
    return tuple(dims)


def axes_arg(fc, node: A.Expr | None, rank: int, what: str = "axis") -> list[int] | None:
    if node is None:
        return None
    v = fc.expr(node)
    elts = v.elts if isinstance(v, TupleV) else [v]
    out = []
    for x in elts:
        if not isinstance(x, RV) or not isinstance(x.const, int) or isinstance(x.const, bool):
            raise err(f"{what} must be an integer constant or a tuple of them", node.span)
        if not -rank <= x.const < rank:
            raise err(f"{what} {x.const} is out of range for a value of rank {rank}", node.span)
        k = x.const % rank
        if k in out:
            raise err(f"{what} {x.const} is repeated", node.span)
        out.append(k)
    return sorted(out)


def ranked(fc, v: RV, node: A.Expr, name: str) -> None:
    if not v.type.ranked:
        raise err(f"{name}() needs a value of known rank", node.span)


def float_dtype(fc, v: RV, node: A.Expr, name: str) -> str:
    if v.weak:
        if v.type.dtype == "bool":
            raise err(f"{name}() needs a float argument", node.span)
        return "f32"
    if v.type.dtype not in FLOATS:
        raise err(f"{name}() needs a float argument, got {v.type}; convert with f32(...)", node.span)
    return v.type.dtype


def numeric_dtype(fc, v: RV, node: A.Expr, name: str) -> str:
    if v.type.dtype == "bool":
        raise err(f"{name}() needs a numeric argument, got {v.type}", node.span)
    return v.type.dtype


# ------------------------------------------------------------------ elementwise
UNARY_FLOAT = ("exp", "log", "sqrt", "rsqrt", "tanh", "sigmoid", "gelu", "sin", "cos")
UNARY_NUMERIC = ("relu", "abs", "sign")


def check_unary(fc, e, a):
    name = e.func.id
    x = tensor_arg(fc, a["x"], name)
    dt = float_dtype(fc, x, a["x"], name) if name in UNARY_FLOAT else numeric_dtype(fc, x, a["x"], name)
    return fc.rec(e, RV(x.type.with_dtype(dt), weak=x.weak), dtype=dt)


def check_minmax2(fc, e, a):
    x, y = tensor_arg(fc, a["a"], "a"), tensor_arg(fc, a["b"], "b")
    dt, weak = fc.unify(x, y, e.span)
    if dt == "bool":
        raise err(f"{e.func.id}() needs numeric arguments", e.span)
    shape = broadcast(x.type.shape, y.type.shape, e.span)
    return fc.rec(e, RV(TensorT(dt, shape), weak=weak), dtype=dt)


def check_where(fc, e, a):
    c = tensor_arg(fc, a["cond"], "cond")
    if c.type.dtype != "bool":
        raise err(f"where() needs a bool condition, got {c.type}", a["cond"].span)
    x, y = tensor_arg(fc, a["a"], "a"), tensor_arg(fc, a["b"], "b")
    dt, weak = fc.unify(x, y, e.span)
    shape = broadcast(c.type.shape, broadcast(x.type.shape, y.type.shape, e.span), e.span)
    return fc.rec(e, RV(TensorT(dt, shape), weak=weak), dtype=dt)


# ------------------------------------------------------------------ reductions
REDUCTIONS = ("sum", "mean", "max", "min", "prod", "any", "all", "argmax", "argmin")


def check_reduce(fc, e, a):
    name = e.func.id
    x = tensor_arg(fc, a["x"], name)
    dt = x.type.dtype
    if x.weak:
        dt = "f32" if name == "mean" else dt
    if name in ("any", "all") and dt != "bool":
        raise err(f"{name}() needs bool values, got {x.type}", a["x"].span)
    if name not in ("any", "all") and dt == "bool":
        raise err(f"{name}() of bool values; convert with i64(x) first", a["x"].span)
    if name == "mean" and dt not in FLOATS:
        raise err(f"mean() needs float values, got {x.type}; convert with f32(...)", a["x"].span)
    keep = bool_const(fc, a["keepdims"], "keepdims")
    if not x.type.ranked:
        if a["axis"] is not None or keep:
            raise err(f"{name}() with an axis needs a value of known rank", e.span)
        out_dt = "i64" if name.startswith("arg") else dt
        return fc.rec(e, RV(TensorT(out_dt)), axes=[], keepdims=False, dtype=dt)
    rank = x.type.rank
    if name.startswith("arg") and a["axis"] is not None:
        axv = fc.expr(a["axis"])
        if isinstance(axv, TupleV):
            raise err(f"{name}() takes a single axis", a["axis"].span)
    if a["axis"] is not None and isinstance(fc.expr(a["axis"]), RV) and not isinstance(fc.expr(a["axis"]).const, int):
        raise err(f"axis must be an integer constant or a tuple of them (for the elementwise "
                  f"{'maximum' if name == 'max' else 'minimum'} of two values use "
                  f"{'maximum' if name == 'max' else 'minimum'}(a, b))" if name in ("max", "min")
                  else "axis must be an integer constant or a tuple of them", a["axis"].span)
    axes = axes_arg(fc, a["axis"], max(rank, 1) if rank else 0) if a["axis"] is not None else list(range(rank))
    if rank == 0 and a["axis"] is not None:
        raise err(f"{name}() of a scalar takes no axis", a["axis"].span)
    if name.startswith("arg") and a["axis"] is None and keep:
        raise err(f"{name}() without an axis cannot keep dimensions", a["keepdims"].span)
    if keep:
        shape = tuple(1 if i in axes else d for i, d in enumerate(x.type.shape))
    else:
        shape = tuple(d for i, d in enumerate(x.type.shape) if i not in axes)
    out_dt = "i64" if name.startswith("arg") else dt
    return fc.rec(e, RV(TensorT(out_dt, shape)), axes=axes, keepdims=keep, dtype=dt)


# ------------------------------------------------------------------ shape manipulation
def _numel(dims) -> tuple[int, Counter]:
    n, syms = 1, Counter()
    for d in dims:
        if isinstance(d, int):
            n *= d
        else:
            syms[d] += 1
    return n, syms


def check_reshape(fc, e, a):
    x = tensor_arg(fc, a["x"], "reshape")
    ranked(fc, x, a["x"], "reshape")
    dims = list(shape_arg(fc, a["shape"]))
    if dims.count(-1) > 1:
        raise err("reshape() can infer at most one dimension (-1)", a["shape"].span)
    n_in, s_in = _numel(x.type.shape)
    known = [d for d in dims if d != -1]
    n_out, s_out = _numel(known)
    if -1 in dims:
        if s_out - s_in:
            raise err(f"reshape() cannot infer -1 from {x.type} to {fmt_shape(tuple(dims))}", a["shape"].span)
        rest = s_in - s_out
        if n_out == 0 or n_in % n_out:
            raise err(f"cannot reshape {x.type} to {fmt_shape(tuple(dims))}", e.span)
        q = n_in // n_out
        inferred = q if not rest else "*".join([str(q)] * (q != 1) + sorted(rest.elements()))
        dims[dims.index(-1)] = inferred
    elif n_in != n_out or s_in != s_out:
        raise err(f"cannot reshape {x.type} ({_size_str(n_in, s_in)} elements) to {fmt_shape(tuple(dims))} "
                  f"({_size_str(n_out, s_out)} elements)", e.span)
    return fc.rec(e, RV(TensorT(x.type.dtype, tuple(dims))))


def _size_str(n: int, syms: Counter) -> str:
    return "*".join([str(n)] * (n != 1 or not syms) + sorted(syms.elements()))


def check_transpose(fc, e, a):
    x = tensor_arg(fc, a["x"], "transpose")
    ranked(fc, x, a["x"], "transpose")
    r = x.type.rank
    if a["axes"] is None:
        perm = list(reversed(range(r)))
    else:
        v = fc.expr(a["axes"])
        elts = v.elts if isinstance(v, TupleV) else None
        if elts is None or not all(isinstance(t, RV) and isinstance(t.const, int) for t in elts):
            raise err("transpose() axes must be a tuple of integer constants", a["axes"].span)
        perm = [t.const % r if -r <= t.const < r else t.const for t in elts]
        if sorted(perm) != list(range(r)):
            raise err(f"transpose() axes {tuple(t.const for t in elts)} are not a permutation of the {r} axes "
                      f"of {x.type}", a["axes"].span)
    shape = tuple(x.type.shape[i] for i in perm)
    return fc.rec(e, RV(TensorT(x.type.dtype, shape)), perm=perm)


def check_broadcast_to(fc, e, a):
    x = tensor_arg(fc, a["x"], "broadcast_to")
    dims = shape_arg(fc, a["shape"])
    if -1 in dims:
        raise err("broadcast_to() needs explicit sizes", a["shape"].span)
    if broadcast(x.type.shape, dims, e.span, "the value and the target shape") != dims:
        raise err(f"cannot broadcast {x.type} to {fmt_shape(dims)}", e.span)
    dt = "f32" if x.weak and x.type.dtype in FLOATS else x.type.dtype
    return fc.rec(e, RV(TensorT(dt, dims)), dtype=dt)


def _tensor_tuple(fc, node: A.Expr, name: str) -> list[RV]:
    v = fc.expr(node)
    if not isinstance(v, TupleV) or not v.elts:
        raise err(f"{name}() takes a non-empty tuple of tensors, e.g. {name}((a, b), axis=0)", node.span)
    out = [fc.rv(x, node.span) for x in v.elts]
    for x in out:
        if x.weak or not x.type.ranked:
            raise err(f"{name}() needs tensors of known rank", node.span)
    if len({x.type.dtype for x in out}) > 1:
        raise err(f"{name}() of mixed element types: " + ", ".join(str(x.type) for x in out), node.span)
    return out


def check_concat(fc, e, a):
    xs = _tensor_tuple(fc, a["xs"], "concat")
    r = xs[0].type.rank
    if r == 0 or any(x.type.rank != r for x in xs):
        raise err("concat() needs tensors of the same rank >= 1: " + ", ".join(str(x.type) for x in xs), a["xs"].span)
    ax = (axes_arg(fc, a["axis"], r) or [0])[0] if a["axis"] is not None else 0
    total = xs[0].type.shape[ax]
    for x in xs[1:]:
        for i in range(r):
            if i != ax and x.type.shape[i] != xs[0].type.shape[i]:
                raise err(f"concat() along axis {ax}: {xs[0].type} and {x.type} differ in axis {i}", a["xs"].span)
        total = dim_add(total, x.type.shape[ax])
    shape = tuple(total if i == ax else d for i, d in enumerate(xs[0].type.shape))
    return fc.rec(e, RV(TensorT(xs[0].type.dtype, shape)), axis=ax)


def check_stack(fc, e, a):
    xs = _tensor_tuple(fc, a["xs"], "stack")
    for x in xs[1:]:
        if x.type.shape != xs[0].type.shape:
            raise err(f"stack() needs tensors of one shape: {xs[0].type} and {x.type}", a["xs"].span)
    r = xs[0].type.rank
    ax = int_const(fc, a["axis"], "axis", 0)
    if not -(r + 1) <= ax <= r:
        raise err(f"axis {ax} is out of range for stacking values of rank {r}", a["axis"].span)
    ax %= r + 1
    s = list(xs[0].type.shape)
    shape = tuple(s[:ax] + [len(xs)] + s[ax:])
    return fc.rec(e, RV(TensorT(xs[0].type.dtype, shape)), axis=ax)


# ------------------------------------------------------------------ creation
def check_fill(fc, e, a):
    name = e.func.id
    dims = shape_arg(fc, a["shape"])
    if -1 in dims:
        raise err(f"{name}() needs explicit sizes", a["shape"].span)
    if name == "full":
        v = tensor_arg(fc, a["value"], "full")
        if not v.type.is_scalar:
            raise err(f"full() needs a scalar fill value, got {v.type}", a["value"].span)
        dt = dtype_arg(fc, a["dtype"], v.type.dtype)
        if v.weak:
            fc.coerce_dtype(v, dt, a["value"].span)
        elif v.type.dtype != dt:
            raise err(f"full() value of type {v.type} does not match dtype {dt}", a["value"].span)
        const = v.const if dims == () else None
    else:
        dt = dtype_arg(fc, a["dtype"], "f32")
        const = (0 if name == "zeros" else 1) if dims == () else None
        if const is not None:
            const = bool(const) if dt == "bool" else float(const) if dt in FLOATS else const
    return fc.rec(e, RV(TensorT(dt, dims), const=const), dtype=dt)


def check_like(fc, e, a):
    x = tensor_arg(fc, a["x"], e.func.id)
    dt = dtype_arg(fc, a["dtype"], x.type.dtype if not x.weak else ("f32" if x.type.dtype in FLOATS else "i64"))
    return fc.rec(e, RV(TensorT(dt, x.type.shape)), dtype=dt)


def check_arange(fc, e, a):
    v = fc.expr(a["n"])
    if not isinstance(v, RV) or v.type.dtype not in INTS or v.const is None or isinstance(v.const, bool):
        raise err("arange(n) needs a static integer n (a constant or a size such as x.shape[0])", a["n"].span)
    if isinstance(v.const, int) and v.const < 0:
        raise err(f"arange() of a negative size {v.const}", a["n"].span)
    return fc.rec(e, RV(TensorT("i64", (v.const,))))


def check_one_hot(fc, e, a):
    i = tensor_arg(fc, a["i"], "one_hot")
    if i.type.dtype not in INTS:
        raise err(f"one_hot() needs integer indices, got {i.type}", a["i"].span)
    ranked(fc, i, a["i"], "one_hot")
    n = int_const(fc, a["n"], "one_hot()'s n")
    if n <= 0:
        raise err("one_hot() needs n > 0", a["n"].span)
    dt = dtype_arg(fc, a["dtype"], "f32")
    return fc.rec(e, RV(TensorT(dt, tuple(i.type.shape) + (n,))), dtype=dt, n=n, idt="i64" if i.weak else i.type.dtype)


def check_random(fc, e, a):
    dims = shape_arg(fc, a["shape"])
    if -1 in dims:
        raise err(f"{e.func.id}() needs explicit sizes", a["shape"].span)
    if a["seed"] is None:
        raise err(f"{e.func.id}() needs a seed, e.g. {e.func.id}((3, 3), seed=0)", e.span)
    s = tensor_arg(fc, a["seed"], "seed")
    if not s.type.is_scalar or s.type.dtype not in INTS:
        raise err(f"the seed must be an integer scalar, got {s.type}", a["seed"].span)
    dt = dtype_arg(fc, a["dtype"], "f32")
    if dt not in FLOATS:
        raise err(f"{e.func.id}() generates floats (f32 or f64), not {dt}", a["dtype"].span)
    return fc.rec(e, RV(TensorT(dt, dims)))


# ------------------------------------------------------------------ neural-network helpers
def check_nn(fc, e, a):
    name = e.func.id
    x = tensor_arg(fc, a["x"], name)
    dt = float_dtype(fc, x, a["x"], name)
    ranked(fc, x, a["x"], name)
    if x.type.rank == 0:
        raise err(f"{name}() needs a tensor of rank >= 1", a["x"].span)
    if a["axis"] is not None and isinstance(fc.expr(a["axis"]), TupleV):
        raise err(f"{name}() takes a single axis", a["axis"].span)
    ax = axes_arg(fc, a["axis"], x.type.rank)[0] if a["axis"] is not None else x.type.rank - 1
    shape = x.type.shape
    if name == "logsumexp":
        shape = tuple(d for i, d in enumerate(shape) if i != ax)
    return fc.rec(e, RV(TensorT(dt, shape)), axis=ax, dtype=dt)


def check_cross_entropy(fc, e, a):
    z = tensor_arg(fc, a["logits"], "cross_entropy")
    dt = float_dtype(fc, z, a["logits"], "cross_entropy")
    ranked(fc, z, a["logits"], "cross_entropy")
    y = tensor_arg(fc, a["labels"], "cross_entropy")
    if y.type.dtype not in INTS:
        raise err(f"cross_entropy() needs integer labels, got {y.type}", a["labels"].span)
    if z.type.rank < 1 or not y.type.ranked or tuple(y.type.shape) != tuple(z.type.shape[:-1]):
        raise err(f"cross_entropy() needs logits [..., C] and labels [...]: got {z.type} and {y.type}", e.span)
    if not isinstance(z.type.shape[-1], int):
        raise err("cross_entropy() needs a static number of classes", a["logits"].span)
    return fc.rec(e, RV(TensorT(dt)), dtype=dt, ydt="i64" if y.weak else y.type.dtype)


# ------------------------------------------------------------------ print
def check_print(fc, e, a):
    for x in a["*"]:
        v = fc.expr(x)
        if isinstance(v, TupleV):
            for t in v.elts:
                fc.rv(t, x.span)
        elif not isinstance(v, StrV):
            fc.default_dtype(fc.rv(v, x.span), x.span)
    return fc.rec(e, TupleV([]))


def check_stop_gradient(fc, e, a):
    x = tensor_arg(fc, a["x"], "x")
    return fc.rec(e, RV(x.type, weak=x.weak), dtype=x.type.dtype)


BUILTINS: dict[str, Builtin] = {
    **{n: Builtin(("x",), check_unary) for n in UNARY_FLOAT + UNARY_NUMERIC},
    "maximum": Builtin(("a", "b"), check_minmax2),
    "minimum": Builtin(("a", "b"), check_minmax2),
    "where": Builtin(("cond", "a", "b"), check_where),
    **{n: Builtin(("x", "axis?", "keepdims?"), check_reduce) for n in REDUCTIONS},
    "reshape": Builtin(("x", "shape"), check_reshape),
    "transpose": Builtin(("x", "axes?"), check_transpose),
    "broadcast_to": Builtin(("x", "shape"), check_broadcast_to),
    "concat": Builtin(("xs", "axis?"), check_concat),
    "stack": Builtin(("xs", "axis?"), check_stack),
    "zeros": Builtin(("shape", "dtype?"), check_fill),
    "ones": Builtin(("shape", "dtype?"), check_fill),
    "full": Builtin(("shape", "value", "dtype?"), check_fill),
    "zeros_like": Builtin(("x", "dtype?"), check_like),
    "ones_like": Builtin(("x", "dtype?"), check_like),
    "arange": Builtin(("n",), check_arange),
    "one_hot": Builtin(("i", "n", "dtype?"), check_one_hot),
    "uniform": Builtin(("shape", "seed?", "dtype?"), check_random),
    "normal": Builtin(("shape", "seed?", "dtype?"), check_random),
    **{n: Builtin(("x", "axis?"), check_nn) for n in ("softmax", "log_softmax", "logsumexp", "layer_norm")},
    "cross_entropy": Builtin(("logits", "labels"), check_cross_entropy),
    "print": Builtin((), check_print, varargs=True),
    "stop_gradient": Builtin(("x",), check_stop_gradient),
}
