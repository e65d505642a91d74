"""The `loom` command: check, run, compile and optimize Loom programs.

    loom check FILE
    loom run FILE [--entry F] [--inputs in.npz] [--out out.npz] [--eager] [--cache]
    loom compile FILE --emit=STAGE [--entry F] [--shape B=256 ...] [-o OUT]
        STAGE: ast | loom | linalg | bufferized | loops | llvm-dialect | llvm | llvm-opt | asm | obj
    loom opt FILE.mlir -p PIPELINE [-o OUT]
    loom explain FILE [--entry F] [--shape B=256 ...]

`run`, `compile` and `opt` take the pass-manager flags `-p/--pipeline`, `--print-ir-after-all`,
`--print-ir-before=PASS`, `--print-ir-after=PASS`, `--dump-dir DIR`, `--timing`,
`--verify-each`/`--no-verify-each`, `--locations`. Errors in programs are printed as diagnostics with exit status
1; a Python traceback means a bug in Loom (exit status 2).
"""

from __future__ import annotations

import argparse
import atexit
import os
import sys
import time
import traceback

import numpy as np

from compiler import driver
from compiler.cli_io import (
    format_results,
    load_inputs,
    object_paths,
    save_results,
    shape_bindings,
    write_bytes,
    write_text,
)
from compiler.diagnostics import LoomError
from compiler.pipeline_config import timing_report, verify_each_default


def _passes_flags(p: argparse.ArgumentParser, default_pipeline: str) -> None:
    g = p.add_argument_group("pass manager")
    g.add_argument("-p", "--pipeline", default=default_pipeline,
                   help=f"passes to run, e.g. 'loom-inline,canonicalize,cse' or a named pipeline (default: {default_pipeline})")
    g.add_argument("--print-ir-after-all", action="store_true", help="print the IR after every pass")
    g.add_argument("--print-ir-before", action="append", default=[], metavar="PASS", help="print the IR before PASS")
    g.add_argument("--print-ir-after", action="append", default=[], metavar="PASS", help="print the IR after PASS")
    g.add_argument("--dump-dir", metavar="DIR", help="write the IR after each pass to DIR/NN-pass.mlir")
    g.add_argument("--timing", action="store_true", help="print a table of per-pass wall time on stderr")
    g.add_argument("--verify-each", action=argparse.BooleanOptionalAction, default=None,
                   help="verify the IR after every pass (default: only after the last one, unless LOOM_VERIFY_EACH=1)")
    g.add_argument("--locations", action="store_true", help="print source locations (loc(...)) in IR dumps")


def _split(names: list[str]) -> set[str]:
    return {n.strip() for x in names for n in x.split(",") if n.strip()}


def _pm_options(args) -> dict | None:
    """The pass-manager flags as PassManager options (None when all are at their defaults)."""
    opts = {"print_after_all": args.print_ir_after_all,
            "print_before": _split(args.print_ir_before), "print_after": _split(args.print_ir_after),
            "dump_dir": args.dump_dir, "timing": args.timing, "locations": args.locations}
    if args.verify_each is not None:
        opts["verify_each"] = args.verify_each
    if not any(v for k, v in opts.items() if k != "verify_each") and opts.get("verify_each") in (None, verify_each_default()):
        return None
    return {**opts, "stream": sys.stdout}


def _check_dump_dir(args) -> None:
    if args.dump_dir and os.path.exists(args.dump_dir) and not os.path.isdir(args.dump_dir):
        raise LoomError(f"--dump-dir '{args.dump_dir}' exists and is not a directory")


def cmd_check(args) -> int:
    program = driver.check_file(args.file)
    print(f"{args.file}: ok ({len(program.functions)} function(s))")
    return 0


def cmd_run(args) -> int:
    from compiler.api import DTYPE_NAMES
    from compiler.frontend.types import TensorT

    _check_dump_dir(args)
    driver.check_pipeline(args.pipeline)  # a bad -p is an error in every mode
    program = driver.check_file(args.file)
    fdef = program.function(args.entry)
    inputs = load_inputs(args.inputs, fdef)
    types = [TensorT(DTYPE_NAMES[np.asarray(a).dtype], tuple(np.shape(a))) for a in inputs]
    lowered = driver.Lowered(program, program.specialize(args.entry, types))
    opts = _pm_options(args)
    if args.devices is not None and not args.eager:
        from runtime import launch

        if not launch.is_rank():  # checked here, so that a wrong N is one clean error
            launch.check_devices(lowered.module("none"), args.devices)
            return launch.run_devices(args.argv, args.devices)
        from runtime import mpi

        if mpi.rank() != 0:  # the program's `print`s and its results appear once, from rank 0
            sys.stdout = open(os.devnull, "w")
        ex, label = driver.executor("mpi", pipeline=args.pipeline, pm_options=opts), "execute (MPI)"
    elif program.checker.spmd_funcs or args.devices is not None:  # every device simulated in this process (§9.5),
        # also with --eager --devices N (the partitioned programs, the partitioner's oracle)
        ex = driver.executor("simulated", pipeline=args.pipeline, pm_options=opts,
                             devices=args.devices if args.eager else None)
        label = "execute (simulated)"
    elif args.eager:
        ex, label = driver.executor("eager", pipeline=args.pipeline, pm_options=opts), "execute (eager)"
    else:
        ex = driver.executor("native", cache=driver.cache_enabled(args.cache or None), pipeline=args.pipeline,
                             pm_options=opts)
        label = "execute (native)"
    fn = lowered.prepared(ex)
    t0 = time.perf_counter()
    try:
        results = list(fn(inputs))
    except MemoryError as e:
        raise LoomError(f"out of memory running '{args.entry}' ({e or 'an allocation failed'})", fdef.span) from None
    times = program.times + lowered.times + [(label, time.perf_counter() - t0)]
    if args.devices is not None and not args.eager and launch.is_rank() and mpi.rank() != 0:
        return 0  # rank 0 writes --out
    if args.out:
        save_results(args.out, results, lowered.inst.result_types)
    elif results:
        print(format_results(results, lowered.inst.result_types))
    if args.timing:
        sys.stderr.write(timing_report(times))
    return 0


def _specialize_all(args, program: driver.CheckedProgram):
    """Instances of the entry (or every function) with --shape bindings for symbolic dims."""
    names = [program.function(args.entry).name] if args.entry else list(program.functions)
    return [specialize(program, name, args.shape) for name in names]


def specialize(program: driver.CheckedProgram, name: str, shapes: list[str]):
    """The instance of function `name` whose symbolic dimensions have the sizes `shapes` gives
    (`["B=256", "S=4x5"]`, as `--shape` takes them)."""
    bindings = shape_bindings(shapes)
    checker = program.checker
    f = checker.funcs[name]
    types = []
    for p in f.params:
        try:
            t = checker.resolve_type(p.type, dict(bindings), bind_fresh=False)
        except LoomError:
            missing = [d.value for d in (p.type.dims or []) if d.kind != "int" and d.value not in bindings
                       and d.value not in checker.consts]
            hint = f"--shape {missing[0]}=N" if missing else "--shape NAME=N for its symbolic dimensions"
            raise LoomError(f"parameter '{p.name}' of '{name}' has symbolic dimension(s) "
                            f"{', '.join(map(str, missing)) or '(in its struct type)'}: give sizes with {hint}",
                            p.span) from None
        types.append(t)
    return program.specialize(name, types)


def cmd_compile(args) -> int:
    from compiler.frontend import ast as A
    from compiler.pipeline import print_module

    _check_dump_dir(args)
    driver.check_pipeline(args.pipeline)
    program = driver.check_file(args.file)
    times = list(program.times)
    if args.emit == "ast":
        write_text(A.dump(program.ast.items) + "\n", args.output)
        return 0
    if args.emit == "loom":  # generic (unspecialized) IR, after exactly the -p passes
        roots = [program.checker.generic(program.function(args.entry).name if args.entry else n)
                 for n in ([args.entry] if args.entry else program.functions)]
        ir = driver.generate(program, roots, times)
        driver.run_passes(ir, driver.user_pipeline(ir, args.pipeline), _pm_options(args), times)
        text = print_module(ir, args.locations)
    else:
        text = _compile_native(args, program, times)
    if text is not None:
        write_text(text, args.output)
    if args.timing:
        sys.stderr.write(timing_report(times))
    return 0


def _compile_native(args, program: driver.CheckedProgram, times: list) -> str | None:
    from compiler.pipeline import print_module

    insts = _specialize_all(args, program)
    ir = driver.generate(program, insts, times)
    stage = args.emit if args.emit in driver.IR_STAGES else "llvm-dialect"
    sigs = {i.symbol: driver.signature(ir, i.symbol) for i in insts}
    driver.run_passes(ir, driver.native_pipeline(ir, args.pipeline, stage), _pm_options(args), times)
    if args.emit in driver.IR_STAGES:
        return print_module(ir, args.locations)
    art = driver.Artifact(ir, insts[0].symbol, sigs[insts[0].symbol], times)
    if args.emit != "obj":
        return art.text(args.emit)
    out, header = object_paths(args.output)
    obj = art.standalone_object()
    write_bytes(obj, out)
    entries = {i.symbol: (sigs[i.symbol], [p.name for p in i.fdef.params]) for i in insts}
    write_text(driver.c_header(args.file, entries, pool=b"loom_parallel_for" in obj), header)
    return None


def cmd_explain(args) -> int:
    from compiler.explain import explain

    _check_dump_dir(args)
    driver.check_pipeline(args.pipeline)
    program = driver.check_file(args.file)
    args.entry = program.function(args.entry).name
    lowered = driver.Lowered(program, _specialize_all(args, program)[0])
    module = lowered.stage("spmd", _pm_options(args), args.pipeline)
    shapes = "".join(f" --shape {s}" for s in args.shape)
    write_text(explain(module, f"loom explain {args.file} --entry {args.entry}{shapes}"), None)
    return 0


def cmd_opt(args) -> int:
    from xdsl.parser import Parser
    from xdsl.utils.exceptions import ParseError

    from compiler.diagnostics import SourceRegistry, Span
    from compiler.frontend.parser import decode_source
    from compiler.pipeline import make_context, print_module, verify

    _check_dump_dir(args)
    path = args.file
    if path == "-":
        path, text = "<stdin>", sys.stdin.read()
    else:
        try:
            with open(path, "rb") as f:
                text = decode_source(f.read(), path)
        except IsADirectoryError:
            raise LoomError(f"cannot read '{path}': it is a directory") from None
        except OSError as e:
            raise LoomError(f"cannot read '{path}': {e.strerror}") from None
    SourceRegistry.add(path, text)
    parser = Parser(make_context(), text, path)
    try:
        module = parser.parse_module()
    except ParseError as e:
        line, col = _parse_error_position(e, text)
        msg = str(e).strip().splitlines()[-1] if str(e).strip() else "parse error"
        raise LoomError(f"invalid MLIR: {msg}", Span(path, line, col, line, col + 1)) from None
    except Exception as e:  # xDSL raises various exception types for unknown ops/types, and an
        # attribute's verifier fails while it is parsed: the caret goes where the parser stopped
        line, col = _offset_position(text, parser.pos)
        raise LoomError(f"invalid MLIR: {e}", Span(path, line, col, line, col + 1)) from None
    verify(module)
    times: list = []
    driver.run_passes(module, driver.user_pipeline(module, args.pipeline), _pm_options(args), times, initial="input")
    write_text(print_module(module, args.locations), args.output)
    if args.timing:
        sys.stderr.write(timing_report(times))
    return 0


def cmd_graph(args) -> int:
    from compiler.graph import render, to_dot

    _check_dump_dir(args)
    program = driver.check_file(args.file)
    name = program.function(args.entry).name
    if args.stage == "loom" and not args.shape:
        module = driver.generate(program, [program.checker.generic(name)])
    else:
        args.entry = name
        ir = driver.generate(program, _specialize_all(args, program))
        spec = driver.native_pipeline(ir, args.pipeline, args.stage) if args.stage != "loom" else "none"
        driver.run_passes(ir, spec, _pm_options(args))
        module = ir
    dot = to_dot(module, title=f"{args.file} · {name} · {args.stage}")
    if args.output and not args.output.endswith(".dot") and args.output != "-":
        render(dot, args.output)
    else:
        write_text(dot, args.output)
    return 0


def _parse_error_position(e, text: str) -> tuple[int, int]:
    span = getattr(e, "span", None)
    if span is not None and hasattr(span, "start"):
        return _offset_position(text, span.start)
    return 1, 1


def _offset_position(text: str, offset: int) -> tuple[int, int]:
    """The 1-based (line, column) of a character offset into `text`."""
    before = text[:offset]
    return before.count("\n") + 1, offset - (before.rfind("\n") + 1) + 1


STAGE_CHOICES = ["ast"] + [n for n in driver.STAGES if n != "ast"]


def build_parser() -> argparse.ArgumentParser:
    from compiler import __version__

    fmt = argparse.RawDescriptionHelpFormatter
    ap = argparse.ArgumentParser(prog="loom", description="The Loom tensor-language compiler.", epilog=__doc__,
                                 formatter_class=fmt)
    ap.add_argument("--version", action="version", version=f"loom {__version__}")
    sub = ap.add_subparsers(dest="command", required=True, metavar="COMMAND")
    p = sub.add_parser("check", help="parse and type-check a program",
                       description="Parse and type-check FILE; diagnostics at file:line:col, exit status 1.")
    p.add_argument("file")
    p.set_defaults(fn=cmd_check)
    p = sub.add_parser("run", help="run a function of a program (default: main)", formatter_class=fmt,
                       description="Compile a function natively (or run it with the reference executor) and "
                                   "print its results.",
                       epilog="examples:\n  loom run examples/newton_sqrt.loom\n"
                              "  loom run prog.loom --entry f --inputs in.npz --out out.npz\n"
                              "  loom run prog.loom --eager --print-ir-after-all --timing")
    p.add_argument("file")
    p.add_argument("--entry", default="main", help="the function to run (default: main)")
    p.add_argument("--inputs", help=".npz file with one array per parameter name")
    p.add_argument("--out", help="save the results to this .npz file instead of printing them (keys: result, "
                                 "result0, result1, …; struct fields as result.field)")
    p.add_argument("--eager", action="store_true", help="run with the reference executor instead of native code")
    p.add_argument("--cache", action="store_true",
                   help="keep compiled code on disk (in LOOM_CACHE_DIR, default ~/.cache/loom; on by default "
                        "when LOOM_CACHE_DIR is set)")
    p.add_argument("--devices", type=int, metavar="N",
                   help="run on N processes over MPI (N = the mesh's number of devices)")
    _passes_flags(p, "loom-opt")
    p.set_defaults(fn=cmd_run)
    p = sub.add_parser("launch", help="run a command (e.g. `python train.py`) on N MPI processes", formatter_class=fmt)
    p.add_argument("-n", type=int, required=True, metavar="N", help="the number of processes")
    p.add_argument("command", nargs=argparse.REMAINDER)
    p.set_defaults(fn=cmd_launch)
    p = sub.add_parser("compile", help="compile a program and emit a stage", formatter_class=fmt,
                       description="Emit the program at a stage. Stages after loom are specialized: give the "
                                   "sizes of symbolic dimensions with --shape.\nstages:\n" +
                                   "\n".join(f"  {n:13} {s.help}" for n, s in driver.STAGES.items()),
                       epilog="examples:\n  loom compile prog.loom --emit=loom -p loom-opt\n"
                              "  loom compile prog.loom --emit=linalg --entry f --shape N=1024\n"
                              "  loom compile prog.loom --emit=obj --entry f --shape N=1024 -o f.o   # also f.h")
    p.add_argument("file")
    p.add_argument("--emit", choices=STAGE_CHOICES, default="loom", metavar="STAGE",
                   help="what to emit (default: loom): " + ", ".join(STAGE_CHOICES))
    p.add_argument("--entry", help="only this function (and what it calls)")
    p.add_argument("--shape", action="append", default=[], metavar="NAME=SIZE",
                   help="size of a symbolic dimension (B=256) or of a rank variable (S=4x5)")
    p.add_argument("-o", "--output", help="output file (default: stdout)")
    _passes_flags(p, "none")
    p.set_defaults(fn=cmd_compile)
    p = sub.add_parser("explain", help="the collectives of a partitioned program: where, why, bytes, time",
                       formatter_class=fmt,
                       description="Partition a function for its mesh (stage spmd) and list its collectives in "
                                   "program order: the source location of the op each serves, kind, mesh axes and "
                                   "group size, why the partitioner inserted it (loom.reason), the bytes each "
                                   "device sends and the time the alpha-beta cost model estimates; then totals. "
                                   "docs/sharding.md explains how to read it.",
                       epilog="examples:\n  loom explain examples/megatron_mlp.loom\n"
                              "  loom explain prog.loom --entry train_step --shape B=256 --shape D=64")
    p.add_argument("file")
    p.add_argument("--entry", default="main", help="the function (default: main)")
    p.add_argument("--shape", action="append", default=[], metavar="NAME=SIZE",
                   help="size of a symbolic dimension (B=256) or of a rank variable (S=4x5)")
    _passes_flags(p, "loom-opt")
    p.set_defaults(fn=cmd_explain)
    p = sub.add_parser("opt", help="run passes on MLIR text",
                       description="Parse MLIR text (FILE, or - for stdin), run a pipeline, print the result.")
    p.add_argument("file", help="an .mlir file, or - to read standard input")
    p.add_argument("-o", "--output", help="output file (default: stdout)")
    _passes_flags(p, "none")
    p.set_defaults(fn=cmd_opt)
    p = sub.add_parser("graph", help="the computation graph as Graphviz DOT (or SVG/PNG)", formatter_class=fmt,
                       description="Draw a function's computation graph at a stage: one node per op, labelled "
                                   "with its result types; fused linalg regions, loops and branches as clusters.",
                       epilog="examples:\n  loom graph examples/mlp_forward.loom --entry mlp > mlp.dot\n"
                              "  loom graph prog.loom --entry f --stage linalg --shape B=8 -o f.svg  # needs `dot`")
    p.add_argument("file")
    p.add_argument("--entry", default="main", help="the function (default: main)")
    p.add_argument("--stage", default="loom", choices=[n for n in driver.IR_STAGES],
                   help="the IR stage to draw (default: loom)")
    p.add_argument("--shape", action="append", default=[], metavar="NAME=SIZE",
                   help="size of a symbolic dimension (needed for stages after loom)")
    p.add_argument("-o", "--output", help="output file: .dot (default: stdout), .svg or .png (runs Graphviz's dot)")
    _passes_flags(p, "loom-opt")
    p.set_defaults(fn=cmd_graph)
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


def console() -> None:
    """The `loom` command: `main()`, then leave the process without tearing the interpreter down.

    Python's shutdown frees every module's objects and runs the cycle collector over them
    several times: after a compilation that is ~0.2 s, a fifth of a small `loom run`, spent on
    memory the operating system takes back anyway (mypy leaves the same way). Exit handlers
    still run and the output is flushed first; a rank of an MPI job and a failed flush leave
    the ordinary way."""
    from runtime import launch

    code = main()
    if launch.is_rank():
        sys.exit(code)
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except (OSError, ValueError):  # e.g. a closed pipe: let the interpreter deal with it as usual
        sys.exit(code)
    atexit._run_exitfuncs()
    os._exit(code or 0)


if __name__ == "__main__":
    console()
