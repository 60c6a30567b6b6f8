"""Changing runs from the keyboard: every edit key, confirmations, undo, and errors as messages."""

from __future__ import annotations

from mlflow.entities import ViewType

from tests.app_helpers import settle
from tests.conftest import fixed_clock
from tests.mlflow_stores import client_for
from tuitrack.app.app import TuitrackApp
from tuitrack.live.options import LiveOptions
from tuitrack.app.screens.dialogs import Confirm, NoteEditor
from tuitrack.app.screens.purge_dialog import PurgeConfirm
from tuitrack.app.widgets.run_tree import RunTree
from tuitrack.app.widgets.runs_table import RunsTable
from tuitrack.store import open_store


def app_for(root) -> TuitrackApp:
    return TuitrackApp(open_store(str(root)), clock=fixed_clock, live=LiveOptions(watch=False))


def app_while_running(root) -> TuitrackApp:
    """The app a minute after the RUNNING run's last point: it is alive, not stale."""
    from tests.mlflow_stores import T0

    return TuitrackApp(open_store(str(root)), clock=lambda: T0 / 1000 + 60, live=LiveOptions(watch=False))


async def focus_run(pilot, run_id: str) -> None:
    await pilot.app.screen.select_run(run_id)
    pilot.app.screen.query_one(RunTree).focus()
    await settle(pilot)


async def test_tag_marked_runs_and_undo(reference_store):
    root, ids = reference_store
    app = app_for(root)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        for name in ("parent", "child"):
            await focus_run(pilot, ids.runs[name])
            await pilot.press("space")
        await pilot.press("t")
        await pilot.press(*"team=vision", "enter")
        await settle(pilot)
        client = client_for(root)
        assert all(client.get_run(ids.runs[n]).data.tags["team"] == "vision" for n in ("parent", "child"))
        assert app.screen.index.run(ids.runs["parent"]).tags["team"] == "vision"  # the screen knows
        await pilot.press("u")
        await settle(pilot)
        assert all("team" not in client.get_run(ids.runs[n]).data.tags for n in ("parent", "child"))


async def test_remove_tag_note_and_rename_with_undo(reference_store):
    root, ids = reference_store
    app = app_for(root)
    client = client_for(root)
    run_id = ids.runs["parent"]
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await focus_run(pilot, run_id)
        await pilot.press("t", *"-custom.tag", "enter")
        await settle(pilot)
        assert "custom.tag" not in client.get_run(run_id).data.tags
        await pilot.press("e")
        assert isinstance(app.screen, NoteEditor)
        app.screen.query_one("#note").text = "new note"
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert client.get_run(run_id).data.tags["mlflow.note.content"] == "new note"
        await pilot.press("R", *"renamed", "enter")  # the old name is selected: typing replaces it
        await settle(pilot)
        assert client.get_run(run_id).info.run_name == "renamed"
        assert "renamed" in str(app.screen.query_one(RunTree).run_nodes[run_id].label)
        await pilot.press("u")
        await settle(pilot)
        assert client.get_run(run_id).info.run_name == "parent"
        await pilot.press("u")
        await settle(pilot)
        assert client.get_run(run_id).data.tags["mlflow.note.content"] == "A note\non two lines"
        await pilot.press("u")
        await settle(pilot)
        assert client.get_run(run_id).data.tags["custom.tag"] == "v"


async def test_delete_asks_then_undo_restores(reference_store):
    root, ids = reference_store
    app = app_for(root)
    client = client_for(root)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await focus_run(pilot, ids.runs["failed"])
        await pilot.press("d")
        assert isinstance(app.screen, Confirm)
        await pilot.press("n")
        await settle(pilot)
        assert client.get_run(ids.runs["failed"]).info.lifecycle_stage == "active"
        await pilot.press("d", "y")
        await settle(pilot)
        assert client.get_run(ids.runs["failed"]).info.lifecycle_stage == "deleted"
        assert ids.runs["failed"] not in app.screen.query_one(RunTree).run_nodes  # hidden now
        await pilot.press("u")
        await settle(pilot)
        assert client.get_run(ids.runs["failed"]).info.lifecycle_stage == "active"


async def test_running_runs_are_left_alone(reference_store):
    root, ids = reference_store
    app = app_while_running(root)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await focus_run(pilot, ids.runs["running"])
        await pilot.press("d")
        await settle(pilot)
        assert not isinstance(app.screen, Confirm)
        assert client_for(root).get_run(ids.runs["running"]).info.lifecycle_stage == "active"


async def test_delete_and_restore_an_experiment(reference_store):
    import time

    root, ids = reference_store
    # A day later, its never-finished run is stale (a dead script), so the experiment may go.
    app = TuitrackApp(open_store(str(root)), clock=lambda: time.time() + 86_400, live=LiveOptions(watch=False))
    client = client_for(root)
    beta = ids.experiments["alpha"]
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        tree = app.screen.query_one(RunTree)
        tree.focus()
        tree.select_experiment(beta)
        await settle(pilot)
        await pilot.press("d", "y")
        await settle(pilot)
        assert client.get_experiment(beta).lifecycle_stage == "deleted"
        await pilot.press("full_stop")  # show deleted: the experiment is there, in .trash
        await settle(pilot)
        tree.select_experiment(beta)
        await settle(pilot)
        await pilot.press("r")
        await settle(pilot)
        assert client.get_experiment(beta).lifecycle_stage == "active"
        active = client.search_runs([beta], run_view_type=ViewType.ACTIVE_ONLY)
        assert len(active) == 4  # parent, child, failing, with-dataset


async def test_purge_needs_the_word_and_cannot_be_undone(reference_store):
    root, ids = reference_store
    app = app_for(root)
    target = root / ids.experiments["beta"] / ids.runs["deleted"]
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await pilot.press("full_stop")
        await settle(pilot)
        await focus_run(pilot, ids.runs["deleted"])
        await pilot.press("X")
        assert isinstance(app.screen, PurgeConfirm)
        await pilot.press(*"nope", "enter")
        await settle(pilot)
        assert target.exists()
        await pilot.press("X")
        await settle(pilot)  # the plan is shown
        await pilot.press(*"purge", "enter")
        await settle(pilot)
        assert not target.exists()
        assert len(app.screen.undo_stack) == 0


async def test_mark_all_and_invert():
    from tests.app_helpers import make_app

    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        screen = app.screen
        run = next(r for r in screen.index.all_runs() if r.run_name == "lr=0.1")
        await screen.select_run(run.run_id)
        await settle(pilot)
        await pilot.press("A")
        table = screen.query_one(RunsTable)
        assert set(screen.marked) == {r.run_id for r in table.runs}
        await pilot.press("space", "I")  # unmark one, then invert: only that one is marked
        assert list(screen.marked) == [run.run_id]


async def test_stale_run_marked_killed(reference_store):
    root, ids = reference_store
    now = [fixed_clock()]
    app = TuitrackApp(open_store(str(root)), clock=lambda: now[0], live=LiveOptions(watch=False))
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        written = app.screen.index.last_write(ids.runs["running"])
        now[0] = written / 1000 + 3600
        await focus_run(pilot, ids.runs["running"])
        await pilot.press("K")
        assert isinstance(app.screen, Confirm)  # K asks first, naming the run
        assert "still-running" in " ".join(app.screen.lines)
        await pilot.press("y")
        await settle(pilot)
        info = client_for(root).get_run(ids.runs["running"]).info
        assert info.status == "KILLED" and info.end_time == written


async def test_errors_are_messages_and_nothing_is_half_done(reference_store, monkeypatch):
    root, ids = reference_store
    app = app_for(root)
    async with app.run_test(size=(120, 40), notifications=True) as pilot:
        await settle(pilot)
        store = app.screen.index.store

        def read_only(*args, **kwargs):
            raise PermissionError(13, "Permission denied", str(root))

        monkeypatch.setattr(store, "set_tags", read_only)
        await focus_run(pilot, ids.runs["parent"])
        await pilot.press("t", *"a=b", "enter")
        await settle(pilot)
        messages = [n.message for n in app._notifications]
        assert any("Not done: Permission denied" in m for m in messages)
        assert len(app.screen.undo_stack) == 0
        assert "a" not in client_for(root).get_run(ids.runs["parent"]).data.tags


async def test_experiment_with_a_running_run_is_not_deleted(reference_store):
    root, ids = reference_store
    app = app_while_running(root)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        tree = app.screen.query_one(RunTree)
        tree.focus()
        tree.select_experiment(ids.experiments["beta"])  # holds the RUNNING run
        await settle(pilot)
        await pilot.press("d")
        await settle(pilot)
        assert not isinstance(app.screen, Confirm)
        assert client_for(root).get_experiment(ids.experiments["beta"]).lifecycle_stage == "active"


async def open_prune(pilot, statuses: tuple[str, ...], whole_store: bool = True):
    from textual.widgets import Checkbox

    await pilot.press("P")
    await pilot.pause()
    panel = pilot.app.screen
    for status in statuses:
        panel.query_one(f"#status-{status}", Checkbox).value = True
    if whole_store:
        panel.query_one("#scope", Checkbox).value = False
    await pilot.pause()
    return panel


async def test_prune_panel_previews_applies_and_undoes(reference_store):
    from tuitrack.app.screens.prune import PruneScreen

    root, ids = reference_store
    app = app_for(root)
    client = client_for(root)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        main_screen = app.screen
        panel = await open_prune(pilot, ("FAILED", "KILLED"))
        assert isinstance(panel, PruneScreen)
        assert {v.run.run_id for v in panel.doomed} == {ids.runs["failed"], ids.runs["killed"]}
        assert "2 of 8 runs would be deleted" in str(panel.query_one("#summary").render())
        tree = main_screen.query_one(RunTree)
        assert str(tree.run_nodes[ids.runs["failed"]].label).startswith("×")
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert not isinstance(app.screen, PruneScreen) and main_screen.prune_preview == set()
        deleted = {r.info.run_id for r in client.search_runs(
            [ids.experiments["alpha"], ids.experiments["beta"]], run_view_type=ViewType.DELETED_ONLY)}
        assert deleted == {ids.runs["failed"], ids.runs["killed"], ids.runs["deleted"]}
        await pilot.press("u")  # one undo brings both back
        await settle(pilot)
        assert client.get_run(ids.runs["failed"]).info.lifecycle_stage == "active"
        assert client.get_run(ids.runs["killed"]).info.lifecycle_stage == "active"


async def test_prune_panel_purges_with_the_word(reference_store):
    root, ids = reference_store
    app = app_for(root)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await open_prune(pilot, ("KILLED",))
        await pilot.press("ctrl+x")
        await settle(pilot)  # the plan is shown
        assert isinstance(app.screen, PurgeConfirm)
        await pilot.press(*"purge", "enter")
        await settle(pilot)
        assert not (root / ids.experiments["beta"] / ids.runs["killed"]).exists()


async def test_prune_panel_shows_rule_errors(reference_store):
    root, _ = reference_store
    app = app_for(root)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await pilot.press("P")
        await pilot.pause()
        await pilot.press(*"soon")
        await pilot.pause()
        assert "is not a duration" in str(app.screen.query_one("#summary").render())


async def test_a_rename_renames_the_run_on_the_plot_too(reference_store):
    """The plot's title (one run) and legend name the run: renamed from the plot view (or by a
    script), it says the new name, and undo the old one, without the plot being asked again."""
    from tuitrack.app.widgets.metric_plot import MetricPlot

    root, ids = reference_store
    app = app_for(root)
    run_id = ids.runs["parent"]
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await focus_run(pilot, run_id)
        await pilot.press("p")
        await settle(pilot)
        plot = app.screen.query_one(MetricPlot)
        assert plot.display and [r.label for r in plot.runs] == ["parent"]
        await pilot.press("R", *"renamed", "enter")
        await settle(pilot)
        assert [r.label for r in plot.runs] == ["renamed"]
        await pilot.press("u")
        await settle(pilot)
        assert [r.label for r in plot.runs] == ["parent"]
