"""`tuitrack demo` writes what MLflow would: MLflow's own client reads every run it made."""

from __future__ import annotations

import os
import stat

from mlflow.entities import ViewType

from tests.mlflow_stores import client_for
from tuitrack.cli import main
from tuitrack.store import open_store
from tuitrack.store.listing import list_runs, select_experiments
from tuitrack.store.mlflow_file import writer


def test_demo_store_is_read_by_mlflow(tmp_path, capsys):
    root = tmp_path / "mlruns"
    assert main(["demo", str(root), "--steps", "40", "--rate", "1000", "--seed", "3"]) == 0
    client = client_for(root)
    experiment = client.get_experiment_by_name("tuitrack-demo")
    runs = {r.info.run_name: r for r in client.search_runs([experiment.experiment_id], run_view_type=ViewType.ALL)}
    assert {name: r.info.status for name, r in runs.items()} == {
        "demo-sweep": "FINISHED", "converges lr=0.02": "FINISHED",
        "diverges lr=0.08": "FAILED", "hangs lr=0.01": "RUNNING",
    }
    for run in runs.values():
        assert client.get_run(run.info.run_id).info.run_id == run.info.run_id  # folders complete
    sweep = runs["demo-sweep"].info.run_id
    assert all(r.data.tags["mlflow.parentRunId"] == sweep for n, r in runs.items() if n != "demo-sweep")
    history = client.get_metric_history(runs["converges lr=0.02"].info.run_id, "train/loss")
    assert [m.step for m in history] == list(range(40))
    assert len(client.get_metric_history(runs["hangs lr=0.01"].info.run_id, "train/loss")) == 20
    assert client.get_experiment("0").name == "Default"  # a new store has MLflow's default experiment
    store = open_store(str(root))
    ours = {r.run_name: r for _, r in list_runs(store, select_experiments(store))}
    assert {n: r.status.name for n, r in ours.items()} == {n: r.info.status for n, r in runs.items()}
    assert not any(r.problems for r in ours.values())


def test_meta_yaml_bytes_match_mlflow(tmp_path):
    """A run tuitrack creates has the same meta.yaml bytes MLflow writes for the same fields."""
    root = tmp_path / "mlruns"
    client = client_for(root)
    experiment_id = client.create_experiment("x")
    theirs = client.create_run(experiment_id, start_time=1_795_000_000_000, run_name="same", tags={"mlflow.user": "me"})
    their_dir = root / experiment_id / theirs.info.run_id
    ours = writer.create_run(root, experiment_id, "same", user="me", start=1_795_000_000_000)
    expected = (their_dir / "meta.yaml").read_text().replace(theirs.info.run_id, ours.name)
    assert (ours / "meta.yaml").read_text() == expected


def test_atomic_write_keeps_mode_and_leaves_no_temp_files(tmp_path):
    run = tmp_path / "run"
    (run / "tags").mkdir(parents=True)
    target = run / "tags" / "t"
    target.write_text("old")
    os.chmod(target, 0o600)
    writer.write_atomic(target, b"new", temp_dir=run)
    assert target.read_text() == "new" and stat.S_IMODE(target.stat().st_mode) == 0o600
    assert os.listdir(run / "tags") == ["t"] and sorted(os.listdir(run)) == ["tags"]
