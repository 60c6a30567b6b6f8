"""Generate a synthetic `mlruns` store in MLflow 3.x's exact on-disk format, fast.

    python bench/make_store.py OUT --runs 2000 --experiments 1 --metrics 5 --steps 200

Creating thousands of runs through MLflow's API takes minutes (0.15 s a run), so this writes the
files directly, byte for byte as MLflow's FileStore would (same meta.yaml fields and order, the
`metrics/ params/ artifacts/ tags/` folders, two metric keys with `/`). The benchmark checks that
MLflow reads the result.
"""

from __future__ import annotations

import argparse
import os
import random
import uuid
from pathlib import Path

T0 = 1_790_000_000_000

EXPERIMENT_META = """artifact_location: {uri}
creation_time: {t}
effective_trace_archival_retention: null
experiment_id: '{eid}'
last_update_time: {t}
lifecycle_stage: active
name: {name}
trace_location: null
workspace: default
"""

RUN_META = """artifact_uri: {uri}
end_time: {end}
entry_point_name: ''
experiment_id: '{eid}'
lifecycle_stage: active
run_id: {rid}
run_name: {name}
source_name: ''
source_type: 4
source_version: ''
start_time: {start}
status: {status}
tags: []
user_id: bench
"""

METRIC_KEYS = ["loss", "accuracy", "train/loss", "val/loss", "lr", "grad_norm", "epoch_time", "f1"]


def write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def make_store(root: Path, runs: int, experiments: int, metrics: int, steps: int, seed: int = 0) -> list[str]:
    rng = random.Random(seed)
    root = root.resolve()
    (root / ".trash").mkdir(parents=True, exist_ok=True)
    write(root / "0" / "meta.yaml", EXPERIMENT_META.format(uri=(root / "0").as_uri(), t=T0, eid="0", name="Default"))
    exp_ids = []
    for e in range(experiments):
        eid = str(rng.randrange(10**17, 10**18))
        exp_ids.append(eid)
        write(root / eid / "meta.yaml",
              EXPERIMENT_META.format(uri=(root / eid).as_uri(), t=T0, eid=eid, name=f"experiment-{e:03d}"))
    for i in range(runs):
        eid = exp_ids[i % experiments]
        rid = uuid.UUID(int=rng.getrandbits(128)).hex
        run = root / eid / rid
        start = T0 + i * 60_000
        status = rng.choice([3, 3, 3, 3, 4, 5, 1])
        end = "null" if status == 1 else str(start + steps * 1000)
        write(run / "meta.yaml", RUN_META.format(uri=(run / "artifacts").as_uri(), end=end, eid=eid, rid=rid,
                                                 name=f"run-{i:05d}", start=start, status=status))
        for folder in ("metrics", "params", "artifacts", "tags"):
            (run / folder).mkdir(exist_ok=True)
        for p, value in {"lr": rng.choice([0.1, 0.01, 0.001]), "batch_size": rng.choice([32, 64, 128]),
                         "optimizer": rng.choice(["adam", "sgd"]), "seed": i, "epochs": 10}.items():
            write(run / "params" / p, str(value))
        for t, value in {"mlflow.runName": f"run-{i:05d}", "mlflow.user": "bench",
                         "mlflow.source.name": "train.py", "mlflow.source.type": "LOCAL",
                         "team": "bench"}.items():
            write(run / "tags" / t, value)
        for key in METRIC_KEYS[:metrics]:
            value = rng.random()
            lines = []
            for s in range(steps):
                value = value * 0.99 + rng.random() * 0.01
                lines.append(f"{start + s * 1000} {value} {s}\n")
            write(run / "metrics" / key, "".join(lines))
    return exp_ids


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--runs", type=int, default=2000)
    parser.add_argument("--experiments", type=int, default=1)
    parser.add_argument("--metrics", type=int, default=5)
    parser.add_argument("--steps", type=int, default=200)
    args = parser.parse_args()
    if args.out.exists():
        raise SystemExit(f"{args.out} exists; choose a new folder")
    make_store(args.out, args.runs, args.experiments, args.metrics, args.steps)
    print(f"wrote {args.runs} runs to {args.out}")


if __name__ == "__main__":
    main()
