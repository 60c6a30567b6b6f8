"""entrenar's JSON run records read into tuitrack's model, changed atomically, purged."""

from __future__ import annotations

import json
import math
import os
from pathlib import Path

import pytest

from tests.other_trackers import START_MS, entrenar_record, write_entrenar, write_entrenar_store
from tuitrack.model import NOTE_TAG, RUN_NAME_TAG, Lifecycle, MetricPoint, RunStatus
from tuitrack.store.base import RunNotFound, StoreError
from tuitrack.store.entrenar import EntrenarStore
from tuitrack.store.grouping import UNREADABLE_ID, experiment_id_for


@pytest.fixture
def store(tmp_path):
    return EntrenarStore(write_entrenar_store(tmp_path / "runs"))


def runs_by_id(store, include_deleted=False):
    return {r.run_id: r for e in store.experiments() for r in store.runs(e, include_deleted=include_deleted)}


def test_experiments_come_from_experiment_names_with_stable_ids(store):
    experiments = store.experiments()
    assert [(e.name, e.experiment_id) for e in experiments] == [
        ("bert", experiment_id_for("bert")), ("resnet", experiment_id_for("resnet"))]
    assert experiments[1].creation_time == START_MS  # its earliest run's start
    assert [e.experiment_id for e in EntrenarStore(store.root).experiments()] == [e.experiment_id for e in experiments]


def test_every_record_field_is_mapped(store):
    runs = runs_by_id(store)
    run = runs["run-1"]
    assert (run.run_name, run.status, run.start_time, run.end_time) == ("baseline", RunStatus.FINISHED, START_MS, START_MS + 60_000)
    assert run.experiment_id == experiment_id_for("resnet")
    assert run.params == {"lr": "0.001"}
    assert run.tags == {"team": "ml-infra", "entrenar.artifacts": "model.safetensors\nlog.txt"}
    assert run.metrics == {"loss": MetricPoint(START_MS, 0.25, 2), "acc": MetricPoint(START_MS, 0.75, 2)}
    assert run.problems == [] and run.lifecycle_stage is Lifecycle.ACTIVE
    assert runs["run-2"].run_name == "" and runs["run-2"].status is RunStatus.FAILED
    assert runs["run-3"].status is RunStatus.RUNNING and runs["run-3"].end_time is None
    history = store.metric_history(run, "loss")
    assert [(p.step, p.value) for p in history.points] == [(1, 0.5), (2, 0.25)]


def test_all_statuses_and_serde_nan(tmp_path):
    for status in ("Active", "Completed", "Failed", "Cancelled"):
        write_entrenar(tmp_path, entrenar_record(status, "x", status=status, metrics={"m": [(None, 1)]}))
    runs = runs_by_id(EntrenarStore(tmp_path))
    assert {k: r.status.name for k, r in runs.items()} == {
        "Active": "RUNNING", "Completed": "FINISHED", "Failed": "FAILED", "Cancelled": "KILLED"}
    assert math.isnan(runs["Active"].metrics["m"].value)  # serde_json writes NaN as null


def test_malformed_records_are_problems_not_errors(tmp_path):
    (tmp_path / "broken.json").write_text('{"run_id": "broken", ')
    (tmp_path / "list.json").write_text("[1, 2]")
    (tmp_path / "binary.json").write_bytes(b"\xff\xfe")
    write_entrenar(tmp_path, {**entrenar_record("typed", "x"), "status": "Weird", "params": {"n": 3},
                              "metrics": {"m": [{"value": "x", "step": 1}, {"value": 1.0, "step": 2}], "k": 5},
                              "start_time_ms": "yesterday", "artifacts": "a"})
    (tmp_path / "other-id.json").write_text(json.dumps({**entrenar_record("other-id", "x"), "run_id": "elsewhere"}))
    write_entrenar(tmp_path, {**entrenar_record("nameless", "x"), "experiment_name": None})
    store = EntrenarStore(tmp_path)
    experiments = {e.experiment_id: e for e in store.experiments()}
    assert set(experiments) == {experiment_id_for("x"), UNREADABLE_ID}
    runs = runs_by_id(store)
    for run_id in ("broken", "list", "binary", "nameless"):
        assert runs[run_id].experiment_id == UNREADABLE_ID and runs[run_id].problems
    assert "not valid JSON" in str(runs["broken"].problems[0]) and runs["broken"].status is None
    assert "holds a JSON list" in str(runs["list"].problems[0])
    assert "not UTF-8" in str(runs["binary"].problems[0])
    typed = " | ".join(str(p) for p in runs["typed"].problems)
    for text in ("status is 'Weird'", "params.n is 3", "metrics.m[0]", "metrics.k is 5", "start_time_ms is 'yesterday'",
                 "artifacts is \"a\""):
        assert text in typed
    assert runs["typed"].params == {"n": "3"} and runs["typed"].metrics["m"].value == 1.0
    assert "run_id is 'elsewhere' but the file is other-id.json" in str(runs["other-id"].problems[0])


def test_unreadable_file_is_a_problem(tmp_path, monkeypatch):
    write_entrenar(tmp_path, entrenar_record("secret", "x"))

    def denied(path, *args):
        raise PermissionError(13, "Permission denied", path)

    monkeypatch.setattr("tuitrack.store.entrenar.store.read_bytes", denied)
    run = runs_by_id(EntrenarStore(tmp_path))["secret"]
    assert "cannot read (permission denied)" in str(run.problems[0]) and run.experiment_id == UNREADABLE_ID


def test_temporary_and_hidden_files_are_not_runs(store):
    open(os.path.join(store.root, ".tuitrack-abc.tmp"), "w").write("{")
    open(os.path.join(store.root, ".hidden.json"), "w").write("{")
    assert set(runs_by_id(store)) == {"run-1", "run-2", "run-3"}
    assert store.classify(os.path.join(store.root, ".tuitrack-abc.tmp")) is None


def test_changes_keep_unknown_fields_and_leave_no_temporary_files(tmp_path):
    record = {**entrenar_record("run-1", "x", tags={"a": "1"}), "future_field": {"nested": [1, 2]}}
    path = write_entrenar(tmp_path, record)
    store = EntrenarStore(tmp_path)
    run = store.find_run("run-1")
    store.set_tags(run, {"b": "2"})
    store.set_note(run, "looks good")
    store.rename_run(run, "better")
    store.delete_tags(run, ["a"])
    store.terminate_run(run, RunStatus.KILLED, START_MS + 5)
    fields = json.loads(path.read_text())
    assert fields["future_field"] == {"nested": [1, 2]}
    assert list(fields)[:3] == ["run_id", "run_name", "experiment_name"] and list(fields)[-1] == "future_field"
    assert fields["tags"] == {"b": "2", NOTE_TAG: "looks good"}
    assert (fields["run_name"], fields["status"], fields["end_time_ms"]) == ("better", "Cancelled", START_MS + 5)
    assert os.listdir(tmp_path) == ["run-1.json"]
    again = store.find_run("run-1")
    assert (again.run_name, again.note, again.status) == ("better", "looks good", RunStatus.KILLED)
    store.set_tags(again, {RUN_NAME_TAG: "by tag"})
    assert json.loads(path.read_text())["run_name"] == "by tag"


def test_what_the_record_cannot_hold_is_refused(store):
    run = store.find_run("run-1")
    with pytest.raises(StoreError, match="no status for SCHEDULED"):
        store.terminate_run(run, RunStatus.SCHEDULED, None)
    with pytest.raises(StoreError, match="cannot be set"):
        store.set_tags(run, {"entrenar.artifacts": "x"})
    with pytest.raises(StoreError, match="cannot be set"):
        store.set_tags(run, {"tuitrack.lifecycle_stage": "deleted"})
    with pytest.raises(StoreError, match="only names on runs"):
        store.delete_experiment(store.experiments()[0])
    with pytest.raises(StoreError, match="has no tag"):
        store.delete_tags(run, ["nope"])


def test_soft_delete_is_a_tag_in_the_record_and_restore_removes_it(store):
    run = store.find_run("run-2")
    store.delete_run(run)
    tags = json.loads(open(store.run_dir(run)).read())["tags"]
    assert tags["tuitrack.lifecycle_stage"] == "deleted" and tags["tuitrack.deleted_time"].isdigit()
    assert "run-2" not in runs_by_id(store)
    deleted = runs_by_id(store, include_deleted=True)["run-2"]
    assert deleted.is_deleted and deleted.deleted_time and "tuitrack.lifecycle_stage" not in deleted.tags
    with pytest.raises(StoreError, match="restore it first"):
        store.set_note(deleted, "x")
    store.restore_run(deleted)
    assert json.loads(open(store.run_dir(run)).read())["tags"] == {}
    assert not runs_by_id(store)["run-2"].is_deleted


def test_purge_removes_only_deleted_records_and_never_follows_a_symlink(store, tmp_path):
    outside = tmp_path / "elsewhere.json"
    outside.write_text(json.dumps(entrenar_record("linked", "resnet")))
    os.symlink(outside, os.path.join(store.root, "linked.json"))
    before = outside.read_bytes()
    with pytest.raises(StoreError, match="not deleted"):
        store.purge([store.find_run("run-1")], [])
    linked = store.find_run("linked")  # listed, with a problem: nothing is read through the link
    assert any("symlink" in p.message for p in linked.problems) and linked.experiment_id
    with pytest.raises(StoreError, match="symlink"):
        store.delete_run(linked)  # nor written through it
    store.delete_run(store.find_run("run-1"))
    result = store.purge([store.find_run("run-1")], [])
    assert result.removed == ["run-1"]
    assert sorted(os.listdir(store.root)) == ["linked.json", "run-2.json", "run-3.json"]
    assert outside.read_bytes() == before  # the target is untouched


def test_find_run_by_prefix_and_missing(store):
    assert store.find_run("run-3").run_name == "finetune"
    with pytest.raises(RunNotFound, match="ambiguous"):
        store.find_run("run-")
    with pytest.raises(RunNotFound):
        store.find_run("nope")


def test_a_rewritten_record_gives_new_points_and_classifies_as_its_run(store):
    run = store.find_run("run-1")
    history = store.metric_history(run, "loss")
    record = entrenar_record("run-1", "resnet", metrics={"loss": [(0.5, 1), (0.25, 2), (0.125, 3)]})
    path = write_entrenar(Path(store.root), record)
    assert [p.step for p in store.read_new_points(history)] == [3]
    assert store.latest_metric(run, "loss").value == 0.125
    store.experiments()
    change = store.classify(str(path))
    assert (change.kind, change.experiment_id, change.run_id) == ("run", experiment_id_for("resnet"), "run-1")
    write_entrenar(Path(store.root), entrenar_record("run-9", "new-experiment"))
    assert store.classify(os.path.join(store.root, "run-9.json")).kind == "experiments"
    os.remove(path)
    assert store.classify(str(path)).run_id == "run-1" and store.read_run(store.experiments()[0], "run-1") is None


def test_an_empty_record_is_refused_once_it_stays_empty(tmp_path):
    path = write_entrenar(tmp_path, entrenar_record("run-1", "x"))
    store = EntrenarStore(tmp_path)
    run = store.find_run("run-1")
    path.write_text("")
    with pytest.raises(StoreError, match="run-1.json stayed empty; not changed"):
        store.set_note(run, "x")
    assert path.read_text() == ""


def test_an_active_run_refuses_changes_entrenar_would_overwrite(tmp_path):
    """entrenar's save_run rewrites a running run's whole record from memory: a tag written into
    it meanwhile would vanish at the next save, so tuitrack refuses instead of losing it."""
    path = write_entrenar(tmp_path, entrenar_record("live", "x", status="Active"))
    before = path.read_bytes()
    store = EntrenarStore(tmp_path)
    run = store.find_run("live")
    for change in (lambda: store.set_tags(run, {"stage": "dev"}), lambda: store.set_note(run, "n"),
                   lambda: store.rename_run(run, "other")):
        with pytest.raises(StoreError, match="still Active.*would be lost"):
            change()
    assert path.read_bytes() == before
    store.terminate_run(run, RunStatus.KILLED, START_MS + 5)  # its process is gone: K still works
    store.set_tags(store.find_run("live"), {"stage": "dev"})
    assert json.loads(path.read_text())["tags"]["stage"] == "dev"
