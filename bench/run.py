"""The benchmark driver: `python -m bench` or `python bench/run.py`.

    --only NAME[,NAME]   workload groups or names: elementwise sumsq softmax layernorm matmul mlp
                         autodiff compile compile_scaling (or single names such as matmul1024)
    --repeats N          timed runs per implementation (default 9, at least 7)
    --quick              small sizes, for a smoke run (the targets are meant for the full sizes)
    --json OUT           also write all results to OUT
    --threads N          also time Loom on N threads (default: every core available; 1: only 1)
    --scaling-sizes N,…  compile_scaling: the line counts (--scaling-families, --scaling-no-eager)

How the comparison is kept fair (read this before trusting a number):
  1. One process, side by side: every implementation runs on the same machine state, the same
     input arrays and in the same process, so nothing differs but the code under test.
  2. Single-threaded: the thread-count variables are set below BEFORE NumPy, JAX or PyTorch is
     imported (BLAS libraries read them once, at load time) and torch.set_num_threads(1) is called;
     row `loom` runs Loom's parallel loops on 1 thread too. Row `loom xN` is Loom on N threads (all
     cores by default), its speed-up over itself on 1 thread: a column apart, not a comparison.
  3. Warm-up: the first calls compile (Loom, jax.jit) or fill caches; they are timed separately
     ("1st call") and never mixed into the measurement.
  4. Many runs, the median: timings are noisy and skewed upwards (interrupts, other processes), so
     we report the median of >= 7 runs (and the minimum, the best case). Runs of the implementations
     are interleaved round by round, so slow drift (CPU clock, other load) hits all of them alike.
     The garbage collector is off during timed runs, as timeit does.
  5. Correctness: every result is compared with NumPy's. A fast wrong answer is reported as
     MISMATCH and never counts as meeting a target.
"""

import os

# ---- (2) single thread: must happen before numpy / jax / torch are imported anywhere ----------
THREAD_ENV = {
    "OMP_NUM_THREADS": "1",
    "OPENBLAS_NUM_THREADS": "1",
    "MKL_NUM_THREADS": "1",
    "VECLIB_MAXIMUM_THREADS": "1",
    "NUMEXPR_NUM_THREADS": "1",
    "XLA_FLAGS": "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1",
    "JAX_PLATFORMS": "cpu",  # compare CPU with CPU even where JAX could use a GPU
}
os.environ.update(THREAD_ENV)

# The imports come after the environment is set, on purpose.
import argparse
import gc
import json
import statistics
import sys
import time
import traceback

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ROOT not in sys.path:  # `python bench/run.py` puts bench/ (not the repository) on sys.path
    sys.path.insert(0, ROOT)

import numpy as np

import compiler
from bench import compile_scaling, compile_time, machine
from bench import workloads as W
from runtime import parallel

WARMUP = 2


def optional_libraries() -> dict:
    """JAX and PyTorch, when installed (they are optional)."""
    libs = {}
    try:
        import jax
        import jax.numpy as jnp

        libs["jax"] = (jax, jnp)
        print(f"jax: {jax.__version__} ({jax.devices()[0].platform})")
    except ImportError:
        print("jax: not installed")
    try:
        import torch

        torch.set_num_threads(1)
        libs["torch"] = torch
        print(f"torch: {torch.__version__} (threads: {torch.get_num_threads()})")
    except ImportError:
        print("torch: not installed")
    return libs


# ---------------------------------------------------------------------------------------------
# Implementations: each is a zero-argument `call` (inputs already bound and converted, so the
# conversion is not timed) and a `to_numpy` that turns its result into a NumPy value for the check.
# ---------------------------------------------------------------------------------------------

# After a parallel loop the pool's workers spin for a while (runtime/parallel.ll, "Spinning";
# LOOM_SPIN_US, 2 ms by default) before they sleep: `interleaved` lets a call on several threads settle
# longer than that after it returns, so that this CPU time is counted as that call's and never as the
# next library's (the clocks are per process).
SETTLE_S = 0.005


def on_threads(n: int, f):
    """`f` with Loom's parallel loops on `n` threads."""
    def call():
        parallel.set_num_threads(n)
        return f()
    call.settle = max(SETTLE_S, parallel.spin_us() * 1e-6 + 0.001) if n > 1 else 0.0
    return call


def implementations(w: W.Workload, inputs: list, libs: dict, threads: int) -> dict:
    impls = {}
    try:
        prog = compiler.loads(w.loom_src, name=f"{w.name}.loom", cache=False)  # mode="jit": native
        loom_fn = getattr(prog, w.loom_fn)
        impls["loom"] = (on_threads(1, lambda: loom_fn(*inputs)), w.flatten or np.asarray)
        if threads > 1:
            impls[f"loom x{threads}"] = (on_threads(threads, lambda: loom_fn(*inputs)), w.flatten or np.asarray)
    except Exception as e:  # noqa: BLE001  (a program Loom rejects: report it, time the others)
        impls["loom"] = (e, None)
    impls["numpy"] = (lambda: w.numpy_fn(*inputs), w.flatten or np.asarray)
    if "jax" in libs and w.jax_fn is not None:
        jax, jnp = libs["jax"]
        jf = jax.jit(w.jax_fn(jnp))
        jargs = [jax.device_put(a) for a in inputs]
        impls["jax"] = (lambda: jax.block_until_ready(jf(*jargs)), w.flatten or np.asarray)
    if "torch" in libs and w.torch_fn is not None:
        torch = libs["torch"]
        tf = w.torch_fn(torch)
        targs = [torch.from_numpy(a) if isinstance(a, np.ndarray) else float(a) for a in inputs]

        def torch_call():
            with torch.no_grad():
                return tf(*targs)
        impls["torch"] = (torch_call, w.flatten or (lambda t: t.numpy()))
    return impls


def check(out, ref, w: W.Workload) -> tuple[bool, str]:
    """Compare a result with NumPy's (rtol, plus an absolute tolerance scaled to the result)."""
    out, ref = np.asarray(out), np.asarray(ref)
    if out.shape != ref.shape:
        return False, f"shape {out.shape}, NumPy {ref.shape}"
    scale = float(np.max(np.abs(ref))) if ref.size else 0.0
    err = float(np.max(np.abs(out.astype(np.float64) - ref))) / (scale or 1.0) if ref.size else 0.0
    ok = bool(np.allclose(out, ref, rtol=w.rtol, atol=w.atol_rel * scale))
    return ok, f"max err {err:.1e}"


def warm_up(impls: dict, clock=time.perf_counter) -> tuple[dict, dict, dict, dict]:
    """Call each implementation WARMUP times: the first call compiles (Loom, jax.jit), timed on its
    own with `clock`, for information. Returns the working calls, their results as NumPy values,
    the first calls' times and the failures' error texts, by name."""
    calls, outs, first, errors = {}, {}, {}, {}
    for name, (call, to_np) in impls.items():
        try:
            if isinstance(call, Exception):
                raise call
            t = clock()
            out = call()
            first[name] = clock() - t
            for _ in range(WARMUP - 1):
                out = call()
        except Exception as e:  # noqa: BLE001  (report any failure, go on)
            errors[name] = error_text(e)
            continue
        calls[name], outs[name] = call, to_np(out)
    return calls, outs, first, errors


def interleaved(calls: dict, repeats: int, clock=time.perf_counter) -> dict[str, list[float]]:
    """Timed runs, interleaved: round r times every call once with `clock`, the garbage collector off."""
    times: dict[str, list[float]] = {name: [] for name in calls}
    gc_was_enabled = gc.isenabled()
    gc.disable()
    try:
        for _ in range(repeats):
            for name, call in calls.items():
                settle = getattr(call, "settle", 0.0)
                t = clock()
                call()
                if settle and clock is time.process_time:
                    time.sleep(settle)  # the pool's spinning workers: this call's CPU time
                times[name].append(clock() - t)
                if settle and clock is not time.process_time:
                    time.sleep(settle)  # not timed, but not overlapping the next call either
    finally:
        if gc_was_enabled:
            gc.enable()
    return times


def time_workload(w: W.Workload, libs: dict, repeats: int, threads: int = 1) -> dict:
    inputs = w.make_inputs(np.random.default_rng(0))
    res = {"title": w.title, "flops": w.flops, "bytes": w.bytes, "impls": {}}
    impls = implementations(w, inputs, libs, threads)

    calls, outs, first, errors = warm_up(impls)
    res["impls"] = {name: {"error": text} for name, text in errors.items()}
    res["impls"].update({name: {"first_s": first[name]} for name in calls})

    times = interleaved(calls, repeats)

    ref = outs.get("numpy")
    for name in calls:
        r = res["impls"][name]
        r["median_ms"] = statistics.median(times[name]) * 1e3
        r["min_ms"] = min(times[name]) * 1e3
        r["times_ms"] = [t * 1e3 for t in times[name]]
        if w.flops:
            r["gflops"] = w.flops / (r["median_ms"] * 1e-3) / 1e9
        if w.bytes:
            r["gbps"] = w.bytes / (r["median_ms"] * 1e-3) / 1e9
        if name == "numpy":
            r["ok"], r["check"] = True, "reference"
        else:
            r["ok"], r["check"] = check(outs[name], ref, w)
    return res


def error_text(e: BaseException) -> str:
    """The error message, plus where it came from when it is not a Loom diagnostic."""
    text = f"{type(e).__name__}: {e}".strip()
    if not isinstance(e, compiler.LoomError):
        frames = traceback.extract_tb(e.__traceback__)
        if frames:
            f = frames[-1]
            text += f"\n      (raised at {os.path.relpath(f.filename, ROOT)}:{f.lineno} in {f.name})"
    return text


# ---------------------------------------------------------------------------------------------
# Reporting
# ---------------------------------------------------------------------------------------------

def loom_ratio(res: dict, other: str) -> float | None:
    """Loom's median time / other's median time (< 1: Loom is faster)."""
    lo, ot = res["impls"].get("loom", {}), res["impls"].get(other, {})
    if "median_ms" in lo and "median_ms" in ot:
        return lo["median_ms"] / ot["median_ms"]
    return None


MACHINE: dict = {}  # "peak_gflops" (per core) and "copy_gbps", measured once by measure_machine()


def measure_machine(repeats: int) -> dict:
    """The roofline's two ceilings (bench/machine.py): FMA peak per core and copy bandwidth."""
    MACHINE.update(peak_gflops=machine.fma_peak_gflops(repeats), copy_gbps=machine.copy_gbps(repeats))
    return MACHINE


def roofline(res: dict, r: dict, name: str) -> str:
    """How close a Loom row is to its ceiling: FMA peak (x threads) or memory bandwidth."""
    threads = int(name.split("x")[1]) if " x" in name else 1
    if res.get("flops") and MACHINE:
        peak = MACHINE["peak_gflops"] * threads
        return f"{r['gflops']:.1f} GFLOP/s = {r['gflops'] / peak:.0%} of FMA peak ({peak:.0f} GFLOP/s)"
    if res.get("bytes") and MACHINE:
        return f"{r['gbps']:.1f} GB/s = {r['gbps'] / MACHINE['copy_gbps']:.0%} of copy bandwidth " \
               f"({MACHINE['copy_gbps']:.1f} GB/s, 1 thread)"
    return "n/a (no FLOP or byte count)"


def print_workload(res: dict) -> None:
    print(f"\n== {res['title']} ==")
    has_flops = bool(res["flops"])
    header = f"  {'impl':<8}{'median ms':>12}{'min ms':>12}{'1st call s':>12}{'loom/impl':>11}"
    print(header + (f"{'GFLOP/s':>10}" if has_flops else "") + "  check")
    for name, r in res["impls"].items():
        if "error" in r:
            who = "LOOM FAILED" if name == "loom" else "FAILED"
            print(f"  {name:<8}*** {who}: {r['error']}")
            continue
        ratio = loom_ratio(res, name) if not name.startswith("loom") else None
        line = (f"  {name:<8}{r['median_ms']:>12.3f}{r['min_ms']:>12.3f}{r['first_s']:>12.3f}"
                + (f"{ratio:>10.2f}x" if ratio is not None else f"{'-':>11}"))
        if has_flops:
            line += f"{r['gflops']:>10.2f}"
        line += "  " + ("ok (" + r["check"] + ")" if r["ok"] else f"*** MISMATCH *** ({r['check']})")
        print(line)
    if has_flops and "gflops" in res["impls"].get("loom", {}) and "gflops" in res["impls"].get("numpy", {}):
        g = res["impls"]["loom"]["gflops"] / res["impls"]["numpy"]["gflops"]
        print(f"  loom GFLOP/s / numpy GFLOP/s = {g:.3f}")
    for name, r in res["impls"].items():
        if name.startswith("loom") and "median_ms" in r:
            print(f"  roofline ({name}): {roofline(res, r, name)}")


def summary_rows(results: dict, compile_res, quick: bool) -> list[dict]:
    """The headline numbers of the issue, each against its target."""
    rows = []

    def add(label, value, fmt, target, passed, ok=True):
        if value is None:
            verdict = "ERROR"
        elif not ok:
            verdict = "MISMATCH"
        elif passed is None:
            verdict = "-"
        else:
            verdict = "PASS" if passed else "MISS"
        rows.append({"label": label, "value": value, "shown": "n/a" if value is None else fmt.format(value),
                     "target": target, "verdict": verdict})

    def loom_ok(name):
        return results.get(name, {}).get("impls", {}).get("loom", {}).get("ok", False)

    def time_row(label, name, target=None):
        if name not in results:
            return
        ratio = loom_ratio(results[name], "numpy")
        add(label, ratio, "{:.3f}x", f"<= {target}x" if target else "(none)",
            None if target is None or ratio is None else ratio <= target, loom_ok(name))

    time_row("(1) elementwise: loom/numpy time", "elementwise", 0.5)
    time_row("(2) sum of squares: loom/numpy time", "sumsq")
    time_row("(3) softmax: loom/numpy time", "softmax", 0.5)
    time_row("    softmax written out: loom/numpy", "softmax_manual")
    time_row("(4) layer norm: loom/numpy time", "layernorm", 0.5)
    time_row("    layer norm written out: loom/numpy", "layernorm_manual")
    mm = sorted((n for n in results if n.startswith("matmul")), key=lambda n: int(n[6:]))
    for name in mm:
        imp = results[name].get("impls", {})
        g = None
        if "gflops" in imp.get("loom", {}) and "gflops" in imp.get("numpy", {}):
            g = imp["loom"]["gflops"] / imp["numpy"]["gflops"]
        headline = name == mm[-1]
        add(f"(5) {name}: loom/numpy GFLOP/s", g, "{:.3f}x", ">= 0.3x" if headline else "(none)",
            (g >= 0.3 if g is not None else None) if headline else None, loom_ok(name))
    time_row("(6) MLP forward: loom/numpy time", "mlp")

    def torch_row(label, name):
        if name in results and "torch" in results[name]["impls"]:
            r = loom_ratio(results[name], "torch")
            add(label, r, "{:.3f}x", "<= 1.0x", None if r is None else r <= 1.0, loom_ok(name))

    torch_row("(3) softmax: loom/torch time", "softmax")
    torch_row("(4) layer norm: loom/torch time", "layernorm")
    torch_row("(10) transformer fwd+bwd: loom/torch", "transformer")
    for name, res in results.items():  # Loom on all cores against Loom on one
        multi = [k for k in res["impls"] if k.startswith("loom x") and "median_ms" in res["impls"][k]]
        if multi and "median_ms" in res["impls"].get("loom", {}):
            speedup = res["impls"]["loom"]["median_ms"] / res["impls"][multi[0]]["median_ms"]
            add(f"    {name}: {multi[0]} speed-up", speedup, "{:.2f}x", "(none)", None,
                res["impls"][multi[0]].get("ok", False))

    def own_ratio(label, num, den, target):
        a = results.get(num, {}).get("impls", {}).get("loom", {}).get("median_ms")
        b = results.get(den, {}).get("impls", {}).get("loom", {}).get("median_ms")
        r = a / b if a and b else None
        add(label, r, "{:.2f}x", f"<= {target}x", None if r is None else r <= target, loom_ok(num))

    if "train_step" in results:
        own_ratio("(8) MLP value_and_grad / forward", "train_step", "mlp_loss", 3)
        own_ratio("(8) loop value_and_grad / forward", "loop_grad", "loop_fwd", 3)
        time_row("(8) train step: loom/numpy by hand", "train_step")
        if "jax" in results["train_step"]["impls"]:
            jr = loom_ratio(results["train_step"], "jax")
            add("(8) train step: loom/jax time", jr, "{:.3f}x", "<= 1.5x", None if jr is None else jr <= 1.5,
                loom_ok("train_step"))
    if compile_res is not None:
        if "error" in compile_res:
            add("(7a) cold compile, load->1st result", None, "", "<= 1 s", None)
            add("(7b) cache hit, load->1st result", None, "", "<= 0.1 s", None)
        else:
            c, h = compile_res["mlp"]["cold"], compile_res["mlp"]["hit"]
            add("(7a) cold compile, load->1st result", c["load_to_first_result_s"], "{:.3f} s", "<= 1 s",
                c["load_to_first_result_s"] <= 1.0, c["ok"])
            add("(7b) cache hit, load->1st result", h["load_to_first_result_s"], "{:.3f} s", "<= 0.1 s",
                h["load_to_first_result_s"] <= 0.1, h["ok"])
            add("(7c) import compiler", c["import_compiler_s"], "{:.3f} s", "<= 0.3 s", c["import_compiler_s"] <= 0.3)
            t = compile_res["train"]["cold"]
            add("(7d) train step cold, load->1st result", t["load_to_first_result_s"], "{:.3f} s", "-", None, t["ok"])
    return rows


def scaling_rows(res: dict | None) -> list[dict]:
    """(9) the fitted exponent of native compile time against program length."""
    if res is None:
        return []
    target = compile_scaling.TARGET_EXPONENT
    rows = []
    for family in ("straight", "distinct"):
        if "error" not in res and family not in res:
            continue
        k = None if "error" in res else res[family]["jit"]["exponent"]
        rows.append({"label": f"(9) compile time ~ lines^k ({family}): k", "value": k,
                     "shown": "n/a" if k is None else f"{k:.2f}", "target": f"<= {target}",
                     "verdict": "ERROR" if k is None else "PASS" if k <= target else "MISS"})
    return rows


def print_summary(rows: list[dict], quick: bool) -> None:
    print("\n== summary (ratios: loom/numpy time < 1 means Loom is faster; GFLOP/s ratio > 1 means "
          "Loom is faster) ==")
    if quick:
        print("   (--quick sizes: the targets are meant for the full sizes)")
    print(f"  {'headline':<40}{'value':>12}  {'target':<10}  result")
    for r in rows:
        print(f"  {r['label']:<40}{r['shown']:>12}  {r['target']:<10}  {r['verdict']}")


# ---------------------------------------------------------------------------------------------

def parse_args(argv):
    p = argparse.ArgumentParser(prog="python -m bench", description="Loom benchmark suite")
    p.add_argument("--only", help="comma-separated workload groups or names "
                   f"({', '.join(W.GROUPS)}; or e.g. matmul1024)")
    p.add_argument("--repeats", type=int, default=9, help="timed runs per implementation (>= 7)")
    p.add_argument("--quick", action="store_true", help="small sizes, for a smoke run")
    p.add_argument("--json", metavar="OUT", help="also write the results as JSON to OUT")
    p.add_argument("--threads", type=int, default=len(os.sched_getaffinity(0)),
                   help="also time Loom on this many threads (default: every core available; 1: only 1)")
    p.add_argument("--scaling-sizes", help="compile_scaling: comma-separated line counts "
                   f"(default {','.join(map(str, compile_scaling.SIZES))}; --quick: "
                   f"{','.join(map(str, compile_scaling.QUICK_SIZES))})")
    p.add_argument("--scaling-families", default=",".join(compile_scaling.FAMILIES),
                   help="compile_scaling: comma-separated program families (default: %(default)s)")
    p.add_argument("--scaling-no-eager", action="store_true", help="compile_scaling: native compilation only")
    args = p.parse_args(argv)
    if not 1 <= args.threads <= parallel.MAX_THREADS:
        p.error(f"--threads must be from 1 to {parallel.MAX_THREADS}")
    if args.repeats < 7:
        p.error("--repeats must be at least 7 (a median of fewer runs is too noisy)")
    return args


def main(argv=None) -> int:
    args = parse_args(argv)
    suite = W.suite(quick=args.quick)
    names = {w.name for w in suite} | set(W.GROUPS)
    only = set(args.only.split(",")) if args.only else None
    if only and not only <= names:
        print(f"unknown workload(s): {', '.join(sorted(only - names))} (known: {', '.join(sorted(names))})")
        return 2
    selected = [w for w in suite if only is None or w.name in only or w.group in only]

    info = machine.machine_info()
    print("Loom benchmark suite" + (" (--quick sizes)" if args.quick else ""))
    used = f"1 used, {args.threads} by 'loom x{args.threads}'" if args.threads > 1 else "1 used"
    print(f"{info['time']}  cpu: {info['cpu']} ({info['cpus_available']} available, {used})  "
          f"python {info['python']}  numpy {info['numpy']}  llvmlite {info['llvmlite']}")
    print(f"load average (1 min) before the run: {info['load_avg_1min']}  (other load makes timings noisy)")
    print(f"single-threaded: {', '.join(f'{k}={v}' for k, v in THREAD_ENV.items())}")
    print(f"warm-up {WARMUP} calls, then {args.repeats} timed runs each, interleaved; median reported")
    libs = optional_libraries()
    if args.threads > 1:
        print(f"row 'loom x{args.threads}': Loom's parallel loops on {args.threads} threads (the others stay on 1)")
    m = measure_machine(args.repeats)
    print(f"roofline ceilings (bench/machine.py, 1 thread, medians): FMA peak {m['peak_gflops']:.1f} GFLOP/s "
          f"per core, bandwidth {m['copy_gbps']:.1f} GB/s (64 MiB copy)")

    results = {}
    for w in selected:
        results[w.name] = time_workload(w, libs, args.repeats, args.threads)
        print_workload(results[w.name])
        sys.stdout.flush()

    compile_res = None
    if only is None or "compile" in only:
        batch = W.QUICK["batch"] if args.quick else W.FULL["batch"]
        try:
            compile_res = compile_time.measure(batch)
            compile_time.report(compile_res)
        except Exception as e:  # noqa: BLE001
            compile_res = {"error": error_text(e)}
            print(f"\n== (7) compile time ==\n  *** FAILED: {compile_res['error']}")

    scaling_res = None
    if only is None or "compile_scaling" in only:
        try:
            sizes = ([int(n) for n in args.scaling_sizes.split(",")] if args.scaling_sizes else
                     compile_scaling.QUICK_SIZES if args.quick else compile_scaling.SIZES)
            scaling_res = compile_scaling.measure(sizes,
                                                  compile_scaling.QUICK_DEPTHS if args.quick else compile_scaling.DEPTHS,
                                                  eager=not args.scaling_no_eager,
                                                  families=args.scaling_families.split(","))
        except Exception as e:  # noqa: BLE001  (report any failure, go on)
            scaling_res = {"error": error_text(e)}
            print(f"\n== (9) compile scaling ==\n  *** FAILED: {scaling_res['error']}")
    rows = summary_rows(results, compile_res, args.quick) + scaling_rows(scaling_res)
    print_summary(rows, args.quick)

    if args.json:
        with open(args.json, "w") as f:
            json.dump({"meta": {**info, "quick": args.quick, "repeats": args.repeats, "warmup": WARMUP,
                                "threads": args.threads, "machine": MACHINE,
                                "thread_env": THREAD_ENV, "libraries": sorted(libs)},
                       "workloads": results, "compile": compile_res, "compile_scaling": scaling_res,
                       "summary": rows}, f, indent=1)
        print(f"\nresults written to {args.json}")

    # Exit status 1 when Loom failed or computed a wrong result (missing a target is not an error).
    bad = [r for r in rows if r["verdict"] in ("ERROR", "MISMATCH")]
    return 1 if bad else 0


if __name__ == "__main__":
    raise SystemExit(main())
