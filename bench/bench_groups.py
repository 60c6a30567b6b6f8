"""Groups of runs: what grouping, a group's band and a plot of groups cost (CPU time).

    python bench/bench_groups.py [--runs 10000] [--points 100000]

- group_runs: N runs x 5 metrics grouped by one param with 10 values (ls --group-by, `b`);
- band: 5 runs x P points each (one group's mean and band), bounded by 240 buckets;
- plot: the widget's build of 4 groups x 5 runs x P points at 120x40 (MetricPlot._build).
"""

from __future__ import annotations

import argparse
import asyncio
import random
import time

from tuitrack.model import MetricPoint, Run
from tuitrack.query.groups import group_runs
from tuitrack.series import BoundedHistory, band


def cpu(fn, repeat: int = 3) -> float:
    best = float("inf")
    for _ in range(repeat):
        started = time.process_time()
        fn()
        best = min(best, time.process_time() - started)
    return best * 1000


def history(points: int, seed: int) -> list[MetricPoint]:
    rng = random.Random(seed)
    return [MetricPoint(i, 1 / (i + 1) + rng.random() / 10, i) for i in range(points)]


async def plot_build_ms(groups: list[list[list[MetricPoint]]]) -> tuple[float, float]:
    from textual.app import App

    from tuitrack.app.widgets.metric_plot import PALETTE, MetricPlot, PlotRun

    class One(App):
        def compose(self):
            yield MetricPlot()

    app = One()
    async with app.run_test(size=(120, 40)) as pilot:
        plot = app.query_one(MetricPlot)
        runs = [PlotRun(f"group:{i}", f"lr={i}", PALETTE[i], None, members={"loss": members})
                for i, members in enumerate(groups)]
        plot.set_runs(runs, ["loss"])
        first = cpu(plot._build, repeat=1)  # new data: every band computed
        return first, cpu(plot._build)  # the same data (a cursor move): the bands remembered


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=10_000)
    parser.add_argument("--points", type=int, default=100_000)
    args = parser.parse_args()
    runs = [Run(f"r{i}", "1", params={"lr": str(10 ** -(i % 10)), "seed": str(i)},
                metrics={f"m{k}": MetricPoint(0, random.random(), 0) for k in range(5)}) for i in range(args.runs)]
    print(f"group_runs, {args.runs:,} runs x 5 metrics, 10 groups: {cpu(lambda: group_runs(runs, ['lr'])):.0f} ms CPU")
    raw = [history(args.points, s) for s in range(5)]
    print(f"band, 5 runs x {args.points:,} points as logged: {cpu(lambda: band(raw, 240)):.0f} ms CPU")
    bounded = []
    for h in raw:
        kept = BoundedHistory()
        kept.add(h)
        bounded.append(kept.points())  # what the plot holds of a long history
    print(f"band, 5 runs x {len(bounded[0]):,} points kept by the plot: {cpu(lambda: band(bounded, 240)):.0f} ms CPU")
    new, same = asyncio.run(plot_build_ms([[list(h) for h in bounded] for _ in range(4)]))
    print(f"plot build, 4 groups x 5 runs x {len(bounded[0]):,} kept points, 120x40: {new:.0f} ms CPU "
          f"with new data, {same:.0f} ms redrawn with the same")

if __name__ == "__main__":
    main()
