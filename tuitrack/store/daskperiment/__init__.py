"""daskperiment's stores: LocalBackend pickles and RedisBackend keys, read without running them."""

from tuitrack.store.daskperiment.local import DaskperimentLocalStore

__all__ = ["DaskperimentLocalStore"]
