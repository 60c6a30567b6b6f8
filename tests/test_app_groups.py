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
SEEDS = ("1", "2", "6")  # min-max and ±std bands differ


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


async def group_by(pilot, *params: str) -> None:
    """`b`, tick `params` (the list is sorted), enter."""
    from tuitrack.app.screens.group_by import GroupByChooser

    await pilot.press("b")
    await pilot.pause()
    chooser = pilot.app.screen
    assert isinstance(chooser, GroupByChooser)
    for param in chooser.params:
        if param in params:
            await pilot.press("space")
        await pilot.press("j")
    await pilot.press("enter")
    await settle(pilot)


async def grouped_by_lr(pilot) -> None:
    """The loaded sweep, on one of its runs, grouped by lr."""
    await settle(pilot)
    await goto_run(pilot, "lr=0.01 seed=1")
    await group_by(pilot, "lr")


async def groups_plotted(pilot) -> None:
    """Grouped by lr, the table focused, every group marked and plotted (g p)."""
    from tuitrack.app.widgets.runs_table import RunsTable

    await grouped_by_lr(pilot)
    pilot.app.screen.query_one(RunsTable).focus()
    await pilot.press("g", "p")
    await settle(pilot)


def expected(lr: str) -> tuple[float, float]:
    latest = [loss(lr, seed, 19) for seed in SEEDS]
    return statistics.mean(latest), statistics.stdev(latest)


async def test_b_groups_the_runs_by_a_param_and_enter_opens_a_group(sweep_store):
    from tuitrack.app.widgets.runs_table import RunsTable

    app = make_app(sweep_store)
    async with app.run_test(size=(120, 40)) as pilot:
        await grouped_by_lr(pilot)
        screen, table = app.screen, app.screen.query_one(RunsTable)
        assert screen.group_keys == ["lr"]
        assert [r.run_name for r in table.runs] == ["lr=0.01", "lr=0.1", "lr (missing)"]  # the parent lacks lr
        assert [c.label for c in table.columns] == ["Group", "Runs", "loss", "loss min", "loss max"]
        mean, std = expected("0.1")
        row = table._cells[1]
        assert row[1] == "3" and f"{mean:.4g} ± {std:.2g}" in row
        text = screen_text(app)
        assert "grouped by lr: 3 groups" in text
        assert "Group lr=0.01" in text and "3 runs · enter opens it" in text  # the detail pane shows the group
        table.focus()
        await pilot.press("j", "enter")
        await settle(pilot)
        assert screen.open_group is not None
        assert sorted(r.run_name for r in table.runs) == [f"lr=0.1 seed={s}" for s in SEEDS]
        assert "group lr=0.1: 3 runs" in screen_text(app)
        await pilot.press("escape")  # back to the groups, on the one that was open
        await settle(pilot)
        assert screen.open_group is None and table.highlighted_run.run_name == "lr=0.1"
        await pilot.press("backspace")  # and back to the runs
        await settle(pilot)
        assert screen.group_keys == [] and len(table.runs) == 7


async def test_b_then_escape_keeps_the_plain_runs(sweep_store):
    app = make_app(sweep_store)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("b")
        await pilot.pause()
        assert [p for p in app.screen.params] == ["lr", "seed", "sweep"]
        await pilot.press("escape")
        await settle(pilot)
        assert app.screen.group_keys == []


async def test_a_group_plots_its_mean_and_band_and_B_switches_the_band(sweep_store):
    app = make_app(sweep_store)
    async with app.run_test(size=(120, 40)) as pilot:
        await groups_plotted(pilot)
        plot = app.screen.query_one(MetricPlot)
        assert [r.label for r in plot.runs] == ["lr=0.01 (3 runs)"]
        assert len(plot.runs[0].members["loss"]) == 3 and all(len(h) == 20 for h in plot.runs[0].members["loss"])
        await pilot.pause()
        text = plot_text(plot)
        assert "loss · lr=0.01 (3 runs)  min-max band" in text and "•" in text  # the band and its dots
        await pilot.press("i", "B")
        assert plot.band == "std"
        await pilot.pause()
        assert plot_text(plot) != text and "±std band" in plot_text(plot)  # drawn again, narrower
        await pilot.press("B")
        assert plot.band == "minmax"


async def test_marked_groups_compare_side_by_side(sweep_store):
    from tuitrack.app.screens.group_compare import GroupCompareScreen
    from tuitrack.app.widgets.runs_table import RunsTable

    app = make_app(sweep_store)
    async with app.run_test(size=(120, 40)) as pilot:
        await grouped_by_lr(pilot)
        app.screen.query_one(RunsTable).focus()
        await pilot.press("g", "space", "space")
        assert len(app.screen.marked) == 2
        await pilot.press("p")
        await settle(pilot)
        assert [r.label for r in app.screen.query_one(MetricPlot).runs] == ["lr=0.01 (3 runs)", "lr=0.1 (3 runs)"]
        await pilot.press("c")
        await settle(pilot)
        assert isinstance(app.screen, GroupCompareScreen)
        text = screen_text(app)
        for lr in LRS:
            mean, std = expected(lr)
            assert f"{mean:.4g} ± {std:.2g}" in text
        assert "loss mean ± std" in text
        plot = app.screen.query_one(MetricPlot)
        assert len(plot.runs) == 2 and all(len(r.members["loss"]) == 3 for r in plot.runs)
        await pilot.press("escape")
        await settle(pilot)
        assert not isinstance(app.screen, GroupCompareScreen)


async def test_help_lists_the_group_keys(sweep_store):
    from tests.test_app_help import open_help

    app = make_app(sweep_store)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        sections = await open_help(pilot)
        actions = {b.action: b for _, bindings in sections for b in bindings}
        assert actions["group_by"].key == "b" and actions["group_back"].key == "backspace"
        assert actions["next_band"].key == "B"


async def test_grouped_table_follows_the_filter_and_keeps_run_actions_off_groups(sweep_store):
    from tuitrack.app.widgets.runs_table import RunsTable

    app = make_app(sweep_store)
    async with app.run_test(size=(120, 40)) as pilot:
        await grouped_by_lr(pilot)
        table = app.screen.query_one(RunsTable)
        await pilot.press("slash", *"seed=6", "enter")  # the filter applies first, then the grouping
        await settle(pilot)
        assert [r.run_name for r in table.runs] == ["lr=0.01", "lr=0.1"]
        assert all(app.screen.groups[r.run_id].count == 1 for r in table.runs)
        table.focus()
        await pilot.press("g", "y", "E")  # a group has no run id to copy, and no run to export
        await settle(pilot)
        assert {n.message.split(":")[0] for n in app._notifications} >= {"No run selected", "The table shows groups"}


async def test_store_text_in_groups_is_text_and_marks_of_groups_go_with_the_groups(tmp_path):
    from tuitrack.app.widgets.runs_table import RunsTable

    client = client_for(tmp_path / "mlruns")
    experiment = client.create_experiment("hostile")
    for i, value in enumerate(["[b]bold[/b]", "[/]", "[@click=app.quit]x"]):
        run = client.create_run(experiment, start_time=T0 + i, run_name=f"[red]run{i}").info.run_id
        client.log_param(run, "opt", value)
        client.log_metric(run, "loss", float(i), timestamp=T0, step=0)
        client.set_terminated(run)
    app = make_app(tmp_path / "mlruns")
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await goto_run(pilot, "[red]run0")
        await group_by(pilot, "opt")
        table = app.screen.query_one(RunsTable)
        assert sorted(r.run_name for r in table.runs) == ["opt=[/]", "opt=[@click=app.quit]x", "opt=[b]bold[/b]"]
        table.focus()
        await pilot.press("g", "space", "space", "p")
        await settle(pilot)
        text = screen_text(app)
        assert "opt=[b]bold[/b]" in text and "opt=[@click=app.quit]x (1 run)" in text  # table, legend
        assert "grouped by opt: 3 groups" in app.screen._status_plain
        await pilot.press("c")
        await settle(pilot)
        assert "opt=[@click=app.quit]x" in screen_text(app)
        await pilot.press("escape", "escape")  # out of compare, then out of the groups
        await settle(pilot)
        assert app.screen.group_keys == [] and app.screen.marked == {}
        assert app.is_running


async def test_the_groups_follow_runs_a_script_logs(sweep_store, tmp_path):
    import shutil

    from tests.test_app_live import eventually
    from tuitrack.app.widgets.runs_table import RunsTable

    root = tmp_path / "mlruns"
    shutil.copytree(sweep_store, root)
    app = make_app(root)
    async with app.run_test(size=(120, 40)) as pilot:
        await grouped_by_lr(pilot)
        await eventually(pilot, lambda: app.screen.loaded and app.screen.follower.running, timeout=20)
        client = client_for(root)
        experiment = client.get_experiment_by_name("sweep").experiment_id
        run = client.create_run(experiment, run_name="late seed").info.run_id
        client.log_param(run, "lr", "0.1")
        client.log_metric(run, "loss", 5.0, timestamp=T0, step=0)
        table = app.screen.query_one(RunsTable)

        def lr_01():
            return next(app.screen.groups[r.run_id] for r in table.runs if r.run_name == "lr=0.1")

        await eventually(pilot, lambda: lr_01().count == 4 and lr_01().metrics["loss"].max == 5.0, timeout=20)
        latest = [loss("0.1", seed, 19) for seed in SEEDS] + [5.0]
        assert lr_01().metrics["loss"].mean == pytest.approx(statistics.mean(latest))


async def test_s_sorts_groups_by_count_and_by_a_metric(sweep_store):
    from tuitrack.app.widgets.runs_table import RunsTable

    app = make_app(sweep_store)
    async with app.run_test(size=(120, 40)) as pilot:
        await grouped_by_lr(pilot)
        table = app.screen.query_one(RunsTable)
        table.focus()
        await pilot.press("l", "s")  # Runs, numbers sort descending first
        groups = app.screen.groups
        assert [groups[r.run_id].count for r in table.runs] == [3, 3, 1]
        await pilot.press("s")
        assert [r.run_name for r in table.runs][0] == "lr (missing)"
        await pilot.press("l", "l", "s")  # loss min, descending: lr=0.1's is higher; the parent has none
        assert [r.run_name for r in table.runs] == ["lr=0.1", "lr=0.01", "lr (missing)"]


@pytest.mark.parametrize("size", [(120, 40), (80, 24)])
async def test_the_choosers_hints_are_whole(sweep_store, size):
    """The group and column choosers' hint lines wrap in their 50-column box, not cut off."""
    app = make_app(sweep_store)
    async with app.run_test(size=size) as pilot:
        await settle(pilot)
        await pilot.press("b")
        await pilot.pause()
        assert "plain runs" in screen_text(app)  # the hint's end, on a line of its own
        await pilot.press("escape")
        await settle(pilot)
        app.screen.query_one("RunsTable").focus()
        await pilot.press("C")
        await pilot.pause()
        assert "cancels" in screen_text(app)


async def test_a_group_plot_has_round_step_ticks(sweep_store):
    """Groups alone on the plot: whole steps under the x axis (0 5 10 15), as for runs, not
    plotext's own (0.0 4.75 9.5)."""
    app = make_app(sweep_store)
    async with app.run_test(size=(120, 40)) as pilot:
        await groups_plotted(pilot)
        await pilot.pause()
        lines = plot_text(app.screen.query_one(MetricPlot)).splitlines()
        axis = next(i for i, line in enumerate(lines) if "└" in line)
        labels = lines[axis + 1].split()
        assert len(labels) >= 3 and all(label.isdigit() for label in labels), labels
        assert labels[0] == "0"
