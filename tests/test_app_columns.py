"""The runs table's columns: the name stays in view however far `l` scrolls, and a param and a
metric with the same key are told apart."""

from __future__ import annotations

from mlflow.entities import Metric, Param

from tests.app_helpers import settle
from tests.mlflow_stores import client_for
from tests.test_app_edit import app_for
from tuitrack.app.columns import columns_for
from tuitrack.app.widgets.runs_table import RunsTable
from tuitrack.safe_text import visible
from tuitrack.store import open_store


def wide_store(root):
    client = client_for(root)
    experiment = client.create_experiment("wide")
    run = client.create_run(experiment, run_name="the-wide-one").info.run_id
    client.log_batch(run, params=[Param("lr", "0.1")] + [Param(f"param_{i:02}", "x" * 12) for i in range(20)],
                     metrics=[Metric("lr", 0.1, 0, 0), Metric("loss", 0.5, 0, 0)])
    client.set_terminated(run)
    return experiment


def test_a_param_and_a_metric_with_one_key_are_told_apart(tmp_path):
    wide_store(tmp_path / "mlruns")
    store = open_store(str(tmp_path / "mlruns"))
    runs = [r for e in store.experiments() for r in store.runs(e)]
    labels = {c.key: c.label for c in columns_for(runs)}
    assert labels["param:lr"] == "param lr" and labels["metric:lr"] == "metric lr"
    assert labels["metric:loss"] == "loss"  # no clash, no prefix


async def test_the_name_column_stays_when_the_table_scrolls_right(tmp_path):
    experiment = wide_store(tmp_path / "mlruns")
    app = app_for(tmp_path / "mlruns")
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await app.screen.select_run(app.screen.index.runs_of(experiment)[0].run_id)
        table = app.screen.query_one(RunsTable)
        table.focus()
        await settle(pilot)
        for _ in range(len(table.columns) - 1):
            await pilot.press("l")
        await settle(pilot)
        assert table.scroll_x > 0  # it did scroll
        assert "the-wide-one" in table.render_line(1).text
        header = table.render_line(0).text
        assert header.lstrip().startswith("Name") and "loss" in header  # the last column shows


async def test_scrolling_never_shows_part_of_a_value(tmp_path):
    """`l` scrolls to the start of a column, and a column an edge cuts (the last one on screen,
    or any after a scroll to anywhere) is blank: 0.98988 cut on its left read as "988" (tmux)."""
    client = client_for(tmp_path / "mlruns")
    experiment = client.create_experiment("numbers")
    run = client.create_run(experiment, run_name="n").info.run_id
    client.log_batch(run, params=[Param(f"p{i:02}", f"{i}.{i:03}{i:03}") for i in range(24)],
                     metrics=[Metric("acc", 0.98988, 0, 0)])
    client.set_terminated(run)
    app = app_for(tmp_path / "mlruns")
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await app.screen.select_run(run)
        table = app.screen.query_one(RunsTable)
        table.focus()
        await settle(pilot)
        row = table.runs.index(next(r for r in table.runs if r.run_id == run))
        values = {word for cell in table._cells[row][1:] for word in cell.split()}  # every word whole
        labels = {word for c in table.columns[1:] for word in visible(c.label).split()} | {"▲", "▼"}

        def shown() -> list[tuple[list[str], list[str]]]:
            frozen = table._frozen_width()
            return table.render_line(0).text[frozen:].split(), table.render_line(row + 1).text[frozen:].split()

        seen = set()
        for step in range(len(table.columns) + 2):
            header, cells = shown()
            assert set(cells) <= values, (step, cells)
            assert set(header) <= labels, (step, header)
            seen |= set(cells)
            await pilot.press("l")
            await settle(pilot)
        assert seen == values  # every value was shown whole on the way
        for x in range(0, int(table.max_scroll_x) + 1, 3):  # scrolled anywhere (the mouse, the scrollbar)
            table.scroll_to(x=x, animate=False)
            await pilot.pause()
            header, cells = shown()
            assert set(cells) <= values and set(header) <= labels, (x, header, cells)
