"""The param-against-metric view: one dot per run, axes chosen from what the runs have."""

from __future__ import annotations

from tests.app_helpers import make_app, settle
from tests.test_app_plot import plot_text
from tests.test_snapshots import goto
from tuitrack.app.screens.scatter import Scatter, ScatterScreen, numeric_params


async def test_scatter_of_a_sweep():
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await goto(pilot, "lr=0.1")
        await pilot.press("S")
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, ScatterScreen)
        scatter = screen.query_one(Scatter)
        assert scatter.x == "param:batch_size" and scatter.y == "metric:train/loss"
        await pilot.press("x")  # next x: lr
        await pilot.pause()
        assert scatter.x == "param:lr"
        points = sorted((x, run.run_name) for x, _, run in scatter.points())
        # the sweep's parent has no lr; baseline-mlp shares lr=0.01 with its sweep child
        assert points == [(0.003, "lr=0.003"), (0.01, "baseline-mlp"), (0.01, "lr=0.01"),
                          (0.03, "lr=0.03"), (0.1, "lr=0.1")]
        assert "train/loss against lr" in plot_text(scatter)
        await pilot.press("l", "y", "Y", "L")
        await pilot.pause()
        assert scatter.log_x and scatter.log_y and scatter.y == "metric:train/loss"
        assert "lr (log)" in plot_text(scatter)
        await pilot.press("escape")
        assert not isinstance(app.screen, ScatterScreen)


def test_numeric_params_skip_text_and_constants():
    from tuitrack.model import Run

    runs = [Run("a", "1", params={"lr": "0.1", "opt": "adam", "seed": "1"}),
            Run("b", "1", params={"lr": "0.01", "opt": "sgd", "seed": "1"})]
    assert numeric_params(runs) == ["lr"]
