"""How fast and how cheaply the app follows a store that a training script is writing.

    python bench/bench_live.py [--seconds 60] [--quick]

The app runs headless (Textual's test harness, 120x40) in this process, showing the plot of a
RUNNING run; a writer process appends metric lines whose timestamp field is the moment of the
write. "On screen" is the moment the plot has the new point and asks to be redrawn (the plot then
redraws at most twice a second, so add up to 500 ms for the drawing itself while a run writes
continuously; the first point after a quiet spell is drawn at once).

Targets (issue 4): append to screen under 300 ms (p95) with inotify, under the poll interval
plus 300 ms when polling; 1,000 lines a second with no missed point, no growth in latency, the
app under 20% of one core; idle under 1%; a plot of 4 runs x 100,000 points rebuilt at 120x40
in under 50 ms.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent.parent))

from tuitrack.app.app import TuitrackApp
from tuitrack.live.options import LiveOptions  # noqa: E402
from tuitrack.app.widgets.metric_plot import MetricPlot, PlotRun  # noqa: E402
from tuitrack.model import MetricPoint  # noqa: E402
from tuitrack.store import open_store  # noqa: E402
from tuitrack.store.mlflow_file import writer  # noqa: E402

WRITER = textwrap.dedent("""
    import sys, time
    path, rate, seconds, start = sys.argv[1], float(sys.argv[2]), float(sys.argv[3]), int(sys.argv[4])
    interval = 1 / rate
    began = time.monotonic()
    step = start
    while time.monotonic() - began < seconds:
        with open(path, "a") as f:
            f.write(f"{int(time.time() * 1000)} {step * 0.001} {step}\\n")
        step += 1
        next_at = began + (step - start) * interval
        delay = next_at - time.monotonic()
        if delay > 0:
            time.sleep(delay)
    print(step - start)
""")


def make_store(root: Path) -> Path:
    writer.ensure_store(root)
    experiment = writer.create_experiment(root, "live-bench")
    run_dir = writer.create_run(root, experiment, "training")
    writer.log_metric(run_dir, "loss", 1.0, 0)
    return run_dir


def p95(values: list[float]) -> float:
    return sorted(values)[max(0, int(len(values) * 0.95) - 1)]


async def follow(poll: float | None, rate: float, seconds: float) -> dict:
    """Open the app on a new store, plot its running run, let a writer append; measure."""
    root = Path(tempfile.mkdtemp(prefix="tuitrack-live-")) / "mlruns"
    run_dir = make_store(root)
    app = TuitrackApp(open_store(str(root)), live=LiveOptions(poll=poll))
    latencies: list[tuple[float, float]] = []  # (seconds since start, latency ms)
    async with app.run_test(size=(120, 40)) as pilot:
        screen = app.screen
        while not (getattr(screen, "loaded", False) and "live" in screen.watch_mode):
            await asyncio.sleep(0.05)
        run = next(iter(screen.index.all_runs()))
        await screen.select_run(run.run_id)
        screen.action_toggle_plot()
        plot = screen.query_one(MetricPlot)
        while not plot.runs:
            await asyncio.sleep(0.05)
        began = time.time()
        original = plot.data_changed
        seen = [len(plot.runs[0].histories["loss"])]

        def measured() -> None:
            # Every point new since the last call: its latency is now minus its write time.
            original()
            points = plot.runs[0].histories["loss"]
            now = time.time()
            for point in points[seen[0]:]:
                latencies.append((now - began, now * 1000 - point.timestamp))
            seen[0] = len(points)

        plot.data_changed = measured
        cpu_before = time.process_time()
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-c", WRITER, str(run_dir / "metrics" / "loss"), str(rate), str(seconds), "1",
            stdout=subprocess.PIPE)
        out, _ = await proc.communicate()
        written = int(out.decode().strip())
        deadline = time.monotonic() + (poll or 0) + 5
        while len(plot.runs[0].histories["loss"]) < written + 1 and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        cpu = (time.process_time() - cpu_before) / (time.time() - began)
        points = plot.runs[0].histories["loss"]
        steps = [p.step for p in points]
        missed = (written + 1) - len(points)
        ordered = steps == list(range(len(steps)))
    values = [latency for _, latency in latencies]
    first = [lat for t, lat in latencies if t < seconds / 3]
    last = [lat for t, lat in latencies if t > 2 * seconds / 3]
    return {"written": written, "missed": missed, "ordered": ordered, "updates": len(values),
            "median": statistics.median(values) if values else float("nan"),
            "p95": p95(values) if values else float("nan"),
            "p95_first_third": p95(first) if first else float("nan"),
            "p95_last_third": p95(last) if last else float("nan"), "cpu": cpu}


async def idle(seconds: float) -> float:
    root = Path(tempfile.mkdtemp(prefix="tuitrack-idle-")) / "mlruns"
    make_store(root)
    app = TuitrackApp(open_store(str(root)))
    async with app.run_test(size=(120, 40)) as pilot:
        screen = app.screen
        while not (getattr(screen, "loaded", False) and "live" in screen.watch_mode):
            await asyncio.sleep(0.05)
        await asyncio.sleep(1)
        began, cpu = time.time(), time.process_time()
        await asyncio.sleep(seconds)
        return (time.process_time() - cpu) / (time.time() - began)


def plot_app() -> TuitrackApp:
    """The app on a new one-run store (not watched), for the plot's benchmarks."""
    root = Path(tempfile.mkdtemp(prefix="tuitrack-plot-")) / "mlruns"
    make_store(root)
    return TuitrackApp(open_store(str(root)), live=LiveOptions(watch=False))


async def full_screen_plot(pilot) -> MetricPlot:
    """Once the store is loaded: the plot, full screen."""
    screen = pilot.app.screen
    while not getattr(screen, "loaded", False):
        await asyncio.sleep(0.05)
    screen.action_toggle_plot()
    screen.action_open_plot()
    await pilot.pause()
    return screen.query_one(MetricPlot)


async def plot_rebuild() -> tuple[float, float]:
    """Median and worst rebuild of a 120x40 plot of 4 runs x 100,000 points."""
    app = plot_app()
    async with app.run_test(size=(120, 40)) as pilot:
        plot = await full_screen_plot(pilot)
        plot.REDRAW_EVERY = 0  # measure every rebuild
        runs = []
        for r in range(4):
            points = [MetricPoint(1_000_000 + s * 100, 1 / (1 + s / 3000) + (s % 97) * 1e-4 * (r + 1), s) for s in range(100_000)]
            runs.append(PlotRun(f"r{r}", f"run {r}", ["cyan", "orange", "green", "magenta"][r], 1_000_000, {"loss": points}))
        plot.set_runs(runs, ["loss"])
        plot.data_changed()
        await pilot.pause()
        times = []
        for i in range(15):  # as when one of the runs is training: a point arrives, redraw
            points = runs[i % 4].histories["loss"]
            points.append(MetricPoint(points[-1].timestamp + 100, points[-1].value, points[-1].step + 1))
            plot.data_changed()
            await pilot.pause()
            await pilot.pause()
            times.append(plot.build_ms)
        return statistics.median(times), max(times)


def main() -> None:
    parser = argparse.ArgumentParser(description="tuitrack live-following benchmark")
    parser.add_argument("--seconds", type=float, default=60.0, help="how long the 1,000 lines/s writer runs")
    parser.add_argument("--quick", action="store_true", help="short runs (for a smoke test)")
    args = parser.parse_args()
    short = 5.0 if args.quick else 20.0
    median, worst = asyncio.run(plot_rebuild())
    print(f"plot of 4 runs x 100,000 points at 120x40, one run growing: redraw median {median:.0f} ms, "
          f"worst {worst:.0f} ms")
    for label, poll in (("inotify", None), ("polling every 1 s", 1.0)):
        r = asyncio.run(follow(poll, rate=20, seconds=short))
        print(f"append -> screen, {label}, 20 lines/s: median {r['median']:.0f} ms, p95 {r['p95']:.0f} ms; "
              f"{r['written']} written, {r['missed']} missed")
    seconds = 5.0 if args.quick else args.seconds
    r = asyncio.run(follow(None, rate=1000, seconds=seconds))
    print(f"1,000 lines/s for {seconds:.0f} s (inotify): {r['written']} written, {r['missed']} missed, "
          f"in order: {r['ordered']}; {r['updates']} points drawn; latency p95 {r['p95']:.0f} ms "
          f"(first third {r['p95_first_third']:.0f} ms, last third {r['p95_last_third']:.0f} ms); "
          f"app CPU {r['cpu'] * 100:.1f}% of one core")
    print(f"idle (nothing written) for {short:.0f} s: app CPU {asyncio.run(idle(short)) * 100:.2f}% of one core")


if __name__ == "__main__":
    main()
