"""The fuzzing worker: a process that runs jobs (JSON lines on stdin) and answers each on the file
descriptor named by `LOOM_FUZZ_FD`, so that a program it runs may print, crash the process or hang
without confusing the parent (`runner.Worker`), which restarts it and reports the job.

A job: `{"op": "check", "source": …}`, `{"op": "run", "source": …, "seed": s, "special": p,
"min_size": m, "max_size": n, "entry": name or null, "functions": k}` (symbolic dims are drawn
from m..n) or `{"op": "derivatives", "source": …, "seed": s, "jit": bool}` (`derivatives.py`);
the answer is an `Outcome` as JSON.
"""

from __future__ import annotations

import json
import os
import sys

import numpy as np

from tests.fuzz.oracle import Outcome, check, differential, inputs_for


def run_job(job: dict) -> Outcome:
    source = job["source"]
    program, out = check(source)
    if job["op"] == "check" or program is None:
        return out
    if job["op"] == "derivatives":
        from tests.fuzz.derivatives import check_derivatives

        return check_derivatives(source, program, job.get("seed", 0), job.get("jit", True))
    rng = np.random.default_rng(job.get("seed", 0))
    names = [job["entry"]] if job.get("entry") else sorted(program.checker.funcs)
    if not job.get("entry"):
        main = [n for n in names if n == "main" and not program.checker.funcs[n].params]
        others = [n for n in names if n != "main"]
        rng.shuffle(others)
        names = main + others
    ran, result = 0, Outcome("ok", info={"ran": 0})
    for name in names:
        if ran >= job.get("functions", 1):
            break
        args = inputs_for(program, name, rng, job.get("special", 0.0), job.get("min_size", 1), job.get("max_size", 4))
        if args is None:
            continue
        ran += 1
        out = differential(source, name, args)
        if out.status == "finding":
            out.info["function"] = name
            return out
        if out.status != "ok":
            result = out
    result.info["ran"] = ran
    return result


def main() -> None:
    answers = os.fdopen(int(os.environ["LOOM_FUZZ_FD"]), "w", buffering=1)
    for line in sys.stdin:
        out = run_job(json.loads(line))
        sys.stdout.flush()
        answers.write(json.dumps(out.to_json()) + "\n")


if __name__ == "__main__":
    main()
