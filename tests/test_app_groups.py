"""Sweeps in the app: a parent without metrics plots its children; `b` groups runs by params,
the table shows one row per group, enter opens a group, the plot draws each group's mean and
band, and `c` compares groups. The store is written by real MLflow."""

from __future__ import annotations

import statistics

import pytest

from tests.app_helpers import make_app, screen_text, settle
from tests.mlflow_stores import T0, client_for
from tests.test_app_keys import goto_run
from tests.test_app_plot import plot_text
from tuitrack.app.widgets.metric_plot import MetricPlot
from tuitrack.app.widgets.run_tree import RunTree

LRS = ("0.01", "0.1")
SEEDS = ("1", "2", "3")


def loss(lr: str, seed: str, step: int) -> float:
    return float(lr) * 10 / (step + 1) + int(seed) / 100


@pytest.fixture(scope="module")
def sweep_store(tmp_path_factory):
    """One experiment: a sweep parent that logged only params, and its 6 children (2 learning
    rates x 3 seeds, 20 steps of loss each; the `[b]` seed tag is markup that must show as text)."""
    root = tmp_path_factory.mktemp("sweep") / "mlruns"
    client = client_for(root)
    experiment = client.create_experiment("sweep")
    parent = client.create_run(experiment, start_time=T0, run_name="lr-sweep").info.run_id
    client.log_param(parent, "sweep", "lr")
    client.set_terminated(parent, "FINISHED", end_time=T0 + 1000)
    for i, (lr, seed) in enumerate((lr, seed) for lr in LRS for seed in SEEDS):
        run = client.create_run(experiment, start_time=T0 + 10 + i, run_name=f"lr={lr} seed={seed}",
                                tags={"mlflow.parentRunId": parent}).info.run_id
        client.log_param(run, "lr", lr)
        client.log_param(run, "seed", seed)
        for step in range(20):
            client.log_metric(run, "loss", loss(lr, seed, step), timestamp=T0 + step, step=step)
        client.set_terminated(run, "FINISHED", end_time=T0 + 500)
    return root


async def test_a_sweep_parent_without_metrics_plots_its_children(sweep_store):
    app = make_app(sweep_store)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await goto_run(pilot, "lr-sweep")
        await pilot.press("p")
        await settle(pilot)
        plot = app.screen.query_one(MetricPlot)
        labels = [r.label for r in plot.runs]
        assert len(labels) == 6 and labels[0].startswith("lr-sweep › lr=") and labels[1].startswith("› lr=")
        assert all(len(r.histories["loss"]) == 20 for r in plot.runs)
        await pilot.pause()
        assert "lr-sweep › lr=" in plot_text(plot)  # the legend says whose curves they are
        # Marked, with another run: the parent still brings its children.
        await pilot.press("space")  # marks lr-sweep, moves to its first child
        await pilot.press("space")
        await settle(pilot)
        assert len({r.run_id for r in plot.runs}) == len(plot.runs) == 6  # the marked child once, not twice
