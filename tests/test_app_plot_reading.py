"""Reading a plot: round ticks and short labels on every axis, the run named in a one-run plot's
title, a legend under the curves (not over their start), and markers that differ without colour."""

from __future__ import annotations

import re

from tests.app_helpers import make_app, settle
from tests.svg_text import screen_lines
from tuitrack.app.widgets.metric_plot import MetricPlot


async def open_plot(pilot, names: list[str]) -> MetricPlot:
    screen = pilot.app.screen
    for name in names:
        run = next(r for r in screen.index.all_runs() if r.run_name == name)
        await screen.select_run(run.run_id)
        if len(names) > 1:
            screen.action_toggle_mark()
    await pilot.press("p")
    await settle(pilot)
    plot = screen.query_one(MetricPlot)
    plot.focus()
    await pilot.pause(0.3)
    await settle(pilot)
    return plot


def plot_text(app) -> str:
    return "\n".join(screen_lines(app))


async def test_axes_read_as_steps_clock_times_and_powers_of_ten():
    app = make_app()
    async with app.run_test(size=(100, 40)) as pilot:
        await settle(pilot)
        await open_plot(pilot, ["lr=0.1"])
        lines = screen_lines(app)
        axis = next(i for i, line in enumerate(lines) if "└" in line and "┬" in line)
        steps = lines[axis + 1].replace("▕", " ").replace("▏", " ").split()
        assert steps[:2] == ["0", "500"] and all(s.isdigit() for s in steps)  # whole, round steps
        await pilot.press("x", "x")  # wall time
        await pilot.pause(0.6)
        text = plot_text(app)
        assert re.search(r"\b\d\d:\d\d\b", text) and not re.search(r"\b1[78]\d{8}\b", text)  # no epoch seconds
        await pilot.press("L")
        await pilot.pause(0.6)
        text = plot_text(app)
        assert "1e-1" in text and "0.000" not in text and "log y" in text


async def test_a_one_run_plot_names_the_run_and_several_get_a_legend_below():
    app = make_app()
    async with app.run_test(size=(100, 40)) as pilot:
        await settle(pilot)
        await open_plot(pilot, ["lr=0.1"])
        assert any("train/loss · lr=0.1" in line for line in screen_lines(app))
        app.screen.action_clear_marks()
    app = make_app()
    async with app.run_test(size=(100, 40)) as pilot:
        await settle(pilot)
        plot = await open_plot(pilot, ["lr=0.1", "lr=0.01"])
        legend = plot.render_line(plot.size.height - 1).text
        assert "lr=0.1" in legend and "lr=0.01" in legend  # the last line of the plot, under the axes
        assert "lr=0.1" not in plot.render_line(2).text  # not over the curves


async def test_without_colour_each_run_has_its_own_marker(monkeypatch):
    monkeypatch.setenv("NO_COLOR", "1")
    app = make_app()
    async with app.run_test(size=(100, 40)) as pilot:
        await settle(pilot)
        plot = await open_plot(pilot, ["lr=0.1", "lr=0.01", "lr=0.003"])
        legend = plot.render_line(plot.size.height - 1).text
        glyphs = re.findall(r"(\S) lr=", legend)
        assert len(glyphs) == 3 and len(set(glyphs)) == 3, legend


async def test_a_legend_too_long_for_its_line_counts_the_runs_it_leaves_out():
    from tuitrack.app.widgets.metric_plot import PlotRun
    from tuitrack.model import MetricPoint

    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        plot = await open_plot(pilot, ["lr=0.1", "lr=0.01"])
        runs = [PlotRun(f"r{i}", f"sweep › a-long-run-name-{i}", "cyan", 0,
                        {"loss": [MetricPoint(s, 1 / (1 + s) + i, s) for s in range(20)]}) for i in range(8)]
        plot.set_runs(runs, ["loss"])
        await pilot.pause()
        legend = plot.render_line(plot.size.height - 1).text.rstrip()
        named = len(re.findall(r"a-long-run-name-\d", legend))
        assert 0 < named < 8 and legend.endswith(f"+{8 - named} more"), legend
