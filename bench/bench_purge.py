"""How long planning a purge takes: it reads every run's meta.yaml (what the guard protects).

    python bench/bench_purge.py [--runs 10000] [--purge 1000]

Prints the time and peak memory of `plan_purge` for one run and for many, on a generated store
(the X dialog plans on the UI thread; `gc` plans before asking).
"""

from __future__ import annotations

import argparse
import resource
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.make_store import make_store  # noqa: E402
from tuitrack.store import open_store  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10_000)
    parser.add_argument("--purge", type=int, default=1_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "mlruns"
        make_store(root, args.runs, 20, 2, 10)
        store = open_store(str(root))
        runs = [r for _, r in store.all_runs(store.experiments(), with_data=False)]
        for count in (1, 1, args.purge):
            start = time.perf_counter()
            plan = store.plan_purge(runs[:count], [])
            elapsed = time.perf_counter() - start
            print(f"plan_purge of {count} run(s) in a {args.runs}-run store: {elapsed:.2f} s, "
                  f"{len(plan.targets)} targets, {plan.bytes / 2**20:.1f} MiB")
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(f"peak memory {peak:.0f} MiB")


if __name__ == "__main__":
    main()
