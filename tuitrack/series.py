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


SPREADS = ("minmax", "std")  # what a group's band spans: its runs' min to max, or mean -+ one std
SPREAD_NAMES = {"minmax": "min-max band", "std": "±std band"}


@dataclass(frozen=True, slots=True)
class Band:
    """A group of runs' curves as one: per step (or stretch of steps), over the runs with a
    value there, the mean, min, max and sample standard deviation (0 for one run)."""

    xs: list[float]
    mean: list[float]
    low: list[float]
    high: list[float]
    std: list[float]
    runs: list[int]  # how many runs have a value there

    def edges(self, spread: str) -> tuple[list[float], list[float]]:
        """The band's lower and upper edge: `minmax`, or `std` (mean -+ one std)."""
        if spread == "std":
            return ([m - s for m, s in zip(self.mean, self.std)], [m + s for m, s in zip(self.mean, self.std)])
        return self.low, self.high


def band(histories: list[list[MetricPoint]], buckets: int) -> Band:
    """The runs' histories aligned by step: each run's finite values averaged per stretch of
    steps (each step alone when there are at most `buckets` of them), then mean, min, max and
    std across the runs per stretch. Work is one pass over the points plus buckets x runs, so a
    group plots in bounded time however long its histories."""
    if buckets <= 0 or not any(histories):
        return Band([], [], [], [], [], [])
    first = min(min(p.step for p in h) for h in histories if h)  # steps may be logged out of order
    last = max(max(p.step for p in h) for h in histories if h)
    width = max(1, -(-(last - first + 1) // buckets))  # steps per stretch
    per_run: list[dict[int, float]] = []
    for history in histories:
        sums: dict[int, list[float]] = {}
        for point in history:
            if math.isfinite(point.value):
                slot = sums.setdefault((point.step - first) // width, [0.0, 0])
                slot[0] += point.value
                slot[1] += 1
        per_run.append({b: total / n for b, (total, n) in sums.items()})
    out = Band([], [], [], [], [], [])
    for b in sorted({b for values in per_run for b in values}):
        values = [v[b] for v in per_run if b in v]
        mean = math.fsum(values) / len(values)
        spread = math.sqrt(math.fsum((v - mean) ** 2 for v in values) / (len(values) - 1)) if len(values) > 1 else 0.0
        out.xs.append(float(first + b * width))
        out.mean.append(mean)
        out.low.append(min(values))
        out.high.append(max(values))
        out.std.append(spread)
        out.runs.append(len(values))
    return out


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


TAIL_POINTS = 4096  # the newest points, kept as logged: zooming to the last 1,000 steps is exact
BUCKETS = 1024  # older points: at most 2 x this many buckets, a few times any plot's width


class BoundedHistory:
    """A metric history of any length in bounded memory, for plotting.

    The newest TAIL_POINTS points are kept as logged. Older ones are gathered in buckets of
    consecutive points; a bucket keeps its first, lowest, highest and last point, so spikes stay
    visible and the curve's shape holds. When there are 2 x `buckets` buckets, neighbours merge
    and each new bucket takes twice as many points: memory stays the same at 10 million points
    as at 10 thousand. `points()` is what a plot draws, in logged order.
    """

    def __init__(self, buckets: int = BUCKETS, tail: int = TAIL_POINTS) -> None:
        self.max_buckets = 2 * buckets
        self.tail_size = tail
        self.clear()

    def clear(self) -> None:
        self.count = 0  # points seen
        self.width = 1  # points per bucket
        self._buckets: list[tuple[MetricPoint, ...]] = []  # (first, low or high, high or low, last)
        self._pending: list[MetricPoint] = []  # older than the tail, not a full bucket yet
        self._tail: list[MetricPoint] = []

    def add(self, points: list[MetricPoint]) -> None:
        if not points:
            return
        self.count += len(points)
        self._tail.extend(points)
        if len(self._tail) >= 2 * self.tail_size:
            spill, self._tail = self._tail[: -self.tail_size], self._tail[-self.tail_size:]
            self._bucket(spill)

    def _bucket(self, points: list[MetricPoint]) -> None:
        pending = self._pending + points
        # Widen the buckets first, so that what is pending fits in the number allowed.
        while len(self._buckets) + len(pending) // self.width > self.max_buckets:
            self._merge()
        whole = len(pending) - len(pending) % self.width
        for start in range(0, whole, self.width):
            self._buckets.append(_summary(pending[start : start + self.width]))
        self._pending = pending[whole:]

    def _merge(self) -> None:
        merged = []
        for i in range(0, len(self._buckets) - 1, 2):
            a, b = self._buckets[i], self._buckets[i + 1]
            merged.append(_summary([*a, *b]))
        if len(self._buckets) % 2:
            merged.append(self._buckets[-1])
        self._buckets = merged
        self.width *= 2

    def points(self) -> list[MetricPoint]:
        out: list[MetricPoint] = []
        for bucket in self._buckets:
            previous = None
            for point in bucket:
                if point is not previous:
                    out.append(point)
                previous = point
        out.extend(self._pending)
        out.extend(self._tail)
        return out


def _by_value(point: MetricPoint) -> float:
    return point.value


def _summary(points: list[MetricPoint]) -> tuple[MetricPoint, ...]:
    """First, lowest, highest and last of consecutive points (low and high in logged order;
    NaN is neither unless every value is NaN)."""
    low = min(points, key=_by_value)
    high = max(points, key=_by_value)
    if math.isnan(low.value) or math.isnan(high.value):
        numbers = [p for p in points if not math.isnan(p.value)]
        if numbers:
            low, high = min(numbers, key=_by_value), max(numbers, key=_by_value)
    if low is not high and points.index(high) < points.index(low):
        low, high = high, low
    return (points[0], low, high, points[-1])
