"""`value_and_grad` through an `if` that updates a zero-size tensor in place (`x[0:3] += x` with x: f64[3, 0] after `relu`): compiled code fails with invalid IR after loom-buffer-dealloc ("operand #0 of 'memref.copy' is used before it is defined"; LLVM: "Instruction does not dominate all uses!").

Observed: jit: RuntimeError from LLVM's verifier (a traceback): "Instruction does not dominate all
    uses! %.684 = phi ptr … call ptr @memcpy(ptr %.708, ptr %.684, i64 0)"; with
    LOOM_VERIFY_EACH=1: "invalid IR after pass 'loom-buffer-dealloc' (a bug in that pass): operand
    #0 of 'memref.copy' is used before it is defined". Eager runs (value 0.5, an empty gradient).
    With B = 2 both modes agree. At B = 0 the program's zero-size values are all folded into one
    `tensor.empty`, so loom-bufferize gives one buffer that is read by the update, copied into the
    relu's output, the branch's results and the tape; one of loom-buffer-dealloc's rewrites (the
    copy dropped when its source dies, or a buffer reused for a later allocation) leaves a
    `memref.copy` whose source is defined after it: the in-place rewrite of a generic writing that
    buffer (its output) made it write the `scf.if`'s result instead, which it reads and which dies
    there — replacing every use of the buffer, including the copies before the `if`.
Expected: both modes agree: (0.5, an empty f64[3, 0] gradient).
How found: python -m tests.fuzz --minutes 22 --seed 6161 (generated seed 839582648,
    derivative=True, min_size 0: finding 002-exception), minimised with python -m tests.fuzz.reduce.
"""

import numpy as np

SOURCE = """\
def f(x0: f64[3, B], c: bool) -> f64:
    x0 = relu(x0)
    if c:
        x0[0:3] += x0
    return sum(x0 * x0) + 0.5
df = value_and_grad(f, wrt=x0)
"""
ENTRY = "df"
ARGS = [np.zeros((3, 0)), np.bool_(True)]
FIXED = "loom-buffer-dealloc takes another buffer's place only for a buffer first written by the op (first_written_by)"
