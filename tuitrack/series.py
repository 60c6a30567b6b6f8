"""Metric histories turned into what a terminal plot can draw: x values for the chosen axis,
smoothing, zoom, and downsampling to the plot's width that keeps spikes.

Plain Python, no numpy: a 100,000-point history downsamples in a few milliseconds because the
per-bucket min and max are taken with the C built-ins over list slices.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from tuitrack.model import MetricPoint

X_AXES = ("step", "relative", "wall")
SMOOTHING = (0.0, 0.6, 0.8, 0.9, 0.95, 0.99)
ZOOMS = (None, 1000, 100)  # show everything, or the last N steps


@dataclass(frozen=True, slots=True)
class Curve:
    xs: list[float]
    ys: list[float]


def x_values(points: list[MetricPoint], axis: str, start_ms: int | None) -> list[float]:
    """x for each point: its step, hours since the run started, or wall time (epoch seconds)."""
    if axis == "step":
        return [float(p.step) for p in points]
    if axis == "relative":
        origin = start_ms if start_ms is not None else (points[0].timestamp if points else 0)
        return [(p.timestamp - origin) / 3_600_000 for p in points]
    return [p.timestamp / 1000 for p in points]


def zoom(points: list[MetricPoint], last_steps: int | None) -> list[MetricPoint]:
    """The points of the last `last_steps` steps (all of them for None)."""
    if last_steps is None or not points:
        return points
    top = max(p.step for p in points[-min(len(points), 64):])
    floor = top - last_steps
    index = len(points)
    while index > 0 and points[index - 1].step > floor:
        index -= 1
    return points[index:]


def smooth(ys: list[float], strength: float) -> list[float]:
    """Exponential moving average, debiased like TensorBoard's; NaN and inf points are skipped."""
    if strength <= 0:
        return ys
    out = []
    last = 0.0
    weight = 0.0
    for y in ys:
        if math.isfinite(y):
            last = last * strength + (1 - strength) * y
            weight = weight * strength + (1 - strength)
        out.append(last / weight if weight else float("nan"))
    return out


def finite(xs: list[float], ys: list[float], log: bool = False) -> Curve:
    """Drop points a plot cannot draw (NaN, inf, and non-positive values on a log scale)."""
    keep = [(x, y) for x, y in zip(xs, ys) if math.isfinite(y) and (not log or y > 0)]
    return Curve([x for x, _ in keep], [y for _, y in keep])


def downsample(curve: Curve, buckets: int, log: bool = False) -> Curve:
    """At most about 2 x `buckets` drawable points: the min and the max of each bucket of
    consecutive points, so a one-step spike stays visible however long the history is.

    Points a plot cannot draw (NaN, inf, and values <= 0 on a log axis) are left out. The
    min and max of a bucket are taken by the C built-ins; only a bucket whose result is not
    drawable is filtered point by point.
    """
    n = len(curve.ys)
    if n <= 2 * buckets or buckets <= 0:
        return finite(curve.xs, curve.ys, log)
    xs, ys = curve.xs, curve.ys
    out_x: list[float] = []
    out_y: list[float] = []
    for b in range(buckets):
        start = b * n // buckets
        end = (b + 1) * n // buckets
        if start >= end:
            continue
        chunk = ys[start:end]
        low, high = min(chunk), max(chunk)
        if not (_drawable(low, log) and _drawable(high, log)):
            chunk = [y for y in chunk if _drawable(y, log)]
            if not chunk:
                continue
            low, high = min(chunk), max(chunk)
        first = low if chunk.index(low) <= chunk.index(high) else high
        out_x.append(xs[start])
        out_y.append(first)
        out_x.append(xs[end - 1])
        out_y.append(high if first == low else low)
    return Curve(out_x, out_y)


def _drawable(y: float, log: bool) -> bool:
    return math.isfinite(y) and (not log or y > 0)


class PreparedSeries:
    """x and y lists of one growing history, extended as it grows (not rebuilt on every
    redraw): at 100,000 points, turning points into lists is most of a redraw's cost."""

    def __init__(self) -> None:
        self.source: list[MetricPoint] | None = None
        self.axis = ""
        self.strength = -1.0
        self.start_ms: int | None = None
        self.xs: list[float] = []
        self.ys: list[float] = []
        self.smoothed: list[float] = []
        self._ema = (0.0, 0.0)  # running average and its weight, to extend the smoothing

    def update(self, points: list[MetricPoint], axis: str, start_ms: int | None, strength: float) -> None:
        if points is not self.source or axis != self.axis or start_ms != self.start_ms or len(points) < len(self.xs):
            self.source, self.axis, self.start_ms = points, axis, start_ms
            self.xs, self.ys, self.smoothed, self.strength = [], [], [], -1.0
        if strength != self.strength:
            self.smoothed, self._ema, self.strength = [], (0.0, 0.0), strength
        new = points[len(self.xs):]
        if new:
            self.xs.extend(x_values(new, axis, start_ms if start_ms is not None else points[0].timestamp))
            self.ys.extend(p.value for p in new)
        if strength > 0 and len(self.smoothed) < len(self.ys):
            last, weight = self._ema
            for y in self.ys[len(self.smoothed):]:
                if math.isfinite(y):
                    last = last * strength + (1 - strength) * y
                    weight = weight * strength + (1 - strength)
                self.smoothed.append(last / weight if weight else float("nan"))
            self._ema = (last, weight)

    def window(self, first_step: int | None) -> int:
        """Index of the first point at or after `first_step` (steps in logged order)."""
        if first_step is None or self.source is None:
            return 0
        index = len(self.source)
        while index > 0 and self.source[index - 1].step >= first_step:
            index -= 1
        return index
