"""Purging an mlflow.db: a run's artifacts go only when they are that run's alone.

MLflow keeps every run's artifacts under one shared artifact root (`./mlruns` beside the
database). A run whose artifact_uri names that root, an experiment's location, another run's
artifacts or folder, the database itself, or a relative path must not take them with it.
"""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path
from urllib.parse import unquote, urlparse

import pytest

from tests.test_purge_plan import _run_json, canary, files_of
from tuitrack.cli import main
from tuitrack.store import open_store

HOSTILE = "killed"  # an active KILLED run of exp-beta; every case purges it


@pytest.fixture(scope="module")
def sqlite_master(tmp_path_factory):
    from tests.mlflow_stores import write_sqlite_store

    return write_sqlite_store(tmp_path_factory.mktemp("sqlite-purge") / "store")


@pytest.fixture
def sqlite_copy(sqlite_master, tmp_path):
    """A private copy of the database folder, its URIs moved with it, a canary in every run's
    artifacts; and canaries in a working folder and outside."""
    master_db, ids = sqlite_master
    folder = tmp_path / "store"
    shutil.copytree(master_db.parent, folder, symlinks=True)
    db = folder / "mlflow.db"
    conn = sqlite3.connect(db)
    for old, new in ((master_db.parent.as_uri(), folder.as_uri()), (str(master_db.parent), str(folder))):
        conn.execute("UPDATE runs SET artifact_uri = REPLACE(artifact_uri, ?, ?)", (old, new))
        conn.execute("UPDATE experiments SET artifact_location = REPLACE(artifact_location, ?, ?)", (old, new))
    conn.commit()
    for (uri,) in conn.execute("SELECT artifact_uri FROM runs"):
        canary(Path(unquote(urlparse(uri).path)))
    conn.close()
    outside, work = tmp_path / "outside", tmp_path / "work"
    canary(outside)
    canary(work)
    canary(work / "mlruns")
    return db, ids, outside, work


def artifacts_of(db: Path, run_id: str) -> Path:
    conn = sqlite3.connect(db)
    (uri,) = conn.execute("SELECT artifact_uri FROM runs WHERE run_uuid = ?", (run_id,)).fetchone()
    conn.close()
    return Path(unquote(urlparse(uri).path))


def set_uri(db: Path, run_id: str, uri: str) -> None:
    conn = sqlite3.connect(db)
    conn.execute("UPDATE runs SET artifact_uri = ? WHERE run_uuid = ?", (uri, run_id))
    conn.commit()
    conn.close()


def experiment_location(db: Path, experiment_id: str) -> str:
    conn = sqlite3.connect(db)
    (location,) = conn.execute("SELECT artifact_location FROM experiments WHERE experiment_id = ?",
                               (int(experiment_id),)).fetchone()
    conn.close()
    return location


def rows_of(db: Path, run_id: str) -> int:
    conn = sqlite3.connect(db)
    (n,) = conn.execute("SELECT count(*) FROM runs WHERE run_uuid = ?", (run_id,)).fetchone()
    conn.close()
    return n


def purge(how: str, db: Path, run_id: str) -> dict:
    """Purge the run one of three ways; the plan shown before (as JSON)."""
    if how == "gc":
        assert main(["delete", str(db), run_id, "--yes"]) == 0
        plan = _run_json(["gc", str(db), "--run-ids", run_id, "--json"])
        assert main(["gc", str(db), "--run-ids", run_id, "--yes"]) == 0
        return plan
    if how == "prune":
        plan = _run_json(["prune", str(db), "--status", "KILLED", "--purge", "--json"])
        assert main(["prune", str(db), "--status", "KILLED", "--purge", "--yes"]) == 0
        return plan
    store = open_store(str(db))
    store.delete_run(store.find_run(run_id))
    plan = store.plan_purge([store.find_run(run_id)], [])
    result = store.execute_purge(plan)
    assert result.bytes_freed == plan.bytes
    return plan.to_json()


def kept(plan: dict) -> list[dict]:
    return [k for row in plan["runs"] for k in row["kept"]]


def cases(db: Path, ids) -> dict[str, tuple[str, str]]:
    folder = db.parent
    parent_artifacts = artifacts_of(db, ids.runs["parent"])
    return {
        "database folder": (folder.as_uri(), "store root"),
        "shared artifact root": ((folder / "mlruns").as_uri(), "holds"),
        "experiment location": (experiment_location(db, ids.experiments["beta"]), "artifact location"),
        "another run's artifacts": (parent_artifacts.as_uri(), f"run {ids.runs['parent']}'s artifacts"),
        "another run's folder": (parent_artifacts.parent.as_uri(), f"run {ids.runs['parent']}'s"),
        "the database file": ((folder / "mlflow.db").as_uri(), "the database"),
        "an ancestor": (folder.parent.as_uri(), "outside"),
    }


CASES = ["database folder", "shared artifact root", "experiment location", "another run's artifacts",
         "another run's folder", "the database file", "an ancestor"]


@pytest.mark.parametrize("how", ["gc", "prune", "api"])
@pytest.mark.parametrize("case", CASES)
def test_sqlite_purge_leaves_what_is_not_the_runs_alone(sqlite_copy, how, case):
    db, ids, outside, work = sqlite_copy
    run_id = ids.runs[HOSTILE]
    uri, why = cases(db, ids)[case]
    own = artifacts_of(db, run_id)  # created with a canary: the run's own, which goes
    set_uri(db, run_id, uri)
    before = files_of(db.parent, outside, work)
    plan = purge(how, db, run_id)
    after = files_of(db.parent, outside, work)
    database = {str(db), str(db) + "-wal", str(db) + "-journal"}
    assert {p: after.get(p) for p in before if p not in database} == {p: b for p, b in before.items()
                                                                      if p not in database}
    assert own.exists()  # the URI no longer names it: nothing said it was this run's
    assert rows_of(db, run_id) == 0 and why in kept(plan)[0]["why"], kept(plan)
    assert plan["bytes"] == 0


@pytest.mark.parametrize("how", ["gc", "prune", "api"])
@pytest.mark.parametrize("uri", [".", "file:.", "mlruns", "file:mlruns"])
def test_sqlite_relative_uri_resolves_nothing(sqlite_copy, monkeypatch, how, uri):
    db, ids, outside, work = sqlite_copy
    monkeypatch.chdir(work)
    set_uri(db, ids.runs[HOSTILE], uri)
    before = files_of(work, db.parent / "mlruns")
    plan = purge(how, db, ids.runs[HOSTILE])
    assert files_of(work, db.parent / "mlruns") == before
    assert "relative URI" in kept(plan)[0]["why"]


@pytest.mark.parametrize("how", ["gc", "prune", "api"])
def test_sqlite_shared_uri_and_own_artifacts(sqlite_copy, how):
    db, ids, outside, work = sqlite_copy
    run_id = ids.runs[HOSTILE]
    own = artifacts_of(db, run_id)
    (own / "model.bin").write_bytes(b"m" * 30_000)
    plan = purge(how, db, run_id)
    assert not own.exists() and not own.parent.exists() and plan["bytes"] >= 30_000 and kept(plan) == []
    # A deleted run that shares the artifacts of another deleted run leaves them to it.
    shared = artifacts_of(db, ids.runs["deleted"])
    set_uri(db, ids.runs["failed"], shared.as_uri())
    assert main(["delete", str(db), ids.runs["failed"], "--yes"]) == 0
    assert main(["gc", str(db), "--run-ids", ids.runs["failed"], "--yes"]) == 0
    assert (shared / "canary.txt").exists()


def test_sqlite_symlinked_artifacts_are_unlinked(sqlite_copy):
    db, ids, outside, work = sqlite_copy
    run_id = ids.runs["deleted"]
    own = artifacts_of(db, run_id)
    shutil.rmtree(own)
    own.symlink_to(outside)
    assert main(["gc", str(db), "--run-ids", run_id, "--yes"]) == 0
    assert not own.is_symlink() and (outside / "canary.txt").exists()


def test_sqlite_gc_dry_run_changes_nothing(sqlite_copy):
    from tests.test_purge_plan import snapshot

    db, ids, outside, work = sqlite_copy
    set_uri(db, ids.runs["deleted"], (db.parent / "mlruns").as_uri())
    before = snapshot(db.parent)
    assert main(["gc", str(db), "--dry-run"]) == 0
    plan = _run_json(["gc", str(db), "--json"])
    assert snapshot(db.parent) == before
    assert plan["experiments"][0]["id"] == ids.experiments["gamma"]
    assert any("holds" in k["why"] for k in kept(plan))
