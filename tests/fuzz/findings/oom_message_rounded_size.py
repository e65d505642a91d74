"""An allocation that does not fit: compiled code named the size it asked `aligned_alloc` for (rounded up to a multiple of 64 bytes), the reference executor the tensor's size.

Observed: eager: fuzz.loom:3:9: error: out of memory (allocating 1199999999988 bytes);
    jit: fuzz.loom:3:9: error: out of memory (allocating 1200000000000 bytes).
Expected: the same error in both modes (docs/language.md §11: `out of memory (allocating N
    bytes)`), N the buffer's size: 99,999,999,999 × 3 × 4 bytes. Below, 2**45 + 1 rows (384 TiB,
    more than any 47-bit address space: no allocator gives it, whatever the overcommit policy).
How found: python -m tests.fuzz --minutes 45 --seed 8181: a mutant of
    tests/invalid/type_huge_static_shape.loom, run: finding 001-error-mismatch.
"""

SOURCE = """\
def main():
    x = zeros((35184372088833, 3))
    return sum(x)
"""
ENTRY = "main"
ARGS = []
FIXED = "convert-to-llvm's allocation check names the buffer's size, not aligned_alloc's rounded one"
