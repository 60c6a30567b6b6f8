"""The app on entrenar and fetch_ml folders: it shows their runs, and follows them as they change."""

from __future__ import annotations

import asyncio
import json

import pytest

from tests.app_helpers import settle
from tests.conftest import fixed_clock
from tests.other_trackers import (
    entrenar_record,
    log_metric,
    metric_record,
    write_entrenar,
    write_entrenar_store,
    write_fetch_ml_store,
    write_meta,
)
from tests.test_app_live import eventually
from tuitrack.app.app import TuitrackApp
from tuitrack.app.widgets.run_tree import RunTree
from tuitrack.app.widgets.runs_table import RunsTable
from tuitrack.live.options import LiveOptions
from tuitrack.store import open_store
from tuitrack.store.grouping import experiment_id_for


def app_on(root, **live) -> TuitrackApp:
    return TuitrackApp(open_store(str(root)), clock=fixed_clock, live=LiveOptions(**live))


@pytest.mark.parametrize("kind", ["entrenar", "fetch_ml"])
async def test_app_opens_the_format_and_shows_its_runs(tmp_path, kind):
    write = write_entrenar_store if kind == "entrenar" else write_fetch_ml_store
    root = write(tmp_path / kind)
    app = app_on(root, watch=False)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        tree = app.screen.query_one(RunTree)
        labels = " ".join(str(n.label) for n in tree.run_nodes.values())
        if kind == "entrenar":
            assert set(tree.run_nodes) == {"run-1", "run-2", "run-3"}
            assert "baseline" in labels and "finetune" in labels
            assert {str(n.label).split()[0] for n in tree.experiment_nodes.values()} == {"bert", "resnet"}
        else:
            assert set(tree.run_nodes) == {"a1b2c3d4e5f6", "b2c3d4e5f6a1", "c3d4e5f6a1b2"}
            assert "train-resnet" in labels and "train-bert" in labels
        first = sorted(tree.run_nodes)[0]
        await app.screen.select_run(first)
        await settle(pilot)
        table = app.screen.query_one(RunsTable)
        assert table.highlighted_run is not None and table.highlighted_run.metrics


@pytest.mark.parametrize("poll", [None, 0.2], ids=["inotify", "polling"])
async def test_app_follows_an_entrenar_folder(tmp_path, poll):
    root = write_entrenar_store(tmp_path / "runs")
    app = app_on(root, poll=poll)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        screen = app.screen
        await screen.select_run("run-3")
        await settle(pilot)
        table = screen.query_one(RunsTable)
        tree = screen.query_one(RunTree)
        # entrenar saves the run again, finished, with more points (truncate, then write).
        record = entrenar_record("run-3", "bert", name="finetune", status="Completed",
                                 metrics={"loss": [(2.0, 1), (1.5, 2), (1.0, 3)]})
        await asyncio.to_thread(write_entrenar, root, record)
        await eventually(pilot, lambda: table.highlighted_run is not None
                         and table.highlighted_run.metrics["loss"].step == 3)
        await eventually(pilot, lambda: str(tree.run_nodes["run-3"].label).startswith("✓"))
        # A run of a new experiment appears; a removed record disappears.
        await asyncio.to_thread(write_entrenar, root, entrenar_record("run-4", "gpt", name="pretrain"))
        gpt = experiment_id_for("gpt")
        await eventually(pilot, lambda: gpt in tree.experiment_nodes and screen.index.run("run-4") is not None)
        assert str(tree.experiment_nodes[gpt].label).startswith("gpt")
        (root / "run-2.json").unlink()
        await eventually(pilot, lambda: "run-2" not in tree.run_nodes)


@pytest.mark.parametrize("poll", [None, 0.2], ids=["inotify", "polling"])
async def test_app_follows_a_growing_metrics_bin(tmp_path, poll):
    root = write_fetch_ml_store(tmp_path / "experiments")
    app = app_on(root, poll=poll)
    commit = "a1b2c3d4e5f6"
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        screen = app.screen
        await screen.select_run(commit)
        await settle(pilot)
        table = screen.query_one(RunsTable)
        tree = screen.query_one(RunTree)
        # Half a record first: nothing changes until the rest arrives.
        record = metric_record("loss", 0.01, 9, 1_795_400_100)
        path = root / commit / "metrics.bin"
        with open(path, "ab") as f:
            f.write(record[:15])
        await pilot.pause(0.5)
        assert table.highlighted_run.metrics["loss"].step == 2
        with open(path, "ab") as f:
            f.write(record[15:])
        await eventually(pilot, lambda: table.highlighted_run.metrics["loss"].step == 9)
        await asyncio.to_thread(log_metric, root, commit, "accuracy", 0.99, 9, 1_795_400_101)
        await eventually(pilot, lambda: table.highlighted_run.metrics["accuracy"].step == 9)
        # A new commit folder appears.
        await asyncio.to_thread(write_meta, root, "d4e5f6a1b2c3", 1_795_400_200, "train-gpt", "bob")
        await eventually(pilot, lambda: "d4e5f6a1b2c3" in tree.run_nodes)


@pytest.mark.parametrize("kind", ["entrenar", "fetch_ml"])
async def test_the_plot_grows_when_points_are_added(tmp_path, kind):
    """Both formats keep all metrics in one file: the store says the run changed, and the index
    finds which plotted metrics have new points."""
    from tuitrack.app.widgets.metric_plot import MetricPlot

    if kind == "entrenar":
        root, run_id = write_entrenar_store(tmp_path / "runs"), "run-1"
        record = json.loads((root / "run-1.json").read_text())
        record["metrics"]["loss"].append({"value": 0.1, "step": 3})

        def add_point():
            write_entrenar(root, record)
    else:
        root, run_id = write_fetch_ml_store(tmp_path / "experiments"), "a1b2c3d4e5f6"

        def add_point():
            log_metric(root, run_id, "loss", 0.1, 3, 1_795_400_100)
    app = app_on(root)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await app.screen.select_run(run_id)
        await pilot.press("p")
        await settle(pilot)
        plot = app.screen.query_one(MetricPlot)
        app.screen._load_plot(app.screen._plot_runs(), ["loss"])
        await settle(pilot)
        before = len(plot.runs[0].histories["loss"])
        await asyncio.to_thread(add_point)
        await eventually(pilot, lambda: len(plot.runs[0].histories["loss"]) == before + 1)


def test_reloading_runs_does_not_repeat_their_problems(tmp_path):
    from tuitrack.live.index import RunIndex

    root = write_fetch_ml_store(tmp_path / "experiments")
    (root / "a1b2c3d4e5f6" / "meta.bin").write_bytes(b"\x01" + bytes(8) + b"\x05other")
    index = RunIndex(open_store(str(root)))
    (experiment,) = index.load_experiments()
    index.load_data(index.load_runs(experiment.experiment_id))
    index.load_runs(experiment.experiment_id)
    problems = index.run("a1b2c3d4e5f6").problems
    assert len(problems) == 1 and "commit id is 'other'" in str(problems[0])


async def test_changes_a_format_cannot_hold_are_refused_before_any_dialog(tmp_path):
    """fetch_ml holds no tags or names: t and R say so at once instead of asking first."""
    from tests.test_app_edit import focus_run

    root = write_fetch_ml_store(tmp_path / "fetch_ml")
    app = app_on(root, watch=False)
    async with app.run_test(size=(120, 40), notifications=True) as pilot:
        await settle(pilot)
        run_id = sorted(app.screen.query_one(RunTree).run_nodes)[0]
        await focus_run(pilot, run_id)
        for key in ("t", "R", "e"):
            await pilot.press(key)
            await settle(pilot)
            assert type(app.screen).__name__ == "MainScreen", key  # no prompt was opened
        messages = [n.message for n in app._notifications]
        assert sum("Not possible" in m for m in messages) == 3


async def test_an_entrenar_experiment_delete_is_refused_before_the_confirmation(tmp_path):
    root = write_entrenar_store(tmp_path / "entrenar")
    app = app_on(root, watch=False)
    async with app.run_test(size=(120, 40), notifications=True) as pilot:
        await settle(pilot)
        tree = app.screen.query_one(RunTree)
        tree.focus()
        tree.move_cursor(next(iter(tree.experiment_nodes.values())))
        await pilot.press("d")
        await settle(pilot)
        assert type(app.screen).__name__ == "MainScreen"
        assert any("only names on runs" in n.message for n in app._notifications)
