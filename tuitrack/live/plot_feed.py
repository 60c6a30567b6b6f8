"""One plotted metric of one run, read from the store in pieces into a BoundedHistory.

A plot never holds a whole history: a 10-million-point metric file is parsed 4 MiB at a time,
each piece folded into per-bucket summaries (tuitrack.series.BoundedHistory) and dropped, so
memory stays the same whatever the length, and the reader can say how far it is. Later reads
parse only what was appended (the store's cursor), so a live plot still grows point by point.
"""

from __future__ import annotations

from collections.abc import Callable

from tuitrack.model import MetricPoint, Run
from tuitrack.series import BoundedHistory
from tuitrack.store import Store

PIECE_BYTES = 4 << 20  # parsed between two progress reports


class PlotFeed:
    def __init__(self, store: Store, run: Run, key: str) -> None:
        self.store = store
        self.run_id = run.run_id
        self.key = key
        self.history = store.open_metric(run, key)
        self.bounded = BoundedHistory()
        self._source = self.history.points  # the list the store extends (a new one: read again)
        self._taken = 0  # how many of its points are in `bounded`
        self._absorb()  # a store that fetches whole histories has read it already

    @property
    def points(self) -> list[MetricPoint]:
        return self.bounded.points()

    def read(self, progress: Callable[[float], None] | None = None,
             cancelled: Callable[[], bool] = lambda: False) -> bool:
        """Read what the store has that this feed has not; True if there was anything."""
        grew = False
        while not cancelled():
            before = self.store.read_fraction(self.history)
            new = self.store.read_some_points(self.history, PIECE_BYTES)
            grew = self._absorb() or grew
            after = self.store.read_fraction(self.history)
            if after is None or after >= 1.0 or (after == before and not new):
                break
            if progress is not None:
                progress(after)
        return grew

    def _absorb(self) -> bool:
        points = self.history.points
        changed = False
        if points is not self._source:  # the metric was rewritten: start again
            self.bounded.clear()
            self._source, self._taken, changed = points, 0, True
        if len(points) > self._taken:
            self.bounded.add(points[self._taken:])
            changed = True
        if self.store.metric_points_disposable:
            points.clear()  # the store's own bookmark says where to go on
            self._taken = 0
        else:
            self._taken = len(points)
        return changed
