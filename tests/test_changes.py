"""Changing runs: what tuitrack writes is what MLflow would have written (MLflow's client checks)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from mlflow.entities import ViewType

from tests.mlflow_stores import client_for
from tuitrack.cli import main
from tuitrack.store import open_store
from tuitrack.store.mlflow_file import changes, guarded
from tuitrack.store.mlflow_file.changes import ChangeRefused


def run_dir(root: Path, ids, name: str, exp: str) -> Path:
    return root / ids.experiments[exp] / ids.runs[name]


def no_temp_files(root: Path) -> None:
    strays = [p for p in root.rglob(".tuitrack-*")]
    assert strays == []


def test_tags_as_mlflow_reads_them(reference_store, capsys):
    root, ids = reference_store
    run_id = ids.runs["parent"]
    assert main(["tag", str(root), run_id[:8], "team=vision", "nested/key=a b", "--remove", "custom.tag"]) == 0
    tags = client_for(root).get_run(run_id).data.tags
    assert tags["team"] == "vision" and tags["nested/key"] == "a b" and "custom.tag" not in tags
    said = capsys.readouterr()
    assert said.out == ""  # stdout stays clean for scripts; what was done goes to stderr
    assert f"{run_id[:8]}: set team=vision, nested/key=a b" in said.err and "removed custom.tag" in said.err
    no_temp_files(root)


@pytest.mark.parametrize("pair, message", [
    ("mlflow.user=x", "system tag"),
    ("../evil=x", "not a clean relative path"),
    ("bad$key=x", "names may only contain"),
    ("=x", "cannot be empty"),
])
def test_bad_tags_are_refused_and_nothing_changes(reference_store, capsys, pair, message):
    root, ids = reference_store
    before = sorted(p.read_bytes() for p in root.rglob("*") if p.is_file())
    assert main(["tag", str(root), ids.runs["parent"], "ok=1", pair]) == 1
    assert message in capsys.readouterr().err
    assert sorted(p.read_bytes() for p in root.rglob("*") if p.is_file()) == before


def test_system_tag_with_force(reference_store):
    root, ids = reference_store
    assert main(["tag", str(root), ids.runs["parent"], "mlflow.user=carol", "--force"]) == 0
    assert client_for(root).get_run(ids.runs["parent"]).data.tags["mlflow.user"] == "carol"


def test_note_and_rename(reference_store):
    root, ids = reference_store
    run_id = ids.runs["child"]
    assert main(["note", str(root), run_id, "first line\nsecond line"]) == 0
    assert main(["rename", str(root), run_id, "yes"]) == 0  # a YAML bool word: must stay a string
    run = client_for(root).get_run(run_id)
    assert run.data.tags["mlflow.note.content"] == "first line\nsecond line"
    assert run.info.run_name == "yes" and run.data.tags["mlflow.runName"] == "yes"
    assert "run_name: 'yes'" in (run_dir(root, ids, "child", "alpha") / "meta.yaml").read_text()


def test_delete_and_restore_round_trip_with_mlflow(reference_store, capsys):
    root, ids = reference_store
    client = client_for(root)
    target = ids.runs["failed"]
    assert main(["delete", str(root), target, "--yes"]) == 0
    deleted = {r.info.run_id for r in client.search_runs([ids.experiments["alpha"]], run_view_type=ViewType.DELETED_ONLY)}
    assert deleted == {target}
    client.restore_run(target)  # MLflow restores what tuitrack deleted
    assert client.get_run(target).info.lifecycle_stage == "active"
    client.delete_run(target)  # and tuitrack restores what MLflow deleted
    assert main(["restore", str(root), target]) == 0
    meta = (run_dir(root, ids, "failed", "alpha") / "meta.yaml").read_text()
    assert "deleted_time" not in meta and "lifecycle_stage: active" in meta
    assert client.get_run(target).info.lifecycle_stage == "active"


def test_delete_writes_the_bytes_mlflow_writes(reference_store):
    root, ids = reference_store
    ours, theirs = run_dir(root, ids, "failed", "alpha"), run_dir(root, ids, "killed", "beta")
    changes.soft_delete(ours, when=1_795_000_999_000)
    client_for(root).delete_run(ids.runs["killed"])
    theirs_meta = (theirs / "meta.yaml").read_text()
    deleted_time = next(l for l in theirs_meta.splitlines() if l.startswith("deleted_time"))
    ours_meta = (ours / "meta.yaml").read_text()
    assert ours_meta.splitlines()[1] == "deleted_time: 1795000999000"
    assert [l.split(":")[0] for l in ours_meta.splitlines()] == [l.split(":")[0] for l in theirs_meta.splitlines()]
    assert deleted_time.startswith("deleted_time: ")


def test_mlflow_gc_purges_what_tuitrack_deleted(reference_store):
    root, ids = reference_store
    meta = run_dir(root, ids, "failed", "alpha") / "meta.yaml"
    # The copy's artifact_uri names the session's master store, and MLflow's gc deletes whatever
    # it names: point it at the copy, or every later copy of this run lacks artifacts/.
    master_uri = next(line for line in meta.read_text().splitlines() if line.startswith("artifact_uri: "))
    meta.write_text(meta.read_text().replace(master_uri, f"artifact_uri: {(meta.parent / 'artifacts').as_uri()}"))
    assert main(["delete", str(root), ids.runs["failed"], "--yes"]) == 0
    env = {**os.environ, "MLFLOW_ALLOW_FILE_STORE": "true", "MLFLOW_TRACKING_URI": root.as_uri()}
    done = subprocess.run([str(Path(sys.executable).parent / "mlflow"), "gc", "--backend-store-uri", root.as_uri()],
                          env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-2000:]
    assert not run_dir(root, ids, "failed", "alpha").exists()
    assert run_dir(root, ids, "parent", "alpha").exists()


def test_delete_without_a_terminal_asks_for_yes_and_changes_nothing(reference_store, capsys, monkeypatch):
    root, ids = reference_store
    meta = run_dir(root, ids, "failed", "alpha") / "meta.yaml"
    before = meta.read_bytes()
    monkeypatch.setattr(sys, "stdin", open(os.devnull))
    assert main(["delete", str(root), ids.runs["failed"]]) == 1
    assert "add --yes" in capsys.readouterr().err and meta.read_bytes() == before


def test_running_runs_that_still_write_are_not_deleted_unless_forced(reference_store, capsys):
    root, ids = reference_store
    meta = run_dir(root, ids, "running", "beta") / "meta.yaml"
    # The reference run wrote last in November: silent for days, it is stale unless the window is wider.
    assert main(["delete", str(root), ids.runs["running"], "--yes", "--stale-after", "100000000"]) == 1
    assert "is RUNNING and wrote within 1e+08 minutes" in capsys.readouterr().err
    assert "lifecycle_stage: active" in meta.read_text()
    assert main(["delete", str(root), ids.runs["running"], "--yes", "--stale-after", "100000000", "--force"]) == 0


def test_a_stale_running_run_is_deleted_as_the_app_deletes_it(reference_store, capsys):
    """The app's d deletes a RUNNING run that has been silent for --stale-after minutes: so does the CLI."""
    root, ids = reference_store
    meta = run_dir(root, ids, "running", "beta") / "meta.yaml"
    assert main(["delete", str(root), ids.runs["running"], "--yes"]) == 0
    assert "lifecycle_stage: deleted" in meta.read_text()
    assert main(["restore", str(root), ids.runs["running"], "--yes"]) == 0  # restore takes --yes too
    assert "lifecycle_stage: active" in meta.read_text()


def test_a_running_run_just_written_to_is_not_stale(reference_store, capsys):
    root, ids = reference_store
    run = run_dir(root, ids, "running", "beta")
    metric = next((run / "metrics").rglob("*"))
    now = int(time.time() * 1000)
    with open(metric, "a") as f:
        f.write(f"{now} 0.5 99\n")
    assert main(["delete", str(root), ids.runs["running"], "--yes"]) == 1
    assert "is RUNNING and wrote within 10 minutes" in capsys.readouterr().err


def test_a_bad_option_points_to_the_commands_help(reference_store, capsys):
    root, ids = reference_store
    with pytest.raises(SystemExit) as exit_:
        main(["restore", str(root), ids.runs["failed"], "--bogus"])
    assert exit_.value.code == 2
    assert "(see tuitrack restore --help)" in capsys.readouterr().err


def test_deleted_runs_refuse_tags_like_mlflow(reference_store, capsys):
    root, ids = reference_store
    main(["delete", str(root), ids.runs["failed"], "--yes"])
    assert main(["tag", str(root), ids.runs["failed"], "a=b"]) == 1
    assert "restore it first" in capsys.readouterr().err


def test_a_meta_rewritten_meanwhile_is_not_lost(reference_store, monkeypatch):
    """A script finishes the run between our read and our write: both changes survive."""
    root, ids = reference_store
    folder = run_dir(root, ids, "running", "beta")
    meta = folder / "meta.yaml"
    real = guarded.write_temp
    calls = {"n": 0}

    def racing_write(folder, data, mode, durable=True):
        calls["n"] += 1
        if calls["n"] == 1:  # right after our read, MLflow finishes the run (in place)
            meta.write_text(meta.read_text().replace("status: 1", "status: 3").replace("end_time: null", "end_time: 1795000001234"))
        return real(folder, data, mode, durable)

    monkeypatch.setattr(guarded, "write_temp", racing_write)
    changes.rename(folder, "renamed")
    run = client_for(root).get_run(ids.runs["running"])
    assert run.info.run_name == "renamed" and run.info.status == "FINISHED" and run.info.end_time == 1795000001234


def test_writer_logging_while_tuitrack_renames_loses_nothing(reference_store):
    root, ids = reference_store
    folder = run_dir(root, ids, "running", "beta")
    writer = subprocess.Popen([sys.executable, "-c", (
        "import sys, time\n"
        "for s in range(400):\n"
        "    open(sys.argv[1] + '/metrics/m', 'a').write(f'{int(time.time()*1000)} {s} {100 + s}\\n')\n"
        "    open(sys.argv[1] + f'/tags/t{s % 7}', 'w').write(str(s))\n"
    ), str(folder)])
    store = open_store(str(root))
    run = store.find_run(ids.runs["running"])
    names = 0
    while writer.poll() is None:
        store.rename_run(run, f"name-{names}")
        names += 1
    assert writer.returncode == 0 and names > 0
    got = client_for(root).get_run(ids.runs["running"])
    assert got.info.run_name == f"name-{names - 1}"
    history = client_for(root).get_metric_history(ids.runs["running"], "m")
    assert [m.step for m in history][5:] == list(range(100, 500))
    no_temp_files(root)


def test_experiment_delete_and_restore_as_mlflow_sees_them(reference_store):
    root, ids = reference_store
    store = open_store(str(root))
    beta = next(e for e in store.experiments() if e.experiment_id == ids.experiments["beta"])
    store.delete_experiment(beta)
    client = client_for(root)
    assert client.get_experiment(beta.experiment_id).lifecycle_stage == "deleted"
    assert (root / ".trash" / beta.experiment_id).is_dir()
    runs = client.search_runs([beta.experiment_id], run_view_type=ViewType.ALL)
    assert all(r.info.lifecycle_stage == "deleted" for r in runs)
    client.restore_experiment(beta.experiment_id)  # MLflow restores what tuitrack deleted
    assert client.get_experiment(beta.experiment_id).lifecycle_stage == "active"
    client.delete_experiment(beta.experiment_id)  # and tuitrack restores what MLflow deleted
    trashed = next(e for e in store.experiments(include_deleted=True) if e.experiment_id == beta.experiment_id)
    store.restore_experiment(trashed)
    runs = client.search_runs([beta.experiment_id], run_view_type=ViewType.ACTIVE_ONLY)
    assert {r.info.run_id for r in runs} == {ids.runs[n] for n in ("running", "killed", "restored", "deleted")}


def test_default_experiment_cannot_be_deleted(reference_store):
    root, _ = reference_store
    store = open_store(str(root))
    default = next(e for e in store.experiments() if e.experiment_id == "0")
    with pytest.raises(ChangeRefused, match="cannot be deleted"):
        store.delete_experiment(default)


def test_cli_experiment_delete_and_restore(reference_store, capsys):
    root, ids = reference_store
    alpha = ids.experiments["alpha"]
    assert main(["delete", str(root), "--experiment", "exp-alpha", "--yes"]) == 1  # it has a RUNNING run
    assert main(["delete", str(root), "--experiment", "exp-alpha", "--yes", "--force"]) == 0
    client = client_for(root)
    assert client.get_experiment(alpha).lifecycle_stage == "deleted"
    assert main(["restore", str(root), "--experiment", alpha]) == 0
    assert client.get_experiment(alpha).lifecycle_stage == "active"
    assert len(client.search_runs([alpha], run_view_type=ViewType.ACTIVE_ONLY)) == 4


def test_a_reader_never_sees_a_half_written_meta(reference_store):
    """MLflow truncates, then writes; tuitrack replaces: a reader sees old bytes or new, never less."""
    import threading

    import yaml

    root, ids = reference_store
    folder = run_dir(root, ids, "failed", "alpha")
    seen_bad = []
    done = threading.Event()

    def reader():
        while not done.is_set():
            text = (folder / "meta.yaml").read_text()
            fields = yaml.safe_load(text)
            if not fields or "run_id" not in fields:
                seen_bad.append(text)
            time.sleep(0.0002)  # a reader that never lets go of the GIL slowed the writer 100-fold

    thread = threading.Thread(target=reader)
    thread.start()
    try:
        for i in range(300):
            changes.rename(folder, f"name-{i}")
    finally:
        done.set()
        thread.join()
    assert seen_bad == []
