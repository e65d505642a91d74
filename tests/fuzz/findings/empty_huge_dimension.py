"""An empty tensor with a huge dimension (`zeros((2**63 - 1, 0))`): the reference executor crashed with NumPy's "array is too big", compiled code returned a result.

Observed: eager: ValueError: array is too big; `arr.size * arr.dtype.itemsize` is larger than the
    maximum possible size (a traceback); jit: `sum(x)` = 0.0. The checker's size rule multiplied
    all static dims, so a 0 made the type f32[2**63 - 1, 0] 0 bytes; NumPy multiplies the nonzero
    dims and cannot make such an array at all.
Expected: the checker's error in both modes, at the type: "a tensor of type f32[…, 0] is too large:
    although empty, its nonzero dims make … elements of 4 bytes" (docs/language.md: only nonzero
    dims count).
How found: python -m tests.fuzz --minutes 25 --seed 5151: a mutant of
    tests/invalid/type_huge_static_shape.loom (its 3 made 0), run: finding 002-exception.
"""

SOURCE = """\
def main():
    x = zeros((9223372036854775807, 0))
    return sum(x)
"""
ENTRY = "main"
ARGS = []
FIXED = "check_size counts only the nonzero static dims, as NumPy does"
