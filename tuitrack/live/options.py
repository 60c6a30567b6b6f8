"""How the app follows a store: whether it watches, polls, and when a silent run is stale."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class LiveOptions:
    watch: bool = True  # False: read the store once (--no-watch)
    poll: float | None = None  # seconds between polls, to force polling (--poll)
    stale_after: float = 600.0  # seconds a RUNNING run may stay silent before it shows as stale
