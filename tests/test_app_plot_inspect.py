"""Reading values off the plot: the cursor and its readout, zoom and pan (keys and mouse), log x,
symlog, clipping and the density of many runs, in the main screen, full screen and compare."""

from __future__ import annotations

import re

import pytest
from textual import events

from tests.app_helpers import make_app, settle
from tests.conftest import SAMPLE
from tests.test_app_plot_reading import open_plot
from tests.test_snapshots import SIZES, goto, sample_app
from tuitrack.app.screens.compare import CompareScreen
from tuitrack.app.widgets.metric_plot import MetricPlot, PlotRun
from tuitrack.model import MetricPoint
from tuitrack.plot_view import DENSITY_ABOVE, DENSITY_GLYPHS, Window
from tuitrack.store import open_store


def logged(name: str, key: str = "train/loss") -> list[MetricPoint]:
    """The run's history as the store has it, read apart from the app."""
    store = open_store(str(SAMPLE))
    run = next(r for _, r in store.all_runs(store.experiments()) if r.run_name == name)
    return store.metric_history(run, key).points


def readout(plot: MetricPlot) -> str:
    """The lines under the curves: everything after the x axis' label."""
    lines = [strip.text for strip in plot._strips]
    label = max(i for i, line in enumerate(lines) if line.strip() in ("step", "step (log)", "time since start",
                                                                       "wall time"))
    return "\n".join(lines[label + 1:])


async def press(pilot, *keys: str) -> None:
    await pilot.press(*keys)
    await pilot.pause()


async def test_arrows_move_the_cursor_one_logged_step_and_the_readout_reads_it():
    history = logged("lr=0.1")
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        plot = await open_plot(pilot, ["lr=0.1"])
        assert plot.cursor is None and "step 2," not in "\n".join(s.text for s in plot._strips)
        await press(pilot, "left")  # the cursor appears on the newest point
        last = history[-1]
        assert plot.cursor == last.step
        assert f"step {last.step:,}" in readout(plot) and repr(last.value) in readout(plot)
        await press(pilot, "left", "h")
        assert plot.cursor == history[-3].step and repr(history[-3].value) in readout(plot)
        await press(pilot, "right", "l", "l")  # no further than the last step
        assert plot.cursor == last.step
        await press(pilot, "home")
        assert plot.cursor == history[0].step and f"step {history[0].step:,} " in readout(plot)
        await press(pilot, "end")
        assert plot.cursor == last.step
        await press(pilot, "g")
        assert plot.cursor == history[0].step
        await press(pilot, "G")
        assert plot.cursor == last.step


async def test_shift_arrows_jump_a_tenth_of_the_shown_steps():
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        plot = await open_plot(pilot, ["lr=0.1"])
        steps = [p.step for p in logged("lr=0.1")]
        await press(pilot, "home", "shift+right")
        span = steps[-1] - steps[0]
        assert plot.cursor == min(s for s in steps if s >= steps[0] + span / 10)
        await press(pilot, "shift+left")
        assert plot.cursor == steps[0]


async def test_the_readout_names_each_run_with_its_marker_and_smoothed_value():
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        plot = await open_plot(pilot, ["lr=0.1", "lr=0.01"])
        await press(pilot, "plus", "end")
        text = readout(plot)
        for name in ("lr=0.1", "lr=0.01"):
            value = logged(name)[-1].value
            assert re.search(rf"⣿ {re.escape(name)} {re.escape(repr(value))} ~[\d.]+", text), text
        assert "lr=0.1  ⣿ lr=0.01" not in text  # the legend's line is now the readout's


async def test_zoom_around_the_cursor_pan_and_reset():
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        plot = await open_plot(pilot, ["lr=0.1"])
        await press(pilot, "home", "shift+right", "shift+right", "shift+right")  # about step 900
        cursor = plot.cursor
        full = plot._full(plot._indexes_shown())
        await press(pilot, "z")
        assert plot.window.span == full.span / 2 and plot.window.contains(cursor)
        share = (cursor - plot.window.low) / plot.window.span
        assert abs(share - (cursor - full.low) / full.span) < 1e-9  # the cursor stays where it was
        await press(pilot, "z")
        assert plot.window.span == full.span / 4
        assert "steps " in plot._strips[0].text or any("steps " in s.text for s in plot._strips[:3])
        window = plot.window
        await press(pilot, "right_square_bracket")
        assert plot.window.low == window.low + window.span / 2 and plot.window.contains(plot.cursor)
        await press(pilot, "left_square_bracket", "left_square_bracket")
        assert plot.window.low == window.low - window.span / 2
        await press(pilot, "Z")
        assert plot.window.span == full.span / 2
        await press(pilot, "Z")
        assert plot.window is None  # everything again
        await press(pilot, "z", "0")
        assert plot.window is None and plot.cursor is None


async def test_the_window_follows_the_cursor_past_its_edge():
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        plot = await open_plot(pilot, ["lr=0.1"])
        await press(pilot, "end", *"zzzz")
        span = plot.window.span
        for _ in range(12):
            await press(pilot, "shift+left")  # a tenth of the window each
        assert plot.window.contains(plot.cursor) and plot.window.high < 2999 and plot.window.low == plot.cursor
        await press(pilot, "home")
        assert plot.window.low == 0 == plot.cursor and plot.window.span == span


async def test_log_x_symlog_and_clipping():
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        plot = await open_plot(pilot, ["lr=0.1"])
        await press(pilot, "s")
        assert plot.log_x and "step (log)" in "\n".join(s.text for s in plot._strips)
        labels = [s.text for s in plot._strips if "1000" in s.text and "10" in s.text]
        assert labels, "powers of ten on the x axis"
        await press(pilot, "home")
        assert plot.cursor > 0  # a log axis cannot draw step 0: the cursor starts on step 1
        await press(pilot, "s", "L")
        assert plot.y_scale == "log" and plot.log_y
        await press(pilot, "L")
        assert plot.y_scale == "symlog" and "symlog y" in plot._strips[0].text
        await press(pilot, "L")
        assert plot.y_scale == "linear"
        await press(pilot, "o")
        assert plot.clip and "clipped y" in plot._strips[0].text


async def test_clipping_keeps_a_spike_from_flattening_the_curve():
    app = make_app()
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        plot = await open_plot(pilot, ["lr=0.1"])
        points = [MetricPoint(1000 + i, 1.0 + (i % 7) / 100, i) for i in range(500)]
        points[250] = MetricPoint(1250, 1e6, 250)
        plot.set_runs([PlotRun("spiky", "spiky", "cyan", 1000, {"loss": points})], ["loss"])
        await pilot.pause()
        flat = "\n".join(s.text for s in plot._strips)
        assert "1M" in flat or "1e6" in flat or "800k" in flat  # the spike sets the y range
        await press(pilot, "o")
        clipped = "\n".join(s.text for s in plot._strips)
        assert "800k" not in clipped and "1M" not in clipped
        await press(pilot, "home", *["right"] * 250)
        assert "1000000" in readout(plot)  # the readout still gives the value as logged


def many_runs(count: int) -> list[PlotRun]:
    return [PlotRun(f"r{i}", f"seed={i}", "cyan", 0,
                    {"loss": [MetricPoint(10 * s, 1 / (1 + s) + i / 100, s) for s in range(200)]})
            for i in range(count)]


async def test_many_runs_become_a_density_map_and_D_toggles_it():
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        plot = await open_plot(pilot, ["lr=0.1"])
        plot.set_runs(many_runs(DENSITY_ABOVE), ["loss"])
        await pilot.pause()
        assert "density" not in plot._strips[0].text
        plot.set_runs(many_runs(DENSITY_ABOVE + 5), ["loss"])
        await pilot.pause()
        text = "\n".join(s.text for s in plot._strips)
        assert f"density of {DENSITY_ABOVE + 5} runs" in text and DENSITY_GLYPHS[-1] in text
        await press(pilot, "end")
        assert f"{DENSITY_ABOVE + 5} runs" in readout(plot) and "median" in readout(plot)
        assert "min 0.005 " in readout(plot) and "seed=0" in readout(plot)  # the lowest run, named
        await press(pilot, "D")
        text = "\n".join(s.text for s in plot._strips)
        assert "density" not in text and DENSITY_GLYPHS[-1] not in text
        await press(pilot, "D")
        assert "density of" in plot._strips[0].text
        plot.set_runs(many_runs(1), ["loss"])  # D on one run: "1 run", not "1 runs"
        await pilot.pause()
        assert "density of 1 run" in plot._strips[0].text and "1 runs" not in plot._strips[0].text


async def test_the_mouse_wheel_zooms_a_drag_pans_and_a_click_puts_the_cursor():
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        plot = await open_plot(pilot, ["lr=0.1"])
        left, right, top, bottom = plot._shown.frames[0]
        middle = (top + bottom) // 2
        column = left + (right - left) // 4
        at = plot._x_at(column, middle)
        full = plot._full(plot._indexes_shown())
        plot.post_message(events.MouseScrollUp(plot, column, middle, 0, 0, 0, False, False, False))
        await pilot.pause()
        assert plot.window is not None and plot.window.span < full.span
        assert abs(plot._x_at(column, middle) - at) < full.span / 50  # the step under the pointer stays
        window = plot.window
        await pilot.mouse_down(plot, offset=(column, middle))
        await pilot.hover(plot, offset=(column - 10, middle))
        plot.post_message(events.MouseMove(plot, column - 10, middle, 0, 0, 1, False, False, False))
        await pilot.pause()
        await pilot.mouse_up(plot, offset=(column - 10, middle))
        await pilot.pause()
        assert plot.window.low > window.low and plot.window.span == window.span  # dragged left: later steps
        await pilot.click(plot, offset=(column, middle))
        await pilot.pause()
        assert plot.cursor is not None and abs(plot.cursor - plot._x_at(column, middle)) < window.span / 20
        plot.post_message(events.MouseScrollDown(plot, column, middle, 0, 0, 0, False, False, False))
        plot.post_message(events.MouseScrollDown(plot, column, middle, 0, 0, 0, False, False, False))
        await pilot.pause()
        assert plot.window is None or plot.window.span > window.span


async def test_run_names_in_the_readout_are_text_not_markup():
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        plot = await open_plot(pilot, ["lr=0.1"])
        name = "[bold red]x[/] [@click=app.quit]y[/]\x1b[2J"
        points = [MetricPoint(1000 + s, float(s), s) for s in range(20)]
        plot.set_runs([PlotRun("a", name, "cyan", 1000, {"loss": points}),
                       PlotRun("b", "[/]", "orange", 1000, {"loss": points})], ["loss"])
        await press(pilot, "end")
        text = readout(plot)
        assert "[bold red]x[/] [@click=app.quit]y[/]\\x1b[2J 19" in text and "[/] 19" in text
        assert app.is_running


async def test_without_colour_the_readout_has_each_runs_marker(monkeypatch):
    monkeypatch.setenv("NO_COLOR", "1")
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        plot = await open_plot(pilot, ["lr=0.1", "lr=0.01", "lr=0.003"])
        await press(pilot, "end")
        glyphs = re.findall(r"(\S) lr=", readout(plot))
        assert len(glyphs) == 3 and len(set(glyphs)) == 3, readout(plot)


async def test_the_cursor_works_full_screen_and_in_compare():
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        plot = await open_plot(pilot, ["lr=0.1", "lr=0.01"])
        await press(pilot, "enter")
        assert app.screen.maximized is plot
        await press(pilot, "end", "left", "z")
        assert plot.cursor is not None and plot.window is not None and "step 2,998" in readout(plot)
        await press(pilot, "escape")
        await press(pilot, "c")
        await settle(pilot)
        assert isinstance(app.screen, CompareScreen)
        compare_plot = app.screen.query_one(MetricPlot)
        compare_plot.focus()
        await press(pilot, "end", "h")
        assert compare_plot.cursor is not None and "lr=0.01" in readout(compare_plot)
        await press(pilot, "z", "right_square_bracket")
        assert isinstance(compare_plot.window, Window)


async def test_the_x_axis_keeps_the_cursor_on_its_point():
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        plot = await open_plot(pilot, ["lr=0.1"])
        history = logged("lr=0.1")
        await press(pilot, "home", *["right"] * 10)
        assert plot.cursor == history[10].step
        await press(pilot, "x")  # time since start
        assert plot.axis == "relative" and f"step {history[10].step:,} " in readout(plot)
        await press(pilot, "right")
        assert f"step {history[11].step:,} " in readout(plot)


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_cursor_and_readout_snapshot(snap_compare, size):
    """Three marked runs, smoothed, zoomed in around a cursor: the vertical line, the title's
    step range and the readout with each run's marker, exact value and smoothed value."""

    async def run_before(pilot):
        await settle(pilot)
        for name in ("lr=0.1", "lr=0.01", "lr=0.003"):
            await goto(pilot, name)
            pilot.app.screen.action_toggle_mark()
        await pilot.press("p", "i", "plus", "end", "shift+left", "shift+left", "shift+left", "z")
        await settle(pilot)

    assert snap_compare(sample_app(), terminal_size=size, run_before=run_before)


def test_density_snapshot(snap_compare):
    """Twenty runs: a density map, and the readout's spread at the cursor."""

    async def run_before(pilot):
        await settle(pilot)
        await goto(pilot, "lr=0.1")
        await pilot.press("p", "i")
        await settle(pilot)
        plot = pilot.app.screen.query_one(MetricPlot)
        plot.set_runs(many_runs(20), ["loss"])
        await pilot.press("home", *["right"] * 30)
        await pilot.pause()

    assert snap_compare(sample_app(), terminal_size=(120, 40), run_before=run_before)


async def test_while_a_run_writes_the_cursor_and_window_on_the_newest_steps_follow():
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        plot = await open_plot(pilot, ["lr=0.1"])
        points = [MetricPoint(1000 + s, float(s), s) for s in range(1000)]
        plot.set_runs([PlotRun("a", "a", "cyan", 1000, {"loss": points})], ["loss"])
        plot.REDRAW_EVERY = 0
        await press(pilot, "end", "z", "z")
        assert plot.cursor == 999 and plot.window.high == 999
        points.extend(MetricPoint(2000 + s, float(s), s) for s in range(1000, 1100))
        plot.data_changed()
        await pilot.pause()
        assert plot.cursor == 1099 and plot.window.high == 1099 and "step 1,099" in readout(plot)
        await press(pilot, "left", "left_square_bracket")  # looking back: nothing moves
        cursor, window = plot.cursor, plot.window
        points.extend(MetricPoint(3000 + s, float(s), s) for s in range(1100, 1200))
        plot.data_changed()
        await pilot.pause()
        assert plot.cursor == cursor and plot.window == window
