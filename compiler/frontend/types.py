"""Checker-side types and compile-time values.

A dimension (`Dim`) is an `int` (static) or a `str` (a symbolic name such as `B`, or a derived
expression such as `B+B` in an unspecialized check). A shape is a tuple of dims, or a `RankVar`
for a rank-polymorphic `...S` value whose rank is unknown until the function is called.
"""

from __future__ import annotations

from dataclasses import dataclass, field

Dim = int | str

DTYPES = ("f32", "f64", "i32", "i64", "bool")
FLOATS = ("f32", "f64")
INTS = ("i32", "i64")


@dataclass(frozen=True)
class RankVar:
    name: str

    def __str__(self) -> str:
        return f"...{self.name}"


Shape = tuple[Dim, ...] | RankVar


def fmt_shape(shape: Shape) -> str:
    if isinstance(shape, RankVar):
        return f"[{shape}]"
    return "[" + ", ".join(str(d) for d in shape) + "]"


@dataclass(frozen=True)
class TensorT:
    """The type of a run-time value: element type and shape; a scalar has shape ()."""

    dtype: str
    shape: Shape = ()

    @property
    def is_scalar(self) -> bool:
        return self.shape == ()

    @property
    def ranked(self) -> bool:
        return not isinstance(self.shape, RankVar)

    @property
    def rank(self) -> int:
        assert not isinstance(self.shape, RankVar)
        return len(self.shape)

    def with_dtype(self, dtype: str) -> TensorT:
        return TensorT(dtype, self.shape)

    def __str__(self) -> str:
        if self.shape == ():
            return self.dtype
        return self.dtype + fmt_shape(self.shape)


@dataclass(frozen=True)
class StructT:
    """The type of a struct value: its name and its fields' types (tensors or structs), in
    declaration order, with the struct's symbolic dims bound (ints, or names in a generic check)."""

    name: str
    fields: tuple[tuple[str, TensorT | StructT], ...]

    def field(self, name: str) -> TensorT | StructT | None:
        return dict(self.fields).get(name)

    def leaves(self, prefix: str = "") -> list[tuple[str, TensorT]]:
        """The tensor leaves, depth-first in field order, with their dotted paths (`layer.w`)."""
        out: list[tuple[str, TensorT]] = []
        for n, t in self.fields:
            path = f"{prefix}{n}"
            out.extend(t.leaves(path + ".") if isinstance(t, StructT) else [(path, t)])
        return out

    def span_of(self, path: list[str]) -> tuple[int, int, TensorT | StructT]:
        """Where the field at `path` lies among the leaves: (first leaf, leaf count, its type)."""
        start, t = 0, self
        for name in path:
            assert isinstance(t, StructT)
            for n, ft in t.fields:
                if n == name:
                    t = ft
                    break
                start += n_leaves(ft)
        return start, n_leaves(t), t

    def __str__(self) -> str:
        return self.name

    def detail(self) -> str:
        return self.name + "(" + ", ".join(f"{n}: {t}" for n, t in self.fields) + ")"


def n_leaves(t: TensorT | StructT) -> int:
    return len(t.leaves()) if isinstance(t, StructT) else 1


def flat_types(types) -> list[TensorT]:
    """Types with every struct replaced by its leaves (the IR's and the native boundary's view)."""
    out: list[TensorT] = []
    for t in types:
        out.extend(lt for _, lt in t.leaves()) if isinstance(t, StructT) else out.append(t)
    return out


def type_str(t: TensorT | StructT) -> str:
    """A type in a message: a struct with its field types when a bare name could be ambiguous."""
    return t.detail() if isinstance(t, StructT) else str(t)


# ------------------------------------------------------------------ checker values
class CValue:
    """What an expression evaluates to during checking."""


@dataclass(eq=False)
class RV(CValue):
    """A run-time value. `weak`: an untyped literal (or arithmetic on them) that takes the element
    type of the other operand. `const`: its value when known at compile time (Python int/float/bool,
    or a symbolic dimension name for `x.shape[k]`)."""

    type: TensorT
    weak: bool = False
    const: int | float | bool | str | None = None


@dataclass(eq=False)
class TupleV(CValue):
    elts: list[CValue]


@dataclass(eq=False)
class StructV(CValue):
    """A struct value (its leaves are strong run-time values; `weak` is always False)."""

    type: StructT
    weak: bool = False
    const: None = None


@dataclass(eq=False)
class StructTypeV(CValue):
    """A struct's name used as a value: calling it constructs a struct."""

    name: str


@dataclass(eq=False)
class DTypeV(CValue):
    """`f32` etc. used as a value: an argument to `zeros(…, f64)` or a conversion function."""

    dtype: str


@dataclass(eq=False)
class StrV(CValue):
    value: str


@dataclass(eq=False)
class FuncV(CValue):
    name: str


@dataclass(eq=False)
class BuiltinV(CValue):
    name: str


@dataclass(eq=False)
class Unbound(CValue):
    """A name that is bound on some paths only; using it is an error explained by `why`."""

    why: str
    where: object = None  # a Span for the note


@dataclass
class NodeInfo:
    """What the checker learned about one AST node, for IR generation."""

    value: CValue | None = None
    extra: dict = field(default_factory=dict)
