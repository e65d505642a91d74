"""Loom's dialects: `loom` (the language's tensor ops), `ad` (differentiation), `spmd` and the
`shard` extensions (distribution), and extensions of xDSL's `llvm`, `arith` and `memref`."""

# The dialects of distributed programs: a pass or rule table that handles their ops imports them
# (and what lowers them) only when a module has such ops (docs/performance.md, "Compile time")
DISTRIBUTED_DIALECTS = ("shard", "spmd")
