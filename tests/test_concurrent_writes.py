"""Another process rewrites a run's file in place (open, truncate, write; as MLflow and entrenar
do) at each dangerous moment of a tuitrack edit: neither write is lost, and no edit fails."""

from __future__ import annotations

import os
import threading

import pytest
import yaml

from tests.mlflow_stores import client_for
from tuitrack.store import open_store
from tuitrack.store.base import StoreError
from tuitrack.store.mlflow_file import changes, guarded
from tuitrack.store.mlflow_file.store import read_meta


def in_place(path, text: str) -> None:
    """MLflow's write_yaml: open by path with truncation, one write."""
    with open(path, "w") as f:
        f.write(text)


def finished(meta_text: str, end: int) -> str:
    fields = yaml.safe_load(meta_text)
    fields.update(status=3, end_time=end)
    return yaml.safe_dump(fields, default_flow_style=False, sort_keys=True)


@pytest.fixture
def running(reference_store):
    root, ids = reference_store
    folder = root / ids.experiments["beta"] / ids.runs["running"]
    return root, ids.runs["running"], folder, folder / "meta.yaml"


def test_a_write_into_the_file_being_replaced_is_put_back(running, monkeypatch):
    """MLflow writes the old inode after our last check, just before our replace: without care
    its write would vanish with that inode."""
    root, run_id, folder, meta = running
    real = os.replace
    calls = []

    def replace_late(src, dst):
        if dst == str(meta) and not calls:
            calls.append(dst)
            in_place(meta, finished(meta.read_text(), 1795000004321))
        real(src, dst)

    monkeypatch.setattr(guarded.os, "replace", replace_late)
    changes.rename(folder, "renamed")
    assert calls
    run = client_for(root).get_run(run_id)
    assert (run.info.run_name, run.info.status, run.info.end_time) == ("renamed", "FINISHED", 1795000004321)


def test_a_truncated_replaced_file_is_waited_for(running, monkeypatch):
    """MLflow opened (truncated) the old file before our replace and writes it a moment after."""
    root, run_id, folder, meta = running
    real = os.replace
    writes = []

    def replace_while_mlflow_writes(src, dst):
        if dst == str(meta) and not writes:
            text = finished(meta.read_text(), 1795000005555)
            f = open(meta, "w")  # truncated now, written after our replace
            writes.append(threading.Timer(0.05, lambda: (f.write(text), f.close())))
            writes[0].start()
        real(src, dst)

    monkeypatch.setattr(guarded.os, "replace", replace_while_mlflow_writes)
    changes.rename(folder, "renamed")
    writes[0].join()
    run = client_for(root).get_run(run_id)
    assert (run.info.run_name, run.info.end_time) == ("renamed", 1795000005555)


def test_a_stale_copy_written_over_ours_is_corrected(running, monkeypatch):
    """MLflow read meta.yaml before our replace and writes its copy (the old name) right after."""
    root, run_id, folder, meta = running
    stale = finished(meta.read_text(), 1795000006666)
    real = guarded._late_write
    calls = []

    def then_stale_copy(fd, expected, parse, limit):
        found = real(fd, expected, parse, limit)
        if not calls:
            calls.append(1)
            in_place(meta, stale)  # into our new file: our change is gone from it
        return found

    monkeypatch.setattr(guarded, "_late_write", then_stale_copy)
    changes.rename(folder, "renamed")
    run = client_for(root).get_run(run_id)
    assert (run.info.run_name, run.info.end_time) == ("renamed", 1795000006666)


def test_a_newer_value_written_by_another_process_wins(running, monkeypatch):
    """Someone else sets the same field after our read: theirs is the later change and stays."""
    root, run_id, folder, meta = running
    real = guarded._late_write
    calls = []

    def then_their_rename(fd, expected, parse, limit):
        found = real(fd, expected, parse, limit)
        if not calls:
            calls.append(1)
            in_place(meta, meta.read_text().replace("run_name: renamed", "run_name: theirs"))
        return found

    monkeypatch.setattr(guarded, "_late_write", then_their_rename)
    changes.rewrite_meta(folder, {"run_name": "renamed"})
    assert calls and client_for(root).get_run(run_id).info.run_name == "theirs"


def test_an_edit_waits_while_meta_yaml_is_empty(running):
    """MLflow has truncated meta.yaml and writes it 50 ms later: the tag and the rename succeed."""
    root, run_id, folder, meta = running
    text = meta.read_text()
    store = open_store(str(root))
    run = store.find_run(run_id)
    for change in (lambda: store.set_tags(run, {"k": "v"}), lambda: store.rename_run(run, "renamed")):
        in_place(meta, "")
        timer = threading.Timer(0.05, in_place, (meta, text))
        timer.start()
        change()
        timer.join()
        text = meta.read_text()
    got = client_for(root).get_run(run_id)
    assert got.info.run_name == "renamed" and got.data.tags["k"] == "v"


def test_an_edit_of_a_meta_yaml_that_stays_empty_fails_cleanly(running):
    root, run_id, folder, meta = running
    store = open_store(str(root))
    run = store.find_run(run_id)
    in_place(meta, "")
    with pytest.raises(StoreError, match="meta.yaml stayed empty; not changed"):
        store.rename_run(run, "renamed")
    assert meta.read_text() == ""


def test_the_listing_waits_for_a_meta_yaml_being_rewritten(running):
    root, run_id, folder, meta = running
    text = meta.read_text()
    in_place(meta, "")
    timer = threading.Timer(0.05, in_place, (meta, text))
    timer.start()
    got = read_meta(str(meta))
    timer.join()
    assert got.fields is not None and got.fields["run_id"] == run_id


def test_the_listing_reports_an_old_broken_meta_yaml_without_waiting(running, monkeypatch):
    root, run_id, folder, meta = running
    in_place(meta, "run_id: [unclosed")
    os.utime(meta, (1_700_000_000, 1_700_000_000))
    slept = []
    monkeypatch.setattr("tuitrack.store.mlflow_file.store.time.sleep", slept.append)
    got = read_meta(str(meta))
    assert got.fields is None and "unreadable" in got.problem and slept == []


def test_a_recent_half_written_meta_yaml_is_read_again(running, monkeypatch):
    root, run_id, folder, meta = running
    text = meta.read_text()
    in_place(meta, text[: len(text) // 2] + "  [")
    monkeypatch.setattr("tuitrack.store.mlflow_file.store.time.sleep", lambda _: in_place(meta, text))
    assert read_meta(str(meta)).fields["run_id"] == run_id


def test_an_entrenar_save_into_the_replaced_record_is_kept(tmp_path, monkeypatch):
    from tests.other_trackers import entrenar_record, write_entrenar
    from tuitrack.store.entrenar.store import EntrenarStore

    path = write_entrenar(tmp_path, entrenar_record("run-1", "x", status="Completed"))
    store = EntrenarStore(tmp_path)
    run = store.find_run("run-1")
    real = os.replace
    calls = []

    def entrenar_saves(src, dst):
        if dst == str(path) and not calls:
            calls.append(1)
            in_place(path, path.read_text().replace('"Completed"', '"Failed"'))
        real(src, dst)

    monkeypatch.setattr(guarded.os, "replace", entrenar_saves)
    store.set_tags(run, {"k": "v"})
    again = EntrenarStore(tmp_path).find_run("run-1")
    assert calls and again.tags["k"] == "v" and again.status.name == "FAILED"


@pytest.mark.parametrize("error", [28, 30])  # ENOSPC (disk full), EROFS (read-only)
def test_a_single_change_that_cannot_be_written_fails_cleanly(running, monkeypatch, capsys, error):
    root, run_id, folder, meta = running
    before = meta.read_bytes()
    name_tag = (folder / "tags" / "mlflow.runName").read_bytes()

    def cannot_write(*args, **kwargs):
        raise OSError(error, os.strerror(error))

    monkeypatch.setattr(guarded, "write_temp", cannot_write)
    from tuitrack.cli import main

    assert main(["rename", str(root), run_id, "renamed"]) == 1
    assert os.strerror(error) in capsys.readouterr().err
    assert meta.read_bytes() == before and list(root.rglob(".tuitrack-*")) == []
    assert (folder / "tags" / "mlflow.runName").read_bytes() == name_tag  # the name stays whole
