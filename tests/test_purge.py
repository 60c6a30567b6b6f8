"""tuitrack gc: purges only deleted things, never reaches outside the store, says what it freed."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from mlflow.entities import ViewType

from tests.mlflow_stores import client_for
from tuitrack.cli import main
from tuitrack.cli.gc import parse_duration


def folder(root: Path, ids, name: str, exp: str) -> Path:
    return root / ids.experiments[exp] / ids.runs[name]


def test_gc_purges_deleted_runs_and_trashed_experiments(reference_store, capsys):
    root, ids = reference_store
    assert main(["gc", str(root), "--yes"]) == 0
    out = capsys.readouterr().out
    assert "purged 1 run(s) and 1 experiment(s), freed" in out
    assert not folder(root, ids, "deleted", "beta").exists()
    assert not (root / ".trash" / ids.experiments["gamma"]).exists()
    runs = client_for(root).search_runs([ids.experiments["alpha"], ids.experiments["beta"]], run_view_type=ViewType.ALL)
    assert ids.runs["deleted"] not in {r.info.run_id for r in runs} and len(runs) == 7  # 4 + 3 left


def test_gc_needs_the_word_or_yes(reference_store, capsys, monkeypatch):
    root, ids = reference_store
    monkeypatch.setattr(sys, "stdin", open(os.devnull))
    assert main(["gc", str(root)]) == 1
    assert "add --yes" in capsys.readouterr().err and folder(root, ids, "deleted", "beta").exists()


def test_gc_refuses_runs_that_are_not_deleted(reference_store, capsys):
    root, ids = reference_store
    assert main(["gc", str(root), "--run-ids", ids.runs["parent"], "--yes"]) == 1
    assert "is not deleted" in capsys.readouterr().err and folder(root, ids, "parent", "alpha").exists()


def test_gc_older_than_uses_deleted_time(reference_store, capsys):
    root, ids = reference_store
    assert main(["gc", str(root), "--older-than", "30d", "--yes"]) == 0  # deleted just now
    assert folder(root, ids, "deleted", "beta").exists()
    assert parse_duration("1d2h3m4s") == ((26 * 60 + 3) * 60 + 4) * 1000


def test_purge_never_follows_symlinks_out_of_the_store(reference_store, tmp_path, capsys):
    root, ids = reference_store
    outside = tmp_path / "precious"
    outside.mkdir()
    (outside / "model.bin").write_bytes(b"weights")
    run = folder(root, ids, "deleted", "beta")
    # The deleted run's artifacts folder is a symlink to a folder outside the store.
    artifacts = run / "artifacts"
    if artifacts.exists():
        os.rmdir(artifacts)
    os.symlink(outside, artifacts)
    # And a deleted run whose artifact_uri points outside the store.
    meta = folder(root, ids, "failed", "alpha") / "meta.yaml"
    text = meta.read_text()
    uri_line = next(line for line in text.splitlines() if line.startswith("artifact_uri"))
    meta.write_text(text.replace(uri_line, f"artifact_uri: {outside.as_uri()}"))
    assert main(["delete", str(root), ids.runs["failed"], "--yes"]) == 0
    assert main(["gc", str(root), "--yes"]) == 0
    err = capsys.readouterr().err
    assert (outside / "model.bin").read_bytes() == b"weights"
    assert not run.exists() and not folder(root, ids, "failed", "alpha").exists()
    assert "left in place: artifacts: it is outside the store" in err


def test_purged_store_is_read_by_mlflow_gc_again(reference_store):
    import subprocess

    root, ids = reference_store
    assert main(["gc", str(root), "--yes"]) == 0
    env = {**os.environ, "MLFLOW_ALLOW_FILE_STORE": "true", "MLFLOW_TRACKING_URI": root.as_uri()}
    done = subprocess.run([str(Path(sys.executable).parent / "mlflow"), "gc", "--backend-store-uri", root.as_uri()],
                          env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-1500:]


def test_disk_usage_counts_artifacts_elsewhere_in_the_store_but_not_outside(reference_store, tmp_path):
    from tuitrack.store import open_store

    root, ids = reference_store
    store = open_store(str(root))
    run = store.find_run(ids.runs["failed"])
    alone = store.disk_usage(run)
    inside = root / "shared-artifacts" / "failed"
    inside.mkdir(parents=True)
    (inside / "weights.bin").write_bytes(b"x" * 100_000)
    meta = folder(root, ids, "failed", "alpha") / "meta.yaml"
    uri_line = next(line for line in meta.read_text().splitlines() if line.startswith("artifact_uri"))
    meta.write_text(meta.read_text().replace(uri_line, f"artifact_uri: {inside.as_uri()}"))
    assert store.disk_usage(store.find_run(ids.runs["failed"])) >= alone + 100_000
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    (outside / "w.bin").write_bytes(b"x" * 100_000)
    meta.write_text(meta.read_text().replace(inside.as_uri(), outside.as_uri()))
    assert store.disk_usage(store.find_run(ids.runs["failed"])) == alone
