"""Make a large MLflow SQLite store (mlflow.db) for the benchmarks.

MLflow creates the database (its own schema, migrations and experiments); the runs are then
inserted in bulk with the rows MLflow's SQL store writes for a run (runs, tags, params, metrics,
latest_metrics), because logging 10,000 runs through MLflow's client would take an hour.
MLflow's client reads the result (bench_sqlite.py checks the run count it sees).

    python bench/make_sqlite_store.py OUT.db --runs 10000 --experiments 20 --metrics 5 --steps 100
"""

from __future__ import annotations

import argparse
import random
import sqlite3
import uuid
from pathlib import Path

T0 = 1_790_000_000_000


def make_sqlite_store(db: Path, runs: int, experiments: int, metrics: int, steps: int) -> None:
    from mlflow.tracking import MlflowClient  # a benchmark dependency: MLflow makes the schema

    db.parent.mkdir(parents=True, exist_ok=True)
    client = MlflowClient(tracking_uri=f"sqlite:///{db.resolve()}")
    artifact_root = db.parent / "mlruns"
    experiment_ids = [client.create_experiment(f"sweep-{i:02d}", artifact_location=str(artifact_root / str(i + 1)))
                      for i in range(experiments)]
    rng = random.Random(7)
    conn = sqlite3.connect(db)
    conn.execute("PRAGMA synchronous = OFF")
    run_rows, tag_rows, param_rows, metric_rows, latest_rows = [], [], [], [], []
    parents: dict[str, str] = {}
    for i in range(runs):
        run_id = uuid.UUID(int=rng.getrandbits(128)).hex
        eid = experiment_ids[i % experiments]
        start = T0 + i * 60_000
        name = f"run-{i:05d}"
        run_rows.append((run_id, name, "LOCAL", "train.py", "", "bench", "FINISHED", start, start + steps * 1000,
                         "", "active", f"{artifact_root}/{eid}/{run_id}/artifacts", int(eid), None))
        tags = {"mlflow.runName": name, "mlflow.user": "bench", "mlflow.source.name": "train.py",
                "mlflow.source.type": "LOCAL"}
        if i % 10 and eid in parents:  # one parent per ten runs, nested runs under it
            tags["mlflow.parentRunId"] = parents[eid]
        else:
            parents[eid] = run_id
        tag_rows += [(k, v, run_id) for k, v in tags.items()]
        param_rows += [(k, v, run_id) for k, v in
                       {"lr": str(rng.choice([1e-4, 3e-4, 1e-3])), "batch": str(rng.choice([32, 64, 128])),
                        "layers": str(rng.randint(2, 12)), "optimizer": rng.choice(["adam", "sgd"]),
                        "seed": str(i)}.items()]
        for m in range(metrics):
            key = ["loss", "val_loss", "acc", "val_acc", "lr"][m % 5] + ("" if m < 5 else f"_{m}")
            value = 1.0
            for step in range(steps):
                value = value * 0.99 + rng.random() * 0.01
                metric_rows.append((key, value, start + step * 1000, run_id, step, 0))
            latest_rows.append((key, value, start + (steps - 1) * 1000, steps - 1, 0, run_id))
        if len(metric_rows) > 500_000:
            _flush(conn, run_rows, tag_rows, param_rows, metric_rows, latest_rows)
    _flush(conn, run_rows, tag_rows, param_rows, metric_rows, latest_rows)
    conn.close()


def _flush(conn, run_rows, tag_rows, param_rows, metric_rows, latest_rows) -> None:
    with conn:
        conn.executemany("INSERT INTO runs (run_uuid, name, source_type, source_name, entry_point_name, user_id, "
                         "status, start_time, end_time, source_version, lifecycle_stage, artifact_uri, "
                         "experiment_id, deleted_time) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)", run_rows)
        conn.executemany("INSERT INTO tags (key, value, run_uuid) VALUES (?,?,?)", tag_rows)
        conn.executemany("INSERT INTO params (key, value, run_uuid) VALUES (?,?,?)", param_rows)
        conn.executemany("INSERT INTO metrics (key, value, timestamp, run_uuid, step, is_nan) VALUES (?,?,?,?,?,?)",
                         metric_rows)
        conn.executemany("INSERT INTO latest_metrics (key, value, timestamp, step, is_nan, run_uuid) "
                         "VALUES (?,?,?,?,?,?)", latest_rows)
    for rows in (run_rows, tag_rows, param_rows, metric_rows, latest_rows):
        rows.clear()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("db", type=Path)
    parser.add_argument("--runs", type=int, default=10_000)
    parser.add_argument("--experiments", type=int, default=20)
    parser.add_argument("--metrics", type=int, default=5)
    parser.add_argument("--steps", type=int, default=100)
    args = parser.parse_args()
    make_sqlite_store(args.db, args.runs, args.experiments, args.metrics, args.steps)
