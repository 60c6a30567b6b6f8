"""Time listing an MLflow SQLite store: `tuitrack ls DB --json` (a new process) against MLflow's
`search_runs` on the same database, and the cost of one live check while nothing and while
something changes.

    pip install -e '.[test]'     # MLflow is a test dependency
    python bench/bench_sqlite.py [--quick] [--keep DIR]

Target (2-core machine): 10,000 runs in mlflow.db listed in under 2 s.
"""

from __future__ import annotations

import argparse
import os
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from bench_ls import MLFLOW_SNIPPET, time_tuitrack  # noqa: E402
from make_sqlite_store import make_sqlite_store  # noqa: E402


def time_mlflow(db: Path, repeats: int) -> tuple[float, int]:
    import json

    done = subprocess.run([sys.executable, "-c", MLFLOW_SNIPPET, f"sqlite:///{db.resolve()}", str(repeats)],
                          capture_output=True, text=True, check=True)
    result = json.loads(done.stdout.strip().splitlines()[-1])
    return result["seconds"], result["runs"]


def time_live_checks(db: Path) -> tuple[float, float, float]:
    """Median ms of `changes()`: idle; after one metric point; a full scan (runs and tags)."""
    sys.path.insert(0, str(Path(__file__).parent.parent))
    from tuitrack.store import open_store

    store = open_store(str(db))
    idle = []
    for _ in range(50):
        t = time.perf_counter()
        store.changes(set())
        idle.append(time.perf_counter() - t)
    run_id = sqlite3.connect(db).execute("SELECT run_uuid FROM runs LIMIT 1").fetchone()[0]
    appended, full = [], []
    writer = sqlite3.connect(db)
    for step in range(20):
        with writer:
            writer.execute("INSERT INTO metrics VALUES ('bench', 0.5, ?, ?, ?, 0)", (time.time_ns(), run_id, step))
        store._tracker._last_full = time.monotonic()  # within the second: appended rows only
        t = time.perf_counter()
        store.changes(set())
        appended.append(time.perf_counter() - t)
        with writer:
            writer.execute("UPDATE tags SET value = ? WHERE run_uuid = ? AND key = 'mlflow.user'", (str(step), run_id))
        store._tracker._last_full = float("-inf")
        t = time.perf_counter()
        store.changes(set())
        full.append(time.perf_counter() - t)
    return tuple(statistics.median(x) * 1000 for x in (idle, appended, full))


T = 1_790_000_000_000


def main() -> None:
    parser = argparse.ArgumentParser(description="tuitrack ls vs MLflow search_runs on mlflow.db")
    parser.add_argument("--quick", action="store_true", help="a smaller database, one repeat")
    parser.add_argument("--keep", type=Path, help="generate databases here and reuse them next time")
    args = parser.parse_args()
    shapes = [(2000, 1, 5, 100), (10000, 20, 5, 100)] if not args.quick else [(500, 1, 5, 50)]
    repeats = 1 if args.quick else 3
    base = args.keep or Path(tempfile.mkdtemp(prefix="tuitrack-bench-sqlite-"))
    print(f"{'mlflow.db':<34}{'tuitrack ls':>12}{'MLflow':>10}{'ratio':>8}{'peak RSS':>10}")
    for runs, exps, metrics, steps in shapes:
        db = base / f"r{runs}-e{exps}-m{metrics}-s{steps}" / "mlflow.db"
        if not db.exists():
            make_sqlite_store(db, runs, exps, metrics, steps)
        ours, count, rss = time_tuitrack(db, repeats)
        theirs, their_count = time_mlflow(db, repeats)
        assert count == their_count == runs, (count, their_count, runs)
        label = f"{runs} runs x {metrics} metrics x {steps} steps"
        print(f"{label:<34}{ours:>11.2f}s{theirs:>9.2f}s{theirs / ours:>7.1f}x{rss:>8.0f}MiB")
    idle, appended, full = time_live_checks(db)
    print(f"live check on the last database: idle {idle:.2f} ms, one new point {appended:.2f} ms, "
          f"full runs+tags scan {full:.1f} ms")
    if not args.keep:
        print(f"(databases in {base}; delete when done)")


if __name__ == "__main__":
    os.environ.setdefault("PYTHONDONTWRITEBYTECODE", "1")
    main()
