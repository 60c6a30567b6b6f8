"""Hostile shapes: a 5,000-deep parent chain, a run with 100,000 metrics and 100,000 params, a
metric of 10 million points. Each case runs in a fresh process (time and peak memory).

    python bench/bench_shapes.py                 # this checkout
    python bench/bench_shapes.py --code /work/main   # another checkout's tuitrack, same stores

Figures: `prune --dry-run` over the chain; from selecting the wide run to the first key answered;
a plot of the 10M-point metric from `p` to drawn, and the process's peak memory.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def peak_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


async def _wait(predicate, timeout: float = 600.0) -> None:
    start = time.perf_counter()
    while not predicate():
        if time.perf_counter() - start > timeout:
            raise TimeoutError
        await asyncio.sleep(0.005)


async def case_wide(store: str, run_id: str) -> dict:
    from textual import events

    from tuitrack.app.app import TuitrackApp
    from tuitrack.app.widgets.runs_table import RunsTable
    from tuitrack.store import open_store

    app = TuitrackApp(open_store(store))
    async with app.run_test(size=(120, 40)) as pilot:
        screen = app.screen
        await _wait(lambda: getattr(screen, "loaded", False))
        table = screen.query_one(RunsTable)
        await _wait(lambda: len(table.runs) == 2)
        table.focus()
        await pilot.pause()
        await pilot.press("g")

        def press(key: str) -> None:
            """Straight into the app's queue: Pilot.press also waits for the process to be idle,
            which the loading threads never are."""
            app.post_message(events.Key(key, key))

        await pilot.pause()
        started = time.perf_counter()
        wide = next(i for i, r in enumerate(table.runs) if r.run_id == run_id)
        press("j" if wide > table.cursor_row else "k")  # onto the wide run
        await _wait(lambda: table.highlighted_run.run_id == run_id)
        selected = time.perf_counter() - started
        press("l")  # the next key, answered once the selection's work is done
        await _wait(lambda: table.cursor_column == 1)
        answered = time.perf_counter() - started
        keys = []
        for key in "hlhlhlhlhl":
            t = time.perf_counter()
            column = table.cursor_column
            press(key)
            await _wait(lambda: table.cursor_column != column)
            keys.append(time.perf_counter() - t)
        return {"select_s": selected, "first_key_s": answered, "key_max_s": max(keys), "keys_ms": [round(k * 1000) for k in keys],
                "peak_mib": peak_mib()}


async def case_plot(store: str, run_id: str) -> dict:
    from tuitrack.app.app import TuitrackApp
    from tuitrack.app.widgets.metric_plot import MetricPlot
    from tuitrack.store import open_store

    app = TuitrackApp(open_store(store))
    async with app.run_test(size=(120, 40)) as pilot:
        screen = app.screen
        await _wait(lambda: getattr(screen, "loaded", False))
        await screen.select_run(run_id)
        await pilot.pause()
        plot = screen.query_one(MetricPlot)
        started = time.perf_counter()
        await pilot.press("p")
        await _wait(lambda: bool(plot.runs) and bool(plot.runs[0].histories.get("loss")))
        await pilot.pause()
        drawn = time.perf_counter() - started
        return {"plot_s": drawn, "points_kept": len(plot.runs[0].histories["loss"]), "peak_mib": peak_mib()}


def case_prune(store: str) -> dict:
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "tuitrack", "prune", store, "--status", "FINISHED", "--dry-run"],
                          capture_output=True, text=True, env=os.environ.copy())
    wall = time.perf_counter() - started
    from tuitrack.query.prune import Policy, decide
    from tuitrack.store import open_store
    from tuitrack.store.listing import list_runs
    opened = open_store(store)
    pairs = list_runs(opened, opened.experiments(), include_deleted=False)
    started = time.perf_counter()
    decide(pairs, Policy(statuses={"FINISHED"}), int(time.time() * 1000), lambda r: False)
    return {"prune_dry_run_s": wall, "decide_s": time.perf_counter() - started, "ok": done.returncode == 0}


def child(args) -> None:
    if args.case == "wide":
        result = asyncio.run(case_wide(args.store, args.run))
    elif args.case == "plot":
        result = asyncio.run(case_plot(args.store, args.run))
    else:
        result = case_prune(args.store)
    print(json.dumps(result))


def run_case(code: Path, case: str, store: Path, run_id: str = "") -> dict:
    env = {**os.environ, "PYTHONPATH": str(code)}
    done = subprocess.run([sys.executable, __file__, "--case", case, "--store", str(store), "--run", run_id],
                          capture_output=True, text=True, env=env, cwd=tempfile.gettempdir())
    if done.returncode != 0:
        return {"error": done.stderr.strip().splitlines()[-1] if done.stderr.strip() else "failed"}
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--code", default=str(HERE.parent), help="the checkout whose tuitrack to measure")
    parser.add_argument("--case")
    parser.add_argument("--store")
    parser.add_argument("--run", default="")
    parser.add_argument("--points", type=int, default=10_000_000)
    parser.add_argument("--keys", type=int, default=100_000)
    parser.add_argument("--only", default="prune,wide,plot")
    args = parser.parse_args()
    if args.case:
        child(args)
        return
    sys.path.insert(0, str(HERE.parent))  # the fixtures (the children import only --code's tuitrack)
    from tests.hostile_shapes import make_chain, make_long_metric, make_wide_run

    code = Path(args.code).resolve()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        if "prune" in args.only:
            make_chain(tmp / "chain", 5000)
            r = run_case(code, "prune", tmp / "chain")
            print(f"5,000-deep chain: prune --dry-run {r.get('prune_dry_run_s', 0):.2f} s "
                  f"(families and verdicts: {r.get('decide_s', 0) * 1000:.0f} ms) {r.get('error', '')}")
        if "wide" in args.only:
            run_id = make_wide_run(tmp / "wide", args.keys, args.keys)
            r = run_case(code, "wide", tmp / "wide", run_id)
            print(f"run with {args.keys:,} metrics and params: selected {r.get('select_s', 0):.2f} s, "
                  f"first key answered {r.get('first_key_s', 0):.2f} s, slowest key after "
                  f"{r.get('key_max_s', 0) * 1000:.0f} ms {r.get('keys_ms')}, peak {r.get('peak_mib', 0):.0f} MiB {r.get('error', '')}")
        if "plot" in args.only:
            run_id = make_long_metric(tmp / "long", args.points)
            r = run_case(code, "plot", tmp / "long", run_id)
            print(f"{args.points:,}-point metric: plot drawn {r.get('plot_s', 0):.1f} s after p, "
                  f"{r.get('points_kept', 0):,} points kept, peak {r.get('peak_mib', 0):.0f} MiB {r.get('error', '')}")


if __name__ == "__main__":
    main()
