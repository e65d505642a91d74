"""Automatic differentiation: per-op rules as data (`jvp_rules.JVP`, `transpose_rules.TRANSPOSE`),
the op builder they share (`build.B`), and activity analysis (`activity.py`). The passes that
use them are `ad-jvp`, `ad-linearize` and `ad-transpose` (compiler/passes/ad_*.py)."""
