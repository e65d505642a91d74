"""The Transformer bench workload's reference (bench/transformer.py): its hand-written NumPy
backpropagation against central finite differences of its own forward pass, in float64 (every
implementation in the bench — Loom, JAX, PyTorch — is checked against this reference)."""

from __future__ import annotations

import numpy as np
import pytest

from bench import transformer as T


@pytest.mark.parametrize("param", range(len(T.PARAMS)), ids=lambda k: T.PARAMS[k])
def test_numpy_backprop_matches_finite_differences(param):
    rng = np.random.default_rng(param)
    args = [a.astype(np.float64) for a in T.transformer_inputs(rng, 1, 3)]
    grads = T.np_train(*args)[1:]
    p = args[1 + param]
    for _ in range(3):
        idx = tuple(rng.integers(0, n) for n in p.shape)
        h = 1e-5
        old = p[idx]
        p[idx] = old + h
        up = np.sum(T.np_train(*args)[0], dtype=np.float64)
        p[idx] = old - h
        down = np.sum(T.np_train(*args)[0], dtype=np.float64)
        p[idx] = old
        assert grads[param][idx] == pytest.approx((up - down) / (2 * h), rel=1e-4, abs=1e-6), T.PARAMS[param]
