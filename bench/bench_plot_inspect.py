"""What a key costs while reading a plot: cursor moves, zoom and pan on 4 runs x 100,000 points.

    python bench/bench_plot_inspect.py [--points 100000] [--runs 4] [--repeat 40]

The app runs headless (Textual's test harness) at 120x40 with the plot full screen. For each
action it prints the p50 and p95, in ms, of:

- "widget": the action and the rebuild of the plot it causes (what the UI thread spends on the
  plot: the key's handler, plotext's build, the strips), wall time and CPU time;
- "key to paint": a key press through Textual until the screen is painted again (adds Textual's
  own work and the test harness' pause: the "(no action)" row is that floor, a key nothing is
  bound to).

"(new data)" is, for reference, the redraw after the histories change (bench_live.py's figure):
zoom and pan cost one such plotext build, cursor keys none.

Target (issue 17): under 50 ms per action, and no growth with the history's length (run it with
--points 10000 and --points 100000: the cursor and pan figures should match).
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent.parent))

from bench.bench_live import full_screen_plot, plot_app  # noqa: E402
from tuitrack.app.widgets.metric_plot import PlotRun  # noqa: E402
from tuitrack.model import MetricPoint  # noqa: E402

# (label, key, action name, its arguments): cursor keys alternate so the cursor stays mid-plot
ACTIONS = [
    ("cursor one step", ("left", "right"), "cursor", ((-1,), (1,))),
    ("cursor a tenth", ("shift+left", "shift+right"), "cursor_jump", ((-1,), (1,))),
    ("zoom in / out", ("z", "Z"), "zoom", ((2.0,), (0.5,))),
    ("pan", ("left_square_bracket", "right_square_bracket"), "pan", ((-1,), (1,))),
]


def percentiles(values: list[float]) -> tuple[float, float]:
    ordered = sorted(values)
    return statistics.median(ordered), ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]


async def measure(points: int, runs: int, repeat: int) -> None:
    app = plot_app()
    async with app.run_test(size=(120, 40)) as pilot:
        plot = await full_screen_plot(pilot)
        colours = ["cyan", "orange", "green", "magenta", "yellow", "blue", "red", "white"]
        plot_runs = []
        for r in range(runs):
            history = [MetricPoint(1_000_000 + s * 100, 1 / (1 + s / 3000) + (s % 97) * 1e-4 * (r + 1), s)
                       for s in range(points)]
            plot_runs.append(PlotRun(f"r{r}", f"run {r}", colours[r % len(colours)], 1_000_000, {"loss": history}))
        plot.set_runs(plot_runs, ["loss"])
        await pilot.pause()
        plot.focus()
        # the cursor in the middle of a window of a quarter of the steps: every action has room
        plot.action_cursor_end(True)
        plot.action_zoom(2.0)
        plot.action_zoom(2.0)
        for _ in range(20):
            plot.action_cursor_jump(-1)
        await pilot.pause()
        print(f"{runs} runs x {points:,} points, 120x40, full screen")
        floor = []
        for _ in range(repeat // 2):  # a key nothing is bound to: what Textual and the harness cost
            started = time.perf_counter()
            await pilot.press("f12")
            await pilot.pause()
            floor.append((time.perf_counter() - started) * 1000)
        f50, f95 = percentiles(floor)
        print(f"  {'(no action)':16} {'':56}   key to paint p50 {f50:5.1f} ms  p95 {f95:5.1f} ms")
        rebuild, rebuild_cpu = [], []
        for _ in range(repeat // 2):  # for reference: a redraw after new data (what bench_live times)
            started, started_cpu = time.perf_counter(), time.process_time()
            plot._data_version += 1
            for y in range(plot.size.height):
                plot.render_line(y)
            rebuild.append((time.perf_counter() - started) * 1000)
            rebuild_cpu.append((time.process_time() - started_cpu) * 1000)
        (w50, w95), (c50, c95) = percentiles(rebuild), percentiles(rebuild_cpu)
        print(f"  {'(new data)':16} widget p50 {w50:5.1f} ms  p95 {w95:5.1f} ms  (CPU p50 {c50:5.1f}, p95 {c95:5.1f})")
        for label, keys, action, arguments in ACTIONS:
            wall, cpu, painted = [], [], []
            for i in range(repeat):
                args = arguments[i % 2]
                started, started_cpu = time.perf_counter(), time.process_time()
                getattr(plot, f"action_{action}")(*args)
                for y in range(plot.size.height):
                    plot.render_line(y)  # the rebuild the action caused
                wall.append((time.perf_counter() - started) * 1000)
                cpu.append((time.process_time() - started_cpu) * 1000)
            for i in range(repeat // 2):
                started = time.perf_counter()
                await pilot.press(keys[i % 2])
                await pilot.pause()
                painted.append((time.perf_counter() - started) * 1000)
            (w50, w95), (c50, c95), (p50, p95) = percentiles(wall), percentiles(cpu), percentiles(painted)
            print(f"  {label:16} widget p50 {w50:5.1f} ms  p95 {w95:5.1f} ms  (CPU p50 {c50:5.1f}, p95 {c95:5.1f})"
                  f"   key to paint p50 {p50:5.1f} ms  p95 {p95:5.1f} ms")


def main() -> None:
    parser = argparse.ArgumentParser(description="tuitrack plot cursor / zoom benchmark")
    parser.add_argument("--points", type=int, default=100_000, help="points per run")
    parser.add_argument("--runs", type=int, default=4)
    parser.add_argument("--repeat", type=int, default=40, help="times each action is measured")
    args = parser.parse_args()
    asyncio.run(measure(args.points, args.runs, args.repeat))


if __name__ == "__main__":
    main()
