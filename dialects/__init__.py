"""Loom's own dialects: `loom` (the language's tensor ops) and, later, `ad` (differentiation)."""
