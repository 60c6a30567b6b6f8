"""Marks and targets: a note or a name goes to the run under the cursor, marks are counted and
cleared, space moves on, deleted runs lose their mark, and K leaves a sweep's parent alone while
its children still write."""

from __future__ import annotations

import os
import time

from mlflow.entities import Metric

from tests.app_helpers import settle
from tests.mlflow_stores import client_for
from tests.test_app_edit import app_for, focus_run
from tuitrack.app.app import TuitrackApp
from tuitrack.app.screens.dialogs import Confirm, Prompt
from tuitrack.app.widgets.run_tree import RunTree
from tuitrack.live.options import LiveOptions
from tuitrack.store import open_store


def status_text(app) -> str:
    return str(app.screen.query_one("#status-bar").render())


async def test_rename_goes_to_the_run_under_the_cursor_not_the_marked_ones(reference_store):
    root, ids = reference_store
    app = app_for(root)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        for name in ("parent", "child"):
            await focus_run(pilot, ids.runs[name])
            app.screen.action_toggle_mark()
        await focus_run(pilot, ids.runs["failed"])
        await pilot.press("R")
        assert isinstance(app.screen, Prompt)
        assert "failing" in app.screen.title_text  # the dialog names its run
        app.screen.query_one("#answer").value = "renamed"
        await pilot.press("enter")
        await settle(pilot)
        client = client_for(root)
        assert client.get_run(ids.runs["failed"]).info.run_name == "renamed"
        assert client.get_run(ids.runs["parent"]).info.run_name == "parent"
        await pilot.press("e")  # the note, too, is for the run under the cursor
        assert "renamed" in app.screen.query_one("Vertical").border_title


async def test_space_marks_and_moves_on_counted_in_the_status_and_cleared_by_M(reference_store):
    root, ids = reference_store
    app = app_for(root)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        main = app.screen
        await focus_run(pilot, ids.runs["parent"])
        tree = main.query_one(RunTree)
        first = tree.cursor_node.data.run_id
        await pilot.press("space")
        second = tree.cursor_node.data.run_id
        assert second != first  # the cursor moved on
        await pilot.press("space")
        assert set(main.marked) == {first, second}
        assert "2 marked" in status_text(app)
        await pilot.press("M")
        assert not main.marked
        assert "marked" not in status_text(app)


async def test_deleted_runs_lose_their_mark(reference_store):
    root, ids = reference_store
    app = app_for(root)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        main = app.screen
        for name in ("failed", "child"):
            await focus_run(pilot, ids.runs[name])
            main.action_toggle_mark()
        await pilot.press("d")
        assert isinstance(app.screen, Confirm)
        await pilot.press("y")
        await settle(pilot)
        assert client_for(root).get_run(ids.runs["failed"]).info.lifecycle_stage == "deleted"
        assert not main.marked


async def test_K_leaves_a_parent_running_while_its_child_still_writes(tmp_path):
    root = tmp_path / "mlruns"
    client = client_for(root)
    experiment = client.create_experiment("sweep")
    hour_ago = int((time.time() - 3600) * 1000)
    parent = client.create_run(experiment, start_time=hour_ago, run_name="sweep-parent").info.run_id
    client.log_metric(parent, "best", 1.0, timestamp=hour_ago, step=0)
    child = client.create_run(experiment, start_time=hour_ago, run_name="trial-1",
                              tags={"mlflow.parentRunId": parent}).info.run_id
    client.log_batch(child, metrics=[Metric("loss", 0.5, int(time.time() * 1000), 1)])
    parent_dir = root / experiment / parent
    for path in [parent_dir / "meta.yaml", *parent_dir.joinpath("metrics").iterdir()]:
        os.utime(path, (hour_ago / 1000, hour_ago / 1000))
    app = TuitrackApp(open_store(str(root)), live=LiveOptions(watch=False, stale_after=600))
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await focus_run(pilot, parent)
        await pilot.press("K")
        if isinstance(app.screen, Confirm):  # if anything is offered, the parent is not in it
            assert "sweep-parent" not in " ".join(app.screen.lines)
            await pilot.press("y")
        await settle(pilot)
    assert client.get_run(parent).info.status == "RUNNING"


def test_the_status_never_says_not_watching_while_watching_starts(reference_store):
    from tuitrack.app.screens.main import MainScreen
    from tuitrack.live.index import RunIndex

    root, _ = reference_store
    index = RunIndex(open_store(str(root)))
    assert MainScreen(index, live=LiveOptions(watch=True)).watch_mode == "live once loaded"
    assert MainScreen(index, live=LiveOptions(watch=False)).watch_mode == "not watching (--no-watch)"
