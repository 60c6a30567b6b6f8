"""`3`: the selected run's system metrics (CPU, memory, each GPU, disk, network) as a compact
live panel: one line per quantity with a sparkline of its history, its last and its peak value.

MLflow logs these as ordinary metrics under `system/` (tuitrack.system_metrics reads the keys).
A quantity logged both as a share and as an amount (memory in % and in MB) is one line: the
sparkline draws the share, the values say both. Histories are read off the UI thread with the
plot's machinery (PlotFeed: in pieces, bounded memory, then only what was appended), so the
panel grows as the run logs; it is drawn again at most twice a second.
"""

from __future__ import annotations

import math
import threading
import time
from dataclasses import dataclass

from rich.text import Text
from textual import work
from textual.containers import VerticalScroll
from textual.widgets import Static
from textual.worker import get_current_worker

from tuitrack.app.widgets.run_detail import RunDetail
from tuitrack.formatting import format_duration, format_value, shown_name
from tuitrack.live.metric_reads import PlotFeed
from tuitrack.model import MetricPoint, Run
from tuitrack.safe_text import visible
from tuitrack.store import Store
from tuitrack.system_metrics import SystemQuantity, system_quantities

SPARKS = "▁▂▃▄▅▆▇█"
NO_SYSTEM_METRICS = (
    "No system metrics in this run.\n\n"
    "MLflow logs the machine's CPU, memory, GPU, disk and network use (as metrics under system/) "
    "when the training script calls mlflow.enable_system_metrics_logging() before it starts its run, "
    "or runs with MLFLOW_ENABLE_SYSTEM_METRICS_LOGGING=true. It needs psutil (pip install psutil), "
    "and pynvml for NVIDIA GPUs."
)


def sparkline(values: list[float], width: int, low: float, high: float) -> str:
    """`values` in at most `width` cells of ▁..█ between `low` and `high`: the highest value of
    each stretch (a short peak stays visible); a stretch with no number is blank."""
    if width <= 0 or not values:
        return ""
    count = len(values)
    cells = []
    for cell in range(min(width, count)):
        chunk = values[cell * count // min(width, count): (cell + 1) * count // min(width, count)]
        numbers = [v for v in chunk if math.isfinite(v)]
        if not numbers:
            cells.append(" ")
            continue
        top = max(numbers)
        share = 0.0 if high <= low else (min(max(top, low), high) - low) / (high - low)
        cells.append(SPARKS[min(len(SPARKS) - 1, int(share * len(SPARKS)))])
    return "".join(cells)


def amount(value: float, unit: str) -> str:
    """A value as the panel writes it: `38%`, `4.6%`, `9.1 GB` (MLflow's MB are 10^6 bytes), `215 W`."""
    if not math.isfinite(value):
        return "-"
    if unit == "%":
        return f"{value:.0f}%" if abs(value) >= 10 else f"{value:.1f}%"
    if unit in ("MB", "GB"):
        megabytes = value * 1000 if unit == "GB" else value
        for limit, name in ((1e6, "TB"), (1e3, "GB")):
            if abs(megabytes) >= limit:
                return f"{megabytes / limit:.1f} {name}"
        return f"{megabytes:.0f} MB" if abs(megabytes) >= 10 else f"{megabytes:.1f} MB"
    if unit == "W":
        return f"{value:.0f} W"
    return format_value(value, 4)


@dataclass(frozen=True, slots=True)
class Reading:
    """What the panel draws of one system metric, worked out on the reading thread (the UI
    thread only buckets `values` into a sparkline of the pane's width)."""

    values: list[float]  # the bounded history's values, in logged order
    peak: float  # the highest number of the whole history (NaN: none)
    count: int  # points in the whole history
    first_ms: int
    last_ms: int

    @classmethod
    def of(cls, points: list[MetricPoint], count: int) -> Reading:
        values = [p.value for p in points]
        numbers = [v for v in values if math.isfinite(v)]
        return cls(values, max(numbers) if numbers else math.nan, count,
                   points[0].timestamp if points else 0, points[-1].timestamp if points else 0)


@dataclass
class Line:
    """One line of the panel: a quantity, in one unit or two (the first is the one drawn)."""

    quantities: list[SystemQuantity]

    @property
    def first(self) -> SystemQuantity:
        return self.quantities[0]


def lines_of(quantities: list[SystemQuantity]) -> list[Line]:
    """The quantities (in system_quantities' order) with the units of one quantity on one line."""
    lines: list[Line] = []
    for quantity in quantities:
        last = lines[-1].first if lines else None
        if last is not None and (last.node, last.group, last.quantity) == (quantity.node, quantity.group, quantity.quantity):
            lines[-1].quantities.append(quantity)
        else:
            lines.append(Line([quantity]))
    return lines


class SystemView(VerticalScroll, can_focus=True):
    HELP_TITLE = "System metrics (3 shows them)"  # its section of `?` help
    BINDINGS = [b for b in RunDetail.BINDINGS if b.action.startswith("scroll_")]  # j k g G, as the detail

    DEFAULT_CSS = """
    SystemView {
        background: $surface;
        height: 1fr;
        padding: 0 1;
        & > Static { width: 1fr; }
    }
    """

    REDRAW_EVERY = 0.5  # seconds: a panel that grows is drawn again at most twice a second

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.run: Run | None = None
        self.loaded = False
        self.readings: dict[str, Reading] = {}  # system metric key -> what is drawn of it
        self._feeds: dict[str, PlotFeed] = {}  # filled by the reading worker only
        # A cancelled reader may still be in its last piece when the next starts: one at a time.
        self._reading = threading.Lock()
        self._latest: dict[str, MetricPoint] | None = None  # the system metrics' latest points when read
        self._redraw_timer = None
        self._last_redraw = 0.0

    def compose(self):
        yield Static()

    def on_resize(self) -> None:
        self._draw()

    # -- data -----------------------------------------------------------------------------------

    def show_run(self, store: Store, run: Run | None, loaded: bool = True) -> None:
        """Show `run`'s system metrics (again: a batch of points arrived); `loaded` is whether
        its metrics are read yet. The histories are read, or caught up, off the UI thread."""
        keys = [q.key for q in system_quantities(run.metrics)] if run is not None else []
        latest = {key: run.metrics[key] for key in keys}
        if run is None or self.run is None or run.run_id != self.run.run_id:
            self.readings, self._latest = {}, None
            self._feeds = {}
            self.workers.cancel_group(self, "system-read")
        elif latest == self._latest and loaded == self.loaded:
            renamed = shown_name(run) != shown_name(self.run)
            self.run = run
            if renamed:
                self._draw()
            return  # the run logged, but no system metric: nothing to read
        self.run, self.loaded, self._latest = run, loaded, latest
        if keys:
            self._read(store, run, keys, self._feeds)
        self._draw()

    @work(thread=True, exclusive=True, group="system-read", exit_on_error=False)
    def _read(self, store: Store, run: Run, keys: list[str], feeds: dict[str, PlotFeed]) -> None:
        worker = get_current_worker()
        readings = {}
        with self._reading:
            for key in keys:
                feed = feeds.get(key)
                if feed is None:
                    feed = feeds[key] = PlotFeed(store, run, key)
                feed.read(cancelled=lambda: worker.is_cancelled)
                if worker.is_cancelled:
                    return
                readings[key] = Reading.of(feed.points, feed.bounded.count)
        self.app.call_from_thread(self._read_done, run.run_id, readings)

    def _read_done(self, run_id: str, readings: dict[str, Reading]) -> None:
        if self.run is None or run_id != self.run.run_id:
            return  # another run is shown by now
        first = not self.readings  # the run's first read is drawn at once; growth at most 2 Hz
        self.readings.update(readings)
        wait = self.REDRAW_EVERY - (time.monotonic() - self._last_redraw)
        if first or wait <= 0:
            self._draw()
        elif self._redraw_timer is None:
            self._redraw_timer = self.set_timer(wait, self._draw)

    # -- drawing --------------------------------------------------------------------------------

    def _draw(self) -> None:
        self._redraw_timer = None
        self._last_redraw = time.monotonic()
        if not self.is_mounted:
            return
        self.query_one(Static).update(self._text(max(20, self.scrollable_content_region.width)))

    def _text(self, width: int) -> Text:
        run = self.run
        if run is None:
            return Text("Select a run to see the machine's CPU, memory, GPU, disk and network use", style="dim")
        quantities = system_quantities(run.metrics)
        if not quantities:
            return Text("Reading the run's metrics…" if not self.loaded else NO_SYSTEM_METRICS, style="dim")
        lines = lines_of(quantities)
        groups, names, lasts, peaks = zip(*self.cells(lines))
        group_w = max(map(len, groups))
        name_w = max(map(len, names))
        last_w = max(4, *map(len, lasts))
        peak_w = max(4, *map(len, peaks))
        spark_w = max(4, width - group_w - name_w - last_w - peak_w - 4)
        text = Text(no_wrap=True, overflow="ellipsis")
        room = group_w + name_w + spark_w + 2
        title = Text(f"System · {visible(shown_name(run))}", style="bold")
        long, short = self._sampling(lines[0].first.key)
        title.append(long if title.cell_len + len(long) <= room else short, style="dim")
        title.truncate(room, overflow="ellipsis", pad=True)
        text.append_text(title)
        text.append(" " + "last".rjust(last_w) + " " + "peak".rjust(peak_w) + "\n", style="bold")
        previous_group = None
        for line, group, name, last, peak in zip(lines, groups, names, lasts, peaks):
            shown_group = group if group != previous_group else ""
            previous_group = group
            text.append(shown_group.ljust(group_w) + " ", style="bold")
            text.append(name.ljust(name_w) + " ")
            text.append(self._spark(line, spark_w).ljust(spark_w) + " ", style="cyan")
            text.append(last.rjust(last_w) + " ")
            text.append(peak.rjust(peak_w) + "\n", style="dim")
        text.rstrip()
        return text

    def cells(self, lines: list[Line]) -> list[tuple[str, str, str, str]]:
        """Each line's group, quantity, last and peak, as the panel writes them."""
        return [(self._group_label(line.first), visible(line.first.quantity),
                 self._values(line, peak=False), self._values(line, peak=True)) for line in lines]

    @staticmethod
    def _group_label(quantity: SystemQuantity) -> str:
        return visible(f"{quantity.node} {quantity.group}" if quantity.node else quantity.group)

    def _values(self, line: Line, peak: bool) -> str:
        """The line's last (or peak) value in each of its units: `61% 9.1 GB`."""
        parts = []
        for quantity in line.quantities:
            if peak:
                reading = self.readings.get(quantity.key)
                parts.append(amount(reading.peak, quantity.unit) if reading is not None else "-")
            else:  # the index's latest point: known before the history is read
                point = self.run.metrics.get(quantity.key) if self.run is not None else None
                parts.append(amount(point.value, quantity.unit) if point is not None else "-")
        return " ".join(parts)

    def _spark(self, line: Line, width: int) -> str:
        quantity = line.first
        reading = self.readings.get(quantity.key)
        if reading is None or not reading.values:
            return "…"
        if quantity.unit == "%":
            low, high = 0.0, 100.0
        else:
            low, high = (min(0.0, reading.peak), reading.peak) if math.isfinite(reading.peak) else (0.0, 1.0)
        return sparkline(reading.values, width, low, high)

    def _sampling(self, key: str) -> tuple[str, str]:
        """How many samples, and how often the run logged them: `  12 samples, every 10s`, and
        the same in short for a narrow pane, `  12 × 10s`."""
        reading = self.readings.get(key)
        if reading is None or not reading.count:
            return "", ""
        count = reading.count
        long = f"  {count:,} samples" if count != 1 else "  1 sample"
        short = f"  {count:,}"
        if count > 1:
            every = (reading.last_ms - reading.first_ms) / (count - 1)
            if every > 0:
                period = format_duration(round(every / 1000) * 1000)
                long += f", every {period}"
                short += f" × {period}"
        return long, short
