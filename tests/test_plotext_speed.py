"""The faster hd_group gives exactly what plotext's own gives, and plots draw the same."""

from __future__ import annotations

import math
import random

import plotext
import plotext._utility as plotext_utility
import pytest

from tuitrack.app.widgets import plotext_speed

SPECIAL = [math.nan, math.inf, -math.inf, 0.0, -0.0, None]


def random_points(rng: random.Random, count: int, specials: bool) -> tuple[list, list]:
    def one():
        if specials and rng.random() < 0.05:
            return rng.choice(SPECIAL)
        return rng.choice([rng.randint(0, 300), rng.uniform(0, 300)])
    return [one() for _ in range(count)], [one() for _ in range(count)]


@pytest.mark.parametrize("seed", range(40))
def test_the_same_cells_and_dots_as_plotexts_own(seed):
    rng = random.Random(seed)
    x, y = random_points(rng, rng.randint(1, 3000), specials=seed % 2 == 0)
    for fx, fy in ((2, 4), (2, 3), (1, 1), (2, 2)):
        xf, yf = [fx] * len(x), [fy] * len(y)
        try:
            expected = plotext_speed._original(x, y, xf, yf)
        except Exception as error:  # noqa: BLE001 - plotext's own failures must stay the same
            with pytest.raises(type(error)):
                plotext_speed.hd_group(x, y, xf, yf)
            continue
        assert canonical(plotext_speed.hd_group(x, y, xf, yf)) == canonical(expected)


def canonical(result):
    """NaN as a name: each NaN is another object, and NaN != NaN."""
    xs, ys, dots = result
    name = lambda v: "nan" if isinstance(v, float) and math.isnan(v) else (type(v).__name__, v)
    return [name(v) for v in xs], [name(v) for v in ys], dots


def test_mixed_marker_sizes_go_to_plotexts_own(monkeypatch):
    calls = []
    monkeypatch.setattr(plotext_speed, "_original", lambda *args: calls.append(args) or ([], [], []))
    plotext_speed.hd_group([1, 2], [3, 4], [2, 1], [4, 1])
    assert len(calls) == 1


def test_a_plot_draws_the_same_with_either(monkeypatch):
    rng = random.Random(7)
    ys = [math.sin(i / 50) + rng.uniform(-0.5, 0.5) for i in range(2000)]

    def draw() -> str:
        plotext.clear_figure()
        plotext.plotsize(120, 40)
        plotext.plot(list(range(len(ys))), ys, marker="braille", color="cyan")
        plotext.plot(list(range(len(ys))), [y * 0.5 for y in ys], marker="braille", color="orange")
        return plotext.build()

    monkeypatch.setattr(plotext_utility, "hd_group", plotext_speed._original)
    expected = draw()
    monkeypatch.setattr(plotext_utility, "hd_group", plotext_speed.hd_group)
    assert any(0x2801 <= ord(c) <= 0x28FF for c in expected)  # braille dots were drawn
    assert draw() == expected
