"""Checking one function instance: statements, expressions, indexing and calls."""

from __future__ import annotations

import difflib

from compiler.diagnostics import LoomTypeError, Note, Span
from compiler.frontend import ast as A
from compiler.frontend.typecheck import (
    _F32_MAX, _LIMITS, UNSUPPORTED_CALLS, Checker, Instance, broadcast, err, not_yet, same_expr,
)
from compiler.frontend.types import (
    DTYPES, FLOATS, INTS, RV, BuiltinV, CValue, Dim, DTypeV, FuncV, NodeInfo, StrV, StructT, StructTypeV,
    StructV, TensorT, TupleV, Unbound, fmt_shape,
)
from dialects.loom import KIND_DYN_INDEX, KIND_INDEX, KIND_RANGE, KIND_WINDOW, NONE

ARITH_OPS = ("+", "-", "*", "/", "//", "%", "**")
CMP_OPS = ("<", "<=", ">", ">=", "==", "!=")


def assigned_names(stmts: list[A.Stmt]) -> list[str]:
    """Names assigned anywhere in a block (in order of first assignment), loop variables included."""
    out: list[str] = []

    def add(n: str) -> None:
        if n not in out:
            out.append(n)

    for s in stmts:
        if isinstance(s, A.Assign):
            for t in s.targets:
                add(t.name)
        elif isinstance(s, A.For):
            add(s.var)
        for sub in (getattr(s, "body", None), getattr(s, "orelse", None)):
            if sub:
                for n in assigned_names(sub):
                    add(n)
    return out


class FunctionChecker:
    def __init__(self, checker: Checker, inst: Instance):
        self.c = checker
        self.inst = inst
        self.env: dict[str, CValue] = {}

    def rec(self, node: A.Node, value: CValue | None, **extra) -> CValue | None:
        self.inst.info[id(node)] = NodeInfo(value, extra)
        return value

    # ------------------------------------------------------------- function
    def run(self) -> None:
        f, inst = self.inst.fdef, self.inst
        seen: set[str] = set()
        for p, t in zip(f.params, inst.spmd.body.param_types if inst.spmd else inst.param_types):
            if p.name in seen:
                raise err(f"duplicate parameter '{p.name}'", p.span)
            seen.add(p.name)
            self.env[p.name] = StructV(t) if isinstance(t, StructT) else RV(t)
        declared = None
        if f.returns is not None:  # a struct result is unified with the returned value below: its
            # symbolic dims not bound by the parameters are those of the value (`-> Layer`)
            declared = [None if t.struct is not None else self.c.resolve_type(t, dict(inst.bindings), bind_fresh=False)
                        for t in f.returns]
            if inst.spmd:  # an @spmd body returns its blocks of the declared global results
                declared = result_blocks(self.c, inst, declared)
        returned = self.block(f.body)
        if returned is None:
            if declared:
                raise err(f"function '{f.name}' must end with a 'return'", f.name_span)
            inst.result_types = []
        elif declared is None:
            inst.result_types = [self.strong(v) for v in returned]
        else:
            if len(returned) != len(declared):
                raise err(f"'{f.name}' returns {len(returned)} value(s) but its type declares {len(declared)}",
                          self._return_span(f.body).span)
            ret = self._return_span(f.body)
            spans = [e.span for e in ret.values] if len(ret.values) == len(declared) else [ret.span] * len(declared)
            for i, (v, t, sp) in enumerate(zip(returned, declared, spans)):
                if t is None:
                    declared[i] = self.c.bind_type(f.returns[i], v.type, dict(inst.bindings), sp, {}, "result", f.name,
                                                   Note(f.returns[i].span, "the result type is declared here"), ())
                else:
                    self.expect(v, t, sp, f"result of '{f.name}'")
            inst.result_types = declared
        if inst.spmd:
            inst.spmd.body.result_types, inst.spmd.body.done = inst.result_types, True
            inst.result_types = global_results(inst, inst.result_types)
            check_replicated(self, f)
        inst.done = True

    def _return_span(self, body: list[A.Stmt]) -> A.Return:
        """The first `return` reached along the last statements (what the error points at)."""
        last = body[-1]
        while isinstance(last, A.If):
            last = last.body[-1]
        return last

    def strong(self, v: RV) -> TensorT:
        return v.type

    def expect(self, v: RV | StructV, t: TensorT | StructT, span: Span, what: str) -> None:
        """`v` must have type `t` (a weak literal may take t's element type)."""
        if isinstance(v, StructV) or isinstance(t, StructT):
            if v.type != t:
                ta, tb = two_types(v.type, t)
                raise err(f"{what} has type {ta}, expected {tb}", span)
            return
        dtype = self.coerce_dtype(v, t.dtype, span) if v.weak else v.type.dtype
        if dtype != t.dtype or v.type.shape != t.shape:
            raise err(f"{what} has type {v.type}, expected {t}", span)

    # ------------------------------------------------------------- statements
    def block(self, stmts: list[A.Stmt]) -> list[RV] | None:
        for s in stmts:
            r = self.stmt(s)
            if r is not None:
                return r
        return None

    def stmt(self, s: A.Stmt) -> list[RV] | None:
        if isinstance(s, A.Assign):
            self.assign(s)
        elif isinstance(s, A.Return):
            vals: list[RV] = []
            for e in s.values:
                v = self.expr(e)
                if isinstance(v, TupleV):
                    vals.extend(self.rvs(x, e.span) for x in v.elts)
                else:
                    vals.append(self.rvs(v, e.span))
            self.rec(s, None)
            return vals
        elif isinstance(s, A.ExprStmt):
            if not isinstance(s.expr, A.Call):
                raise err("this expression has no effect (only calls may stand alone as statements)", s.span)
            self.expr(s.expr)
            self.rec(s, None)
        elif isinstance(s, A.If):
            return self.if_stmt(s)
        elif isinstance(s, A.For):
            self.for_stmt(s)
        elif isinstance(s, A.While):
            self.while_stmt(s)
        elif isinstance(s, A.With):
            raise not_yet("pipeline stages (`with stage(k):`)", s.span)
        else:  # pragma: no cover
            raise err(f"unsupported statement {type(s).__name__}", s.span)
        return None

    def assign(self, s: A.Assign) -> None:
        value = self.expr(s.value)
        if len(s.targets) == 1:
            self.bind(s.targets[0], value)
        else:
            elts = value.elts if isinstance(value, TupleV) else None
            if elts is None or len(elts) != len(s.targets):
                n = len(elts) if elts is not None else 1
                raise err(f"cannot unpack {n} value(s) into {len(s.targets)} names", s.value.span)
            for t, v in zip(s.targets, elts):
                self.bind(t, v)
        self.rec(s, None)

    def bind(self, t: A.Target, v: CValue) -> None:
        if t.fields is not None:
            bind_field(self, t, v)
            return
        if t.indices is None:
            if not isinstance(v, (RV, TupleV, StructV)) or (isinstance(v, TupleV) and not v.elts):
                what = {FuncV: "a function", BuiltinV: "a builtin", DTypeV: "a type", StrV: "a string",
                        StructTypeV: "a struct type"}.get(type(v), "nothing")
                raise err(f"cannot assign {what} to a variable", t.span)
            self.env[t.name] = v
            self.rec(t, v)
            return
        base = self.lookup(t.name, t.span)
        if not isinstance(base, RV) or base.type.is_scalar:
            raise err(f"'{t.name}' is not a tensor and cannot be updated by index", t.span)
        extra = self.indexed_update(base, t.name, t, v)
        new = RV(base.type)
        self.env[t.name] = new
        self.rec(t, new, **extra)

    def indexed_update(self, base: RV, label: str, t: A.Target, v: CValue) -> dict:
        """Check `label[indices] = v` for a tensor `base`; what irgen needs to emit the update."""
        val = self.rv(v, t.span)
        spec, dyn, shape = self.index_spec(base, t.indices, t.span)
        dtype = self.coerce_dtype(val, base.type.dtype, t.span) if val.weak else val.type.dtype
        if dtype != base.type.dtype:
            raise err(f"cannot store a {dtype} value into '{label}' of type {base.type}", t.span)
        if broadcast(val.type.shape, shape, t.span, "the value and the indexed part") != shape:
            raise err(f"a value of shape {fmt_shape(val.type.shape)} does not fit the indexed part of shape "
                      f"{fmt_shape(shape)}", t.span)
        return dict(spec=spec, dyn=dyn, part=TensorT(base.type.dtype, shape))

    def cond_value(self, e: A.Expr, what: str) -> RV:
        v = self.rv(self.expr(e), e.span)
        if v.type != TensorT("bool"):
            hint = " (reduce it with any() or all())" if v.type.dtype == "bool" else ""
            raise err(f"the condition of {what} must be a scalar bool, got {v.type}{hint}", e.span)
        return v

    def if_stmt(self, s: A.If) -> list[RV] | None:
        self.cond_value(s.cond, "'if'")
        env0 = dict(self.env)
        r1 = self.block(s.body)
        env1, self.env = self.env, dict(env0)
        r2 = self.block(s.orelse)
        env2, self.env = self.env, dict(env0)
        if r1 is not None and r2 is not None:
            merged = self.merge_returns(r1, r2, s.span)
            self.rec(s, None, returns=True)
            return merged
        if r1 is not None or r2 is not None:
            raise err("not every path through this 'if' returns a value", s.span)
        yields = []
        for name in dict.fromkeys(list(env1) + list(env2)):
            v1, v2 = env1.get(name), env2.get(name)
            if v1 is env0.get(name) and v2 is env0.get(name):
                continue
            if v1 is None or v2 is None or isinstance(v1, Unbound) or isinstance(v2, Unbound):
                self.env[name] = Unbound(f"'{name}' is assigned on only some paths through the 'if' at line {s.span.line}", s.span)
                continue
            if isinstance(v1, TupleV) or isinstance(v2, TupleV):
                self.env[name] = Unbound(f"'{name}' holds a tuple, which cannot flow out of an 'if'; unpack it", s.span)
                continue
            m = self.merge(v1, v2, s.span, f"'{name}'", "in one branch", "in the other")
            self.env[name] = m
            yields.append((name, m))
        self.rec(s, None, yields=yields, returns=False)
        return None

    def merge(self, a: RV | StructV, b: RV | StructV, span: Span, what: str, wa: str, wb: str) -> RV | StructV:
        if isinstance(a, StructV) or isinstance(b, StructV):
            return merge_structs(a, b, span, what, wa, wb)
        if a.weak and b.weak and a.type.dtype == b.type.dtype and a.type.shape == b.type.shape:
            return RV(a.type, weak=True)
        da = self.coerce_dtype(a, b.type.dtype, span) if a.weak and not b.weak else a.type.dtype
        db = self.coerce_dtype(b, a.type.dtype, span) if b.weak and not a.weak else b.type.dtype
        if da != db or a.type.shape != b.type.shape:
            raise err(f"{what} has type {a.type} {wa} and {b.type} {wb}", span)
        return RV(TensorT(da, a.type.shape))

    def merge_returns(self, r1: list[RV], r2: list[RV], span: Span) -> list[RV]:
        if len(r1) != len(r2):
            raise err(f"the branches of this 'if' return {len(r1)} and {len(r2)} values", span)
        return [self.merge(a, b, span, f"result {i + 1}", "in one branch", "in the other")
                for i, (a, b) in enumerate(zip(r1, r2))]

    def loop(self, s: A.For | A.While, body_check) -> list[tuple[str, RV]]:
        """Check a loop body to a fixed point of the loop-carried types; returns the carried values."""
        env0 = dict(self.env)
        assigned = assigned_names(s.body)
        if isinstance(s, A.For):
            assigned = [n for n in assigned if n != s.var]
        carried = {n: StructV(env0[n].type) if isinstance(env0[n], StructV) else RV(env0[n].type, weak=env0[n].weak)
                   for n in assigned if isinstance(env0.get(n), (RV, StructV))}
        for n in assigned:
            if isinstance(env0.get(n), TupleV):
                raise err(f"'{n}' holds a tuple and cannot be reassigned in a loop; unpack it first", s.span)
        for _ in range(4):
            self.env = dict(env0)
            self.env.update(carried)
            body_check()
            changed = False
            for n, cur in list(carried.items()):
                end = self.env.get(n)
                if not isinstance(end, (RV, StructV)):
                    raise err(f"loop-carried '{n}' is not bound at the end of the loop body", s.span)
                if end.type == cur.type and end.weak == cur.weak:
                    continue
                m = self.merge(cur, end, s.span, f"loop-carried '{n}'", "before the loop", "after an iteration")
                if m.type != cur.type or m.weak != cur.weak:
                    carried[n] = m
                    changed = True
            if not changed:
                break
        else:  # pragma: no cover - types only ever strengthen
            raise err("loop-carried types do not settle", s.span)
        self.env = dict(env0)
        self.env.update(carried)
        kind = "for" if isinstance(s, A.For) else "while"
        for n in assigned:
            if n not in carried:
                self.env[n] = Unbound(f"'{n}' is assigned only inside the '{kind}' loop at line {s.span.line}", s.span)
        if isinstance(s, A.For):
            self.env[s.var] = Unbound(f"the loop variable '{s.var}' is bound only inside its loop", s.var_span)
        return list(carried.items())

    def for_stmt(self, s: A.For) -> None:
        if not 1 <= len(s.range_args) <= 3:
            raise err(f"range() takes 1 to 3 arguments, got {len(s.range_args)}", s.span)
        bounds = []
        for e in s.range_args:
            v = self.rv(self.expr(e), e.span)
            if not v.type.is_scalar or v.type.dtype not in INTS:
                raise err(f"range() arguments must be integer scalars, got {v.type}", e.span)
            bounds.append(v)
        step = bounds[2].const if len(bounds) == 3 else 1
        if step == 0:
            raise err("range() step must not be zero", s.range_args[2].span)

        def body() -> None:
            self.env[s.var] = RV(TensorT("i64"))
            self.block(s.body)

        carried = self.loop(s, body)
        self.rec(s, None, carried=carried, static_step=step if isinstance(step, int) else None)

    def while_stmt(self, s: A.While) -> None:
        bound = None
        if s.bound is not None:
            b = self.rv(self.expr(s.bound), s.bound.span)
            if not isinstance(b.const, int) or isinstance(b.const, bool) or b.const < 0 or b.type.dtype not in INTS:
                raise err("'bound' must be a non-negative integer constant", s.bound.span)
            bound = b.const

        def body() -> None:
            self.cond_value(s.cond, "'while'")
            self.block(s.body)

        carried = self.loop(s, body)
        self.rec(s, None, carried=carried, bound=bound)

    # ------------------------------------------------------------- names
    def lookup(self, name: str, span: Span) -> CValue:
        v = self.env.get(name)
        if isinstance(v, Unbound):
            raise err(f"'{name}' is not bound here: {v.why}", span, Note(v.where, "see here") if v.where else None)
        if v is not None:
            return v
        if name in self.c.consts:
            return self.c.consts[name]
        bound = self.inst.bindings.get(name)
        if isinstance(bound, (int, str)):  # a symbolic dimension used as a value: its size, as i64
            return RV(TensorT("i64"), const=bound)
        if name in self.c.funcs:
            return FuncV(name)
        if name in self.c.structs:
            return StructTypeV(name)
        if name in DTYPES:
            return DTypeV(name)
        from compiler.frontend.builtins import BUILTINS

        if name in BUILTINS or name in UNSUPPORTED_CALLS or name == "print":
            return BuiltinV(name)
        known = list(self.env) + list(self.c.consts) + list(self.c.funcs) + list(self.c.structs) + list(BUILTINS)
        close = difflib.get_close_matches(name, known, n=1)
        hint = f"; did you mean '{close[0]}'?" if close else ""
        raise err(f"undefined name '{name}'{hint}", span)

    def rv(self, v: CValue, span: Span) -> RV:
        if isinstance(v, RV):
            return v
        what = {TupleV: "a tuple", FuncV: "a function", BuiltinV: "a builtin function", DTypeV: "a type",
                StrV: "a string", StructTypeV: "a struct type"}.get(type(v), "nothing")
        if isinstance(v, TupleV) and not v.elts:
            what = "nothing (this call returns no value)"
        if isinstance(v, StructV):
            what = f"a struct ({v.type.name}); use one of its fields"
        raise err(f"expected a tensor or scalar value here, got {what}", span)

    def rvs(self, v: CValue, span: Span) -> RV | StructV:
        """A run-time value: a tensor, a scalar or a struct."""
        return v if isinstance(v, StructV) else self.rv(v, span)

    # ------------------------------------------------------------- element types
    def coerce_dtype(self, v: RV, dtype: str, span: Span) -> str:
        """The element type a weak value takes next to a `dtype` value (or an error)."""
        if not v.weak:
            return v.type.dtype
        if dtype == "bool" and v.type.dtype != "bool":
            raise err("a number cannot be combined with a bool value", span)
        if v.type.dtype in FLOATS and dtype in INTS:
            raise err(f"a float literal cannot meet an integer ({dtype}) value; convert with f32(...) or use an integer", span)
        c = v.const
        if isinstance(c, (int, float)) and not isinstance(c, bool):
            if dtype in INTS and not _LIMITS[dtype][0] <= c <= _LIMITS[dtype][1]:
                raise err(f"the literal {c} does not fit in {dtype}", span)
            if dtype == "f32" and abs(float(c)) > _F32_MAX:
                raise err(f"the literal {c} does not fit in f32 (use f64)", span)
        return dtype

    def unify(self, a: RV, b: RV, span: Span, a_span: Span | None = None, b_span: Span | None = None) -> tuple[str, bool]:
        if a.weak and b.weak:
            dt = a.type.dtype if a.type.dtype in FLOATS else b.type.dtype
            return dt, True
        if a.weak:
            return self.coerce_dtype(a, b.type.dtype, a_span or span), False
        if b.weak:
            return self.coerce_dtype(b, a.type.dtype, b_span or span), False
        if a.type.dtype != b.type.dtype:
            raise err(f"mismatched element types {a.type.dtype} and {b.type.dtype}: convert one explicitly, "
                      f"e.g. {b.type.dtype}(x)", span)
        return a.type.dtype, False

    # ------------------------------------------------------------- expressions
    def expr(self, e: A.Expr) -> CValue:
        v = self._expr(e)
        if id(e) not in self.inst.info or self.inst.info[id(e)].value is not v:
            self.rec(e, v, **(self.inst.info[id(e)].extra if id(e) in self.inst.info else {}))
        return v

    def _expr(self, e: A.Expr) -> CValue:
        if isinstance(e, A.Num):
            if e.is_float:
                x = float(e.text)
                if x == float("inf"):
                    raise err(f"the float literal {e.text} is too large", e.span)
                return RV(TensorT("f32"), weak=True, const=x)
            n = int(e.text)
            if n > _LIMITS["i64"][1]:
                raise err(f"the integer literal {e.text} does not fit in i64", e.span)
            return RV(TensorT("i64"), weak=True, const=n)
        if isinstance(e, A.Bool):
            return RV(TensorT("bool"), const=e.value)
        if isinstance(e, A.Str):
            return StrV(e.value)
        if isinstance(e, A.Name):
            v = self.lookup(e.id, e.span)
            if isinstance(v, RV) and e.id in self.c.consts and e.id not in self.env:
                self.rec(e, v, const_name=True)
            return v
        if isinstance(e, A.BinOp):
            return self.binop(e)
        if isinstance(e, A.UnaryOp):
            return self.unary(e)
        if isinstance(e, A.TupleExpr):
            return TupleV([self.expr(x) for x in e.elts])
        if isinstance(e, A.Attribute):
            base = self.expr(e.value)
            if isinstance(base, StructV):
                return field_access(self, e, base)
            if isinstance(base, RV) and e.attr == "shape":
                if not base.type.ranked:
                    raise err("the shape of a rank-polymorphic value is not known here", e.span)
                return TupleV([RV(TensorT("i64"), const=d) for d in base.type.shape])
            if isinstance(base, RV):
                raise err(f"a tensor has no attribute '{e.attr}' (only .shape)", e.span)
            raise err(f"no attribute '{e.attr}' here", e.span)
        if isinstance(e, A.Subscript):
            return self.subscript(e)
        if isinstance(e, A.Call):
            return self.call(e)
        raise err(f"unsupported expression {type(e).__name__}", e.span)  # pragma: no cover

    def binop(self, e: A.BinOp) -> RV | StructV:
        a, b = self.expr(e.lhs), self.expr(e.rhs)
        if isinstance(a, StructV) or isinstance(b, StructV):
            return leafwise_binop(self, e, a, b)
        a, b = self.rv(a, e.lhs.span), self.rv(b, e.rhs.span)
        if e.op == "@":
            return self.matmul(e, a, b)
        if e.op in ("and", "or"):
            if a.type.dtype != "bool" or b.type.dtype != "bool":
                bad = a if a.type.dtype != "bool" else b
                raise err(f"'{e.op}' needs bool operands, got {bad.type}", e.span)
            shape = broadcast(a.type.shape, b.type.shape, e.span)
            const = None
            if isinstance(a.const, bool) and isinstance(b.const, bool):
                const = (a.const and b.const) if e.op == "and" else (a.const or b.const)
            v = RV(TensorT("bool", shape), const=const)
            self.rec(e, v, dtype="bool")
            return v
        dtype, weak = self.unify(a, b, e.span, e.lhs.span, e.rhs.span)
        if e.op in ARITH_OPS and dtype == "bool":
            raise err(f"arithmetic '{e.op}' on bool values; convert with i64(x) first", e.span)
        if e.op == "/" and dtype in INTS:
            raise err("'/' is true division and needs floats: use '//' for integer division, or convert with f32(...)", e.span)
        if e.op in CMP_OPS and dtype == "bool" and e.op not in ("==", "!="):
            raise err(f"'{e.op}' does not order bool values", e.span)
        shape = broadcast(a.type.shape, b.type.shape, e.span)
        const = self.fold(e, a, b, dtype)
        rdt = "bool" if e.op in CMP_OPS else dtype
        v = RV(TensorT(rdt, shape), weak=weak and e.op not in CMP_OPS, const=const)
        self.rec(e, v, dtype=dtype)
        return v

    def fold(self, e: A.BinOp, a: RV, b: RV, dtype: str):
        x, y = a.const, b.const
        if not (isinstance(x, (int, float)) and isinstance(y, (int, float))) or isinstance(x, bool) or isinstance(y, bool):
            if e.op in ("==", "!=") and isinstance(x, str) and x == y:
                return e.op == "=="
            return None
        if not (a.weak and b.weak) and dtype in FLOATS:
            return None  # strong float arithmetic happens at run time, in its own precision
        op = e.op
        if op in ("/", "//", "%") and y == 0:
            if dtype in INTS:
                return None  # integer division by zero is a run-time error
            return None  # IEEE: inf or nan, computed at run time in the value's precision
        try:
            if op == "+": r = x + y
            elif op == "-": r = x - y
            elif op == "*": r = x * y
            elif op == "/": r = x / y
            elif op == "//": r = x // y
            elif op == "%": r = x % y
            elif op == "**":
                if dtype in INTS and y < 0:
                    return None  # a run-time error
                if abs(y) > 4096 or (x == 0 and y < 0):
                    return None
                r = x ** y
            else:
                r = {"<": x < y, "<=": x <= y, ">": x > y, ">=": x >= y, "==": x == y, "!=": x != y}[op]
        except OverflowError:
            return None
        if dtype in INTS and not isinstance(r, bool):
            r = int(r)
            lo, hi = _LIMITS[dtype]
            if not lo <= r <= hi:
                if a.weak and b.weak:
                    raise err(f"the constant expression {r} does not fit in {dtype}", e.span)
                r = (r - lo) % (hi - lo + 1) + lo  # strong integers wrap around, like at run time
        if isinstance(r, complex):
            return None
        return r

    def unary(self, e: A.UnaryOp) -> RV | StructV:
        a = self.expr(e.operand)
        if isinstance(a, StructV):
            return leafwise_unary(self, e, a)
        a = self.rv(a, e.operand.span)
        if e.op == "not":
            if a.type.dtype != "bool":
                raise err(f"'not' needs a bool operand, got {a.type}", e.span)
            v = RV(a.type, const=(not a.const) if isinstance(a.const, bool) else None)
        else:
            if a.type.dtype == "bool":
                raise err(f"unary '{e.op}' on a bool value", e.span)
            c = a.const if isinstance(a.const, (int, float)) and not isinstance(a.const, bool) else None
            if c is not None and e.op == "-":
                c = -c
            if c is not None and a.type.dtype in FLOATS and not a.weak:
                c = None
            v = RV(a.type, weak=a.weak, const=c)
        self.rec(e, v)
        return v

    def matmul(self, e: A.BinOp, a: RV, b: RV) -> RV:
        if a.weak or b.weak or a.type.is_scalar or b.type.is_scalar:
            raise err("'@' needs tensors of rank >= 1 on both sides", e.span)
        if not a.type.ranked or not b.type.ranked:
            raise err("'@' needs operands of known rank", e.span)
        if a.type.dtype != b.type.dtype:
            raise err(f"mismatched element types {a.type.dtype} and {b.type.dtype} in '@'", e.span)
        if a.type.dtype == "bool":
            raise err("'@' on bool values", e.span)
        sa, sb = a.type.shape, b.type.shape
        ka = sa[-1]
        kb = sb[0] if len(sb) == 1 else sb[-2]
        if ka != kb:
            raise err(f"'@' contracts dimension {ka} of {a.type} with dimension {kb} of {b.type}", e.span)
        if len(sa) == 1 and len(sb) == 1:
            shape: tuple[Dim, ...] = ()
        elif len(sb) == 1:
            shape = sa[:-1]
        elif len(sa) == 1:
            shape = sb[:-2] + sb[-1:]
        else:
            batch = broadcast(sa[:-2], sb[:-2], e.span, "the batch dimensions of '@'")
            shape = tuple(batch) + (sa[-2], sb[-1])
        v = RV(TensorT(a.type.dtype, shape))
        self.rec(e, v, dtype=a.type.dtype)
        return v

    # ------------------------------------------------------------- indexing
    def static_int(self, e: A.Expr | None, what: str) -> int | str | None:
        if e is None:
            return None
        v = self.rv(self.expr(e), e.span)
        if v.type.dtype not in INTS or not v.type.is_scalar:
            raise err(f"{what} must be an integer, got {v.type}", e.span)
        if v.const is None:
            return None
        return v.const

    def index_spec(self, base: RV, indices: list, span: Span):
        t = base.type
        if not t.ranked:
            raise err("cannot index a rank-polymorphic value", span)
        if t.is_scalar:
            raise err("cannot index a scalar", span)
        if len(indices) > t.rank:
            raise err(f"too many indices: a value of type {t} has rank {t.rank}, but {len(indices)} were given", span)
        spec, dyn, shape = [], [], []
        for axis, d in enumerate(t.shape):
            idx = indices[axis] if axis < len(indices) else None
            if idx is None:
                spec.append((KIND_RANGE, NONE, NONE, NONE))
                shape.append(d)
            elif isinstance(idx, A.Slice):
                self.slice_part(idx, axis, d, spec, dyn, shape)
            else:
                v = self.rv(self.expr(idx), idx.span)
                if v.type.dtype not in INTS:
                    raise err(f"an index must be an integer, got {v.type}", idx.span)
                if not v.type.is_scalar:
                    raise err(f"indexing with a tensor ({v.type}) is not supported; use an integer or a slice", idx.span)
                k = v.const
                if isinstance(k, int) and not isinstance(k, bool):
                    if isinstance(d, int):
                        if not -d <= k < d:
                            raise err(f"index {k} is out of range for axis {axis} of size {d}", idx.span)
                        k = k + d if k < 0 else k
                    spec.append((KIND_INDEX, k, 0, 1))
                else:
                    spec.append((KIND_DYN_INDEX, 0, 0, 1))
                    dyn.append(idx)
        return spec, dyn, tuple(shape)

    def slice_part(self, s: A.Slice, axis: int, d: Dim, spec: list, dyn: list, shape: list) -> None:
        lo_v = self.rv(self.expr(s.lo), s.lo.span) if s.lo is not None else None
        if lo_v is not None and lo_v.type.dtype not in INTS:
            raise err(f"a slice bound must be an integer, got {lo_v.type}", s.lo.span)
        if lo_v is not None and (lo_v.const is None or isinstance(lo_v.const, str)) and lo_v.const != d:
            # a dynamic start: only `i:i+K` (static K) is allowed
            hi = s.hi
            ok = isinstance(hi, A.BinOp) and hi.op == "+" and same_expr(hi.lhs, s.lo)
            size = self.static_int(hi.rhs, "a window size") if ok else None
            if not ok or not isinstance(size, int) or size <= 0:
                raise err("a slice with a dynamic start must have the form `i:i+K` with a static size K > 0",
                          s.hi.span if s.hi is not None else s.span)
            if s.step is not None and self.static_int(s.step, "a slice step") != 1:
                raise err("a dynamic slice `i:i+K` cannot have a step", s.step.span)
            if isinstance(d, int) and size > d:
                raise err(f"a window of size {size} does not fit in axis {axis} of size {d}", s.span)
            if lo_v.type.is_scalar is False:
                raise err("a slice start must be a scalar", s.lo.span)
            self.expr(hi)
            spec.append((KIND_WINDOW, 0, size, 1))
            dyn.append(s.lo)
            shape.append(size)
            return
        parts = []
        for e, what in ((s.lo, "a slice start"), (s.hi, "a slice stop"), (s.step, "a slice step")):
            c = self.static_int(e, what)
            if e is not None and c is None:
                raise err(f"{what} must be static (a constant), or the slice must have the form `i:i+K`", e.span)
            parts.append(c)
        lo, hi, step = parts
        if step == 0:
            raise err("a slice step cannot be zero", s.step.span)
        full = lo in (None, 0) and hi in (None, d) and step in (None, 1)
        if isinstance(lo, str) or isinstance(hi, str) or isinstance(step, str) or (isinstance(d, str) and not full):
            if not full:
                raise err(f"only the full range of a symbolic dimension ({d}) can be sliced; shapes must stay "
                          "static or symbolic", s.span)
            lo, hi, step = None, None, None
        if isinstance(d, int):
            n = len(range(*slice(lo, hi, step).indices(d)))
        else:
            n = d
        spec.append((KIND_RANGE, NONE if lo is None else lo, NONE if hi is None else hi, NONE if step is None else step))
        shape.append(n)

    def subscript(self, e: A.Subscript) -> CValue:
        base = self.expr(e.value)
        if isinstance(base, TupleV):
            if len(e.indices) != 1 or isinstance(e.indices[0], A.Slice):
                raise err("a tuple is indexed by one integer constant", e.span)
            k = self.static_int(e.indices[0], "a tuple index")
            if not isinstance(k, int) or isinstance(k, bool):
                raise err("a tuple index must be an integer constant", e.indices[0].span)
            if not -len(base.elts) <= k < len(base.elts):
                raise err(f"tuple index {k} out of range for a tuple of {len(base.elts)}", e.indices[0].span)
            v = base.elts[k]
            self.rec(e, v, tuple_index=k % len(base.elts))
            return v
        base = self.rv(base, e.value.span)
        spec, dyn, shape = self.index_spec(base, e.indices, e.span)
        v = RV(TensorT(base.type.dtype, shape))
        self.rec(e, v, spec=spec, dyn=dyn)
        return v

    # ------------------------------------------------------------- calls
    def call(self, e: A.Call) -> CValue:
        from compiler.frontend.derivatives import check_derivative, is_derivative

        if is_derivative(e.func):
            return check_derivative(self, e)
        if isinstance(e.func, A.Name) and e.func.id in COLLECTIVES and e.func.id not in self.env:
            return check_collective(self, e, e.func.id)
        if isinstance(e.func, A.Call) and isinstance(e.func.func, A.Name) and e.func.func.id in UNSUPPORTED_CALLS:
            raise not_yet(UNSUPPORTED_CALLS[e.func.func.id], e.func.span)
        if not isinstance(e.func, A.Name):
            raise err("only named functions can be called", e.func.span)
        callee = self.lookup(e.func.id, e.func.span)
        if isinstance(callee, BuiltinV):
            if callee.name in UNSUPPORTED_CALLS:
                raise not_yet(UNSUPPORTED_CALLS[callee.name], e.span)
            from compiler.frontend.builtins import check_builtin

            return check_builtin(self, e, callee.name)
        if isinstance(callee, DTypeV):
            return self.convert(e, callee.dtype)
        if isinstance(callee, FuncV):
            return self.call_user(e, callee.name)
        if isinstance(callee, StructTypeV):
            return construct(self, e, callee.name)
        raise err(f"'{e.func.id}' is not a function", e.func.span)

    def convert(self, e: A.Call, dtype: str) -> RV:
        if len(e.args) != 1 or e.kwargs:
            raise err(f"{dtype}() takes exactly one argument", e.span)
        a = self.rv(self.expr(e.args[0]), e.args[0].span)
        const = None
        if isinstance(a.const, (int, float, bool)) and (a.weak or a.type.dtype not in FLOATS):
            c = a.const
            const = bool(c) if dtype == "bool" else float(c) if dtype in FLOATS else int(c)
            if dtype in INTS and not _LIMITS[dtype][0] <= const <= _LIMITS[dtype][1]:
                const = None
        v = RV(TensorT(dtype, a.type.shape), const=const)
        self.rec(e, v, dtype=dtype)
        return v

    def call_user(self, e: A.Call, name: str) -> CValue:
        f = self.c.funcs[name]
        check_call(self, e, name)
        if len(e.args) > len(f.params):
            raise err(f"'{name}' takes {len(f.params)} argument(s), got {len(e.args) + len(e.kwargs)}", e.span)
        by_param: dict[str, A.Expr] = {p.name: a for p, a in zip(f.params, e.args)}
        for k in e.kwargs:
            if k.name not in {p.name for p in f.params}:
                raise err(f"'{name}' has no parameter '{k.name}'", k.span)
            if k.name in by_param:
                raise err(f"argument '{k.name}' of '{name}' given twice", k.span)
            by_param[k.name] = k.value
        missing = [p.name for p in f.params if p.name not in by_param]
        if missing:
            raise err(f"'{name}' is missing argument(s): {', '.join(missing)}", e.span)
        bindings: dict = {}
        where: dict = {}
        types, arg_dtypes = [], []
        for p in f.params:
            a_expr = by_param[p.name]
            a = self.rvs(self.expr(a_expr), a_expr.span)
            if isinstance(a, StructV):
                t, dt = a.type, None  # a struct argument is passed as its leaves
            else:
                dt = self.coerce_dtype(a, p.type.dtype, a_expr.span) if a.weak and p.type.dtype else a.type.dtype
                t = TensorT(dt, a.type.shape)
            types.append(self.c.bind_param(p, t, bindings, a_expr.span, f, where))
            arg_dtypes.append(dt)
        try:
            inst = self.c.instance(name, types, bindings, e.span)
        except LoomTypeError as ex:
            if not any(n.message.startswith("in the call") for n in ex.notes):
                ex.notes.append(Note(e.span, f"in the call of '{name}' with argument types ({', '.join(map(str, types))})"))
            raise
        if not inst.done:  # pragma: no cover - recursion is rejected earlier
            raise err(f"recursive call of '{name}'", e.span)
        res = [StructV(t) if isinstance(t, StructT) else RV(t) for t in inst.result_types]
        v: CValue = res[0] if len(res) == 1 else TupleV(res)
        self.rec(e, v, instance=inst, args=[by_param[p.name] for p in f.params], arg_dtypes=arg_dtypes)
        return v


from compiler.frontend.spmd import check_call, global_results, result_blocks  # noqa: E402
from compiler.frontend.spmd_collectives import COLLECTIVES, check_collective, check_replicated  # noqa: E402
from compiler.frontend.structs import (  # noqa: E402
    bind_field, construct, field_access, leafwise_binop, leafwise_unary, merge_structs, two_types,
)
