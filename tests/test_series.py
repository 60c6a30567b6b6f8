"""Turning histories into plottable curves."""

from __future__ import annotations

import math

from tuitrack.model import MetricPoint
from tuitrack.series import Curve, downsample, finite, smooth, x_values, zoom


def points(values, start=0):
    return [MetricPoint(1000 + 10 * i, v, start + i) for i, v in enumerate(values)]


def test_downsample_keeps_spikes_and_bounds_size():
    ys = [1.0] * 100_000
    ys[54_321] = 50.0  # a one-step spike
    ys[77_777] = -20.0
    curve = downsample(Curve([float(i) for i in range(len(ys))], ys), buckets=100)
    assert len(curve.xs) <= 200
    assert max(curve.ys) == 50.0 and min(curve.ys) == -20.0
    assert curve.xs == sorted(curve.xs)


def test_downsample_leaves_short_curves_alone_but_drops_undrawable_points():
    curve = Curve([0.0, 1.0, 2.0], [3.0, float("nan"), 2.0])
    assert downsample(curve, buckets=10) == Curve([0.0, 2.0], [3.0, 2.0])


def test_downsample_skips_nan_and_nonpositive_on_log_inside_buckets():
    ys = [float("nan")] + [1.0] * 999 + [0.0] * 1000 + [5.0] * 1000
    curve = downsample(Curve([float(i) for i in range(len(ys))], ys), buckets=3, log=True)
    assert all(y > 0 and math.isfinite(y) for y in curve.ys) and max(curve.ys) == 5.0


def test_prepared_series_extends_as_the_history_grows():
    from tuitrack.series import PreparedSeries

    history = points([1.0, 2.0, 3.0])
    series = PreparedSeries()
    series.update(history, "step", None, 0.5)
    history.append(MetricPoint(2000, 4.0, 3))
    series.update(history, "step", None, 0.5)
    assert series.xs == [0.0, 1.0, 2.0, 3.0] and series.smoothed == smooth([1.0, 2.0, 3.0, 4.0], 0.5)
    series.update(history, "relative", None, 0.5)  # another axis: computed again
    assert series.xs[0] == 0.0 and len(series.xs) == 4


def test_smoothing_is_a_debiased_ema_that_skips_nan():
    assert smooth([1.0, 2.0], 0.0) == [1.0, 2.0]
    out = smooth([2.0, float("nan"), 4.0], 0.5)
    assert out[0] == 2.0 and out[1] == 2.0  # first value unbiased; NaN carries the last value
    assert math.isclose(out[2], (0.5 * 0.5 * 2 + 0.5 * 4) / 0.75)


def test_finite_drops_nan_inf_and_nonpositive_on_log():
    curve = finite([0, 1, 2, 3], [1.0, float("nan"), float("inf"), -1.0], log=False)
    assert curve.ys == [1.0, -1.0]
    assert finite([0, 1], [0.0, 2.0], log=True).ys == [2.0]


def test_zoom_to_last_steps():
    history = points(range(5000))
    assert [p.step for p in zoom(history, 100)][0] == 4900
    assert zoom(history, None) is history


def test_x_axes():
    history = [MetricPoint(1_000_000 + 3_600_000 * i, 0.0, i * 10) for i in range(3)]
    assert x_values(history, "step", None) == [0.0, 10.0, 20.0]
    assert x_values(history, "relative", 1_000_000) == [0.0, 1.0, 2.0]
    assert x_values(history, "wall", None)[1] == (1_000_000 + 3_600_000) / 1000


def test_band_aligns_runs_by_step():
    from tuitrack.series import band

    a = points([1.0, 2.0, 3.0])  # steps 0..2
    b = points([3.0, 4.0, float("nan"), 8.0])  # steps 0..3, NaN at step 2
    got = band([a, b], buckets=100)
    assert got.xs == [0.0, 1.0, 2.0, 3.0]
    assert got.mean == [2.0, 3.0, 3.0, 8.0]
    assert got.low == [1.0, 2.0, 3.0, 8.0] and got.high == [3.0, 4.0, 3.0, 8.0]
    assert got.runs == [2, 2, 1, 1]
    assert math.isclose(got.std[0], math.sqrt(2)) and got.std[2] == 0.0  # one run: no spread
    low, high = got.edges("std")
    assert math.isclose(low[0], 2 - math.sqrt(2)) and math.isclose(high[0], 2 + math.sqrt(2))
    assert got.edges("minmax") == (got.low, got.high)


def test_band_is_bounded_by_its_buckets():
    from tuitrack.series import band

    long = points([float(i % 7) for i in range(100_000)])
    short = points([1.0] * 10, start=50_000)
    got = band([long, short], buckets=200)
    assert len(got.xs) <= 200
    assert got.xs == sorted(got.xs) and got.xs[0] == 0.0
    assert max(got.runs) == 2 and min(got.runs) == 1  # the short run counts only where it logged
    assert band([], 100).xs == [] and band([[]], 100).xs == []
