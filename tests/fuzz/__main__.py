"""The long fuzzing mode: `python -m tests.fuzz --minutes N --out DIR [--seed S]`.

Runs a campaign (tests/fuzz/runner.py) for N minutes, writes the first instance of each distinct
finding to DIR (`NNN-kind.loom`: the program, with a header saying what happened and how it was
found) and `DIR/summary.txt`, and prints the summary: programs run, findings by kind.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from tests.fuzz.runner import Campaign


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m tests.fuzz", description=__doc__.splitlines()[0])
    ap.add_argument("--minutes", type=float, default=10.0, help="how long to run (default 10)")
    ap.add_argument("--out", type=Path, default=Path("fuzz-findings"), help="where findings are written")
    ap.add_argument("--seed", type=int, default=int(time.time()), help="campaign seed (default: the time)")
    args = ap.parse_args(argv)
    print(f"fuzzing for {args.minutes} min, seed {args.seed}, findings in {args.out}", flush=True)
    t0 = time.monotonic()

    def progress(report):
        print(f"[{time.monotonic() - t0:6.0f} s] {report.counts['programs']} programs, "
              f"{len(report.findings)} distinct findings", flush=True)

    report = Campaign(seed=args.seed, out_dir=args.out).long(args.minutes, progress)
    text = report.summary()
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "summary.txt").write_text(f"seed {args.seed}, {args.minutes} min\n{text}\n", encoding="utf-8")
    print(text)
    return 1 if report.findings else 0


if __name__ == "__main__":
    sys.exit(main())
