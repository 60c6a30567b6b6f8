"""Long metric histories: plots read them in pieces into bounded summaries, say how far they
are, still grow live, and still zoom to the last steps exactly."""

from __future__ import annotations

import math

from tests.app_helpers import make_app, settle
from tests.hostile_shapes import T0, make_long_metric
from tests.test_app_live import eventually
from tuitrack.app.widgets.metric_plot import MetricPlot
from tuitrack.live import metric_reads
from tuitrack.live.metric_reads import PlotFeed, merged, read_summary
from tuitrack.model import MetricPoint, summarize
from tuitrack.series import BoundedHistory
from tuitrack.store import open_store


def pts(values, start=0):
    return [MetricPoint(1000 + i, float(v), start + i) for i, v in enumerate(values)]


def test_bounded_history_keeps_its_size_the_tail_and_the_spikes():
    history = BoundedHistory(buckets=16, tail=100)
    values = [1.0] * 100_000
    values[12_345] = 50.0  # a spike far from the end
    values[54_321] = -7.0
    values[70_000] = math.nan
    for start in range(0, len(values), 7_777):  # pieces of odd sizes
        history.add(pts(values[start : start + 7_777], start))
    shown = history.points()
    assert history.count == 100_000
    assert len(shown) <= 4 * 32 + history.width + 2 * 100
    assert [p.step for p in shown] == sorted(p.step for p in shown)  # logged order
    assert [p.step for p in shown[-100:]] == list(range(99_900, 100_000))  # the tail as logged
    assert max(p.value for p in shown) == 50.0 and min(p.value for p in shown) == -7.0
    assert shown[0].step == 0


def test_bounded_history_leaves_short_histories_alone():
    history = BoundedHistory(buckets=16, tail=100)
    history.add(pts(range(150)))
    assert [p.value for p in history.points()] == [float(v) for v in range(150)]


def test_a_feed_reads_in_pieces_and_then_only_what_is_appended(tmp_path, monkeypatch):
    root = tmp_path / "mlruns"
    run_id = make_long_metric(root, 50_000)
    monkeypatch.setattr(metric_reads, "PIECE_BYTES", 64 << 10)
    store = open_store(str(root))
    run = store.find_run(run_id)
    seen = []
    feed = PlotFeed(store, run, "loss")
    assert feed.read(progress=seen.append)
    assert len(seen) > 5 and seen == sorted(seen) and 0 < seen[0] < seen[-1] < 1
    assert feed.bounded.count == 50_000 and len(feed.points) < 20_000
    assert feed.history.points == []  # nothing held besides the summaries
    path = root / run.experiment_id / run_id / "metrics" / "loss"
    with open(path, "a") as out:
        out.write(f"{T0} 9.5 50000\n")
    assert feed.read() and feed.bounded.count == 50_001 and feed.points[-1].value == 9.5
    assert not feed.read()


async def test_a_long_plot_shows_progress_grows_and_zooms(tmp_path, monkeypatch):
    root = tmp_path / "mlruns"
    run_id = make_long_metric(root, 200_000)
    monkeypatch.setattr(metric_reads, "PIECE_BYTES", 256 << 10)
    app = make_app(root)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        plot = app.screen.query_one(MetricPlot)
        shown: list[str] = []
        original = plot.show_progress
        monkeypatch.setattr(plot, "show_progress", lambda text: (shown.append(text), original(text)))
        await app.screen.select_run(run_id)
        await pilot.press("p")
        await settle(pilot, timeout=60)
        assert any(text.startswith("reading loss… ") and text.endswith("%") for text in shown)
        assert plot.progress == ""
        points = plot.runs[0].histories["loss"]
        assert len(points) < 20_000 and points[-1].step == 199_999
        run = app.screen.index.run(run_id)
        path = root / run.experiment_id / run_id / "metrics" / "loss"
        with open(path, "a") as out:
            out.writelines(f"{T0} 0.1 {step}\n" for step in range(200_000, 200_010))
        await eventually(pilot, lambda: plot.runs[0].histories["loss"][-1].step == 200_009)
        plot.focus()
        await pilot.press(*"z" * 11)  # halved 11 times: the last 98 steps, every one of them there
        await pilot.pause()
        assert plot.window.high == 200_009 and 90 < plot.window.span < 100
        tail = [p.step for p in plot.runs[0].histories["loss"] if p.step > 200_009 - 100]
        assert tail == list(range(200_009 - 99, 200_010))


def test_the_detail_summary_is_read_in_pieces_and_equals_a_full_read(tmp_path, monkeypatch):
    root = tmp_path / "mlruns"
    run_id = make_long_metric(root, 30_000)
    store = open_store(str(root))
    run = store.find_run(run_id)
    path = root / run.experiment_id / run_id / "metrics" / "loss"
    with open(path, "a") as out:  # extremes and NaN far from the start, a highest step mid-way
        out.write(f"{T0} 0.25 40000\n{T0} -3.5 12\n{T0} 99.0 7\n{T0} nan 5\n")
    monkeypatch.setattr(metric_reads, "PIECE_BYTES", 32 << 10)
    assert read_summary(store, run, "loss") == summarize(store.metric_history(run, "loss").points)
    assert read_summary(store, run, "loss").count == 30_004


def test_merged_summaries_ignore_stretches_without_numbers():
    nan = float("nan")
    only_nan = summarize([MetricPoint(1, nan, 1)])
    numbers = summarize([MetricPoint(2, 4.0, 2), MetricPoint(3, -1.0, 3)])
    both = merged(only_nan, numbers)
    assert (both.min_value, both.min_step, both.max_value, both.max_step, both.count) == (-1.0, 3, 4.0, 2, 3)
    assert merged(numbers, only_nan) == both and merged(None, numbers) == numbers
