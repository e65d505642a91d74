"""The properties every program is held to (run inside a worker process, see `worker.py`).

`check(source)`: `compiler.loads` either succeeds or raises a `LoomError` whose span lies in the
text and which renders; any other exception is a finding. `differential(source, …)`: a program
that checks runs on random inputs in the reference executor (`mode="eager"`) and compiled
(`mode="jit"`): results must agree (same dtype and shape; integers and bools exactly; floats
NaN-aware within a tolerance), a `LoomRuntimeError` must occur in both modes with the same message
and location, and the inputs must not be written. One exception is the language's: an error of the
unoptimized reference whose value is unused may vanish under `loom-opt` (docs/language.md §11), so
an error only in eager mode is checked against eager after `loom-opt` before it counts.

Each function returns an `Outcome`: `status` is "ok", "rejected" (a located LoomError at check
time), "runtime-error" (the same located error in both modes) or "finding", with `kind` and `detail`.
"""

from __future__ import annotations

import re
import traceback
from dataclasses import asdict, dataclass, field

import numpy as np

import compiler
from compiler.diagnostics import LoomError, LoomInputError, LoomRuntimeError
from tests.fuzz.grammar import NP, random_array

# Tolerances of compiled vs reference floats: reductions may be reassociated, multiply-adds
# contracted and exp/log/tanh/sin/cos approximated (docs/language.md §11), and errors compound
# through a generated expression; `atol` is relative to the largest magnitude in the result.
RTOL = {"f32": 2e-3, "f64": 1e-8}


# A LoomError that admits a compiler bug (the verifier after a pass, …) is not a diagnostic.
INTERNAL = re.compile(r"^invalid IR|a bug in|internal compiler error", re.I)


@dataclass
class Outcome:
    status: str
    kind: str = ""
    detail: str = ""
    signature: str = ""
    info: dict = field(default_factory=dict)

    def to_json(self) -> dict:
        return asdict(self)


def finding(kind: str, detail: str, signature: str = "") -> Outcome:
    return Outcome("finding", kind, detail, f"{kind}: {signature or normalize(detail)}")


def normalize(text: str) -> str:
    """A message without the parts that vary between instances of one defect."""
    text = re.sub(r"'[^']*'", "'_'", text.splitlines()[0] if text else "")
    text = re.sub(r"<[^>]*>", "<_>", text)
    return re.sub(r"-?\d+(\.\d+)?(e[-+]?\d+)?", "#", text)[:160]


def where_raised(exc: BaseException) -> str:
    """The innermost frame of the project that raised `exc` (file:function), for deduplication."""
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if "/tests/fuzz/" not in f.filename]
    ours = [f for f in frames if "/compiler/" in f.filename or "/runtime/" in f.filename or "/dialects/" in f.filename]
    f = (ours or frames or [None])[-1]
    return f"{f.filename.rsplit('/', 2)[-2]}/{f.filename.rsplit('/', 1)[-1]}:{f.name}" if f else "?"


def unexpected(stage: str, exc: BaseException) -> Outcome:
    tb = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))[-3000:]
    return finding("exception", f"{stage}: {type(exc).__name__}: {exc}\n{tb}",
                   f"{stage} {type(exc).__name__} at {where_raised(exc)}: {normalize(str(exc))}")


def located(e: LoomError, source: str, stage: str) -> Outcome | None:
    """None if `e` is a proper diagnostic: about the program (not a compiler bug), located inside the
    text, and renders."""
    try:
        text = e.render()
    except Exception as exc:  # noqa: BLE001 — any failure to render is the finding
        return unexpected(f"{stage} render", exc)
    if INTERNAL.search(e.message):
        return finding("internal", f"{stage}: {type(e).__name__}: {text}", f"{stage}: {normalize(e.message)}")
    if isinstance(e, LoomInputError):
        return None
    if e.span is None:
        return finding("no-span", f"{stage}: {type(e).__name__}: {text}", f"{stage} {type(e).__name__}: {normalize(e.message)}")
    n = source.count("\n") + 1
    if not 1 <= e.span.line <= n + 1:
        return finding("bad-span", f"{stage}: line {e.span.line} of a {n}-line program: {text}",
                       f"{stage}: {normalize(e.message)}")
    return None


def check(source: str, name: str = "fuzz.loom"):
    """(program or None, Outcome) of loading and checking `source`."""
    try:
        return compiler.loads(source, name=name, mode="eager"), Outcome("ok")
    except LoomError as e:
        bad = located(e, source, "check")
        return None, bad or Outcome("rejected", type(e).__name__, e.message, normalize(e.message))
    except RecursionError as e:
        return None, finding("exception", f"check: RecursionError: {e}", "check RecursionError")
    except Exception as e:  # noqa: BLE001 — any other exception is the finding
        return None, unexpected("check", e)


# ------------------------------------------------------------------ inputs
def inputs_for(program, fname: str, rng: np.random.Generator, special: float = 0.0,
               min_size: int = 1, max_size: int = 4) -> list | None:
    """Random arguments for `fname` from its declared parameter types (symbolic dims drawn once,
    min_size..max_size; const dims their value; `...S` a random shape); None if a type is not
    drawable."""
    fdef = program.checker.funcs[fname]
    sizes: dict[str, int] = {}
    consts = program.checker.consts

    def dim(d) -> int | None:
        if d.kind == "int":
            return int(d.value)
        if d.value in consts:
            v = consts[d.value].const
            return v if isinstance(v, int) and 0 <= v <= 64 else None
        return sizes.setdefault(d.value, int(rng.integers(min_size, max_size + 1)))

    def value(t):
        if t.struct is not None:
            st = program.checker.structs.get(t.struct)
            if st is None:
                return None
            fields = {f.name: value(f.type) for f in st.fields}
            return None if any(v is None for v in fields.values()) else fields
        if t.dtype not in NP:
            return None
        shape = []
        for d in t.dims or []:
            if d.kind == "ellipsis":
                s = sizes.get(f"...{d.value}") or tuple(int(x) for x in rng.integers(1, 4, int(rng.integers(0, 3))))
                sizes[f"...{d.value}"] = s
                shape.extend(s)
                continue
            k = dim(d)
            if k is None:
                return None
            shape.append(k)
        return random_array(rng, t.dtype, tuple(shape), special)

    args = [value(p.type) for p in fdef.params]
    return None if any(a is None for a in args) else args


# ------------------------------------------------------------------ comparison
def _leaves(x) -> list:
    if isinstance(x, tuple):
        return [leaf for e in x for leaf in _leaves(e)]
    if hasattr(x, "_asdict"):
        return [leaf for e in x._asdict().values() for leaf in _leaves(e)]
    return [x]


def compare(got, want) -> tuple[str, str] | None:
    """None if the compiled results `got` agree with the reference `want`, else (why not, a short
    tag for deduplication)."""
    g, w = _leaves(got), _leaves(want)
    if len(g) != len(w):
        return f"{len(g)} results compiled, {len(w)} in eager", "arity"
    for k, (a, b) in enumerate(zip(g, w)):
        if a is None or b is None:
            if a is not b:
                return f"result {k}: {a!r} vs {b!r}", "none"
            continue
        a, b = np.asarray(a), np.asarray(b)
        if a.dtype != b.dtype or a.shape != b.shape:
            return f"result {k}: compiled {a.dtype}{list(a.shape)}, eager {b.dtype}{list(b.shape)}", "type"
        name = {np.dtype(v): n for n, v in NP.items()}.get(a.dtype)
        if name in RTOL:
            an, bn = np.isnan(a), np.isnan(b)
            fin = np.isfinite(b) & np.isfinite(a)
            scale = float(np.max(np.abs(b[fin]), initial=0.0))
            close = np.abs(a - b, where=fin, out=np.zeros(a.shape, dtype=np.float64)) <= RTOL[name] * (np.abs(b) + scale + 1e-30)
            same = (an & bn) | (~an & ~bn & ((a == b) | (fin & close)))
        else:
            same = a == b
        if not np.all(same):
            i = tuple(int(x) for x in np.argwhere(~np.asarray(same))[0]) if a.shape else ()
            special = "nan" if np.isnan(a[i]) or np.isnan(b[i]) else "inf" if np.isinf(a[i]) or np.isinf(b[i]) else ""
            return (f"result {k} ({a.dtype}{list(a.shape)}) differs at {list(i)}: compiled {a[i]!r}, eager {b[i]!r}"
                    f"\ncompiled: {np.array2string(a, threshold=50)}\neager:    {np.array2string(b, threshold=50)}",
                    f"{a.dtype} {special or ('bool' if a.dtype == bool else 'value')}")
    return None


def _run(source: str, fname: str, args: list, mode: str, pipeline: str | None = None):
    """("ok", results) or ("error", LoomError) or ("exception", Outcome). `pipeline` None: the
    mode's default (compiled code: `loom-opt`)."""
    try:
        fn = getattr(compiler.loads(source, name="fuzz.loom", mode=mode, pipeline=pipeline), fname)
        return "ok", fn(*args)
    except LoomError as e:
        return "error", e
    except RecursionError as e:
        return "exception", finding("exception", f"{mode}: RecursionError: {e}", f"{mode} RecursionError")
    except Exception as e:  # noqa: BLE001
        return "exception", unexpected(mode, e)


def _copy(args):
    return [{k: np.copy(v) for k, v in a.items()} if isinstance(a, dict) else np.copy(a) for a in args]


def _same_args(a, b) -> bool:
    if isinstance(a, dict):
        return all(_same_args(a[k], b[k]) for k in a)
    return np.array_equal(a, b, equal_nan=True)


def differential(source: str, fname: str, args: list) -> Outcome:
    """Run `fname(*args)` eagerly and compiled and compare (see the module docstring)."""
    kept = _copy(args)
    ek, ev = _run(source, fname, args, "eager", "none")
    if ek == "exception":
        return ev
    jk, jv = _run(source, fname, args, "jit")
    if jk == "exception":
        return jv
    if not all(_same_args(a, b) for a, b in zip(args, kept)):
        return finding("input-written", f"{fname}: an input array changed during the call", "input written")
    for kind, v, stage in ((ek, ev, "eager"), (jk, jv, "jit")):
        if kind == "error":
            bad = located(v, source, f"run {stage}")
            if bad:
                return bad
    if ek == "error" and isinstance(ev, LoomInputError):
        return Outcome("rejected", "LoomInputError", ev.message, normalize(ev.message))
    if ek == "error" and jk == "error":
        if str(ev) != str(jv):
            return finding("error-mismatch", f"eager: {ev}\njit:   {jv}",
                           f"eager '{normalize(ev.message)}' vs jit '{normalize(jv.message)}'")
        status = "runtime-error" if isinstance(ev, LoomRuntimeError) else "rejected"
        return Outcome(status, type(ev).__name__, ev.message, normalize(ev.message))
    if ek == "error":  # an unused value's check may be deleted by loom-opt: is it only that?
        ok, ov = _run(source, fname, args, "eager", "loom-opt")
        if ok == "ok" and isinstance(ev, LoomRuntimeError):
            why = compare(jv, ov)
            return finding("mismatch", f"{fname}: {why[0]}", f"{why[1]} (check elided)") if why else Outcome("ok")
        return finding("error-mismatch", f"eager: {ev}\njit:   no error", f"only eager: {normalize(ev.message)}")
    if jk == "error":
        return finding("error-mismatch", f"eager: no error\njit:   {jv}", f"only jit: {normalize(jv.message)}")
    why = compare(jv, ev)
    return finding("mismatch", f"{fname}: {why[0]}", why[1]) if why else Outcome("ok")
