"""What users see: the main screen, the detail view and the help screen, at 80x24 and 120x40.

Update after an intended change with `pytest tests/test_snapshots.py --snapshot-update`, and look
at snapshot_report.html before committing the new SVGs.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.app_helpers import settle
from tests.conftest import SAMPLE, fixed_clock
from tuitrack.app.app import TuitrackApp
from tuitrack.store.mlflow_file import MlflowFileStore

SIZES = [(80, 24), (120, 40)]


class ApparentSizeStore(MlflowFileStore):
    """Disk use counted in the sizes of files, not blocks: blocks (and a folder's own size)
    depend on the filesystem the clone lands on (btrfs stores small files inline, tmpfs and ext4
    size folders differently), and a snapshot must not."""

    def disk_usage(self, run):
        folder = Path(self.run_dir(run))
        return sum(p.lstat().st_size for p in folder.rglob("*") if not p.is_dir() or p.is_symlink())


def sample_app() -> TuitrackApp:
    # A relative location, so that the status bar reads the same wherever the repo is cloned.
    return TuitrackApp(ApparentSizeStore(SAMPLE, location="sample_runs/mlruns"), clock=fixed_clock)


async def goto(pilot, name: str) -> None:
    screen = pilot.app.screen
    run = next(r for r in screen.index.all_runs() if r.run_name == name)
    await screen.select_run(run.run_id)
    await settle(pilot)


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_main_screen(snap_compare, size):
    async def run_before(pilot):
        await settle(pilot)
        await goto(pilot, "lr-too-high")

    assert snap_compare(sample_app(), terminal_size=size, run_before=run_before)


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_detail_view(snap_compare, size):
    async def run_before(pilot):
        await settle(pilot)
        await goto(pilot, "lr-too-high")
        pilot.app.screen.action_open_detail()
        await settle(pilot)

    assert snap_compare(sample_app(), terminal_size=size, run_before=run_before)


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_help_screen(snap_compare, size):
    async def run_before(pilot):
        await settle(pilot)
        await pilot.press("question_mark")
        await pilot.pause()

    assert snap_compare(sample_app(), terminal_size=size, run_before=run_before)


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_filtered_with_deleted(snap_compare, size):
    async def run_before(pilot):
        await settle(pilot)
        await pilot.press("full_stop")
        await pilot.press("slash", *"lr=0.01")
        await settle(pilot)
        # "Showing deleted runs" lasts 2 s: whether it is still there depends on the machine's
        # load, so the picture is taken without it.
        pilot.app.clear_notifications()
        await pilot.pause()

    assert snap_compare(sample_app(), terminal_size=size, run_before=run_before)


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_plot_pane(snap_compare, size):
    async def run_before(pilot):
        await settle(pilot)
        await goto(pilot, "lr-too-high")
        await pilot.press("p")
        await settle(pilot)

    assert snap_compare(sample_app(), terminal_size=size, run_before=run_before)


def test_plot_marked_runs_smoothed(snap_compare):
    async def run_before(pilot):
        await settle(pilot)
        for name in ("lr=0.1", "lr=0.01", "lr=0.003"):
            await goto(pilot, name)
            pilot.app.screen.action_toggle_mark()
        await pilot.press("p", "i", "plus", "plus")
        await settle(pilot)

    assert snap_compare(sample_app(), terminal_size=(120, 40), run_before=run_before)


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_grouped_table(snap_compare, size):
    """`b`, lr ticked: mnist-cnn's runs as groups (lr=0.01 holds a sweep child and baseline-mlp;
    the sweep's parent has no lr), the cursor on lr=0.01."""
    async def run_before(pilot):
        await settle(pilot)
        await goto(pilot, "baseline-mlp")
        await pilot.press("b")
        await pilot.pause()
        chooser = pilot.app.screen
        await pilot.press(*["j"] * chooser.params.index("lr"), "space", "enter")
        await settle(pilot)
        await pilot.press("tab", "j")
        await settle(pilot)

    assert snap_compare(sample_app(), terminal_size=size, run_before=run_before)
