"""The compare screen: marked runs side by side, best values highlighted, differences only."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import DataTable

from tests.app_helpers import make_app, settle
from tests.test_snapshots import goto, sample_app
from tuitrack.app.screens.compare import CompareScreen, best_index, lower_is_better
from tuitrack.app.widgets.metric_plot import MetricPlot


async def open_compare(pilot, names=("lr=0.1", "lr=0.01", "lr=0.003")):
    for name in names:
        await goto(pilot, name)
        pilot.app.screen.action_toggle_mark()
    await pilot.press("c")
    await settle(pilot)
    screen = pilot.app.screen
    if isinstance(screen, CompareScreen):
        while not getattr(screen, "loaded", False):
            await pilot.pause(0.02)
        await pilot.pause()
    return screen


def test_best_is_lower_for_losses():
    assert lower_is_better("val/loss") and lower_is_better("error_rate") and not lower_is_better("val/acc")
    assert best_index([0.3, 0.1, None, float("nan")], lower=True) == 1
    assert best_index([0.3, None], lower=True) is None  # one value: nothing to compare


async def test_compare_shows_differences_and_best():
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        screen = await open_compare(pilot)
        assert isinstance(screen, CompareScreen)
        rows = dict(screen.rows())
        assert rows["param lr"] == ["0.1", "0.01", "0.003"]
        last = rows["metric val/loss (last)"]
        highlighted = [i for i, cell in enumerate(last) if isinstance(cell, Text)]
        values = [screen.runs[i].metrics["val/loss"].value for i in range(3)]
        assert highlighted == [values.index(min(values))]
        assert "param batch_size" in rows
        await pilot.press("d")  # only differences: batch_size is the same everywhere
        assert "param batch_size" not in dict(screen.rows()) and "param lr" in dict(screen.rows())
        assert screen.query_one(DataTable).row_count == len(screen.rows())
        assert len(screen.query_one(MetricPlot).runs) == 3
        await pilot.press("escape")
        assert not isinstance(app.screen, CompareScreen)


async def test_compare_needs_two_marked_runs():
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await pilot.press("c")
        assert not isinstance(app.screen, CompareScreen)


async def test_compare_export(tmp_path, monkeypatch):
    import csv

    monkeypatch.chdir(tmp_path)
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await open_compare(pilot)
        await pilot.press("E")
        (written,) = tmp_path.glob("tuitrack-compare-*.csv")
        rows = list(csv.reader(written.open()))
        assert rows[0] == ["field", "lr=0.1", "lr=0.01", "lr=0.003"]
        assert ["param lr", "0.1", "0.01", "0.003"] in rows
        await pilot.press("M", "J")
        (markdown,) = tmp_path.glob("tuitrack-compare-*.md")
        assert markdown.read_text().splitlines()[0] == "| field | lr=0.1 | lr=0.01 | lr=0.003 |"
        (as_json,) = tmp_path.glob("tuitrack-compare-*.json")
        import json

        data = json.loads(as_json.read_text())
        assert list(data["fields"]["param lr"].values()) == ["0.1", "0.01", "0.003"]


def test_compare_snapshot(snap_compare):
    async def run_before(pilot):
        await settle(pilot)
        await open_compare(pilot)

    assert snap_compare(sample_app(), terminal_size=(120, 40), run_before=run_before)


def test_fit_widths_shares_the_room():
    from tuitrack.app.screens.compare import CELL_PADDING, fit_widths

    widths = fit_widths([30, 22, 22, 22, 22], 78)
    assert sum(widths) + CELL_PADDING * len(widths) <= 78
    assert min(widths[1:]) >= 8
    assert fit_widths([10, 6, 6], 78) == [10, 6, 6]  # what fits keeps its width


async def test_compare_fits_four_runs_at_80_columns():
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        screen = await open_compare(pilot, ("lr=0.1", "lr=0.01", "lr=0.003", "lr=0.03"))
        table = screen.query_one(DataTable)
        shown = sum(c.get_render_width(table) for c in table.ordered_columns)
        assert len(table.ordered_columns) == 5 and shown <= 80  # no run is off to the right


async def test_the_plot_starts_on_a_shared_metric_and_its_keys_work_from_the_table(tmp_path):
    """Compared runs that log different metrics: the plot starts on one most of them logged (a loss
    if one is), not on a loss only one of them has; n/N/m change it with the table focused, and j/k
    move the table (tmux: stuck on one run's `loss`, and n, m, j, k did nothing)."""
    from mlflow.entities import Metric

    from tests.mlflow_stores import client_for

    client = client_for(tmp_path / "mlruns")
    experiment = client.create_experiment("mixed")
    for name, keys in (("only-loss", ["loss"]), ("a", ["train/loss", "val/acc"]), ("b", ["train/loss", "val/acc"])):
        run = client.create_run(experiment, run_name=name).info.run_id
        client.log_batch(run, metrics=[Metric(k, 0.5 + s / 10, 1_790_000_000_000 + s, s) for k in keys for s in range(3)])
        client.set_terminated(run)
    app = make_app(tmp_path / "mlruns")
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        screen = await open_compare(pilot, names=("only-loss", "a", "b"))
        assert isinstance(screen, CompareScreen)
        plot, table = screen.query_one(MetricPlot), screen.query_one(DataTable)
        assert plot.metrics == ["train/loss"]
        assert screen.focused is table
        await pilot.press("n")
        await settle(pilot)
        assert plot.metrics == ["val/acc"]
        await pilot.press("N")
        await settle(pilot)
        assert plot.metrics == ["train/loss"]
        row = table.cursor_row
        await pilot.press("j")
        assert table.cursor_row == row + 1
        await pilot.press("k")
        assert table.cursor_row == row
        await pilot.press("m")
        await settle(pilot)
        from tuitrack.app.screens.metric_picker import MetricPicker

        assert isinstance(app.screen, MetricPicker)
