"""What filter completion costs: gathering the vocabulary (on the app's worker thread, when the
filter box gets the focus) and one completion (on the UI thread, on each tab and each key for
the inline suggestion). Runs are made in memory, as the index holds them.

    python bench/bench_filter_completion.py [--runs 10000] [--params 20] [--metrics 10] [--wide 100000]

`--wide` adds one run with that many params and metrics (issue 16's hostile shape).
"""

from __future__ import annotations

import argparse
import time
import tracemalloc

from tuitrack.model import MetricPoint, Run
from tuitrack.query.filter_completion import complete
from tuitrack.query.filter_vocabulary import gather


def make_runs(count: int, params: int, metrics: int, wide: int) -> list[Run]:
    point = MetricPoint(step=0, timestamp=0, value=0.5)
    runs = [Run(f"{i:032x}", str(i % 20), run_name=f"run-{i}", user_id=f"user{i % 7}",
                params={f"param_{k}": f"{(i * 7 + k) % 1000 / 1000}" for k in range(params)},
                tags={"mlflow.runName": f"run-{i}", "team": f"team{i % 5}"},
                metrics={f"train/metric_{k}": point for k in range(metrics)})
            for i in range(count)]
    if wide:
        runs.append(Run("f" * 32, "0", params={f"wide_{k}": str(k) for k in range(wide)},
                        metrics={f"wide/m{k}": point for k in range(wide)}))
    return runs


def timed(what: str, call, repeat: int = 1) -> object:
    start_cpu, start = time.process_time(), time.perf_counter()
    for _ in range(repeat):
        result = call()
    cpu, wall = (time.process_time() - start_cpu) / repeat, (time.perf_counter() - start) / repeat
    print(f"{what:<55} {cpu * 1000:9.3f} ms CPU  {wall * 1000:9.3f} ms wall")
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10_000)
    parser.add_argument("--params", type=int, default=20)
    parser.add_argument("--metrics", type=int, default=10)
    parser.add_argument("--wide", type=int, default=100_000)
    args = parser.parse_args()
    runs = make_runs(args.runs, args.params, args.metrics, args.wide)
    print(f"{args.runs:,} runs x {args.params} params x {args.metrics} metrics, plus one run of "
          f"{args.wide:,} params and metrics")
    tracemalloc.start()
    vocabulary = timed("gather (worker thread)", lambda: gather(runs))
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    print(f"{'gather peak memory (traced)':<55} {peak / 2**20:9.1f} MiB")
    print(f"keys kept: {', '.join(f'{e} {len(k):,}' for e, k in vocabulary.keys.items())}; "
          f"truncated: {vocabulary.truncated}")
    for text in ("params.", "params.param_1", "metrics.train/", "params.param_3 = '0.", "params.param_3 > 0.",
                 "params.wide_1", "status = 'F", "params.param_1 = '0.5' AND tags.te"):
        found = timed(f"complete {text!r}", lambda text=text: complete(text, len(text), vocabulary), repeat=200)
        print(f"{'':<4}-> {found.total if found else 0:,} candidates")


if __name__ == "__main__":
    main()
