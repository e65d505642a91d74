"""The type and shape checker (LANGUAGE.md §2–5, 7).

`Checker(module)` validates the top level (consts, recursion, unsupported features) and checks
*instances* of functions: a function checked with its parameters' types bound, either generically
(symbolic dims stay names, `...S` stays a rank variable; what `loom check` does) or specialized to
concrete argument shapes (what a call from Python does: shapes are static inside a compilation).
Each instance records, per AST node, what the checker learned (`NodeInfo`), which `irgen` reads.
"""

from __future__ import annotations

from compiler.diagnostics import LoomTypeError, Note, Span
from compiler.frontend import ast as A
from compiler.frontend.builtins import BUILTINS
from compiler.frontend.check_common import Instance, check_size, deep_recursion, err
from compiler.frontend.check_function import FunctionChecker
from compiler.frontend.derivatives import DERIVATIVES, is_derivative, lift_derived_functions
from compiler.frontend.gates import UNSUPPORTED_CALLS, UNSUPPORTED_SYNTAX, not_yet
from compiler.frontend.global_view import RESHARD, check_result_sizes, prepare_global_view
from compiler.frontend.spmd import declare_mesh, prepare_instance, spmd_decorator, validate_annotations
from compiler.frontend.spmd_collectives import COLLECTIVES
from compiler.frontend.structs import bind_struct, resolve_struct, validate_structs
from compiler.frontend.types import DTYPES, RV, Dim, RankVar, StructT, TensorT, fmt_shape, type_str


# ------------------------------------------------------------------ returns
def _ends_with_return(stmts: list[A.Stmt]) -> bool:
    if not stmts:
        return False
    last = stmts[-1]
    if isinstance(last, A.Return):
        return True
    return isinstance(last, A.If) and _ends_with_return(last.body) and _ends_with_return(last.orelse)


def _contains_return(s: A.Stmt) -> bool:
    if isinstance(s, A.Return):
        return True
    if isinstance(s, A.If):
        return any(_contains_return(x) for x in s.body + s.orelse)
    return False


def normalize_returns(stmts: list[A.Stmt]) -> list[A.Stmt]:
    """Move the statements after an `if` that returns on some path into its other branches, so
    every `return` ends the function (structured control flow has no early exit)."""
    out: list[A.Stmt] = []
    for i, s in enumerate(stmts):
        if isinstance(s, (A.For, A.While, A.With)):
            _no_return_in_loop(s.body, "a 'for' loop" if isinstance(s, A.For) else "a 'while' loop" if isinstance(s, A.While) else "a 'with' block")
        if isinstance(s, A.If) and _contains_return(s):
            rest = stmts[i + 1:]
            body_returns = _ends_with_return(s.body)
            body = s.body if body_returns else s.body + rest
            if _ends_with_return(s.orelse):
                orelse = s.orelse
            else:  # the moved statements may now appear twice: give the second copy its own nodes
                orelse = s.orelse + (rest if body_returns else [A.clone(x) for x in rest])
            out.append(A.If(s.span, s.cond, normalize_returns(body), normalize_returns(orelse)))
            return out
        if isinstance(s, A.If):
            s = A.If(s.span, s.cond, normalize_returns(s.body), normalize_returns(s.orelse))
        out.append(s)
        if isinstance(s, A.Return) and i + 1 < len(stmts):
            raise err("unreachable code after 'return'", stmts[i + 1].span)
    return out


def _no_return_in_loop(stmts: list[A.Stmt], where: str) -> None:
    for s in stmts:
        if isinstance(s, A.Return):
            raise err(f"'return' inside {where} is not allowed: assign to a variable and return after the loop", s.span)
        for sub in (getattr(s, "body", None), getattr(s, "orelse", None)):
            if sub:
                _no_return_in_loop(sub, where)


# ------------------------------------------------------------------ the checker
class Checker:
    """Checks a parsed module: top-level declarations once, functions per instance."""

    def __init__(self, module: A.Module):
        self.module = module
        self.file = module.file
        self.funcs: dict[str, A.FuncDef] = {}
        self.consts: dict[str, RV] = {}
        self.structs: dict[str, A.StructDecl] = {}
        self.instances: dict[tuple, Instance] = {}
        self.mesh = None  # the file's mesh (spmd.Mesh)
        self.spmd_funcs: dict = {}  # name of an @spmd function → its mesh
        with deep_recursion(module.span):
            self._toplevel()

    # -- top level
    def _toplevel(self) -> None:
        self.module.items = lift_derived_functions(self.module.items, {})  # dloss = grad(loss) → a def
        for item in self.module.items:
            if isinstance(item, A.MeshDecl):
                declare_mesh(self, item)
                continue
            if isinstance(item, A.Binding):
                raise err("a top-level assignment must be `const NAME = value` or bind a derived function "
                          "(such as `dloss = grad(loss)`)", item.span)
            name = getattr(item, "name", None)
            if name in self.funcs or name in self.consts or name in self.structs:
                raise err(f"'{name}' is defined twice", getattr(item, "name_span", item.span))
            if name in BUILTINS or name in DTYPES or name in UNSUPPORTED_CALLS or name in COLLECTIVES or name in DERIVATIVES \
                    or name in ("print", "range", RESHARD):
                raise err(f"'{name}' is a builtin and cannot be redefined", getattr(item, "name_span", item.span))
            if isinstance(item, A.StructDecl):
                self.structs[item.name] = item
            elif isinstance(item, A.ConstDecl):
                self.consts[item.name] = self._const_value(item)
            elif isinstance(item, A.FuncDef):
                for d in item.decorators:
                    if d.name == "checkpoint":
                        if d.args or d.kwargs:
                            raise err("@checkpoint takes no arguments", d.span)
                        continue
                    if d.name == "spmd":
                        spmd_decorator(self, item, d)
                        continue
                    if "@" + d.name in UNSUPPORTED_SYNTAX:
                        raise not_yet("@" + d.name, d.span)
                    raise err(f"unknown decorator '@{d.name}'", d.span)
                item.body = normalize_returns(item.body)
                self.funcs[item.name] = item
        validate_structs(self)
        validate_annotations(self)
        self._check_recursion()

    def _const_value(self, item: A.ConstDecl) -> RV:
        inst = Instance(A.FuncDef(item.span, "<const>", item.span, [], None, []), [], {})
        v = FunctionChecker(self, inst).expr(item.value)
        if not isinstance(v, RV) or v.const is None or isinstance(v.const, str) or not v.type.is_scalar:
            raise err("a const must be a number known at compile time", item.value.span)
        return RV(v.type, weak=True, const=v.const)

    def _check_recursion(self) -> None:
        calls: dict[str, list[tuple[str, Span]]] = {}
        for name, f in self.funcs.items():
            found: list[tuple[str, Span]] = []
            for s in f.body:
                for n in A.walk(s):
                    if isinstance(n, A.Call) and isinstance(n.func, A.Name) and n.func.id in self.funcs:
                        found.append((n.func.id, n.span))
                    if is_derivative(n) and n.args and isinstance(n.args[0], A.Name) and n.args[0].id in self.funcs:
                        found.append((n.args[0].id, n.span))  # differentiating f runs f
            calls[name] = found
        state: dict[str, int] = {}

        def dfs(name: str, path: list[str]) -> None:
            state[name] = 1
            for callee, span in calls[name]:
                if state.get(callee) == 1:
                    cycle = path[path.index(callee):] + [callee] if callee in path else [name, callee]
                    raise err("recursion is not allowed: " + " → ".join(cycle), span)
                if callee not in state:
                    dfs(callee, path + [callee])
            state[name] = 2

        for name in self.funcs:
            if name not in state:
                dfs(name, [name])

    # -- instances
    def check_all(self) -> list[Instance]:
        """Check every function generically (what `loom check` does)."""
        return [self.generic(name) for name in self.funcs]

    def generic(self, name: str) -> Instance:
        f = self.funcs[name]
        bindings: dict = {}
        types = [self.resolve_type(p.type, bindings, bind_fresh=True) for p in f.params]
        return self.instance(name, types, bindings, f.span)

    def specialize(self, name: str, arg_types: list[TensorT], span: Span | None = None) -> Instance:
        """Check `name` for concrete argument types (binding its symbolic dims)."""
        f = self.funcs[name]
        bindings: dict = {}
        types = [self.bind_param(p, t, bindings, None, f) for p, t in zip(f.params, arg_types)]
        return self.instance(name, types, bindings, span or f.span)

    def instance(self, name: str, types: list[TensorT], bindings: dict, span: Span) -> Instance:
        key = (name, tuple(types))
        inst = self.instances.get(key)
        if inst is not None:
            return inst
        inst = Instance(self.funcs[name], list(types), dict(bindings))
        prepare_instance(self, inst, span)
        prepare_global_view(self, inst, span)
        self.instances[key] = inst
        with deep_recursion(inst.fdef.name_span):
            FunctionChecker(self, inst).run()
        check_result_sizes(inst)
        return inst

    # -- declared types
    def resolve_type(self, t: A.TypeExpr, bindings: dict, bind_fresh: bool) -> TensorT | StructT:
        if t.struct is not None:
            return resolve_struct(self, t, bindings, bind_fresh)
        if t.dims is None:
            return TensorT(t.dtype)
        dims: list[Dim] = []
        for d in t.dims:
            if d.kind == "ellipsis":
                if len(t.dims) != 1:
                    raise err(f"'...{d.value}' must be the only dimension of a type", d.span)
                if d.value not in bindings:
                    if not bind_fresh:
                        raise err(f"rank variable '...{d.value}' is not bound by any parameter", d.span)
                    bindings[d.value] = RankVar(str(d.value))
                bound = bindings[d.value]
                return TensorT(t.dtype, bound if isinstance(bound, RankVar) else tuple(bound))
            if d.kind == "int":
                dims.append(int(d.value))
            elif d.value in self.consts:
                c = self.consts[d.value].const
                if not isinstance(c, int) or isinstance(c, bool) or c < 0:
                    raise err(f"const '{d.value}' is not a non-negative integer and cannot be a dimension", d.span)
                dims.append(c)
            else:
                if d.value not in bindings:
                    if not bind_fresh:
                        raise err(f"symbolic dimension '{d.value}' in the result type is not bound by any parameter", d.span)
                    bindings[d.value] = str(d.value)
                dims.append(bindings[d.value])
        check_size(TensorT(t.dtype, tuple(dims)), t.span)
        return TensorT(t.dtype, tuple(dims))

    def bind_param(self, p: A.Param, actual: TensorT | StructT, bindings: dict, call_span: Span | None,
                   f: A.FuncDef, where: dict | None = None) -> TensorT | StructT:
        """Unify a declared parameter type with an argument's type, binding symbols."""
        where = where if where is not None else {}
        return self.bind_type(p.type, actual, bindings, call_span or p.span, where, f"argument '{p.name}'",
                              f.name, Note(p.span, f"'{p.name}' is declared here"), ())

    def bind_type(self, t: A.TypeExpr, actual: TensorT | StructT, bindings: dict, span: Span, where: dict,
                  who: str, fname: str, note: Note, path: tuple) -> TensorT | StructT:
        """Unify declared type `t` (of `who`, e.g. "argument 'x'", at field `path` of a struct) with
        an actual type, binding symbols in `bindings` (`where`: notes on where each was bound)."""
        what = " ".join(x for x in (who, f"field '{'.'.join(path)}'" if path else "") if x)

        def mismatch(extra: str = "", *notes: Note) -> LoomTypeError:
            got = type_str(actual) if isinstance(actual, StructT) and actual.name == t.struct else str(actual)
            return err(f"{what} of '{fname}' has type {got}, expected {_decl_str(t)}{extra}",
                       span, note, *notes)

        if t.struct is not None:
            return bind_struct(self, t, actual, bindings, span, where, who, fname, note, path, mismatch)
        if not isinstance(actual, TensorT) or actual.dtype != t.dtype:
            raise mismatch()
        if t.dims is None:
            if actual.shape != ():
                raise mismatch()
            return actual
        if len(t.dims) == 1 and t.dims[0].kind == "ellipsis":
            name = t.dims[0].value
            if name in bindings and bindings[name] != actual.shape:
                raise mismatch(f" (...{name} is {fmt_shape(bindings[name])})", *where.get(name, ()))
            bindings[name] = actual.shape
            where[name] = [Note(span, f"...{name} was bound to {fmt_shape(actual.shape)} here")]
            return actual
        if isinstance(actual.shape, RankVar) or len(actual.shape) != len(t.dims):
            raise mismatch()
        for d, a in zip(t.dims, actual.shape):
            if d.kind == "ellipsis":
                raise err(f"'...{d.value}' must be the only dimension of a type", d.span)
            if d.kind == "int" or d.value in self.consts:
                want = int(d.value) if d.kind == "int" else self.consts[d.value].const
                if a != want:
                    raise mismatch()
            elif d.value in bindings:
                if bindings[d.value] != a:
                    raise mismatch(f" ({d.value} is {bindings[d.value]})", *where.get(d.value, ()))
            else:
                bindings[d.value] = a
                where[d.value] = [Note(span, f"{d.value} was bound to {a} here")]
        return actual


def _decl_str(t: A.TypeExpr) -> str:
    if t.struct is not None:
        return t.struct
    if t.dims is None:
        return str(t.dtype)
    parts = []
    for d in t.dims:
        parts.append(f"...{d.value}" if d.kind == "ellipsis" else str(d.value))
    return f"{t.dtype}[{', '.join(parts)}]"

