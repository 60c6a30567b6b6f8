"""Metric curves in the terminal (plotext, braille), for one run or several marked runs overlaid.

plotext draws the whole figure as ANSI text; building it costs 10-40 ms, so the result is kept
as Strips and served line by line until the data, the size or an option changes. Histories are
cut to the plot's width first (min and max per bucket, see tuitrack.series), so a 100,000-point
history costs what a 300-point one does. plotext keeps one global figure: the widget builds it
on the UI thread only.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

import plotext
from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual.binding import Binding
from textual.message import Message
from textual.strip import Strip
from textual.widget import Widget

from tuitrack.app.widgets.band_plot import SPREAD_NAMES, SPREADS, group_bands
from tuitrack.model import MetricPoint
from tuitrack.safe_text import visible
from tuitrack.series import SMOOTHING, X_AXES, ZOOMS, Curve, PreparedSeries, downsample
from tuitrack.ticks import x_ticks, y_ticks

PALETTE = ["cyan", "orange", "green", "magenta", "yellow", "blue", "red", "white"]
RAW_COLOUR = "gray"
AXIS_LABELS = {"step": "step", "relative": "time since start", "wall": "wall time"}
# Without colour (NO_COLOR) every run gets its own marker, so that overlaid curves stay apart.
MARKERS = ["braille", "•", "+", "x", "*", "o", "#", "@"]
MARKER_GLYPHS = {"braille": "⣿"}
RICH_NAMES = {"orange": "dark_orange", "gray": "grey50"}  # plotext's colour names Rich spells otherwise


@dataclass
class PlotRun:
    """One run's part of the plot: its label, colour and the histories of the shown metrics."""

    run_id: str
    label: str
    colour: str
    start_ms: int | None
    histories: dict[str, list[MetricPoint]] = field(default_factory=dict)
    members: dict[str, list[list[MetricPoint]]] = field(default_factory=dict)  # a group's runs' histories


class MetricPlot(Widget, can_focus=True):
    HELP_TITLE = "Plot"  # its section of `?` help
    ALLOW_MAXIMIZE = True
    BINDINGS = [
        Binding("enter", "screen.open_plot", "Full screen", tooltip="Show the plot full screen (escape: back)"),
        Binding("escape", "screen.leave_full_screen", "Back", tooltip="Leave full screen"),
        Binding("m", "pick_metrics", "Metrics", tooltip="Choose the metrics to plot"),
        Binding("n", "next_metric(1)", "Next metric", show=False, tooltip="Plot the next metric"),
        Binding("N", "next_metric(-1)", "Previous metric", show=False, tooltip="Plot the previous metric"),
        Binding("x", "next_axis", "X axis", tooltip="x axis: step, time since start, wall time"),
        Binding("L", "toggle_log", "Log y", tooltip="Logarithmic y axis"),
        Binding("plus,equals_sign", "smoothing(1)", "Smooth+", tooltip="More smoothing (raw curve stays faint)"),
        Binding("minus", "smoothing(-1)", "Smooth-", show=False, tooltip="Less smoothing"),
        Binding("z", "next_zoom", "Zoom", tooltip="Zoom: all steps, the last 1,000, the last 100"),
        Binding("B", "next_band", "Band", show=False, tooltip="Groups of runs: min-max band or mean ±std band"),
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
        self.log_y = False
        self.smoothing = 0
        self.zoom = 0
        self.band = SPREADS[0]  # what a group's band spans (band_plot.py)
        self._data_version = 0
        self._cache_key: tuple | None = None
        self._strips: list[Strip] = []
        self.build_ms = 0.0
        self._redraw_timer = None
        self._last_redraw = 0.0
        self._prepared: dict[tuple[str, str], PreparedSeries] = {}
        self.progress = ""  # "reading loss… 43%" while histories are read

    # -- data ---------------------------------------------------------------------------------

    def set_runs(self, runs: list[PlotRun], available: list[str]) -> None:
        self.runs = runs
        shown = {r.run_id for r in runs}
        self._prepared = {k: v for k, v in self._prepared.items() if k[0] in shown}
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
        self.refresh()

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
        self.axis = X_AXES[(X_AXES.index(self.axis) + 1) % len(X_AXES)]
        self.refresh()  # the x label says which (and the title says smoothing and zoom)

    def action_toggle_log(self) -> None:
        self.log_y = not self.log_y
        self.refresh()

    def action_smoothing(self, step: int) -> None:
        self.smoothing = max(0, min(len(SMOOTHING) - 1, self.smoothing + step))
        self.refresh()

    def action_next_zoom(self) -> None:
        self.zoom = (self.zoom + 1) % len(ZOOMS)
        self.refresh()

    def action_next_band(self) -> None:
        self.band = SPREADS[(SPREADS.index(self.band) + 1) % len(SPREADS)]
        self.notify(f"Groups: {SPREAD_NAMES[self.band]}", timeout=2)
        self._data_version += 1  # drawn again (the band is not part of the cache key)
        self.refresh()

    # -- drawing ------------------------------------------------------------------------------

    def render_line(self, y: int) -> Strip:
        key = (self._data_version, self.size, tuple(self.metrics), self.axis, self.log_y,
               self.smoothing, self.zoom, self.app.theme)
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
        width, height = self.size
        if width < 10 or height < 4:
            return []
        if not self.runs or not self.metrics:
            message = "No metrics to plot" if self.runs else "Select a run (space marks several)"
            return [Strip([Segment(" " + message, self.rich_style)]).extend_cell_length(width, self.rich_style)]
        legend = self._legend(width) if len(self.runs) > 1 else None
        if legend is not None:
            height -= 1  # the legend's line, under the plot: plotext's would cover the curves' start
        start_figure(width, height)
        # As many metrics as fit: two columns from 70 cells wide, a row per 10 lines.
        cols = 2 if width >= 70 and len(self.metrics) > 1 else 1
        rows = max(1, min(height // 10, -(-len(self.metrics) // cols)))
        metrics = self.metrics[: rows * cols]
        grid = len(metrics) > 1
        if grid:
            plotext.subplots(rows, cols)
        for index, key in enumerate(metrics):
            if grid:
                plotext.subplot(index // cols + 1, index % cols + 1)
            hidden = len(self.metrics) - len(metrics) if index == 0 else 0
            self._plot_metric(key, buckets=max(20, width // cols - 12), hidden=hidden,
                              size=(width // cols, height // rows))
        strips = build_strips(self, width, height)
        return strips + [legend] if legend is not None else strips

    def _marker(self, index: int) -> str:
        return MARKERS[index % len(MARKERS)] if self.app.no_color else "braille"

    def _legend(self, width: int) -> Strip:
        """One line naming each plotted run in its colour, with its marker (a glyph that tells
        the runs apart without colour too)."""
        text = Text(no_wrap=True, overflow="ellipsis")
        for index, run in enumerate(self.runs):
            marker = self._marker(index)
            text.append(" " + MARKER_GLYPHS.get(marker, marker) + " ", style=Style(color=RICH_NAMES.get(run.colour, run.colour), bold=True))
            text.append(visible(run.label) + " ")
        segments = [Segment(s.text, self.rich_style + s.style) for s in text.render(self.app.console)]
        return Strip(segments).crop(0, width).extend_cell_length(width, self.rich_style)

    def _plot_metric(self, key: str, buckets: int, hidden: int = 0, size: tuple[int, int] = (80, 20)) -> None:
        strength = SMOOTHING[self.smoothing]
        last_steps = ZOOMS[self.zoom]
        # Groups of runs first: their bands go under every curve (band_plot.py).
        drew, low_x, high_x, low_y, high_y = group_bands(self, key, buckets)
        for index, run in enumerate(self.runs):
            if run.members:
                continue  # a group: drawn above
            points = run.histories.get(key, [])
            if not points:
                continue
            series = self._prepared.setdefault((run.run_id, key), PreparedSeries())
            series.update(points, self.axis, run.start_ms, strength)
            first = None if last_steps is None else max(p.step for p in points[-64:]) - last_steps + 1
            begin = series.window(first)
            xs = series.xs[begin:]
            marker = self._marker(index)
            if strength:
                raw = self._axis_curve(downsample(Curve(xs, series.ys[begin:]), buckets, self.log_y))
                if raw.xs:
                    plotext.plot(raw.xs, raw.ys, color=RAW_COLOUR, marker=marker)
            curve = self._axis_curve(downsample(Curve(xs, (series.smoothed if strength else series.ys)[begin:]),
                                                buckets, self.log_y))
            if curve.xs:
                plotext.plot(curve.xs, curve.ys, color=run.colour, marker=marker)
                drew = True
                low_x, high_x = min(low_x, min(curve.xs)), max(high_x, max(curve.xs))
                low_y, high_y = min(low_y, min(curve.ys)), max(high_y, max(curve.ys))
        if drew:  # round ticks and short labels, not plotext's (epoch seconds, 0.0000000008)
            columns, lines = size
            ticks, labels = x_ticks(self.axis, low_x, high_x, max(3, columns // 14))
            if ticks:
                plotext.xticks(ticks, labels)
            ticks, labels = y_ticks(low_y, high_y, max(3, lines // 4), log=self.log_y)
            if ticks:
                plotext.yticks(ticks, labels)
        title = visible(key)
        if len(self.runs) == 1:
            title += f" · {visible(self.runs[0].label)}"  # the run it is of (several: the legend)
        if any(r.members for r in self.runs):
            title += f"  {SPREAD_NAMES[self.band]}"  # which band the groups have
        if strength:
            title += f"  (smoothing {strength:g})"
        if ZOOMS[self.zoom] is not None:
            title += f"  last {ZOOMS[self.zoom]} steps"
        if hidden:
            title += f" +{hidden} more"
        if self.log_y:
            title += "  log y"
        plotext.title(title if drew else f"{visible(key)}: nothing to draw")
        plotext.xlabel(AXIS_LABELS[self.axis])


    def _axis_curve(self, curve: Curve) -> Curve:
        """On a log axis the plot draws log10 of the values (ticks say 1e-3): plotext's own log
        scale labels them 0.001000."""
        if not self.log_y:
            return curve
        return Curve(curve.xs, [math.log10(y) for y in curve.ys])


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
