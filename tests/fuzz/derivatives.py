"""Derivative checks of generated programs: are the derivatives *right*, not only the same in both
modes? (`oracle.differential` runs a `grad` compiled and in the reference executor, but both run
the same `ad-differentiate` output, so a wrong rule is wrong in both.)

A program from `gen.generate(derivative=True)` has a float-scalar `f` of a float parameter `x` (or
of two, or of one and a struct of floats: `wrt=(x, p)`, then x below stands for all of them and
⟨·,·⟩ sums over every array),
`jf = jvp(f, wrt=x)`, `gf = grad(f, wrt=x)` and `hf = jvp(gf, wrt=x)`. On random inputs, with random
directions u and w of x's type, run by the reference executor:

- forward against reverse (the dot-product test; f is scalar, so J·u = ⟨∇f, u⟩): jf's tangent
  equals ⟨gf, u⟩. Reverse mode is the transpose of the linearization (`ad-transpose`), so this
  checks every transpose rule the program reaches;
- second order: the Hessian is symmetric, ⟨w, H·u⟩ = ⟨u, H·w⟩ with H·u from `hf` (forward over
  reverse), and hf's primal result is gf's gradient;
- against finite differences, where they mean something (no f32 value in the second-order code,
  and f smooth along u at x: central differences at h, h/2 and h/4 converge as h²): ⟨∇f, u⟩ and ⟨w, H·u⟩ (the latter from
  differences of ⟨w, ∇f⟩). This is what checks the
  JVP rules themselves (reverse mode inherits them);
- compiled against the reference: `hf` (second-order code) through `oracle.differential`.

Every identity is exact in real arithmetic; the two sides are computed differently, so they differ
by rounding. Where they differ by more than `RTOL` of the terms' magnitudes (f32's where the
second-order code has any f32 value, else x's type's), the rounding is
measured as the oracle measures it (`noisy_references`: every op's result perturbed by an ulp; with
the run without noise, and for ⟨w, H·u⟩ the run at a direction scaled by ALPHA) and the difference
must lie within SPREAD times how far that moves the two sides. A program that fails
at run time on these inputs, or whose values are not finite, is not checked.
"""

from __future__ import annotations

import numpy as np

import compiler
from compiler.diagnostics import LoomError, LoomRuntimeError
from tests.fuzz.oracle import (NP, SPREAD, Outcome, _flat_args, _leaves, differential, finding, inputs_for,
                               located, noisy_references, unexpected)

RTOL = {"f32": 1e-3, "f64": 1e-9}
# ⟨w, H·u⟩ is bilinear, so ⟨w, H·(αu)⟩ / α is the same number up to rounding, which then falls on
# other bits: one more sample of it. Where a derivative is zero up to rounding (x / (x·s) = 1 / s),
# the rounding depends on u's bits more than on noise in the ops (campaign seed 8123)
ALPHA = 1.0 + 2.0 ** -7
FD_STEP = 1e-4  # finite differences: h = FD_STEP · max(1, |x|) / max|u|, then h/2 and h/4
FD_RTOL = 1e-6  # Richardson's extrapolation of them against the derivative (beyond its own error)


def _f64(x) -> np.ndarray:
    return np.asarray(x, dtype=np.float64)


def leaves(xs) -> list:
    """The arrays of a list of values, a struct's (a dict argument, a result with `_asdict`) in
    field order: the order of `noisy_references`' flat results (the oracle's own flattening)."""
    return [leaf for x in _flat_args(list(xs)) for leaf in _leaves(x)]


def dot(a: list, b: list) -> float:
    """⟨a, b⟩ of two lists of arrays (one per `wrt` parameter)."""
    return sum(float(np.sum(_f64(x) * _f64(y))) for x, y in zip(a, b, strict=True))


def scale(a: list, b: list) -> float:
    """Σ|a·b|: the magnitude of ⟨a, b⟩'s terms (what its rounding is relative to)."""
    return sum(float(np.sum(np.abs(_f64(x) * _f64(y)))) for x, y in zip(a, b, strict=True))


def finite(*xs) -> bool:
    return all(np.all(np.isfinite(_f64(x))) for x in xs)


def direction(rng: np.random.Generator, like):
    """A random direction of `like`'s type (a dict of them for a struct)."""
    if isinstance(like, dict):
        return {k: direction(rng, v) for k, v in like.items()}
    a = np.asarray(like)
    d = rng.standard_normal(a.shape).astype(a.dtype)
    return d if a.shape else a.dtype.type(d)


def moved(x, d, step: float):
    """x + step·d, of x's type (a struct: field by field)."""
    if isinstance(x, dict):
        return {k: moved(x[k], d[k], step) for k in x}
    a = np.asarray(x)
    out = np.asarray(_f64(a) + step * _f64(d), dtype=a.dtype)
    return out if a.shape else out[()]


class Skip(Exception):
    """This program, on these inputs, is not checked further (with the Outcome to report)."""

    def __init__(self, outcome: Outcome):
        self.outcome = outcome


def error_outcome(e: LoomError, source: str, stage: str) -> Outcome:
    """A run-time error skips the program; an error the checker or AD reports about it, too; an
    internal error (invalid IR after a pass, …) or one not located in the text is a finding."""
    bad = located(e, source, stage)
    if bad:
        return bad
    return Outcome("runtime-error" if isinstance(e, LoomRuntimeError) else "rejected", type(e).__name__, e.message)


class Runner:
    """The program's functions in the reference executor; a run-time error skips the program."""

    def __init__(self, source: str):
        self.source = source
        self.prog = compiler.loads(source, name="fuzz.loom", mode="eager", pipeline="none")

    def __call__(self, fname: str, *args):
        try:
            return getattr(self.prog, fname)(*args)
        except LoomError as e:  # an internal error, or one without its place, is a finding
            raise Skip(error_outcome(e, self.source, f"eager {fname}")) from e
        except Exception as e:  # a crash is the finding
            raise Skip(unexpected(f"eager {fname}", e)) from e

    def spread(self, fname: str, args: list, pick, clean: float, more: tuple[float, ...] = ()) -> float:
        """How far rounding moves `pick(results)`: its range over the noisy reference runs, the run
        without noise (`clean`: itself one rounding of the exact value) and `more` such samples."""
        values = [clean, *more] + [pick(r) for r in noisy_references(self.source, fname, args) if r]
        values = [v for v in values if np.isfinite(v)]
        return max(values) - min(values) if len(values) > 1 else 0.0


def agree(name: str, lhs: float, rhs: float, magnitude: float, dtype: str, spread) -> Outcome | None:
    """None if lhs = rhs within rounding (see the module docstring), else the finding."""
    diff = abs(lhs - rhs)
    eps = float(np.finfo(NP[dtype]).eps)
    if diff <= RTOL[dtype] * magnitude + 4 * eps * (abs(lhs) + abs(rhs)) + 1e-300:
        return None
    moved = spread()
    if diff <= SPREAD * moved + 4 * eps * magnitude:
        return None
    return finding("derivative", f"{name}: {lhs!r} vs {rhs!r} (difference {diff:.3g}; the terms' magnitude "
                   f"{magnitude:.3g}, rounding moves the two sides by {moved:.3g})", name)


def central(run: Runner, fname: str, args: list, ks: list, u: list, h: float, pick) -> tuple[float, float]:
    """The central difference of `pick(fname(…))` along u (the parameters at `ks` moved) at step h,
    and the magnitude of the picked values (`pick` returns value and magnitude)."""
    def at(sign):
        out = list(args)
        for k, d in zip(ks, u, strict=True):
            out[k] = moved(args[k], d, sign * h)
        return out
    (hi, a), (lo, b) = pick(run(fname, *at(1))), pick(run(fname, *at(-1)))
    return (hi - lo) / (2 * h), max(a, b)


def finite_difference(run: Runner, fname: str, args: list, ks: list, u: list, pick) -> tuple[float, float] | None:
    """Richardson's extrapolation of central differences along u at h, h/2, h/4, and a bound on its
    error (their disagreement, and the rounding of the values differenced: f64's epsilon times
    their magnitude, over the step — a large constant term leaves the differences only a few
    bits); None where f is not smooth near x (a branch, a cast to an integer, a kink within the
    step, rounding larger than the step's effect): there the differences do not shrink as h²."""
    big = max(float(np.max(np.abs(_f64(a)), initial=0.0)) for a in leaves([args[k] for k in ks]))
    step = max(float(np.max(np.abs(_f64(d)), initial=0.0)) for d in leaves(u))
    h = FD_STEP * max(1.0, big) / max(step, 1e-300)
    d, mags = zip(*(central(run, fname, args, ks, u, h / m, pick) for m in (1, 2, 4)))
    if not finite(*d, *mags):
        return None
    rounding = 8 * float(np.finfo(np.float64).eps) * max(mags) / (h / 4)
    size = max(abs(x) for x in d) + 1e-300
    near, far = abs(d[1] - d[2]), abs(d[0] - d[1])
    converged = near <= 1e-9 * size + rounding and far <= 1e-9 * size + rounding
    if not converged and not (0.15 * far <= near <= 0.35 * far and far <= 1e-2 * size):
        return None
    return (4 * d[2] - d[1]) / 3, near + rounding


def check_derivatives(source: str, program, seed: int, jit: bool = True, min_size: int = 1,
                      max_size: int = 4) -> Outcome:
    """The checks of the module docstring on one draw of inputs (`seed`)."""
    try:
        return _check(source, program, seed, jit, min_size, max_size)
    except Skip as s:
        return s.outcome


def _check(source, program, seed, jit, min_size, max_size) -> Outcome:
    rng = np.random.default_rng(seed)
    funcs = program.checker.funcs
    n = len(funcs["jf"].params) - len(funcs["f"].params)  # the wrt parameters: jf's tangents
    names = [p.name.removeprefix("t_") for p in funcs["jf"].params[-n:]]
    ks = [[p.name for p in funcs["f"].params].index(x) for x in names]
    dtype = funcs["f"].returns[0].dtype
    args = inputs_for(program, "f", rng, 0.0, min_size, max_size)
    if args is None:
        return Outcome("ok", info={"ran": 0})
    u = [direction(rng, args[k]) for k in ks]
    w = [direction(rng, args[k]) for k in ks]
    run = Runner(source)
    # the rounding the checks allow for: f32's if the second-order code has any f32 value
    # (a cast, or a builtin's default element type), else f's type's
    try:
        ir = str(run.prog.hf.lower(*args, *u).module("none"))
    except LoomError as e:
        return error_outcome(e, source, "lower hf")
    precision = "f32" if "f32" in ir else dtype

    def grads(r):  # gf's results: their arrays, a struct's field by field
        return leaves(list(r) if n > 1 else [r])
    g = grads(run("gf", *args))
    value, dv = run("jf", *args, *u)
    hfu, hfw = leaves(run("hf", *args, *u)), leaves(run("hf", *args, *w))
    m = len(g)  # arrays of the wrt parameters
    g2, hu, hw = hfu[:m], hfu[m:], hfw[m:]
    u, w, du, dw = leaves(u), leaves(w), u, w  # (du, dw: as arguments)
    if not finite(*g, value, dv, *g2, *hu, *hw):
        return Outcome("ok", info={"ran": 0, "why": "not finite"})

    def along(a, d):  # ⟨a, H·(αd)⟩ / α (see ALPHA)
        return dot(a, leaves(run("hf", *args, *[moved(x, x, ALPHA - 1.0) for x in d]))[m:]) / ALPHA

    checks = [
        ("jvp tangent vs <grad, u>", float(dv), dot(g, u), abs(float(dv)) + scale(g, u),
         lambda: run.spread("jf", args + du, lambda r: float(r[1]), float(dv)) +
         run.spread("gf", args, lambda r: dot(r, u), dot(g, u))),
        ("<w, H u> vs <u, H w>", dot(w, hu), dot(u, hw), scale(w, hu) + scale(u, hw),
         lambda: run.spread("hf", args + du, lambda r: dot(w, r[m:]), dot(w, hu), (along(w, du),)) +
         run.spread("hf", args + dw, lambda r: dot(u, r[m:]), dot(u, hw), (along(u, dw),))),
        ("hf's gradient vs gf", dot(g2, w), dot(g, w), scale(g2, w) + scale(g, w),
         lambda: run.spread("hf", args + du, lambda r: dot(r[:m], w), dot(g2, w)) +
         run.spread("gf", args, lambda r: dot(r, w), dot(g, w))),
    ]
    for name, lhs, rhs, magnitude, spread in checks:
        bad = agree(name, lhs, rhs, magnitude, precision, spread)
        if bad:
            return bad
    info = {"ran": 1, "wrt": n, "nonzero": dot(g, u) != 0.0, "second": dot(w, hu) != 0.0, "fd": 0}
    if precision == "f64":  # (an f32 value inside, `cos(f64(f32(x)))`, makes f a staircase at 1e-7)
        for name, fname, pick, exact, magnitude in (
                ("grad vs finite differences", "f", lambda r: (float(r), abs(float(r))), dot(g, u), scale(g, u)),
                ("hvp vs finite differences of <w, grad>", "gf", lambda r: (dot(w, grads(r)), scale(w, grads(r))),
                 dot(w, hu), scale(w, hu))):
            fd = finite_difference(run, fname, args, ks, du, pick)
            info["fd"] += fd is not None
            if fd is not None and abs(fd[0] - exact) > fd[1] + FD_RTOL * (abs(fd[0]) + magnitude) + 1e-12:
                return finding("derivative", f"{name}: {exact!r} vs {fd[0]!r} (that within {fd[1]:.3g})", name)
    if jit:
        out = differential(source, "hf", args + du)
        if out.status == "finding":
            out.info["function"] = "hf"
            return out
    return Outcome("ok", info=info)
