"""The views under the table (`1` detail, `2` plot, `3` system; `p` still toggles detail and
plot) and the system view: the selected run's CPU, memory, GPU, disk and network use, one line
per quantity with a sparkline, its last and its peak, growing as the run logs."""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import threading

import pytest

from tests.app_helpers import screen_text, settle
from tests.conftest import fixed_clock
from tests.mlflow_stores import client_for
from tests.system_stores import SAMPLES, log_samples, system_series, write_system_store
from tests.test_app_live import eventually
from textual.widgets import SelectionList

from tuitrack.app.app import TuitrackApp
from tuitrack.app.screens.columns import ColumnChooser
from tuitrack.app.screens.metric_picker import MetricPicker
from tuitrack.app.widgets.runs_table import RunsTable
from tuitrack.app.widgets.metric_plot import MetricPlot
from tuitrack.app.widgets.run_detail import RunDetail
from tuitrack.app.widgets.system_view import NO_SYSTEM_METRICS, SystemView, amount, lines_of, sparkline
from tuitrack.live import metric_reads
from tuitrack.store import open_store
from tuitrack.system_metrics import classify, system_quantities


@pytest.fixture(scope="module")
def system_master(tmp_path_factory):
    root = tmp_path_factory.mktemp("system-app") / "mlruns"
    return root, write_system_store(root)


@pytest.fixture
def system_store(system_master, tmp_path):
    master, ids = system_master
    shutil.copytree(master, tmp_path / "mlruns")
    return tmp_path / "mlruns", ids


def system_app(root) -> TuitrackApp:
    return TuitrackApp(open_store(str(root)), clock=fixed_clock)


@contextlib.asynccontextmanager
async def opened_on(root, run_id: str | None, size=(120, 40), keys=()):
    """The app on `root`, loaded, with `run_id` selected and `keys` pressed; yields the pilot."""
    app = system_app(root)
    async with app.run_test(size=size) as pilot:
        await settle(pilot)
        if run_id is not None:
            await app.screen.select_run(run_id)
        await pilot.press(*keys)
        await settle(pilot)
        yield pilot


def panel_rows(app) -> dict[str, tuple[str, str]]:
    """The system panel's last and peak values by the line's label (group and quantity)."""
    view = app.screen.query_one(SystemView)
    lines = lines_of(system_quantities(view.run.metrics))
    return {f"{group} {name}": (last, peak) for group, name, last, peak in view.cells(lines)}


def footer_current(app) -> list[str]:
    """The footer keys drawn in reverse: the view shown (it reads without colour too)."""
    from textual.widgets._footer import FooterKey

    return [key.key for key in app.screen.query(FooterKey)
            if key.get_component_rich_style("footer-key--key").reverse]


async def test_digits_switch_the_views_and_p_still_toggles_detail_and_plot(system_store):
    root, ids = system_store
    async with opened_on(root, ids["system"], size=(100, 30)) as pilot:
        app = pilot.app
        screen = app.screen
        assert screen._view() == "detail" and footer_current(app) == ["1"]
        for key, view, widget in [("3", "system", SystemView), ("2", "plot", MetricPlot),
                                  ("1", "detail", RunDetail), ("3", "system", SystemView)]:
            await pilot.press(key)
            await settle(pilot)
            assert screen._view() == view
            assert screen._lower() is screen.query_one(widget)
            assert footer_current(app) == [key]
        # p: from the system view to the plot, then back to the detail, then the plot again.
        for view in ("plot", "detail", "plot"):
            await pilot.press("p")
            await settle(pilot)
            assert screen._view() == view
        # i focuses the view shown; the focus stays in it when the view changes.
        await pilot.press("3", "i")
        await settle(pilot)
        assert app.focused is screen.query_one(SystemView)
        await pilot.press("1")
        await settle(pilot)
        assert app.focused is screen.query_one(RunDetail)
        # A view that is not (yet) in the pane: nothing happens.
        screen.action_show_view("no-such-view")
        assert screen._view() == "detail"


async def test_help_lists_the_view_keys(system_store):
    root, _ = system_store
    async with opened_on(root, None, size=(100, 30), keys=("question_mark",)) as pilot:
        app = pilot.app
        listed = {b.key: b.tooltip for _, bindings in app.screen.sections for b in bindings}
        assert "the run's detail" in listed["1"] and "metric curves" in listed["2"]
        assert "CPU, memory, GPU" in listed["3"] and "p" in listed
        # On the system view, its keys come first.
        await pilot.press("escape", "3", "i", "question_mark")
        await pilot.pause()
        assert app.screen.sections[0][0] == "System metrics (3 shows them) (here)"


async def test_the_system_view_shows_each_quantity_with_last_and_peak(system_store):
    root, ids = system_store
    async with opened_on(root, ids["system"], size=(80, 24), keys=("3",)) as pilot:
        app = pilot.app
        screen = app.screen
        rows = panel_rows(app)
        last = system_series(SAMPLES - 1)
        peak = {k: max(system_series(i)[k] for i in range(SAMPLES)) for k in last}
        # Memory in % and in MB is one line (the sparkline draws the share), GPU 0 likewise.
        for label, keys in {
            "CPU utilization": ["system/cpu_utilization_percentage"],
            "Memory used": ["system/system_memory_usage_percentage", "system/system_memory_usage_megabytes"],
            "GPU 0 utilization": ["system/gpu_0_utilization_percentage"],
            "GPU 0 memory": ["system/gpu_0_memory_usage_percentage", "system/gpu_0_memory_usage_megabytes"],
            "GPU 0 power": ["system/gpu_0_power_usage_watts"],
            "GPU 1 utilization": ["system/gpu_1_utilization_percentage"],
            "Disk used": ["system/disk_usage_percentage"],
            "Disk free": ["system/disk_available_megabytes"],
            "Network received": ["system/network_receive_megabytes"],
            "Network sent": ["system/network_transmit_megabytes"],
        }.items():
            shown_last = " ".join(amount(last[k], classify(k).unit) for k in keys)
            shown_peak = " ".join(amount(peak[k], classify(k).unit) for k in keys)
            assert rows[label] == (shown_last, shown_peak), label
        assert len(rows) == 10
        # The whole panel fits 80x24: every line is on screen, each with its sparkline and values.
        text = screen_text(app)
        assert f"System · with-system  {SAMPLES} × 10s" in text  # at 120 columns: "12 samples, every 10s"
        assert "last" in text and "peak" in text
        shown = [line for line in text.splitlines() if any(c in line for c in "▁▂▃▄▅▆▇█")]
        assert len(shown) == 10
        for (label, (last_text, peak_text)), line in zip(rows.items(), shown):
            assert label.split()[-1] in line and line.rstrip().endswith(f"{last_text} {peak_text}".strip()) \
                or line.rstrip().endswith(peak_text), (label, line)


async def test_a_run_without_system_metrics_says_how_to_enable_them(system_store):
    root, ids = system_store
    async with opened_on(root, ids["plain"], size=(120, 40), keys=("3",)) as pilot:
        app = pilot.app
        text = " ".join(screen_text(app).split())
        assert "No system metrics in this run." in text
        assert "mlflow.enable_system_metrics_logging()" in text
        assert str(app.screen.query_one(SystemView)._text(100)) == NO_SYSTEM_METRICS
        # Moving to the run that has them shows them.
        await app.screen.select_run(ids["system"])
        await settle(pilot)
        text = " ".join(screen_text(app).split())
        assert "CPU utilization" in text and f"System · with-system {SAMPLES} samples, every 10s" in text


async def test_the_system_view_grows_as_the_run_logs_read_off_the_ui_thread(system_store, monkeypatch):
    root, ids = system_store
    reads = []
    original = metric_reads.PlotFeed.read

    def recording_read(self, *args, **kwargs):
        reads.append((self.key, threading.current_thread() is threading.main_thread()))
        return original(self, *args, **kwargs)

    monkeypatch.setattr(metric_reads.PlotFeed, "read", recording_read)
    async with opened_on(root, ids["system"], size=(120, 40), keys=("3",)) as pilot:
        app = pilot.app
        screen = app.screen
        assert reads and not any(on_ui for _, on_ui in reads)
        assert {key for key, _ in reads} == set(system_series(0))
        view = screen.query_one(SystemView)
        assert view.readings["system/cpu_utilization_percentage"].count == SAMPLES
        # The script logs 5 more samples: the panel follows, nobody presses a key.
        await asyncio.to_thread(log_samples, client_for(root), ids["system"], SAMPLES, 5)
        await eventually(pilot, lambda: view.readings["system/network_transmit_megabytes"].count == SAMPLES + 5)
        await eventually(pilot, lambda: f"{SAMPLES + 5} samples" in screen_text(app))
        newest = system_series(SAMPLES + 4)["system/cpu_utilization_percentage"]
        assert panel_rows(app)["CPU utilization"][0] == amount(newest, "%")
        assert not any(on_ui for _, on_ui in reads)
        # The script logs its loss, no system sample: the panel reads nothing again.
        before = len(reads)
        client_for(root).log_metric(ids["system"], "loss", 0.01, step=99)
        await eventually(pilot, lambda: screen.index.run(ids["system"]).metrics["loss"].step == 99)
        await settle(pilot)
        assert len(reads) == before


def test_sparkline_scales_buckets_and_blanks():
    assert sparkline([0, 50, 100], 10, 0, 100) == "▁▅█"
    assert sparkline([0, 100, 0, 0], 2, 0, 100) == "█▁"  # a cell shows its stretch's peak, not its first
    assert sparkline([float("nan"), 10], 2, 0, 10) == " █"
    assert sparkline([5, 5], 2, 5, 5) == "▁▁"
    assert sparkline([], 5, 0, 1) == "" and sparkline([1], 0, 0, 1) == ""
    assert len(sparkline(list(range(1000)), 37, 0, 999)) == 37


def test_amounts_are_short_and_in_the_unit_mlflow_logs():
    assert [amount(v, "%") for v in (38.4, 4.56, float("nan"))] == ["38%", "4.6%", "-"]
    assert [amount(v, "MB") for v in (9110, 512, 2.5, 2_500_000)] == ["9.1 GB", "512 MB", "2.5 MB", "2.5 TB"]
    assert amount(1.5, "GB") == "1.5 GB" and amount(215.4, "W") == "215 W"


# -- system metrics stay out of the metric lists until asked for --------------------------------


def metric_columns(app) -> set[str]:
    return {c.field for c in app.screen.query_one(RunsTable).columns if c.kind == "metric"}


async def test_system_metrics_are_no_columns_until_the_chooser_brings_them_in(system_store):
    root, ids = system_store
    async with opened_on(root, ids["system"], size=(120, 40)) as pilot:
        app = pilot.app
        assert metric_columns(app) == {"loss"}
        app.screen.query_one(RunsTable).focus()
        await pilot.press("C")
        await pilot.pause()
        chooser = app.screen
        assert isinstance(chooser, ColumnChooser)
        listed = lambda: {chooser.query_one(SelectionList).get_option_at_index(i).value  # noqa: E731
                          for i in range(chooser.query_one(SelectionList).option_count)}
        assert not any(key.startswith("metric:system/") for key in listed())
        assert "ctrl+t lists the 12 system metrics too" in screen_text(app)
        await pilot.press("ctrl+t")
        await pilot.pause()
        assert {f"metric:{k}" for k in system_series(0)} <= listed()
        assert "ctrl+t hides the 12 system metrics" in screen_text(app)
        await pilot.press("enter")
        await settle(pilot)
        assert metric_columns(app) == {"loss", *system_series(0)}
        # One off by hand, then all of them out again: the one stays off when they come back.
        await pilot.press("C")
        await pilot.pause()
        app.screen.shown["metric:system/disk_usage_percentage"] = False
        await pilot.press("enter")
        await settle(pilot)
        assert "system/disk_usage_percentage" not in metric_columns(app)
        await pilot.press("C", "ctrl+t", "enter")
        await settle(pilot)
        assert metric_columns(app) == {"loss"}
        await pilot.press("C", "ctrl+t", "enter")
        await settle(pilot)
        assert metric_columns(app) == {"loss", *system_series(0)} - {"system/disk_usage_percentage"}


async def test_the_plot_and_its_picker_leave_system_metrics_out_until_ctrl_t(system_store):
    root, ids = system_store
    async with opened_on(root, ids["system"], size=(120, 40), keys=("2", "i")) as pilot:
        app = pilot.app
        screen = app.screen
        plot = screen.query_one(MetricPlot)
        assert plot.available == ["loss"] and plot.metrics == ["loss"]
        await pilot.press("n")  # the next metric: there is no other
        await settle(pilot)
        assert plot.metrics == ["loss"]
        await pilot.press("m")
        await pilot.pause()
        picker = app.screen
        assert isinstance(picker, MetricPicker) and picker.available == ["loss"]
        await pilot.press("ctrl+t", *"gpu0util")
        await pilot.pause()
        assert picker.available == ["loss", *sorted(system_series(0))]
        await pilot.press("down", "space", "enter")
        await settle(pilot)
        assert plot.metrics == ["loss", "system/gpu_0_utilization_percentage"]
        assert screen.show_system_metrics and "system/gpu_0_utilization_percentage" in metric_columns(app)
        assert "system/cpu_utilization_percentage" in plot.available
        # And out again: the plot goes back to a metric of the training.
        await pilot.press("m", "ctrl+t", "enter")
        await settle(pilot)
        assert not screen.show_system_metrics
        assert plot.available == ["loss"] and plot.metrics == ["loss"]
        assert metric_columns(app) == {"loss"}


async def test_a_batch_of_system_samples_updates_rows_without_rebuilding_the_table(system_store):
    root, ids = system_store
    async with opened_on(root, ids["system"], size=(120, 40)) as pilot:
        app = pilot.app
        screen = app.screen
        table = screen.query_one(RunsTable)
        run = screen.index.run(ids["system"])
        # No column for the system metrics, and none needed: the row is updated in place.
        assert table.update_rows([run])
        screen.show_system_metrics = True
        assert not table.update_rows([run])  # now they need columns the table lacks


def test_hostile_system_keys_and_run_names_show_as_text():
    from tuitrack.app.widgets.system_view import Reading
    from tuitrack.model import MetricPoint, Run

    keys = ["system/[bold]x[red]_percentage", "system/\x1b]0;pwned\x07_watts", "system/gpu_0_\u202eevil_megabytes"]
    point = MetricPoint(timestamp=1000, value=5.0, step=0)
    run = Run("r" * 32, "1", run_name="[@click=app.quit]run\x1b[2J", metrics={k: point for k in keys})
    view = SystemView()
    view.run, view.loaded = run, True
    view.readings = {k: Reading.of([point], 1) for k in keys}
    text = view._text(100)
    plain = text.plain
    assert "[@click=app.quit]run\\x1b[2J" in plain and "[bold]x[red]" in plain
    assert "\\x1b]0;pwned\\x07" in plain and "\\u202eevil" in plain
    assert not any(c in plain for c in "\x1b\x07\u202e")


async def test_the_command_palette_shows_the_system_view(system_store):
    root, ids = system_store
    async with opened_on(root, ids["system"], size=(120, 40), keys=("ctrl+p",)) as pilot:
        await pilot.press(*"show system metrics")
        await pilot.pause(0.3)
        await pilot.press("enter")
        await settle(pilot)
        assert pilot.app.screen._view() == "system"
        assert "GPU 0" in screen_text(pilot.app)


async def test_compare_leaves_system_metrics_out_until_they_are_shown(system_store):
    from tuitrack.app.screens.compare import CompareScreen

    root, ids = system_store
    async with opened_on(root, ids["system"], size=(120, 40), keys=()) as pilot:
        app = pilot.app
        screen = app.screen
        for run_id in (ids["system"], ids["plain"]):
            await screen.select_run(run_id)
            screen.action_toggle_mark()
        for shown in (False, True):
            screen.show_system_metrics = shown
            await pilot.press("c")
            await eventually(pilot, lambda: isinstance(app.screen, CompareScreen) and app.screen.loaded)
            labels = [label for label, _ in app.screen.rows()]
            plot = app.screen.query_one(MetricPlot)
            assert "metric loss (last)" in labels
            assert any("system/" in label for label in labels) is shown
            assert any(k.startswith("system/") for k in plot.available) is shown
            await pilot.press("escape")
            await pilot.pause()
