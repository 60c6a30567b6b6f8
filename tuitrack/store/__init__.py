"""Where runs are read from and written to. Nothing here imports Textual."""

from tuitrack.store.base import MetricHistory, RunNotFound, Store, StoreError
from tuitrack.store.locate import open_store

__all__ = ["MetricHistory", "RunNotFound", "Store", "StoreError", "open_store"]
