"""What system metrics cost: `tuitrack show` of a run with MLflow's 12 system metrics of one GPU
machine, and the system view's reading and drawing of them.

    python bench/bench_system.py [--samples 10000 100000]

MLflow samples every 10 s: 10,000 samples is 28 hours of training, 100,000 is 11.5 days. The
store is written in MLflow's file format (bench/make_store.py's run, plus the `system/` files).
Printed per size: `show` as a new process (wall and CPU seconds, peak memory), the view's first
read of all 12 histories (CPU seconds, peak Python memory: PlotFeed keeps them bounded), a
catch-up read after 1 sample more each, the reading thread's summary of them (values, peaks),
and one drawing of the panel's text at 120 columns (what the UI thread pays per redraw).
"""

from __future__ import annotations

import argparse
import random
import subprocess
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent.parent))

from bench.make_store import make_store  # noqa: E402
from tuitrack.app.widgets.system_view import Reading, SystemView  # noqa: E402
from tuitrack.live.metric_reads import PlotFeed  # noqa: E402
from tuitrack.store import open_store  # noqa: E402

CHILD = """
import contextlib, io, resource, sys
from tuitrack.cli import main
with contextlib.redirect_stdout(io.StringIO()):
    main(["show", *sys.argv[1:]])
usage = resource.getrusage(resource.RUSAGE_SELF)
# VmHWM, not ru_maxrss: Linux carries ru_maxrss over exec, so it would count the forking parent.
peak = next(line.split()[1] for line in open("/proc/self/status") if line.startswith("VmHWM:"))
print(usage.ru_utime + usage.ru_stime, peak)
"""

KEYS = ["cpu_utilization_percentage", "system_memory_usage_megabytes", "system_memory_usage_percentage",
        "gpu_0_utilization_percentage", "gpu_0_memory_usage_megabytes", "gpu_0_memory_usage_percentage",
        "gpu_0_power_usage_watts", "disk_usage_percentage", "disk_usage_megabytes", "disk_available_megabytes",
        "network_receive_megabytes", "network_transmit_megabytes"]


def write_system_metrics(run_dir: Path, start: int, samples: int, first: int = 0) -> None:
    rng = random.Random(first)
    folder = run_dir / "metrics" / "system"
    folder.mkdir(parents=True, exist_ok=True)
    for key in KEYS:
        lines = [f"{start + i * 10_000} {rng.random() * 100} {i}\n" for i in range(first, first + samples)]
        with open(folder / key, "a") as f:
            f.write("".join(lines))


def bench(samples: int) -> None:
    root = Path(tempfile.mkdtemp(prefix="tuitrack-system-")) / "mlruns"
    make_store(root, runs=1, experiments=1, metrics=1, steps=100)
    run_dir = next(p for p in root.glob("*/*") if (p / "metrics").is_dir())
    start = 1_790_000_000_000
    write_system_metrics(run_dir, start, samples)

    began = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", CHILD, str(root), run_dir.name],
                          check=True, stdout=subprocess.PIPE, text=True)
    wall = time.perf_counter() - began
    cpu, peak_kib = done.stdout.strip().splitlines()[-1].split()
    print(f"{samples:>8,} samples x 12: show {wall:.2f} s wall, {float(cpu):.2f} s CPU, "
          f"peak {int(peak_kib) / 1024:.0f} MiB")

    store = open_store(str(root))
    run = next(r for e in store.experiments() for r in store.runs(e))
    store.load_data(run)  # params, tags and each metric's latest point, as the index reads them
    keys = [f"system/{k}" for k in KEYS]
    began = time.process_time()
    feeds = {key: PlotFeed(store, run, key) for key in keys}
    for feed in feeds.values():
        feed.read()
    read_cpu = time.process_time() - began
    tracemalloc.start()  # again, for the memory (tracemalloc slows the reading down)
    kept = [PlotFeed(store, run, key) for key in keys]
    for feed in kept:
        feed.read()
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    write_system_metrics(run_dir, start, 1, first=samples)
    began = time.process_time()
    for feed in feeds.values():
        feed.read()
    grow_cpu = time.process_time() - began

    view = SystemView()
    view.run, view.loaded = run, True
    began = time.process_time()
    view.readings = {key: Reading.of(feed.points, feed.bounded.count) for key, feed in feeds.items()}
    summary_ms = (time.process_time() - began) * 1000
    began = time.process_time()
    rounds = 20
    for _ in range(rounds):
        view._text(116)
    draw_ms = (time.process_time() - began) / rounds * 1000
    points = max(len(reading.values) for reading in view.readings.values())
    print(f"{'':>8}  view: first read {read_cpu:.2f} s CPU (peak {peak / 2**20:.0f} MiB, {points:,} points "
          f"kept per metric), +1 sample each {grow_cpu * 1000:.1f} ms; reading thread's summary "
          f"{summary_ms:.1f} ms; UI thread's panel text {draw_ms:.1f} ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, nargs="+", default=[10_000, 100_000])
    for samples in parser.parse_args().samples:
        bench(samples)


if __name__ == "__main__":
    main()
