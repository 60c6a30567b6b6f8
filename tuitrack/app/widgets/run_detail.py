"""The detail pane: everything about one run, and what is wrong with it if anything is.

A run may hold 100,000 metrics or params: each section shows its first DETAIL_ROWS keys (in
order) and says how many more there are; `+` shows more. So drawing a run costs the same
whatever it holds, and keys keep answering.
"""

from __future__ import annotations

import heapq
import time
from collections.abc import Callable

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.message import Message
from textual.widgets import Static

from tuitrack.app.status_look import glyph
from tuitrack.app.store_text import store_markdown, store_text
from tuitrack.formatting import format_bytes, format_value, run_overview, shown_name
from tuitrack.model import Experiment, MetricSummary, Problem, Run, fold_latest
from tuitrack.safe_text import visible


DETAIL_ROWS = 100  # rows per section at first; `+` adds as many again
MAX_PROBLEMS = 20  # problems listed; the rest are counted


def first_keys(values: dict, count: int) -> list[str]:
    """The first `count` keys of `values` in sorted order, without sorting 100,000 of them."""
    if len(values) <= count:
        return sorted(values)
    return heapq.nsmallest(count, values)


class RunDetail(VerticalScroll, can_focus=True):
    HELP_TITLE = "Run detail"  # its section of `?` help
    ALLOW_MAXIMIZE = True  # enter shows a run full screen; escape comes back
    BINDINGS = [
        Binding("escape", "screen.leave_full_screen", "Back", tooltip="Leave full screen"),
        Binding("j,down", "scroll_down", "Down", show=False),
        Binding("k,up", "scroll_up", "Up", show=False),
        Binding("g,home", "scroll_home", "Top", show=False),
        Binding("G,end", "scroll_end", "Bottom", show=False),
        Binding("plus,equals_sign", "more_rows", "More rows", show=False,
                tooltip="Show more metrics, params and tags of a run that has many"),
    ]

    DEFAULT_CSS = """
    RunDetail {
        background: $surface;
        padding: 0 1;
        & > Static { width: 1fr; }
    }
    """

    def __init__(self, clock: Callable[[], float] = time.time, **kwargs) -> None:
        super().__init__(**kwargs)
        self.clock = clock
        self.shown_run: Run | None = None
        self.rows = DETAIL_ROWS  # rows shown per section (more with +)
        self._last: tuple = ()  # what `show` drew last, to draw it again with more rows

    class MoreRows(Message):
        """More rows are shown: the screen reads their summaries."""

        def __init__(self, rows: int) -> None:
            super().__init__()
            self.rows = rows

    def action_more_rows(self) -> None:
        run = self.shown_run
        if run is None or max(len(run.metrics), len(run.params), len(run.tags)) <= self.rows:
            return
        self.rows += DETAIL_ROWS
        self.show(*self._last)
        self.post_message(self.MoreRows(self.rows))

    def compose(self):
        yield Static(Text("Select a run to see its details.", style="dim"), id="detail-body")

    def show(
        self,
        run: Run | None,
        experiment: Experiment | None,
        summaries: dict[str, MetricSummary] | None = None,
        disk_bytes: int | None = None,
        problems: list[Problem] | None = None,
        measures_disk: bool = True,
    ) -> None:
        """Draw `run`. Summaries and disk size arrive later (computed off the UI thread)."""
        if run is None or self.shown_run is None or run.run_id != self.shown_run.run_id:
            self.scroll_home(animate=False)  # another run: start at its name, not mid-way
            self.rows = DETAIL_ROWS
        self.shown_run = run
        self._last = (run, experiment, summaries, disk_bytes, problems, measures_disk)
        self.border_title = store_text(f"Run {shown_name(run)}") if run else "Run"
        body = self.query_one("#detail-body", Static)
        if run is None:
            body.update(Text("Select a run to see its details.", style="dim"))
            return
        body.update(self._build(run, experiment, summaries, disk_bytes, problems or run.problems, measures_disk))

    def show_other(self, title: str, body: RenderableType) -> None:
        """Draw something that is not a run (a group of runs: group_rows.py) under `title`
        (store text, shown as text)."""
        self.shown_run = None
        self._last = (None, None, None, None, None, True)
        self.scroll_home(animate=False)
        self.border_title = store_text(title)
        self.query_one("#detail-body", Static).update(body)

    def _build(self, run, experiment, summaries, disk_bytes, problems, measures_disk=True) -> RenderableType:
        now = int(self.clock() * 1000)
        parts: list[RenderableType] = []
        if problems:
            warn = Text("Problems\n", style="bold red")
            for problem in problems[:MAX_PROBLEMS]:
                warn.append(f"  ! {visible(str(problem))}\n", style="red")
            if len(problems) > MAX_PROBLEMS:
                warn.append(f"  … {len(problems) - MAX_PROBLEMS:,} more (tuitrack show lists them all)\n", style="red")
            parts.append(warn)
        overview = Table.grid(padding=(0, 2))
        overview.add_column(style="bold", no_wrap=True)
        overview.add_column()
        for label, value in run_overview(run, experiment, now):
            if label == "Status":
                value = f"{glyph(run)} {value}"
            overview.add_row(label, store_text(value))
        if measures_disk:
            overview.add_row("Disk", "…" if disk_bytes is None else format_bytes(disk_bytes))
        parts.append(overview)
        if run.note:
            parts.append(Text("\nNote", style="bold underline"))
            parts.append(store_markdown(run.note))
        parts.append(Text("\nMetrics", style="bold underline"))
        if run.metrics:
            metrics = Table(box=None, padding=(0, 1), show_edge=False, header_style="bold")
            for name, justify in (("key", "left"), ("last", "right"), ("step", "right"),
                                  ("min", "right"), ("max", "right")):
                metrics.add_column(name, justify=justify, no_wrap=name != "key")
            for key in first_keys(run.metrics, self.rows):
                point = run.metrics[key]
                summary = (summaries or {}).get(key)
                if summary is None:
                    low = high = "…"
                else:
                    summary = fold_latest(summary, point)  # the full read may be seconds old
                    low = f"{format_value(summary.min_value, 5)} @{summary.min_step}"
                    high = f"{format_value(summary.max_value, 5)} @{summary.max_step}"
                metrics.add_row(store_text(key), format_value(point.value, 5), str(point.step), low, high)
            parts.append(metrics)
            parts.extend(self._more(len(run.metrics), "metrics"))
        else:
            parts.append(Text("  none", style="dim"))
        for title, values in (("Params", run.params), ("Tags", run.tags)):
            parts.append(Text(f"\n{title}", style="bold underline"))
            if not values:
                parts.append(Text("  none", style="dim"))
                continue
            grid = Table.grid(padding=(0, 2))
            grid.add_column(style="bold", no_wrap=True, max_width=32)
            grid.add_column()
            for key in first_keys(values, self.rows):
                grid.add_row(store_text(key), store_text(values[key]))
            parts.append(grid)
            parts.extend(self._more(len(values), title.lower()))
        return Group(*parts)

    def _more(self, count: int, what: str) -> list[Text]:
        if count <= self.rows:
            return []
        return [Text(f"  … {count - self.rows:,} more {what} (+ shows more; tuitrack show lists them all)",
                     style="dim italic")]
