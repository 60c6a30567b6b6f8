"""`c` on marked groups (the grouped table, b): the groups side by side, as `c` compares runs.

Rows are the number of runs, the params grouped by, and for each metric the mean ± std of the
runs' latest values, then its min and max; columns are groups. Below, each group's mean curve
and band, one metric at a time (the plot's keys work: `B` switches the band).
"""

from __future__ import annotations

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import DataTable

from tuitrack.app.plotted import for_group
from tuitrack.app.screens.compare import LAYOUT_CSS, compare_layout, fit_widths
from tuitrack.app.store_text import store_text
from tuitrack.app.widgets.metric_plot import PALETTE, MetricPlot, PlotRun
from tuitrack.formatting import format_value
from tuitrack.live.metric_reads import PlotFeed
from tuitrack.query.groups import MISSING, RunGroup, mean_std
from tuitrack.system_metrics import is_system


def group_rows(groups: list[RunGroup], show_system: bool = False) -> list[tuple[str, list[str]]]:
    """(label, one cell per group) for every row of the comparison (system/ metrics only when
    `show_system`)."""
    out = [("runs", [str(g.count) for g in groups])]
    keys = groups[0].keys if groups else ()
    for index, key in enumerate(keys):
        out.append((f"param {key}", [MISSING if g.values[index] is None else g.values[index] for g in groups]))
    for key in sorted({k for g in groups for k in g.metrics if show_system or not is_system(k)}):
        stats = [g.metrics.get(key) for g in groups]
        out.append((f"{key} mean ± std", [mean_std(s, g.count) for s, g in zip(stats, groups)]))
        for figure in ("min", "max"):
            values = [None if s is None else getattr(s, figure) for s in stats]
            out.append((f"  {figure}", ["" if v is None else format_value(v, 6) for v in values]))
    return out


class GroupCompareScreen(Screen):
    HELP_TITLE = "Compare groups"  # its section of `?` help
    BINDINGS = [
        Binding("escape,q", "app.pop_screen", "Back"),
        Binding("tab", "focus_next", "Next", show=False),
    ]

    DEFAULT_CSS = "GroupCompareScreen {" + LAYOUT_CSS + "}"

    def __init__(self, groups: list[RunGroup], store, colours: dict[str, str], show_system: bool = False) -> None:
        super().__init__()
        self.groups = groups
        self.show_system = show_system
        self.store = store
        self.colours = colours
        self.loaded = False

    def compose(self) -> ComposeResult:
        keys = ", ".join(self.groups[0].keys) if self.groups else ""
        yield from compare_layout(store_text(f" Comparing {len(self.groups)} groups of runs by {keys} · esc: back"))

    def on_mount(self) -> None:
        self._fill()
        self._load()

    @work(thread=True, exclusive=True, group="compare", exit_on_error=False)
    def _load(self) -> None:
        """The histories of every metric of every run of the groups, each read in bounded memory."""
        histories: dict[tuple[str, str], list] = {}
        for group in self.groups:
            for run in group.runs:
                for key in self._metric_keys(run):
                    if (run.run_id, key) not in histories:
                        feed = PlotFeed(self.store, run, key)
                        feed.read()
                        histories[(run.run_id, key)] = feed.points
        self.app.call_from_thread(self._loaded, histories)

    def _loaded(self, histories: dict[tuple[str, str], list]) -> None:
        plot_runs = []
        for index, group in enumerate(self.groups):
            item = for_group(group)
            entry = PlotRun(item.key, item.label, self.colours.get(item.key, PALETTE[index % len(PALETTE)]), None)
            for run in group.runs:
                for key in self._metric_keys(run):
                    entry.members.setdefault(key, []).append(histories[(run.run_id, key)])
            plot_runs.append(entry)
        self.query_one(MetricPlot).set_runs(plot_runs, sorted({k for g in self.groups for k in g.metrics
                                                               if self.show_system or not is_system(k)}))
        self.loaded = True

    def on_metric_plot_metrics_wanted(self, message: MetricPlot.MetricsWanted) -> None:
        self.query_one(MetricPlot).metrics = message.metrics  # all histories are loaded already
        self.query_one(MetricPlot).refresh()

    def _metric_keys(self, run) -> list[str]:
        return [k for k in run.metrics if self.show_system or not is_system(k)]

    def _fill(self) -> None:
        table = self.query_one(DataTable)
        table.clear(columns=True)
        rows = group_rows(self.groups, self.show_system)
        labels = [Text("")] + [store_text(g.label()) for g in self.groups]
        widest = [max([len(label)] + [len(row[0] if i == 0 else row[1][i - 1]) for row in rows])
                  for i, label in enumerate(labels)]
        for label, key, width in zip(labels, ["label"] + [g.group_id for g in self.groups],
                                     fit_widths(widest, self.app.size.width - 2)):
            table.add_column(label, key=key, width=width)
        for label, cells in rows:  # DataTable reads a str as markup: store text goes in as Text
            table.add_row(store_text(label), *[store_text(c) for c in cells])

    def on_resize(self) -> None:
        if self.is_mounted:
            self._fill()
