"""The app on stores the real mini-mlflow package wrote: runs with their versions, followed live."""

from __future__ import annotations

import asyncio

import pytest
from mini_mlflow.storage import save_metric

from tests.app_helpers import make_app, settle
from tests.conftest import fixed_clock
from tests.test_app_live import eventually
from tuitrack.app.app import TuitrackApp
from tuitrack.app.widgets.run_detail import RunDetail
from tuitrack.app.widgets.run_tree import RunTree
from tuitrack.app.widgets.runs_table import RunsTable
from tuitrack.live.options import LiveOptions
from tuitrack.store import open_store


async def test_app_shows_mini_mlflow_runs_with_their_version(mini_store):
    root, ids = mini_store
    app = make_app(root)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        screen = app.screen
        tree = screen.query_one(RunTree)
        assert set(ids.runs.values()) <= set(tree.run_nodes)
        assert str(tree.run_nodes[ids.runs["v1.1"]].label).startswith("✓ my_model")
        await screen.select_run(ids.runs["v1.1"])
        await settle(pilot)
        detail = screen.query_one(RunDetail)
        assert detail.shown_run.version == "v1.1" and not detail.shown_run.problems
        await pilot.press("enter")  # the detail full screen: every row of it is on the screen
        await settle(pilot)
        shown = app.export_screenshot()
        assert "Version" in shown and "v1.1" in shown
        assert "accuracy" in shown and "learning_rate" in shown


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
        # What Run.log_metric does: the package rewrites metrics/<key>.json whole, via a .tmp file.
        await asyncio.to_thread(save_metric, running, 7, "accuracy", 0.75, runs_dir=str(root))
        await eventually(pilot, lambda: table.highlighted_run.metrics["accuracy"].value == 0.75)
        await asyncio.to_thread(save_metric, running, 7, "val_loss", 0.3, runs_dir=str(root))
        await eventually(pilot, lambda: "val_loss" in table.highlighted_run.metrics)
        assert table.highlighted_run.metrics["val_loss"].step == 0
