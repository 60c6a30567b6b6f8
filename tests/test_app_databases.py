"""The same screens and keys on an mlflow.db and on a tracking server: live updates while MLflow
writes, and edits that MLflow's client then sees."""

from __future__ import annotations

import asyncio
import uuid

from tests.app_helpers import settle
from tests.conftest import fixed_clock
from tests.mlflow_stores import sqlite_client
from tests.test_app_edit import focus_run
from tests.test_app_live import eventually
from tuitrack.app.app import TuitrackApp
from tuitrack.app.widgets.run_tree import RunTree
from tuitrack.app.widgets.runs_table import RunsTable
from tuitrack.live.options import LiveOptions
from tuitrack.store import StoreError, open_store


async def follow_mlflow_writing(pilot, client, experiment_id: str, running: str) -> None:
    """MLflow logs, finishes a run, starts one and deletes one; the screen follows each."""
    screen = pilot.app.screen
    await screen.select_run(running)
    await settle(pilot)
    table = screen.query_one(RunsTable)
    tree = screen.query_one(RunTree)
    await asyncio.to_thread(lambda: [client.log_metric(running, "m", s / 10, step=s) for s in range(5, 40)])
    await eventually(pilot, lambda: table.highlighted_run is not None and table.highlighted_run.metrics["m"].step == 39)
    await asyncio.to_thread(client.set_terminated, running, "FINISHED")
    await eventually(pilot, lambda: str(tree.run_nodes[running].label).startswith("✓"))
    new = (await asyncio.to_thread(client.create_run, experiment_id, run_name="brand-new")).info.run_id
    await eventually(pilot, lambda: new in tree.run_nodes)
    await asyncio.to_thread(client.delete_run, new)
    await eventually(pilot, lambda: new not in tree.run_nodes)  # deleted runs are hidden by default


async def test_app_follows_mlflow_writing_an_sqlite_store(sqlite_store):
    db, ids = sqlite_store
    app = TuitrackApp(open_store(str(db)), clock=fixed_clock)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        assert "inotify" in app.screen.watch_mode
        assert ids.runs["child"] in app.screen.query_one(RunTree).run_nodes
        # A run's rows share the database file: no Disk column or row claiming "0 B".
        assert "disk" not in [c.key for c in app.screen.query_one(RunsTable).all_columns]
        await app.screen.select_run(ids.runs["child"])
        await settle(pilot)
        body = app.screen.query_one("#detail").query_one("#detail-body")
        shown = " ".join(body.render_line(y).text for y in range(body.size.height))
        assert "Run id" in shown and "Disk" not in shown
        await follow_mlflow_writing(pilot, sqlite_client(db), ids.experiments["beta"], ids.runs["running"])


async def test_edit_keys_on_an_sqlite_store(sqlite_store):
    db, ids = sqlite_store
    client = sqlite_client(db)
    app = TuitrackApp(open_store(str(db)), clock=fixed_clock, live=LiveOptions(watch=False))
    run_id = ids.runs["parent"]
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await focus_run(pilot, run_id)
        await pilot.press("t", *"team=nlp", "enter")
        await settle(pilot)
        assert client.get_run(run_id).data.tags["team"] == "nlp"
        await pilot.press("R", *"renamed", "enter")
        await settle(pilot)
        assert client.get_run(run_id).info.run_name == "renamed"
        await focus_run(pilot, ids.runs["failed"])
        await pilot.press("d", "y")
        await settle(pilot)
        assert client.get_run(ids.runs["failed"]).info.lifecycle_stage == "deleted"
        await pilot.press("u")
        await settle(pilot)
        assert client.get_run(ids.runs["failed"]).info.lifecycle_stage == "active"


async def test_app_follows_a_tracking_server_by_polling(mlflow_server):
    server, _ = mlflow_server
    client = server.client()
    experiment_id = client.create_experiment(f"app-{uuid.uuid4().hex[:8]}")
    running = client.create_run(experiment_id, run_name="training").info.run_id
    client.log_metric(running, "m", 0.0, step=0)
    app = TuitrackApp(open_store(server.url), clock=fixed_clock, live=LiveOptions(poll=0.2))
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        assert "asking every 0.2s" in app.screen.watch_mode
        # a server's disk is not measured: no Disk column waiting for sizes that never come
        assert "disk" not in [c.key for c in app.screen.query_one(RunsTable).all_columns]
        await follow_mlflow_writing(pilot, client, experiment_id, running)


async def test_edit_keys_on_a_tracking_server_and_no_purge(mlflow_server):
    server, _ = mlflow_server
    client = server.client()
    experiment_id = client.create_experiment(f"app-{uuid.uuid4().hex[:8]}")
    run_id = client.create_run(experiment_id, run_name="r").info.run_id
    client.set_terminated(run_id)
    app = TuitrackApp(open_store(server.url), clock=fixed_clock, live=LiveOptions(watch=False))
    async with app.run_test(size=(120, 40), notifications=True) as pilot:
        await settle(pilot)
        await focus_run(pilot, run_id)
        await pilot.press("t", *"team=nlp", "enter")
        await settle(pilot)
        assert client.get_run(run_id).data.tags["team"] == "nlp"
        await pilot.press("d", "y")
        await settle(pilot)
        assert client.get_run(run_id).info.lifecycle_stage == "deleted"
        await pilot.press("full_stop")  # show deleted runs
        await focus_run(pilot, run_id)
        await pilot.press("X")  # said at once, before any confirmation
        await settle(pilot)
        assert app.screen is not None and type(app.screen).__name__ == "MainScreen"
        assert client.get_run(run_id).info.lifecycle_stage == "deleted"  # still there
        assert any("REST API cannot purge" in n.message for n in app._notifications)


async def test_a_store_that_stops_answering_is_said_and_recovery_too(sqlite_store, monkeypatch):
    db, ids = sqlite_store
    store = open_store(str(db))
    app = TuitrackApp(store, clock=fixed_clock, live=LiveOptions(poll=0.1))
    real_changes = store.changes
    down = [True]

    def changes(paths):
        if down[0]:
            raise StoreError("http://example:5000: cannot reach the MLflow tracking server (Connection refused)")
        return real_changes(paths)

    async with app.run_test(size=(120, 40), notifications=True) as pilot:
        await settle(pilot)
        monkeypatch.setattr(store, "changes", changes)
        status = app.screen.query_one("#status-bar")
        await eventually(pilot, lambda: "not following: http://example:5000" in str(status.render()))
        # a notification reaches the app a moment after the status bar changes
        await eventually(pilot, lambda: any("Cannot follow the store" in n.message for n in app._notifications))
        down[0] = False
        await eventually(pilot, lambda: "not following" not in str(status.render()))
        await eventually(pilot, lambda: any("answers again" in n.message for n in app._notifications))


async def test_a_reload_that_fails_says_why_and_keeps_the_view(sqlite_store, monkeypatch):
    db, ids = sqlite_store
    store = open_store(str(db))
    app = TuitrackApp(store, clock=fixed_clock, live=LiveOptions(watch=False))
    async with app.run_test(size=(120, 40), notifications=True) as pilot:
        await settle(pilot)

        def refuse(*args, **kwargs):
            raise StoreError("http://example:5000: cannot reach the MLflow tracking server")

        monkeypatch.setattr(store, "experiments", refuse)
        await pilot.press("ctrl+r")
        await eventually(pilot, lambda: "reading failed" in str(app.screen.query_one("#status-bar").render()))
        assert "reloading" not in str(app.screen.query_one("#status-bar").render())
        assert ids.runs["parent"] in app.screen.query_one(RunTree).run_nodes  # the last good view


async def test_a_remote_plot_grows_while_the_run_logs(mlflow_server):
    server, _ = mlflow_server
    client = server.client()
    experiment_id = client.create_experiment(f"plot-{uuid.uuid4().hex[:8]}")
    running = client.create_run(experiment_id, run_name="training").info.run_id
    for step in range(10):
        client.log_metric(running, "loss", 1 / (step + 1), step=step)
    app = TuitrackApp(open_store(server.url), clock=fixed_clock, live=LiveOptions(poll=0.2))
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        screen = app.screen
        await screen.select_run(running)
        await settle(pilot)
        await pilot.press("p")
        await settle(pilot)
        assert screen._histories[(running, "loss")].points[-1].step == 9
        await asyncio.to_thread(lambda: [client.log_metric(running, "loss", 0.01, step=s) for s in range(10, 30)])
        await eventually(pilot, lambda: screen._histories[(running, "loss")].points[-1].step == 29)
        assert [p.step for p in screen._histories[(running, "loss")].points] == list(range(30))
        await pilot.press("p")  # hidden while the run goes on, then shown again: it catches up
        await settle(pilot)
        await asyncio.to_thread(lambda: [client.log_metric(running, "loss", 0.01, step=s) for s in range(30, 35)])
        await asyncio.sleep(0.5)
        await pilot.press("p")
        await eventually(pilot, lambda: screen._histories[(running, "loss")].points[-1].step == 34)


async def test_an_edit_waiting_for_a_locked_database_says_so(sqlite_store, monkeypatch):
    import sqlite3

    from tuitrack.app.screens import editing

    db, ids = sqlite_store
    monkeypatch.setattr(editing, "SLOW_EDIT_S", 0.1)
    app = TuitrackApp(open_store(str(db)), clock=fixed_clock, live=LiveOptions(watch=False))
    async with app.run_test(size=(120, 40), notifications=True) as pilot:
        await settle(pilot)
        await focus_run(pilot, ids.runs["parent"])
        holder = sqlite3.connect(db, isolation_level=None)
        holder.execute("BEGIN IMMEDIATE")  # a training process writing
        await pilot.press("t", *"team=nlp", "enter")
        await eventually(pilot, lambda: any("waiting for the store" in n.message for n in app._notifications))
        holder.execute("ROLLBACK")
        await settle(pilot)
        assert sqlite_client(db).get_run(ids.runs["parent"]).data.tags["team"] == "nlp"
