"""Loom's benchmark suite: Loom's native (JIT) code against NumPy, and JAX / PyTorch when installed.

Run it with `python -m bench` (or `python bench/run.py`); see bench/README.md.
This file stays free of imports on purpose: bench/run.py must set the thread-count environment
variables before NumPy (or anything that imports it) is loaded.
"""
