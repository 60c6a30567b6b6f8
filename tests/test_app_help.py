"""`?` on every screen: that screen's keys first, then the rest, and every key the README names."""

from __future__ import annotations

import io
import re
from pathlib import Path

from tests.app_helpers import settle
from tests.svg_text import screen_lines
from tests.test_app_edit import app_for, focus_run
from tuitrack.app.screens.compare import CompareScreen
from tuitrack.app.screens.dialogs import Confirm, Prompt
from tuitrack.app.screens.help import EXTRA, HelpScreen
from tuitrack.app.screens.prune import PruneScreen
from tuitrack.app.widgets.metric_plot import MetricPlot

README = Path(__file__).resolve().parent.parent / "README.md"
SYMBOLS = {"↓": "down", "↑": "up", "←": "left", "→": "right", "/": "slash", ".": "full_stop", "?": "question_mark",
           "+": "plus", "-": "minus", "[": "left_square_bracket", "]": "right_square_bracket"}


async def open_help(pilot):
    await pilot.press("f1")
    assert isinstance(pilot.app.screen, HelpScreen)
    sections = pilot.app.screen.sections
    await pilot.press("escape")
    return sections


async def test_each_screen_lists_its_own_keys_first(reference_store):
    root, ids = reference_store
    app = app_for(root)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await focus_run(pilot, ids.runs["parent"])
        first = (await open_help(pilot))[0]
        assert first[0].startswith("Tree")

        await pilot.press("t")
        assert isinstance(app.screen, Prompt)
        first = (await open_help(pilot))[0]
        assert first[0].startswith("This prompt") and {b.action for b in first[1]} == {"cancel"}
        await pilot.press("escape")

        await pilot.press("d")
        assert isinstance(app.screen, Confirm)
        sections = await open_help(pilot)
        assert sections[0][0].startswith("This question")
        assert {"answer(True)", "answer(False)"} <= {b.action for b in sections[0][1]}
        assert any(title.startswith("Everywhere") for title, _ in sections)  # then the rest
        await pilot.press("n")

        await pilot.press("p", "i")
        await settle(pilot)
        assert isinstance(app.focused, MetricPlot)
        first = (await open_help(pilot))[0]
        assert first[0].startswith("Plot") and "zoom(2.0)" in {b.action for b in first[1]}
        await pilot.press("p")

        await pilot.press("P")
        await settle(pilot)
        assert isinstance(app.screen, PruneScreen)
        assert (await open_help(pilot))[0][0].startswith("The prune panel")
        await pilot.press("escape")
        await settle(pilot)

        for name in ("parent", "child"):
            await focus_run(pilot, ids.runs[name])
            app.screen.action_toggle_mark()
        await pilot.press("c")
        await settle(pilot)
        assert isinstance(app.screen, CompareScreen)
        sections = await open_help(pilot)
        assert sections[0][0].startswith("Compare") and "toggle_diff" in {b.action for b in sections[0][1]}


def _readme_keys() -> set[str]:
    """The keys of the README's table of the app's keys, as binding key names."""
    text = README.read_text()
    table = text[text.index("| keys | where | what |"):]
    table = table[:table.index("\n\n")]
    keys = set()
    for row in table.splitlines()[2:]:
        for key in re.findall(r"`([^`]+)`", row.split("|")[1]):
            keys.add(SYMBOLS.get(key, key))
    return keys


async def test_every_key_the_readme_names_is_in_help(reference_store):
    root, _ = reference_store
    app = app_for(root)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        sections = await open_help(pilot)
        bound = {k.strip() for _, bindings in sections for b in bindings for k in b.key.split(",")}
        bound |= {key for _, key, _ in EXTRA}
        missing = _readme_keys() - bound
        assert not missing, f"README keys not in ? help: {sorted(missing)}"


async def test_checkboxes_read_without_colour(reference_store):
    """On and off boxes differ by their character, not their colour (NO_COLOR, 16 colours)."""
    from textual.widgets import Checkbox, SelectionList

    root, _ = reference_store
    app = app_for(root)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        app.screen.query_one("#table").focus()
        await pilot.press("C")
        await settle(pilot)
        choices = app.screen.query_one(SelectionList)
        boxes = [choices.render_line(y).text[:3] for y in range(3)]
        assert boxes[0] == "▐✓▌"  # Name is shown
        choices.deselect(choices.get_option_at_index(0).value)
        choices.refresh()
        assert choices.render_line(0).text[:3] == "▐ ▌"
        await pilot.press("escape")
        await pilot.press("P")
        await settle(pilot)
        box = app.screen.query_one("#split", Checkbox)
        assert "✓" not in box.render().plain
        box.value = True
        assert "✓" in box.render().plain


async def test_full_screen_views_offer_escape_not_full_screen(reference_store):
    root, ids = reference_store
    app = app_for(root)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await focus_run(pilot, ids.runs["parent"])
        await pilot.press("p", "i")
        await settle(pilot)
        assert "Full screen" in screen_lines(app)[-1]
        await pilot.press("enter")
        await settle(pilot)
        footer = screen_lines(app)[-1]
        assert app.screen.maximized is not None
        assert "Full screen" not in footer and "esc Back" in footer
        await pilot.press("escape")
        await settle(pilot)
        assert app.screen.maximized is None
        await pilot.press("p")  # the detail, full screen (enter in the tree)
        await focus_run(pilot, ids.runs["parent"])
        await pilot.press("enter")
        await settle(pilot)
        assert app.screen.maximized is not None and "esc Back" in screen_lines(app)[-1]
        await pilot.press("escape")
        assert app.screen.maximized is None


async def test_running_and_failed_differ_in_16_colours(reference_store):
    """The glyphs tell every status apart; in the default theme the colours do too, even when a
    terminal has only 16 (running was $warning, which becomes failed's bright red)."""
    from rich.color import Color, ColorSystem

    from tuitrack.app.status_look import STATUS_COLOURS

    root, _ = reference_store
    app = app_for(root)
    async with app.run_test(size=(80, 24)):
        variables = app.get_css_variables()

        def sixteen(status: str) -> int:
            name = STATUS_COLOURS[f"status-{status}"].split("$")[1].split(";")[0]
            return Color.parse(variables[name][:7]).downgrade(ColorSystem.STANDARD).number

        assert sixteen("running") != sixteen("failed")
        assert len({sixteen(s) for s in ("running", "finished", "failed")}) == 3


async def test_prune_panel_at_80x24_keeps_rows_still_and_hints_whole(reference_store):
    from textual.widgets import Checkbox, Label

    from tests.svg_text import screen_lines

    root, _ = reference_store
    app = app_for(root)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("P")
        await settle(pilot)
        box = app.screen.query_one("#status-FAILED", Checkbox)
        before = (box.region.y, box.region.height)
        box.focus()
        await settle(pilot)
        assert (box.region.y, box.region.height) == before  # focus does not move the row
        hints = [label for label in app.screen.query(Label) if "ctrl+s" in str(label.render())]
        assert hints and hints[0].region.height >= 2  # wrapped, not cut
        text = " ".join(screen_lines(app))
        assert "runs tagged keep" in text


async def test_notes_are_rendered_markdown_with_no_live_links(reference_store):
    from tests.mlflow_stores import client_for
    from tests.svg_text import screen_lines
    from tuitrack.model import NOTE_TAG

    root, ids = reference_store
    note = "# Findings\n\nThe **best** so far, see [the report](http://example.invalid/r)\n\n- lr 0.1\n- `seed=3`"
    client_for(root).set_tag(ids.runs["parent"], NOTE_TAG, note)
    app = app_for(root)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await focus_run(pilot, ids.runs["parent"])
        await pilot.press("enter")  # the detail, full screen
        await settle(pilot)
        text = "\n".join(screen_lines(app))
        assert "Findings" in text and "# Findings" not in text and "**best**" not in text
        assert "• lr 0.1" in text and "the report (http://example.invalid/r)" in text
        for strip in app.screen._compositor.render_strips():
            assert not any(segment.style and segment.style.link for segment in strip)


async def test_help_lists_a_key_bound_twice_for_one_action_once(reference_store):
    """`f1` is bound twice (once with priority, for text fields): help says `? / f1` once."""
    from rich.console import Console

    root, _ = reference_store
    app = app_for(root)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await pilot.press("f1")
        console = Console(width=100, record=True, file=io.StringIO())
        console.print(app.screen._table())
        lines = [line.split() for line in console.export_text().splitlines()]
        assert [words for words in lines if words[-1:] == ["Help"]] == [["?", "/", "f1", "Help"]]
