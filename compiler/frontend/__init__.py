"""The front end: source text → AST (parser.py) → checked AST (typecheck.py) → loom IR (irgen.py)."""
