"""The typed expression grammar of the program generator (`gen.py`): types, and for a requested
type (`Ty`: element type and shape, dims static ints or symbolic names) a random expression of
exactly that type, so generated programs check by construction.

Productions: variables (and casts of them), literals, binary arithmetic with NumPy broadcasting,
comparisons and logic, unary builtins, `maximum/minimum/where`, reductions with `axis=`/`keepdims=`,
`argmax/argmin`, `@` (1-D, 2-D, batched), static indices and slices (steps included), dynamic
indices, casts, `transpose/reshape/broadcast_to/concat/stack`, creation builtins, random numbers,
nn helpers, calls of helper functions (symbolic dims bound at the call), `x.shape[k]` and
symbolic dims as values. A shape is only requested when a leaf of it can be built
(`leafable`: static, or a variable's shape or a reduction of one).
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass

import numpy as np

FLOATS = ("f32", "f64")
INTS = ("i32", "i64")
NUMERIC = FLOATS + INTS
DTYPES = NUMERIC + ("bool",)
NP = {"f32": np.float32, "f64": np.float64, "i32": np.int32, "i64": np.int64, "bool": np.bool_}
SYMBOLS = ("B", "N")  # the entry's symbolic dims
HELPER_SYMBOLS = ("M", "K")
FLOAT_LITERALS = ("0.5", "1.5", "2.0", "0.25", "3.0", "1e-3", ".5", "10.0")
UNARY_FLOAT = ("exp", "log", "sqrt", "rsqrt", "tanh", "sigmoid", "gelu", "sin", "cos")
UNARY_NUMERIC = ("relu", "abs", "sign")


@dataclass(frozen=True)
class Ty:
    dtype: str
    shape: tuple = ()

    def __str__(self) -> str:
        return self.dtype if not self.shape else f"{self.dtype}[{', '.join(map(str, self.shape))}]"

    @property
    def static(self) -> bool:
        return all(isinstance(d, int) for d in self.shape)


@dataclass
class Helper:
    name: str
    params: list[tuple[str, Ty]]
    result: Ty



def random_array(rng: np.random.Generator, dtype: str, shape: tuple, special: float = 0.0):
    if dtype == "bool":
        a = rng.random(shape) < 0.5
    elif dtype in FLOATS:
        a = rng.uniform(-3, 3, shape).astype(NP[dtype])
        if special:
            mask = rng.random(shape) < special
            picks = np.array([0.0, np.inf, -np.inf, np.nan, 1e30, -1e-30], dtype=NP[dtype])
            a = np.where(mask, picks[rng.integers(0, len(picks), shape)], a).astype(NP[dtype])
    else:
        a = rng.integers(-5, 6, shape).astype(NP[dtype])
        if special:
            info = np.iinfo(NP[dtype])
            mask = rng.random(shape) < special
            picks = np.array([0, info.max, info.min, -1], dtype=NP[dtype])
            a = np.where(mask, picks[rng.integers(0, len(picks), shape)], a).astype(NP[dtype])
    return NP[dtype](a) if shape == () else a


def tup(xs) -> str:
    xs = list(xs)
    return "(" + ", ".join(map(str, xs)) + ("," if len(xs) == 1 else "") + ")"


class ExprGen:
    """Expressions over the variables in scope (`env`: name -> type); `FunctionGen` adds statements."""

    def __init__(self, rng: random.Random, helpers: list[Helper], env: dict[str, Ty], symbols: tuple,
                 max_depth: int = 3):
        self.r = rng
        self.helpers = helpers
        self.env = dict(env)
        self.symbols = symbols
        self.max_depth = max_depth
        self.lines: list[str] = []
        self.counter = 0
        self.loop_vars: set[str] = set()

    # ------------------------------------------------------------------ types
    def fresh(self, prefix="v") -> str:
        self.counter += 1
        return f"{prefix}{self.counter}"

    def shapes_in_scope(self) -> list[tuple]:
        return sorted({t.shape for t in self.env.values()}, key=str)

    def leafable(self, shape: tuple) -> bool:
        """A shape an expression can always be built for: static, or (a reduction of) a variable's."""
        if all(isinstance(d, int) for d in shape):
            return True
        return any(_subsequence(shape, t.shape) for t in self.env.values())

    def random_type(self, dtypes=DTYPES) -> Ty:
        r = self.r
        dt = r.choice(dtypes)
        mine = [t for t in self.env.values() if t.dtype in dtypes]
        if mine and r.random() < 0.5:
            return r.choice(sorted(mine, key=str))
        if r.random() < 0.5:
            shape = r.choice(self.shapes_in_scope() or [()])
        elif r.random() < 0.3:
            shape = ()
        else:
            shape = tuple(r.choice([1, 2, 3, 4]) for _ in range(r.choice([1, 1, 2, 2, 3])))
        if not self.leafable(shape):
            shape = ()
        return Ty(dt, shape)

    def vars_of(self, pred) -> list[str]:
        return sorted(n for n, t in self.env.items() if pred(t))

    # ------------------------------------------------------------------ expressions
    def expr(self, ty: Ty, depth: int = 0) -> str:
        assert self.leafable(ty.shape), ty
        r = self.r
        if depth >= self.max_depth or r.random() < 0.25:
            return self.leaf(ty)
        prods = [self.p_binary, self.p_binary, self.p_unary, self.p_where, self.p_reduce, self.p_cast,
                 self.p_index, self.p_call, self.p_minmax]
        if ty.dtype == "bool":
            prods += [self.p_compare, self.p_compare, self.p_logic]
        if ty.dtype in NUMERIC:
            prods += [self.p_matmul, self.p_shape_op, self.p_neg]
        if ty.dtype in FLOATS:
            prods += [self.p_nn, self.p_random]
        if ty.dtype == "i64" and ty.shape == ():
            prods += [self.p_size, self.p_argmax]
        if ty.dtype == "i64" and len(ty.shape) == 1 and isinstance(ty.shape[0], int):
            prods += [self.p_arange]
        if ty.dtype == "f32" and ty.shape and isinstance(ty.shape[-1], int):
            prods += [self.p_one_hot]
        r.shuffle(prods)
        for p in prods:
            out = p(ty, depth + 1)
            if out is not None:
                return out
        return self.leaf(ty)

    def leaf(self, ty: Ty) -> str:
        r = self.r
        exact = self.vars_of(lambda t: t == ty)
        if exact and r.random() < 0.8:
            return r.choice(exact)
        same_shape = self.vars_of(lambda t: t.shape == ty.shape)
        if same_shape and r.random() < 0.5:
            return f"{ty.dtype}({r.choice(same_shape)})"
        if ty.static:
            return self.creation(ty)
        bigger = [(n, t) for n, t in sorted(self.env.items()) if _subsequence(ty.shape, t.shape)
                  and t.dtype != "bool"]
        if bigger:
            n, t = r.choice(bigger)
            axes = _extra_axes(ty.shape, t.shape)
            inner = f"sum({n}, axis={tup(axes)})" if axes else n
            return inner if t.dtype == ty.dtype else f"{ty.dtype}({inner})"
        n = r.choice(same_shape) if same_shape else None
        if n is None:  # only bool variables of a bigger shape
            n, t = next((n, t) for n, t in sorted(self.env.items()) if _subsequence(ty.shape, t.shape))
            return f"{ty.dtype}(sum(i64({n}), axis={tup(_extra_axes(ty.shape, t.shape))}))"
        return f"{ty.dtype}({n})"

    def literal(self, dtype: str) -> str:
        r = self.r
        if dtype == "bool":
            return r.choice(["true", "false"])
        if dtype in FLOATS:
            return r.choice(FLOAT_LITERALS)
        return str(r.choice([0, 1, 2, 3, 7, 100]))

    def creation(self, ty: Ty) -> str:
        r = self.r
        dt = ty.dtype
        if ty.shape == ():
            return f"{dt}({self.literal(dt)})"
        shape = tup(ty.shape)
        k = r.random()
        if dt == "bool":
            return f"({'zeros' if k < 0.5 else 'ones'}({shape}, i32) > 0)" if k < 0.8 else f"full({shape}, true)"
        if k < 0.3:
            return f"zeros({shape}, {dt})"
        if k < 0.6:
            return f"ones({shape}, {dt})"
        if k < 0.8 or dt in INTS:
            return f"full({shape}, {self.literal(dt)}, {dt})"
        return f"{'uniform' if r.random() < 0.5 else 'normal'}({shape}, seed={r.randint(0, 9)}, dtype={dt})"

    def operand_shape(self, shape: tuple) -> tuple:
        """A shape that broadcasts to `shape` (never widens it)."""
        r = self.r
        if r.random() < 0.5:
            return shape
        drop = r.randint(0, len(shape))
        out = tuple(1 if (isinstance(d, int) and r.random() < 0.3) or (isinstance(d, str) and r.random() < 0.15)
                    else d for d in shape[drop:])
        return out if self.leafable(out) else shape

    def p_binary(self, ty: Ty, depth: int):
        r = self.r
        dt = ty.dtype
        if dt == "bool":
            return None
        ops = ["+", "-", "*"] + (["/", "**"] if dt in FLOATS else ["//", "%", "**"])
        if dt in FLOATS and r.random() < 0.2:
            ops += ["//", "%"]
        op = r.choice(ops)
        a = self.expr(ty, depth)
        if op == "**" and dt in INTS:
            return f"({a} ** {r.choice([0, 1, 2, 3])})"
        if r.random() < 0.3:
            b = self.literal(dt)
        else:
            b = self.expr(Ty(dt, self.operand_shape(ty.shape)), depth)
        if op in ("//", "%") and dt in INTS and r.random() < 0.9:  # mostly a non-zero divisor
            b = str(r.choice([1, 2, 3, -2])) if _weak(b) else f"({b} % 3 + 1)"
        if op == "**" and r.random() < 0.7:
            a = f"abs({a})"
        if r.random() < 0.5 and op not in ("//", "%"):
            a, b = b, a
        if _weak(a) and _weak(b):
            a = f"{dt}({a})"
        return f"({a} {op} {b})"

    def p_neg(self, ty: Ty, depth: int):
        return f"(-{self.expr(ty, depth)})"

    def p_compare(self, ty: Ty, depth: int):
        dt = self.r.choice(NUMERIC)
        a = self.expr(Ty(dt, ty.shape), depth)
        b = self.literal(dt) if self.r.random() < 0.4 else self.expr(Ty(dt, self.operand_shape(ty.shape)), depth)
        return f"({a} {self.r.choice(['<', '<=', '>', '>=', '==', '!='])} {b})"

    def p_logic(self, ty: Ty, depth: int):
        if self.r.random() < 0.3:
            return f"(not {self.expr(ty, depth)})"
        return f"({self.expr(ty, depth)} {self.r.choice(['and', 'or'])} {self.expr(ty, depth)})"

    def p_unary(self, ty: Ty, depth: int):
        dt = ty.dtype
        if dt in FLOATS:
            fn = self.r.choice(UNARY_FLOAT + UNARY_NUMERIC)
            inner = self.expr(ty, depth)
            if fn in ("log", "sqrt", "rsqrt") and self.r.random() < 0.7:
                inner = f"abs({inner})"
            return f"{fn}({inner})"
        if dt in INTS:
            return f"{self.r.choice(UNARY_NUMERIC)}({self.expr(ty, depth)})"
        return None

    def p_minmax(self, ty: Ty, depth: int):
        if ty.dtype == "bool":
            return None
        a, b = self.expr(ty, depth), self.expr(Ty(ty.dtype, self.operand_shape(ty.shape)), depth)
        return f"{self.r.choice(['maximum', 'minimum'])}({a}, {b})"

    def p_where(self, ty: Ty, depth: int):
        c = self.expr(Ty("bool", self.operand_shape(ty.shape)), depth)
        a = self.expr(ty, depth)
        b = self.literal(ty.dtype) if self.r.random() < 0.3 else self.expr(Ty(ty.dtype, self.operand_shape(ty.shape)), depth)
        if self.r.random() < 0.5:
            a, b = b, a
        if _weak(a) and _weak(b):
            a = f"{ty.dtype}({a})"
        return f"where({c}, {a}, {b})"

    def p_cast(self, ty: Ty, depth: int):
        src = self.r.choice([d for d in DTYPES if d != ty.dtype])
        return f"{ty.dtype}({self.expr(Ty(src, ty.shape), depth)})"

    def extra_dim(self):
        r = self.r
        syms = [s for s in self.symbols if r.random() < 0.3]
        return syms[0] if syms else r.choice([1, 2, 3, 4])

    def p_reduce(self, ty: Ty, depth: int):
        r = self.r
        dt = ty.dtype
        k = r.randint(0, len(ty.shape))
        e = self.extra_dim()
        keep = r.random() < 0.25 and len(ty.shape) > 0 and ty.shape[min(k, len(ty.shape) - 1)] == 1
        if keep:
            k = min(k, len(ty.shape) - 1)
            inner = ty.shape[:k] + (e,) + ty.shape[k + 1:]
        else:
            inner = ty.shape[:k] + (e,) + ty.shape[k:]
        if not self.leafable(inner):
            return None
        if dt == "bool":
            fn = r.choice(["any", "all"])
        elif dt in FLOATS:
            fn = r.choice(["sum", "mean", "max", "min", "prod", "sum"])
        else:
            fn = r.choice(["sum", "max", "min", "prod", "sum"])
        axis = k if r.random() < 0.6 else k - len(inner)
        if ty.shape == () and r.random() < 0.5:
            return f"{fn}({self.expr(Ty(dt, inner), depth)})"
        kd = ", keepdims=true" if keep else ""
        return f"{fn}({self.expr(Ty(dt, inner), depth)}, axis={axis}{kd})"

    def p_argmax(self, ty: Ty, depth: int):
        dt = self.r.choice(NUMERIC)
        shape = (self.r.choice([1, 2, 3, 4]),) if self.r.random() < 0.5 else (2, 3)
        return f"{self.r.choice(['argmax', 'argmin'])}({self.expr(Ty(dt, shape), depth)})"

    def p_matmul(self, ty: Ty, depth: int):
        r = self.r
        dt, s = ty.dtype, ty.shape
        k = r.choice([1, 2, 3, 4])
        if len(s) == 0:
            a, b = (k,), (k,)
        elif len(s) == 1:
            a, b = ((k,), (k, s[0])) if r.random() < 0.5 else ((s[0], k), (k,))
        elif len(s) == 2:
            a, b = (s[0], k), (k, s[1])
        else:
            a = s[:-2] + (s[-2], k)  # batched; b broadcast over the batch or batched too
            b = (k, s[-1]) if r.random() < 0.5 else s[:-2] + (k, s[-1])
        if not (self.leafable(a) and self.leafable(b)):
            return None
        return f"({self.expr(Ty(dt, a), depth)} @ {self.expr(Ty(dt, b), depth)})"

    def p_index(self, ty: Ty, depth: int):
        r = self.r
        kind = r.choice(["static", "dynamic", "slice", "step", "second"])
        if kind == "second" and len(ty.shape) >= 1:
            d = r.choice([2, 3, 4])
            inner = ty.shape[:1] + (d,) + ty.shape[1:]
            if not self.leafable(inner):
                return None
            return f"({self.expr(Ty(ty.dtype, inner), depth)})[:, {r.randint(-d, d - 1)}]"
        if kind in ("static", "dynamic"):
            d = r.choice([1, 2, 3, 4])
            inner = (d,) + ty.shape
            if not self.leafable(inner):
                return None
            x = f"({self.expr(Ty(ty.dtype, inner), depth)})"
            if kind == "static":
                return f"{x}[{r.randint(-d, d - 1)}]"
            i = self.expr(Ty("i64", ()), depth + 1)
            # unwrapped, sometimes: out of range at run time — unless the index is a constant (no
            # variable in it), which the checker rejects at once
            varying = any(re.search(rf"\b{n}\b", i) for n in self.env)
            return f"{x}[{i}]" if varying and r.random() < 0.15 else f"{x}[{i} % {d}]"
        if not ty.shape or not isinstance(ty.shape[0], int):
            return None
        n = ty.shape[0]
        if kind == "slice":
            d = n + r.randint(0, 3)
            if not self.leafable((d,) + ty.shape[1:]):
                return None
            a = r.randint(0, d - n)
            lo = a if r.random() < 0.7 else a - d
            hi = a + n if r.random() < 0.7 or a + n == d else a + n - d
            x = f"({self.expr(Ty(ty.dtype, (d,) + ty.shape[1:]), depth)})"
            return f"{x}[{lo}:{hi}]" if not (lo == 0 and hi == d and r.random() < 0.5) else f"{x}[:]"
        step = r.choice([2, 3, -1, -2])
        d = abs(step) * n - r.randint(0, abs(step) - 1)
        if not self.leafable((d,) + ty.shape[1:]):
            return None
        x = f"({self.expr(Ty(ty.dtype, (d,) + ty.shape[1:]), depth)})"
        return f"{x}[::{step}]"

    def p_shape_op(self, ty: Ty, depth: int):
        r = self.r
        s = ty.shape
        k = r.choice(["transpose", "reshape", "concat", "stack", "broadcast"])
        if k == "transpose" and len(s) == 2 and self.leafable((s[1], s[0])):
            return f"transpose({self.expr(Ty(ty.dtype, (s[1], s[0])), depth)})"
        if k == "transpose" and len(s) == 3 and self.leafable((s[2], s[0], s[1])):
            return f"transpose({self.expr(Ty(ty.dtype, (s[2], s[0], s[1])), depth)}, (1, 2, 0))"
        if not ty.static or not s:
            return None
        if k == "reshape":
            n = int(np.prod(s))
            other = r.choice([(n,), (1, n), (n, 1)] + ([(2, n // 2)] if n % 2 == 0 else []))
            target = tup(s) if r.random() < 0.8 or len(s) < 2 else tup((-1,) + s[1:])
            return f"reshape({self.expr(Ty(ty.dtype, other), depth)}, {target})"
        if k == "broadcast":
            return f"broadcast_to({self.expr(Ty(ty.dtype, self.operand_shape(s)), depth)}, {tup(s)})"
        ax = r.randrange(len(s))
        if k == "stack":
            parts = [self.expr(Ty(ty.dtype, s[:ax] + s[ax + 1:]), depth) for _ in range(s[ax])]
            return f"stack({tup(parts)}, axis={ax})"
        if s[ax] < 2:
            return None
        cut = r.randint(1, s[ax] - 1)
        a = self.expr(Ty(ty.dtype, s[:ax] + (cut,) + s[ax + 1:]), depth)
        b = self.expr(Ty(ty.dtype, s[:ax] + (s[ax] - cut,) + s[ax + 1:]), depth)
        return f"concat(({a}, {b}), axis={ax})"

    def p_nn(self, ty: Ty, depth: int):
        r = self.r
        if not ty.shape:
            inner = (r.choice([2, 3]),)
            return f"logsumexp({self.expr(Ty(ty.dtype, inner), depth)})"
        ax = r.randrange(len(ty.shape)) - (len(ty.shape) if r.random() < 0.5 else 0)
        fn = r.choice(["softmax", "log_softmax", "layer_norm"])
        return f"{fn}({self.expr(ty, depth)}, axis={ax})"

    def p_random(self, ty: Ty, depth: int):
        if not ty.static or not ty.shape:
            return None
        seed = self.expr(Ty("i64", ()), depth + 1) if self.r.random() < 0.5 else str(self.r.randint(0, 99))
        return f"{self.r.choice(['uniform', 'normal'])}({tup(ty.shape)}, seed={seed}, dtype={ty.dtype})"

    def p_size(self, ty: Ty, depth: int):
        shaped = self.vars_of(lambda t: len(t.shape) > 0)
        if shaped and self.r.random() < 0.6:
            n = self.r.choice(shaped)
            return f"{n}.shape[{self.r.randrange(len(self.env[n].shape))}]"
        syms = [s for s in self.symbols if any(s in t.shape for t in self.env.values())]
        return self.r.choice(syms) if syms else None

    def p_arange(self, ty: Ty, depth: int):
        return f"arange({ty.shape[0]})"

    def p_one_hot(self, ty: Ty, depth: int):
        inner = ty.shape[:-1]
        if not self.leafable(inner):
            return None
        return f"one_hot({self.expr(Ty('i64', inner), depth)}, {ty.shape[-1]})"

    def p_call(self, ty: Ty, depth: int):
        r = self.r
        options = []
        for h in self.helpers:
            b = _unify(h.result, ty)
            if b is not None:
                options.append((h, b))
        if not options:
            return None
        h, bind = r.choice(options)
        args = []
        for pname, pt in h.params:
            shape = []
            for d in pt.shape:
                if isinstance(d, str) and d not in bind:
                    bind[d] = r.choice([1, 2, 3])
                shape.append(bind[d] if isinstance(d, str) else d)
            shape = tuple(shape)
            if not self.leafable(shape):
                return None
            args.append((pname, self.expr(Ty(pt.dtype, shape), depth)))
        if r.random() < 0.2:
            return f"{h.name}({', '.join(f'{n}={a}' for n, a in reversed(args))})"
        return f"{h.name}({', '.join(a for _, a in args)})"


def _subsequence(small: tuple, big: tuple) -> bool:
    it = iter(big)
    return all(any(d == b for b in it) for d in small)


def _extra_axes(small: tuple, big: tuple) -> tuple:
    axes, j = [], 0
    for k, d in enumerate(big):
        if j < len(small) and small[j] == d:
            j += 1
        else:
            axes.append(k)
    return tuple(axes)


def _weak(s: str) -> bool:
    return s in ("true", "false") or s.lstrip("-").replace(".", "", 1).replace("e-", "", 1).isdigit()


def _unify(pattern: Ty, ty: Ty) -> dict | None:
    if pattern.dtype != ty.dtype or len(pattern.shape) != len(ty.shape):
        return None
    bind: dict = {}
    for p, d in zip(pattern.shape, ty.shape):
        if isinstance(p, int):
            if p != d:
                return None
        elif bind.setdefault(p, d) != d:
            return None
    return bind
