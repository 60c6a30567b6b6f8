"""Keys typed in one burst, as they arrive over SSH: every key after one that opens a dialog goes
to the dialog, in order, and none reaches the screen underneath.

Pilot's `press` waits for the app to be idle after each key, which hides the problem; `burst`
hands the driver every key at once, as a terminal does."""

from __future__ import annotations

import asyncio

import pytest
from textual import events
from textual.app import _character_to_key

from tests.app_helpers import settle
from tests.test_app_edit import app_for, focus_run
from tuitrack.app.screens.columns import ColumnChooser
from tuitrack.app.screens.dialogs import NoteEditor, Prompt
from tuitrack.app.widgets.runs_table import RunsTable
from tuitrack.model import NOTE_TAG


def burst(app, *keys: str) -> None:
    for key in keys:
        name = _character_to_key(key) if len(key) == 1 and not key.isalnum() else key
        event = events.Key(name, key if len(key) == 1 else None)
        event.set_sender(app)
        app._driver.send_message(event)


async def settled(pilot) -> None:
    await settle(pilot)
    await pilot.pause(0.2)
    await settle(pilot)


async def test_tag_typed_in_one_burst(reference_store):
    root, ids = reference_store
    app = app_for(root)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        run_id = ids.runs["parent"]
        await focus_run(pilot, run_id)
        burst(app, "t", *"x=1", "enter")
        await settled(pilot)
        assert len(app.screen_stack) == 2  # the prompt closed again
        assert app.screen.index.run(run_id).tags.get("x") == "1"


@pytest.mark.parametrize("busy_prompt", [False, True])
async def test_rename_and_note_typed_in_one_burst(reference_store, monkeypatch, busy_prompt):
    """busy_prompt: on a loaded machine a key can take long to climb from the focused widget to
    the app (a screen busy drawing). The next key waits for it however long that is; a timeout
    had let the `e` after the rename's `enter` be typed into the name (in CI: "parent-v2e")."""

    async def busy_screen(self, event) -> None:
        if event.key == "enter":
            await asyncio.sleep(0.3)

    if busy_prompt:
        monkeypatch.setattr(Prompt, "on_key", busy_screen, raising=False)
    root, ids = reference_store
    app = app_for(root)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        run_id = ids.runs["parent"]
        await focus_run(pilot, run_id)
        main = app.screen
        old = main.index.run(run_id).run_name
        old_note = main.index.run(run_id).tags.get(NOTE_TAG)
        burst(app, "R", "end", *"-v2", "enter", "e", *"hi")
        await pilot.pause(0.5 if busy_prompt else 0)
        await settled(pilot)
        seen = f"screen {app.screen}, focus {app.focused}, notes {[n.message for n in app._notifications]}"
        assert main.index.run(run_id).run_name == f"{old}-v2", seen
        assert isinstance(app.screen, NoteEditor), seen  # e, after the rename prompt closed, opened the note
        assert app.screen.query_one("#note").text.startswith("hi")  # typed at the cursor
        assert main.index.run(run_id).tags.get(NOTE_TAG) == old_note  # nothing saved yet


async def test_column_picker_burst_toggles_in_the_picker_not_underneath(reference_store):
    root, ids = reference_store
    app = app_for(root)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        run_id = ids.runs["parent"]
        await focus_run(pilot, run_id)
        main = app.screen
        table = main.query_one(RunsTable)
        table.focus()
        await settle(pilot)
        hidden_before = set(main.hidden_columns)
        marked_before = set(main.marked)
        burst(app, "C", "j", "space", "enter")
        await settled(pilot)
        assert not isinstance(app.screen, ColumnChooser)  # enter applied it
        assert set(main.marked) == marked_before  # the space did not mark a run underneath
        assert main.hidden_columns != hidden_before  # it toggled the picker's second column instead

