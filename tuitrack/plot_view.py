"""Where the reader is in a plot and what it shows of the curves: the cursor on logged points,
the x window (zoom and pan), the y scales (log, symlog), outlier clipping and the density of many
runs. Plain computations on lists of numbers; the plot widget draws what they give.

Every lookup a key press makes is a bisect on sorted x values, so moving the cursor costs the
same on a 100-point history as on a 100,000-point one.
"""

from __future__ import annotations

import bisect
import math
from dataclasses import dataclass

Y_SCALES = ("linear", "log", "symlog")
ZOOM_FACTOR = 2.0  # `z` halves the window, `Z` doubles it
WHEEL_FACTOR = 1.25  # one notch of the mouse wheel
PAN_FRACTION = 0.5  # `[` `]` move the window by half its width
JUMP_FRACTION = 0.1  # shift+arrow moves the cursor a tenth of the window
MIN_POINTS_SHOWN = 4  # zooming in stops when a window would hold fewer logged x values
DENSITY_ABOVE = 15  # more overlaid runs than this: a density map, unless toggled
CLIP_PERCENTILES = (1.0, 99.0)  # `o`: the y range these percentiles of the drawn points span
SYMLOG_DECADES = 3  # symlog is linear below a thousandth of the largest |y|
DENSITY_GLYPHS = "░▒▓█"  # fewer to more runs through a cell; reads without colour


class XIndex:
    """The x values of one curve, sorted for bisecting, and where each sorted one was logged.

    Steps and times are nearly always logged in order; then the x list itself is the index (no
    copy). A history logged out of order is sorted once per change of its data, not per key.
    """

    def __init__(self) -> None:
        self.source: list[float] | None = None
        self.count = 0
        self.in_order = True
        self._keys: list[float] = []
        self._order: list[int] | None = None  # sorted position -> logged position

    def update(self, xs: list[float]) -> None:
        """Follow `xs` (the same list grown, or another list): only new values are checked."""
        if xs is not self.source or len(xs) < self.count:
            self.source, self.count, self.in_order = xs, 0, True
        if len(xs) > self.count:
            start = max(1, self.count)
            if self.in_order and any(xs[i] < xs[i - 1] for i in range(start, len(xs))):
                self.in_order = False
            self.count = len(xs)
            self._order = None
        if self.in_order:
            self._keys = xs
        elif self._order is None:
            self._order = sorted(range(len(xs)), key=xs.__getitem__)
            self._keys = [xs[i] for i in self._order]

    def __len__(self) -> int:
        return self.count

    @property
    def first(self) -> float | None:
        return self._keys[0] if self.count else None

    @property
    def last(self) -> float | None:
        return self._keys[self.count - 1] if self.count else None

    def logged(self, position: int) -> int:
        """The logged index of the value at sorted `position`."""
        return position if self._order is None else self._order[position]

    def nearest(self, x: float) -> int | None:
        """The logged index of the point whose x is nearest `x` (the earlier one on a tie)."""
        if not self.count:
            return None
        keys = self._keys
        at = bisect.bisect_left(keys, x, 0, self.count)
        if at == self.count or (at > 0 and x - keys[at - 1] <= keys[at] - x):
            at -= 1
        # several points at the same x (a step logged twice): the last one logged
        while at + 1 < self.count and keys[at + 1] == keys[at]:
            at += 1
        return self.logged(at)

    def after(self, x: float) -> float | None:
        """The smallest logged x greater than `x`."""
        at = bisect.bisect_right(self._keys, x, 0, self.count)
        return self._keys[at] if at < self.count else None

    def before(self, x: float) -> float | None:
        """The largest logged x smaller than `x`."""
        at = bisect.bisect_left(self._keys, x, 0, self.count)
        return self._keys[at - 1] if at > 0 else None

    def at_least(self, x: float) -> float | None:
        at = bisect.bisect_left(self._keys, x, 0, self.count)
        return self._keys[at] if at < self.count else None

    def at_most(self, x: float) -> float | None:
        at = bisect.bisect_right(self._keys, x, 0, self.count)
        return self._keys[at - 1] if at > 0 else None

    def count_between(self, low: float, high: float) -> int:
        return bisect.bisect_right(self._keys, high, 0, self.count) - bisect.bisect_left(self._keys, low, 0, self.count)

    def span(self, low: float, high: float) -> tuple[int, int]:
        """Sorted positions [begin, end) of the points from `low` to `high`, with one neighbour on
        each side, so that a line drawn through them enters and leaves the window."""
        begin = max(0, bisect.bisect_left(self._keys, low, 0, self.count) - 1)
        end = min(self.count, bisect.bisect_right(self._keys, high, 0, self.count) + 1)
        return begin, end

    def values(self, ys: list[float], begin: int, end: int) -> tuple[list[float], list[float]]:
        """x and y of the sorted positions [begin, end), in x order."""
        if self._order is None:
            return self._keys[begin:end], ys[begin:end]
        order = self._order[begin:end]
        return self._keys[begin:end], [ys[i] for i in order]


# -- the cursor -------------------------------------------------------------------------------


def _pick(values: list[float | None], choose) -> float | None:
    found = [v for v in values if v is not None]
    return choose(found) if found else None


def cursor_step(indexes: list[XIndex], x: float, direction: int) -> float | None:
    """The next logged x (of any curve) after `x` (direction 1) or before it (-1)."""
    if direction > 0:
        return _pick([i.after(x) for i in indexes], min)
    return _pick([i.before(x) for i in indexes], max)


def cursor_jump(indexes: list[XIndex], x: float, distance: float) -> float | None:
    """The logged x nearest `x + distance` in the direction of the jump (an end if none is)."""
    target = x + distance
    if distance > 0:
        found = _pick([i.at_least(target) for i in indexes], min)
        return found if found is not None else cursor_end(indexes, last=True)
    found = _pick([i.at_most(target) for i in indexes], max)
    return found if found is not None else cursor_end(indexes, last=False)


def cursor_end(indexes: list[XIndex], last: bool) -> float | None:
    """The first (or last) logged x of all curves."""
    return _pick([i.last for i in indexes], max) if last else _pick([i.first for i in indexes], min)


def cursor_snap(indexes: list[XIndex], x: float) -> float | None:
    """The logged x nearest `x`, of any curve."""
    candidates = []
    for index in indexes:
        at = index.nearest(x)
        if at is not None:
            candidates.append(index.source[at])
    return min(candidates, key=lambda c: abs(c - x)) if candidates else None


# -- the x window: zoom and pan ---------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Window:
    """The part of the x axis shown, in the axis' drawn units (log10 on a log x axis)."""

    low: float
    high: float

    @property
    def span(self) -> float:
        return self.high - self.low

    def contains(self, x: float) -> bool:
        return self.low <= x <= self.high


def zoom(window: Window | None, full: Window, centre: float, factor: float, smallest: float = 0.0) -> Window | None:
    """The window `factor` times narrower (wider for factor < 1), with `centre` staying where it
    is on screen (the pointer's x for the wheel, the cursor for keys); None is "everything"."""
    shown = window or full
    if full.span <= 0:
        return None
    span = shown.span / factor
    if span >= full.span:
        return None
    span = max(span, smallest, full.span * 1e-9)
    centre = min(max(centre, shown.low), shown.high)
    share = (centre - shown.low) / shown.span if shown.span > 0 else 0.5
    low = centre - share * span
    return _inside(Window(low, low + span), full)


def pan(window: Window | None, full: Window, fraction: float) -> Window | None:
    """The window moved by `fraction` of its width (negative: to the left), kept on the data."""
    if window is None:
        return None
    shift = window.span * fraction
    return _inside(Window(window.low + shift, window.high + shift), full)


def follow(window: Window | None, full: Window, x: float) -> Window | None:
    """The window moved just enough to show `x` (the cursor went past an edge)."""
    if window is None or window.contains(x):
        return window
    shift = x - window.high if x > window.high else x - window.low
    return _inside(Window(window.low + shift, window.high + shift), full)


def _inside(window: Window, full: Window) -> Window:
    if window.low < full.low:
        window = Window(full.low, full.low + window.span)
    if window.high > full.high:
        window = Window(max(full.low, full.high - window.span), full.high)
    return window


def smallest_span(indexes: list[XIndex]) -> float:
    """The narrowest window worth zooming to: about MIN_POINTS_SHOWN logged x values wide."""
    widths = []
    for index in indexes:
        if len(index) >= 2:
            widths.append((index.last - index.first) / (len(index) - 1) * (MIN_POINTS_SHOWN - 1))
    return min(widths) if widths else 0.0


# -- y: scales and clipping -------------------------------------------------------------------


def symlog_threshold(values: list[float]) -> float:
    """Where symlog turns from linear to logarithmic: a power of ten SYMLOG_DECADES below the
    largest |y|, so three decades read as a log scale and the values near zero stay apart."""
    largest = max((abs(v) for v in values if math.isfinite(v)), default=0.0)
    if largest == 0:
        return 1.0
    return 10.0 ** (math.floor(math.log10(largest)) - SYMLOG_DECADES)


def symlog(y: float, threshold: float) -> float:
    """sign(y) * log10(1 + |y| / threshold): log-like far from zero, linear near it, defined for
    negative values and zero (losses log-y can draw; rewards and gradients cross zero)."""
    return math.copysign(math.log10(1 + abs(y) / threshold), y)


def symlog_inverse(t: float, threshold: float) -> float:
    return math.copysign((10 ** abs(t) - 1) * threshold, t)


def percentile(values: list[float], share: float) -> float:
    """The `share` percentile (0-100) of `values`, interpolated between neighbours."""
    ordered = sorted(values)
    if not ordered:
        return math.nan
    rank = (len(ordered) - 1) * share / 100
    below = math.floor(rank)
    above = min(below + 1, len(ordered) - 1)
    return ordered[below] + (ordered[above] - ordered[below]) * (rank - below)


def clip_range(values: list[float], shares: tuple[float, float] = CLIP_PERCENTILES) -> tuple[float, float] | None:
    """The y range to show so that a few outliers do not flatten the curves: the percentiles of
    `values`, with a margin of a tenth. None when that would hide nothing."""
    finite = [v for v in values if math.isfinite(v)]
    if len(finite) < 3:
        return None
    low, high = percentile(finite, shares[0]), percentile(finite, shares[1])
    margin = (high - low) * 0.1 or abs(high) * 0.1 or 1.0
    low, high = low - margin, high + margin
    if low <= min(finite) and high >= max(finite):
        return None
    return low, high


def clamp(values: list[float], limits: tuple[float, float]) -> list[float]:
    """Values outside `limits` drawn on its edge: a clipped spike still shows where it is."""
    low, high = limits
    return [min(max(v, low), high) if math.isfinite(v) else v for v in values]


# -- many runs: density ----------------------------------------------------------------------


def density(curves: list[tuple[list[float], list[float]]], window: Window, y_range: tuple[float, float],
            columns: int, rows: int) -> list[list[int]]:
    """How many curves pass through each cell of a `rows` x `columns` grid over the window and
    y range (row 0 at the bottom). A curve counts once per cell; between two consecutive points
    it fills the cells of the line joining them, so a steep drop is one connected streak."""
    grid = [[0] * columns for _ in range(rows)]
    if columns <= 0 or rows <= 0 or window.span <= 0:
        return grid
    y_low, y_high = y_range
    y_span = (y_high - y_low) or 1.0

    def column(x: float) -> int:
        return min(columns - 1, max(0, int((x - window.low) / window.span * columns)))

    def row(y: float) -> int:
        return min(rows - 1, max(0, int((y - y_low) / y_span * rows)))

    for xs, ys in curves:
        seen: set[tuple[int, int]] = set()
        previous: tuple[int, int] | None = None
        for x, y in zip(xs, ys):
            if not (math.isfinite(x) and math.isfinite(y)) or x < window.low or x > window.high:
                previous = None
                continue
            here = (column(x), row(y))
            if previous is None:
                seen.add(here)
            else:
                _line(previous, here, seen)
            previous = here
        for c, r in seen:
            grid[r][c] += 1
    return grid


def _line(start: tuple[int, int], end: tuple[int, int], cells: set[tuple[int, int]]) -> None:
    """The cells between two cells: each column crossed gets the rows the line covers there."""
    (c0, r0), (c1, r1) = start, end
    if c0 == c1:
        for r in range(min(r0, r1), max(r0, r1) + 1):
            cells.add((c0, r))
        return
    step = 1 if c1 > c0 else -1
    count = abs(c1 - c0)
    for i in range(count + 1):
        # rows the line passes through in column c0 + i*step (half a column either side)
        a = r0 + (r1 - r0) * max(0.0, i - 0.5) / count
        b = r0 + (r1 - r0) * min(float(count), i + 0.5) / count
        for r in range(round(min(a, b)), round(max(a, b)) + 1):
            cells.add((c0 + i * step, r))


def density_levels(grid: list[list[int]], levels: int = len(DENSITY_GLYPHS)) -> list[list[tuple[int, int]]]:
    """The cells of each density level (the first: fewest curves); the last level holds the
    cells the most curves pass through, the others split the counts below evenly."""
    most = max((max(row) for row in grid), default=0)
    out: list[list[tuple[int, int]]] = [[] for _ in range(levels)]
    if most == 0:
        return out
    for r, line in enumerate(grid):
        for c, count in enumerate(line):
            if count:
                out[min(levels - 1, (count * levels - 1) // most)].append((c, r))
    return out
