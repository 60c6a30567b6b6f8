"""Plain model helpers."""

from __future__ import annotations

import math

from tuitrack.model import MetricPoint, fold_latest, summarize


def test_a_newer_latest_point_widens_min_and_max():
    summary = summarize([MetricPoint(1, 0.5, 0), MetricPoint(2, 0.3, 1)])
    folded = fold_latest(summary, MetricPoint(3, 0.1, 2))  # a history of two: extended
    assert (folded.latest.step, folded.min_value, folded.min_step, folded.max_value) == (2, 0.1, 2, 0.5)
    higher = fold_latest(folded, MetricPoint(4, 0.9, 3))
    assert (higher.max_value, higher.max_step, higher.count) == (0.9, 3, 4)


def test_an_older_or_same_point_changes_nothing():
    summary = summarize([MetricPoint(1, 0.5, 0), MetricPoint(2, 0.3, 5)])
    assert fold_latest(summary, MetricPoint(2, 0.3, 5)) is summary
    assert fold_latest(summary, MetricPoint(9, 99.0, 4)) is summary


def test_nan_points_move_the_latest_but_not_the_extremes():
    summary = summarize([MetricPoint(1, 0.5, 0), MetricPoint(1, 0.7, 1)])
    folded = fold_latest(summary, MetricPoint(2, math.nan, 2))
    assert math.isnan(folded.latest.value) and (folded.min_value, folded.max_value) == (0.5, 0.7)
    all_nan = summarize([MetricPoint(1, math.nan, 0), MetricPoint(1, math.nan, 1)])
    assert fold_latest(all_nan, MetricPoint(2, 7.0, 2)).min_value == 7.0


def test_a_one_point_history_is_replaced_not_extended():
    """mini-mlflow keeps only a metric's latest value: min and max are that value, not the values
    seen before it was overwritten."""
    summary = summarize([MetricPoint(1, 0.5, 0)])
    folded = fold_latest(summary, MetricPoint(2, 0.9, 0))
    assert (folded.count, folded.min_value, folded.max_value, folded.latest.value) == (1, 0.9, 0.9, 0.9)
