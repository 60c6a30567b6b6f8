"""fetch_ml's binary meta.bin and append-only metrics.bin, read as its Go manager writes them."""

from __future__ import annotations

import math
from dataclasses import replace
import os
import struct
from pathlib import Path

import pytest

from tests.other_trackers import START_MS, log_metric, metric_record, write_fetch_ml_store, write_meta
from tuitrack.model import Lifecycle, MetricPoint, RunStatus
from tuitrack.store.base import RunNotFound, StoreError
from tuitrack.store.fetch_ml import FetchMlStore
from tuitrack.store.fetch_ml.binary import MetricsTail, parse_records, read_meta

T0 = START_MS // 1000


@pytest.fixture
def store(tmp_path):
    return FetchMlStore(write_fetch_ml_store(tmp_path / "experiments"))


def runs_by_id(store, include_deleted=False):
    (experiment,) = store.experiments()
    return {r.run_id: r for r in store.runs(experiment, include_deleted=include_deleted)}


def test_meta_bin_as_written_by_fetch_ml(tmp_path):
    path = write_meta(tmp_path, "abc123", T0, "train", "bob")
    assert path.read_bytes() == b"\x01" + struct.pack(">Q", T0) + b"\x06abc123\x05train\x03bob"
    meta, why = read_meta(path.read_bytes())
    assert why is None and (meta.commit_id, meta.timestamp, meta.job_name, meta.user) == ("abc123", T0, "train", "bob")


@pytest.mark.parametrize("data, message", [
    (b"\x01\x00", "too short (2 bytes"),
    (b"\x02" + bytes(8) + b"\x01a", "has version 2"),
    (b"\x01" + bytes(8) + b"\x09abc", "cut short in its commit id (3 of 9 bytes)"),
    (b"\x01" + bytes(8) + b"\x01a\x05tr", "cut short in its job name"),
])
def test_bad_meta_bin(data, message):
    meta, why = read_meta(data)
    assert meta is None and message in why


def test_meta_without_job_or_user_reads_as_fetch_ml_does():
    meta, why = read_meta(b"\x01" + struct.pack(">Q", 5) + b"\x03abc")
    assert why is None and (meta.commit_id, meta.job_name, meta.user) == ("abc", "", "")


def test_each_commit_folder_is_a_run_of_one_experiment(store):
    (experiment,) = store.experiments()
    assert experiment.name == "experiments"
    runs = runs_by_id(store)
    assert list(runs) == ["a1b2c3d4e5f6", "b2c3d4e5f6a1", "c3d4e5f6a1b2"]
    run = runs["b2c3d4e5f6a1"]
    assert (run.run_name, run.user_id, run.status, run.start_time) == ("train-resnet", "alice", RunStatus.FINISHED,
                                                                        (T0 + 86_400) * 1000)
    assert run.tags == {"fetch_ml.commit_id": "b2c3d4e5f6a1", "fetch_ml.job_name": "train-resnet"}
    assert run.metrics["loss"] == MetricPoint((T0 + 86_402) * 1000, 1 / 4, 2)
    assert run.artifact_uri.endswith("/b2c3d4e5f6a1/files") and run.problems == []
    history = store.metric_history(run, "accuracy")
    assert [p.step for p in history.points] == [0, 1, 2]


def test_broken_folders_are_problems(store):
    root = Path(store.root)
    (root / "nometa").mkdir()
    write_meta(root, "v2", T0, "j", "u")
    (root / "v2" / "meta.bin").write_bytes(b"\x02" + bytes(12))
    write_meta(root, "moved", T0, "j", "u")
    (root / "moved" / "meta.bin").write_bytes(b"\x01" + bytes(8) + b"\x05other")
    runs = runs_by_id(store)
    assert "meta.bin is missing" in str(runs["nometa"].problems[0]) and runs["nometa"].status is None
    assert "has version 2" in str(runs["v2"].problems[0])
    assert "commit id is 'other' but the folder is 'moved'" in str(runs["moved"].problems[0])


def test_unreadable_metrics_are_a_problem(store, monkeypatch):
    def denied(self, *args, **kwargs):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(MetricsTail, "read_new", denied)
    run = runs_by_id(store)["a1b2c3d4e5f6"]
    assert "cannot read (permission denied)" in str(run.problems[-1])


def test_a_partial_last_record_waits_until_it_is_complete(store):
    root = Path(store.root)
    run = runs_by_id(store)["a1b2c3d4e5f6"]
    history = store.metric_history(run, "loss")
    record = metric_record("loss", 0.125, 7, T0 + 99)
    with open(root / "a1b2c3d4e5f6" / "metrics.bin", "ab") as f:
        f.write(record[:10])
    assert store.read_new_points(history) == []
    assert store.latest_metric(run, "loss").step == 2
    # a writer in the middle of a record is normal, not a problem to flag
    assert store.read_run(store.experiments()[0], run.run_id).problems == []
    with open(root / "a1b2c3d4e5f6" / "metrics.bin", "ab") as f:
        f.write(record[10:])
    assert store.read_new_points(history) == [MetricPoint((T0 + 99) * 1000, 0.125, 7)]
    assert store.latest_metric(run, "loss").step == 7
    assert [p.step for p in history.points] == [0, 1, 2, 7]
    assert store.read_run(store.experiments()[0], run.run_id).problems == []


def test_the_offset_cache_parses_only_new_bytes(store, monkeypatch):
    from tuitrack.store.fetch_ml import binary

    run = runs_by_id(store)["a1b2c3d4e5f6"]
    seen = []
    original = binary.parse_records
    monkeypatch.setattr(binary, "parse_records", lambda data, *rest: seen.append(len(data)) or original(data, *rest))
    log_metric(Path(store.root), "a1b2c3d4e5f6", "loss", 0.1, 3, T0 + 3)
    assert store.latest_metric(run, "loss").step == 3
    assert seen == [len(metric_record("loss", 0.1, 3, T0 + 3))]


def test_a_truncated_file_is_read_again_from_the_start(store):
    run = runs_by_id(store)["a1b2c3d4e5f6"]
    history = store.metric_history(run, "loss")
    (Path(store.root) / "a1b2c3d4e5f6" / "metrics.bin").write_bytes(metric_record("loss", 9.0, 0, T0))
    assert [p.value for p in store.read_new_points(history)] == [9.0]
    assert [p.value for p in history.points] == [9.0]
    assert store.latest_metric(run, "loss").value == 9.0 and store.latest_metric(run, "accuracy") is None


def test_records_with_special_values_and_long_names():
    data = metric_record("nan", math.nan, 4_000_000_000, T0) + metric_record("x" * 300, -1.5, 0, T0)
    chunk = parse_records(data)
    assert chunk.used == len(data) and math.isnan(chunk.records[0][1].value)
    assert chunk.records[0][1].step == 4_000_000_000 and chunk.records[1][0] == "x" * 255
    bad = parse_records(struct.pack(">QId", T0, 1, 1.0) + b"\x02\xff\xfe")
    assert "not UTF-8" in bad.errors[0]


def test_tags_notes_names_and_status_are_refused(store):
    run = store.find_run("a1b2")
    for change in (lambda: store.set_tags(run, {"a": "b"}), lambda: store.set_note(run, "x"),
                   lambda: store.rename_run(run, "y"), lambda: store.delete_tags(run, ["a"])):
        with pytest.raises(StoreError, match="fetch_ml keeps no tags"):
            change()
    with pytest.raises(StoreError, match="no run status"):
        store.terminate_run(run, RunStatus.KILLED, None)


def test_soft_delete_is_a_marker_file_and_purge_removes_the_folder(store, tmp_path):
    run = store.find_run("b2c3")
    store.delete_run(run)
    assert (Path(store.root) / run.run_id / ".tuitrack-deleted").read_text().strip().isdigit()
    assert run.run_id not in runs_by_id(store)
    deleted = store.find_run(run.run_id)
    assert deleted.lifecycle_stage is Lifecycle.DELETED and deleted.deleted_time
    store.restore_run(deleted)
    assert not store.find_run(run.run_id).is_deleted
    with pytest.raises(StoreError, match="not deleted"):
        store.purge([run], [])
    store.delete_run(run)
    result = store.purge([store.find_run(run.run_id)], [])
    assert result.removed == [run.run_id] and result.bytes_freed > 0
    assert not (Path(store.root) / run.run_id).exists()


def test_purge_never_leaves_the_root(store, tmp_path):
    outside = tmp_path / "outside"
    write_meta(outside, "zzzz9999", T0, "j", "u")
    os.symlink(outside / "zzzz9999", Path(store.root) / "zzzz9999")
    assert "zzzz9999" not in runs_by_id(store)  # fetch_ml does not list symlinked folders either
    run = store.find_run("a1b2c3d4e5f6")
    store.delete_run(run)
    deleted = store.find_run(run.run_id)
    evil = replace(deleted, run_id="zzzz9999")
    result = store.purge([evil], [])
    assert (outside / "zzzz9999" / "meta.bin").exists()  # the link went, not its target
    assert any("symlink" in w for w in result.warnings)
    dotdot = replace(deleted, run_id="..")
    assert store.purge([dotdot], []).removed == [] and Path(store.root).exists()


def test_find_run(store):
    with pytest.raises(RunNotFound):
        store.find_run("ffff")
    assert store.find_run("c3d4").run_name == "train-bert"


def test_classify(store):
    root = store.root
    (experiment,) = store.experiments()
    change = store.classify(os.path.join(root, "a1b2c3d4e5f6", "metrics.bin"))
    assert (change.kind, change.experiment_id, change.run_id) == ("run", experiment.experiment_id, "a1b2c3d4e5f6")
    assert store.classify(os.path.join(root, "a1b2c3d4e5f6", "files", "model.pt")) is None
    assert store.classify(os.path.join(root, "newcommit")).kind == "run"
    assert store.classify(root).kind == "experiments"


def test_read_run_refuses_names_outside_the_base_folder(store):
    (experiment,) = store.experiments()
    assert store.read_run(experiment, "a1b2c3d4e5f6").run_id == "a1b2c3d4e5f6"
    for name in ("..", ".", "a1b2c3d4e5f6/files", "missing", ""):
        assert store.read_run(experiment, name) is None
