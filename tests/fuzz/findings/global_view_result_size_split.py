"""A result whose size, bound only at the call, does not split over the mesh axis its declared type
names: "invalid IR: sharding … does not split evenly over mesh axes [0]" from the verifier (an
internal error's wording, mesh axes by number) instead of the user's error.

Observed: examples/megatron_mlp.loom's `init(seed, d, h)` with h: f32[3] (H = 3; the result's field
    `w1: f32[D, H@tp]` over 4 devices): both modes "28:46: error: invalid IR: sharding
    #spmd.sharding<@M, [[], [0]]>: dimension 1 of size 3 does not split evenly over mesh axes [0] (4
    devices)".
Expected: the error docs/language.md §9.1 promises at the call when a symbolic size is bound there,
    naming the size, the axis and its size: "size 3 does not split evenly over mesh axis 'tp' of
    size 4", at the result type.
How found: python -m tests.fuzz --minutes 10 --seed 1234 (corpus program, special input values).
"""

import numpy as np

SOURCE = """\
mesh M = (tp=4)

struct P:
    w: f32[D, H@tp]

def init(d: f32[D], h: f32[H]) -> P:
    return P(w=zeros((D, H)))
"""
ENTRY = "init"
ARGS = [np.zeros(2, np.float32), np.zeros(3, np.float32)]
FIXED = "the sizes of a global-view instance's results are checked against their declared split after its body"
