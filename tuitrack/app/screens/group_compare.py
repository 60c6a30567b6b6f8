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
from textual.containers import Vertical
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Static

from tuitrack.app.plotted import for_group
from tuitrack.app.screens.compare import fit_widths
from tuitrack.app.store_text import store_text
from tuitrack.app.widgets.metric_plot import PALETTE, MetricPlot, PlotRun
from tuitrack.formatting import format_value
from tuitrack.live.metric_reads import PlotFeed
from tuitrack.query.groups import MISSING, RunGroup, mean_std


def group_rows(groups: list[RunGroup]) -> list[tuple[str, list[str]]]:
    """(label, one cell per group) for every row of the comparison."""
    out = [("runs", [str(g.count) for g in groups])]
    keys = groups[0].keys if groups else ()
    for index, key in enumerate(keys):
        out.append((f"param {key}", [MISSING if g.values[index] is None else g.values[index] for g in groups]))
    for key in sorted({k for g in groups for k in g.metrics}):
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

    DEFAULT_CSS = """
    GroupCompareScreen {
        #compare-title { height: 1; background: $panel; text-style: bold; }
        #compare-table { height: 1fr; }
        #compare-plot { height: 1fr; border-top: hkey $panel-lighten-2; }
    }
    """

    def __init__(self, groups: list[RunGroup], store, colours: dict[str, str]) -> None:
        super().__init__()
        self.groups = groups
        self.store = store
        self.colours = colours
        self.loaded = False

    def compose(self) -> ComposeResult:
        keys = ", ".join(self.groups[0].keys) if self.groups else ""
        yield Static(store_text(f" Comparing {len(self.groups)} groups of runs by {keys} · esc: back"),
                     id="compare-title")
        with Vertical():
            yield DataTable(id="compare-table", zebra_stripes=True, cursor_type="row")
            yield MetricPlot(id="compare-plot")
        yield Footer()

    def on_mount(self) -> None:
        self._fill()
        self._load()

    @work(thread=True, exclusive=True, group="compare", exit_on_error=False)
    def _load(self) -> None:
        """The histories of every metric of every run of the groups, each read in bounded memory."""
        histories: dict[tuple[str, str], list] = {}
        for group in self.groups:
            for run in group.runs:
                for key in run.metrics:
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
                for key in run.metrics:
                    entry.members.setdefault(key, []).append(histories[(run.run_id, key)])
            plot_runs.append(entry)
        self.query_one(MetricPlot).set_runs(plot_runs, sorted({k for g in self.groups for k in g.metrics}))
        self.loaded = True

    def on_metric_plot_metrics_wanted(self, message: MetricPlot.MetricsWanted) -> None:
        self.query_one(MetricPlot).metrics = message.metrics  # all histories are loaded already
        self.query_one(MetricPlot).refresh()

    def _fill(self) -> None:
        table = self.query_one(DataTable)
        table.clear(columns=True)
        rows = group_rows(self.groups)
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
