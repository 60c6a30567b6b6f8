"""The app's purge dialogs show the plan: the exact space freed and what is left in place."""

from __future__ import annotations

from textual.widgets import Static

from tests.app_helpers import settle
from tests.test_app_edit import app_for, focus_run, open_prune
from tests.test_purge_plan import canary, du, files_of, set_artifact_uri
from tuitrack.app.screens.purge_dialog import PurgeConfirm
from tuitrack.formatting import format_bytes


def dialog_text(app) -> str:
    return str(app.screen.query_one("#plan", Static).render())


async def test_x_says_what_is_left_in_place_and_frees_exactly_the_run(reference_store):
    root, ids = reference_store
    alpha = root / ids.experiments["alpha"]
    canary(alpha)
    set_artifact_uri(root, ids, "deleted", alpha.as_uri())  # names an experiment folder
    own = root / ids.experiments["beta"] / ids.runs["deleted"]
    size = du(own)
    before = files_of(alpha)
    app = app_for(root)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await pilot.press("full_stop")
        await settle(pilot)
        await focus_run(pilot, ids.runs["deleted"])
        await pilot.press("X")
        assert isinstance(app.screen, PurgeConfirm)
        await settle(pilot)  # the plan is made on a worker while the dialog is open
        text = dialog_text(app)
        assert f"frees {format_bytes(size)}" in text
        assert "left in place (1)" in text and str(alpha) in text and "experiment exp-alpha's folder" in text
        await pilot.press(*"purge", "enter")
        await settle(pilot)
        assert not own.exists() and files_of(alpha) == before
        assert any(f"freed {format_bytes(size)}" in n.message for n in app._notifications)


async def test_prune_panel_purge_dialog_shows_the_plan(reference_store):
    root, ids = reference_store
    set_artifact_uri(root, ids, "killed", root.as_uri())  # names the store root
    own = root / ids.experiments["beta"] / ids.runs["killed"]
    size = du(own)
    app = app_for(root)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await open_prune(pilot, ("KILLED",))
        await pilot.press("ctrl+x")
        await settle(pilot)
        assert isinstance(app.screen, PurgeConfirm)
        text = dialog_text(app)
        assert f"frees {format_bytes(size)}" in text and "store root" in text
        await pilot.press(*"purge", "enter")
        await settle(pilot)
        assert not own.exists() and (root / ids.experiments["alpha"]).is_dir() and (root / ".trash").is_dir()


async def test_enter_before_the_plan_shows_does_not_purge_until_enter_again(reference_store):
    import threading

    root, ids = reference_store
    own = root / ids.experiments["beta"] / ids.runs["deleted"]
    app = app_for(root)
    release = threading.Event()
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        store = pilot.app.screen.index.store
        planned = store.plan_purge

        def slow_plan(runs, experiments):
            release.wait(10)
            return planned(runs, experiments)

        store.plan_purge = slow_plan
        await pilot.press("full_stop")
        await settle(pilot)
        await focus_run(pilot, ids.runs["deleted"])
        await pilot.press("X", *"purge", "enter")  # a burst: the plan is still being made
        await pilot.pause()
        assert isinstance(app.screen, PurgeConfirm) and "Planning" in dialog_text(app)
        release.set()
        await settle(pilot)
        assert own.exists() and "press enter again" in dialog_text(app)
        assert "frees " in dialog_text(app)
        await pilot.press("enter")
        await settle(pilot)
        assert not own.exists()


async def test_escape_while_planning_cancels_cleanly(reference_store):
    import threading

    root, ids = reference_store
    own = root / ids.experiments["beta"] / ids.runs["deleted"]
    app = app_for(root)
    release = threading.Event()
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        store = pilot.app.screen.index.store
        planned = store.plan_purge
        store.plan_purge = lambda runs, experiments: (release.wait(10), planned(runs, experiments))[1]
        await pilot.press("full_stop")
        await settle(pilot)
        await focus_run(pilot, ids.runs["deleted"])
        await pilot.press("X", "escape")
        await pilot.pause()
        assert not isinstance(app.screen, PurgeConfirm)
        release.set()
        await settle(pilot)  # the plan arrives for a closed dialog: nothing happens
        assert own.exists() and not isinstance(app.screen, PurgeConfirm)
