"""MLflow's SQLite store: what tuitrack writes is what MLflow's SQL store would have written,
changes are seen without re-reading everything, and a bad or newer database is refused clearly."""

from __future__ import annotations

import hashlib
import math
import shutil
import sqlite3
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from mlflow.entities import ViewType

from tests.mlflow_stores import mlflow_runs, sqlite_client, write_sqlite_store
from tuitrack.model import Lifecycle, RunStatus
from tuitrack.store import StoreError, open_store
from tuitrack.store.mlflow_rules import ChangeRefused
from tuitrack.store.mlflow_sql.schema import SchemaRefused


def run_of(store, run_id):
    return store.find_run(run_id)


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


# -- opening ------------------------------------------------------------------------------------------

def test_opens_by_path_and_by_uri(sqlite_store):
    db, ids = sqlite_store
    for location in (str(db), f"sqlite:///{db}", f"sqlite:///{db}?mode=rw"):
        store = open_store(location)
        assert {e.name for e in store.experiments()} >= {"exp-alpha", "exp-beta"}


@pytest.mark.parametrize("content, message", [
    (b"hello", "is a file, not a database"),
    (b"", "is a file, not a database"),
])
def test_a_file_that_is_not_a_database(tmp_path, content, message):
    path = tmp_path / "mlflow.db"
    path.write_bytes(content)
    with pytest.raises(StoreError, match=message):
        open_store(str(path))


def test_an_sqlite_database_that_is_not_mlflows(tmp_path):
    path = tmp_path / "other.db"
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE things (x)")
    conn.commit()
    conn.close()
    with pytest.raises(StoreError, match="not an MLflow database"):
        open_store(str(path))


def test_a_missing_database_file(tmp_path):
    with pytest.raises(StoreError, match="no such database file"):
        open_store(f"sqlite:///{tmp_path}/nope.db")


def test_reading_never_changes_the_file(sqlite_store):
    db, ids = sqlite_store
    before = digest(db), db.stat().st_mtime_ns
    store = open_store(str(db))
    for experiment in store.experiments(include_deleted=True):
        for run in store.runs(experiment, include_deleted=True):
            for key in run.metrics:
                store.metric_history(run, key)
    store.changes(set())
    assert (digest(db), db.stat().st_mtime_ns) == before


def test_the_read_connection_cannot_write(sqlite_store):
    db, _ = sqlite_store
    store = open_store(str(db))
    with pytest.raises(sqlite3.OperationalError):
        store._conn().execute("DELETE FROM runs")


# -- changes as MLflow sees them ------------------------------------------------------------------------

def test_tags_note_and_rename_as_mlflow_reads_them(sqlite_store):
    db, ids = sqlite_store
    store = open_store(str(db))
    run = run_of(store, ids.runs["parent"])
    store.set_tags(run, {"stage": "prod", "custom.tag": "changed"})
    store.set_note(run, "new note\nline 2")
    store.rename_run(run, "renamed")
    store.delete_tags(run, ["unicode"])
    theirs = sqlite_client(db).get_run(run.run_id)
    assert theirs.data.tags["stage"] == "prod"
    assert theirs.data.tags["custom.tag"] == "changed"
    assert theirs.data.tags["mlflow.note.content"] == "new note\nline 2"
    assert "unicode" not in theirs.data.tags
    assert theirs.info.run_name == "renamed" and theirs.data.tags["mlflow.runName"] == "renamed"
    ours = run_of(store, run.run_id)
    assert ours.tags == theirs.data.tags and ours.run_name == "renamed"


def test_setting_the_run_name_tag_renames_like_mlflow(sqlite_store):
    db, ids = sqlite_store
    store = open_store(str(db))
    store.set_tags(run_of(store, ids.runs["child"]), {"mlflow.runName": "via-tag"})
    assert sqlite_client(db).get_run(ids.runs["child"]).info.run_name == "via-tag"


@pytest.mark.parametrize("tags, message", [
    ({"mlflow.user": "x"}, "system tag"),
    ({"bad key!": "x"}, "names may only contain"),
    ({"../up": "x"}, "clean relative path"),
    ({"long": "x" * 8001}, "at most 8000 characters"),
])
def test_bad_tags_are_refused_and_nothing_changes(sqlite_store, tags, message):
    db, ids = sqlite_store
    before = digest(db)
    store = open_store(str(db))
    with pytest.raises(ChangeRefused, match=message):
        store.set_tags(run_of(store, ids.runs["parent"]), tags)
    assert digest(db) == before


def test_a_deleted_run_refuses_tags_as_mlflow_does(sqlite_store):
    db, ids = sqlite_store
    store = open_store(str(db))
    with pytest.raises(ChangeRefused, match="is deleted"):
        store.set_tags(run_of(store, ids.runs["deleted"]), {"a": "b"})


def test_deleting_a_missing_tag_changes_nothing(sqlite_store):
    db, ids = sqlite_store
    store = open_store(str(db))
    run = run_of(store, ids.runs["parent"])
    with pytest.raises(ChangeRefused, match="no tag 'nope'"):
        store.delete_tags(run, ["custom.tag", "nope"])
    assert "custom.tag" in sqlite_client(db).get_run(run.run_id).data.tags  # one transaction: all or nothing


def test_delete_and_restore_write_mlflows_columns(sqlite_store):
    db, ids = sqlite_store
    store = open_store(str(db))
    run = run_of(store, ids.runs["child"])
    before = int(time.time() * 1000)
    store.delete_run(run)
    client = sqlite_client(db)
    assert client.get_run(run.run_id).info.lifecycle_stage == "deleted"
    deleted = {r.info.run_id for r in client.search_runs([run.experiment_id], run_view_type=ViewType.DELETED_ONLY)}
    assert run.run_id in deleted
    conn = sqlite3.connect(db)
    (deleted_time,) = conn.execute("SELECT deleted_time FROM runs WHERE run_uuid = ?", (run.run_id,)).fetchone()
    assert before <= deleted_time <= time.time() * 1000
    store.restore_run(run)
    assert client.get_run(run.run_id).info.lifecycle_stage == "active"
    assert conn.execute("SELECT deleted_time FROM runs WHERE run_uuid = ?", (run.run_id,)).fetchone() == (None,)


def test_kill_a_stale_run(sqlite_store):
    db, ids = sqlite_store
    store = open_store(str(db))
    store.terminate_run(run_of(store, ids.runs["running"]), RunStatus.KILLED, 1_795_000_009_999)
    info = sqlite_client(db).get_run(ids.runs["running"]).info
    assert (info.status, info.end_time) == ("KILLED", 1_795_000_009_999)


def test_experiment_delete_and_restore_as_mlflow_does_them(sqlite_store):
    db, ids = sqlite_store
    store = open_store(str(db))
    beta = next(e for e in store.experiments() if e.name == "exp-beta")
    store.delete_experiment(beta)
    client = sqlite_client(db)
    assert client.get_experiment(beta.experiment_id).lifecycle_stage == "deleted"
    assert {r.info.lifecycle_stage for r in client.search_runs([beta.experiment_id], run_view_type=ViewType.ALL)} == {"deleted"}
    with pytest.raises(ChangeRefused, match="is not active"):
        store.delete_experiment(beta)
    store.restore_experiment(beta)
    assert client.get_experiment(beta.experiment_id).lifecycle_stage == "active"
    # MLflow restores every run of a restored experiment, those deleted before it too
    assert {r.info.lifecycle_stage for r in client.search_runs([beta.experiment_id], run_view_type=ViewType.ALL)} == {"active"}


def test_our_changes_equal_mlflows_row_for_row(tmp_path):
    """The same changes made by MLflow's client on one copy and by tuitrack on another leave the
    same rows (times aside)."""
    db, ids = write_sqlite_store(tmp_path / "a")
    twin = tmp_path / "b.db"
    shutil.copyfile(db, twin)
    client = sqlite_client(twin)
    client.set_tag(ids.runs["parent"], "stage", "prod")
    client.set_tag(ids.runs["parent"], "mlflow.note.content", "n")
    client.update_run(ids.runs["child"], name="renamed")
    client.delete_tag(ids.runs["parent"], "custom.tag")
    client.delete_run(ids.runs["failed"])
    client.restore_run(ids.runs["deleted"])
    client.set_terminated(ids.runs["running"], "KILLED", end_time=5)
    store = open_store(str(db))
    store.set_tags(run_of(store, ids.runs["parent"]), {"stage": "prod"})
    store.set_note(run_of(store, ids.runs["parent"]), "n")
    store.rename_run(run_of(store, ids.runs["child"]), "renamed")
    store.delete_tags(run_of(store, ids.runs["parent"]), ["custom.tag"])
    store.delete_run(run_of(store, ids.runs["failed"]))
    store.restore_run(run_of(store, ids.runs["deleted"]))
    store.terminate_run(run_of(store, ids.runs["running"]), RunStatus.KILLED, 5)

    def rows(path):
        conn = sqlite3.connect(path)
        runs = conn.execute("SELECT run_uuid, name, status, end_time, lifecycle_stage, deleted_time IS NULL "
                            "FROM runs ORDER BY run_uuid").fetchall()
        tags = conn.execute("SELECT run_uuid, key, value FROM tags ORDER BY run_uuid, key").fetchall()
        return runs, tags

    assert rows(db) == rows(twin)


# -- purge ------------------------------------------------------------------------------------------------

def test_purge_removes_rows_and_local_artifacts_like_mlflow_gc(tmp_path):
    db, ids = write_sqlite_store(tmp_path / "store")
    client = sqlite_client(db)
    run_id = ids.runs["deleted"]
    artifacts = Path(client.get_run(run_id).info.artifact_uri)
    artifacts.mkdir(parents=True)
    (artifacts / "model.bin").write_bytes(b"x" * 10_000)
    store = open_store(str(db))
    with pytest.raises(ChangeRefused, match="not deleted"):
        store.purge([run_of(store, ids.runs["parent"])], [])
    result = store.purge([run_of(store, run_id)], [])
    assert result.removed == [run_id] and result.bytes_freed >= 10_000
    assert not artifacts.exists() and not artifacts.parent.exists()
    assert run_id not in mlflow_runs(None, client)
    conn = sqlite3.connect(db)
    for table in ("metrics", "latest_metrics", "params", "tags", "runs"):
        assert conn.execute(f"SELECT count(*) FROM {table} WHERE run_uuid = ?", (run_id,)).fetchone() == (0,)
    gc = subprocess.run([sys.executable, "-m", "mlflow", "gc", "--backend-store-uri", f"sqlite:///{db}",
                         "--tracking-uri", f"sqlite:///{db}"],
                        capture_output=True, text=True, cwd=db.parent)
    assert gc.returncode == 0, gc.stderr
    assert run_id not in gc.stdout  # MLflow's gc finds nothing of the run left to purge


def test_purge_of_a_deleted_experiment(tmp_path):
    db, ids = write_sqlite_store(tmp_path / "store")
    store = open_store(str(db))
    gamma = next(e for e in store.experiments(include_deleted=True) if e.name == "exp-gamma")
    result = store.purge([], [gamma])
    assert gamma.experiment_id in result.removed and ids.runs["in_trash"] in result.removed
    client = sqlite_client(db)
    assert gamma.experiment_id not in {e.experiment_id for e in client.search_experiments(view_type=ViewType.ALL)}


def test_purge_leaves_artifacts_outside_the_database_folder(sqlite_store, tmp_path):
    db, ids = sqlite_store  # a copy: its artifact URIs point into the master's folder
    outside = tmp_path.parent / "outside-artifacts"
    outside.mkdir(exist_ok=True)
    (outside / "keep.txt").write_text("precious")
    conn = sqlite3.connect(db)
    conn.execute("UPDATE runs SET artifact_uri = ? WHERE run_uuid = ?", (str(outside), ids.runs["deleted"]))
    conn.commit()
    store = open_store(str(db))
    result = store.purge([run_of(store, ids.runs["deleted"])], [])
    assert (outside / "keep.txt").read_text() == "precious"
    assert any("outside" in w for w in result.warnings)


def test_purge_unlinks_a_symlinked_artifacts_folder_without_following_it(tmp_path):
    db, ids = write_sqlite_store(tmp_path / "store")
    client = sqlite_client(db)
    run_id = ids.runs["deleted"]
    artifacts = Path(client.get_run(run_id).info.artifact_uri)
    artifacts.parent.mkdir(parents=True)
    target = tmp_path / "elsewhere"
    target.mkdir()
    (target / "keep.txt").write_text("precious")
    artifacts.symlink_to(target)
    store = open_store(str(db))
    store.purge([run_of(store, run_id)], [])
    assert (target / "keep.txt").read_text() == "precious"
    assert not artifacts.is_symlink()


# -- schema versions --------------------------------------------------------------------------------------

def test_an_untested_schema_is_read_but_not_written(sqlite_store):
    db, ids = sqlite_store
    conn = sqlite3.connect(db)
    conn.execute("UPDATE alembic_version SET version_num = 'ffffffffffff'")
    conn.commit()
    before = digest(db)
    store = open_store(str(db))
    assert store.find_run(ids.runs["parent"]).params["lr"] == "0.01"
    with pytest.raises(SchemaRefused, match="ffffffffffff is not one tuitrack was tested to write"):
        store.set_tags(run_of(store, ids.runs["parent"]), {"a": "b"})
    with pytest.raises(SchemaRefused):
        store.delete_run(run_of(store, ids.runs["parent"]))
    assert digest(db) == before


def test_a_schema_upgraded_after_opening_is_refused(sqlite_store):
    db, ids = sqlite_store
    store = open_store(str(db))
    conn = sqlite3.connect(db)
    conn.execute("UPDATE alembic_version SET version_num = 'abcabcabcabc'")
    conn.commit()
    with pytest.raises(SchemaRefused, match="abcabcabcabc"):
        store.set_tags(run_of(store, ids.runs["parent"]), {"a": "b"})


# -- histories and live changes ----------------------------------------------------------------------------

def test_history_grows_by_new_rows_only(sqlite_store):
    db, ids = sqlite_store
    store = open_store(str(db))
    run = run_of(store, ids.runs["running"])
    history = store.metric_history(run, "m")
    assert [p.step for p in history.points] == [0, 1, 2, 3, 4]
    client = sqlite_client(db)
    client.log_metric(run.run_id, "m", 0.5, timestamp=1_795_000_000_500, step=5)
    client.log_metric(run.run_id, "other", 1.0, step=0)
    client.log_metric(run.run_id, "m", math.nan, timestamp=1_795_000_000_600, step=6)
    new = store.read_new_points(history)
    assert [p.step for p in new] == [5, 6] and math.isnan(new[1].value)
    assert [p.step for p in history.points] == list(range(7))
    assert store.read_new_points(history) == []


def test_changes_name_what_changed_and_nothing_else(sqlite_store):
    db, ids = sqlite_store
    store = open_store(str(db))
    store._tracker.clock = lambda: time.monotonic() + 1000 * next(ticks)
    store.start_counting_changes()
    assert store.changes(set()) == []
    client = sqlite_client(db)
    running = ids.runs["running"]
    client.log_metric(running, "m", 9.0, step=9)
    assert {(c.kind, c.run_id, c.key) for c in store.changes(set())} == {("metric", running, "m")}
    client.set_tag(ids.runs["killed"], "stage", "prod")
    assert {(c.kind, c.run_id) for c in store.changes(set())} == {("run", ids.runs["killed"])}
    client.log_param(running, "new", "1")
    assert {(c.kind, c.run_id) for c in store.changes(set())} == {("run", running)}
    new = client.create_run(next(iter(ids.experiments.values()))).info.run_id
    assert ("run", new) in {(c.kind, c.run_id) for c in store.changes(set())}
    client.rename_experiment(ids.experiments["beta"], "beta-renamed")
    assert [c.kind for c in store.changes(set())] == ["experiments"]
    assert store.changes(set()) == []


ticks = iter(range(1, 10**6))


def test_run_and_tag_scans_are_rate_limited_but_not_lost(sqlite_store):
    db, ids = sqlite_store
    store = open_store(str(db))
    now = [0.0]
    store._tracker.clock = lambda: now[0]
    store.start_counting_changes()
    store._tracker._last_full = 0.0
    sqlite_client(db).set_tag(ids.runs["killed"], "stage", "prod")
    now[0] = 0.5  # within a second of the last scan: only appended rows are looked at
    assert store.changes(set()) == []
    now[0] = 1.5  # the app asks again a second later: the tag shows
    assert {(c.kind, c.run_id) for c in store.changes(set())} == {("run", ids.runs["killed"])}


def test_our_own_writes_are_seen_as_changes(sqlite_store):
    db, ids = sqlite_store
    store = open_store(str(db))
    store._tracker.clock = lambda: time.monotonic() + 1000 * next(ticks)
    store.start_counting_changes()
    store.delete_run(run_of(store, ids.runs["child"]))
    assert {(c.kind, c.run_id) for c in store.changes(set())} == {("run", ids.runs["child"])}
    assert run_of(store, ids.runs["child"]).lifecycle_stage is Lifecycle.DELETED


# -- a training process writing meanwhile -------------------------------------------------------------------

WRITER = textwrap.dedent("""
    import sys
    from mlflow.tracking import MlflowClient
    client = MlflowClient(tracking_uri="sqlite:///" + sys.argv[1])
    run_id = sys.argv[2]
    print("ready", flush=True)
    for step in range(300):
        client.log_metric(run_id, "live", float(step), step=step)
        client.set_tag(run_id, f"t{step % 7}", str(step))
""")


def test_a_writer_logging_while_tuitrack_changes_the_run_loses_nothing(sqlite_store):
    db, ids = sqlite_store
    run_id = ids.runs["running"]
    writer = subprocess.Popen([sys.executable, "-c", WRITER, str(db), run_id], stdout=subprocess.PIPE, text=True)
    assert writer.stdout.readline().strip() == "ready"
    store = open_store(str(db))
    run = run_of(store, run_id)
    for i in range(60):
        store.set_tags(run, {"ours": str(i)})
        store.rename_run(run, f"name-{i}")
    assert writer.wait(timeout=120) == 0
    theirs = sqlite_client(db).get_run(run_id)
    assert theirs.data.tags["ours"] == "59" and theirs.info.run_name == "name-59"
    history = sqlite_client(db).get_metric_history(run_id, "live")
    assert sorted(m.step for m in history) == list(range(300))
    assert {theirs.data.tags[f"t{k}"] for k in range(7)} == {str(s) for s in range(293, 300)}


def test_cli_json_has_the_same_shape_for_every_mlflow_format(sqlite_store, reference_store_master, mlflow_server, capsys):
    import json

    from tuitrack.cli import main

    shapes = []
    for location in (str(reference_store_master[0]), str(sqlite_store[0]), mlflow_server[0].url):
        assert main(["ls", location, "--all", "--json"]) == 0
        runs = json.loads(capsys.readouterr().out)
        assert runs
        shapes.append({frozenset(run) for run in runs})
    assert shapes[0] == shapes[1] == shapes[2] and len(shapes[0]) == 1


def test_a_database_locked_too_long_is_a_message_and_nothing_changes(sqlite_store, monkeypatch):
    from tuitrack.store.mlflow_sql import schema

    db, ids = sqlite_store
    monkeypatch.setattr(schema, "BUSY_TIMEOUT_S", 0.2)
    store = open_store(str(db))
    holder = sqlite3.connect(db, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")  # a training process in the middle of a write
    try:
        with pytest.raises(StoreError, match="held the database's write lock for over 0.2 s; nothing was changed"):
            store.set_tags(run_of(store, ids.runs["parent"]), {"a": "b"})
    finally:
        holder.execute("ROLLBACK")
    assert "a" not in sqlite_client(db).get_run(ids.runs["parent"]).data.tags
    store.set_tags(run_of(store, ids.runs["parent"]), {"a": "b"})  # free again: it works
    assert sqlite_client(db).get_run(ids.runs["parent"]).data.tags["a"] == "b"
