"""Automatic differentiation: per-op rules as data (`jvp_rules.JVP`, `transpose_rules.TRANSPOSE`;
the collectives' in `collective_rules.py`, found through `jvp_rule`/`transpose_rule` and imported
only by programs that distribute), the op builder they share (`build.B`), and activity analysis
(`activity.py`). The passes that use them are `ad-jvp`, `ad-linearize` and `ad-transpose`
(compiler/passes/ad_*.py)."""
