"""fetch_ml's experiment folders (`meta.bin`, `metrics.bin`, `files/` per commit)."""

from tuitrack.store.fetch_ml.store import FetchMlStore

__all__ = ["FetchMlStore"]
