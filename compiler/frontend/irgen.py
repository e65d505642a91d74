"""Checked AST → `loom` IR (func/scf/arith + loom ops), every op carrying its source location.

IR generation reads what the checker recorded for each node (`Instance.info`), so it makes no
typing decisions of its own: it emits ops, coerces weak literals to the element type the checker
chose, and builds structured control flow (`scf.if` yielding merged names, `scf.for`/`scf.while`
carrying the loop-carried names).

Structs are flattened (`emit_structs.py`): a struct value is the list of its leaves in field order,
nested structs depth-first. A struct parameter `p` becomes consecutive arguments `%p.w1`, `%p.b1`,
…; a struct result, a struct yielded by an `scf.if` and a loop-carried struct become consecutive
results / yielded values / iter args. The IR never holds a struct type.
"""

from __future__ import annotations

from xdsl.builder import Builder
from xdsl.dialects import arith, func, scf
from xdsl.dialects.builtin import FloatAttr, IntegerAttr, ModuleOp, StringAttr, UnitAttr, i1, i64
from xdsl.ir import Block, Operation, Region, SSAValue
from xdsl.rewriter import InsertPoint

from compiler.diagnostics import InternalCompilerError, LoomTypeError, Span
from compiler.frontend import ast as A
from compiler.frontend.check_common import Instance, deep_recursion
from compiler.frontend.emit_builtins import emit_builtin
from compiler.frontend.emit_common import BINARY, CMP, ELEM, flat_ir_types, ir_type, is_concrete, location
from compiler.frontend.emit_derivatives import emit_derivative
from compiler.frontend.emit_structs import (
    emit_construct, emit_field, emit_field_update, emit_leafwise_binop, emit_leafwise_unary, flatten, regroup,
)
from compiler.frontend.global_view import is_global_view
from compiler.frontend.typecheck import Checker
from compiler.frontend.types import RV, RankVar, StructV, TensorT, flat_types
from dialects import loom

def generate(checker: Checker, roots: list[Instance]) -> ModuleOp:
    """A module holding `roots` and every instance they call, each a `func.func`."""
    order: list[Instance] = []

    def visit(inst: Instance) -> None:
        if inst in order:
            return
        order.append(inst)
        for info in list(inst.info.values()):
            callee = info.extra.get("instance")
            if callee is not None:
                visit(callee)

    for r in roots:
        visit(r)
    by_name: dict[str, list[Instance]] = {}
    for inst in order:
        by_name.setdefault(inst.fdef.name, []).append(inst)
    for name, insts in by_name.items():
        for k, inst in enumerate(insts):
            inst.symbol = name if k == 0 else f"{name}_{k}"
    funcs = []
    for inst in order:
        with deep_recursion(inst.fdef.name_span):
            funcs.append(FuncGen(inst).build())
    for inst, fn in zip(order, funcs):
        if inst not in roots:
            fn.sym_visibility = StringAttr("private")  # helpers: loom-inline may drop them
    if getattr(checker, "mesh", None) is None:
        return ModuleOp(funcs)
    from compiler.frontend.spmd_emit import module_ops  # (distribution: imported by programs that distribute)

    return ModuleOp(module_ops(checker, order, funcs, FuncGen))


class FuncGen:
    def __init__(self, inst: Instance):
        self.inst = inst
        self.env: dict[str, SSAValue | list] = {}
        self.builder: Builder | None = None
        self.literals: dict[SSAValue, object] = {}
        self.evaluated: dict[int, SSAValue | list] = {}  # operands of the operator tree being emitted

    # ------------------------------------------------------------- helpers
    def info(self, n: A.Node):
        try:
            return self.inst.info[id(n)]
        except KeyError:  # pragma: no cover
            raise InternalCompilerError(f"no type information for {type(n).__name__} at {n.span}") from None

    def add(self, op: Operation, span: Span | None) -> Operation:
        op.location = location(span)
        assert self.builder is not None
        self.builder.insert(op)
        return op

    def const(self, value, dtype: str, span: Span | None) -> SSAValue:
        t = ELEM[dtype]
        if dtype == "bool":
            attr = IntegerAttr(1 if value else 0, i1)
        elif dtype in ("f32", "f64"):
            if dtype == "f32" and abs(float(value)) > 3.4028234663852886e38 and float(value) != float("inf"):
                raise LoomTypeError(f"the literal {value} does not fit in f32 (use f64)", span)
            attr = FloatAttr(float(value), t)
        else:
            attr = IntegerAttr(int(value), t)
        v = self.add(arith.ConstantOp(attr, t), span).results[0]
        self.literals[v] = value  # the exact value, for re-emission in another type
        return v

    def convert(self, v: SSAValue, t: TensorT, span: Span | None) -> SSAValue:
        """An implicit coercion (only weak values are ever coerced): a literal is re-emitted
        exactly in the new type (0.1 stays 0.1 in f64), anything else gets a loom.convert."""
        want = ir_type(t)
        if v.type == want:
            return v
        if v in self.literals and loom.is_scalar_type(want):
            return self.const(self.literals[v], t.dtype, span)
        return self.add(loom.ConvertOp(v, want), span).results[0]

    def convert_elem(self, v: SSAValue, dtype: str, span: Span | None) -> SSAValue:
        want = loom.make_type(ELEM[dtype], loom.shape_of(v.type))
        if v.type == want:
            return v
        return self.add(loom.ConvertOp(v, want), span).results[0]

    def expr_as(self, e: A.Expr, dtype: str) -> SSAValue:
        """Emit `e` with element type `dtype` (weak literals take it; the checker allowed this)."""
        rv = self.info(e).value
        assert isinstance(rv, RV)
        if is_concrete(rv.const):
            return self.const(rv.const, dtype, e.span)
        return self.convert(self.value(e), rv.type.with_dtype(dtype), e.span)

    def coerce(self, v: SSAValue, rv: RV, dtype: str, span: Span | None) -> SSAValue:
        return self.convert(v, rv.type.with_dtype(dtype), span)

    def value(self, e: A.Expr) -> SSAValue:
        v = self.expr(e)
        if isinstance(v, list):  # pragma: no cover - the checker rejects this
            raise InternalCompilerError(f"tuple used as a value at {e.span}")
        return v

    # ------------------------------------------------------------- function
    def build(self) -> func.FuncOp:
        inst = self.inst
        f = inst.fdef
        if inst.spmd is not None:  # the global-view wrapper; the body is built from inst.spmd.body
            from compiler.frontend.spmd_emit import wrapper

            return wrapper(inst, location(f.span))
        arg_types = flat_ir_types(inst.param_types)
        res_types = flat_ir_types(inst.result_types or [])
        block = Block(arg_types=arg_types)
        self.builder = Builder(InsertPoint.at_end(block))
        global_view = is_global_view(inst)
        if global_view:
            from compiler.frontend.global_view_emit import constrain_params, constrain_results
        args = constrain_params(self, inst, block.args) if global_view else list(block.args)
        for p, v in zip(f.params, regroup(args, inst.param_types, [p.name for p in f.params])):
            self.env[p.name] = v
        self.params = list(zip(args, flat_types(inst.param_types)))  # for symbolic sizes
        returned = self.block(f.body, "func")
        if not returned:
            self.add(func.ReturnOp(), f.span)
        if global_view:
            constrain_results(self, inst, block)
        fn = func.FuncOp(inst.symbol, (arg_types, res_types), Region(block))
        fn.location = location(f.span)
        if any(d.name == "checkpoint" for d in f.decorators):
            fn.attributes["ad.checkpoint"] = UnitAttr()  # see loom-inline and ad-linearize
        return fn

    def block(self, stmts: list[A.Stmt], mode: str) -> bool:
        """Emit statements; True when they end in a return (emitted as func.return or scf.yield)."""
        for s in stmts:
            if self.stmt(s, mode):
                return True
        return False

    def returned(self, values: list[SSAValue], span: Span, mode: str) -> None:
        self.add(func.ReturnOp(*values) if mode == "func" else scf.YieldOp(*values), span)

    # ------------------------------------------------------------- statements
    def stmt(self, s: A.Stmt, mode: str) -> bool:
        if isinstance(s, A.Assign):
            t0 = s.targets[0]
            if len(s.targets) == 1 and t0.indices is not None:
                value = self.expr_as(s.value, self.info(t0).extra["part"].dtype)
            else:
                value = self.expr(s.value)
            if len(s.targets) == 1:
                self.bind(s.targets[0], value, s.value)
            else:
                assert isinstance(value, list)
                for t, v in zip(s.targets, value):
                    self.bind(t, v, None)
        elif isinstance(s, A.Return):
            vals: list[SSAValue] = []
            for e in s.values:
                v = self.expr(e)
                vals.extend(v if isinstance(v, list) else [v])
            outs = []
            for v, e_t in zip(vals, self.inst.result_types):
                outs.extend(flatten(self, v, e_t, s.span))
            self.returned(outs, s.span, mode)
            return True
        elif isinstance(s, A.ExprStmt):
            self.expr(s.expr)
        elif isinstance(s, A.If):
            return self.if_stmt(s, mode)
        elif isinstance(s, A.For):
            self.for_stmt(s)
        elif isinstance(s, A.While):
            self.while_stmt(s)
        else:  # pragma: no cover
            raise InternalCompilerError(f"cannot generate IR for {type(s).__name__}")
        return False

    def bind(self, t: A.Target, value, value_expr: A.Expr | None) -> None:
        info = self.info(t)
        if t.fields is not None:
            emit_field_update(self, t, value)
            return
        if t.indices is None:
            self.env[t.name] = value
            return
        self.env[t.name] = self.update_part(self.env[t.name], value, info, t.span)

    def update_part(self, base: SSAValue, value: SSAValue, info, span: Span) -> SSAValue:
        """`base` with the part the checker described (`spec`, `dyn`, `part`) replaced by `value`."""
        part: TensorT = info.extra["part"]
        v = self.convert_elem(value, part.dtype, span)
        if ir_type(part) != v.type:
            v = self.add(loom.BroadcastToOp(v, ir_type(part)), span).results[0]
        dyn = [self.expr_as(d, "i64") for d in info.extra["dyn"]]
        return self.add(loom.UpdateOp(base, v, dyn, info.extra["spec"]), span).results[0]

    def branch(self, stmts: list[A.Stmt], yields, returns: bool, env) -> Region:
        block = Block()
        saved_env, saved_builder = self.env, self.builder
        self.env, self.builder = dict(env), Builder(InsertPoint.at_end(block))
        if returns:
            self.block(stmts, "yield")
        else:
            self.block(stmts, "yield")
            vals = [x for n, rv in yields for x in flatten(self, self.env[n], rv.type, None)]
            self.add(scf.YieldOp(*vals), stmts[-1].span if stmts else None)
        self.env, self.builder = saved_env, saved_builder
        return Region(block)

    def if_stmt(self, s: A.If, mode: str) -> bool:
        info = self.info(s)
        cond = self.value(s.cond)
        returns = info.extra["returns"]
        yields = [] if returns else info.extra["yields"]
        types = flat_ir_types(self.inst.result_types if returns else [rv.type for _, rv in yields])
        then_r = self.branch(s.body, yields, returns, self.env)
        else_r = self.branch(s.orelse, yields, returns, self.env)
        op = self.add(scf.IfOp(cond, types, then_r, else_r), s.span)
        if returns:
            self.returned(list(op.results), s.span, mode)
            return True
        for (n, _), r in zip(yields, regroup(op.results, [rv.type for _, rv in yields], [n for n, _ in yields])):
            self.env[n] = r
        return False

    def loop_inits(self, carried) -> list[SSAValue]:
        return [x for n, rv in carried for x in flatten(self, self.env[n], rv.type, None)]

    def carry(self, values, carried) -> None:
        """Bind the carried names to `values` (block arguments or loop results), flat, in order."""
        for (n, _), v in zip(carried, regroup(values, [rv.type for _, rv in carried], [n for n, _ in carried])):
            self.env[n] = v

    def loop_body(self, block: Block, carried, stmts: list[A.Stmt], extra: dict | None = None) -> list[SSAValue]:
        """Emit `stmts` into `block` (whose trailing args are the carried values); returns the
        carried values at the end, coerced to their loop types."""
        saved_env, saved_builder = self.env, self.builder
        self.env, self.builder = dict(saved_env), Builder(InsertPoint.at_end(block))
        n0 = len(block.args) - len(flat_types([rv.type for _, rv in carried]))
        self.carry(block.args[n0:], carried)
        if extra:
            self.env.update(extra)
        self.block(stmts, "loop")
        outs = self.loop_inits(carried)
        self.env, self.builder = saved_env, saved_builder
        return outs

    def for_stmt(self, s: A.For) -> None:
        info = self.info(s)
        carried = info.extra["carried"]
        args = [self.expr_as(e, "i64") for e in s.range_args]
        if len(args) == 1:
            start, stop, step = self.const(0, "i64", s.span), args[0], self.const(1, "i64", s.span)
        else:
            start, stop = args[0], args[1]
            step = args[2] if len(args) == 3 else self.const(1, "i64", s.span)
        static_step = info.extra["static_step"]
        inits = self.loop_inits(carried)
        block = Block(arg_types=[i64] + flat_ir_types([rv.type for _, rv in carried]))
        block.args[0].name_hint = s.var
        saved_builder = self.builder
        if isinstance(static_step, int) and static_step > 0:
            lb, ub, st = start, stop, step
            outs = self.loop_body(block, carried, s.body, {s.var: block.args[0]})
        else:
            # A trip-count loop: k in [0, max(0, ceil((stop - start) / step))), i = start + k*step.
            # `stop - start` wraps for bounds far apart, so with start = qa*step + ra and stop =
            # qb*step + rb (floor division): trips = qb - qa + ceil((rb - ra) / step), where
            # |rb - ra| < |step| makes the last term -((ra - rb) // step), 0 or 1. Nothing wraps but
            # qb - qa when |step| = 1, where the loop would have 2**63 trips or more anyway.
            if static_step is None:
                ok = self.add(loom.CmpOp("ne", step, self.const(0, "i64", s.span), i1), s.span).results[0]
                self.add(loom.AssertOp(ok, "range() step must not be zero"), s.range_args[2].span)

            def binary(cls, a, b):
                return self.add(cls(a, b, i64), s.span).results[0]

            qa, qb = binary(loom.FloorDivOp, start, step), binary(loom.FloorDivOp, stop, step)
            ra, rb = binary(loom.RemOp, start, step), binary(loom.RemOp, stop, step)
            part = binary(loom.FloorDivOp, binary(loom.SubOp, ra, rb), step)
            trips = binary(loom.SubOp, binary(loom.SubOp, qb, qa), part)
            ub = binary(loom.MaximumOp, trips, self.const(0, "i64", s.span))
            lb, st = self.const(0, "i64", s.span), self.const(1, "i64", s.span)
            self.builder = Builder(InsertPoint.at_end(block))
            scaled = self.add(loom.MulOp(block.args[0], step, i64), s.span).results[0]
            iv = self.add(loom.AddOp(start, scaled, i64), s.span).results[0]
            iv.name_hint = s.var
            self.builder = saved_builder
            outs = self.loop_body(block, carried, s.body, {s.var: iv})
        self.builder = Builder(InsertPoint.at_end(block))
        self.add(scf.YieldOp(*outs), s.span)
        self.builder = saved_builder
        op = self.add(scf.ForOp(lb, ub, st, inits, Region(block)), s.span)
        self.carry(op.results, carried)

    def while_stmt(self, s: A.While) -> None:
        info = self.info(s)
        carried = list(info.extra["carried"])
        bound = info.extra["bound"]
        inits = self.loop_inits(carried)
        types = flat_ir_types([rv.type for _, rv in carried])
        if bound is not None:
            inits.append(self.const(0, "i64", s.bound.span))
            types.append(i64)
        before, after = Block(arg_types=types), Block(arg_types=types)
        saved_env, saved_builder = self.env, self.builder
        # before: evaluate the condition on the carried values
        self.env, self.builder = dict(saved_env), Builder(InsertPoint.at_end(before))
        self.carry(before.args, carried)
        cond = self.value(s.cond)
        if bound is not None:
            count = before.args[-1]
            count.name_hint = "trips"
            limit = self.const(bound, "i64", s.bound.span)
            at_limit = self.add(loom.CmpOp("ge", count, limit, i1), s.bound.span).results[0]
            over = self.add(loom.AndOp(cond, at_limit, i1), s.bound.span).results[0]
            ok = self.add(loom.NotOp(over), s.bound.span).results[0]
            self.add(loom.AssertOp(ok, f"the while loop exceeded its bound of {bound} iterations"), s.span)
        self.add(scf.ConditionOp(cond, *before.args), s.span)
        self.env, self.builder = saved_env, saved_builder
        # after: the body
        self.env, self.builder = dict(saved_env), Builder(InsertPoint.at_end(after))
        self.carry(after.args, carried)
        self.block(s.body, "loop")
        outs = self.loop_inits(carried)
        if bound is not None:
            one = self.const(1, "i64", s.span)
            outs.append(self.add(loom.AddOp(after.args[-1], one, i64), s.span).results[0])
        self.add(scf.YieldOp(*outs), s.span)
        self.env, self.builder = saved_env, saved_builder
        op = self.add(scf.WhileOp(inits, types, Region(before), Region(after)), s.span)
        if bound is not None:  # a hint for reverse mode: the tape of K iterations is preallocated
            op.attributes["loom.bound"] = IntegerAttr(bound, i64)
        self.carry(op.results, carried)

    # ------------------------------------------------------------- expressions
    def expr(self, e: A.Expr):
        return A.evaluate(e, self.expr_node, self.evaluated, self.is_constant)

    def is_constant(self, e: A.Expr) -> bool:
        """A value known at compile time: emitted as a constant where it is used."""
        rv = self.info(e).value
        return isinstance(rv, RV) and is_concrete(rv.const)

    def expr_node(self, e: A.Expr):
        info = self.info(e)
        rv = info.value
        if isinstance(rv, RV) and is_concrete(rv.const):
            return self.const(rv.const, rv.type.dtype, e.span)
        if isinstance(e, A.Name):
            if e.id in self.env:
                return self.env[e.id]
            if isinstance(rv, RV) and isinstance(rv.const, str):
                return self.symbolic_size(rv.const, e.span)
            raise InternalCompilerError(f"unbound name '{e.id}' at {e.span}")  # pragma: no cover
        if isinstance(e, A.BinOp):
            if info.extra.get("leafwise"):
                return emit_leafwise_binop(self, e, info)
            return self.binop(e, info)
        if isinstance(e, A.UnaryOp):
            if info.extra.get("leafwise"):
                return emit_leafwise_unary(self, e)
            if e.op == "+":
                return self.value(e.operand)
            x = self.value(e.operand)
            cls = loom.NotOp if e.op == "not" else loom.NegOp
            return self.add(cls(x), e.span).results[0]
        if isinstance(e, A.TupleExpr):
            return [self.expr(x) for x in e.elts]
        if isinstance(e, A.Attribute) and isinstance(self.info(e.value).value, StructV):
            return emit_field(self, e)
        if isinstance(e, A.Attribute):  # x.shape
            base = self.value(e.value)
            out = []
            for axis, d in enumerate(self.info(e.value).value.type.shape):
                if isinstance(d, int):
                    out.append(self.const(d, "i64", e.span))
                else:
                    out.append(self.add(loom.DimOp(base, axis), e.span).results[0])
            return out
        if isinstance(e, A.Subscript):
            if "tuple_index" in info.extra:
                k = info.extra["tuple_index"]
                if isinstance(e.value, A.Attribute):  # x.shape[k]: only that dimension
                    return self.add(loom.DimOp(self.value(e.value.value), k), e.span).results[0]
                return self.expr(e.value)[k]
            base = self.value(e.value)
            dyn = [self.expr_as(d, "i64") for d in info.extra["dyn"]]
            return self.add(loom.SliceOp(base, dyn, info.extra["spec"], ir_type(rv.type)), e.span).results[0]
        if isinstance(e, A.Call):
            return self.call(e, info)
        raise InternalCompilerError(f"cannot generate IR for {type(e).__name__}")  # pragma: no cover

    def symbolic_size(self, dim: str, span: Span) -> SSAValue:
        """The run-time size of a symbolic dimension: `loom.dim` of a parameter (leaf) that has it."""
        for arg, t in self.params:
            if not isinstance(t.shape, RankVar) and dim in t.shape:
                return self.add(loom.DimOp(arg, list(t.shape).index(dim)), span).results[0]
        raise InternalCompilerError(f"no parameter has the dimension {dim}")  # pragma: no cover

    def binop(self, e: A.BinOp, info):
        rv: RV = info.value
        dtype = info.extra["dtype"]
        if e.op == "@":
            a, b = self.value(e.lhs), self.value(e.rhs)
            return self.add(loom.MatmulOp(a, b, ir_type(rv.type)), e.span).results[0]
        a, b = self.expr_as(e.lhs, dtype), self.expr_as(e.rhs, dtype)
        if e.op in CMP:
            return self.add(loom.CmpOp(CMP[e.op], a, b, ir_type(rv.type)), e.span).results[0]
        return self.add(BINARY[e.op](a, b, ir_type(rv.type)), e.span).results[0]

    def call(self, e: A.Call, info):
        if "derivative" in info.extra:
            return emit_derivative(self, e, info)
        if "instance" in info.extra:
            callee: Instance = info.extra["instance"]
            args = []
            for a, dt in zip(info.extra["args"], info.extra["arg_dtypes"]):
                args.extend(self.expr(a).leaves if dt is None else [self.expr_as(a, dt)])  # None: a struct
            res = flat_ir_types(callee.result_types)
            op = self.add(func.CallOp(callee.symbol, args, res), e.span)
            out = regroup(op.results, callee.result_types)
            return out[0] if len(out) == 1 else out
        if "collective" in info.extra:
            from compiler.frontend.spmd_emit import emit_collective

            return emit_collective(self, e, info, ir_type)
        if "reshard" in info.extra:
            from compiler.frontend.global_view_emit import emit_reshard

            return emit_reshard(self, e, info)
        if "struct_ctor" in info.extra:
            return emit_construct(self, e, info)
        if "dtype" in info.extra and isinstance(e.func, A.Name) and e.func.id in ELEM:
            x = self.value(e.args[0])  # an explicit conversion: always a loom.convert
            want = ir_type(info.value.type)
            return x if x.type == want else self.add(loom.ConvertOp(x, want), e.span).results[0]
        return emit_builtin(self, e, info)

