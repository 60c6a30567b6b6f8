"""An experiment delete or restore completes or rolls back: on a full disk (a real small tmpfs,
and a simulated ENOSPC), and when killed between steps (the next delete finishes it, the next
restore undoes it). Results checked with MLflow's own client."""

from __future__ import annotations

import errno
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from mlflow.entities import ViewType

from tests.mlflow_stores import client_for
from tuitrack.cli import main
from tuitrack.store import open_store
from tuitrack.store.mlflow_file import experiment_delete, guarded, writer


def snapshot(root: Path) -> dict[str, bytes]:
    """Every file under the store, by relative path: the store exactly as it is."""
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def leftovers(root: Path) -> list[Path]:
    return [p for p in root.rglob(".tuitrack-*")]


def beta_of(root: Path, ids):
    store = open_store(str(root))
    return store, next(e for e in store.experiments(include_deleted=True) if e.experiment_id == ids.experiments["beta"])


def run_states(client, experiment_id: str) -> dict[str, tuple[str, int | None]]:
    runs = client.search_runs([experiment_id], run_view_type=ViewType.ALL)
    return {r.info.run_id: (r.info.lifecycle_stage, getattr(r.info, "deleted_time", None)) for r in runs}


def fail_on_write(monkeypatch, n: int) -> list[int]:
    """The n-th temporary file written fails with ENOSPC, as on a full disk."""
    real = writer.write_temp
    calls = []

    def write_temp(*args, **kwargs):
        calls.append(1)
        if len(calls) == n:
            raise OSError(errno.ENOSPC, "No space left on device")
        return real(*args, **kwargs)

    monkeypatch.setattr(guarded, "write_temp", write_temp)
    monkeypatch.setattr(writer, "write_temp", write_temp)
    return calls


@pytest.mark.parametrize("n", [1, 2, 3, 4, 5])  # the journal, three runs, the experiment
def test_a_delete_that_fails_half_way_leaves_everything_as_it_was(reference_store, monkeypatch, capsys, n):
    root, ids = reference_store
    before = snapshot(root)
    calls = fail_on_write(monkeypatch, n)
    assert main(["delete", str(root), "--experiment", ids.experiments["beta"], "--yes", "--force"]) == 1
    assert "No space left on device" in capsys.readouterr().err
    assert len(calls) >= n
    assert snapshot(root) == before  # the run deleted before keeps its deleted_time; no journal
    monkeypatch.undo()
    assert main(["delete", str(root), "--experiment", ids.experiments["beta"], "--yes", "--force"]) == 0
    assert client_for(root).get_experiment(ids.experiments["beta"]).lifecycle_stage == "deleted"


def test_a_restore_that_fails_half_way_leaves_it_deleted(reference_store, monkeypatch, capsys):
    root, ids = reference_store
    beta = ids.experiments["beta"]
    assert main(["delete", str(root), "--experiment", beta, "--yes", "--force"]) == 0
    before = snapshot(root)
    fail_on_write(monkeypatch, 2)
    assert main(["restore", str(root), "--experiment", beta]) == 1
    assert snapshot(root) == before and leftovers(root) == []
    monkeypatch.undo()
    assert main(["restore", str(root), "--experiment", beta]) == 0
    assert client_for(root).get_experiment(beta).lifecycle_stage == "active"


@pytest.fixture
def small_disk(tmp_path):
    """A 16 MiB tmpfs (needs root); skipped where mounting is not allowed."""
    mount = tmp_path / "disk"
    mount.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=16m", "tmpfs", str(mount)], capture_output=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.decode().strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def fill(disk: Path) -> None:
    """Write a file until the disk is full, then write smaller pieces until not a byte fits."""
    try:
        with open(disk / "filler", "ab", buffering=0) as f:
            for size in (1 << 16, 4096, 512, 1):
                try:
                    while True:
                        f.write(b"x" * size)
                except OSError as exc:
                    assert exc.errno == errno.ENOSPC
    except OSError as exc:  # not even room for the file
        assert exc.errno == errno.ENOSPC


def test_on_a_really_full_disk_the_delete_rolls_back(reference_store, small_disk, monkeypatch, capsys):
    """The disk fills up while the runs are being deleted: the runs deleted so far are put back."""
    master, ids = reference_store
    root = small_disk / "mlruns"
    shutil.copytree(master, root, symlinks=True)
    before = snapshot(root)
    real = experiment_delete.soft_delete
    deleted = []

    def then_the_disk_fills(run_dir, when=None):
        real(run_dir, when)
        deleted.append(run_dir.name)
        if len(deleted) == 2:
            fill(small_disk)

    monkeypatch.setattr(experiment_delete, "soft_delete", then_the_disk_fills)
    assert main(["delete", str(root), "--experiment", ids.experiments["beta"], "--yes", "--force"]) == 1
    assert "No space left on device" in capsys.readouterr().err
    assert len(deleted) == 2
    assert snapshot(root) == before and leftovers(root) == []
    client = client_for(root)
    assert client.get_experiment(ids.experiments["beta"]).lifecycle_stage == "active"
    assert run_states(client, ids.experiments["beta"])[ids.runs["deleted"]][0] == "deleted"


def test_a_full_disk_before_anything_changes_fails_cleanly(reference_store, small_disk, capsys):
    master, ids = reference_store
    root = small_disk / "mlruns"
    shutil.copytree(master, root, symlinks=True)
    before = snapshot(root)
    fill(small_disk)
    assert main(["delete", str(root), "--experiment", ids.experiments["beta"], "--yes", "--force"]) == 1
    assert snapshot(root) == before and leftovers(root) == []


KILLED_DELETE = textwrap.dedent("""
    import os, signal, sys
    from tuitrack.store import open_store
    from tuitrack.store.mlflow_file import experiment_delete
    root, experiment_id, point = sys.argv[1], sys.argv[2], sys.argv[3]
    real_delete, real_rename = experiment_delete.soft_delete, os.rename
    count = []
    def soft_delete(run_dir, when=None):
        real_delete(run_dir, when)
        count.append(1)
        if point == "runs" and len(count) == 2:
            os.kill(os.getpid(), signal.SIGKILL)
    def rename(src, dst):
        if point == "move":
            os.kill(os.getpid(), signal.SIGKILL)
        real_rename(src, dst)
    experiment_delete.soft_delete = soft_delete
    experiment_delete.os.rename = rename
    store = open_store(root)
    experiment = next(e for e in store.experiments() if e.experiment_id == experiment_id)
    store.delete_experiment(experiment)
""")


def killed_delete(root: Path, experiment_id: str, point: str) -> None:
    done = subprocess.run([sys.executable, "-c", KILLED_DELETE, str(root), experiment_id, point])
    assert done.returncode == -9


@pytest.mark.parametrize("point", ["runs", "move"])
def test_restore_after_a_killed_delete_brings_back_what_it_deleted(reference_store, capsys, point):
    root, ids = reference_store
    beta = ids.experiments["beta"]
    client = client_for(root)
    states = run_states(client, beta)
    before = snapshot(root)
    killed_delete(root, beta, point)
    assert snapshot(root) != before
    assert main(["ls", str(root), "--all", "--experiment", beta]) == 0
    assert experiment_delete.INTERRUPTED in capsys.readouterr().out + str(
        [p.message for p in beta_of(root, ids)[1].problems])
    assert main(["restore", str(root), "--experiment", beta]) == 0
    assert snapshot(root) == before and leftovers(root) == []
    assert run_states(client, beta) == states  # the run deleted before stays deleted, same time


@pytest.mark.parametrize("point", ["runs", "move"])
def test_delete_after_a_killed_delete_finishes_it_as_mlflow_would(reference_store, point):
    root, ids = reference_store
    beta = ids.experiments["beta"]
    killed_delete(root, beta, point)
    assert main(["delete", str(root), "--experiment", beta, "--yes", "--force"]) == 0
    client = client_for(root)
    assert client.get_experiment(beta).lifecycle_stage == "deleted" and leftovers(root) == []
    states = run_states(client, beta)
    assert all(stage == "deleted" for stage, _ in states.values())
    times = {when for run_id, (_, when) in states.items() if run_id != ids.runs["deleted"]}
    assert len(times) == 1  # one deletion time for the runs the experiment's delete deleted, as MLflow does
    client.restore_experiment(beta)  # MLflow restores it as it restores its own deletes
    assert all(stage == "active" for stage, _ in run_states(client, beta).values())


def test_a_killed_restore_is_finished_by_the_next_restore(reference_store, monkeypatch):
    root, ids = reference_store
    beta = ids.experiments["beta"]
    assert main(["delete", str(root), "--experiment", beta, "--yes", "--force"]) == 0
    real = experiment_delete.restore

    def killed(run_dir):
        raise KeyboardInterrupt  # stands for the kill: what is on disk stays, but the undo runs...

    store, trashed = beta_of(root, ids)
    monkeypatch.setattr(experiment_delete, "restore", killed)
    monkeypatch.setattr(experiment_delete, "_undo", lambda *a, **k: None)  # ...as after kill -9
    with pytest.raises(KeyboardInterrupt):
        store.restore_experiment(trashed)
    monkeypatch.setattr(experiment_delete, "restore", real)
    monkeypatch.undo()
    assert (root / beta / experiment_delete.JOURNAL).is_file()
    assert main(["restore", str(root), "--experiment", beta]) == 0
    client = client_for(root)
    assert client.get_experiment(beta).lifecycle_stage == "active" and leftovers(root) == []
    assert all(stage == "active" for stage, _ in run_states(client, beta).values())  # as MLflow's restore


def test_mini_mlflow_experiment_delete_rolls_back_too(mini_store, monkeypatch, capsys):
    root, _ = mini_store
    experiment = next(p for p in sorted(root.iterdir()) if p.is_dir() and not p.name.startswith(".")
                      and not (p / "meta.yaml").exists())
    before = snapshot(root)
    fail_on_write(monkeypatch, 2)
    assert main(["delete", str(root), "--experiment", experiment.name, "--yes", "--force"]) == 1
    assert snapshot(root) == before and leftovers(root) == []
    assert {os.stat(p).st_mtime_ns for p in experiment.rglob("meta.yaml")}  # still readable


def _metas(root: Path, experiment_id: str) -> dict[str, dict]:
    import yaml

    found = {}
    for meta in sorted(root.rglob("meta.yaml")):
        if experiment_id in meta.parts:
            fields = yaml.safe_load(meta.read_text())
            for key in ("deleted_time", "last_update_time"):  # the moment differs, not its presence
                if key in fields:
                    fields[key] = "set"
            found[str(meta.relative_to(root))] = fields
    return found


def test_delete_and_restore_write_what_mlflow_writes(reference_store, tmp_path):
    ours, ids = reference_store
    theirs = tmp_path / "theirs"
    shutil.copytree(ours, theirs, symlinks=True)
    beta = ids.experiments["beta"]
    client = client_for(theirs)
    store, experiment = beta_of(ours, ids)
    store.delete_experiment(experiment)
    client.delete_experiment(beta)
    assert _metas(ours, beta) == _metas(theirs, beta)
    store, experiment = beta_of(ours, ids)
    store.restore_experiment(experiment)
    client.restore_experiment(beta)
    assert _metas(ours, beta) == _metas(theirs, beta)
    assert leftovers(ours) == []


async def test_in_the_app_r_undoes_a_killed_delete(reference_store):
    import time

    from tests.app_helpers import settle
    from tuitrack.app.app import TuitrackApp
    from tuitrack.app.widgets.run_tree import RunTree
    from tuitrack.live.options import LiveOptions

    root, ids = reference_store
    beta = ids.experiments["beta"]
    before = snapshot(root)
    killed_delete(root, beta, "runs")
    app = TuitrackApp(open_store(str(root)), clock=lambda: time.time() + 86_400, live=LiveOptions(watch=False))
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        tree = app.screen.query_one(RunTree)
        tree.focus()
        tree.select_experiment(beta)
        await settle(pilot)
        await pilot.press("r")
        await settle(pilot)
    assert snapshot(root) == before and leftovers(root) == []
