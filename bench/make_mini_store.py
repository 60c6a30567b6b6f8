"""Generate a store with the real mini-mlflow package (a test dependency), for timing `tuitrack ls`.

    python bench/make_mini_store.py OUT/mlruns --runs 2000 --experiments 4
    time tuitrack ls OUT/mlruns --json > /dev/null
"""

from __future__ import annotations

import argparse

from mini_mlflow import Run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", help="the mlruns folder to write (mini-mlflow's runs_dir)")
    parser.add_argument("--runs", type=int, default=2000)
    parser.add_argument("--experiments", type=int, default=4)
    parser.add_argument("--names", type=int, default=50, help="distinct run names (versions of each)")
    args = parser.parse_args()
    for i in range(args.runs):
        run = Run(experiment_id=i % args.experiments, name=f"model{i % args.names}", version=f"v{i}",
                  runs_dir=args.out)
        for key in ("lr", "batch", "opt"):
            run.log_param(key, i)
        for m in range(5):
            run.log_metric(f"m{m}", i * 0.1)
        run.end()


if __name__ == "__main__":
    main()
