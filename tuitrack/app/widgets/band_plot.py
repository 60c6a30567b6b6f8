"""Groups of runs in the metric plot: each group's mean curve over a band (min-max, or mean -+
one std), aligned by step (tuitrack.series.band computes them, bounded by the plot's width).

A band is drawn as one zigzag line between its edges, column by column, in the group's colour
with dots; every band goes down before any mean curve, so no band hides another group's mean.
"""

from __future__ import annotations

import math

import plotext

from tuitrack.model import MetricPoint
from tuitrack.series import ZOOMS, Band, band, zoom

SPREADS = ("minmax", "std")
SPREAD_NAMES = {"minmax": "min-max band", "std": "±std band"}
BAND_MARKER = "dot"


def group_bands(plot, key: str, buckets: int) -> tuple[bool, float, float, float, float]:
    """Draw the groups among `plot.runs` (entries with `members`) for metric `key`; whether
    anything was drawn, and the x and y range it took (lowest x, highest x, lowest y, highest y)."""
    low_x = low_y = float("inf")
    high_x = high_y = float("-inf")
    if plot.axis != "step":  # runs of a group are aligned by step: no other axis lines them up
        return False, low_x, high_x, low_y, high_y
    last_steps = ZOOMS[plot.zoom]
    means = []
    for index, run in enumerate(plot.runs):
        members = run.members.get(key, [])
        if not members:
            continue
        got = _band(run.run_id, key, members, last_steps, buckets)
        lower, upper = got.edges(plot.band)
        xs, ys = _zigzag(got.xs, lower, upper, plot.log_y)
        if xs:
            plotext.plot(xs, ys, color=run.colour, marker=BAND_MARKER)
            low_x, high_x = min(low_x, min(xs)), max(high_x, max(xs))
            low_y, high_y = min(low_y, min(ys)), max(high_y, max(ys))
        keep = [(x, _y(y, plot.log_y)) for x, y in zip(got.xs, got.mean) if _drawable(y, plot.log_y)]
        if keep:
            means.append((keep, run.colour, plot._marker(index)))
    for keep, colour, marker in means:
        xs, ys = [x for x, _ in keep], [y for _, y in keep]
        plotext.plot(xs, ys, color=colour, marker=marker)
        low_x, high_x = min(low_x, min(xs)), max(high_x, max(xs))
        low_y, high_y = min(low_y, min(ys)), max(high_y, max(ys))
    return low_x <= high_x, low_x, high_x, low_y, high_y


_BANDS: dict[tuple[str, str], tuple[list, int | None, int, Band]] = {}  # (group, metric) -> the last band
_KEPT_BANDS = 256


def _band(group_id: str, key: str, members: list[list[MetricPoint]], last_steps: int | None, buckets: int) -> Band:
    """band() of the zoomed histories, computed again only when they, the zoom or the width
    changed: a redraw for anything else (a cursor move) reuses it. The histories are held by
    the entry, so the identities it compares cannot be reused by other lists meanwhile."""
    known = _BANDS.get((group_id, key))
    if known is not None and known[1:3] == (last_steps, buckets) and len(known[0]) == len(members) \
            and all(a is b and len(a) == n for (a, n), b in zip(known[0], members)):
        return known[3]
    if len(_BANDS) >= _KEPT_BANDS:
        _BANDS.clear()
    got = band([zoom(h, last_steps) for h in members], buckets)
    _BANDS[(group_id, key)] = ([(h, len(h)) for h in members], last_steps, buckets, got)
    return got


def _drawable(y: float, log: bool) -> bool:
    return math.isfinite(y) and (not log or y > 0)


def _y(y: float, log: bool) -> float:
    return math.log10(y) if log else y  # the plot draws log10 on a log axis (its ticks say 1e-3)


def _zigzag(xs: list[float], lower: list[float], upper: list[float], log: bool) -> tuple[list[float], list[float]]:
    """Down and up between the edges at each x: one line that fills the band."""
    out_x: list[float] = []
    out_y: list[float] = []
    for i, (x, a, b) in enumerate(zip(xs, lower, upper)):
        if not (_drawable(a, log) and _drawable(b, log)):
            continue
        first, second = (a, b) if i % 2 == 0 else (b, a)
        out_x += [x, x]
        out_y += [_y(first, log), _y(second, log)]
    return out_x, out_y
