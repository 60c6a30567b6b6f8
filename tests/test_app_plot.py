"""The plot pane: every key, the metric picker, marked runs overlaid, and a plot that grows."""

from __future__ import annotations

import asyncio
import subprocess
import sys


from tests.app_helpers import make_app, settle
from tests.conftest import fixed_clock
from tests.test_app_keys import goto_run
from tests.test_app_live import eventually
from tests.test_live import WRITER
from tuitrack.app.app import TuitrackApp
from tuitrack.app.screens.metric_picker import MetricPicker, fuzzy
from tuitrack.app.widgets.metric_plot import MetricPlot
from tuitrack.app.widgets.run_tree import RunTree
from tuitrack.store import open_store


def plot_text(plot: MetricPlot) -> str:
    """What the plot shows, as plain text (its cached lines)."""
    return "\n".join("".join(segment.text for segment in strip) for strip in plot._strips)


async def test_p_shows_the_plot_of_the_selected_run_and_back():
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await goto_run(pilot, "lr=0.1")
        await pilot.press("p")
        await settle(pilot)
        plot = app.screen.query_one(MetricPlot)
        assert plot.display and plot.metrics == ["train/loss"]
        assert [r.label for r in plot.runs] == ["lr=0.1"] and len(plot.runs[0].histories["train/loss"]) == 3000
        await pilot.pause()
        text = plot_text(plot)
        assert "train/loss" in text and "step" in text and "⡀" in text
        await pilot.press("p")
        assert not plot.display


async def test_plot_keys_change_what_is_drawn():
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await goto_run(pilot, "lr=0.1")
        await pilot.press("p", "i")  # show the plot, focus it
        await settle(pilot)
        plot = app.screen.query_one(MetricPlot)
        assert app.focused is plot
        await pilot.press("x")
        assert plot.axis == "relative"
        await pilot.press("x", "x")
        assert plot.axis == "step"
        await pilot.press("L")
        assert plot.log_y
        await pilot.press("plus", "plus", "minus")
        assert plot.smoothing == 1
        await pilot.press("z")  # no cursor: the newer half of the steps
        assert plot.window is not None and plot.window.high == 2999
        await pilot.pause()
        assert "train/loss · lr=0.1  (smoothing 0.6)  steps 1,500-2,999  log y" in plot_text(plot)  # names its run
        await pilot.press("n")
        await settle(pilot)
        assert plot.metrics == ["val/acc"]  # lr, train/loss, val/acc, val/loss
        await pilot.press("N")
        await settle(pilot)
        assert plot.metrics == ["train/loss"]


async def test_metric_picker_plots_several_metrics_in_a_grid():
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await goto_run(pilot, "lr=0.1")
        await pilot.press("p", "i", "m")
        await pilot.pause()
        assert isinstance(app.screen, MetricPicker)
        await pilot.press(*"val")
        await pilot.press("down", "space", "down", "space", "enter")
        await settle(pilot)
        plot = app.screen.query_one(MetricPlot)
        assert set(plot.metrics) == {"train/loss", "val/acc", "val/loss"}
        await pilot.pause()
        text = plot_text(plot)  # the split pane has room for two side by side
        assert "train/loss · lr=0.1 +1 more" in text and "val/acc" in text
        await pilot.press("enter")  # full screen: all three
        await pilot.pause()
        await pilot.pause()
        assert app.screen.maximized is plot
        assert all(key in plot_text(plot) for key in ("train/loss", "val/acc", "val/loss"))


def test_fuzzy():
    assert fuzzy("vl", "val/loss") and fuzzy("", "x") and not fuzzy("lv", "val")


async def test_marked_runs_are_overlaid_with_a_legend():
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        for name in ("lr=0.1", "lr=0.01", "lr=0.003"):
            await goto_run(pilot, name)
            await pilot.press("space")
        assert len(app.screen.marked) == 3 and len(set(app.screen.marked.values())) == 3
        tree = app.screen.query_one(RunTree)
        assert str(tree.run_nodes[app.screen.selected_run_id].label).startswith("▌")
        await pilot.press("p")
        await settle(pilot)
        plot = app.screen.query_one(MetricPlot)
        assert [r.label for r in plot.runs] == ["lr=0.1", "lr=0.01", "lr=0.003"]
        await pilot.pause()
        assert "lr=0.003" in plot_text(plot) and "lr=0.01" in plot_text(plot)
        await pilot.press("space")  # unmark the last
        await settle(pilot)
        assert len(plot.runs) == 2


async def test_plot_grows_while_a_run_writes(reference_store):
    root, ids = reference_store
    app = TuitrackApp(open_store(str(root)), clock=fixed_clock)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await app.screen.select_run(ids.runs["running"])
        await pilot.press("p")
        await settle(pilot)
        plot = app.screen.query_one(MetricPlot)
        assert len(plot.runs[0].histories["m"]) == 5
        path = root / ids.experiments["beta"] / ids.runs["running"] / "metrics" / "m"
        await asyncio.to_thread(subprocess.run, [sys.executable, "-c", WRITER, str(path), "40"], check=True)
        await eventually(pilot, lambda: len(plot.runs[0].histories["m"]) == 45)
        # only the appended bytes were parsed: the cursor moved, the old points are the same objects
        history = app.screen._histories[(ids.runs["running"], "m")].history
        assert history.cursor.offset == path.stat().st_size
