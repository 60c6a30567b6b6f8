"""The app on stores the real mini-mlflow package wrote: runs with their versions, followed live."""

from __future__ import annotations

import asyncio

import pytest
from mini_mlflow.storage import save_metric

from tests.app_helpers import make_app, settle
from tests.conftest import fixed_clock
from tests.test_app_live import eventually
from tuitrack.app.app import TuitrackApp
from tuitrack.app.widgets.metric_plot import MetricPlot
from tuitrack.app.widgets.run_detail import RunDetail
from tuitrack.app.widgets.run_tree import RunTree
from tuitrack.app.widgets.runs_table import RunsTable
from tuitrack.live.options import LiveOptions
from tuitrack.store import open_store


async def test_app_shows_mini_mlflow_runs_with_their_version_column_and_filter(mini_store):
    root, ids = mini_store
    app = make_app(root)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        screen = app.screen
        tree = screen.query_one(RunTree)
        assert set(ids.runs.values()) <= set(tree.run_nodes)
        assert str(tree.run_nodes[ids.runs["v1.1"]].label).startswith("✓ my_model v1.1")  # versions tell them apart
        await screen.select_run(ids.runs["v1.1"])
        await settle(pilot)
        detail = screen.query_one(RunDetail)
        assert detail.shown_run.version == "v1.1" and not detail.shown_run.problems
        await pilot.press("enter")  # the detail full screen: every row of it is on the screen
        await settle(pilot)
        shown = app.export_screenshot()
        assert "Version" in shown and "v1.1" in shown
        assert "accuracy" in shown and "learning_rate" in shown
        await pilot.press("escape")
        table = screen.query_one(RunsTable)
        assert "version" in [c.key for c in table.columns]  # a column, since these runs have one
        await pilot.press("slash", *"v1.1")  # the quick filter finds runs by version
        await settle(pilot)
        assert [r.run_id for r in table.runs] == [ids.runs["v1.1"]]


@pytest.mark.parametrize("poll", [None, 0.2], ids=["inotify", "polling"])
async def test_app_follows_mini_mlflow_metric_writes(mini_store, poll):
    root, ids = mini_store
    running = ids.runs["running"]
    app = TuitrackApp(open_store(str(root)), clock=fixed_clock, live=LiveOptions(poll=poll))
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        screen = app.screen
        await screen.select_run(running)
        await settle(pilot)
        table = screen.query_one(RunsTable)
        assert table.highlighted_run.metrics["accuracy"].value == 0.5
        await pilot.press("p")
        await settle(pilot)
        plot = screen.query_one(MetricPlot)
        assert [p.value for p in plot.runs[0].histories["accuracy"]] == [0.5]  # one point: the latest
        # What Run.log_metric does: the package rewrites metrics/<key>.json whole, via a .tmp file.
        await asyncio.to_thread(save_metric, running, 7, "accuracy", 0.75, runs_dir=str(root))
        await eventually(pilot, lambda: table.highlighted_run.metrics["accuracy"].value == 0.75)
        await eventually(pilot, lambda: [p.value for p in plot.runs[0].histories["accuracy"]] == [0.75])
        await asyncio.to_thread(save_metric, running, 7, "val_loss", 0.3, runs_dir=str(root))
        await eventually(pilot, lambda: "val_loss" in table.highlighted_run.metrics)
        assert table.highlighted_run.metrics["val_loss"].step == 0


async def test_a_new_mini_mlflow_experiment_appears_live(mini_store):
    from mini_mlflow import Run

    root, _ = mini_store
    app = TuitrackApp(open_store(str(root)), clock=fixed_clock, live=LiveOptions())
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        tree = app.screen.query_one(RunTree)
        run = await asyncio.to_thread(Run, experiment_id=12, name="fresh", version="v3", runs_dir=str(root))
        index = app.screen.index
        await eventually(pilot, lambda: "12" in index.experiments and not index.experiments["12"].problems)
        await eventually(pilot, lambda: index.run(run.run_id) is not None)
        assert index.experiments["12"].name == "12" and index.run(run.run_id).version == "v3"
        await eventually(pilot, lambda: "12" in tree.experiment_nodes)


async def test_renaming_a_running_mini_run_is_refused_with_the_reason(mini_store):
    from tests.test_app_edit import app_for, focus_run

    root, ids = mini_store
    running = ids.runs["running"]
    meta = root / "7" / running / "meta.yaml"
    before = meta.read_text()
    app = app_for(root)
    async with app.run_test(size=(120, 40), notifications=True) as pilot:
        await settle(pilot)
        await focus_run(pilot, running)
        await pilot.press("R")  # refused at once, before a name is asked for
        await settle(pilot)
        assert type(app.screen).__name__ == "MainScreen"
        messages = [n.message for n in app._notifications]
        assert any("Not possible" in m and "RUNNING mini-mlflow run" in m for m in messages), messages
        assert len(app.screen.undo_stack) == 0 and meta.read_text() == before
        await pilot.press("t", *"stage=dev", "enter")  # tags are stored where mini-mlflow leaves them
        await settle(pilot)
        assert (root / "7" / running / "tags" / "stage").read_text() == "dev"
