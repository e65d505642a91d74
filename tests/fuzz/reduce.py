"""Minimising a finding: `python -m tests.fuzz.reduce DIR/NNN-kind.loom [-o OUT]`.

Reads a finding written by a campaign (its header holds the job: entry, input seed, special
values), reruns it to get its signature, and shrinks the program while the signature stays the
same: first whole lines and blocks (a line ending in `:` with the lines indented under it), then
expressions (a parenthesised group or call replaced by one of its top-level arguments, a binary
operation by one operand), until nothing more goes. Each try runs in the worker with its limit,
so a crash or a hang is reduced like any other finding.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

from tests.fuzz.runner import Worker

JOB_LINE = "# job: "


def read_finding(path: Path) -> tuple[dict, str]:
    """(job without its source, program) of a finding file."""
    lines = path.read_text(encoding="utf-8").split("\n")
    job = {"op": "run", "entry": None, "seed": 0}
    k = 0
    while k < len(lines) and lines[k].startswith("#"):
        if lines[k].startswith(JOB_LINE):
            job = json.loads(lines[k][len(JOB_LINE):])
        k += 1
    return job, "\n".join(lines[k:])


def _block_end(lines: list[str], i: int) -> int:
    """The index after line i and, if it opens a block, the lines indented under it."""
    if not lines[i].rstrip().endswith(":"):
        return i + 1
    indent = len(lines[i]) - len(lines[i].lstrip())
    j = i + 1
    while j < len(lines) and (not lines[j].strip() or len(lines[j]) - len(lines[j].lstrip()) > indent):
        j += 1
    return j


def reduce_lines(source: str, fails) -> str:
    lines = source.split("\n")
    chunk = max(1, len(lines) // 2)
    while chunk >= 1:
        i, progress = 0, False
        while i < len(lines):
            end = max(_block_end(lines, i), min(i + chunk, len(lines)))
            trial = lines[:i] + lines[end:]
            if trial and fails("\n".join(trial)):
                lines, progress = trial, True
            else:
                i += 1
        if not progress:
            chunk //= 2
    return "\n".join(lines)


def _groups(text: str):
    """(start, end, parts) of each bracketed group `name(…)` / `(…)`, parts split at top-level
    commas; innermost last."""
    stack, out = [], []
    for k, c in enumerate(text):
        if c == "(":
            stack.append(k)
        elif c == ")" and stack:
            start = stack.pop()
            name = re.search(r"[A-Za-z_]\w*$", text[:start])
            begin = name.start() if name else start
            inner, parts, depth, last = text[start + 1:k], [], 0, 0
            for j, ch in enumerate(inner):
                depth += ch in "([" and 1 or (ch in ")]" and -1 or 0)
                if ch == "," and depth == 0:
                    parts.append(inner[last:j])
                    last = j + 1
            parts.append(inner[last:])
            out.append((begin, k + 1, [p.strip() for p in parts if p.strip() and "=" not in p]))
    return out


BINARY = re.compile(r"^(.*?) (?:\+|-|\*|/|//|%|\*\*|@|<|<=|>|>=|==|!=|and|or) (.*)$")


def reduce_expressions(source: str, fails) -> str:
    changed = True
    while changed:
        changed = False
        for begin, end, parts in sorted(_groups(source), key=lambda g: g[0]):
            options = list(parts)
            if len(parts) == 1:
                m = BINARY.match(parts[0])
                if m:
                    options += [f"({m.group(1)})", f"({m.group(2)})"]
            for p in options:
                trial = source[:begin] + p + source[end:]
                if trial != source and fails(trial):
                    source, changed = trial, True
                    break
            if changed:
                break
    return source


def reduce(source: str, fails) -> str:
    """A smaller program for which `fails` still holds (`fails(source)` must hold)."""
    while True:
        smaller = reduce_expressions(reduce_lines(source, fails), fails)
        if smaller == source:
            return source
        source = smaller


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m tests.fuzz.reduce", description="minimise a fuzzing finding")
    ap.add_argument("finding", type=Path)
    ap.add_argument("-o", "--output", type=Path, help="where to write the minimised program (default: stdout)")
    args = ap.parse_args(argv)
    job, source = read_finding(args.finding)
    worker = Worker()
    try:
        want = worker.run({**job, "source": source})
        if want.status != "finding":
            print(f"does not reproduce: {want.status} {want.detail[:200]}", file=sys.stderr)
            return 1
        print(f"reducing: {want.signature}", file=sys.stderr)

        def fails(text: str) -> bool:
            if worker.run({**job, "source": text}).signature != want.signature:
                return False
            print(f"  {len(text)} characters", file=sys.stderr, flush=True)
            return True

        small = reduce(source, fails)
    finally:
        worker.stop()
    text = f"# signature: {want.signature}\n{JOB_LINE}{json.dumps(job)}\n{small}\n"
    if args.output:
        args.output.write_text(text, encoding="utf-8")
    else:
        print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
