"""The runs table grouped (`b`): one row per group of runs, with the group's params, its count,
and each metric's mean ± std, min and max over the runs' latest values
(tuitrack.query.groups computes them); a metric's own column holds `mean ± std`.

The table draws rows of runs, so each group is handed to it as a stand-in Run: its id is the
group's id (never a run's), its name the group's label, its metrics the means (so sorting by a
metric column sorts by the mean). GroupedRows gives the table the cells and glyph of those rows.
Actions that change runs find no run by a group's id, and so leave groups alone.
"""

from __future__ import annotations

from rich.console import Group
from rich.table import Table
from rich.text import Text

from tuitrack.app.columns import Column, cell
from tuitrack.formatting import format_value, shown_name
from tuitrack.model import MetricPoint, Run, RunStatus
from tuitrack.query.groups import MISSING, RunGroup, mean_std
from tuitrack.safe_text import visible

MAX_LISTED = 100  # metrics and runs a group's detail lists at most
GROUP_GLYPH = "▸"  # a row that opens to runs (enter)


def stand_in(group: RunGroup, experiment_id: str) -> Run:
    """The group as a row of the runs table."""
    return Run(
        group.group_id, experiment_id, run_name=group.label(), status=RunStatus.FINISHED,
        params={k: MISSING if v is None else v for k, v in zip(group.keys, group.values)},
        metrics={k: MetricPoint(0, s.mean, 0) for k, s in group.metrics.items() if s.mean is not None},
    )


def group_columns(groups: list[RunGroup]) -> list[Column]:
    """Group (its params), Runs, then per metric the mean ± std, the min and the max."""
    metrics = sorted({k for g in groups for k in g.metrics})
    out = [Column("name", "Group"), Column("count", "Runs", numeric=True)]  # the name says the params
    for key in metrics:
        out += [Column(f"metric:{key}", key, numeric=True),
                Column(f"min:{key}", f"{key} min", numeric=True), Column(f"max:{key}", f"{key} max", numeric=True)]
    return out


def group_summary(group: RunGroup) -> Group:
    """The detail pane for a group: each metric's figures, then the names of its runs."""
    head = Text(f"{group.count} run{'' if group.count == 1 else 's'} · enter opens it · "
                "p: its mean and band", style="dim")
    table = Table(box=None, padding=(0, 2, 0, 0), show_edge=False, header_style="bold")
    for name, right in (("metric", False), ("mean ± std", False), ("min", True), ("max", True)):
        table.add_column(name, justify="right" if right else "left", no_wrap=True, overflow="ellipsis")
    for key, stats in list(group.metrics.items())[:MAX_LISTED]:
        low = "" if stats.min is None else format_value(stats.min, 5)
        high = "" if stats.max is None else format_value(stats.max, 5)
        table.add_row(Text(visible(key)), Text(mean_std(stats, group.count)), Text(low), Text(high))
    runs = Text("Runs\n", style="bold")
    for run in group.runs[:MAX_LISTED]:
        runs.append(f"  {visible(shown_name(run))}\n", style="")
    if group.count > MAX_LISTED:
        runs.append(f"  … {group.count - MAX_LISTED:,} more\n", style="dim")
    return Group(head, Text(""), table, Text(""), runs)


class GroupedRows:
    """Cells and glyphs for a table whose rows are groups (stand-ins) or, opened, runs."""

    def __init__(self, groups: list[RunGroup]) -> None:
        self.groups = {g.group_id: g for g in groups}

    def cell(self, run: Run, column: Column, now_ms: int) -> str:
        group = self.groups.get(run.run_id)
        if group is None:
            return cell(run, column, now_ms)
        if column.key == "name":
            return run.run_name
        if column.key == "count":
            return str(group.count)
        stats = group.metrics.get(column.field)
        if column.kind == "metric":
            return mean_std(stats, group.count)
        if column.kind in ("min", "max"):
            value = None if stats is None else getattr(stats, column.kind)
            return "" if value is None else format_value(value, 5)
        return cell(run, column, now_ms)

    def glyph(self, run: Run, stale: bool, plain) -> str:
        return GROUP_GLYPH if run.run_id in self.groups else plain(run, stale)
