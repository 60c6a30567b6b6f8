"""Choosing runs: the quick text filter (and, later, MLflow's filter language)."""
