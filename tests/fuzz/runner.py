"""Campaigns: jobs for a worker process, with a time limit per job, deduplicated findings.

`Worker` runs jobs in a child process (`tests/fuzz/worker.py`): a job that kills the process is
a "crash" finding, one that uses more than its limit of CPU time a "hang" (unless the program has
an unbounded `while` or a `for` over a range of values: a mutant may legitimately loop forever,
and an i64 input may be 2^63 − 1). `cli_outcome` runs `python -m compiler.cli`
on a program: exit status 0 or 1 only, and never a "Traceback". `Campaign` draws the jobs
(generated programs, their derivatives checked (`derivatives.py`), mutants of the corpus, the
corpus itself, CLI runs) and collects a `Report`.
"""

from __future__ import annotations

import json
import os
import random
import re
import resource
import select
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from tests.fuzz.gen import generate
from tests.fuzz.mutate import ROOT, corpus, mutant
from tests.fuzz.oracle import Outcome, finding

# (`#[^\n]*` is a comment: `while y >= 0.0:  # no bound: …` is unbounded — examples/while_grad.loom)
UNBOUNDED_WHILE = re.compile(r"^\s*while\b(?![^#\n]*\bbound\b)", re.M)
# a `for` over a range whose bounds are not integer literals: an i64 input of 2^63 − 1 (one of the
# special values) makes it run for ever, legitimately (a fuzz false alarm: casts.loom's
# `for i in range(n)`)
RANGE_OF_A_VALUE = re.compile(r"^\s*for\b.*\brange\((?![-\d\s,]*\))", re.MULTILINE)
# Limits are CPU seconds of the child, so that a starved process on a loaded machine is not taken
# for a hang; WALL_FACTOR times the limit in wall time is the backstop.
LIMITS = {"check": 30.0, "run": 120.0, "derivatives": 240.0}  # derivatives: 16 runs and a compiled one
WALL_FACTOR = 10


def may_hang(source: str) -> bool:
    """A program with a `while` without `bound`, or a `for` over a range of values it is given, may
    legitimately run (nearly) for ever."""
    return bool(UNBOUNDED_WHILE.search(source) or RANGE_OF_A_VALUE.search(source))


class Worker:
    """A worker process; `command` is `python -m tests.fuzz.worker` (tests substitute one that crashes
    or hangs)."""

    def __init__(self, command: list[str] | None = None):
        self.command = command or [sys.executable, "-m", "tests.fuzz.worker"]
        self.proc = None
        self.stderr = tempfile.TemporaryFile()

    def _start(self):
        r, w = os.pipe()
        env = dict(os.environ, LOOM_FUZZ_FD=str(w), PYTHONPATH=str(ROOT))
        self.stderr.seek(0)
        self.stderr.truncate()
        self.proc = subprocess.Popen(self.command, cwd=ROOT, env=env,
                                     stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=self.stderr,
                                     pass_fds=(w,), text=True, start_new_session=True)
        os.close(w)
        self.answers = os.fdopen(r, "r")
        self.buffer = ""

    def stop(self):
        if self.proc is not None:
            try:
                os.killpg(self.proc.pid, 9)
            except ProcessLookupError:
                pass
            self.proc.wait()
            self.answers.close()
            self.proc = None

    def run(self, job: dict, limit: float | None = None) -> Outcome:
        if self.proc is None:
            self._start()
        limit = limit or LIMITS[job["op"]]
        try:
            self.proc.stdin.write(json.dumps(job) + "\n")
            self.proc.stdin.flush()
        except BrokenPipeError:
            pass
        deadline = time.monotonic() + WALL_FACTOR * limit
        cpu0 = cpu_seconds(self.proc.pid)
        fd = self.answers.fileno()
        while "\n" not in self.buffer:
            ready = select.select([fd], [], [], 1.0)[0]
            if not ready and (cpu_seconds(self.proc.pid) - cpu0 > limit or time.monotonic() > deadline):
                self.stop()
                if may_hang(job["source"]):
                    return Outcome("timeout-unbounded", detail=f"no answer within {limit:.0f} CPU seconds")
                return finding("hang", f"no answer within {limit:.0f} CPU seconds ({job['op']})",
                               f"{job['op']} over {limit:.0f} s")
            if not ready:
                continue
            chunk = os.read(fd, 1 << 16).decode()
            if not chunk:  # the worker died
                code = self.proc.wait()
                self.stderr.seek(0)
                err = self.stderr.read().decode(errors="replace")[-3000:]
                self.stop()
                sig = f"signal {-code}" if code < 0 else f"exit {code}"
                return finding("crash", f"the worker died ({sig}) on this job\n{err}", f"{job['op']} {sig}")
            self.buffer += chunk
        line, self.buffer = self.buffer.split("\n", 1)
        d = json.loads(line)
        return Outcome(d["status"], d["kind"], d["detail"], d["signature"], d["info"])


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (Linux /proc; 0 where unavailable)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return 0.0


def cli_outcome(source: str, command: str, limit: float = 60.0) -> Outcome:
    """`python -m compiler.cli check|run FILE`: exit status 0 or 1 and no traceback, within `limit`
    CPU seconds (RLIMIT_CPU: the kernel stops it with SIGXCPU)."""
    def cpu_limit():
        resource.setrlimit(resource.RLIMIT_CPU, (int(limit), int(limit) + 5))

    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "fuzz.loom"
        path.write_text(source, encoding="utf-8")
        try:
            p = subprocess.run([sys.executable, "-m", "compiler.cli", command, str(path)], cwd=ROOT,
                               capture_output=True, text=True, timeout=WALL_FACTOR * limit, errors="replace",
                               preexec_fn=cpu_limit)
        except subprocess.TimeoutExpired:
            p = None
    if p is None or p.returncode in (-signal.SIGXCPU, -signal.SIGKILL):
        if may_hang(source):
            return Outcome("timeout-unbounded")
        return finding("hang", f"loom {command}: no exit within {limit:.0f} CPU seconds", f"cli {command} hang")
    if p.returncode not in (0, 1) or "Traceback" in p.stderr:
        first = next((ln for ln in p.stderr.splitlines() if "Error" in ln or "error" in ln), "")
        return finding("cli", f"loom {command}: exit {p.returncode}\n{p.stderr[-3000:]}",
                       f"{command} exit {p.returncode}: {first[:120]}")
    return Outcome("ok" if p.returncode == 0 else "rejected")


@dataclass
class Report:
    counts: Counter = field(default_factory=Counter)
    findings: dict[str, list[dict]] = field(default_factory=dict)  # signature -> instances
    rejected: dict[str, str] = field(default_factory=dict)  # generated programs rejected: message -> how

    def add(self, what: str, outcome: Outcome, job: dict, how: str, out_dir: Path | None = None) -> None:
        self.counts[f"{what} {outcome.status}"] += 1
        self.counts["programs"] += 1
        if outcome.status != "finding":
            return
        first = outcome.signature not in self.findings
        inst = {"kind": outcome.kind, "signature": outcome.signature, "detail": outcome.detail, "how": how,
                "source": job["source"], "job": {k: v for k, v in job.items() if k != "source"}, "info": outcome.info}
        self.findings.setdefault(outcome.signature, []).append(inst)
        if out_dir is not None and first:
            write_finding(out_dir, len(self.findings), inst)

    def review(self, outcome: Outcome, job: dict, how: str, out_dir: Path | None) -> None:
        """Keep the first generated program rejected with each message, to be looked at."""
        if outcome.signature in self.rejected:
            return
        self.rejected[outcome.signature] = how
        if out_dir is not None:
            write_finding(out_dir / "rejected", len(self.rejected),
                          {"kind": "rejected", "signature": outcome.signature, "how": how, "detail": outcome.detail,
                           "source": job["source"], "job": {k: v for k, v in job.items() if k != "source"}})

    def by_kind(self) -> Counter:
        return Counter(v[0]["kind"] for v in self.findings.values())

    def summary(self) -> str:
        lines = [f"programs run: {self.counts['programs']}"]
        lines += [f"  {k}: {v}" for k, v in sorted(self.counts.items()) if k != "programs"]
        lines.append(f"distinct findings: {len(self.findings)} (by kind: {dict(self.by_kind())})")
        for sig, insts in self.findings.items():
            lines.append(f"  [{len(insts)}x] {sig}")
        if self.rejected:
            lines.append(f"generated programs rejected, by message ({len(self.rejected)}; in rejected/):")
            lines += [f"  {sig}" for sig in self.rejected]
        return "\n".join(lines)


def write_finding(out_dir: Path, n: int, inst: dict) -> None:
    out_dir.mkdir(parents=True, exist_ok=True)
    header = [f"signature: {inst['signature']}", f"how found: {inst['how']}", "observed:"]
    header += ["  " + ln for ln in inst["detail"].splitlines()]
    header.append(f"job: {json.dumps(inst['job'])}")  # read back by tests/fuzz/reduce.py
    text = "".join(f"# {ln}\n" for ln in header) + inst["source"]
    (out_dir / f"{n:03d}-{inst['kind']}.loom").write_text(text, encoding="utf-8")


@dataclass
class Campaign:
    """Jobs drawn reproducibly from `seed`. `jit_run` jobs compile (slow); `check` jobs do not."""

    seed: int = 0
    out_dir: Path | None = None
    report: Report = field(default_factory=Report)
    worker: Worker = field(default_factory=Worker)

    def __post_init__(self):
        self.programs = corpus()

    def generated(self, seed: int, special: float = 0.0, max_depth: int = 3, statements: int = 6,
                  derivative: bool = False, struct: bool = False, min_size: int = 1, max_size: int = 4) -> Outcome:
        g = generate(seed, max_depth=max_depth, statements=statements, derivative=derivative, struct=struct)
        job = {"op": "run", "source": g.source, "entry": g.entry, "seed": seed, "special": special,
               "min_size": min_size, "max_size": max_size}
        out = self.worker.run(job)
        how = (f"generate(seed={seed}, max_depth={max_depth}, statements={statements}, derivative={derivative}, "
               f"struct={struct}); "
               f"inputs seed={seed}, special={special}, min_size={min_size}, max_size={max_size}")
        self.report.add("generated", out, job, how, self.out_dir)
        if out.status == "rejected":  # a generated program should check: the generator's or the checker's bug
            self.report.review(out, job, how, self.out_dir)
        return out

    def derivatives(self, seed: int, max_depth: int = 3, statements: int = 6, jit: bool = True,
                    f64: bool = False, struct: bool = False) -> Outcome:
        """The derivative checks of `derivatives.py` on a generated `derivative` program (`struct`:
        also with respect to a struct); `f64`: every f32 of it made f64 (a program without f32
        values is checked against finite differences too)."""
        g = generate(seed, max_depth=max_depth, statements=statements, derivative=True, struct=struct)
        source = g.source.replace("f32", "f64") if f64 else g.source
        job = {"op": "derivatives", "source": source, "seed": seed, "jit": jit}
        out = self.worker.run(job)
        self.report.add("derivatives", out, job, f"generate(seed={seed}, max_depth={max_depth}, statements={statements}, "
                        f"derivative=True, struct={struct}){'.source with f32 -> f64' if f64 else ''}; derivative checks, "
                        f"inputs seed={seed}, jit={jit}", self.out_dir)
        return out

    def mutated(self, seed: int, run: bool = False) -> Outcome:
        origin, source = mutant(seed, self.programs)
        job = {"op": "run" if run else "check", "source": source, "seed": seed}
        out = self.worker.run(job)
        self.report.add("mutant-run" if run else "mutant", out, job,
                        f"mutant(seed={seed}) of {origin}" + (" (run)" if run else ""), self.out_dir)
        return out

    def corpus_run(self, index: int, seed: int, special: float) -> Outcome:
        origin, source = self.programs[index % len(self.programs)]
        job = {"op": "run", "source": source, "seed": seed, "special": special, "functions": 2}
        out = self.worker.run(job)
        self.report.add("corpus", out, job, f"{origin}, inputs seed={seed}, special={special}", self.out_dir)
        return out

    def cli(self, source: str, command: str, how: str) -> Outcome:
        out = cli_outcome(source, command)
        self.report.add(f"cli-{command}", out, {"op": f"cli-{command}", "source": source}, how, self.out_dir)
        return out

    def long(self, minutes: float, progress=None) -> Report:
        """Draw jobs until `minutes` have passed."""
        r = random.Random(self.seed)
        end = time.monotonic() + minutes * 60
        n = 0
        try:
            while time.monotonic() < end:
                n += 1
                s = r.randrange(2**31)
                k = r.random()
                if k < 0.35:
                    # sizes: 1..4 mostly, sometimes with zero-size dims, sometimes 16..64 (row fusion,
                    # the matmul kernels and the thread pool only start at such sizes)
                    sizes = r.choices([(1, 4), (0, 4), (16, 64)], weights=[0.85, 0.05, 0.1])[0]
                    self.generated(s, special=0.1 if r.random() < 0.3 else 0.0, max_depth=r.choice([2, 3, 4]),
                                   statements=r.choice([4, 6, 10]), derivative=r.random() < 0.3,
                                   struct=r.random() < 0.2, min_size=sizes[0], max_size=sizes[1])
                elif k < 0.45:
                    self.derivatives(s, max_depth=r.choice([2, 3, 4]), statements=r.choice([4, 6, 10]),
                                     jit=r.random() < 0.3, f64=r.random() < 0.6, struct=r.random() < 0.25)
                elif k < 0.9:
                    out = self.mutated(s)
                    if out.status == "ok" and r.random() < 0.3:
                        self.mutated(s, run=True)
                elif k < 0.95:
                    self.corpus_run(s, s, 0.1 if r.random() < 0.5 else 0.0)
                else:
                    origin, source = mutant(s, self.programs) if r.random() < 0.5 else r.choice(self.programs)
                    self.cli(source, r.choice(["check", "run"]), f"loom cli on a mutant/corpus program ({origin}, seed {s})")
                if progress and n % 50 == 0:
                    progress(self.report)
        finally:
            self.worker.stop()
        return self.report
