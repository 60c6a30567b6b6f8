"""What the filter's completion looks like: the candidates a second tab lists under the box, and
the inline suggestion, on the sample store at 80x24 and 120x40."""

from __future__ import annotations

import pytest

from tests.app_helpers import settle
from tests.test_snapshots import SIZES, sample_app


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_filter_candidates(snap_compare, size):
    async def run_before(pilot):
        await settle(pilot)
        await pilot.press("slash")
        await settle(pilot)
        pilot.app.screen.query_one("#filter").cursor_blink = False
        await pilot.press(*"params.", "tab")  # lists the sample's params
        await settle(pilot)

    assert snap_compare(sample_app(), terminal_size=size, run_before=run_before)


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_filter_suggestion(snap_compare, size):
    async def run_before(pilot):
        await settle(pilot)
        await pilot.press("slash")
        await settle(pilot)
        pilot.app.screen.query_one("#filter").cursor_blink = False
        await pilot.press(*"params.optimizer = 'a")  # 'adam' suggested, dimmed
        await settle(pilot)

    assert snap_compare(sample_app(), terminal_size=size, run_before=run_before)
