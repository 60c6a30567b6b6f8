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
import time
from dataclasses import dataclass

from rich.text import Text
from textual import work
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.widgets import Static
from textual.worker import get_current_worker

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
    BINDINGS = [
        Binding("j,down", "scroll_down", "Down", show=False),
        Binding("k,up", "scroll_up", "Up", show=False),
        Binding("g,home", "scroll_home", "Top", show=False),
        Binding("G,end", "scroll_end", "Bottom", show=False),
    ]

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
        self.histories: dict[str, list[MetricPoint]] = {}  # system metric key -> its points (bounded)
        self.counts: dict[str, int] = {}  # system metric key -> how many points it has
        self._feeds: dict[str, PlotFeed] = {}  # filled by the reading worker only
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
            self.histories, self.counts, self._latest = {}, {}, None
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
        histories, counts = {}, {}
        for key in keys:
            feed = feeds.get(key)
            if feed is None:
                feed = feeds[key] = PlotFeed(store, run, key)
            feed.read(cancelled=lambda: worker.is_cancelled)
            if worker.is_cancelled:
                return
            histories[key], counts[key] = feed.points, feed.bounded.count
        self.app.call_from_thread(self._read_done, run.run_id, histories, counts)

    def _read_done(self, run_id: str, histories: dict[str, list[MetricPoint]], counts: dict[str, int]) -> None:
        if self.run is None or run_id != self.run.run_id:
            return  # another run is shown by now
        first = not self.histories  # the run's first read is drawn at once; growth at most 2 Hz
        self.histories.update(histories)
        self.counts.update(counts)
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
            points = self.histories.get(quantity.key)
            if peak:
                numbers = [p.value for p in points or [] if math.isfinite(p.value)]
                parts.append(amount(max(numbers), quantity.unit) if numbers else "-")
            else:  # the index's latest point: known before the history is read
                point = self.run.metrics.get(quantity.key) if self.run is not None else None
                parts.append(amount(point.value, quantity.unit) if point is not None else "-")
        return " ".join(parts)

    def _spark(self, line: Line, width: int) -> str:
        quantity = line.first
        points = self.histories.get(quantity.key)
        if not points:
            return "…"
        values = [p.value for p in points]
        if quantity.unit == "%":
            low, high = 0.0, 100.0
        else:
            numbers = [v for v in values if math.isfinite(v)]
            low, high = (min(0.0, min(numbers)), max(numbers)) if numbers else (0.0, 1.0)
        return sparkline(values, width, low, high)

    def _sampling(self, key: str) -> tuple[str, str]:
        """How many samples, and how often the run logged them: `  12 samples, every 10s`, and
        the same in short for a narrow pane, `  12 × 10s`."""
        points = self.histories.get(key)
        if not points:
            return "", ""
        count = self.counts.get(key, len(points))
        long = f"  {count:,} samples" if count != 1 else "  1 sample"
        short = f"  {count:,}"
        if count > 1:
            every = (points[-1].timestamp - points[0].timestamp) / (count - 1)
            if every > 0:
                period = format_duration(round(every / 1000) * 1000)
                long += f", every {period}"
                short += f" × {period}"
        return long, short
