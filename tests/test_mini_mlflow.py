"""The mini-mlflow dialect of the file store, against stores the real `mini-mlflow` package wrote."""

from __future__ import annotations

import json
import math
import os
from pathlib import Path

import pytest
import yaml
from mini_mlflow.storage import load_run

from tests.mlflow_stores import mlflow_runs
from tests.test_cli_read import LS_FIELDS, run_cli, strict_json
from tuitrack.model import Lifecycle, MetricPoint, RunStatus
from tuitrack.store import StoreError, open_store
from tuitrack.store.base import Change
from tuitrack.store.listing import list_runs, select_experiments
from tuitrack.store.locate import is_mlruns
from tuitrack.store.mlflow_file import mini


def all_runs(root: Path, include_deleted: bool = True):
    store = open_store(str(root))
    return store, {r.run_id: r for _, r in list_runs(store, select_experiments(store, include_deleted=include_deleted),
                                                     include_deleted)}


def mini_reads(root: Path, run) -> dict:
    """What mini-mlflow's own reader makes of a run."""
    return load_run(run.run_id, int(run.experiment_id), runs_dir=str(root))


# -- reading ----------------------------------------------------------------------------------------


def test_a_store_of_only_mini_mlflow_runs_opens(mini_store):
    root, _ = mini_store
    assert is_mlruns(str(root))
    store = open_store(str(root))
    experiments = store.experiments()
    assert [(e.experiment_id, e.name, e.problems) for e in experiments] == [("0", "0", []), ("7", "7", [])]


def test_runs_read_as_mini_mlflow_reads_them(mini_store):
    root, ids = mini_store
    _, runs = all_runs(root)
    assert set(runs) == set(ids.runs.values())
    for run in runs.values():
        theirs = mini_reads(root, run)
        meta = theirs["metadata"]
        assert run.dialect == mini.DIALECT
        assert run.problems == []
        assert run.run_name == (meta["name"] or "")
        assert run.version == meta["version"]
        assert run.status is RunStatus[meta["status"]]
        assert run.start_time == mini.iso_to_ms(meta["start_time"])
        assert run.end_time == (None if meta["end_time"] is None else mini.iso_to_ms(meta["end_time"]))
        assert run.params == {k: v if isinstance(v, str) else str(v) for k, v in theirs["params"].items()}
        assert set(run.metrics) == set(theirs["metrics"])
        for key, value in theirs["metrics"].items():
            point = run.metrics[key]
            assert point.step == 0
            assert point.value == value or (math.isnan(point.value) and math.isnan(value))
    v2 = runs[ids.runs["v2.0"]]
    assert v2.params == {"learning_rate": "0.01", "layers": "[64, 32]", "dropout": "True"}
    assert v2.metrics["accuracy"].value == 0.95  # the latest of two logs: the file holds only that
    assert runs[ids.runs["failed"]].status is RunStatus.FAILED
    assert runs[ids.runs["running"]].status is RunStatus.RUNNING and runs[ids.runs["running"]].end_time is None
    assert runs[ids.runs["baseline"]].experiment_id == "0" and runs[ids.runs["baseline"]].version is None


def test_metric_history_is_the_one_latest_point(mini_store):
    root, ids = mini_store
    store = open_store(str(root))
    run = store.find_run(ids.runs["v1.1"])
    history = store.metric_history(run, "accuracy")
    record = json.loads((root / "7" / run.run_id / "metrics" / "accuracy.json").read_text())
    assert history.points == [MetricPoint(mini.iso_to_ms(record["timestamp"]), 0.92, 0)]
    assert history.problems == [] and history.where.endswith("metrics/accuracy.json")
    assert store.read_new_points(history) == []  # unchanged file: nothing new


def test_a_rewritten_metric_file_is_read_again_whole(tmp_path):
    root = tmp_path / "mlruns"
    running = mini_run(root)
    running.log_metric("acc", 0.1)
    store = open_store(str(root))
    run = store.find_run(running.run_id)
    history = store.metric_history(run, "acc")
    assert [p.value for p in history.points] == [0.1]
    running.log_metric("acc", 0.2)
    new = store.read_new_points(history)
    assert [p.value for p in new] == [0.2] and [p.value for p in history.points] == [0.2]
    assert store.latest_metric(run, "acc").value == 0.2
    running.end()


def mini_run(root: Path, experiment_id: int = 0, **kwargs):
    from mini_mlflow import Run
    return Run(experiment_id=experiment_id, runs_dir=str(root), **kwargs)


def test_mixed_store_reads_both_kinds(mixed_store):
    root, ids = mixed_store
    store, runs = all_runs(root)
    assert set(runs) == set(ids.runs.values()) | set(ids.mlflow_runs.values())
    names = {e.experiment_id: e.name for e in store.experiments()}
    assert names["7"] == "7" and names["8"] == "8" and names[ids.mlflow_experiment] == "mlflow-exp"
    assert all(not e.problems for e in store.experiments())
    ours = runs[ids.mlflow_runs["mlflow-run"]]
    theirs = mlflow_runs(root)[ours.run_id]  # MLflow's client still reads its own runs here
    assert ours.dialect == "" and ours.version is None
    assert (ours.status.name, ours.start_time, ours.end_time) == (theirs.info.status, theirs.info.start_time,
                                                                  theirs.info.end_time)
    assert ours.params == theirs.data.params and ours.metrics["accuracy"].step == 3
    assert runs[ids.runs["solo"]].metrics["loss"].value == 0.25


def test_mini_run_inside_an_mlflow_experiment(mixed_store):
    root, ids = mixed_store
    run = mini_run(root, int(ids.mlflow_experiment), name="guest", version="v9")
    run.log_param("p", "x")
    run.end()
    _, runs = all_runs(root)
    guest = runs[run.run_id]
    assert (guest.run_name, guest.version, guest.params, guest.problems) == ("guest", "v9", {"p": "x"}, [])
    assert runs[ids.mlflow_runs["mlflow-run"]].dialect == ""


@pytest.mark.parametrize("where, content, expected", [
    ("params/lr.json", "{not json", "not valid JSON"),
    ("params/lr.json", "", "file is empty"),
    ("params/lr.json", '["value"]', 'expected a JSON object with "value"'),
    ("metrics/accuracy.json", '{"value": "high", "timestamp": "2026-01-01T00:00:00Z"}', "not a number"),
    ("metrics/accuracy.json", '{"value": 0.5, "timestamp": "yesterday"}', "not an ISO time"),
    ("metrics/accuracy.json", '{"value": 0.5', "not valid JSON"),
])
def test_malformed_files_are_problems(mini_store, capsys, where, content, expected):
    root, ids = mini_store
    run_dir = root / "7" / ids.runs["v1.0"]
    (run_dir / where).write_text(content)
    (run_dir / "metrics" / "loss.json.tmp").write_text("{half")  # a write in progress: ignored
    _, runs = all_runs(root)
    problems = runs[ids.runs["v1.0"]].problems
    assert [p.where for p in problems] == [f"7/{ids.runs['v1.0']}/{where}"]
    assert expected in problems[0].message
    code, out, _ = run_cli(capsys, "show", str(root), ids.runs["v1.0"], "--json")
    assert code == 0 and any(expected in p for p in strict_json(out)["problems"])


@pytest.mark.parametrize("old, new, expected", [
    ("status: FINISHED", "status: PAUSED", "status is 'PAUSED'; mini-mlflow writes one of RUNNING, FINISHED"),
    ("start_time: '", "start_time: 'x", "start_time is 'x"),
    ("end_time: '", "end_time: '1", "not an ISO time"),
])
def test_malformed_meta_is_a_problem(mini_store, capsys, old, new, expected):
    root, ids = mini_store
    meta = root / "7" / ids.runs["v1.0"] / "meta.yaml"
    meta.write_text(meta.read_text().replace(old, new, 1))
    _, runs = all_runs(root)
    run = runs[ids.runs["v1.0"]]
    assert run.dialect == mini.DIALECT and expected in run.problems[0].message
    code, out, _ = run_cli(capsys, "ls", str(root), "--json")
    assert code == 0 and any(expected in p for r in strict_json(out) for p in r["problems"])


# -- the command line -------------------------------------------------------------------------------


def test_ls_json_has_the_same_keys_for_both_kinds(mixed_store, capsys):
    root, ids = mixed_store
    code, out, _ = run_cli(capsys, "ls", str(root), "--json")
    rows = {r["run_id"]: r for r in strict_json(out)}
    assert code == 0 and len(rows) == 4
    shapes = {tuple(r) for r in rows.values()}
    assert len(shapes) == 1 and set(next(iter(shapes))) >= LS_FIELDS | {"version"}
    v1 = rows[ids.runs["v1.0"]]
    assert (v1["version"], v1["experiment_name"], v1["status"], v1["lifecycle_stage"]) == ("v1.0", "7", "FINISHED",
                                                                                            "active")
    assert rows[ids.mlflow_runs["mlflow-run"]]["version"] is None


def test_ls_latest_agrees_with_get_latest_version(mini_store, capsys):
    from mini_mlflow import ExperimentTracker

    root, ids = mini_store
    code, out, _ = run_cli(capsys, "ls", str(root), "--latest", "--json")
    rows = strict_json(out)
    latest = ExperimentTracker(experiment_id=7, runs_dir=str(root)).get_latest_version("my_model")
    assert [r["run_id"] for r in rows if r["run_name"] == "my_model"] == [latest["metadata"]["run_id"]]
    assert latest["metadata"]["run_id"] == ids.runs["v2.0"]
    assert {r["run_name"] for r in rows} == {"my_model", "diverged", "other", "baseline"}


def test_changes_leave_mini_mlflows_latest_version_alone(mini_store):
    """mini-mlflow's latest version is the meta.yaml written last: tuitrack's rewrites keep its time."""
    from mini_mlflow import ExperimentTracker

    root, ids = mini_store
    store = open_store(str(root))
    older = store.find_run(ids.runs["v1.0"])
    store.rename_run(older, "my_model")  # the same name: only the file is rewritten
    store.delete_run(store.find_run(ids.runs["v1.0"]))
    store.restore_run(store.find_run(ids.runs["v1.0"]))
    latest = ExperimentTracker(experiment_id=7, runs_dir=str(root)).get_latest_version("my_model")
    assert latest["metadata"]["run_id"] == ids.runs["v2.0"]


def test_ls_table_has_a_version_column_when_runs_have_versions(mini_store, capsys):
    root, ids = mini_store
    code, out, _ = run_cli(capsys, "ls", str(root))
    assert code == 0 and "VERSION" in out.splitlines()[0] and "v1.1" in out


def test_csv_has_a_version_column_when_runs_have_versions(mixed_store, capsys):
    root, ids = mixed_store
    code, out, _ = run_cli(capsys, "ls", str(root), "--format", "csv")
    lines = out.splitlines()
    assert code == 0 and lines[0].startswith("run_id,run_name,version,experiment,status,")
    assert any(line.startswith(f"{ids.runs['v2.0']},my_model,v2.0,7,FINISHED,") for line in lines)
    assert any(line.startswith(f"{ids.mlflow_runs['mlflow-run']},mlflow-run,,mlflow-exp,") for line in lines)


def test_show_prints_the_version(mini_store, capsys):
    root, ids = mini_store
    code, out, _ = run_cli(capsys, "show", str(root), ids.runs["v1.1"])
    assert code == 0 and "Version    v1.1" in out
    code, out, _ = run_cli(capsys, "show", str(root), ids.runs["v1.1"], "--json")
    shown = strict_json(out)
    assert shown["version"] == "v1.1" and shown["metrics"]["accuracy"][0]["step"] == 0


def test_a_mini_mlflow_experiment_folder_is_not_a_store(mini_store, capsys):
    root, _ = mini_store
    code, _, err = run_cli(capsys, "ls", str(root / "7"))
    assert code == 2 and "not a store" in err


# -- changes --------------------------------------------------------------------------------------


def no_temp_files(root: Path) -> bool:
    return not [p for p in root.rglob("*") if p.name.startswith(".tuitrack-")]


def test_tags_notes_and_rename_are_kept_where_mini_mlflow_still_reads(mini_store):
    root, ids = mini_store
    store, runs = all_runs(root)
    run = runs[ids.runs["v1.0"]]
    store.set_tags(run, {"keep": "true"})
    store.set_note(run, "the first one")
    store.rename_run(run, "my_model_old")
    theirs = mini_reads(root, run)
    assert theirs["metadata"]["name"] == "my_model_old" and theirs["metadata"]["version"] == "v1.0"
    assert theirs["params"]["learning_rate"] == 0.01
    again = store.find_run(run.run_id)
    assert again.run_name == "my_model_old" and again.tags == {"keep": "true", "mlflow.note.content": "the first one"}
    assert (root / "7" / run.run_id / "tags" / "keep").read_text() == "true"
    store.delete_tags(again, ["keep"])
    assert "keep" not in store.find_run(run.run_id).tags
    assert no_temp_files(root)


def test_delete_and_restore_round_trip(mini_store, capsys):
    root, ids = mini_store
    store, runs = all_runs(root)
    run = runs[ids.runs["v1.1"]]
    meta = root / "7" / run.run_id / "meta.yaml"
    before = meta.read_text()
    store.delete_run(run)
    deleted = store.find_run(run.run_id)
    assert deleted.is_deleted and deleted.deleted_time is not None and not deleted.problems
    theirs = mini_reads(root, run)["metadata"]  # mini-mlflow still reads it (and ignores the stage)
    assert theirs["lifecycle_stage"] == "deleted" and theirs["status"] == "FINISHED"
    code, out, _ = run_cli(capsys, "ls", str(root), "--json")
    assert run.run_id not in {r["run_id"] for r in strict_json(out)}
    store.restore_run(deleted)
    assert meta.read_text() == before  # as mini-mlflow wrote it, field order and all
    assert not store.find_run(run.run_id).is_deleted
    assert no_temp_files(root)


def test_running_mini_run_refuses_what_it_would_undo(mini_store):
    root, ids = mini_store
    store, runs = all_runs(root)
    run = runs[ids.runs["running"]]
    meta = root / "7" / run.run_id / "meta.yaml"
    before = meta.read_text()
    for change in (lambda: store.rename_run(run, "x"), lambda: store.delete_run(run)):
        with pytest.raises(StoreError, match="RUNNING mini-mlflow run"):
            change()
    assert meta.read_text() == before
    store.set_tags(run, {"note": "tags are fine"})  # mini-mlflow never rewrites tags/
    assert store.find_run(run.run_id).tags == {"note": "tags are fine"}


def test_kill_a_stale_run_writes_mini_mlflows_shape(mini_store):
    root, ids = mini_store
    store, runs = all_runs(root)
    run = runs[ids.runs["running"]]
    store.terminate_run(run, RunStatus.KILLED, 1_795_000_000_123)
    fields = yaml.safe_load((root / "7" / run.run_id / "meta.yaml").read_text())
    assert fields["status"] == "KILLED" and fields["end_time"] == "2026-11-18T11:06:40.123000Z"
    assert list(fields)[:5] == ["name", "version", "status", "start_time", "end_time"]
    killed = store.find_run(run.run_id)
    assert killed.status is RunStatus.KILLED and killed.end_time == 1_795_000_000_123 and not killed.problems
    assert mini_reads(root, run)["metadata"]["status"] == "KILLED"
    store.delete_run(killed)  # no longer RUNNING: mini-mlflow will not rewrite it
    assert store.find_run(run.run_id).is_deleted


def test_prune_and_purge_a_mini_run(mini_store, capsys):
    root, ids = mini_store
    code, out, err = run_cli(capsys, "prune", str(root), "--status", "FAILED", "--yes", "--purge")
    assert code == 0, err
    assert not (root / "7" / ids.runs["failed"]).exists()
    assert (root / "7" / ids.runs["v1.0"]).exists()


def test_prune_keeps_a_stale_running_mini_run(mini_store, capsys):
    root, ids = mini_store
    code, out, err = run_cli(capsys, "prune", str(root), "--status", "STALE,FAILED", "--stale-after", "0.001",
                             "--json", "--yes")
    assert code == 0, err
    assert [r["run_id"] for r in json.loads(out.splitlines()[0])["runs"]] == [ids.runs["failed"]]
    assert not store_run(root, ids.runs["running"]).is_deleted


def experiment_of(store, experiment_id: str):
    return next(e for e in store.experiments(include_deleted=True) if e.experiment_id == experiment_id)


def store_run(root: Path, run_id: str):
    return open_store(str(root)).find_run(run_id)


def test_delete_and_restore_a_mini_mlflow_experiment(mixed_store):
    root, ids = mixed_store
    store = open_store(str(root))
    experiment = experiment_of(store, "8")
    store.delete_experiment(experiment)
    assert not (root / "8").exists() and not (root / ".trash" / "8" / "meta.yaml").exists()
    trashed = experiment_of(store, "8")
    assert trashed.is_deleted and not trashed.problems
    assert all(r.is_deleted for r in store.runs(trashed, include_deleted=True))
    assert ids.mlflow_runs["mlflow-run"] in mlflow_runs(root)  # MLflow's client reads on as before
    store.restore_experiment(trashed)
    restored = experiment_of(store, "8")
    assert [r.lifecycle_stage for r in store.runs(restored)] == [Lifecycle.ACTIVE]
    assert "lifecycle_stage" not in (root / "8" / ids.runs["solo"] / "meta.yaml").read_text()
    assert no_temp_files(root)
    store.delete_experiment(restored)  # and for good: gc purges it like an MLflow experiment
    trashed = experiment_of(store, "8")
    result = store.purge([], [trashed])
    assert result.removed == ["8"] and not (root / ".trash" / "8").exists()
    assert ids.mlflow_runs["mlflow-run"] in mlflow_runs(root)


def test_an_experiment_with_a_running_mini_run_is_not_deleted_at_all(mini_store):
    root, ids = mini_store
    store = open_store(str(root))
    experiment = experiment_of(store, "7")
    with pytest.raises(StoreError, match="RUNNING mini-mlflow run"):
        store.delete_experiment(experiment)
    assert (root / "7").is_dir() and not any(r.is_deleted for r in store.runs(experiment, include_deleted=True))


def test_mlflow_reads_the_mixed_store_after_tuitrack_changed_mini_runs(mixed_store):
    root, ids = mixed_store
    store, runs = all_runs(root)
    for name in ("v1.0", "v2.0"):
        store.set_tags(runs[ids.runs[name]], {"k": "v"})
    store.rename_run(runs[ids.runs["v1.0"]], "renamed")
    store.delete_run(runs[ids.runs["v2.0"]])
    theirs = mlflow_runs(root)
    assert set(theirs) == set(ids.mlflow_runs.values())


# -- live -------------------------------------------------------------------------------------------


def test_classify_mini_mlflow_files(mini_store):
    root, ids = mini_store
    store = open_store(str(root))
    run_id = ids.runs["running"]
    run_dir = root / "7" / run_id
    assert store.classify(str(run_dir / "metrics" / "accuracy.json")) == Change("metric", "7", run_id, "accuracy")
    assert store.classify(str(run_dir / "metrics" / "accuracy.json.tmp")) is None
    assert store.classify(str(run_dir / "params" / "lr.json")) == Change("run", "7", run_id)
    assert store.classify(str(run_dir / "params" / "lr.json.tmp")) is None
    assert store.classify(str(run_dir / "meta.yaml")) == Change("run", "7", run_id)
    # mini-mlflow's experiments have no meta.yaml: a run's meta.yaml being written may be what
    # makes a new folder an experiment, so the experiments are read again.
    assert store.classify(str(run_dir / "meta.yaml.tmp")) == Change("experiments", "7")


def test_classify_in_a_mixed_store(mixed_store):
    root, ids = mixed_store
    store = open_store(str(root))
    mlflow_run = root / ids.mlflow_experiment / ids.mlflow_runs["mlflow-run"]
    assert store.classify(str(mlflow_run / "meta.yaml.tmp")) is None
    # An MLflow metric may be called x.json: it stays a key of its own.
    assert store.classify(str(mlflow_run / "metrics" / "x.json")) == Change(
        "metric", ids.mlflow_experiment, mlflow_run.name, "x.json")


def test_iso_times_round_trip():
    assert mini.iso_to_ms("2026-11-18T11:06:40.123000Z") == 1_795_000_000_123
    assert mini.iso_to_ms("2026-11-18T11:06:40.123") == 1_795_000_000_123  # no zone: UTC, as written
    assert mini.ms_to_iso(1_795_000_000_123) == "2026-11-18T11:06:40.123000Z"
    with pytest.raises(ValueError):
        mini.iso_to_ms("yesterday")
    assert os.sep == "/"
