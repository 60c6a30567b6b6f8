"""entrenar's JSON run records (`{run_id}.json`)."""

from tuitrack.store.entrenar.store import EntrenarStore

__all__ = ["EntrenarStore"]
