"""What the `loom` command reads and writes: `--inputs` archives, results (printed or `--out`),
`--shape` bindings, output files. Every mistake in them is a `LoomError`, never a traceback."""

from __future__ import annotations

import os
import sys

import numpy as np

from compiler.diagnostics import LoomError


def load_inputs(path: str | None, fdef) -> list:
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
    except Exception as e:  # OSError, ValueError, zipfile.BadZipFile, EOFError, …: not a readable .npz
        raise LoomError(f"cannot read inputs '{path}': {e or type(e).__name__}") from None
    missing = [p.name for p in fdef.params if p.name not in arrays]
    if missing:
        raise LoomError(f"'{path}' has no array for parameter(s) {', '.join(missing)} of '{fdef.name}' "
                        f"(it has: {', '.join(arrays) or 'nothing'})")
    extra = [k for k in arrays if k not in {p.name for p in fdef.params}]
    if extra:
        raise LoomError(f"'{path}' has arrays that are not parameters of '{fdef.name}': {', '.join(extra)}")
    return [to_numpy(arrays[p.name], p, fdef.name) for p in fdef.params]


def format_results(leaves: list, types) -> str:
    """What `main` returned, printed like the eager executor's values; a struct as `S(f=…, …)`."""
    from compiler.api import unflatten
    from runtime.format import format_value

    def show(v) -> str:
        return v if isinstance(v, str) else format_value(v)

    values = unflatten(leaves, types, lambda t, f: f"{t.name}(" + ", ".join(f"{k}={show(v)}" for k, v in f.items()) + ")")
    shown = [show(v) for v in values]
    return shown[0] if len(shown) == 1 else "(" + ", ".join(shown) + ")"


def save_results(path: str, leaves: list, types) -> None:
    """`--out`: one array per result leaf, named `result` (or `result0`, `result1`, …), a struct's
    fields by their names: `result.w1`, `result.layer.b`."""
    from compiler.api import unflatten

    values = unflatten(leaves, types, lambda t, f: f)
    arrays: dict[str, np.ndarray] = {}

    def put(name: str, v) -> None:
        if isinstance(v, dict):
            for k, x in v.items():
                put(f"{name}.{k}", x)
        else:
            arrays[name] = np.asarray(v)

    for i, v in enumerate(values):
        put("result" if len(values) == 1 else f"result{i}", v)
    try:
        with open(path, "wb") as f:  # exactly this path (np.savez would append '.npz' to a bare name)
            np.savez(f, **arrays)
    except OSError as e:
        raise LoomError(f"cannot write --out '{path}': {e.strerror or e}") from None


def shape_bindings(items: list[str]) -> dict:
    bindings: dict = {}
    for item in items:
        name, _, value = item.partition("=")
        try:
            dims = tuple(int(v) for v in value.replace("x", ",").split(",") if v)
        except ValueError:
            dims = None
        if not name.strip() or dims is None or not dims or any(d < 0 for d in dims):
            raise LoomError(f"bad --shape '{item}': expected NAME=SIZE (e.g. B=256) or S=4x5 for '...S'")
        if any(d >= 2 ** 62 for d in dims):
            raise LoomError(f"bad --shape '{item}': a size must be below 2**62")
        bindings[name.strip()] = dims[0] if len(dims) == 1 and "x" not in value and "," not in value else dims
    return bindings


def object_paths(output: str | None) -> tuple[str, str]:
    """`-o f.o` → (f.o, f.h), next to each other: the header replaces the object's extension, or
    is added when it has none (`-o out.d/kernel` → out.d/kernel.h)."""
    if not output or output == "-":
        raise LoomError("--emit=obj needs an output file: -o OUT.o")
    head, base = os.path.split(output)
    stem, ext = os.path.splitext(base)
    if ext == ".h":
        raise LoomError(f"-o '{output}' names a C header: give the object file (e.g. -o {os.path.join(head, stem)}.o); "
                        "the header is written next to it")
    return output, os.path.join(head, (stem if ext else base) + ".h")


def write_text(text: str, output: str | None) -> None:
    if output and output != "-":
        try:
            with open(output, "w") as f:
                f.write(text)
        except OSError as e:
            raise LoomError(f"cannot write '{output}': {e.strerror or e}") from None
    else:
        sys.stdout.write(text)


def write_bytes(data: bytes, output: str) -> None:
    try:
        with open(output, "wb") as f:
            f.write(data)
    except OSError as e:
        raise LoomError(f"cannot write '{output}': {e.strerror or e}") from None
