"""Loom's runtime: the eager reference executor, random numbers and value formatting."""
