"""Time `tuitrack ls --json` (a new process, cold start) against MLflow's `search_runs` on the same store.

    pip install -e '.[test]'     # MLflow is a test dependency
    python bench/bench_ls.py [--quick]

Prints, for each store shape: tuitrack's wall time (best of N new processes), MLflow's
`MlflowClient().search_runs` time after import (best of N), the ratio, and the peak memory of
tuitrack's process. Targets (2-core machine): 2,000 runs x 5 metrics x 200 steps at least 20x
faster than MLflow; 10,000 runs under 2 s; memory that grows with runs, not with metric points.
Stores are generated under a temporary folder (or --keep DIR to reuse them).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from make_store import make_store  # noqa: E402

MLFLOW_SNIPPET = """
import os, sys, time, json
os.environ["MLFLOW_ALLOW_FILE_STORE"] = "true"
from mlflow.entities import ViewType
from mlflow.tracking import MlflowClient
c = MlflowClient(tracking_uri=sys.argv[1])
ids = [e.experiment_id for e in c.search_experiments(view_type=ViewType.ALL)]
best = None
for _ in range(int(sys.argv[2])):
    t = time.perf_counter()
    runs = c.search_runs(ids, max_results=50000, run_view_type=ViewType.ACTIVE_ONLY)
    best = min(best or 1e9, time.perf_counter() - t)
print(json.dumps({"seconds": best, "runs": len(runs)}))
"""


# `tuitrack ls`, reporting its own peak memory (and its forked workers') on stderr. Its own is
# VmHWM: Linux keeps ru_maxrss across exec, so that would report the benchmark's own size.
MEASURED_LS = """
import resource, sys
from tuitrack.cli import main
code = main(sys.argv[1:])
own = next(int(line.split()[1]) for line in open("/proc/self/status") if line.startswith("VmHWM:"))
peak = max(own, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
sys.stderr.write(f"PEAK_KIB {peak}\\n")
sys.exit(code)
"""


def time_tuitrack(store: Path, repeats: int) -> tuple[float, int, float]:
    """Best wall time of a new `tuitrack ls STORE --json` process, its run count and peak RSS (MiB)."""
    best = float("inf")
    count = 0
    peak = 0.0
    for _ in range(repeats):
        start = time.perf_counter()
        done = subprocess.run([sys.executable, "-c", MEASURED_LS, "ls", str(store), "--json"],
                              capture_output=True, check=True)
        best = min(best, time.perf_counter() - start)
        count = len(json.loads(done.stdout))
        kib = int(done.stderr.decode().rsplit("PEAK_KIB ", 1)[1].split()[0])
        peak = max(peak, kib / 1024)
    return best, count, peak


def time_mlflow(store: Path, repeats: int) -> tuple[float, int]:
    done = subprocess.run([sys.executable, "-c", MLFLOW_SNIPPET, store.resolve().as_uri(), str(repeats)],
                          capture_output=True, text=True, check=True)
    result = json.loads(done.stdout.strip().splitlines()[-1])
    return result["seconds"], result["runs"]


def main() -> None:
    parser = argparse.ArgumentParser(description="tuitrack ls vs MLflow search_runs")
    parser.add_argument("--quick", action="store_true", help="smaller stores, one repeat")
    parser.add_argument("--keep", type=Path, help="generate stores here and reuse them next time")
    parser.add_argument("--no-mlflow", action="store_true", help="time tuitrack only")
    args = parser.parse_args()
    shapes = [  # (runs, experiments, metrics, steps, compare with MLflow)
        (2000, 1, 5, 200, True),
        (2000, 1, 5, 2000, False),
        (10000, 20, 5, 200, False),
    ]
    if args.quick:
        shapes = [(500, 1, 5, 200, True), (500, 1, 5, 2000, False)]
    repeats = 1 if args.quick else 3
    base = args.keep or Path(tempfile.mkdtemp(prefix="tuitrack-bench-"))
    print(f"{'store':<34}{'tuitrack ls':>12}{'MLflow':>10}{'ratio':>8}{'peak RSS':>10}")
    for runs, exps, metrics, steps, compare in shapes:
        store = base / f"r{runs}-e{exps}-m{metrics}-s{steps}"
        if not store.exists():
            make_store(store, runs, exps, metrics, steps)
        ours, count, rss = time_tuitrack(store, repeats)
        assert count == runs, (count, runs)
        label = f"{runs} runs x {metrics} metrics x {steps} steps"
        if compare and not args.no_mlflow:
            theirs, their_count = time_mlflow(store, repeats)
            assert their_count == runs, (their_count, runs)
            print(f"{label:<34}{ours:>11.2f}s{theirs:>9.2f}s{theirs / ours:>7.1f}x{rss:>8.0f}MiB")
        else:
            print(f"{label:<34}{ours:>11.2f}s{'-':>10}{'-':>8}{rss:>8.0f}MiB")
    if not args.keep:
        print(f"(stores in {base}; delete when done)")


if __name__ == "__main__":
    os.environ.setdefault("PYTHONDONTWRITEBYTECODE", "1")
    main()
