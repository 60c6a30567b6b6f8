"""Stores written by the real `mini-mlflow` package (PyPI), alone and mixed with MLflow's runs.

mini-mlflow's module-level API (`start_run`, `log_param`...) writes to `./mlruns` relative to the
current directory (there is no environment variable); its `ExperimentTracker(runs_dir=...)` takes
a folder. Both are used here. Its times come from the clock, so tests compare against what the
package itself reads back (`load_run`), not against constants.
"""

from __future__ import annotations

import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

from mini_mlflow import ExperimentTracker, Run

GLOBAL_API = """
from mini_mlflow import start_run, log_param, log_metric, end_run
run = start_run(run_name="baseline")
log_param("lr", 0.1)
log_param("optimizer", "sgd")
log_metric("accuracy", 0.81)
end_run()
print(run.run_id)
"""


@dataclass
class MiniIds:
    runs: dict[str, str] = field(default_factory=dict)  # by the names the tests use
    mlflow_runs: dict[str, str] = field(default_factory=dict)
    mlflow_experiment: str | None = None


def write_mini_runs(root: Path, ids: MiniIds) -> None:
    """Experiment 0 through the global API (cwd = root's parent), experiment 7 through a tracker."""
    root.parent.mkdir(parents=True, exist_ok=True)
    done = subprocess.run([sys.executable, "-c", GLOBAL_API], cwd=root.parent, capture_output=True,
                          text=True, check=True)
    assert root.name == "mlruns"
    ids.runs["baseline"] = done.stdout.strip()

    tracker = ExperimentTracker(experiment_id=7, runs_dir=str(root))
    for version, acc in (("v1.0", 0.90), ("v1.1", 0.92), ("v2.0", 0.95)):
        run = tracker.start_run(run_name="my_model", version=version)
        run.log_param("learning_rate", 0.01)
        run.log_param("layers", [64, 32])
        run.log_param("dropout", True)
        run.log_metric("accuracy", acc - 0.1)
        run.log_metric("accuracy", acc)  # rewritten whole: only this one stays
        run.log_metric("loss", float("nan"))
        tracker.end_run()
        ids.runs[version] = run.run_id
    failed = Run(experiment_id=7, name="diverged", version="v0.1", runs_dir=str(root))
    failed.log_metric("loss", 1e9)
    failed.end(status="FAILED")
    ids.runs["failed"] = failed.run_id
    running = Run(experiment_id=7, name="other", runs_dir=str(root))
    running.log_metric("accuracy", 0.5)  # left RUNNING, as a training script at work leaves it
    ids.runs["running"] = running.run_id


def write_mini_store(root: Path) -> MiniIds:
    ids = MiniIds()
    write_mini_runs(root, ids)
    return ids


def write_mixed_store(root: Path) -> MiniIds:
    """MLflow's Default and one MLflow experiment, beside mini-mlflow's experiments 7 and 8."""
    from tests.mlflow_stores import T0, client_for

    ids = MiniIds()
    client = client_for(root)
    exp = client.create_experiment("mlflow-exp")
    run = client.create_run(exp, start_time=T0, run_name="mlflow-run").info.run_id
    client.log_param(run, "lr", "0.01")
    client.log_metric(run, "accuracy", 0.7, timestamp=T0 + 1, step=3)
    client.set_terminated(run, "FINISHED", end_time=T0 + 10)
    ids.mlflow_experiment = exp
    ids.mlflow_runs["mlflow-run"] = run
    # mini-mlflow's experiment 0 would be MLflow's Default here: the tracker writes to 7 and 8.
    tracker = ExperimentTracker(experiment_id=7, runs_dir=str(root))
    for version in ("v1.0", "v2.0"):
        mini_run = tracker.start_run(run_name="my_model", version=version)
        mini_run.log_param("learning_rate", 0.01)
        mini_run.log_metric("accuracy", 0.9)
        tracker.end_run()
        ids.runs[version] = mini_run.run_id
    other = ExperimentTracker(experiment_id=8, runs_dir=str(root))
    mini_run = other.start_run(run_name="solo")
    mini_run.log_metric("loss", 0.25)
    other.end_run()
    ids.runs["solo"] = mini_run.run_id
    return ids
