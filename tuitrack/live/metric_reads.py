"""Long metric histories read in pieces: for a plot (PlotFeed) and for the detail's min and max
(read_summary).

Neither holds a whole history: a 10-million-point metric file is parsed 4 MiB at a time, each
piece folded into what is kept (per-bucket summaries, tuitrack.series.BoundedHistory; or a
MetricSummary) and dropped, so memory stays the same whatever the length, and the reader can say
how far it is. Later reads parse only what was appended (the store's cursor), so a live plot
still grows point by point.
"""

from __future__ import annotations

from collections.abc import Callable

import math

from tuitrack.model import MetricPoint, MetricSummary, Run, summarize
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


def read_summary(store: Store, run: Run, key: str, cancelled: Callable[[], bool] = lambda: False
                 ) -> MetricSummary | None:
    """The latest point, count, min and max of a whole history, read piece by piece."""
    history = store.open_metric(run, key)
    summary = summarize(history.points)
    while not cancelled():
        before = store.read_fraction(history)
        new = store.read_some_points(history, PIECE_BYTES)
        if new:
            summary = merged(summary, summarize(new))
        if store.metric_points_disposable:
            history.points.clear()
        after = store.read_fraction(history)
        if after is None or after >= 1.0 or (after == before and not new):
            break
    return summary


def merged(a: MetricSummary | None, b: MetricSummary | None) -> MetricSummary | None:
    """One summary of two stretches of a history (NaN only where a stretch has no number)."""
    if a is None or b is None:
        return a or b
    latest = max(a.latest, b.latest, key=MetricPoint.sort_key)
    low, low_step = (b.min_value, b.min_step) if _beats(b.min_value, a.min_value, lower=True) \
        else (a.min_value, a.min_step)
    high, high_step = (b.max_value, b.max_step) if _beats(b.max_value, a.max_value, lower=False) \
        else (a.max_value, a.max_step)
    return MetricSummary(latest, a.count + b.count, low, low_step, high, high_step)


def _beats(new: float, old: float, lower: bool) -> bool:
    """Whether `new` is the better extreme; NaN (a stretch without numbers) loses to any number."""
    if math.isnan(new):
        return False
    return math.isnan(old) or (new < old if lower else new > old)
