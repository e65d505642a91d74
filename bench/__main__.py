"""`python -m bench [--only NAME[,NAME]] [--repeats N] [--quick] [--json OUT]`"""

from bench import run  # run.py sets the single-thread environment before importing NumPy

if __name__ == "__main__":
    raise SystemExit(run.main())
