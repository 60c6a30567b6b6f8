"""kill -9 during a write leaves a `.tuitrack-*.tmp` file: MLflow still reads the store, tuitrack
never lists the file, and removes it (only ours, only once stale, never through a symlink) the
next time it writes that folder."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import time

from tests.mlflow_stores import client_for
from tuitrack.cli import main
from tuitrack.store import open_store
from tuitrack.store.mlflow_file import writer

KILLED_RENAME = textwrap.dedent("""
    import os, signal, sys
    from tuitrack.store import open_store
    root, run_id = sys.argv[1], sys.argv[2]
    real = os.replace
    def replace(src, dst):  # the temporary file is written: die before it replaces meta.yaml
        if dst.endswith("meta.yaml"):
            os.kill(os.getpid(), signal.SIGKILL)
        real(src, dst)
    os.replace = replace
    store = open_store(root)
    store.rename_run(store.find_run(run_id), "never")
""")


def killed_rename(root, run_id) -> list:
    done = subprocess.run([sys.executable, "-c", KILLED_RENAME, str(root), run_id])
    assert done.returncode == -9
    return sorted(p for p in root.rglob(".tuitrack-*.tmp"))


def test_a_killed_write_leaves_a_store_mlflow_reads_and_tuitrack_does_not_list(reference_store, capsys):
    root, ids = reference_store
    run_id = ids.runs["killed"]
    before = client_for(root).get_run(run_id)
    strays = killed_rename(root, run_id)
    assert len(strays) == 1 and strays[0].parent.name == run_id  # in the run's own folder
    client = client_for(root)
    assert client.get_run(run_id).info.run_name == before.info.run_name  # meta.yaml as it was
    assert run_id in {r.info.run_id for r in client.search_runs([before.info.experiment_id])}
    assert main(["ls", str(root), "--all", "--format", "json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert all(".tuitrack" not in json.dumps(row) for row in listed)
    assert len(listed) == len({r["run_id"] for r in listed})
    assert main(["show", str(root), run_id]) == 0
    assert ".tuitrack" not in capsys.readouterr().out
    store = open_store(str(root))
    assert store.classify(str(strays[0])) is None  # the live watcher ignores it


def test_a_stale_temp_file_of_ours_is_removed_when_the_folder_is_next_written(reference_store, tmp_path, monkeypatch):
    root, ids = reference_store
    run_id = ids.runs["killed"]
    stray = killed_rename(root, run_id)[0]
    folder = stray.parent
    fresh = folder / ".tuitrack-fresh123.tmp"
    fresh.write_text("a write in progress")
    lookalikes = [folder / ".tuitrack-abc.tmp", folder / ".tuitrack-abcdefgh.tmp.keep", folder / "tuitrack-abcdefgh.tmp"]
    outside = tmp_path / "outside.txt"
    outside.write_text("canary")
    link = folder / ".tuitrack-linkedxx.tmp"
    link.symlink_to(outside)
    for path in lookalikes:
        path.write_text("not ours")
    old = time.time() - 2 * writer.STALE_TEMP_SECONDS
    for path in (stray, *lookalikes):
        os.utime(path, (old, old))
    os.utime(link, (old, old), follow_symlinks=False)
    monkeypatch.setattr(writer, "_swept", set())
    store = open_store(str(root))
    store.set_tags(store.find_run(run_id), {"k": "v"})
    assert not stray.exists()
    assert fresh.exists() and all(p.exists() for p in lookalikes)
    assert link.is_symlink() and outside.read_text() == "canary"


def test_an_experiment_folder_and_an_entrenar_folder_are_swept_too(tmp_path, monkeypatch):
    from tests.other_trackers import entrenar_record, write_entrenar
    from tuitrack.store.entrenar.store import EntrenarStore

    write_entrenar(tmp_path, entrenar_record("run-1", "x"))
    stray = tmp_path / ".tuitrack-k1ll3d00.tmp"
    stray.write_text("{")
    old = time.time() - 2 * writer.STALE_TEMP_SECONDS
    os.utime(stray, (old, old))
    store = EntrenarStore(tmp_path)
    assert [r.run_id for r in store.runs(store.experiments()[0])] == ["run-1"]
    monkeypatch.setattr(writer, "_swept", set())
    store.set_tags(store.find_run("run-1"), {"k": "v"})
    assert not stray.exists()
