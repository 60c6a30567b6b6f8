"""A store deleted or moved away while the app is open: the app says so, keeps what it showed
(marked as not live), and reads the store again when it comes back."""

from __future__ import annotations

import os
import shutil

import pytest

from tests.app_helpers import make_app, settle
from tests.hostile_shapes import EXPERIMENT_ID, make_cycles
from tests.test_app_live import eventually
from tuitrack.app.screens import main
from tuitrack.app.widgets.run_tree import RunTree


def status(app) -> str:
    return str(app.screen.query_one("#status-bar").render())


@pytest.fixture(autouse=True)
def quick_checks(monkeypatch):
    monkeypatch.setattr(main, "GONE_EVERY", 0.1)


async def test_a_moved_store_is_said_gone_and_read_again_when_back(tmp_path):
    root = tmp_path / "mlruns"
    ids = make_cycles(root)
    canary = root / "canary.txt"
    canary.write_text("stays")
    app = make_app(root)
    async with app.run_test(size=(140, 30)) as pilot:
        await settle(pilot)
        tree = app.screen.query_one(RunTree)
        assert set(ids.values()) <= set(tree.run_nodes)
        away = tmp_path / "elsewhere"
        os.rename(root, away)
        await eventually(pilot, lambda: "the store is gone" in status(app))
        assert str(root) in status(app) and "live (" not in status(app)
        # What was there stays on screen, and a change in the moved folder does not reach it.
        shutil.rmtree(away / EXPERIMENT_ID / ids["orphan"])
        await pilot.pause(0.5)
        assert set(ids.values()) <= set(tree.run_nodes) and "7 runs" in status(app)
        os.rename(away, root)
        await eventually(pilot, lambda: "the store is gone" not in status(app) and "6 runs" in status(app))
        await settle(pilot)
        assert ids["orphan"] not in tree.run_nodes and ids["selfish"] in tree.run_nodes
        assert canary.read_text() == "stays"


async def test_a_deleted_database_is_said_gone(sqlite_store):
    db, ids = sqlite_store
    app = make_app(db)
    async with app.run_test(size=(140, 30)) as pilot:
        await settle(pilot)
        runs = len(app.screen.index.all_runs())
        kept = db.with_name("kept.db")
        os.rename(db, kept)
        await eventually(pilot, lambda: "the store is gone" in status(app))
        assert len(app.screen.index.all_runs()) == runs
        os.rename(kept, db)
        await eventually(pilot, lambda: "the store is gone" not in status(app))
        await settle(pilot)
        assert len(app.screen.index.all_runs()) == runs
