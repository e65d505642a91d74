"""A generator of well-typed random Loom programs: `generate(seed)` gives the source of a program
with helper functions and an entry function `f`, reproducibly.

Statements (`FunctionGen`): `=` (new names and rebinding), `op=`, functional updates `x[i] = …`,
`x[a:b] += …`, tuple assignment, `if/elif/else`, `for` over `range` (negative steps too) and
`while … bound K` (sometimes exceeding its bound: a run-time error). Inside a branch or loop a
name keeps its type, and names first bound there are not used after it (docs/language.md §11).
Expressions come from the typed grammar in `grammar.py`. A generated program the checker rejects
is reported as "rejected" by the campaign: look at those, they are generator or checker bugs.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from tests.fuzz.grammar import DTYPES, FLOATS, HELPER_SYMBOLS, SYMBOLS, ExprGen, Helper, Ty


@dataclass
class Generated:
    source: str
    seed: int
    entry: str = "f"


class FunctionGen(ExprGen):
    """One function body: statements over the variables in scope."""

    # ------------------------------------------------------------------ statements
    def emit(self, line: str, indent: int) -> None:
        self.lines.append("    " * indent + line)

    def block(self, n: int, indent: int, nested: int) -> None:
        for _ in range(n):
            self.statement(indent, nested)

    def statement(self, indent: int, nested: int) -> None:
        r = self.r
        k = r.random()
        if nested < 2 and k < 0.12:
            return self.s_if(indent, nested)
        if nested < 2 and k < 0.22:
            return self.s_for(indent, nested)
        if nested < 2 and k < 0.28:
            return self.s_while(indent, nested)
        if k < 0.38:
            return self.s_update(indent)
        if k < 0.45:
            return self.s_augmented(indent)
        if k < 0.5:
            return self.s_tuple(indent)
        if k < 0.55:
            return self.s_window(indent)
        mine = [n for n in self.env if n not in self.loop_vars]
        if mine and r.random() < 0.4:
            name = r.choice(sorted(mine))
            ty = self.env[name]
        else:
            name, ty = self.fresh(), self.random_type()
        self.emit(f"{name} = {self.expr(ty)}", indent)
        self.env[name] = ty

    def s_augmented(self, indent: int) -> None:
        names = self.vars_of(lambda t: t.dtype != "bool")
        names = [n for n in names if n not in self.loop_vars]
        if not names:
            return
        n = self.r.choice(names)
        t = self.env[n]
        op = self.r.choice(["+=", "-=", "*="] + (["/="] if t.dtype in FLOATS else []))
        self.emit(f"{n} {op} {self.expr(Ty(t.dtype, self.operand_shape(t.shape)))}", indent)

    def s_update(self, indent: int) -> None:
        names = [n for n in self.vars_of(lambda t: t.shape and isinstance(t.shape[0], int))
                 if n not in self.loop_vars]
        if not names:
            return
        n = self.r.choice(names)
        t = self.env[n]
        d = t.shape[0]
        if self.r.random() < 0.5:
            idx, part = str(self.r.randint(-d, d - 1)), t.shape[1:]
        elif self.r.random() < 0.5:
            idx, part = f"{self.expr(Ty('i64', ()), 2)} % {d}", t.shape[1:]
        else:
            a = self.r.randint(0, d - 1)
            b = self.r.randint(a + 1, d)
            idx, part = f"{a}:{b}", (b - a,) + t.shape[1:]
        op = self.r.choice(["=", "=", "+="]) if t.dtype != "bool" else "="
        shape = self.operand_shape(part)
        shape = shape if self.leafable(shape) else ()
        self.emit(f"{n}[{idx}] {op} {self.expr(Ty(t.dtype, shape))}", indent)

    def s_window(self, indent: int) -> None:
        """`s = … % (d - K + 1)` then the dynamic window `x[s:s+K]` (always in range)."""
        names = [n for n in self.vars_of(lambda t: t.shape and isinstance(t.shape[0], int) and t.shape[0] > 0)
                 if n not in self.loop_vars]
        if not names:
            return
        x = self.r.choice(names)
        t = self.env[x]
        k = self.r.randint(1, t.shape[0])
        s, v = self.fresh("s"), self.fresh()
        self.emit(f"{s} = {self.expr(Ty('i64', ()), 2)} % {t.shape[0] - k + 1}", indent)
        self.env[s] = Ty("i64", ())
        self.emit(f"{v} = {x}[{s}:{s}{self.r.choice(['+', ' + '])}{k}]", indent)
        self.env[v] = Ty(t.dtype, (k,) + t.shape[1:])

    def s_tuple(self, indent: int) -> None:
        names = [n for n in self.env if n not in self.loop_vars]
        if len(names) < 2:
            return
        a, b = self.r.sample(sorted(names), 2)
        self.emit(f"{a}, {b} = {self.expr(self.env[a])}, {self.expr(self.env[b])}", indent)

    def scoped(self, body) -> None:
        """Run `body` with the current bindings; names first bound inside are unbound after."""
        before = dict(self.env)
        body()
        for n in list(self.env):
            if n not in before:
                del self.env[n]
            elif self.env[n] != before[n]:
                raise AssertionError("a nested block changed a type")

    def nested_assign(self, indent: int, nested: int) -> None:
        """A block body: statements that rebind outer names with the same type, and temporaries."""
        outer = dict(self.env)
        start = len(self.lines)
        for _ in range(self.r.randint(1, 3)):
            k = self.r.random()
            if k < 0.25 and nested < 2:
                self.statement(indent, nested + 1)
                continue
            mine = [n for n in outer if n not in self.loop_vars]
            if mine and k < 0.8:
                n = self.r.choice(sorted(mine))
                self.emit(f"{n} = {self.expr(outer[n])}", indent)
            else:
                self.temporary(indent)
        if len(self.lines) == start:  # every nested statement was skipped: a block is never empty
            self.temporary(indent)

    def temporary(self, indent: int) -> None:
        n, t = self.fresh("t"), self.random_type()
        self.emit(f"{n} = {self.expr(t)}", indent)
        self.env[n] = t

    def cond(self) -> str:
        return self.expr(Ty("bool", ()), 1)

    def s_if(self, indent: int, nested: int) -> None:
        self.emit(f"if {self.cond()}:", indent)
        self.scoped(lambda: self.nested_assign(indent + 1, nested + 1))
        for _ in range(self.r.choice([0, 0, 1])):
            self.emit(f"elif {self.cond()}:", indent)
            self.scoped(lambda: self.nested_assign(indent + 1, nested + 1))
        if self.r.random() < 0.6:
            self.emit("else:", indent)
            self.scoped(lambda: self.nested_assign(indent + 1, nested + 1))

    def s_for(self, indent: int, nested: int) -> None:
        r = self.r
        i = self.fresh("i")
        k = r.random()
        if k < 0.4:
            rng = f"range({r.randint(0, 4)})"
        elif k < 0.7:
            a, b = r.randint(-2, 3), r.randint(-2, 4)
            rng = f"range({a}, {b}, {r.choice([1, 2, -1, -2])})"
        else:
            rng = f"range({self.expr(Ty('i64', ()), 2)} % 4)"
        self.emit(f"for {i} in {rng}:", indent)

        def body():
            self.env[i] = Ty("i64", ())
            self.loop_vars.add(i)
            self.nested_assign(indent + 1, nested + 1)
            self.loop_vars.discard(i)
        self.scoped(body)

    def s_while(self, indent: int, nested: int) -> None:
        r = self.r
        w = self.fresh("w")
        bound = r.randint(0, 5)
        limit = r.randint(0, bound) if r.random() < 0.92 else bound + 1
        self.emit(f"{w} = i64(0)", indent)
        self.env[w] = Ty("i64", ())
        self.loop_vars.add(w)
        cond = f"{w} < {limit}"
        if r.random() < 0.3:
            cond += f" and {self.cond()}"
        self.emit(f"while {cond} bound {bound}:", indent)

        def body():
            self.nested_assign(indent + 1, nested + 1)
            self.emit(f"{w} += 1", indent + 1)
        self.scoped(body)
        self.loop_vars.discard(w)


def random_param_type(r: random.Random, symbols: tuple) -> Ty:
    rank = r.choice([0, 1, 1, 2, 2, 3])
    dims = tuple(r.choice(list(symbols) + [1, 2, 3, 4]) for _ in range(rank))
    return Ty(r.choice(DTYPES), dims)


def generate(seed: int, max_depth: int = 3, statements: int = 6, derivative: bool = False,
             struct: bool = False) -> Generated:
    """A random well-typed program with helpers and an entry `f`, reproducibly from `seed`. With
    `derivative`, `f` returns a float scalar that depends on a float parameter `xk` (sometimes on
    two, `wrt=(xk, xj)`; with `struct`, also on a struct `p: S` of floats, `wrt=(xk, p)`), and the
    entry is `df = grad(f, wrt=xk)` or `value_and_grad`;
    `jf = jvp(f, wrt=xk)`, `gf = grad(f, wrt=xk)` and `hf = jvp(gf, wrt=xk)` (forward over reverse)
    are bound too, for the derivative checks of `derivatives.py`. With `struct`, `f` also takes a
    struct `p: S`, its fields read into variables; without `derivative` it returns structs built
    by leafwise arithmetic, update and literal."""
    r = random.Random(seed)
    helpers: list[Helper] = []
    chunks: list[str] = []
    if r.random() < 0.3:
        chunks.append(f"const C{seed % 7} = {r.randint(1, 4)}\n")
    for h in range(r.choice([0, 1, 1, 2])):
        params = [(f"a{j}", random_param_type(r, HELPER_SYMBOLS)) for j in range(r.randint(1, 3))]
        fg = FunctionGen(r, list(helpers), dict(params), HELPER_SYMBOLS, max_depth=2)
        fg.block(r.randint(0, 2), 1, 1)
        result = fg.random_type()
        ret = fg.expr(result)
        sig = ", ".join(f"{n}: {t}" for n, t in params)
        name = f"g{h}"
        # in a derivative program a helper is sometimes `@checkpoint`ed (recomputed in the backward pass)
        deco = "@checkpoint\n" if derivative and r.random() < 0.3 else ""
        chunks.append(f"{deco}def {name}({sig}) -> {result}:\n" + "\n".join(fg.lines + [f"    return {ret}"]) + "\n")
        helpers.append(Helper(name, params, result))
    params = [(f"x{j}", random_param_type(r, SYMBOLS)) for j in range(r.randint(1, 4))]
    if derivative:  # one float parameter to differentiate with respect to, sometimes two
        k = r.randrange(len(params))
        params[k] = (params[k][0], Ty(r.choice(FLOATS), params[k][1].shape))
        second = [j for j in range(len(params)) if j != k and r.random() < 0.4][:1]
        for j in second:
            params[j] = (params[j][0], Ty(r.choice(FLOATS), params[j][1].shape))
    fg = FunctionGen(r, helpers, dict(params), SYMBOLS, max_depth=max_depth)
    sig = ", ".join(f"{n}: {t}" for n, t in params)
    fields = []
    if struct:  # a struct parameter `p: S`, its fields read into variables
        dt = r.choice(FLOATS)
        fields = [(n, Ty(dt, random_param_type(r, SYMBOLS).shape)) for n in ("a", "b")]
        if r.random() < 0.5 and not derivative:  # (differentiated: a struct of floats)
            fields[1] = ("b", random_param_type(r, SYMBOLS))
        chunks.append("struct S:\n" + "".join(f"    {n}: {t}\n" for n, t in fields))
        sig += ", p: S"
        for n, t in fields:
            fg.emit(f"p_{n} = p.{n}", 1)
            fg.env[f"p_{n}"] = t
    fg.block(r.randint(1, statements), 1, 0)
    if derivative:
        x, t = params[k]
        terms = [(params[j][0], params[j][1]) for j in second] + [(f"p_{n}", ft) for n, ft in fields]
        more = "".join(f" + {t.dtype}(sum({v} * {fg.expr(vt)}))" for v, vt in terms)
        fg.emit(f"return sum({x} * {fg.expr(t)}){more} + {t.dtype}(sum({fg.expr(Ty(t.dtype, ()))}))", 1)
        transform = r.choice(["grad", "value_and_grad"])
        names = [x] + [params[j][0] for j in second] + (["p"] if fields else [])
        wrt = x if len(names) == 1 else f"({', '.join(names)})"
        chunks.append(f"def f({sig}) -> {t.dtype}:\n" + "\n".join(fg.lines) + "\n")
        chunks.append(f"df = {transform}(f, wrt={wrt})\n")
        chunks.append(f"jf = jvp(f, wrt={wrt})\ngf = grad(f, wrt={wrt})\nhf = jvp(gf, wrt={wrt})\n")
        return Generated("\n".join(chunks), seed, "df")
    live = sorted(fg.env)
    outs = r.sample(live, min(len(live), r.randint(1, 3)))
    if fields:  # leafwise arithmetic (all-float structs), a field update, a struct literal
        if fields[0][1].dtype == fields[1][1].dtype:
            fg.emit(f"q = p * {fg.literal(fields[0][1].dtype)} - p / p", 1)
        else:
            fg.emit("q = p", 1)
        n, t = r.choice(fields)
        fg.emit(f"q.{n} = {fg.expr(t)}", 1)
        outs.append("q")
        outs.append("S(" + ", ".join(f"{n}={fg.expr(t)}" for n, t in fields) + ")")
    extra = fg.random_type()
    if r.random() < 0.25:  # an early return in a branch: the same result types
        fg.emit(f"if {fg.cond()}:", 1)
        fg.emit(f"return {', '.join(outs + [fg.expr(extra)])}", 2)
    fg.emit(f"return {', '.join(outs + [fg.expr(extra)])}", 1)
    chunks.append(f"def f({sig}):\n" + "\n".join(fg.lines) + "\n")
    return Generated("\n".join(chunks), seed)
