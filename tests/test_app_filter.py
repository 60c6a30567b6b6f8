"""The filter box at 80x24: MLflow's filter language (bare attributes, backquoted names,
datasets), and an error shown in full under the input instead of cut in the status bar."""

from __future__ import annotations

from textual.widgets import Static

from tests.app_helpers import make_app, settle
from tuitrack.app.widgets.runs_table import RunsTable


def _shown_text(widget: Static) -> str:
    """What the widget paints, line by line, joined (a wrapped message comes back whole)."""
    lines = [widget.render_line(y).text.strip() for y in range(widget.size.height)]
    return " ".join(line for line in lines if line)


async def test_a_filter_error_is_shown_whole_under_the_input_at_80_columns(sample_store):
    app = make_app(sample_store)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        screen = app.screen
        await pilot.press("slash", *"loss < 0.5")
        await settle(pilot)
        error = screen.query_one("#filter-error", Static)
        assert screen.query_condition is None and "metrics.loss" in screen.query_error
        assert error.display and error.region.right <= 80 and error.size.height >= 2  # wrapped, not cut
        shown = _shown_text(error)
        assert " ".join(screen.query_error.split()) in " ".join(shown.split())
        # Not plain words: the table is not narrowed to runs that contain "loss", "<" and "0.5".
        assert screen.query_one("#filter").has_class("-invalid")
        for _ in "loss < 0.5":
            await pilot.press("backspace")
        await pilot.press(*"status = 'FAILED'")
        await settle(pilot)
        assert not error.display and screen.query_error == ""
        assert {r.status.name for r in screen.query_one(RunsTable).runs} == {"FAILED"}


async def test_backquoted_run_name_filters_in_the_app(sample_store):
    app = make_app(sample_store)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await pilot.press("slash", *"`Run name` LIKE 'lr=%'")
        await settle(pilot)
        names = {r.run_name for r in app.screen.query_one(RunsTable).runs}
        assert names and all(n.startswith("lr=") for n in names)
