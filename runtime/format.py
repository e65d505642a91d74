"""How Loom shows values: `print` in programs and the results of `loom run`.

Scalars print like Python (`0.1`, `3`, `true`); tensors like NumPy arrays with `, ` between
elements (`[[1., 2.], [3., 4.]]`), bools as `true`/`false`.
"""

from __future__ import annotations

import numpy as np


def format_value(v) -> str:
    if isinstance(v, tuple):
        return "(" + ", ".join(format_value(x) for x in v) + ")"
    a = np.asarray(v)
    if a.ndim == 0:
        x = a.item()
        if a.dtype == np.bool_:
            return "true" if x else "false"
        if a.dtype.kind == "f":
            return str(a.dtype.type(x))
        return str(x)
    return np.array2string(a, separator=", ", threshold=1000,
                           formatter={"bool": lambda b: "true" if b else "false"})
