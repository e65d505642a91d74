"""The compiler's modules form a layered graph: no import cycles (counting imports inside
functions too, which would otherwise hide a cycle), and every module imports on its own."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("compiler", "runtime", "dialects")
# The one deliberate lazy import: an op's canonicalization trait looks its patterns up when first
# asked (the patterns build ops of the dialect), exactly as xDSL's own dialects do.
ALLOWED_LAZY = {("dialects.loom_types", "dialects.loom_canonicalize")}


def module_files() -> dict[str, Path]:
    files = [p for pkg in PACKAGES for p in (ROOT / pkg).rglob("*.py")]
    out = {}
    for p in sorted(files):
        parts = list(p.relative_to(ROOT).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        out[".".join(parts)] = p
    return out


def imported(module: str, path: Path, known: set[str]) -> set[str]:
    """The modules of `known` that `module` imports anywhere in its file (top level or in a
    function); `from pkg import name` imports the module `pkg.name` if there is one, else `pkg`."""
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    out: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                up = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(up + ([base] if base else []))
            names = [f"{base}.{a.name}" if f"{base}.{a.name}" in known else base for a in node.names]
        else:
            continue
        for n in names:
            while n and n not in known:
                n = n.rpartition(".")[0]
            if n and n != module:
                out.add(n)
    return out


def import_graph() -> dict[str, set[str]]:
    files = module_files()
    known = set(files)
    return {m: imported(m, p, known) - {b for a, b in ALLOWED_LAZY if a == m} for m, p in files.items()}


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(m: str) -> list[str] | None:
        state[m] = 1
        stack.append(m)
        for n in sorted(graph[m]):
            if state.get(n) == 1:
                return stack[stack.index(n):] + [n]
            if n not in state and (c := visit(n)):
                return c
        stack.pop()
        state[m] = 2
        return None

    for m in sorted(graph):
        if m not in state and (c := visit(m)):
            return c
    return None


def test_import_graph_is_acyclic():
    graph = import_graph()
    assert "compiler.frontend.typecheck" in graph and graph["compiler.frontend.irgen"]
    assert "runtime.jit" in graph and "dialects.loom" in graph
    cycle = find_cycle(graph)
    assert cycle is None, "import cycle: " + " -> ".join(cycle)


def test_find_cycle_reports_a_cycle():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None


def test_private_names_stay_in_their_module():
    """No `from compiler.x import _name` (or runtime., dialects.): a name used by another module is public."""
    bad = []
    for m, p in module_files().items():
        for node in ast.walk(ast.parse(p.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] in PACKAGES:
                bad += [f"{m}: {node.module}.{a.name}" for a in node.names if a.name.startswith("_") and not a.name.endswith("__")]
    assert not bad, bad


# One process imports the third-party modules, then forks a child per module to import it alone:
# each child starts with no module of this project loaded.
IMPORT_EACH_ALONE = """
import importlib, os, sys, traceback
for name in sys.argv[1].split():
    importlib.import_module(name)
for mod in sys.argv[2:]:
    pid = os.fork()
    if pid == 0:
        try:
            assert not [m for m in sys.modules if m.split(".")[0] in {packages!r}]
            importlib.import_module(mod)
        except BaseException:
            print("=== " + mod, file=sys.stderr)
            traceback.print_exc()
            os._exit(1)
        os._exit(0)
    if os.waitpid(pid, 0)[1]:
        print("FAILED " + mod, flush=True)
""".format(packages=set(PACKAGES))


def third_party_imports(modules: list[str]) -> list[str]:
    """The modules outside this project and the standard library that `modules` and everything
    they import (in the import graph) import."""
    files, graph = module_files(), import_graph()
    seen, todo = set(), list(modules)
    while todo:
        m = todo.pop()
        if m not in seen:
            seen.add(m)
            todo += graph[m]
    out = set()
    for m in seen:
        for node in ast.walk(ast.parse(files[m].read_text(encoding="utf-8"))):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else \
                [node.module] if isinstance(node, ast.ImportFrom) and not node.level else []
            out |= {n for n in names if n.split(".")[0] not in (*PACKAGES, *sys.stdlib_module_names)}
    return sorted(out)


@pytest.mark.slow
def test_each_frontend_module_imports_alone():
    mods = [m for m in module_files() if m.startswith("compiler.frontend") or m == "compiler.diagnostics"]
    assert len(mods) > 10 and "xdsl.ir" in third_party_imports(mods)
    r = subprocess.run([sys.executable, "-c", IMPORT_EACH_ALONE, " ".join(third_party_imports(mods)), *mods],
                       cwd=ROOT, capture_output=True, text=True)
    assert r.returncode == 0 and not r.stdout, r.stdout + r.stderr[-4000:]
