"""Source text → AST. Lark (LALR, Python-style indentation) does the parsing; this module turns
its tree into `compiler.frontend.ast` nodes with spans and turns every lark error into a
`LoomSyntaxError` at the right `file:line:col`."""

from __future__ import annotations

import hashlib
import os
import threading
from functools import lru_cache

from lark import Lark, Token, v_args
from lark import __version__ as lark_version
from lark.exceptions import UnexpectedCharacters, UnexpectedEOF, UnexpectedInput, UnexpectedToken, VisitError
from lark.grammar import Rule
from lark.indenter import DedentError, Indenter
from lark.lexer import TerminalDef
from lark.visitors import Transformer_NonRecursive

from compiler.diagnostics import LoomError, LoomSyntaxError, SourceRegistry, Span
from compiler.frontend import ast as A
from compiler.frontend.syntax_errors import dedent_line, eof_error, precheck, token_error, unclosed
from runtime import cache

KEYWORDS = frozenset(
    "def struct mesh const return if elif else for in range while bound with and or not true false".split()
)

MAX_INT_DIGITS = 100  # far beyond any i64 (19 digits); Python's int() refuses over 4300 digits


def too_long(text: str, span: Span) -> None:
    """An integer literal of more than MAX_INT_DIGITS digits (F16: a 5000-digit literal was a
    ValueError traceback from int()): it fits no integer type."""
    if len(text) > MAX_INT_DIGITS:
        raise LoomSyntaxError(f"the integer literal {text[:20]}… ({len(text)} digits) does not fit in i64", span)

class _LoomIndenter(Indenter):
    NL_type = "_NL"
    OPEN_PAREN_types = ["LPAR", "LSQB"]
    CLOSE_PAREN_types = ["RPAR", "RSQB"]
    INDENT_type = "_INDENT"
    DEDENT_type = "_DEDENT"
    tab_len = 8


_LARK_OPTIONS = {"parser": "lalr", "propagate_positions": True, "maybe_placeholders": True}


GRAMMAR = os.path.join(os.path.dirname(__file__), "grammar.lark")
# The grammar's LALR tables, generated and shipped with Loom (`python -m compiler.frontend.parser`
# writes them; tests/test_cache.py checks that they are current).
SHIPPED_TABLES = os.path.join(os.path.dirname(__file__), "grammar_tables.json")


@lru_cache(maxsize=1)
def _lark() -> Lark:
    """The parser: from the tables shipped with Loom, or, when they do not match this grammar and
    lark (a grammar being edited), from the cache directory or built."""
    return _shipped() or _cached_or_built()


def _tables_key() -> str:
    with open(GRAMMAR, encoding="utf-8") as f:
        grammar = f.read()
    return hashlib.sha256(f"{grammar}\0{lark_version}\0{sorted(_LARK_OPTIONS.items())}".encode()).hexdigest()


def _shipped() -> Lark | None:
    """The parser from the shipped tables if they were made from this grammar by this lark; else None.
    (Building the tables from the grammar takes ~1 s: a first `loom run` with an empty cache paid it.)"""
    try:
        with open(SHIPPED_TABLES, "rb") as f:
            key, data, memo = cache.loads(f.read())
        if key != _tables_key():
            return None
        return Lark._load_from_dict(data, memo, postlex=_LoomIndenter())
    except Exception:  # missing, or not tables this lark can load: the other ways
        return None


def write_shipped_tables() -> str:
    """Build the tables from the grammar and write them where `_shipped` reads them."""
    parser = Lark.open(GRAMMAR, postlex=_LoomIndenter(), **_LARK_OPTIONS)
    with open(SHIPPED_TABLES, "wb") as f:
        f.write(cache.dumps([_tables_key(), *_serialize(parser)]) + b"\n")
    return SHIPPED_TABLES


def _cached_or_built() -> Lark:
    """The parser from tables kept between processes in the private cache directory
    (runtime/cache.py) as JSON data that lark rebuilds a parser from (`memo_serialize` /
    `_load_from_dict`: a fixed list of classes, no code), else built from the grammar (and cached).
    Never lark's own `cache=` option: it unpickles a file found by name in a directory, which runs
    code from whoever could write that file (F05)."""
    d = cache.private_dir()
    path = os.path.join(d, f"parser-{_tables_key()[:32]}.tables") if d else None
    parser = _load_tables(path) if path else None
    if parser is None:
        parser = Lark.open(GRAMMAR, postlex=_LoomIndenter(), **_LARK_OPTIONS)
        if path:
            _save_tables(path, parser)
    return parser


def _load_tables(path: str) -> Lark | None:
    """The parser from a cache entry whose digest matches; None (the entry removed) otherwise."""
    payload = cache.read_entry(path)
    if payload is None:
        return None
    try:
        data, memo = cache.loads(payload)
        return Lark._load_from_dict(data, memo, postlex=_LoomIndenter())
    except Exception:  # not tables this lark can load, however it fails: they are built again
        cache.discard(path)
        return None


def _serialize(parser: Lark) -> tuple[dict, dict]:
    data, memo = parser.memo_serialize([TerminalDef, Rule])
    data["options"] = {k: v for k, v in data["options"].items() if k != "postlex"}  # code: given on load
    return data, memo


def _save_tables(path: str, parser: Lark) -> None:
    try:
        cache.write_entry(path, cache.dumps(list(_serialize(parser))))
    except TypeError:  # a lark whose tables are not plain data: nothing cached
        pass


class _ToAST(Transformer_NonRecursive):
    """Builds AST nodes bottom-up, without recursion (a 10,000-term `a + b + …` is a tree that
    deep). `meta` holds the lark positions of each rule."""

    def __init__(self, file: str):
        super().__init__(visit_tokens=False)
        self.file = file

    # -- helpers
    def sp(self, meta) -> Span:
        return Span(self.file, meta.line, meta.column, meta.end_line, meta.end_column)

    def tsp(self, tok: Token) -> Span:
        return Span(self.file, tok.line, tok.column, tok.end_line or tok.line,
                    tok.end_column or tok.column + len(tok))

    def ident(self, tok: Token) -> str:
        if str(tok) in KEYWORDS:
            raise LoomSyntaxError(f"'{tok}' is a keyword and cannot be used as a name", self.tsp(tok))
        return str(tok)

    # -- top level
    @v_args(meta=True)
    def start(self, meta, items):
        return [i for i in items if isinstance(i, A.Node)]

    @v_args(meta=True)
    def const_decl(self, meta, c):
        return A.ConstDecl(self.sp(meta), self.ident(c[0]), c[1])

    @v_args(meta=True)
    def mesh_decl(self, meta, c):
        return A.MeshDecl(self.sp(meta), self.ident(c[0]), [a for a in c[1:] if a is not None])

    @v_args(meta=True)
    def mesh_axis(self, meta, c):
        v = c[1]
        if not (isinstance(v, A.Num) and not v.is_float):
            raise LoomSyntaxError("a mesh axis size must be an integer literal", v.span)
        return A.MeshAxis(self.sp(meta), self.ident(c[0]), int(v.text))

    @v_args(meta=True)
    def struct_decl(self, meta, c):
        return A.StructDecl(self.sp(meta), self.ident(c[0]), list(c[1:]))

    @v_args(meta=True)
    def struct_field(self, meta, c):
        return A.StructField(self.sp(meta), self.ident(c[0]), c[1])

    @v_args(meta=True)
    def binding(self, meta, c):
        return A.Binding(self.sp(meta), self.ident(c[0]), c[1])

    @v_args(meta=True)
    def funcdef(self, meta, c):
        decos = [d for d in c if isinstance(d, A.Decorator)]
        rest = c[len(decos):]
        name_tok, params, ret, body = rest
        return A.FuncDef(self.sp(meta), self.ident(name_tok), self.tsp(name_tok), params or [],
                         ret, body, decos)

    @v_args(meta=True)
    def decorator(self, meta, c):
        args, kwargs = c[1] if c[1] is not None else ([], [])
        return A.Decorator(self.sp(meta), self.ident(c[0]), args, kwargs)

    def call_args(self, c):
        return c[0] if c[0] is not None else ([], [])

    def params(self, c):
        return [p for p in c if p is not None]

    @v_args(meta=True)
    def param(self, meta, c):
        return A.Param(self.sp(meta), self.ident(c[0]), c[1])

    def ret_single(self, c):
        return [c[0]]

    def ret_tuple(self, c):
        return [t for t in c if t is not None]

    ret_bare_tuple = ret_tuple

    @v_args(meta=True)
    def type(self, meta, c):
        name, dims = str(c[0]), c[1]
        if name in ("f32", "f64", "i32", "i64", "bool"):
            return A.TypeExpr(self.sp(meta), name, dims)
        if dims is not None:
            raise LoomSyntaxError(f"'{name}' is not an element type (f32, f64, i32, i64, bool)",
                                  self.tsp(c[0]))
        return A.TypeExpr(self.sp(meta), None, None, struct=self.ident(c[0]))

    def dims(self, c):
        return [d for d in c if d is not None]

    @v_args(meta=True)
    def dim(self, meta, c):
        d, shard = c
        d.span = self.sp(meta)
        d.shard = shard
        return d

    @v_args(meta=True)
    def dim_int(self, meta, c):
        too_long(str(c[0]), self.sp(meta))
        return A.DimExpr(self.sp(meta), "int", int(c[0]))

    @v_args(meta=True)
    def dim_name(self, meta, c):
        return A.DimExpr(self.sp(meta), "name", self.ident(c[0]))

    @v_args(meta=True)
    def dim_ellipsis(self, meta, c):
        return A.DimExpr(self.sp(meta), "ellipsis", self.ident(c[0]))

    def shard_one(self, c):
        return [self.ident(c[0])]

    def shard_many(self, c):
        return [self.ident(t) for t in c if t is not None]

    # -- statements
    def suite(self, c):
        return list(c)

    @v_args(meta=True)
    def return_stmt(self, meta, c):
        return A.Return(self.sp(meta), c[0] or [])

    def exprlist(self, c):
        return [e for e in c if e is not None]

    @v_args(meta=True)
    def expr_stmt(self, meta, c):
        (exprs,) = c
        if len(exprs) != 1:
            raise LoomSyntaxError("a tuple is not a statement", self.sp(meta))
        return A.ExprStmt(self.sp(meta), exprs[0])

    def _target(self, e: A.Expr) -> A.Target:
        if isinstance(e, A.Name):
            if e.id in KEYWORDS:
                raise LoomSyntaxError(f"'{e.id}' is a keyword and cannot be assigned", e.span)
            return A.Target(e.span, e.id)
        if isinstance(e, A.Subscript) and isinstance(e.value, A.Name):
            return A.Target(e.span, e.value.id, e.indices)
        indices = e.indices if isinstance(e, A.Subscript) else None
        path, base = [], e.value if isinstance(e, A.Subscript) else e
        while isinstance(base, A.Attribute):  # a struct field: p.w, p.layer.w, p.w[i]
            path.insert(0, base.attr)
            base = base.value
        if path and isinstance(base, A.Name):
            if base.id in KEYWORDS:
                raise LoomSyntaxError(f"'{base.id}' is a keyword and cannot be assigned", base.span)
            return A.Target(e.span, base.id, indices, path)
        raise LoomSyntaxError("cannot assign to this expression (expected a name, name[...] or name.field)", e.span)

    @v_args(meta=True)
    def assign(self, meta, c):
        lhs, rhs = c
        targets = [self._target(e) for e in lhs]
        value = rhs[0] if len(rhs) == 1 else A.TupleExpr(_join(rhs[0].span, rhs[-1].span), rhs)
        return A.Assign(self.sp(meta), targets, value)

    @v_args(meta=True)
    def augassign(self, meta, c):
        """`x op= e` is `x = x op e`; `x[i] op= e` is `x[i] = x[i] op e` (a functional update)."""
        target, op, value = c
        t = self._target(target)
        return A.Assign(self.sp(meta), [t], A.BinOp(self.sp(meta), str(op)[0], target, value))

    @v_args(meta=True)
    def if_stmt(self, meta, c):
        cond, body, *rest = c
        orelse = rest[-1] if rest and rest[-1] is not None and not isinstance(rest[-1], A.If) else []
        elifs = [r for r in rest if isinstance(r, A.If)]
        for e in reversed(elifs):
            e.orelse = orelse
            orelse = [e]
        return A.If(self.sp(meta), cond, body, orelse)

    @v_args(meta=True)
    def elif_clause(self, meta, c):
        return A.If(self.sp(meta), c[0], c[1], [])

    def else_clause(self, c):
        return c[0]

    @v_args(meta=True)
    def for_stmt(self, meta, c):
        var, args, body = c
        pos, kw = args if args is not None else ([], [])
        if kw:
            raise LoomSyntaxError("range() takes no keyword arguments", kw[0].span)
        return A.For(self.sp(meta), self.ident(var), self.tsp(var), pos, body)

    @v_args(meta=True)
    def while_stmt(self, meta, c):
        return A.While(self.sp(meta), c[0], c[1], c[2])

    @v_args(meta=True)
    def with_stmt(self, meta, c):
        return A.With(self.sp(meta), c[0], c[1])

    # -- expressions
    @v_args(meta=True)
    def or_op(self, meta, c):
        return A.BinOp(self.sp(meta), "or", c[0], c[1])

    @v_args(meta=True)
    def and_op(self, meta, c):
        return A.BinOp(self.sp(meta), "and", c[0], c[1])

    @v_args(meta=True)
    def not_op(self, meta, c):
        return A.UnaryOp(self.sp(meta), "not", c[0])

    @v_args(meta=True)
    def compare(self, meta, c):
        if len(c) > 3:
            raise LoomSyntaxError("chained comparisons are not allowed; combine them with 'and'",
                                  self.tsp(c[3]))
        return A.BinOp(self.sp(meta), str(c[1]), c[0], c[2])

    @v_args(meta=True)
    def binop(self, meta, c):
        return A.BinOp(self.sp(meta), str(c[1]), c[0], c[2])

    @v_args(meta=True)
    def unary(self, meta, c):
        return A.UnaryOp(self.sp(meta), str(c[0]), c[1])

    @v_args(meta=True)
    def pow_op(self, meta, c):
        return A.BinOp(self.sp(meta), "**", c[0], c[1])

    @v_args(meta=True)
    def call(self, meta, c):
        args, kwargs = c[1] if c[1] is not None else ([], [])
        return A.Call(self.sp(meta), c[0], args, kwargs)

    def arglist(self, c):
        args, kwargs = [], []
        for a in c:
            if a is None:
                continue
            if isinstance(a, A.Keyword):
                if any(k.name == a.name for k in kwargs):
                    raise LoomSyntaxError(f"keyword argument '{a.name}' given twice", a.span)
                kwargs.append(a)
            elif kwargs:
                raise LoomSyntaxError("positional argument follows keyword argument", a.span)
            else:
                args.append(a)
        return args, kwargs

    @v_args(meta=True)
    def kwarg(self, meta, c):
        return A.Keyword(self.sp(meta), self.ident(c[0]), c[1])

    @v_args(meta=True)
    def subscript(self, meta, c):
        return A.Subscript(self.sp(meta), c[0], c[1])

    def subscripts(self, c):
        return [s for s in c if s is not None]

    @v_args(meta=True)
    def slice(self, meta, c):
        return A.Slice(self.sp(meta), c[0], c[1], c[2])

    @v_args(meta=True)
    def getattr(self, meta, c):
        return A.Attribute(self.sp(meta), c[0], str(c[1]))

    @v_args(meta=True)
    def name(self, meta, c):
        if str(c[0]) in KEYWORDS:
            raise LoomSyntaxError(f"unexpected keyword '{c[0]}'", self.sp(meta))
        return A.Name(self.sp(meta), str(c[0]))

    @v_args(meta=True)
    def number(self, meta, c):
        text = str(c[0])
        is_float = any(ch in text for ch in ".eE")
        if not is_float:
            too_long(text, self.sp(meta))
        return A.Num(self.sp(meta), text, is_float)

    @v_args(meta=True)
    def true(self, meta, c):
        return A.Bool(self.sp(meta), True)

    @v_args(meta=True)
    def false(self, meta, c):
        return A.Bool(self.sp(meta), False)

    @v_args(meta=True)
    def string(self, meta, c):
        raw = str(c[0])[1:-1]
        try:
            value = raw.encode("latin-1", "backslashreplace").decode("unicode_escape")
        except UnicodeDecodeError:
            raise LoomSyntaxError("invalid escape sequence in string", self.sp(meta)) from None
        return A.Str(self.sp(meta), value)

    @v_args(meta=True)
    def empty_tuple(self, meta, c):
        return A.TupleExpr(self.sp(meta), [])

    @v_args(meta=True)
    def tuple(self, meta, c):
        return A.TupleExpr(self.sp(meta), [e for e in c if e is not None])


def _join(a: Span, b: Span) -> Span:
    return Span(a.file, a.line, a.col, b.end_line, b.end_col)


def decode_source(data: bytes, file: str) -> str:
    """UTF-8 bytes → text, or a syntax error at the first bad byte."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        before = data[: e.start]
        line = before.count(b"\n") + 1
        col = e.start - (before.rfind(b"\n") + 1) + 1
        SourceRegistry.add(file, data.decode("utf-8", errors="replace"))  # so the error can quote it
        raise LoomSyntaxError(f"invalid UTF-8 byte 0x{data[e.start]:02x} (Loom source must be UTF-8)",
                              Span(file, line, col, line, col + 1)) from None
    if text.startswith("\ufeff"):
        text = text[1:]
    return text.replace("\r\n", "\n")


_PARSE_LOCK = threading.Lock()


def parse(text: str, file: str = "<string>") -> A.Module:
    """Parse Loom source text into an AST, raising `LoomSyntaxError` on any malformed input."""
    SourceRegistry.add(file, text)
    precheck(text, file)
    if not text.endswith("\n"):
        text += "\n"
    try:
        with _PARSE_LOCK:  # one parse at a time: the parser (its indenter's state) is shared
            tree = _lark().parse(text)
    except UnexpectedCharacters as e:
        ch = text[e.pos_in_stream] if e.pos_in_stream < len(text) else "?"
        msg = "unterminated string" if ch in "\"'" else f"unexpected character {ch!r}"
        raise LoomSyntaxError(msg, Span(file, e.line, e.column, e.line, e.column + 1)) from None
    except UnexpectedToken as e:
        raise token_error(e, text, file) from None
    except UnexpectedEOF:
        raise unclosed(text, file, len(text)) or eof_error(text, file) from None
    except DedentError:
        line = dedent_line(text)
        raise LoomSyntaxError("unindent does not match any outer indentation level",
                              Span(file, line, 1, line, 2)) from None
    except UnexpectedInput as e:  # pragma: no cover - other lark errors
        raise LoomSyntaxError(f"syntax error: {e}", Span(file, getattr(e, "line", 1), getattr(e, "column", 1), 1, 1)) from None
    try:
        items = _ToAST(file).transform(tree)
    except VisitError as e:
        if isinstance(e.orig_exc, LoomError):
            raise e.orig_exc from None
        raise
    return A.Module(Span(file, 1, 1, 1, 1), file, items)


def parse_file(path: str) -> A.Module:
    """Read and parse a `.loom` file; unreadable files are reported as errors, not tracebacks."""
    try:
        with open(path, "rb") as f:
            data = f.read()
    except IsADirectoryError:
        raise LoomError(f"cannot read '{path}': it is a directory") from None
    except FileNotFoundError:
        raise LoomError(f"cannot read '{path}': no such file") from None
    except OSError as e:
        raise LoomError(f"cannot read '{path}': {e.strerror}") from None
    return parse(decode_source(data, path), path)


if __name__ == "__main__":  # after editing grammar.lark: python -m compiler.frontend.parser
    print(f"wrote {write_shipped_tables()}")
