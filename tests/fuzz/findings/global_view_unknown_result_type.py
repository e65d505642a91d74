"""An unknown result type in a file with a mesh: an internal error (KeyError) instead of "unknown type".

Observed: `def loss(x: f32[16@dp, 8]) -> f16:` after `mesh M = (dp=4)`: `loom check` printed
    "internal compiler error … KeyError: 'f16'" from compiler/frontend/spmd.py `shardings`: the
    global view reads the declared result types for their shardings before the function's own
    check, which reports unknown types (parameters were resolved earlier, so only results hit it).
Expected: "error: unknown type 'f16' (not an element type or a struct); did you mean 'f64'?" at
    the type, as without a mesh.
How found: python -m tests.fuzz --seed 31337 (a mutant of tests/filecheck/sharding_dp_mlp.loom),
    2026-12-01; minimised by hand.
"""

SOURCE = """\
mesh M = (dp=4)

def loss(x: f32[16@dp, 8]) -> f16:
    return mean(x)
"""
ARGS = None
FIXED = "spmd.shardings reports an unknown struct name as the unknown-type error"
