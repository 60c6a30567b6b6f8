"""A run with tens of thousands of metrics and params: the detail, the table, the metric picker
and the column chooser take them in bounded pieces, so keys keep answering."""

from __future__ import annotations

import pytest
from rich.console import Console

from tests.app_helpers import make_app, settle
from tests.hostile_shapes import make_wide_run
from tuitrack.app.screens.columns import ColumnChooser
from tuitrack.app.screens.metric_picker import MAX_LISTED, MetricPicker
from tuitrack.app.widgets.metric_plot import MetricPlot
from tuitrack.app.widgets.run_detail import DETAIL_ROWS, RunDetail
from tuitrack.app.widgets.runs_table import MAX_COLUMNS, RunsTable
from textual.widgets import SelectionList

KEYS = 20_000  # far past every limit; the bench uses 100,000


@pytest.fixture(scope="module")
def wide_store(tmp_path_factory):
    root = tmp_path_factory.mktemp("wide") / "mlruns"
    run_id = make_wide_run(root, metrics=KEYS, params=KEYS)
    return root, run_id


def detail_text(detail: RunDetail) -> str:
    console = Console(width=120, record=True, file=open("/dev/null", "w"))
    console.print(detail.query_one("#detail-body").content)
    return console.export_text()


async def test_a_wide_run_is_shown_in_bounded_pieces(wide_store):
    root, run_id = wide_store
    app = make_app(root)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot, timeout=120)
        screen = app.screen
        await screen.select_run(run_id)
        await settle(pilot, timeout=120)
        detail = screen.query_one(RunDetail)
        text = detail_text(detail)
        metrics = len(screen.index.run(run_id).metrics)  # KEYS and a loss
        assert f"… {metrics - DETAIL_ROWS:,} more metrics" in text
        assert f"… {KEYS - DETAIL_ROWS:,} more params" in text
        assert "m000098" in text and "m000099" not in text and "p000099" in text  # loss comes first
        assert len(text.splitlines()) < 4 * DETAIL_ROWS
        # Summaries (min, max: full reads) only for the rows shown.
        assert len(screen._detail_cache[run_id][0]) == DETAIL_ROWS
        detail.focus()
        await pilot.press("plus")
        await settle(pilot)
        text = detail_text(detail)
        assert "m000198" in text and f"… {metrics - 2 * DETAIL_ROWS:,} more metrics" in text
        assert len(screen._detail_cache[run_id][0]) == 2 * DETAIL_ROWS
        # The table shows a bounded number of columns and says how many more there are.
        table = screen.query_one(RunsTable)
        assert len(table.columns) == MAX_COLUMNS
        assert table.more_columns == len(table.all_columns) - MAX_COLUMNS > 2 * KEYS - MAX_COLUMNS
        table.focus()
        await pilot.press("j", "k", "l", "l")
        assert table.cursor_column == 2 and table.highlighted_run.run_id == run_id


async def test_the_picker_and_the_chooser_list_a_bounded_number_and_narrow(wide_store):
    root, run_id = wide_store
    app = make_app(root)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot, timeout=120)
        screen = app.screen
        await screen.select_run(run_id)
        await pilot.press("p")
        await settle(pilot, timeout=120)
        plot = screen.query_one(MetricPlot)
        plot.focus()
        await pilot.press("m")
        await pilot.pause()
        assert isinstance(app.screen, MetricPicker)
        options = app.screen.query_one(SelectionList)
        assert options.option_count == MAX_LISTED
        assert "type to narrow" in str(app.screen.query_one("#metric-more").render())
        await pilot.press(*"m01234")
        assert options.get_option_at_index(0).value == "m001234" and options.option_count <= MAX_LISTED
        await pilot.press("5")
        assert [options.get_option_at_index(i).value for i in range(options.option_count)] == ["m012345"]
        await pilot.press("down", "space", "enter")
        await settle(pilot)
        assert plot.metrics == ["loss", "m012345"]
        # The column chooser: bounded too; narrowing and toggling shows a column past the limit.
        screen.query_one(RunsTable).focus()
        await pilot.press("C")
        await pilot.pause()
        assert isinstance(app.screen, ColumnChooser)
        assert app.screen.query_one(SelectionList).option_count == MAX_LISTED
        await pilot.press("slash", *"metric m019999")
        await pilot.press("enter", "space")
        assert "param p000092 off: 100 columns at most" in str(app.screen.query_one("#column-more").render())
        await pilot.press("enter")
        await pilot.pause()
        table = screen.query_one(RunsTable)
        shown = [c.key for c in table.columns]
        assert "metric:m019999" in shown and "param:p000092" not in shown and len(shown) == MAX_COLUMNS
