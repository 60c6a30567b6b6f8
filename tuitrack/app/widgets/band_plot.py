"""Groups of runs in the metric plot: each group's mean curve over a band (min-max, or mean -+
one std), aligned by step (tuitrack.series.band computes them, bounded by the plot's width).

A band is drawn as one zigzag line between its edges, column by column, in the group's colour
with dots; every band goes down before any mean curve, so no band hides another group's mean.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import plotext

from tuitrack.model import MetricPoint
from tuitrack.series import Band, Curve, band

BAND_MARKER = "dot"


def group_bands(plot, key: str, buckets: int, steps: tuple[float, float] | None,
                to_drawn: Callable[[Curve], Curve]) -> tuple[float, float, float, float] | None:
    """Draw the groups among `plot.runs` (entries with `members`) for metric `key`, inside the
    step range `steps` (None: every step); the y range then the x range they took in drawn
    units (low y, high y, low x, high x), or None.

    `to_drawn` is the plot's own transform to drawn units (log x, log y, symlog), so bands sit
    on the same axes as the runs' curves."""
    if plot.axis != "step":  # runs of a group are aligned by step: no other axis lines them up
        return None
    log_y = plot.y_scale == "log"
    bands, means = [], []
    for index, run in enumerate(plot.runs):
        members = run.members.get(key, [])
        if not members:
            continue
        got = _band(run.run_id, key, members, steps, buckets)
        if not got.xs:
            continue
        lower, upper = got.edges(plot.band)
        edge = to_drawn(_zigzag(got.xs, lower, upper, log_y))
        if edge.xs:
            bands.append((edge, run.colour))
        keep = [(x, y) for x, y in zip(got.xs, got.mean) if _drawable(y, log_y)]
        mean = to_drawn(Curve([x for x, _ in keep], [y for _, y in keep]))
        if mean.xs:
            means.append((mean, run.colour, plot._marker(index)))
    for edge, colour in bands:  # every band first: none hides another group's mean
        plotext.plot(edge.xs, edge.ys, color=colour, marker=BAND_MARKER)
    for mean, colour, marker in means:
        plotext.plot(mean.xs, mean.ys, color=colour, marker=marker)
    ys = [y for curve, *_ in bands + means for y in curve.ys]
    xs = [x for curve, *_ in bands + means for x in (curve.xs[0], curve.xs[-1])]
    return (min(ys), max(ys), min(xs), max(xs)) if ys else None


def _inside(points: list[MetricPoint], steps: tuple[float, float] | None) -> list[MetricPoint]:
    if steps is None:
        return points
    low, high = steps
    return [p for p in points if low <= p.step <= high]


_BANDS: dict[tuple[str, str], tuple[list, tuple[float, float] | None, int, Band]] = {}  # (group, metric) -> the last band
_KEPT_BANDS = 256


def _band(group_id: str, key: str, members: list[list[MetricPoint]], steps: tuple[float, float] | None,
          buckets: int) -> Band:
    """band() of the histories inside the zoom window, computed again only when they, the window or the width
    changed: a redraw for anything else (a cursor move) reuses it. The histories are held by
    the entry, so the identities it compares cannot be reused by other lists meanwhile."""
    known = _BANDS.get((group_id, key))
    if known is not None and known[1:3] == (steps, buckets) and len(known[0]) == len(members) \
            and all(a is b and len(a) == n for (a, n), b in zip(known[0], members)):
        return known[3]
    if len(_BANDS) >= _KEPT_BANDS:
        _BANDS.clear()
    got = band([inside for h in members if (inside := _inside(h, steps))], buckets)
    _BANDS[(group_id, key)] = ([(h, len(h)) for h in members], steps, buckets, got)
    return got


def _drawable(y: float, log: bool) -> bool:
    return math.isfinite(y) and (not log or y > 0)


def _zigzag(xs: list[float], lower: list[float], upper: list[float], log: bool) -> Curve:
    """Down and up between the edges at each x: one line that fills the band."""
    out_x: list[float] = []
    out_y: list[float] = []
    for i, (x, a, b) in enumerate(zip(xs, lower, upper)):
        if not (_drawable(a, log) and _drawable(b, log)):
            continue
        first, second = (a, b) if i % 2 == 0 else (b, a)
        out_x += [x, x]
        out_y += [first, second]
    return Curve(out_x, out_y)
