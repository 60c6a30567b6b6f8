"""The plot's cursor, zoom and pan, y scales, clipping and density: pure computations."""

from __future__ import annotations

import math
import random

from tuitrack.plot_view import (
    DENSITY_GLYPHS,
    Window,
    XIndex,
    clamp,
    clip_range,
    cursor_end,
    cursor_jump,
    cursor_snap,
    cursor_step,
    density,
    density_levels,
    follow,
    pan,
    percentile,
    smallest_span,
    symlog,
    symlog_inverse,
    symlog_threshold,
    zoom,
)


def index_of(xs):
    index = XIndex()
    index.update(xs)
    return index


def test_nearest_finds_the_logged_point_by_bisect():
    xs = [float(s) for s in range(0, 100_000, 10)]
    index = index_of(xs)
    assert index._keys is xs  # logged in order: the list itself is the index
    assert index.nearest(12_344) == 1234 and index.nearest(12_346) == 1235
    assert index.nearest(-50) == 0 and index.nearest(10**9) == len(xs) - 1
    assert index.nearest(12_345) == 1234  # a tie: the earlier point


def test_nearest_on_a_history_logged_out_of_order_and_with_repeats():
    xs = [0.0, 1.0, 2.0, 5.0, 3.0, 4.0, 4.0]
    index = index_of(xs)
    assert not index.in_order
    assert xs[index.nearest(3.1)] == 3.0 and index.nearest(3.1) == 4
    assert index.nearest(4.2) == 6  # step 4 logged twice: the last one logged
    assert index.after(2.0) == 3.0 and index.before(5.0) == 4.0


def test_index_follows_a_growing_history():
    xs = [0.0, 1.0]
    index = index_of(xs)
    xs.extend([2.0, 3.0])
    index.update(xs)
    assert len(index) == 4 and index.last == 3.0 and index.in_order
    xs.append(1.5)  # out of order from now on
    index.update(xs)
    assert not index.in_order and index.last == 3.0 and index.after(1.0) == 1.5


def test_cursor_moves_one_logged_step_of_any_curve():
    a, b = index_of([0.0, 10.0, 20.0]), index_of([5.0, 15.0])
    assert cursor_step([a, b], 10.0, 1) == 15.0
    assert cursor_step([a, b], 10.0, -1) == 5.0
    assert cursor_step([a, b], 20.0, 1) is None
    assert cursor_end([a, b], last=False) == 0.0 and cursor_end([a, b], last=True) == 20.0


def test_cursor_jump_lands_on_a_logged_point_or_the_end():
    index = index_of([float(s) for s in range(0, 1000, 7)])
    assert cursor_jump([index], 0.0, 100.0) == 105.0
    assert cursor_jump([index], 994.0, 100.0) == 994.0
    assert cursor_jump([index], 105.0, -100.0) == 0.0
    assert cursor_jump([index], 3.0, -100.0) == 0.0
    assert cursor_snap([index], 10.0) == 7.0


def test_zoom_keeps_the_centre_in_place_and_stops_at_everything():
    full = Window(0.0, 1000.0)
    half = zoom(None, full, 1000.0, 2.0)
    assert half == Window(500.0, 1000.0)  # at the right edge: the newest steps, as `z` showed
    quarter = zoom(half, full, 600.0, 2.0)
    assert quarter == Window(550.0, 800.0)  # 600 stays 20 % from the left
    assert zoom(quarter, full, 600.0, 0.5) == Window(500.0, 1000.0)
    assert zoom(half, full, 600.0, 0.5) is None  # wider than the data: everything
    assert zoom(Window(0, 10), full, 5.0, 100.0, smallest=4.0).span == 4.0


def test_pan_and_follow_stay_on_the_data():
    full = Window(0.0, 100.0)
    window = Window(40.0, 60.0)
    assert pan(window, full, 0.5) == Window(50.0, 70.0)
    assert pan(window, full, 5.0) == Window(80.0, 100.0)
    assert pan(window, full, -5.0) == Window(0.0, 20.0)
    assert pan(None, full, 0.5) is None
    assert follow(window, full, 65.0) == Window(45.0, 65.0)
    assert follow(window, full, 50.0) is window


def test_smallest_span_is_a_few_logged_steps():
    assert smallest_span([index_of([float(s) for s in range(0, 101)])]) == 3.0


def test_span_includes_a_neighbour_either_side():
    xs = [float(s) for s in range(100)]
    index = index_of(xs)
    begin, end = index.span(10.5, 20.5)
    assert (xs[begin], xs[end - 1]) == (10.0, 21.0)
    assert index.count_between(10.5, 20.5) == 10


def test_symlog_is_odd_monotonic_and_invertible():
    threshold = symlog_threshold([-500.0, 3.0, 800.0])
    assert threshold == 0.1  # three decades below the largest |y| (800 -> 100 -> 0.1)
    values = [-800.0, -1.0, -0.01, 0.0, 0.01, 1.0, 800.0]
    mapped = [symlog(v, threshold) for v in values]
    assert mapped == sorted(mapped) and mapped[3] == 0.0 and mapped[0] == -mapped[-1]
    assert all(math.isclose(symlog_inverse(m, threshold), v, abs_tol=1e-12) for m, v in zip(mapped, values))
    assert symlog_threshold([0.0, float("nan")]) == 1.0


def test_percentile_and_clipping_hide_one_spike():
    assert percentile([1.0, 2.0, 3.0, 4.0, 5.0], 50) == 3.0
    assert percentile([0.0, 10.0], 25) == 2.5
    rng = random.Random(1)
    values = [rng.uniform(0.9, 1.1) for _ in range(500)] + [1e6]
    low, high = clip_range(values)
    assert 0.8 < low < 0.9 and 1.1 < high < 1.2
    assert clamp([1.0, 1e6, float("nan")], (low, high))[1] == high
    assert clip_range([1.0, 2.0, 3.0, 4.0]) is None  # nothing to hide


def test_density_counts_each_curve_once_per_cell_and_joins_points():
    window = Window(0.0, 10.0)
    flat = ([0.0, 10.0], [0.5, 0.5])
    drop = ([0.0, 0.1], [9.5, 0.5])  # a steep drop inside one column: a vertical streak
    grid = density([flat, flat, drop], window, (0.0, 10.0), columns=10, rows=10)
    assert [grid[0][c] for c in range(10)] == [3] + [2] * 9  # flat twice along the bottom row
    assert all(grid[r][0] == 1 for r in range(1, 10))
    levels = density_levels(grid)
    assert len(levels) == len(DENSITY_GLYPHS)
    assert levels[-1] == [(0, 0)] and (5, 0) in levels[2]


def test_density_skips_points_outside_the_window_and_undrawable_ones():
    grid = density([([-5.0, 5.0, 50.0], [1.0, float("nan"), 1.0])], Window(0.0, 10.0), (0.0, 2.0), 4, 2)
    assert sum(map(sum, grid)) == 0
