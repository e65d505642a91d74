"""The `loom` command: check, run, compile and optimize Loom programs.

    loom check FILE
    loom run FILE [--entry F] [--inputs in.npz] [--out out.npz] [--eager] [--cache]
    loom compile FILE --emit=STAGE [--entry F] [--shape B=256 ...] [-o OUT]
        STAGE: ast | loom | linalg | bufferized | loops | llvm-dialect | llvm | llvm-opt | asm | obj
    loom opt FILE.mlir -p PIPELINE [-o OUT]

`run`, `compile` and `opt` take the pass-manager flags `-p/--pipeline`, `--print-ir-after-all`,
`--print-ir-before=PASS`, `--print-ir-after=PASS`, `--dump-dir DIR`, `--timing`,
`--no-verify-each`, `--locations`. Errors in programs are printed as diagnostics with exit status
1; a Python traceback means a bug in Loom (exit status 2).
"""

from __future__ import annotations

import argparse
import sys
import time
import traceback

import numpy as np

from compiler.diagnostics import LoomError


def _passes_flags(p: argparse.ArgumentParser, default_pipeline: str) -> None:
    g = p.add_argument_group("pass manager")
    g.add_argument("-p", "--pipeline", default=default_pipeline,
                   help=f"passes to run, e.g. 'loom-inline,canonicalize,cse' or a named pipeline (default: {default_pipeline})")
    g.add_argument("--print-ir-after-all", action="store_true", help="print the IR after every pass")
    g.add_argument("--print-ir-before", action="append", default=[], metavar="PASS", help="print the IR before PASS")
    g.add_argument("--print-ir-after", action="append", default=[], metavar="PASS", help="print the IR after PASS")
    g.add_argument("--dump-dir", metavar="DIR", help="write the IR after each pass to DIR/NN-pass.mlir")
    g.add_argument("--timing", action="store_true", help="print a table of per-pass wall time on stderr")
    g.add_argument("--no-verify-each", dest="verify_each", action="store_false", help="verify only at the end")
    g.add_argument("--locations", action="store_true", help="print source locations (loc(...)) in IR dumps")


def _split(names: list[str]) -> set[str]:
    return {n.strip() for x in names for n in x.split(",") if n.strip()}


def _manager(args, pipeline: str | None = None):
    from compiler.pipeline import PassManager, parse_passes

    return PassManager(parse_passes(pipeline or args.pipeline), verify_each=args.verify_each,
                       print_after_all=args.print_ir_after_all, print_before=_split(args.print_ir_before),
                       print_after=_split(args.print_ir_after), dump_dir=args.dump_dir, timing=args.timing,
                       locations=args.locations, stream=sys.stdout)


def _program(path: str):
    from compiler.frontend.parser import parse_file
    from compiler.frontend.typecheck import Checker

    t0 = time.perf_counter()
    module = parse_file(path)
    t1 = time.perf_counter()
    checker = Checker(module)
    checker.check_all()
    t2 = time.perf_counter()
    return module, checker, [("parse", t1 - t0), ("typecheck", t2 - t1)]


def cmd_check(args) -> int:
    _, checker, _ = _program(args.file)
    print(f"{args.file}: ok ({len(checker.funcs)} function(s))")
    return 0


def _load_inputs(path: str | None, fdef) -> list:
    from compiler.api import to_numpy

    if not fdef.params:
        if path:
            raise LoomError(f"'{fdef.name}' takes no parameters, but --inputs was given")
        return []
    if not path:
        names = ", ".join(p.name for p in fdef.params)
        raise LoomError(f"'{fdef.name}' takes parameters ({names}): give them with --inputs FILE.npz "
                        "(one array per parameter name)")
    try:
        with np.load(path, allow_pickle=False) as data:
            arrays = {k: data[k] for k in data.files}
    except (OSError, ValueError, EOFError) as e:
        raise LoomError(f"cannot read inputs '{path}': {e}") from None
    missing = [p.name for p in fdef.params if p.name not in arrays]
    if missing:
        raise LoomError(f"'{path}' has no array for parameter(s) {', '.join(missing)} of '{fdef.name}' "
                        f"(it has: {', '.join(arrays) or 'nothing'})")
    extra = [k for k in arrays if k not in {p.name for p in fdef.params}]
    if extra:
        raise LoomError(f"'{path}' has arrays that are not parameters of '{fdef.name}': {', '.join(extra)}")
    return [to_numpy(arrays[p.name], p, fdef.name) for p in fdef.params]


def cmd_run(args) -> int:
    from compiler.api import DTYPE_NAMES
    from compiler.frontend.irgen import generate
    from compiler.frontend.types import TensorT
    from compiler.pipeline import verify
    from runtime.reference import run_function
    from runtime.simulated import mesh_shape

    _, checker, times = _program(args.file)
    fdef = checker.funcs.get(args.entry)
    if fdef is None:
        raise LoomError(f"'{args.file}' has no function '{args.entry}' "
                        f"(it has: {', '.join(checker.funcs) or 'none'})")
    inputs = _load_inputs(args.inputs, fdef)
    types = [TensorT(DTYPE_NAMES[np.asarray(a).dtype], tuple(np.shape(a))) for a in inputs]
    t0 = time.perf_counter()
    inst = checker.specialize(args.entry, types)
    module = generate(checker, [inst])
    verify(module)
    times.append(("irgen", time.perf_counter() - t0))
    if args.devices is not None and not args.eager:
        from runtime import launch

        if not launch.is_rank():  # checked here, so that a wrong N is one clean error
            launch.check_devices(module, args.devices)
            return launch.run_devices(args.argv, args.devices)
        results = launch.rank_run(module, inst.symbol, inputs, lambda: _native_function(args, module, inst.symbol)[:2])
        if results is None:
            return 0
        after: list = []
        pm = None
    elif args.eager:
        from compiler.pipeline import with_autodiff

        pm = _manager(args, with_autodiff(module, args.pipeline))
        pm.run(module, initial="irgen")
        t0 = time.perf_counter()
        results = run_function(module, inst.symbol, inputs)
        after = [("execute (eager)", time.perf_counter() - t0)]
    elif mesh_shape(module) is not None:  # §9.5: every device of the mesh, simulated in this process
        from runtime.simulated import run_spmd

        pm, after = None, []
        results = run_spmd(module, inst.symbol, inputs)
    else:
        fn, _, pm, after = _native_function(args, module, inst.symbol)
        t0 = time.perf_counter()
        results = fn(inputs)
        after.append(("execute (native)", time.perf_counter() - t0))
    if args.out:
        names = ["result"] if len(results) == 1 else [f"result{i}" for i in range(len(results))]
        np.savez(args.out, **{n: np.asarray(r) for n, r in zip(names, results)})
    elif results:
        print(_format_results(list(results), inst.result_types))
    if args.timing and pm is not None:
        sys.stderr.write(pm.timing_report(times, after))
    return 0


def _format_results(leaves: list, types) -> str:
    """What `main` returned, printed like the eager executor's values; a struct as `S(f=…, …)`."""
    from compiler.frontend.structs import n_leaves
    from compiler.frontend.types import StructT
    from runtime.format import format_value

    def one(chunk: list, t) -> str:
        if not isinstance(t, StructT):
            return format_value(chunk[0])
        parts, k = [], 0
        for name, ft in t.fields:
            n = n_leaves(ft)
            parts.append(f"{name}={one(chunk[k:k + n], ft)}")
            k += n
        return f"{t.name}(" + ", ".join(parts) + ")"

    shown, k = [], 0
    for t in types:
        n = n_leaves(t)
        shown.append(one(leaves[k:k + n], t))
        k += n
    return shown[0] if len(shown) == 1 else "(" + ", ".join(shown) + ")"


def _native_function(args, module, symbol: str):
    """Compile `module` through every stage (pass-manager flags apply to the whole pipeline)."""
    from compiler import native

    from compiler.pipeline import with_autodiff

    sig = native.signature(module, symbol)
    pm = _manager(args, with_autodiff(module, native.full_pipeline()))
    pm.run(module, initial="irgen")
    after: list = []
    art = native.Artifact(module, symbol, sig, after)
    fn, obj = art.compiled(after)
    return fn, obj, pm, after


def _specialize_all(args, checker):
    """Instances of the entry (or every function) with --shape bindings for symbolic dims."""
    bindings: dict = {}
    for item in args.shape:
        name, _, value = item.partition("=")
        try:
            dims = tuple(int(v) for v in value.replace("x", ",").split(",") if v)
        except ValueError:
            dims = None
        if not name or dims is None or not dims or any(d < 0 for d in dims):
            raise LoomError(f"bad --shape '{item}': expected NAME=SIZE (e.g. B=256) or S=4x5 for '...S'")
        bindings[name.strip()] = dims[0] if len(dims) == 1 and "x" not in value and "," not in value else dims
    names = [args.entry] if args.entry else list(checker.funcs)
    insts = []
    for name in names:
        f = checker.funcs[name]
        types = []
        for p in f.params:
            b = {k: (tuple(v) if isinstance(v, tuple) else v) for k, v in bindings.items()}
            try:
                t = checker.resolve_type(p.type, b, bind_fresh=False)
            except LoomError:
                missing = [d.value for d in (p.type.dims or []) if d.kind != "int" and d.value not in bindings
                           and d.value not in checker.consts]
                hint = f"--shape {missing[0]}=N" if missing else "--shape NAME=N for its symbolic dimensions"
                raise LoomError(f"parameter '{p.name}' of '{name}' has symbolic dimension(s) "
                                f"{', '.join(map(str, missing)) or '(in its struct type)'}: give sizes with {hint}",
                                p.span) from None
            types.append(t)
        insts.append(checker.specialize(name, types))
    return insts


def cmd_compile(args) -> int:
    from compiler.frontend import ast as A
    from compiler.frontend.irgen import generate
    from compiler.pipeline import print_module, verify

    module, checker, times = _program(args.file)
    if args.emit == "ast":
        text = A.dump(module.items) + "\n"
    elif args.emit not in ("loom", "opt"):
        return _compile_native(args, checker, times)
    else:
        if args.entry:
            if args.entry not in checker.funcs:
                raise LoomError(f"'{args.file}' has no function '{args.entry}'")
            roots = [checker.generic(args.entry)]
        else:
            roots = [checker.generic(n) for n in checker.funcs]
        t0 = time.perf_counter()
        ir = generate(checker, roots)
        verify(ir)
        times.append(("irgen", time.perf_counter() - t0))
        from compiler.pipeline import user_pipeline

        pm = _manager(args, user_pipeline(ir, args.pipeline))
        pm.run(ir, initial="irgen")
        text = print_module(ir, args.locations)
        if args.timing:
            sys.stderr.write(pm.timing_report(times))
    _write(text, args.output)
    return 0


def _compile_native(args, checker, times) -> int:
    from compiler import native
    from compiler.frontend.irgen import generate
    from compiler.pipeline import print_module, verify

    insts = _specialize_all(args, checker)
    t0 = time.perf_counter()
    ir = generate(checker, insts)
    verify(ir)
    times.append(("irgen", time.perf_counter() - t0))
    stage = args.emit if args.emit in native.IR_STAGES else "llvm-dialect"
    sigs = {i.symbol: native.signature(ir, i.symbol) for i in insts}
    from compiler.pipeline import with_autodiff

    pm = _manager(args, with_autodiff(ir, native.pipeline_to(stage)))
    pm.run(ir, initial="irgen")
    after: list = []
    if args.emit in native.IR_STAGES:
        text = print_module(ir, args.locations)
    else:
        art = native.Artifact(ir, insts[0].symbol, sigs[insts[0].symbol], after)
        if args.emit == "obj":
            if not args.output or args.output == "-":
                raise LoomError("--emit=obj needs an output file: -o OUT.o")
            with open(args.output, "wb") as f:
                f.write(art.object_code())
            header = native.c_header(args.file, {i.symbol: (sigs[i.symbol], [p.name for p in i.fdef.params]) for i in insts})
            hpath = args.output.rsplit(".", 1)[0] + ".h"
            with open(hpath, "w") as f:
                f.write(header)
            text = None
        else:
            text = art.text(args.emit)
    if text is not None:
        _write(text, args.output)
    if args.timing:
        sys.stderr.write(pm.timing_report(times, after))
    return 0


def cmd_opt(args) -> int:
    from xdsl.parser import Parser
    from xdsl.utils.exceptions import ParseError

    from compiler.diagnostics import SourceRegistry, Span
    from compiler.frontend.parser import decode_source
    from compiler.pipeline import make_context, print_module, verify

    path = args.file
    try:
        with open(path, "rb") as f:
            text = decode_source(f.read(), path)
    except IsADirectoryError:
        raise LoomError(f"cannot read '{path}': it is a directory") from None
    except OSError as e:
        raise LoomError(f"cannot read '{path}': {e.strerror}") from None
    SourceRegistry.add(path, text)
    ctx = make_context()
    try:
        module = Parser(ctx, text, path).parse_module()
    except ParseError as e:
        line, col = _parse_error_position(e, text)
        msg = str(e).strip().splitlines()[-1] if str(e).strip() else "parse error"
        raise LoomError(f"invalid MLIR: {msg}", Span(path, line, col, line, col + 1)) from None
    except Exception as e:  # xDSL raises various exception types for unknown ops/types
        raise LoomError(f"invalid MLIR: {e}", Span(path, 1, 1, 1, 2)) from None
    verify(module)
    from compiler.pipeline import user_pipeline

    pm = _manager(args, user_pipeline(module, args.pipeline))
    pm.run(module)
    _write(print_module(module, args.locations), args.output)
    if args.timing:
        sys.stderr.write(pm.timing_report())
    return 0


def _parse_error_position(e, text: str) -> tuple[int, int]:
    span = getattr(e, "span", None)
    if span is not None and hasattr(span, "start"):
        before = text[: span.start]
        return before.count("\n") + 1, span.start - (before.rfind("\n") + 1) + 1
    return 1, 1


def _write(text: str, output: str | None) -> None:
    if output and output != "-":
        with open(output, "w") as f:
            f.write(text)
    else:
        sys.stdout.write(text)


def build_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="loom", description="The Loom tensor-language compiler.")
    sub = ap.add_subparsers(dest="command", required=True)
    p = sub.add_parser("check", help="parse and type-check a program")
    p.add_argument("file")
    p.set_defaults(fn=cmd_check)
    p = sub.add_parser("run", help="run a function of a program (default: main)")
    p.add_argument("file")
    p.add_argument("--entry", default="main", help="the function to run (default: main)")
    p.add_argument("--inputs", help=".npz file with one array per parameter name")
    p.add_argument("--out", help="save the results to this .npz file instead of printing them")
    p.add_argument("--eager", action="store_true",
                   help="run with the reference executor (default: compile to native code; -p then applies)")
    p.add_argument("--devices", type=int, metavar="N",
                   help="run on N processes over MPI (N = the mesh's number of devices)")
    _passes_flags(p, "loom-opt")
    p.set_defaults(fn=cmd_run)
    p = sub.add_parser("launch", help="run a command (e.g. `python train.py`) on N MPI processes")
    p.add_argument("-n", type=int, required=True, metavar="N", help="the number of processes")
    p.add_argument("command", nargs=argparse.REMAINDER)
    p.set_defaults(fn=cmd_launch)
    p = sub.add_parser("compile", help="compile a program and emit a stage")
    p.add_argument("file")
    p.add_argument("--emit", choices=["ast", "loom", "linalg", "bufferized", "loops", "llvm-dialect", "llvm",
                                      "llvm-opt", "asm", "obj"], default="loom",
                   help="what to emit (default: loom); stages after loom are specialized (see --shape); "
                        "obj also writes a C header next to the object")
    p.add_argument("--entry", help="only this function (and what it calls)")
    p.add_argument("--shape", action="append", default=[], metavar="NAME=SIZE",
                   help="size of a symbolic dimension (B=256) or of a rank variable (S=4x5)")
    p.add_argument("-o", "--output", help="output file (default: stdout)")
    _passes_flags(p, "none")
    p.set_defaults(fn=cmd_compile)
    p = sub.add_parser("opt", help="run passes on MLIR text")
    p.add_argument("file")
    p.add_argument("-o", "--output", help="output file (default: stdout)")
    _passes_flags(p, "none")
    p.set_defaults(fn=cmd_opt)
    return ap


def cmd_launch(args) -> int:
    from runtime.launch import launch

    if not args.command:
        raise LoomError("loom launch: give the command to run, e.g. `loom launch -n 2 python train.py`")
    return launch(args.command, args.n)


def main(argv: list[str] | None = None) -> int:
    from runtime import launch

    if launch.is_rank():  # one rank of `loom run --devices N`: any failure ends the whole job
        from runtime import mpi

        return mpi.guard(_main, argv)
    return _main(argv)


def _main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    args.argv = list(sys.argv[1:] if argv is None else argv)
    try:
        return args.fn(args)
    except LoomError as e:
        sys.stdout.flush()
        sys.stderr.write(e.render() + "\n")
        return 1
    except BrokenPipeError:
        return 0
    except KeyboardInterrupt:
        return 130
    except RecursionError:
        sys.stderr.write("error: the program is nested too deeply for Loom to process\n")
        return 1
    except Exception:
        sys.stderr.write("internal compiler error: this is a bug in Loom, not in your program. "
                         "Please report it with the traceback below.\n")
        traceback.print_exc()
        return 2


if __name__ == "__main__":
    sys.exit(main())
