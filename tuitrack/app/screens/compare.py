"""`c`: the marked runs side by side, to choose one.

Rows are params, metrics (last, min, max, and the step of the best value) and tags; columns are
runs. The best value of each metric row is highlighted: lower is better for metrics whose name
says loss, error, perplexity, mse, mae, rmse or nll, higher for the rest. `d` shows only the
params and tags that differ. Below, one metric of all runs overlaid (the plot's keys work).
"""

from __future__ import annotations

import math

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Static

from tuitrack.app.store_text import store_text
from tuitrack.app.widgets.metric_plot import PALETTE, MetricPlot, PlotRun, default_metric
from tuitrack.formatting import format_duration, format_value, shown_name
from tuitrack.system_metrics import is_system
from tuitrack.model import MetricSummary, Run, summarize

LOWER_IS_BETTER = ("loss", "error", "err", "perplexity", "mse", "mae", "rmse", "nll")


def lower_is_better(metric: str) -> bool:
    name = metric.lower()
    return any(word in name for word in LOWER_IS_BETTER)


def best_index(values: list[float | None], lower: bool) -> int | None:
    scored = [(v, i) for i, v in enumerate(values) if v is not None and not math.isnan(v)]
    if len(scored) < 2:
        return None
    return (min(scored) if lower else max(scored))[1]


LAYOUT_CSS = """
    #compare-title { height: 1; background: $panel; text-style: bold; }
    #compare-table { height: 1fr; }
    #compare-plot { height: 1fr; border-top: hkey $panel-lighten-2; }
"""


def compare_layout(title: str | Text) -> ComposeResult:
    """Every comparison's layout (runs, groups): a title line, the table, the plot under it."""
    yield Static(title, id="compare-title")
    with Vertical():
        yield DataTable(id="compare-table", zebra_stripes=True, cursor_type="row")
        yield MetricPlot(id="compare-plot")
    yield Footer()


class CompareScreen(Screen):
    HELP_TITLE = "Compare"  # its section of `?` help
    BINDINGS = [
        Binding("escape,q", "app.pop_screen", "Back"),
        Binding("d", "toggle_diff", "Only differences"),
        Binding("E", "export('csv')", "Export CSV"),
        Binding("M", "export('md')", "Markdown", show=False),
        Binding("J", "export('json')", "JSON", show=False),
        Binding("tab", "focus_next", "Next", show=False),
        # The plot's metric keys, wherever the focus is (the table has it first), and vim keys
        # for the table.
        Binding("n", "plot_metric(1)", "Next metric"),
        Binding("N", "plot_metric(-1)", "Previous metric", show=False),
        Binding("m", "pick_metrics", "Metrics"),
        Binding("j", "table('cursor_down')", "Down", show=False),
        Binding("k", "table('cursor_up')", "Up", show=False),
    ]

    DEFAULT_CSS = "CompareScreen {" + LAYOUT_CSS + "}"

    def __init__(self, runs: list[Run], experiments: dict, store, colours: dict[str, str],
                 show_system: bool = False) -> None:
        super().__init__()
        self.runs = runs
        self.show_system = show_system  # system/ metrics compared too (ctrl+t in C or m turns them on)
        self.experiments = experiments
        self.store = store
        self.colours = colours
        self.only_differences = False
        self.summaries: dict[str, dict[str, MetricSummary]] = {}
        self.histories: dict[str, dict[str, list]] = {}

    def compose(self) -> ComposeResult:
        yield from compare_layout(f" Comparing {len(self.runs)} runs · d: only differences · E/M/J: export "
                                  "CSV/Markdown/JSON · esc: back")

    def on_mount(self) -> None:
        self.loaded = False
        self._load()  # the table is filled once, when min/max are known: no half-drawn first pass

    @work(thread=True, exclusive=True, group="compare", exit_on_error=False)
    def _load(self) -> None:
        """Every metric's full history of every run: min, max and the step of the best."""
        summaries: dict[str, dict[str, MetricSummary]] = {}
        histories: dict[str, dict[str, list]] = {}
        for run in self.runs:
            summaries[run.run_id], histories[run.run_id] = {}, {}
            for key in self._metric_keys(run):
                points = self.store.metric_history(run, key).points
                histories[run.run_id][key] = points
                summary = summarize(points)
                if summary is not None:
                    summaries[run.run_id][key] = summary
        self.app.call_from_thread(self._loaded, summaries, histories)

    def _loaded(self, summaries, histories) -> None:
        self.summaries, self.histories = summaries, histories
        self._fill()
        self.loaded = True
        metrics = sorted({k for r in self.runs for k in self._metric_keys(r)})
        plot = self.query_one(MetricPlot)
        if metrics and not plot.metrics:  # first, a metric most of the runs logged (a loss if one is)
            logged = {key: sum(1 for r in self.runs if key in r.metrics) for key in metrics}
            most = max(logged.values())
            plot.metrics = [default_metric([key for key in metrics if logged[key] == most])]
        plot.set_runs([PlotRun(r.run_id, shown_name(r), self.colours.get(r.run_id, PALETTE[i % len(PALETTE)]),
                               r.start_time, histories.get(r.run_id, {})) for i, r in enumerate(self.runs)], metrics)

    def action_plot_metric(self, step: int) -> None:
        self.query_one(MetricPlot).action_next_metric(step)

    def action_pick_metrics(self) -> None:
        self.query_one(MetricPlot).action_pick_metrics()  # the plot's own m, as if it had the focus

    def action_table(self, move: str) -> None:
        getattr(self.query_one("#compare-table", DataTable), f"action_{move}")()

    def on_metric_plot_metrics_wanted(self, message: MetricPlot.MetricsWanted) -> None:
        self.query_one(MetricPlot).metrics = message.metrics  # all histories are loaded already
        self.query_one(MetricPlot).refresh()

    def on_metric_plot_pick_metrics(self) -> None:
        from tuitrack.app.screens.metric_picker import MetricPicker

        plot = self.query_one(MetricPlot)

        def chosen(metrics):
            if metrics:
                plot.metrics = metrics
                plot.refresh()

        self.app.push_screen(MetricPicker(plot.available, plot.metrics), chosen)

    def rows(self) -> list[tuple[str, list[Text | str]]]:
        """(label, one cell per run) for every row of the comparison."""
        out: list[tuple[str, list[Text | str]]] = []
        out.append(("status", [r.status.name if r.status else "?" for r in self.runs]))
        out.append(("duration", [format_duration(r.duration_ms) for r in self.runs]))
        out.append(("experiment", [getattr(self.experiments.get(r.experiment_id), "name", "") for r in self.runs]))
        for kind, values_of in (("param", lambda r: r.params), ("tag", lambda r: r.tags)):
            keys = sorted({k for r in self.runs for k in values_of(r)})
            for key in keys:
                values = [values_of(r).get(key, "") for r in self.runs]
                if self.only_differences and len(set(values)) == 1:
                    continue
                out.append((f"{kind} {key}", values))
        for key in sorted({k for r in self.runs for k in self._metric_keys(r)}):
            lower = lower_is_better(key)
            sums = [self.summaries.get(r.run_id, {}).get(key) for r in self.runs]
            lasts = [r.metrics[key].value if key in r.metrics else None for r in self.runs]
            best = best_index(lasts, lower)
            out.append((f"metric {key} (last)", [self._cell(v, i == best) for i, v in enumerate(lasts)]))
            mins = [s.min_value if s else None for s in sums]
            maxs = [s.max_value if s else None for s in sums]
            out.append(("  min", [self._cell(v, i == best_index(mins, True) and lower) for i, v in enumerate(mins)]))
            out.append(("  max", [self._cell(v, i == best_index(maxs, False) and not lower) for i, v in enumerate(maxs)]))
            steps = [("" if s is None else str(s.min_step if lower else s.max_step)) for s in sums]
            out.append((f"  step of best ({'min' if lower else 'max'})", steps))
        return out

    def _metric_keys(self, run: Run) -> list[str]:
        """The run's metrics this comparison shows: system metrics only when asked for."""
        return [k for k in run.metrics if self.show_system or not is_system(k)]

    @staticmethod
    def _cell(value: float | None, best: bool) -> Text | str:
        if value is None:
            return ""
        text = format_value(value, 6)
        return Text(text, style="bold reverse") if best else text

    def _fill(self) -> None:
        """Columns get explicit widths from their contents: DataTable measures cells lazily,
        and a screen drawn before it has done so shows every column cut to its header."""
        table = self.query_one(DataTable)
        table.clear(columns=True)
        rows = self.rows()
        # DataTable reads a str cell as markup: every label and cell goes in as Text.
        rows = [(store_text(label), [c if isinstance(c, Text) else store_text(str(c)) for c in cells])
                for label, cells in rows]
        labels = [Text("")] + [store_text(shown_name(run)) for run in self.runs]
        columns = list(zip(*[[label, *cells] for label, cells in rows])) or [[] for _ in labels]
        widest = [max([len(label)] + [len(c.plain if isinstance(c, Text) else str(c)) for c in cells])
                  for label, cells in zip(labels, columns + [[]] * (len(labels) - len(columns)))]
        widths = fit_widths(widest, self.app.size.width - 2)
        for label, key, width in zip(labels, ["label"] + [r.run_id for r in self.runs], widths):
            table.add_column(label, key=key, width=width)
        for label, cells in rows:
            table.add_row(label, *cells)

    def on_resize(self) -> None:
        if getattr(self, "loaded", False):
            self._fill()  # the columns share the new width

    def action_toggle_diff(self) -> None:
        self.only_differences = not self.only_differences
        self._fill()

    def action_export(self, fmt: str) -> None:
        """The comparison as it shows (one row per field, a column per run) in ./tuitrack-compare-*."""
        import json
        import os
        import time

        from tuitrack.export import csv_text, markdown_text

        header = ["field"] + [r.run_name or r.run_id for r in self.runs]
        rows = [[label.strip()] + [c.plain if isinstance(c, Text) else str(c) for c in cells]
                for label, cells in self.rows()]
        if fmt == "csv":
            data = csv_text(header, rows)
        elif fmt == "md":
            data = markdown_text(header, rows)
        else:
            data = json.dumps({"runs": [r.run_id for r in self.runs], "fields": {
                row[0]: dict(zip([r.run_id for r in self.runs], row[1:])) for row in rows}}, ensure_ascii=False) + "\n"
        path = os.path.abspath(f"tuitrack-compare-{time.strftime('%Y%m%d-%H%M%S')}.{fmt}")
        try:
            with open(path, "x", encoding="utf-8") as f:
                f.write(data)
        except OSError as exc:
            self.notify(f"Not exported: {exc.strerror or exc}", severity="error")
            return
        self.notify(f"Wrote the comparison to {path}", timeout=6)


CELL_PADDING = 2  # DataTable's padding around each cell


def fit_widths(widest: list[int], room: int, most: int = 40, least: int = 8) -> list[int]:
    """Column widths (the label column first, then one per run) that fit `room` cells when they
    can: 4 runs side by side at 80 columns. Narrow columns keep their width; the widest give up
    cells first (down to `least`), and the labels column at most a third of the room."""
    widths = [min(most, w) for w in widest]
    if widths:
        widths[0] = min(widths[0], max(least, room // 3))
    budget = room - CELL_PADDING * len(widths)
    while sum(widths) > budget:
        widest_at = max(range(len(widths)), key=lambda i: widths[i])
        if widths[widest_at] <= least:
            break
        widths[widest_at] -= 1
    return widths
