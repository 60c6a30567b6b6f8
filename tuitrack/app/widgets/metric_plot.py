"""Metric curves in the terminal (plotext, braille), for one run or several marked runs overlaid.

plotext draws the whole figure as ANSI text; building it costs 10-40 ms, so the result is kept
as Strips and served line by line until the data, the size or an option changes. Histories are
cut to the plot's width first (min and max per bucket, see tuitrack.series), so a 100,000-point
history costs what a 300-point one does. plotext keeps one global figure: the widget builds it
on the UI thread only.

Reading values off the curves (tuitrack.plot_view computes, this draws): a cursor on logged
steps with a readout under the plot, zoom and pan of the x window (keys, wheel, drag), log x,
symlog y, outlier clipping and a density map for many runs. The curves cut to a window are kept
per window and option, and the cursor's line is drawn over the kept plot, so a cursor key costs
the readout's bisects, not a plotext build.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

import plotext
from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual import events
from textual.binding import Binding
from textual.message import Message
from textual.strip import Strip
from textual.widget import Widget

from tuitrack.app.widgets import plotext_speed
from tuitrack.app.widgets.band_plot import group_bands
from tuitrack.formatting import format_timestamp, format_value
from tuitrack.model import MetricPoint
from tuitrack.plot_view import (
    DENSITY_ABOVE,
    DENSITY_GLYPHS,
    JUMP_FRACTION,
    Extremes,
    PAN_FRACTION,
    WHEEL_FACTOR,
    Y_SCALES,
    Window,
    XIndex,
    clamp,
    clip_range,
    cursor_end,
    cursor_jump,
    cursor_snap,
    cursor_step,
    density,
    density_levels,
    follow,
    pan,
    percentile,
    smallest_span,
    symlog,
    symlog_inverse,
    symlog_threshold,
    zoom,
)
from tuitrack.safe_text import visible
from tuitrack.series import SMOOTHING, SPREAD_NAMES, SPREADS, X_AXES, Curve, PreparedSeries, downsample
from tuitrack.ticks import duration_label, log_ticks, number_label, symlog_ticks, x_ticks, y_ticks

PALETTE = ["cyan", "orange", "green", "magenta", "yellow", "blue", "red", "white"]
RAW_COLOUR = "gray"
AXIS_LABELS = {"step": "step", "relative": "time since start", "wall": "wall time"}
# Without colour (NO_COLOR) every run gets its own marker, so that overlaid curves stay apart.
MARKERS = ["braille", "•", "+", "x", "*", "o", "#", "@"]
MARKER_GLYPHS = {"braille": "⣿"}
CURSOR_COLOUR = "white"
DENSITY_COLOURS = ["blue", "cyan", "yellow", "red"]  # with DENSITY_GLYPHS: fewer to more runs in a cell
RICH_NAMES = {"orange": "dark_orange", "gray": "grey50"}  # plotext's colour names Rich spells otherwise

plotext_speed.install()  # one of plotext's inner loops, made faster (same results)


@dataclass
class PlotRun:
    """One run's part of the plot: its label, colour and the histories of the shown metrics."""

    run_id: str
    label: str
    colour: str
    start_ms: int | None
    histories: dict[str, list[MetricPoint]] = field(default_factory=dict)
    members: dict[str, list[list[MetricPoint]]] = field(default_factory=dict)  # a group's runs' histories


@dataclass
class Drawn:
    """One run's curve of one metric as drawn (x and y in drawn units: log10 on a log axis),
    kept until the data, the window or an option changes: moving the cursor reuses it."""

    index: int  # the run's place in the plot (its marker)
    run: PlotRun
    curve: Curve  # smoothed when smoothing is on
    raw: Curve | None  # the faint raw curve behind a smoothed one


@dataclass
class Shown:
    """What one build drew, for the mouse: the x window and where each plot's frame is."""

    window: Window | None = None
    frames: list[tuple[int, int, int, int]] = field(default_factory=list)  # left, right, top, bottom


class MetricPlot(Widget, can_focus=True):
    HELP_TITLE = "Plot"  # its section of `?` help
    ALLOW_MAXIMIZE = True
    BINDINGS = [
        Binding("enter", "screen.open_plot", "Full screen", id="plot-full-screen", tooltip="Show the plot full screen (escape: back)"),
        Binding("escape", "screen.leave_full_screen", "Back", tooltip="Leave full screen"),
        Binding("left,h", "cursor(-1)", "Cursor", id="plot-cursor-left", key_display="←→",
                tooltip="Move a cursor one logged step left or right (h l too); the line under the plot reads each "
                        "run's value there"),
        Binding("right,l", "cursor(1)", "Cursor right", id="plot-cursor-right", show=False, tooltip="Move the cursor one logged step right"),
        Binding("shift+left", "cursor_jump(-1)", "Cursor far left", id="plot-jump-left", show=False,
                tooltip="Move the cursor a tenth of the shown steps left"),
        Binding("shift+right", "cursor_jump(1)", "Cursor far right", id="plot-jump-right", show=False,
                tooltip="Move the cursor a tenth of the shown steps right"),
        Binding("home,g", "cursor_end(False)", "First step", id="plot-first-step", show=False, tooltip="Cursor to the first logged step"),
        Binding("end,G", "cursor_end(True)", "Last step", id="plot-last-step", show=False, tooltip="Cursor to the last logged step"),
        Binding("z", "zoom(2.0)", "Zoom", id="plot-zoom-in",
                tooltip="Zoom in: half the steps, around the cursor (no cursor: the newest steps); the wheel too"),
        Binding("Z", "zoom(0.5)", "Zoom out", id="plot-zoom-out", show=False, tooltip="Zoom out: twice the steps"),
        Binding("left_square_bracket", "pan(-1)", "Pan left", id="plot-pan-left", show=False,
                tooltip="Pan left by half the shown steps (or drag with the mouse)"),
        Binding("right_square_bracket", "pan(1)", "Pan right", id="plot-pan-right", show=False, tooltip="Pan right by half the shown steps"),
        Binding("0", "reset_view", "Reset", id="plot-reset", show=False, tooltip="All steps again, and no cursor"),
        Binding("m", "pick_metrics", "Metrics", id="plot-metrics", tooltip="Choose the metrics to plot"),
        Binding("n", "next_metric(1)", "Next metric", id="plot-next-metric", show=False, tooltip="Plot the next metric"),
        Binding("N", "next_metric(-1)", "Previous metric", id="plot-previous-metric", show=False, tooltip="Plot the previous metric"),
        Binding("x", "next_axis", "X axis", id="plot-x-axis", tooltip="x axis: step, time since start, wall time"),
        Binding("s", "toggle_log_x", "Log x", id="plot-log-x", show=False, tooltip="Logarithmic x axis (steps, time since start)"),
        Binding("L", "next_y_scale", "Log y", id="plot-y-scale",
                tooltip="y axis: logarithmic, then symlog (log either side of zero, for values crossing it), then linear"),
        Binding("o", "toggle_clip", "Clip", id="plot-clip", show=False,
                tooltip="Clip outliers: y shows the 1st to 99th percentile, a spike is drawn on the edge"),
        Binding("D", "toggle_density", "Density", id="plot-density", show=False,
                tooltip=f"Density map of the runs (on by itself above {DENSITY_ABOVE} runs) or their curves"),
        Binding("plus,equals_sign", "smoothing(1)", "Smooth+", id="plot-smooth-more", tooltip="More smoothing (raw curve stays faint)"),
        Binding("minus", "smoothing(-1)", "Smooth-", id="plot-smooth-less", show=False, tooltip="Less smoothing"),
        Binding("B", "next_band", "Band", id="plot-band", show=False, tooltip="Groups of runs: min-max band or mean ±std band"),
    ]

    DEFAULT_CSS = """
    MetricPlot { background: $surface; height: 1fr; }
    """

    class PickMetrics(Message):
        pass

    class MetricsWanted(Message):
        """The user chose other metrics: the screen loads their histories."""

        def __init__(self, metrics: list[str]) -> None:
            super().__init__()
            self.metrics = metrics

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.runs: list[PlotRun] = []
        self.available: list[str] = []  # metric keys the shown runs have
        self.metrics: list[str] = []  # the ones plotted
        self.axis = X_AXES[0]
        self.y_scale = Y_SCALES[0]
        self.log_x = False
        self.smoothing = 0
        self.cursor: float | None = None  # x (axis units) of the cursor, always a logged point's
        self.window: Window | None = None  # the x range shown (drawn units); None: every step
        self.clip = False
        self.density: bool | None = None  # None: a density map above DENSITY_ABOVE runs
        self.band = SPREADS[0]  # what a group's band spans (band_plot.py)
        self._data_version = 0
        self._cache_key: tuple | None = None
        self._strips: list[Strip] = []
        self.build_ms = 0.0
        self._redraw_timer = None
        self._last_redraw = 0.0
        self._prepared: dict[tuple[str, str], PreparedSeries] = {}
        self._indexes: dict[tuple[str, str], XIndex] = {}
        self._extremes: dict[tuple, tuple[list[float], int, Extremes]] = {}  # (run, metric, curve, log y)
        self._drawn: dict[tuple, list[Drawn]] = {}
        self._shown = Shown()
        self._plot_key: tuple | None = None
        self._plot_strips: list[Strip] = []
        self._drag: tuple[int, Window | None] | None = None  # where a mouse drag started, and the window then
        self._drag_moved = False
        self.progress = ""  # "reading loss… 43%" while histories are read

    @property
    def log_y(self) -> bool:
        return self.y_scale == "log"

    # -- data ---------------------------------------------------------------------------------

    def set_runs(self, runs: list[PlotRun], available: list[str]) -> None:
        self.runs = runs
        shown = {r.run_id for r in runs}
        self._prepared = {k: v for k, v in self._prepared.items() if k[0] in shown}
        self._indexes = {k: v for k, v in self._indexes.items() if k[0] in shown}
        self._extremes = {k: v for k, v in self._extremes.items() if k[0] in shown}
        self.available = available
        kept = [m for m in self.metrics if m in available]
        self.metrics = kept or ([default_metric(available)] if available else [])
        self._data_version += 1
        self.refresh()

    def show_progress(self, text: str) -> None:
        """Say how far the reading of histories is (on the top line; "" when done)."""
        if text != self.progress:
            self.progress = text
            self.refresh()

    REDRAW_EVERY = 0.5  # seconds: a plot that grows is redrawn at most twice a second

    def data_changed(self) -> None:
        """The histories in `runs` grew: draw again, at most every REDRAW_EVERY seconds."""
        if self._redraw_timer is not None:
            return  # a redraw is already on its way and will include this
        wait = self.REDRAW_EVERY - (time.monotonic() - self._last_redraw)
        if wait > 0:
            self._redraw_timer = self.set_timer(wait, self._redraw)
        else:
            self._redraw()

    def _redraw(self) -> None:
        self._redraw_timer = None
        self._last_redraw = time.monotonic()
        self._data_version += 1
        self._follow_growth()
        self.refresh()

    def _follow_growth(self) -> None:
        """While a run writes, a cursor on the newest step stays on the newest step, and a
        window that showed the newest steps slides along (as `z`'s "last N steps" did)."""
        if self.cursor is None and self.window is None:
            return
        shown = set(self._shown_metrics())
        before = [index for (_, key), index in self._indexes.items() if key in shown]  # not updated yet
        old_full, old_end = self._full(before), cursor_end(before, last=True)
        after = self._indexes_shown()
        full = self._full(after)
        if full is None:
            return
        if self.cursor is not None and self.cursor == old_end:
            self.cursor = cursor_end(after, last=True)
        if self.window is not None and old_full is not None and self.window.high >= old_full.high:
            self.window = Window(max(full.low, full.high - self.window.span), full.high)

    def _series(self, key: str) -> list[tuple[int, PlotRun, PreparedSeries, XIndex]]:
        """Each run's history of `key` as x/y lists for the current axis, with its x index."""
        strength = SMOOTHING[self.smoothing]
        out = []
        for index, run in enumerate(self.runs):
            points = run.histories.get(key, [])
            if not points:
                continue
            series = self._prepared.setdefault((run.run_id, key), PreparedSeries())
            series.update(points, self.axis, run.start_ms, strength)
            x_index = self._indexes.setdefault((run.run_id, key), XIndex())
            x_index.update(series.xs)
            out.append((index, run, series, x_index))
        return out

    def _shown_metrics(self) -> list[str]:
        """The metrics drawn (those the cursor keys move over)."""
        return self._layout(self.size.height - 1)[2]

    def _indexes_shown(self) -> list[XIndex]:
        return [entry[3] for key in self._shown_metrics() for entry in self._series(key)]

    # -- the x axis in drawn units (log10 on a log x axis) --------------------------------------

    @property
    def _x_log(self) -> bool:
        return self.log_x and self.axis != "wall"  # wall times are dates: a log of them means nothing

    def _drawn_x(self, x: float) -> float | None:
        if not self._x_log:
            return x
        return math.log10(x) if x > 0 else None

    def _axis_x(self, drawn: float) -> float:
        return 10.0 ** drawn if self._x_log else drawn

    def _full(self, indexes: list[XIndex]) -> Window | None:
        """Every logged x of the shown curves, in drawn units."""
        lows, highs = [], []
        for index in indexes:
            if not len(index):
                continue
            first = index.first if not self._x_log or index.first > 0 else index.above(0.0)
            if first is None:
                continue
            lows.append(self._drawn_x(first))
            highs.append(self._drawn_x(index.last))
        return Window(min(lows), max(highs)) if lows else None

    # -- options ------------------------------------------------------------------------------

    def action_pick_metrics(self) -> None:
        self.post_message(self.PickMetrics())

    def action_next_metric(self, step: int) -> None:
        if not self.available:
            return
        current = self.metrics[0] if self.metrics else self.available[0]
        index = (self.available.index(current) + step) % len(self.available) if current in self.available else 0
        self.post_message(self.MetricsWanted([self.available[index]]))

    def action_next_axis(self) -> None:
        """Another x axis: every step shows again, the cursor stays on the same logged point."""
        reference = self._reference()
        self.axis = X_AXES[(X_AXES.index(self.axis) + 1) % len(X_AXES)]
        self.window = None
        if reference is not None:
            series, at = reference
            series.update(series.source, self.axis, series.start_ms, series.strength)
            self.cursor = series.xs[at] if at < len(series.xs) else None
        self.refresh()  # the x label says which (and the title says smoothing and zoom)

    def _reference(self) -> tuple[PreparedSeries, int] | None:
        """The first plotted series and the logged index of the cursor's point in it."""
        if self.cursor is None:
            return None
        for key in self._shown_metrics():
            for _, run, series, index in self._series(key):
                at = index.nearest(self.cursor)
                if at is not None:
                    return series, at
        return None

    def action_toggle_log_x(self) -> None:
        self.log_x = not self.log_x
        self.window = None
        self.refresh()

    def action_next_y_scale(self) -> None:
        self.y_scale = Y_SCALES[(Y_SCALES.index(self.y_scale) + 1) % len(Y_SCALES)]
        self.refresh()

    def action_toggle_clip(self) -> None:
        self.clip = not self.clip
        self.refresh()

    def action_toggle_density(self) -> None:
        self.density = not self._density_on()
        self.refresh()

    def _density_on(self) -> bool:
        return self.density if self.density is not None else len(self.runs) > DENSITY_ABOVE

    def action_smoothing(self, step: int) -> None:
        self.smoothing = max(0, min(len(SMOOTHING) - 1, self.smoothing + step))
        self.refresh()

    # -- the cursor, zoom and pan -----------------------------------------------------------------

    def action_cursor(self, step: int) -> None:
        indexes = self._indexes_shown()
        if not indexes:
            return
        if self.cursor is None:
            self.cursor = self._first_cursor(indexes)
        else:
            moved = cursor_step(indexes, self.cursor, step)
            if moved is not None:
                self.cursor = moved
        self._cursor_moved(indexes)

    def action_cursor_jump(self, direction: int) -> None:
        indexes = self._indexes_shown()
        full = self._full(indexes)
        if full is None:
            return
        if self.cursor is None:
            self.cursor = self._first_cursor(indexes)
        else:
            shown = self.window or full
            here = self._drawn_x(self.cursor)
            here = shown.low if here is None else here
            target = self._axis_x(here + direction * JUMP_FRACTION * shown.span)
            moved = cursor_jump(indexes, self.cursor, target - self.cursor)
            if moved is not None:
                self.cursor = moved
        self._cursor_moved(indexes)

    def action_cursor_end(self, last: bool) -> None:
        indexes = self._indexes_shown()
        self.cursor = cursor_end(indexes, last)
        if self.cursor is not None and self._x_log and self.cursor <= 0:
            self.cursor = cursor_step(indexes, 0.0, 1)  # the first point a log axis can draw
        self._cursor_moved(indexes)

    def _first_cursor(self, indexes: list[XIndex]) -> float | None:
        """Where the cursor appears: on the newest point shown."""
        if self.window is None:
            return cursor_end(indexes, last=True)
        return cursor_snap(indexes, self._axis_x(self.window.high))

    def _cursor_moved(self, indexes: list[XIndex]) -> None:
        """The window follows a cursor that leaves it."""
        full = self._full(indexes)
        at = self._drawn_x(self.cursor) if self.cursor is not None else None
        if full is not None and at is not None:
            self.window = follow(self.window, full, at)
        self.refresh()

    def action_zoom(self, factor: float, centre: float | None = None) -> None:
        """Zoom around `centre` (drawn units), else the cursor, else the newest steps."""
        indexes = self._indexes_shown()
        full = self._full(indexes)
        if full is None:
            return
        if centre is None:
            at = self._drawn_x(self.cursor) if self.cursor is not None else None
            centre = at if at is not None else (self.window or full).high
        smallest = 0.0 if self._x_log else smallest_span(indexes)
        self.window = zoom(self.window, full, centre, factor, smallest)
        self.refresh()

    def action_pan(self, direction: int) -> None:
        self._pan_to(pan(self.window, self._full(self._indexes_shown()) or Window(0, 0), direction * PAN_FRACTION))

    def _pan_to(self, window: Window | None) -> None:
        """Show `window`; a cursor it leaves behind comes to its nearest logged point inside."""
        self.window = window
        if window is not None and self.cursor is not None:
            at = self._drawn_x(self.cursor)
            if at is None or not window.contains(at):
                inside = min(max(window.low if at is None else at, window.low), window.high)
                self.cursor = cursor_snap(self._indexes_shown(), self._axis_x(inside))
        self.refresh()

    def action_reset_view(self) -> None:
        self.window = None
        self.cursor = None
        self.refresh()

    # -- the mouse: the wheel zooms, a drag pans, a click puts the cursor ---------------------------

    def _x_at(self, column: int, row: int) -> float | None:
        """The x (drawn units) under a cell of the widget, if it is inside a plot's frame."""
        window = self._shown.window
        for left, right, top, bottom in self._shown.frames:
            if left < column < right and top < row < bottom and window is not None and right - left > 2:
                return window.low + (column - left - 1) / (right - left - 2) * window.span
        return None

    def on_mouse_scroll_up(self, event: events.MouseScrollUp) -> None:
        self._wheel(event, WHEEL_FACTOR)

    def on_mouse_scroll_down(self, event: events.MouseScrollDown) -> None:
        self._wheel(event, 1 / WHEEL_FACTOR)

    def _wheel(self, event: events.MouseEvent, factor: float) -> None:
        event.stop()
        at = self._x_at(event.x, event.y)
        if at is not None:
            self.action_zoom(factor, at)

    def on_mouse_down(self, event: events.MouseDown) -> None:
        if event.button == 1 and self._x_at(event.x, event.y) is not None:
            self._drag = (event.x, self.window) if self.window is not None else (event.x, None)
            self._drag_moved = False
            self.capture_mouse()

    def on_mouse_move(self, event: events.MouseMove) -> None:
        if self._drag is None or not event.button:
            return
        start, window = self._drag
        frame = next((f for f in self._shown.frames if f[0] < start < f[1]), None)
        if window is None or frame is None or event.x == start:
            return
        self._drag_moved = True
        shift = (start - event.x) / max(1, frame[1] - frame[0] - 2) * window.span
        full = self._full(self._indexes_shown())
        if full is not None:
            self._pan_to(pan(window, full, shift / window.span))

    def on_mouse_up(self, event: events.MouseUp) -> None:
        if self._drag is None:
            return
        self._drag = None
        self.release_mouse()
        if not self._drag_moved:
            at = self._x_at(event.x, event.y)
            if at is not None:
                indexes = self._indexes_shown()
                self.cursor = cursor_snap(indexes, self._axis_x(at))
                self._cursor_moved(indexes)

    def action_next_band(self) -> None:
        self.band = SPREADS[(SPREADS.index(self.band) + 1) % len(SPREADS)]
        self.notify(f"Groups: {SPREAD_NAMES[self.band]}", timeout=2)
        self._data_version += 1  # drawn again (the band is not part of the cache key)
        self.refresh()

    # -- drawing ------------------------------------------------------------------------------

    def render_line(self, y: int) -> Strip:
        key = (self._data_version, self.size, tuple(self.metrics), self.axis, self.y_scale, self.log_x,
               self.smoothing, self.cursor, self.window, self.clip, self.density, self.app.theme)
        if key != self._cache_key:
            started = time.perf_counter()
            self._strips = self._build()
            self.build_ms = (time.perf_counter() - started) * 1000
            self._cache_key = key
        if y == 0 and self.progress:
            note = Strip([Segment(" " + self.progress, self.rich_style + Style(italic=True))])
            return note.extend_cell_length(self.size.width, self.rich_style).crop(0, self.size.width)
        if y < len(self._strips):
            return self._strips[y]
        return Strip.blank(self.size.width, self.rich_style)

    def _build(self) -> list[Strip]:
        """The curves (kept while only the cursor moves), the cursor's line over them, and the
        readout or the legend under them."""
        width, height = self.size
        if width < 10 or height < 4:
            self._shown = Shown()
            return []
        if not self.runs or not self.metrics:
            self._shown = Shown()
            message = "No metrics to plot" if self.runs else "Select a run (space marks several)"
            return [Strip([Segment(" " + message, self.rich_style)]).extend_cell_length(width, self.rich_style)]
        if self.cursor is not None:
            below = self._readout(self._layout(height - 1)[2], width, max(1, min(4, height // 5)))
        else:
            below = [self._legend(width)] if len(self.runs) > 1 else []  # plotext's would cover the curves' start
        plot_key = (self._data_version, self.size, tuple(self.metrics), self.axis, self.y_scale, self.log_x,
                    self.smoothing, self.window, self.clip, self.density, self.app.theme, len(below))
        if plot_key != self._plot_key:
            self._plot_strips = self._build_plot(width, height - len(below))
            self._plot_key = plot_key
        return self._cursor_line(self._plot_strips) + below

    def _layout(self, height: int) -> tuple[int, int, list[str]]:
        """Columns, rows and the metrics drawn: as many as fit (two columns from 70 cells wide,
        a row per 10 lines)."""
        width = self.size.width
        cols = 2 if width >= 70 and len(self.metrics) > 1 else 1
        rows = max(1, min(height // 10, -(-len(self.metrics) // cols)))
        return cols, rows, self.metrics[: rows * cols]

    def _build_plot(self, width: int, height: int) -> list[Strip]:
        if len(self._drawn) > 64:
            self._drawn.clear()  # curves of windows and options left behind
        cols, rows, metrics = self._layout(height)
        start_figure(width, height)
        grid = len(metrics) > 1
        if grid:
            plotext.subplots(rows, cols)
        self._shown = Shown(window=self.window or self._full(self._indexes_shown()))
        for index, key in enumerate(metrics):
            if grid:
                plotext.subplot(index // cols + 1, index % cols + 1)
            hidden = len(self.metrics) - len(metrics) if index == 0 else 0
            self._plot_metric(key, buckets=max(20, width // cols - 12), hidden=hidden,
                              size=(width // cols, height // rows))
        strips = build_strips(self, width, height)
        self._shown.frames = plot_frames(strips)
        return strips

    def _cursor_column(self, frame: tuple[int, int, int, int]) -> int | None:
        """The cell column of the cursor inside a plot's frame (the inverse of `_x_at`)."""
        window = self._shown.window
        at = self._drawn_x(self.cursor) if self.cursor is not None else None
        left, right, _, _ = frame
        if at is None or window is None or not window.contains(at) or right - left <= 2:
            return None
        share = (at - window.low) / window.span if window.span > 0 else 0.0
        return left + 1 + round(share * (right - left - 2))

    def _cursor_line(self, strips: list[Strip]) -> list[Strip]:
        """The cursor as a vertical line over the curves, in every plot of the grid: drawn in the
        empty cells only, so the curves stay whole. Drawn here, not by plotext, so that moving
        the cursor does not draw the curves again."""
        if self.cursor is None:
            return strips
        out = list(strips)
        style = self.rich_style + Style(color=RICH_NAMES.get(CURSOR_COLOUR, CURSOR_COLOUR), dim=True)
        for frame in self._shown.frames:
            column = self._cursor_column(frame)
            if column is None:
                continue
            _, _, top, bottom = frame
            for y in range(top + 1, min(bottom, len(out))):
                strip = out[y]
                if strip.text[column:column + 1] == " ":
                    out[y] = Strip.join([strip.crop(0, column), Strip([Segment("│", style)]),
                                         strip.crop(column + 1, strip.cell_length)])
        return out

    def _marker(self, index: int) -> str:
        return MARKERS[index % len(MARKERS)] if self.app.no_color else "braille"

    def _run_glyph(self, index: int, run: PlotRun, pad: str = "") -> Text:
        """The run's marker in its colour: tells the runs apart with colour and without."""
        marker = self._marker(index)
        return Text(pad + MARKER_GLYPHS.get(marker, marker) + pad,
                    style=Style(color=RICH_NAMES.get(run.colour, run.colour), bold=True))

    def _legend(self, width: int) -> Strip:
        """One line naming each plotted run in its colour, with its marker (a glyph that tells
        the runs apart without colour too). Runs that do not fit are counted: `+3 more`."""
        text = Text(no_wrap=True)
        for index, run in enumerate(self.runs):
            piece = Text.assemble(self._run_glyph(index, run, pad=" "), visible(run.label) + " ")
            after = len(self.runs) - index - 1
            if text.cell_len + piece.cell_len + (len(f"+{after} more") if after else 0) > width:
                text.append(f"+{after + 1} more", style="dim")
                break
            text.append_text(piece)
        return self._line(text, width)

    def _line(self, text: Text, width: int) -> Strip:
        segments = [Segment(s.text, self.rich_style + s.style) for s in text.render(self.app.console)]
        return Strip(segments).crop(0, width).extend_cell_length(width, self.rich_style)

    def _readout(self, metrics: list[str], width: int, most_lines: int) -> list[Strip]:
        """The line(s) under the plot: the cursor's step and wall time, then each run's logged
        value there (the nearest logged point's, exactly as logged), its smoothed value, and the
        step of that point when it is not the cursor's. Above DENSITY_ABOVE runs: the spread.
        Where that does not fit, names go first (the markers still tell the runs apart), then
        digits past the sixth."""
        strength = SMOOTHING[self.smoothing]
        header = None
        readings: dict[str, list] = {}
        for key in metrics:
            readings[key] = []
            for index, run, series, x_index in self._series(key):
                at = x_index.nearest(self.cursor)
                if at is None:
                    continue
                point = series.source[at]
                readings[key].append((index, run, point, series.smoothed[at] if strength else None))
                if header is None or (series.xs[at] == self.cursor and header[1] != self.cursor):
                    header = (point, series.xs[at])
        if header is None:
            return [self._line(Text(" no logged point here"), width)]
        step = header[0].step
        title = Text(f"step {step:,}  {wall_time(header[0].timestamp)}", style="bold reverse")
        for names, digits in ((True, None), (False, None), (False, 6)):
            pieces = [title]
            for key, found in readings.items():
                if len(metrics) > 1:
                    pieces.append(Text(visible(key) + ":", style="bold"))
                if self._density_on() and len(found) > 2:
                    pieces.extend(self._spread(found))
                    continue
                for index, run, point, smoothed in found:
                    piece = self._run_glyph(index, run)
                    if names:
                        piece.append(" " + visible(run.label))
                    piece.append(" " + (exact(point.value) if digits is None else format_value(point.value, digits)))
                    if smoothed is not None:
                        piece.append(f" ~{format_value(smoothed)}", style="italic")
                    if point.step != step:
                        piece.append(f" @{point.step:,}", style="dim")
                    pieces.append(piece)
            lines = pack(pieces, width, most_lines)
            if not lines[-1].plain.endswith("…"):
                break
        return [self._line(line, width) for line in lines]

    def _spread(self, readings) -> list[Text]:
        """Many runs at the cursor: how many, the lowest, the median and the highest (named)."""
        values = sorted((point.value, index, run) for index, run, point, _ in readings if math.isfinite(point.value))
        if not values:
            return [Text(f"{len(readings)} runs, no number")]
        low, high = values[0], values[-1]
        median = percentile([v for v, _, _ in values], 50)
        out = [Text(f"{len(readings)} runs"), Text(f"median {format_value(median)}")]
        for label, (value, index, run) in (("min", low), ("max", high)):
            piece = Text(f"{label} {exact(value)} ")
            piece.append_text(self._run_glyph(index, run))
            piece.append(" " + visible(run.label))
            out.append(piece)
        return out

    def _curves(self, key: str, entries, buckets: int, window: Window | None) -> tuple[list[Drawn], float]:
        """The curves of `key` inside the window, cut to `buckets`, in drawn units; cached per
        window and option, so a cursor move redraws without touching the histories. Also the
        symlog threshold they were drawn with."""
        strength = SMOOTHING[self.smoothing]
        cache_key = (key, self._data_version, self.axis, self._x_log, window, buckets, strength, self.y_scale,
                     tuple((run.run_id, len(series.xs)) for _, run, series, _ in entries))
        cached = self._drawn.get(cache_key)
        if cached is not None:
            return cached
        low, high = ((self._axis_x(window.low), self._axis_x(window.high)) if window is not None
                     else (-math.inf, math.inf))
        cut = []
        for index, run, series, x_index in entries:
            begin, end = x_index.span(low, high)
            raw = self._cut(run, key, "raw", series.ys, x_index, begin, end, buckets)
            smoothed = self._cut(run, key, "smoothed", series.smoothed, x_index, begin, end, buckets) if strength else None
            cut.append((index, run, raw, smoothed))
        threshold = symlog_threshold([y for *_, raw, smoothed in cut for y in (smoothed or raw).ys])
        drawn = []
        for index, run, raw, smoothed in cut:
            curve = self._to_drawn(smoothed or raw, threshold)
            if curve.xs:
                drawn.append(Drawn(index, run, curve, self._to_drawn(raw, threshold) if smoothed else None))
        self._drawn[cache_key] = (drawn, threshold)
        return drawn, threshold

    def _cut(self, run: PlotRun, key: str, which: str, ys: list[float], x_index: XIndex, begin: int, end: int,
             buckets: int) -> Curve:
        """The values at sorted positions [begin, end) cut to about 2 x `buckets` points. A
        zoomed-in window is cut from the history's Extremes (made once per change of the data),
        so zooming and panning cost the same on 100,000 points as on 1,000; all of a history is
        cut by a scan, as a growing run's plot always was (no Extremes to make on every point)."""
        log_y = self.y_scale == "log"
        if self.window is None or end - begin <= 2 * buckets:
            xs, values = x_index.values(ys, begin, end)
            return downsample(Curve(xs, values), buckets, log_y)
        made = self._extremes.get((run.run_id, key, which, log_y))
        if made is None or made[0] is not ys or made[1] != len(ys):
            in_order = x_index.values(ys, 0, len(ys))[1]
            made = (ys, len(ys), Extremes(in_order, log_y))
            self._extremes[(run.run_id, key, which, log_y)] = made
        return Curve(*made[2].cut(x_index.keys, begin, end, buckets))

    def _to_drawn(self, curve: Curve, threshold: float) -> Curve:
        """On log axes the plot draws log10 of the values (the ticks say 1e-3: plotext's own log
        scale labels them 0.001000); symlog draws sign * log10(1 + |y| / threshold)."""
        xs, ys = curve.xs, curve.ys
        if self._x_log:
            keep = [i for i, x in enumerate(xs) if x > 0]
            xs, ys = [math.log10(xs[i]) for i in keep], [ys[i] for i in keep]
        if self.y_scale == "log":
            ys = [math.log10(y) for y in ys]
        elif self.y_scale == "symlog":
            ys = [symlog(y, threshold) for y in ys]
        return Curve(xs, ys)

    def _plot_metric(self, key: str, buckets: int, hidden: int = 0, size: tuple[int, int] = (80, 20)) -> None:
        """Draw one metric's curves (of every plotted run) in the current plotext plot."""
        strength = SMOOTHING[self.smoothing]
        window = self._shown.window
        entries = self._series(key)
        drawn, threshold = self._curves(key, entries, buckets, self.window)
        # Groups of runs first: their bands go under every curve (band_plot.py).
        steps = (self._axis_x(window.low), self._axis_x(window.high)) if self.window is not None else None
        grouped = group_bands(self, key, buckets, steps, lambda curve: self._to_drawn(curve, threshold))
        limits = clip_range([y for d in drawn for y in d.curve.ys]) if self.clip else None
        density_on = self._density_on()
        if density_on:
            self._plot_density(drawn, window, limits, size)
        for d in drawn if not density_on else []:
            marker = self._marker(d.index)
            if d.raw is not None:
                plotext.plot(d.raw.xs, clamp(d.raw.ys, limits) if limits else d.raw.ys, color=RAW_COLOUR, marker=marker)
            plotext.plot(d.curve.xs, clamp(d.curve.ys, limits) if limits else d.curve.ys, color=d.run.colour, marker=marker)
        if drawn or grouped:  # round ticks and short labels, not plotext's (epoch seconds, 0.0000000008)
            if window is not None and window.span > 0:
                plotext.xlim(window.low, window.high)
            lows = [min(d.curve.ys) for d in drawn] + ([grouped[0]] if grouped else [])
            highs = [max(d.curve.ys) for d in drawn] + ([grouped[1]] if grouped else [])
            low_y = limits[0] if limits else min(lows)
            high_y = limits[1] if limits else max(highs)
            if limits:
                plotext.ylim(low_y, high_y)
            if window is None and grouped:  # groups alone: round ticks over the steps they span
                window = Window(grouped[2], grouped[3])
            self._ticks(window, low_y, high_y, threshold, size)
        plotext.title(self._title(key, hidden, strength, len(drawn)) if drawn or grouped
                      else f"{visible(key)}: nothing to draw")
        plotext.xlabel(AXIS_LABELS[self.axis] + (" (log)" if self._x_log else ""))

    def _ticks(self, window: Window | None, low_y: float, high_y: float, threshold: float,
               size: tuple[int, int]) -> None:
        columns, lines = size
        if window is not None:
            if self._x_log:
                label = number_label if self.axis == "step" else duration_label
                ticks, labels = log_ticks(window.low, window.high, label)
            else:
                ticks, labels = x_ticks(self.axis, window.low, window.high, max(3, columns // 14))
            if ticks:
                plotext.xticks(ticks, labels)
        if self.y_scale == "symlog":
            values = symlog_ticks(symlog_inverse(low_y, threshold), symlog_inverse(high_y, threshold), threshold)
            ticks, labels = [symlog(v, threshold) for v in values], [number_label(v) for v in values]
        else:
            ticks, labels = y_ticks(low_y, high_y, max(3, lines // 4), log=self.y_scale == "log")
        if ticks:
            plotext.yticks(ticks, labels)

    def _title(self, key: str, hidden: int, strength: float, drawn: int) -> str:
        title = visible(key)
        if len(self.runs) == 1:
            title += f" · {visible(self.runs[0].label)}"  # the run it is of (several: the legend)
        if any(r.members for r in self.runs):
            title += f"  {SPREAD_NAMES[self.band]}"  # which band the groups have
        if strength:
            title += f"  (smoothing {strength:g})"
        if self.window is not None:
            low, high = self._axis_x(self.window.low), self._axis_x(self.window.high)
            title += f"  steps {math.ceil(low):,}-{math.floor(high):,}" if self.axis == "step" else "  zoomed"
        if hidden:
            title += f" +{hidden} more"
        if self.y_scale != "linear":
            title += f"  {self.y_scale} y"
        if self.clip:
            title += "  clipped y"
        if self._density_on():
            title += f"  density of {drawn} run" + ("" if drawn == 1 else "s")
        return title

    def _plot_density(self, drawn: list[Drawn], window: Window | None, limits, size: tuple[int, int]) -> None:
        """Many runs as a density map: each cell shaded by how many runs' curves cross it, so 50
        overlaid runs read as a band with its core, not a tangle (the glyphs read without colour)."""
        if not drawn or window is None or window.span <= 0:
            return
        ys = [y for d in drawn for y in d.curve.ys]
        low, high = limits if limits else (min(ys), max(ys))
        if high <= low:
            low, high = low - 0.5, high + 0.5
        # About the cells inside the frame (plotext's margins depend on its labels); rather more
        # than fewer, so that no row or column of cells is left empty between two drawn ones.
        columns, rows = max(4, size[0] - 8), max(2, size[1] - 5)
        plotext.ylim(low, high)
        curves = [(d.curve.xs, clamp(d.curve.ys, (low, high))) for d in drawn]
        levels = density_levels(density(curves, window, (low, high), columns, rows))
        for level, cells in enumerate(levels):
            if cells:
                plotext.scatter([window.low + (c + 0.5) * window.span / columns for c, _ in cells],
                                [low + (r + 0.5) * (high - low) / rows for _, r in cells],
                                marker=DENSITY_GLYPHS[level], color=DENSITY_COLOURS[level])


def wall_time(ms: int) -> str:
    """When a point was logged, short enough for the readout at 80 columns: `11-17 00:42:00`."""
    return format_timestamp(ms)[5:] if len(format_timestamp(ms)) == 19 else format_timestamp(ms)


def exact(value: float) -> str:
    """A logged value as logged: the shortest text that reads back as the same float."""
    if not math.isfinite(value) or (value == int(value) and abs(value) < 1e15):
        return format_value(value)
    return repr(value)


def pack(pieces: list[Text], width: int, most_lines: int) -> list[Text]:
    """Pieces on lines of `width`, a piece never split; what does not fit on `most_lines` is
    cut, the last line ending in an ellipsis."""
    lines: list[Text] = [Text(no_wrap=True, overflow="ellipsis")]
    for piece in pieces:
        line = lines[-1]
        if line.cell_len and line.cell_len + 2 + piece.cell_len > width:
            if len(lines) == most_lines:
                line.append(" …")
                break
            lines.append(Text(no_wrap=True, overflow="ellipsis"))
            line = lines[-1]
        line.append(" " if not line.cell_len else "  ")
        line.append_text(piece)
    return lines


def plot_frames(strips: list[Strip]) -> list[tuple[int, int, int, int]]:
    """Where plotext drew each plot's frame (left, right, top, bottom cells): `┌` to `┐` on top,
    down to the `└` under the `┌`."""
    lines = [strip.text for strip in strips]
    frames = []
    for top, line in enumerate(lines):
        left = line.find("┌")
        while left != -1:
            right = line.find("┐", left)
            if right == -1:
                break
            bottom = next((y for y in range(top + 1, len(lines)) if lines[y][left:left + 1] == "└"), len(lines) - 1)
            frames.append((left, right, top, bottom))
            left = line.find("┌", right)
    return frames


def start_figure(width: int, height: int) -> None:
    """A clean plotext figure of this size (plotext keeps one global figure)."""
    plotext.main()  # leave any subplot the previous build selected, or grids nest
    plotext.clear_figure()
    plotext.theme("clear")
    plotext.plotsize(width, height)


def build_strips(widget: Widget, width: int, height: int) -> list[Strip]:
    """plotext's figure as Strips in the widget's style; a plotting error becomes a message."""
    base = widget.rich_style
    try:
        text = Text.from_ansi(plotext.build())
    except Exception as exc:  # a plotting bug must not take the app down
        message = f" cannot draw this plot: {type(exc).__name__}: {visible(str(exc))}"
        return [Strip([Segment(message, base)]).extend_cell_length(width, base)]
    strips = []
    for line in text.split("\n", allow_blank=True)[:height]:
        segments = [Segment(s.text, base + s.style if s.style else base) for s in line.render(widget.app.console)]
        strips.append(Strip(segments).extend_cell_length(width, base))
    return strips


def default_metric(keys: list[str]) -> str:
    """The metric people look at first: a loss if there is one."""
    for wanted in ("loss", "train/loss", "val/loss", "train_loss", "val_loss"):
        if wanted in keys:
            return wanted
    return next((k for k in keys if "loss" in k), keys[0])
