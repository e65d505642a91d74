"""`Conversion`: a dialect-conversion driver for passes whose patterns rewrite every op of some
dialects into ops of others (`convert-to-llvm`, `loom-scf-to-cf`): each op of a source dialect is
visited once, in the order xDSL's `PatternRewriteWalker` would visit it, and the ops the patterns
create are not offered to them again. MLIR's dialect conversion likewise converts each op once
instead of iterating a greedy rewrite to a fixpoint.

On these passes xDSL's walker with a `GreedyRewritePatternApplier` spends most of its time on ops
no pattern applies to: it pops every op of the module from its worklist, asks each whether it is
trivially dead, walks the whole module a second time to find that nothing more applies, and
visits each op a rewrite creates once more (on the MLP train step: 66,000 visits in
`convert-to-llvm`, which creates 7,500 ops; 2.3 of its 2.5 s CPU).
"""

from __future__ import annotations

from xdsl.ir import Block, Operation, Region
from xdsl.pattern_rewriter import PatternRewriter, RewritePattern
from xdsl.rewriter import InsertPoint
from xdsl.transforms.dead_code_elimination import is_trivially_dead


class Conversion:
    """The ops of the dialects in `patterns` (dialect name → its patterns) offered to their
    dialect's patterns, in order until one acts, as xDSL's walker with a
    `GreedyRewritePatternApplier` would. The same IR comes out (tests/test_convert_to_llvm.py
    compares the two on programs that need every rule below):
    - the source ops are visited in the walker's order (each op before its regions; last op first
      with `last_first`), and a source op a pattern inserts right after (as the walker's stack);
    - an op is erased instead of rewritten if it is trivially dead when its turn comes; when a
      rewrite erases an op, the ops that defined its operands are checked for being dead at once
      (as the walker does), so dead code is erased before it is converted (an unused
      `memref.load` must not become an `llvm.load`, which is not trivially dead); `erase_dead`
      sweeps a region once, as the walker's first walk does;
    - rounds repeat while one changed something and may have left work: a later round walks the
      region again to find source ops the first could not reach (inside a region a pattern
      inserted, such as a cloned `loom.on_failure`) and retries ops whose patterns declined.
    The ops the patterns create are never offered to them: they are of the target dialects."""

    def __init__(self, patterns: dict[str, list[RewritePattern]]):
        self.patterns = patterns
        self._dialect: dict[type[Operation], str] = {}
        self._stack: list[Operation] = []
        # the erased ops by id, held so that no op made later can reuse an erased one's id
        self._removed: dict[int, Operation] = {}
        self._again = False  # whether another round may find more to rewrite
        self.rewriter = PatternRewriter(InsertPoint.at_end(Block()))
        self.rewriter.operation_insertion_handler.append(self._inserted)
        self.rewriter.operation_removal_handler.append(self._removed_op)

    def _patterns_of(self, op: Operation) -> list[RewritePattern] | None:
        d = self._dialect.get(type(op))
        if d is None:
            d = self._dialect[type(op)] = op.dialect_name()
        return self.patterns.get(d)

    def _inserted(self, op: Operation) -> None:
        if self._patterns_of(op) is not None:
            self._stack.append(op)
        if op.regions:  # its nested ops are found by another round
            self._again = True

    def _removed_op(self, op: Operation) -> None:
        for operand in op.operands:  # the ops this one kept alive: dead now?
            if operand.has_one_use() and isinstance(owner := operand.owner, Operation):
                self._stack.append(owner)
        for o in op.walk() if op.regions else (op,):
            self._removed[id(o)] = o

    def run(self, region: Region, last_first: bool = False) -> None:
        while self._round(region, last_first) and self._again:
            pass

    def _round(self, region: Region, last_first: bool) -> bool:
        """Visit the source ops of `region` (and what the rewrites push); whether anything changed."""
        stack = self._stack
        stack.extend(op for op in region.walk(reverse=not last_first, region_first=True)
                     if self._patterns_of(op) is not None)
        rewriter, removed, changed = self.rewriter, self._removed, False
        self._again = False
        while stack:
            op = stack.pop()
            if id(op) in removed or op.parent is None:
                continue
            if is_trivially_dead(op):
                rewriter.erase(op)
                changed = True
                continue
            patterns = self._patterns_of(op)
            if patterns is None:  # an op offered only to be checked for being dead
                continue
            rewriter.has_done_action = False
            rewriter.current_operation = op
            rewriter.insertion_point = InsertPoint(op.parent, op)
            rewriter.name_hint = None
            try:
                for p in patterns:
                    p.match_and_rewrite(op, rewriter)
                    if rewriter.has_done_action:
                        changed = True
                        break
                else:  # declined: tried again once other ops have changed
                    self._again = True
            except Exception as err:
                op.emit_error(f"Error while applying pattern: {err}", underlying_error=err)
        return changed

    def erase_dead(self, region: Region) -> None:
        """Erase the trivially dead ops of `region` (and those that only they used)."""
        self._stack.extend(op for op in region.walk(reverse=True) if is_trivially_dead(op))
        while self._stack:
            op = self._stack.pop()
            if id(op) not in self._removed and op.parent is not None and is_trivially_dead(op):
                self.rewriter.erase(op)


def convert(region: Region, patterns: dict[str, list[RewritePattern]], last_first: bool = False) -> None:
    """Rewrite the ops of the dialects in `patterns` in `region` (see `Conversion`)."""
    Conversion(patterns).run(region, last_first)


def erase_dead(region: Region) -> None:
    """Erase the trivially dead ops of `region`, as the first walk of xDSL's walker would."""
    Conversion({}).erase_dead(region)
