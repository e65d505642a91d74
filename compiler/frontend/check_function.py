"""Checking one function instance: statements, names, element types, expressions and calls.

`FunctionChecker(checker, inst)` walks the body of `inst.fdef` with the parameters' types bound,
recording a `NodeInfo` per node in `inst.info`. The rules of each feature live in their own
module and receive the `FunctionChecker` (`fc`): control flow (`control_flow.py`), operators
(`operators.py`), indexing (`indexing.py`), builtins (`builtins.py`), structs (`structs.py`),
derivatives (`derivatives.py`).
`checker` is the module's `typecheck.Checker` (declarations, types, instances).
"""

from __future__ import annotations

from compiler.diagnostics import LoomTypeError, Note, Span
from compiler.frontend import ast as A
from compiler.frontend.builtins import BUILTINS, check_builtin
from compiler.frontend.check_common import F32_MAX, INT_LIMITS, Instance, check_size, did_you_mean, err
from compiler.frontend.control_flow import for_stmt, if_stmt, while_stmt
from compiler.frontend.derivatives import check_derivative, is_derivative
from compiler.frontend.global_view import RESHARD, check_reshard, is_global_view
from compiler.frontend.gates import UNSUPPORTED_CALLS, not_yet
from compiler.frontend.indexing import indexed_update, subscript
from compiler.frontend.operators import binop, unary
from compiler.frontend.spmd import check_call, global_results, result_blocks
from compiler.frontend.spmd_collectives import COLLECTIVES, check_collective, check_replicated
from compiler.frontend.structs import (
    bind_field, construct, field_access, two_types,
)
from compiler.frontend.types import (
    DTYPES, FLOATS, INTS, RV, BuiltinV, CValue, DTypeV, FuncV, NodeInfo, StrV, StructT, StructTypeV,
    StructV, TensorT, TupleV, Unbound,
)


class FunctionChecker:
    def __init__(self, checker, inst: Instance):
        self.c = checker
        self.inst = inst
        self.env: dict[str, CValue] = {}
        self.evaluated: dict[int, CValue] = {}  # operands of the operator tree being checked
        self.assigned_at: dict[str, Span] = {}  # the latest assignment to each name

    def rec(self, node: A.Node, value: CValue | None, **extra) -> CValue | None:
        if isinstance(value, RV):
            check_size(value.type, node.span)
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
            ret = self._return_span(f.body)
            spans = [e.span for e in ret.values] if len(ret.values) == len(returned) else [ret.span] * len(returned)
            for v, sp in zip(returned, spans):
                self.default_dtype(v, sp)
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
            return if_stmt(self, s)
        elif isinstance(s, A.For):
            for_stmt(self, s)
        elif isinstance(s, A.While):
            while_stmt(self, s)
        elif isinstance(s, A.With):
            raise not_yet("with stage", s.span)
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
        self.assigned_at[t.name] = t.span
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
        extra = indexed_update(self, base, t.name, t, v)
        new = RV(base.type)
        self.env[t.name] = new
        self.rec(t, new, **extra)

    def cond_value(self, e: A.Expr, what: str) -> RV:
        v = self.rv(self.expr(e), e.span)
        if v.type != TensorT("bool"):
            hint = " (reduce it with any() or all())" if v.type.dtype == "bool" else ""
            raise err(f"the condition of {what} must be a scalar bool, got {v.type}{hint}", e.span)
        return v

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
        if name in BUILTINS or name in UNSUPPORTED_CALLS or name == "print":
            return BuiltinV(name)
        known = list(self.env) + list(self.c.consts) + list(self.c.funcs) + list(self.c.structs) + list(BUILTINS)
        raise err(f"undefined name '{name}'{did_you_mean(name, known)}", span)

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
            if dtype in INTS and not INT_LIMITS[dtype][0] <= c <= INT_LIMITS[dtype][1]:
                raise err(f"the literal {c} does not fit in {dtype}", span)
            if dtype == "f32" and abs(float(c)) > F32_MAX:
                raise err(f"the literal {c} does not fit in f32 (use f64)", span)
        return dtype

    def default_dtype(self, v: RV | StructV, span: Span) -> None:
        """A weak value takes its default element type (f32 or i64) here: it must fit in it."""
        if v.weak:
            self.coerce_dtype(v, v.type.dtype, span)

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
        return A.evaluate(e, self.expr_node, self.evaluated)

    def expr_node(self, e: A.Expr) -> CValue:
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
            if n > INT_LIMITS["i64"][1]:
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
            return binop(self, e)
        if isinstance(e, A.UnaryOp):
            return unary(self, e)
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
            return subscript(self, e)
        if isinstance(e, A.Call):
            return self.call(e)
        raise err(f"unsupported expression {type(e).__name__}", e.span)  # pragma: no cover

    # ------------------------------------------------------------- indexing

    # ------------------------------------------------------------- calls
    def call(self, e: A.Call) -> CValue:
        if is_derivative(e.func):
            return check_derivative(self, e)
        if isinstance(e.func, A.Name) and e.func.id in COLLECTIVES and e.func.id not in self.env:
            return check_collective(self, e, e.func.id)
        if isinstance(e.func, A.Name) and e.func.id == RESHARD and e.func.id not in self.env:
            return check_reshard(self, e)
        if isinstance(e.func, A.Call) and isinstance(e.func.func, A.Name) and e.func.func.id in UNSUPPORTED_CALLS:
            raise not_yet(e.func.func.id, e.func.span)
        if not isinstance(e.func, A.Name):
            raise err("only named functions can be called", e.func.span)
        callee = self.lookup(e.func.id, e.func.span)
        if isinstance(callee, BuiltinV):
            if callee.name in UNSUPPORTED_CALLS:
                raise not_yet(callee.name, e.span)
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
            if dtype in INTS and not INT_LIMITS[dtype][0] <= const <= INT_LIMITS[dtype][1]:
                const = None
            if dtype == "f32" and abs(const) > F32_MAX:
                raise err(f"the literal {const} does not fit in f32 (use f64)", e.span)
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
        if self.inst.spmd is not None and is_global_view(inst):
            raise err(f"'{name}' is a global-view function (its types name mesh axes, or it calls reshard): "
                      "it takes global arrays, not an @spmd body's per-device blocks", e.span)
        res = [StructV(t) if isinstance(t, StructT) else RV(t) for t in inst.result_types]
        v: CValue = res[0] if len(res) == 1 else TupleV(res)
        self.rec(e, v, instance=inst, args=[by_param[p.name] for p in f.params], arg_dtypes=arg_dtypes)
        return v

