"""Optional: the `linalg` stage is upstream MLIR — IREE compiles it and gets our results.

Off unless `iree-base-compiler` and `iree-base-runtime` are installed (they are not dependencies
of Loom); then a few programs' linalg-stage IR (`as_text("linalg")`, functions on tensors) is
compiled with `iree.compiler` for the CPU, run with `iree.runtime`, and compared with the
reference executor.
"""

from __future__ import annotations

import textwrap

import numpy as np
import pytest

import compiler

ireec = pytest.importorskip("iree.compiler")
ireert = pytest.importorskip("iree.runtime")

PROGRAMS = {
    "elementwise_broadcast": ("def f(x: f32[4, 8], b: f32[8], a: f32) -> f32[4, 8]:\n"
                              "    return tanh(x * a + b) * 2.0 + x\n",
                              lambda r: (r.standard_normal((4, 8)).astype(np.float32),
                                         r.standard_normal(8).astype(np.float32), np.float32(0.5))),
    "reductions": ("def f(x: f32[6, 5]) -> (f32[6], f32[5], f32):\n"
                   "    return sum(x * x, axis=1), max(x, axis=0), mean(x)\n",
                   lambda r: (r.standard_normal((6, 5)).astype(np.float32),)),
    "matmul_relu": ("def f(x: f32[8, 16], w: f32[16, 4], b: f32[4]) -> f32[8, 4]:\n"
                    "    return relu(x @ w + b)\n",
                    lambda r: (r.standard_normal((8, 16)).astype(np.float32),
                               r.standard_normal((16, 4)).astype(np.float32),
                               r.standard_normal(4).astype(np.float32))),
    "softmax": ("def f(x: f32[3, 7]) -> f32[3, 7]:\n"
                "    return softmax(x, axis=-1)\n",
                lambda r: (r.standard_normal((3, 7)).astype(np.float32),)),
}


@pytest.mark.parametrize("name", sorted(PROGRAMS))
def test_iree_runs_the_linalg_stage(name):
    src, make_args = PROGRAMS[name]
    args = make_args(np.random.default_rng(0))
    text = compiler.loads(textwrap.dedent(src), name=f"{name}.loom").f.lower(*args).as_text("linalg")
    vmfb = ireec.compile_str(text, target_backends=["llvm-cpu"])
    config = ireert.Config("local-task")
    ctx = ireert.SystemContext(config=config)
    ctx.add_vm_module(ireert.VmModule.copy_buffer(ctx.instance, vmfb))
    got = ctx.modules.module["f"](*(a.item() if np.ndim(a) == 0 else a for a in args))
    got = got if isinstance(got, (tuple, list)) else (got,)
    want = compiler.loads(textwrap.dedent(src), name=f"{name}.loom", mode="eager").f(*args)
    want = want if isinstance(want, tuple) else (want,)
    for g, w in zip(got, want):
        np.testing.assert_allclose(np.asarray(g.to_host() if hasattr(g, "to_host") else g), w, rtol=1e-5, atol=1e-6)
