"""The app's purge dialogs show the plan: the exact space freed and what is left in place."""

from __future__ import annotations

from textual.widgets import Static

from tests.app_helpers import settle
from tests.test_app_edit import app_for, focus_run, open_prune
from tests.test_purge_plan import canary, du, files_of, set_artifact_uri
from tuitrack.app.screens.dialogs import TypeToConfirm
from tuitrack.formatting import format_bytes


def dialog_text(app) -> str:
    return "\n".join(str(s.render()) for s in app.screen.query(Static))


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
        assert isinstance(app.screen, TypeToConfirm)
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
        await pilot.pause()
        assert isinstance(app.screen, TypeToConfirm)
        text = dialog_text(app)
        assert f"frees {format_bytes(size)}" in text and "store root" in text
        await pilot.press(*"purge", "enter")
        await settle(pilot)
        assert not own.exists() and (root / ids.experiments["alpha"]).is_dir() and (root / ".trash").is_dir()
