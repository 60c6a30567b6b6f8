"""Time listing daskperiment stores the real package wrote: `tuitrack ls STORE --json` as a new
process (wall time, peak memory) for a LocalBackend cache and, with --redis URL (an empty
database it may fill), a RedisBackend; and daskperiment's own `get_history` on the same store.

    pip install -e '.[test]'     # daskperiment and redis-py are test dependencies
    python bench/bench_daskperiment.py [--trials 300] [--epochs 100] [--redis redis://127.0.0.1:6379/9]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).parent))
from bench_ls import time_tuitrack  # noqa: E402
from tests.daskperiment_stores import run_quickstart  # noqa: E402


def write(folder: Path, backend: str, trials: int, epochs: int) -> float:
    start = time.perf_counter()
    run_quickstart(folder, backend, trials=[{"a": i, "b": 1, "opt": "adam"} for i in range(1, trials + 1)],
                   epochs=epochs)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description="tuitrack ls on daskperiment stores")
    parser.add_argument("--trials", type=int, default=300)
    parser.add_argument("--epochs", type=int, default=100)
    parser.add_argument("--redis", help="an empty Redis database URL to fill")
    args = parser.parse_args()
    points = args.trials * args.epochs * 2
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        took = write(folder, "local", args.trials, args.epochs)
        pkl = folder / "daskperiment_cache" / "quickstart_pj" / "quickstart_pj.pkl"
        print(f"LocalBackend: {args.trials} trials x 2 metrics x {args.epochs} epochs ({points:,} points), "
              f"pickle {pkl.stat().st_size / 2**20:.1f} MiB, written by daskperiment in {took:.1f} s")
        seconds, runs, peak = time_tuitrack(folder / "daskperiment_cache", 3)
        print(f"  tuitrack ls --json: {seconds:.2f} s, {runs} runs, peak {peak:.0f} MiB")
        if args.redis:
            import redis

            redis.Redis.from_url(args.redis).flushdb()
            took = write(folder / "r", args.redis, args.trials, args.epochs)
            print(f"RedisBackend: the same, written by daskperiment in {took:.1f} s")
            seconds, runs, peak = time_tuitrack(args.redis, 3)  # type: ignore[arg-type]
            print(f"  tuitrack ls --json: {seconds:.2f} s, {runs} runs, peak {peak:.0f} MiB")


if __name__ == "__main__":
    main()
