"""Fuzzing Loom (docs/testing.md): `gen.py`/`grammar.py` generate well-typed programs, `mutate.py`
mutates the corpus, `oracle.py` holds the properties, `worker.py`/`runner.py` run them in a child
process with limits, `reduce.py` minimises findings; `python -m tests.fuzz` is the long mode."""
