"""How fast the app answers on big stores (headless, Textual's test harness, 120x40).

    python bench/bench_tui.py [--keep DIR]

Targets (issue 3): with 10,000 runs in 20 experiments, first paint with the tree under 1 s,
keypress to repaint under 50 ms while moving through runs; switching to an experiment with
2,000 runs under 300 ms.

A key press through Textual's Pilot has a fixed cost of its own (it waits for the screen to be
idle). So each key figure is printed raw and net of the same harness's cost for a key that is
bound to nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
sys.path.insert(0, str(Path(__file__).parent.parent))
from make_store import make_store  # noqa: E402

from tuitrack.app.app import TuitrackApp  # noqa: E402
from tuitrack.app.widgets.run_tree import RunTree  # noqa: E402
from tuitrack.app.widgets.runs_table import RunsTable  # noqa: E402
from tuitrack.store import open_store  # noqa: E402


async def wait_for(predicate, timeout=60.0) -> float:
    start = time.perf_counter()
    while not predicate():
        if time.perf_counter() - start > timeout:
            raise TimeoutError
        await asyncio.sleep(0.002)
    return time.perf_counter() - start


CPU_PER_KEY: list[float] = []  # UI-thread CPU seconds per key, of the last timed_presses call


async def timed_presses(pilot, key: str, count: int) -> list[float]:
    """Wall time of each press through the harness; also records the UI thread's CPU per key
    (the app runs on this thread: time.thread_time leaves out the worker threads and idle waits)."""
    times = []
    cpu = time.thread_time()
    for _ in range(count):
        start = time.perf_counter()
        await pilot.press(key)
        times.append(time.perf_counter() - start)
    CPU_PER_KEY[:] = [(time.thread_time() - cpu) / count]
    return times


def p95(values: list[float]) -> float:
    return sorted(values)[int(len(values) * 0.95) - 1]


async def bench_big_store(store: Path) -> None:
    started = time.perf_counter()
    app = TuitrackApp(open_store(str(store)))
    async with app.run_test(size=(120, 40)) as pilot:
        screen = app.screen
        # The screen sets _painted once the tree with its experiments has been drawn.
        await wait_for(lambda: hasattr(screen, "_painted") and screen._painted.is_set())
        first_paint = time.perf_counter() - started
        await wait_for(lambda: all(screen.index.runs_loaded(e) for e in screen.index.experiments), timeout=120)
        metas = time.perf_counter() - started
        await wait_for(lambda: screen.loaded)
        everything = time.perf_counter() - started
        print(f"10,000 runs / 20 experiments: first paint (tree) {first_paint * 1000:.0f} ms; "
              f"all run names {metas:.2f} s; all params and metrics {everything:.2f} s")
        tree = screen.query_one(RunTree)
        tree.focus()
        first = next(iter(tree.experiment_nodes.values()))
        first.expand()
        await pilot.pause(0.3)
        baseline = await timed_presses(pilot, "z", 30)
        base_cpu = CPU_PER_KEY[0]
        moves = await timed_presses(pilot, "j", 60)
        base = statistics.median(baseline)
        print(f"  harness alone (unbound key): median {base * 1000:.0f} ms wall, {base_cpu * 1000:.1f} ms UI CPU")
        print(f"  tree j: median {statistics.median(moves) * 1000:.0f} ms wall, p95 {p95(moves) * 1000:.0f} ms; "
              f"UI-thread CPU {CPU_PER_KEY[0] * 1000:.1f} ms per key")
        screen.query_one(RunsTable).focus()
        await pilot.pause()
        moves = await timed_presses(pilot, "j", 60)
        print(f"  table j: median {statistics.median(moves) * 1000:.0f} ms wall, p95 {p95(moves) * 1000:.0f} ms; "
              f"UI-thread CPU {CPU_PER_KEY[0] * 1000:.1f} ms per key")


async def bench_switch(store: Path) -> None:
    app = TuitrackApp(open_store(str(store)))
    async with app.run_test(size=(120, 40)) as pilot:
        screen = app.screen
        await wait_for(lambda: getattr(screen, "loaded", False))
        await pilot.pause(0.3)
        tree = screen.query_one(RunTree)
        tree.focus()
        big, small = sorted(screen.index.experiments, key=lambda e: len(screen.index.runs_of(e)), reverse=True)[:2]
        times, cpus = [], []
        for _ in range(5):
            for target in (small, big):
                tree.select_experiment(target)  # programmatic: put the cursor next to it
            await pilot.pause()
            tree.select_experiment(small)
            await pilot.pause()
            line = tree.experiment_nodes[big]._line
            key = "j" if line > tree.cursor_line else "k"
            tree.cursor_line = line + (-1 if key == "j" else 1)
            await pilot.pause()
            start = time.perf_counter()
            cpu = time.thread_time()
            await pilot.press(key)
            times.append(time.perf_counter() - start)
            cpus.append(time.thread_time() - cpu)
            assert len(screen.query_one(RunsTable).runs) == len(screen.index.runs_of(big))
        print(f"switch to an experiment with {len(screen.index.runs_of(big))} runs: median "
              f"{statistics.median(times) * 1000:.0f} ms wall, worst {max(times) * 1000:.0f} ms; "
              f"UI-thread CPU median {statistics.median(cpus) * 1000:.0f} ms")


def main() -> None:
    parser = argparse.ArgumentParser(description="tuitrack app responsiveness on big stores")
    parser.add_argument("--keep", type=Path, help="generate stores here and reuse them")
    args = parser.parse_args()
    base = args.keep or Path(tempfile.mkdtemp(prefix="tuitrack-bench-"))
    big = base / "r10000-e20-m5-s200"
    if not big.exists():
        make_store(big, 10000, 20, 5, 200)
    switch = base / "switch-2000"
    if not switch.exists():
        make_store(switch, 2000, 1, 5, 200)
        make_store(switch, 300, 3, 5, 50, seed=1)  # more experiments beside the big one
    asyncio.run(bench_big_store(big))
    asyncio.run(bench_switch(switch))


if __name__ == "__main__":
    main()
