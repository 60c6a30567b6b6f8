"""Axis ticks: round positions and short labels (the plot hands them to plotext)."""

from __future__ import annotations

import math
import time

from tuitrack.ticks import (
    clock_label,
    duration_label,
    linear_ticks,
    log_ticks,
    nice_step,
    number_label,
    x_ticks,
    y_ticks,
)


def test_spacings_are_1_2_5():
    assert [nice_step(span, 5) for span in (1, 7, 12, 30, 2000, 0.003)] == [0.2, 1, 2, 5, 500, 0.0005]


def test_linear_ticks_are_evenly_spaced_and_round():
    ticks = linear_ticks(0.13, 0.97, 4)
    assert ticks == [0.2, 0.4, 0.6, 0.8]
    gaps = {round(b - a, 9) for a, b in zip(ticks, ticks[1:])}
    assert len(gaps) == 1  # evenly spaced, at 80x24 too


def test_steps_are_whole_numbers():
    ticks, labels = x_ticks("step", 0, 14, 6)
    assert all(t == int(t) for t in ticks) and labels == ["0", "2", "4", "6", "8", "10", "12", "14"]
    ticks, labels = x_ticks("step", 0, 3, 10)  # more ticks asked than steps: still whole
    assert labels == ["0", "1", "2", "3"]


def test_number_labels_are_short():
    assert [number_label(v) for v in (0, 250, 0.05, 15000, 2e6, 8e-10, -1.5e-4, 1e300)] == [
        "0", "250", "0.05", "15k", "2M", "8e-10", "-1.5e-4", "1e300"]


def test_log_axis_labels_are_powers_of_ten():
    ticks, labels = y_ticks(-9.2, -2.5, 5, log=True)
    assert labels == ["1e-9", "1e-8", "1e-7", "1e-6", "1e-5", "1e-4", "1e-3"]
    assert "0.000" not in "".join(labels)


def test_wall_time_is_clock_times_not_epoch_seconds():
    start = time.mktime((2026, 12, 1, 13, 7, 0, 0, 0, -1))
    ticks, labels = x_ticks("wall", start, start + 3 * 3600, 4)
    assert labels[0] == "14:00" and all(len(label) == 5 and label[2] == ":" for label in labels)
    assert clock_label(start, 20 * 86400) == "12-01" and clock_label(start, 400 * 86400) == "2026-12-01"


def test_time_since_start_reads_as_durations():
    ticks, labels = x_ticks("relative", 0, 2.5, 5)
    assert labels == ["0", "30m", "1h", "1h30m", "2h", "2h30m"]
    assert duration_label(50 / 3600) == "50s" and duration_label(49.5) == "2d1h"
    # A log axis of time since start has ticks under a second: each its own label, not "0 0".
    ticks, labels = log_ticks(math.log10(1e-5), math.log10(0.2), duration_label)
    assert labels == ["36ms", "360ms", "4s", "36s", "6m"]
    assert duration_label(0) == "0" and duration_label(-0.1 / 3600) == "-100ms"


def test_log_ticks_are_powers_of_ten_with_the_axis_labels():
    from tuitrack.ticks import log_ticks

    ticks, labels = log_ticks(0.0, 5.2, number_label)  # steps 1 to 160k on a log x axis
    assert ticks == [0.0, 1.0, 2.0, 3.0, 4.0, 5.0] and labels == ["1", "10", "100", "1000", "10k", "100k"]
    assert len(log_ticks(-30, 30, number_label)[0]) <= 8


def test_symlog_ticks_are_zero_and_decades_either_side():
    from tuitrack.ticks import symlog_ticks

    assert symlog_ticks(-150.0, 20.0, 1.0) == [-100.0, -10.0, -1.0, 0.0, 1.0, 10.0]
    assert symlog_ticks(2.0, 500.0, 1.0) == [10.0, 100.0]
    many = symlog_ticks(-1e6, 1e6, 0.001)
    assert 0.0 in many and len(many) <= 9 and many == sorted(many)
    assert [number_label(v) for v in symlog_ticks(-0.02, 0.02, 0.001)] == ["-0.01", "-0.001", "0", "0.001", "0.01"]
