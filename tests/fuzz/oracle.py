"""The properties every program is held to (run inside a worker process, see `worker.py`).

`check(source)`: `compiler.loads` either succeeds or raises a `LoomError` whose span lies in the
text and which renders; any other exception is a finding. `differential(source, …)`: a program
that checks runs on random inputs in the reference executor (`mode="eager"`) and compiled
(`mode="jit"`): results must agree (same dtype and shape; integers and bools exactly; floats
NaN-aware within a tolerance), a `LoomRuntimeError` must occur in both modes with the same message
and location, and the inputs must not be written. One exception is the language's: an error of the
unoptimized reference whose value is unused may vanish under `loom-opt` (docs/language.md §11), so
an error only in eager mode, or an eager error that differs from the compiled one (a later check
then fails first), is checked against eager after `loom-opt` before it counts.

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
from runtime.reference import run_function
from tests.fuzz.grammar import NP, random_array

# Compiled vs reference floats: reductions may be reassociated, multiply-adds contracted and
# exp/log/tanh/sin/cos approximated (docs/language.md §11). An element within RTOL of the reference
# agrees. One further off is held against the rounding error this computation can produce on these
# inputs, measured by Monte Carlo arithmetic (Parker 1997; Verificarlo): the reference runs
# NOISE_RUNS more times with every float input and every op's result perturbed by a random relative
# amount of up to one machine epsilon, and the compiled element must lie in the envelope of those
# runs widened by SPREAD times its width. The envelope is as wide as cancellation, a summation order
# or a comparison near a tie can move the element (docs/testing.md); a well-conditioned element's is
# a few ulp wide, so a real bug still stands out. Integer and bool elements must be equal, unless the
# noisy runs disagree on them too (`i32(x)` or `x > y` at a rounding tie) and the compiled value is
# among theirs.
RTOL = {"f32": 2e-3, "f64": 1e-8}
NOISE_RUNS = 6
SPREAD = 8.0


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


def rounding_noise(seed: int):
    """A `noise` for the reference executor (`runtime.reference.run_function`): a float value
    times (1 + d), d uniform in (-eps, eps) of its dtype, elementwise; other values unchanged."""
    rng = np.random.default_rng(seed)

    def noise(v):
        a = np.asarray(v)
        if a.dtype.kind != "f":
            return v
        d = rng.uniform(-1.0, 1.0, a.shape).astype(a.dtype) * np.finfo(a.dtype).eps
        out = np.asarray(a + a * d, dtype=a.dtype)
        return out if isinstance(v, np.ndarray) else out[()]
    return noise


def _flat_args(args) -> list:
    """Argument leaves in the order of the boundary (a struct's fields depth-first, in order)."""
    return [leaf for a in args for leaf in (_flat_args(a.values()) if isinstance(a, dict) else [a])]


def noisy_references(source: str, fname: str, args: list, pipeline: str = "none",
                     runs: int = NOISE_RUNS) -> list[list]:
    """The flat results of `runs` runs of the reference (after `pipeline`) with rounding noise
    (`rounding_noise`) on the inputs and on every op's result; a run that fails is left out."""
    low = getattr(compiler.loads(source, name="fuzz.loom", mode="eager", pipeline=pipeline), fname).lower(*args)
    module, out = low.module(pipeline), []
    for seed in range(runs):
        noise = rounding_noise(seed)
        try:
            out.append(_leaves(run_function(module, low.symbol, [noise(x) for x in _flat_args(args)], noise)))
        except LoomError:
            continue
    return out


def within_rounding(a: np.ndarray, b: np.ndarray, samples: list[np.ndarray]) -> np.ndarray:
    """Which elements of the compiled `a` lie in the envelope of the reference `b` and its noisy
    runs `samples` (see SPREAD above)."""
    runs = np.stack([b] + [s for s in samples if s.shape == b.shape and s.dtype == b.dtype])
    if a.dtype.kind != "f":
        varies = np.any(runs != runs[0], axis=0)
        return varies & np.any(runs == a, axis=0)
    wide = runs.astype(np.float64)
    fin = np.isfinite(wide)
    lo = np.min(np.where(fin, wide, np.inf), axis=0)
    hi = np.max(np.where(fin, wide, -np.inf), axis=0)
    info = np.finfo(a.dtype)
    with np.errstate(invalid="ignore", over="ignore"):
        tol = SPREAD * (hi - lo) + 4 * float(info.eps) * np.maximum(np.abs(lo), np.abs(hi)) + float(info.tiny)
        x = a.astype(np.float64)
        inside = np.any(fin, axis=0) & np.isfinite(x) & (x >= lo - tol) & (x <= hi + tol)
    return inside | (np.isnan(a) & np.any(np.isnan(runs), axis=0)) | (np.isinf(a) & np.any(runs == a, axis=0))


def compare(got, want, noisy=None) -> tuple[str, str] | None:
    """None if the compiled results `got` agree with the reference `want`, else (why not, a short
    tag for deduplication). `noisy()`, if given, returns the flat results of noisy reference runs
    (`noisy_references`): elements that differ are checked against them (called once, if needed)."""
    g, w = _leaves(got), _leaves(want)
    runs: list[list] | None = None
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
            diff = np.abs(a.astype(np.float64) - b, where=fin, out=np.zeros(a.shape, dtype=np.float64))
            close = diff <= RTOL[name] * np.abs(b) + float(np.finfo(a.dtype).tiny)
            same = (an & bn) | (~an & ~bn & ((a == b) | (fin & close)))
        else:
            same = a == b
        if not np.all(same) and noisy is not None:
            runs = noisy() if runs is None else runs
            samples = [np.asarray(r[k]) for r in runs if len(r) == len(w) and r[k] is not None]
            same = same | within_rounding(a, b, samples)
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
        if str(ev) != str(jv) and isinstance(ev, LoomRuntimeError):
            # the check that failed first may be an unused value's, which loom-opt may delete
            # (docs/language.md §11): then the reference run of the optimized IR fails as jit does
            ok, ov = _run(source, fname, _copy(kept), "eager", "loom-opt")
            if ok == "error" and str(ov) == str(jv):
                ev = ov
        if str(ev) != str(jv):
            return finding("error-mismatch", f"eager: {ev}\njit:   {jv}",
                           f"eager '{normalize(ev.message)}' vs jit '{normalize(jv.message)}'")
        status = "runtime-error" if isinstance(ev, LoomRuntimeError) else "rejected"
        return Outcome(status, type(ev).__name__, ev.message, normalize(ev.message))
    if ek == "error":  # an unused value's check may be deleted by loom-opt: is it only that?
        ok, ov = _run(source, fname, args, "eager", "loom-opt")
        if ok == "ok" and isinstance(ev, LoomRuntimeError):
            why = compare(jv, ov, lambda: noisy_references(source, fname, kept, "loom-opt"))
            return finding("mismatch", f"{fname}: {why[0]}", f"{why[1]} (check elided)") if why else Outcome("ok")
        return finding("error-mismatch", f"eager: {ev}\njit:   no error", f"only eager: {normalize(ev.message)}")
    if jk == "error":
        return finding("error-mismatch", f"eager: no error\njit:   {jv}", f"only jit: {normalize(jv.message)}")
    why = compare(jv, ev, lambda: noisy_references(source, fname, kept))
    return finding("mismatch", f"{fname}: {why[0]}", why[1]) if why else Outcome("ok")
