"""Compile time against program size: it must grow (near) linearly.

Two families of generated programs:

  straight  one function of N statement lines, a Transformer-like mix repeated: a matmul, a bias
            add, a softmax written out (max, exp, sum, divide), a residual, a layer norm written
            out (mean, variance, rsqrt) — elementwise ops, matmuls and reductions.
  distinct  the same with a constant of its own in every layer, so that no two layers compile to
            the same kernel (the backend shares equal ones).
  dag       a call DAG of depth D: f_k calls f_{k-1} twice (2^D paths, D + 1 functions).

For each size it times, in this process, from `compiler.loads(source)` to the first result:
native (JIT) compile plus the call, and the eager (reference executor) first call. It then fits
`log t = a + k log size` by least squares and prints the exponent k (1: linear; the target for
the straight-line programs is k <= 1.2). For the call DAG the size is the depth, and the fitted
exponent in depth is reported along with the time per added level (linear in depth means the
shared callees are not re-expanded: exponential growth would show as doubling per level).

    python -m bench --only compile_scaling [--quick]   # through the benchmark driver
    python -m bench --only compile_scaling [--scaling-sizes 100,200] [--scaling-families straight]
    python bench/compile_scaling.py [--quick] [--sizes 100,200] [--depths 4,8] [--no-eager]
                                    [--families straight,distinct,dag]
    python bench/compile_scaling.py --passes [--sizes 100,200,400] [--families straight,control,distinct]
                                    # CPU s per pass, exponent per pass
    python bench/compile_scaling.py --grad-dag [--depths 8,10,12,13,16] [--order 2]
                                    # gradients (of gradients) over the call DAG
    python bench/compile_scaling.py --work [--sizes 54,108,216]  # IR work counted per pass, not timed

`--passes` runs the native pipeline one pass at a time on the straight-line programs (and the
`control` family: the same layers inside `for` loops with an `if`), timing each pass and the
verification after it in CPU seconds, counting the IR's ops after each stage, and fitting an
exponent per pass: the pass whose exponent is over 1.2 is the one to fix.
"""

from __future__ import annotations

import argparse
import functools
import os
import sys
import time
from collections import Counter, defaultdict
from contextlib import contextmanager

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)


import numpy as np

import compiler
from compiler import driver
from compiler.pipeline import make_context, parse_passes, verify
from runtime import codegen_units

SIZES = (100, 200, 500, 1000, 2000, 5000)
QUICK_SIZES = (100, 200, 500, 1000)
DEPTHS = (4, 6, 8, 10, 12, 14)
QUICK_DEPTHS = (4, 6, 8, 10, 12, 14)
TARGET_EXPONENT = 1.2

ROWS, WIDTH = 4, 8

# one layer, one statement a line; `{p}` is the layer's input, `{o}` its output, `{k}` a unique tag
LAYER = """\
    a{k} = {p} @ w
    b{k} = a{k} + bias
    m{k} = max(b{k}, axis=-1, keepdims=true)
    e{k} = exp(b{k} - m{k})
    s{k} = e{k} / sum(e{k}, axis=-1, keepdims=true)
    r{k} = tanh(s{k} * 0.5) + {p}
    u{k} = mean(r{k}, axis=-1, keepdims=true)
    v{k} = mean((r{k} - u{k}) ** 2, axis=-1, keepdims=true)
    {o} = (r{k} - u{k}) * rsqrt(v{k} + 1e-5)
"""


# the control-flow family: a block of layers carried through a two-trip loop with an `if`
CONTROL = """\
    c{k} = {p}
    for i{k} in range(2):
        a{k} = c{k} @ w + bias
        m{k} = max(a{k}, axis=-1, keepdims=true)
        e{k} = exp(a{k} - m{k})
        s{k} = e{k} / sum(e{k}, axis=-1, keepdims=true)
        if i{k} % 2 == 0:
            c{k} = tanh(s{k}) + c{k}
        else:
            c{k} = s{k} * 0.5 + c{k}
    u{k} = mean(c{k}, axis=-1, keepdims=true)
    v{k} = mean((c{k} - u{k}) ** 2, axis=-1, keepdims=true)
    {o} = (c{k} - u{k}) * rsqrt(v{k} + 1e-5)
"""


def straight_line(lines: int, layer: str = LAYER) -> str:
    """One function of about `lines` statement lines (whole layers; the rest elementwise)."""
    body, k, prev = [], 0, "x"
    n = layer.count("\n")
    while len(body) + n <= lines:
        body += layer.format(p=prev, o=f"h{k}", k=k).splitlines()
        prev, k = f"h{k}", k + 1
    while len(body) < lines:
        body.append(f"    h{k} = {prev} * 0.999 + 0.001")
        prev, k = f"h{k}", k + 1
    return (f"def f(x: f32[{ROWS}, {WIDTH}], w: f32[{WIDTH}, {WIDTH}], bias: f32[{WIDTH}]) -> f32[{ROWS}, {WIDTH}]:\n"
            + "\n".join(body) + f"\n    return {prev}\n")


def control_flow(lines: int) -> str:
    """Like `straight_line`, with every layer in a loop with a branch."""
    return straight_line(lines, CONTROL)


def distinct_layers(lines: int) -> str:
    """Like `straight_line`, with a constant of its own in every layer: no two layers compile to the
    same code (the native backend shares equal kernels, `loom-outline-loops`), so LLVM gets one new
    kernel per layer."""
    return straight_line(lines, LAYER.replace("0.5", "0.{k}1"))


def straight_line_inputs(rng: np.random.Generator) -> tuple:
    return (rng.standard_normal((ROWS, WIDTH)).astype(np.float32),
            (rng.standard_normal((WIDTH, WIDTH)) / WIDTH).astype(np.float32),
            rng.standard_normal(WIDTH).astype(np.float32))


def call_dag(depth: int) -> str:
    """f_k calls f_{k-1} twice; the entry is `f`."""
    src = [f"def f0(x: f32[{WIDTH}]) -> f32[{WIDTH}]:", "    return tanh(x * 2.0)"]
    for k in range(1, depth + 1):
        src += [f"def f{k}(x: f32[{WIDTH}]) -> f32[{WIDTH}]:",
                f"    return f{k - 1}(x) + f{k - 1}(x * 0.5)"]
    src += [f"def f(x: f32[{WIDTH}]) -> f32[{WIDTH}]:", f"    return f{depth}(x)"]
    return "\n".join(src) + "\n"


def grad_call_dag(depth: int, order: int = 1) -> str:
    """`g(x) = grad(sum(f(x)))` over call_dag(depth); with `order` 2, `g` is the gradient of
    `sum(g1(x))` where `g1` is that gradient (a derivative of a derivative), and so on."""
    src, prev = call_dag(depth), "f"
    for k in range(1, order + 1):
        loss, g = ("loss", "g") if order == 1 else (f"loss{k}", "g" if k == order else f"g{k}")
        src += (f"def {loss}(x: f32[{WIDTH}]) -> f32:\n    return sum({prev}(x))\n"
                f"def {g}(x: f32[{WIDTH}]) -> f32[{WIDTH}]:\n    return grad({loss}, wrt=x)(x)\n")
        prev = g
    return src


def grad_dag_profile(depths, order: int = 1, out=functools.partial(print, flush=True)) -> dict:
    """CPU s of `ad-differentiate` alone and from source to the first result (native) of the
    gradient (of order `order`) over the call DAG, per depth (each program new: nothing cached
    between depths)."""
    from compiler.frontend.irgen import generate
    from compiler.pipeline import PassManager

    x = np.linspace(-1, 1, WIDTH).astype(np.float32)
    out(f"\n== gradient of order {order} over the call DAG: CPU s ==\n"
        f"  {'depth':>6}{'ad-differentiate':>18}{'load to result':>16}")
    res = {}
    for d in depths:
        prog = compiler.loads(grad_call_dag(d, order), name="scaling.loom", cache=False)
        module = generate(prog.checker, [prog.g.lower(x).inst])
        t = time.process_time()
        PassManager(parse_passes("ad-differentiate")).run(module)
        ad = time.process_time() - t
        t = time.process_time()
        compiler.loads(grad_call_dag(d, order), name="scaling.loom", cache=False).g(x)
        total = time.process_time() - t
        res[d] = (ad, total)
        out(f"  {d:>6}{ad:>18.2f}{total:>16.2f}")
    return res


def time_first_call(src: str, args: tuple, mode: str) -> tuple[float, float]:
    """(wall s, CPU s) from loading the source to the first result, in this process (every
    `loads` is a new program: nothing is cached between sizes)."""
    w, c = time.perf_counter(), time.process_time()
    compiler.loads(src, name="scaling.loom", mode=mode, cache=False).f(*args)
    return time.perf_counter() - w, time.process_time() - c


def fit_exponent(sizes, seconds) -> float:
    """k in t = a * size^k, least squares on the logs."""
    x, y = np.log(np.asarray(sizes, float)), np.log(np.asarray(seconds, float))
    return float(np.polyfit(x, y, 1)[0])


FAMILIES = ("straight", "distinct", "dag")


def measure(sizes=SIZES, depths=DEPTHS, eager: bool = True, families=FAMILIES,
            out=functools.partial(print, flush=True)) -> dict:
    """Times every program of `families`; returns {family: {mode: {"sizes", "wall_s", "cpu_s", "exponent"}}}."""
    rng = np.random.default_rng(0)
    args = straight_line_inputs(rng)
    families = {f: g for f, g in {"straight": (sizes, straight_line, args), "distinct": (sizes, distinct_layers, args),
                                  "dag": (depths, call_dag, (rng.standard_normal(WIDTH).astype(np.float32),))}.items()
                if f in families}
    modes = ("jit", "eager") if eager else ("jit",)
    res: dict = {}
    for family, (ns, make, args) in families.items():
        out(f"\n== compile scaling: {family} ({'call depth' if family == 'dag' else 'lines'}) ==")
        out(f"  {'size':>6}" + "".join(f"{m + ' wall s':>14}{m + ' cpu s':>13}" for m in modes))
        res[family] = {m: {"sizes": [], "wall_s": [], "cpu_s": []} for m in modes}
        for n in ns:
            src = make(n)
            row = f"  {n:>6}"
            for m in modes:
                w, c = time_first_call(src, args, m)
                r = res[family][m]
                r["sizes"].append(n), r["wall_s"].append(w), r["cpu_s"].append(c)
                row += f"{w:>14.2f}{c:>13.2f}"
            out(row)
        for m in modes if len(ns) > 1 else ():  # (one size: nothing to fit)
            r = res[family][m]
            r["exponent"] = fit_exponent(r["sizes"], r["cpu_s"])
            r["exponent_wall"] = fit_exponent(r["sizes"], r["wall_s"])
            if family == "dag":
                r["s_per_level"] = float(np.polyfit(r["sizes"], r["cpu_s"], 1)[0])
                out(f"  {m}: fitted exponent in depth {r['exponent']:.2f} (CPU; wall {r['exponent_wall']:.2f}), "
                    f"{r['s_per_level']:.3f} CPU s per level (doubling per level would be exponential)")
            else:
                verdict = "PASS" if r["exponent"] <= TARGET_EXPONENT else "MISS"
                out(f"  {m}: fitted exponent {r['exponent']:.2f} (CPU time; wall {r['exponent_wall']:.2f}), "
                    f"target <= {TARGET_EXPONENT}: {verdict}")
    return res


def pass_profile(src: str, args: tuple) -> tuple[dict[str, float], dict[str, int]]:
    """CPU seconds per pass of the native pipeline (a pass that runs twice is summed), the
    verification after each pass as one row, IR generation and LLVM; and the IR's op count after
    IR generation and after each stage."""
    cpu = time.process_time
    t = cpu()
    lowered = compiler.loads(src, name="scaling.loom", cache=False).f.lower(*args)
    times: dict[str, float] = defaultdict(float, {"parse + check + specialize": cpu() - t})
    t = cpu()
    module = lowered.generate()
    times["irgen (and verify)"] = cpu() - t
    ops = {"loom": sum(1 for _ in module.walk())}
    ctx = make_context()
    stages = {p.name: s for s in driver.IR_STAGES[1:] for p in parse_passes(driver.STAGES[s].passes)}
    for p in parse_passes(driver.native_pipeline(module)):
        t = cpu()
        p.apply(ctx, module)
        times[p.name] += cpu() - t
        t = cpu()
        verify(module, p.name)
        times["verify (after each pass)"] += cpu() - t
        ops[stages.get(p.name, p.name)] = sum(1 for _ in module.walk())
    t = cpu()
    art = driver.Artifact(module, lowered.symbol, lowered.signature())
    times["translate to LLVM IR"] = cpu() - t
    codegen_units.forget()  # every kernel compiled, as in a fresh process
    t = cpu()
    art.compiled()
    times["LLVM O3 + codegen + load"] = cpu() - t
    return dict(times), ops


# ---- work counts: how much IR each pass touches, independent of the machine's load

WORK = ("pattern applications", "ops created", "ops inserted", "op steps", "block steps", "use steps")


@contextmanager
def counting_work(counts: Counter):
    """Counts, while active, the IR work every xDSL rewrite is made of: ops a pattern walker offers
    to its patterns, ops created (clones included) and inserted into blocks, steps along a block's
    ops (`next_op`/`prev_op`: walks, `len(block.ops)`, searches), along a region's blocks, and along
    a value's uses. A pass whose counts grow faster than the IR it is given rescans what it has done."""
    from xdsl.ir import Block, Operation
    from xdsl.ir.core import IRUses
    from xdsl.pattern_rewriter import Worklist

    def counted(key, f):
        def wrapper(*a, **kw):
            counts[key] += 1
            return f(*a, **kw)
        return wrapper

    def uses(self):
        for use in plain_uses(self):
            counts["use steps"] += 1
            yield use

    plain_uses = IRUses.__iter__
    saved = [(Worklist, "pop"), (Operation, "__init__"), (Block, "_attach_op"), (IRUses, "__iter__"),
             (Operation, "next_op"), (Operation, "prev_op"), (Block, "next_block"), (Block, "prev_block")]
    saved = [(c, n, c.__dict__[n]) for c, n in saved]
    Worklist.pop = counted("pattern applications", Worklist.pop)
    Operation.__init__ = counted("ops created", Operation.__init__)
    Block._attach_op = counted("ops inserted", Block._attach_op)
    IRUses.__iter__ = uses
    for cls, name, key in ((Operation, "next_op", "op steps"), (Operation, "prev_op", "op steps"),
                           (Block, "next_block", "block steps"), (Block, "prev_block", "block steps")):
        setattr(cls, name, property(counted(key, cls.__dict__[name].fget)))
    try:
        yield counts
    finally:
        for cls, name, value in saved:
            setattr(cls, name, value)


def pass_work(src: str, args: tuple) -> dict[str, Counter]:
    """The `WORK` counts of IR generation and of each pass of the native pipeline (a pass that runs
    more than once is numbered: `cse`, `cse#2`, ...), and the op count after each."""
    lowered = compiler.loads(src, name="scaling.loom", cache=False).f.lower(*args)
    res: dict[str, Counter] = {}
    with counting_work(Counter()) as c:
        module = lowered.generate()
        res["irgen (and verify)"] = Counter(c)
        ctx = make_context()
        for p in parse_passes(driver.native_pipeline(module)):
            name = p.name
            for k in range(2, 10):
                if name not in res:
                    break
                name = f"{p.name}#{k}"
            c.clear()
            p.apply(ctx, module)
            res[name] = Counter(c)
            res[name]["ops after"] = sum(1 for _ in module.walk())
    return res


def work_profile(sizes, families=("straight",), out=functools.partial(print, flush=True)) -> dict:
    """`WORK` counts per pass against program size, with the fitted exponent of each."""
    args = straight_line_inputs(np.random.default_rng(0))
    makers = {"straight": straight_line, "distinct": distinct_layers, "control": control_flow}
    res = {}
    for family in families:
        rows = [pass_work(makers[family](n), args) for n in sizes]
        res[family] = rows
        out(f"\n== work per pass, {family} ({', '.join(map(str, sizes))} lines): count, fitted exponent ==")
        keys = WORK + ("ops after",)
        out(f"  {'pass':<28}" + "".join(f"{k:>24}" for k in keys))
        for name in rows[0]:
            cells = []
            for k in keys:
                ns = [r[name][k] for r in rows]
                cells.append(f"{ns[-1]:>16d} k={fit_exponent(sizes, ns):4.2f}" if min(ns) > 0 else f"{ns[-1]:>24d}")
            out(f"  {name:<28}" + "".join(cells))
    return res


PROFILED = ("straight", "control")


def profile(sizes, families=PROFILED, out=functools.partial(print, flush=True)) -> dict:
    """Per-pass CPU time and IR size against program size, with the fitted exponent of each."""
    args = straight_line_inputs(np.random.default_rng(0))
    res = {}
    makers = {"straight": straight_line, "distinct": distinct_layers, "control": control_flow}
    for family, make in ((f, makers[f]) for f in families):
        rows = [pass_profile(make(n), args) for n in sizes]
        res[family] = rows
        out(f"\n== per-pass CPU s, {family} ({', '.join(map(str, sizes))} lines) ==")
        for name in rows[0][0]:
            ts = [max(r[0].get(name, 0.0), 1e-4) for r in rows]
            out(f"  {name:<30}" + "".join(f"{t:9.3f}" for t in ts) + f"   k={fit_exponent(sizes, ts):5.2f}")
        total = [sum(r[0].values()) for r in rows]
        out(f"  {'total':<30}" + "".join(f"{t:9.3f}" for t in total) + f"   k={fit_exponent(sizes, total):5.2f}")
        out(f"  ops after each stage:")
        for name in rows[0][1]:
            ns = [r[1][name] for r in rows]
            out(f"  {name:<30}" + "".join(f"{n:9d}" for n in ns) + f"   k={fit_exponent(sizes, ns):5.2f}")
    return res


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help=f"sizes up to {QUICK_SIZES[-1]} lines")
    p.add_argument("--sizes", help="comma-separated line counts (overrides the defaults)")
    p.add_argument("--depths", help="comma-separated call depths (overrides the defaults)")
    p.add_argument("--no-eager", action="store_true", help="time native compilation only")
    p.add_argument("--families", help=f"comma-separated program families (default: {','.join(FAMILIES)}; "
                   f"with --passes: {','.join(PROFILED)}, or distinct)")
    p.add_argument("--passes", action="store_true", help="CPU time and exponent per pass (straight and control)")
    p.add_argument("--work", action="store_true", help="IR work counted per pass (independent of load), exponent per pass")
    p.add_argument("--grad-dag", action="store_true", help="CPU time of the gradient over the call DAG per depth")
    p.add_argument("--order", type=int, default=1, help="with --grad-dag: the order of the derivative (2: grad of grad)")
    a = p.parse_args(argv)
    sizes = [int(s) for s in a.sizes.split(",")] if a.sizes else (QUICK_SIZES if a.quick else SIZES)
    depths = [int(s) for s in a.depths.split(",")] if a.depths else (QUICK_DEPTHS if a.quick else DEPTHS)
    if a.work:
        work_profile(sizes, a.families.split(",") if a.families else ("straight",))
    elif a.passes:
        profile(sizes, a.families.split(",") if a.families else PROFILED)
    elif a.grad_dag:
        grad_dag_profile(depths, a.order)
    else:
        measure(sizes, depths, eager=not a.no_eager, families=a.families.split(",") if a.families else FAMILIES)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
