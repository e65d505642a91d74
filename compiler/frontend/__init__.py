"""The front end: source text → AST → checked AST → `loom` IR, in layers; a module imports only
from the layers below it (tests/test_import_graph.py checks that the graph has no cycle).

1. data: `ast.py` (syntax tree with spans), `types.py` (checker types and compile-time values)
2. parsing: `syntax_errors.py`, then `parser.py` (lark grammar → AST)
3. checking, shared: `check_common.py` (errors, instances, limits, broadcasting), `gates.py`
   (the features this version does not implement, in one table)
4. checking, per feature: `indexing.py`, `structs.py`, `operators.py`, `control_flow.py`,
   `builtins.py`, `derivatives.py` (also lifts derived functions into the AST); each rule takes
   the `FunctionChecker` as `fc`
5. the checker: `check_function.py` (one function instance), then `typecheck.py` (`Checker`:
   declarations, types, instances)
6. IR emission: `emit_common.py`, then `emit_structs.py`, `emit_builtins.py`,
   `emit_derivatives.py`, then `irgen.py` (`generate`); each emitter takes the `FuncGen` as `g`
"""
