"""What the system view (`3`) looks like, at 80x24 and 120x40: a run whose system metrics MLflow
logged (tests/system_stores.py), and a run without any.

Update after an intended change with `pytest tests/test_system_snapshots.py --snapshot-update`,
and look at snapshot_report.html before committing the new SVGs.
"""

from __future__ import annotations

import pytest

from tests.app_helpers import settle
from tests.conftest import fixed_clock
from tests.system_stores import write_system_store
from tuitrack.app.app import TuitrackApp
from tuitrack.store.mlflow_file import MlflowFileStore

SIZES = [(80, 24), (120, 40)]


class SteadyStore(MlflowFileStore):
    """No Disk column: a run's size counts its meta.yaml, which holds the temporary folder's path."""

    measures_disk = False


@pytest.fixture(scope="module")
def system_master(tmp_path_factory):
    root = tmp_path_factory.mktemp("system-snapshots") / "mlruns"
    return root, write_system_store(root)


def app_on(root) -> TuitrackApp:
    # A fixed location, so that the status bar reads the same wherever the test runs.
    return TuitrackApp(SteadyStore(root, location="gpu/mlruns"), clock=fixed_clock)


def show_system_of(run_id: str):
    async def run_before(pilot):
        await settle(pilot)
        await pilot.app.screen.select_run(run_id)
        await pilot.press("3")
        await settle(pilot)

    return run_before


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_system_view(snap_compare, system_master, size):
    root, ids = system_master
    assert snap_compare(app_on(root), terminal_size=size, run_before=show_system_of(ids["system"]))


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_system_view_without_system_metrics(snap_compare, system_master, size):
    root, ids = system_master
    assert snap_compare(app_on(root), terminal_size=size, run_before=show_system_of(ids["plain"]))
