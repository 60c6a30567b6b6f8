"""A purge takes the run's own folder, and an artifact location only when it is that run's alone.

Each hostile `artifact_uri` below made `gc --yes` delete what it named before purge plans. Every
case runs through the three ways a purge is made (gc, prune --purge, and the store API the app
uses), and every file of the store but the purged run's own, plus canaries in the working folder
and outside the store, must survive byte for byte.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

from tuitrack.cli import main
from tuitrack.store import open_store

KILLED = "killed"  # the run every case purges: a KILLED run of exp-beta


def set_artifact_uri(root: Path, ids, name: str, uri: str) -> None:
    exp = next(e for e, r in _runs(root) if r == ids.runs[name])
    meta = root / exp / ids.runs[name] / "meta.yaml"
    lines = [line for line in meta.read_text().splitlines() if not line.startswith("artifact_uri:")]
    meta.write_text("\n".join([f"artifact_uri: {uri}", *lines]) + "\n")


def _runs(root: Path):
    for meta in root.glob("*/*/meta.yaml"):
        yield meta.parent.parent.name, meta.parent.name
    for meta in root.glob(".trash/*/*/meta.yaml"):
        yield ".trash/" + meta.parent.parent.name, meta.parent.name


def files_of(*folders: Path) -> dict[str, bytes]:
    """Every file (and symlink, by its target text) under the folders."""
    out = {}
    for folder in folders:
        for dirpath, dirnames, filenames in os.walk(folder):
            for name in filenames + [d for d in dirnames if os.path.islink(os.path.join(dirpath, d))]:
                path = os.path.join(dirpath, name)
                out[path] = os.readlink(path).encode() if os.path.islink(path) else Path(path).read_bytes()
    return out


def du(path: Path) -> int:
    """Disk blocks under `path`, counted here independently of tuitrack (no hard links here)."""
    total = os.lstat(path).st_blocks * 512
    for dirpath, dirnames, filenames in os.walk(path):
        for name in dirnames + filenames:
            total += os.lstat(os.path.join(dirpath, name)).st_blocks * 512
    return total


def canary(folder: Path, name: str = "canary.txt") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(f"must survive: {folder}")
    return path


@pytest.fixture
def hostile(reference_store, tmp_path):
    """The reference store with canaries in every experiment, run and artifacts folder."""
    root, ids = reference_store
    for exp, run in list(_runs(root)):
        canary(root / exp)
        canary(root / exp / run / "artifacts")
    outside = tmp_path / "outside"
    canary(outside)
    work = tmp_path / "work"  # the working folder: a relative URI must not reach it
    canary(work)
    canary(work / "artifacts")
    return root, ids, outside, work


def killed_folder(root: Path, ids) -> Path:
    return root / ids.experiments["beta"] / ids.runs[KILLED]


def purge_killed(how: str, root: Path, ids) -> tuple[int, dict]:
    """Purge the KILLED run one of three ways; (bytes freed, the plan as JSON)."""
    if how == "gc":
        assert main(["delete", str(root), ids.runs[KILLED], "--yes"]) == 0
        plan = _gc_json(root, "--run-ids", ids.runs[KILLED])
        assert main(["gc", str(root), "--run-ids", ids.runs[KILLED], "--yes"]) == 0
        return plan["bytes"], plan
    if how == "prune":
        out = _run_json(["prune", str(root), "--status", "KILLED", "--purge", "--json"])
        assert main(["prune", str(root), "--status", "KILLED", "--purge", "--yes"]) == 0
        return out["bytes"], out
    store = open_store(str(root))
    store.delete_run(store.find_run(ids.runs[KILLED]))
    plan = store.plan_purge([store.find_run(ids.runs[KILLED])], [])
    result = store.execute_purge(plan)
    assert result.bytes_freed == plan.bytes
    return plan.bytes, plan.to_json()


def _run_json(argv: list[str]) -> dict:
    import contextlib
    import io

    buffer = io.StringIO()
    with contextlib.redirect_stdout(buffer):
        assert main(argv) == 0
    return json.loads(buffer.getvalue())


def _gc_json(root: Path, *extra: str) -> dict:
    return _run_json(["gc", str(root), "--json", *extra])


def kept_of(plan: dict) -> list[dict]:
    rows = plan["runs"]
    return [k for row in rows for k in row.get("kept", [])]


def hostile_uris(root: Path, ids, outside: Path) -> dict[str, tuple[str, str]]:
    """case -> (artifact_uri, what the refusal says)."""
    alpha = root / ids.experiments["alpha"]
    parent = alpha / ids.runs["parent"]
    return {
        "store root": (root.as_uri(), "store root"),
        "experiment folder": (alpha.as_uri(), "experiment"),
        "trashed experiment folder": ((root / ".trash" / ids.experiments["gamma"]).as_uri(), "experiment"),
        "another run's folder": (parent.as_uri(), f"run {ids.runs['parent']}"),
        "inside another run's folder": ((parent / "metrics").as_uri(), f"run {ids.runs['parent']}"),
        "another run's artifacts": ((parent / "artifacts").as_uri(), f"run {ids.runs['parent']}"),
        "an ancestor of the store": (root.parent.as_uri(), "outside the store"),
        "outside the store": (outside.as_uri(), "outside the store"),
        "plain path to an experiment": (str(alpha), "experiment"),
        "another host": ("file://elsewhere" + str(outside), "another machine"),
        "dot-dots to an experiment": ((root / ids.experiments["beta"] / ids.runs[KILLED]).as_uri()
                                      + "/../../" + ids.experiments["alpha"], "experiment"),
        "a trailing slash": (alpha.as_uri() + "/", "experiment"),
        "percent-encoded dot-dots": ((root / ids.experiments["beta"]).as_uri() + "/%2E%2E", "store root"),
    }


CASES = ["store root", "experiment folder", "trashed experiment folder", "another run's folder",
         "inside another run's folder", "another run's artifacts", "an ancestor of the store",
         "outside the store", "plain path to an experiment", "another host", "dot-dots to an experiment",
         "a trailing slash", "percent-encoded dot-dots"]


@pytest.mark.parametrize("how", ["gc", "prune", "api"])
@pytest.mark.parametrize("case", CASES)
def test_purge_leaves_what_is_not_the_runs_alone(hostile, how, case):
    root, ids, outside, work = hostile
    uri, why = hostile_uris(root, ids, outside)[case]
    set_artifact_uri(root, ids, KILLED, uri)
    own = killed_folder(root, ids)
    expected = du(own)
    before = files_of(root, outside, work)
    freed, plan = purge_killed(how, root, ids)
    assert not own.exists()
    after = files_of(root, outside, work)
    survivors = {p: b for p, b in before.items() if not p.startswith(str(own) + os.sep)}
    assert {p: after.get(p) for p in survivors} == survivors
    assert freed == expected  # exactly the run's folder, what the plan said before
    kept = kept_of(plan)
    assert kept and why in kept[0]["why"], kept


@pytest.mark.parametrize("how", ["gc", "prune", "api"])
@pytest.mark.parametrize("uri", [".", "file:.", "artifacts", "file:artifacts", "./artifacts"])
def test_a_relative_uri_resolves_nothing_against_the_working_folder(hostile, monkeypatch, how, uri):
    root, ids, outside, work = hostile
    monkeypatch.chdir(work)
    set_artifact_uri(root, ids, KILLED, uri)
    before = files_of(work)
    _, plan = purge_killed(how, root, ids)
    assert files_of(work) == before and not killed_folder(root, ids).exists()
    assert "relative URI" in kept_of(plan)[0]["why"]


@pytest.mark.parametrize("how", ["gc", "prune", "api"])
def test_a_path_another_run_also_names_stays(hostile, how):
    root, ids, outside, work = hostile
    shared = root / "shared-artifacts"
    canary(shared)
    for name in (KILLED, "failed"):  # failed is active: its artifacts must stay
        set_artifact_uri(root, ids, name, shared.as_uri())
    _, plan = purge_killed(how, root, ids)
    assert (shared / "canary.txt").exists()
    assert f"run {ids.runs['failed']}'s artifacts" in kept_of(plan)[0]["why"]


def test_a_path_a_deleted_run_also_names_stays_and_so_does_its_ancestor(hostile):
    root, ids, outside, work = hostile
    shared = root / "shared" / "deep"
    canary(shared)
    set_artifact_uri(root, ids, "deleted", shared.as_uri())  # a deleted run, not purged here
    set_artifact_uri(root, ids, KILLED, (root / "shared").as_uri())  # an ancestor of its artifacts
    freed, plan = purge_killed("gc", root, ids)
    assert (shared / "canary.txt").exists()
    assert "holds run" in kept_of(plan)[0]["why"]
    # Purging both at once: each names a path of the other, so both stay.
    set_artifact_uri(root, ids, "failed", shared.as_uri())
    assert main(["delete", str(root), ids.runs["failed"], "--yes"]) == 0
    assert main(["gc", str(root), "--yes"]) == 0
    assert (shared / "canary.txt").exists()


@pytest.mark.parametrize("how", ["gc", "prune", "api"])
def test_artifacts_of_the_run_alone_elsewhere_in_the_store_go_and_are_counted(hostile, how):
    root, ids, outside, work = hostile
    own_artifacts = root / "artifact-store" / "killed-run" / "artifacts"
    (own_artifacts / "model.bin").parent.mkdir(parents=True)
    (own_artifacts / "model.bin").write_bytes(b"w" * 50_000)
    set_artifact_uri(root, ids, KILLED, own_artifacts.as_uri())
    expected = du(killed_folder(root, ids)) + du(own_artifacts)
    freed, plan = purge_killed(how, root, ids)
    assert freed == expected and not own_artifacts.exists() and (root / "artifact-store" / "killed-run").exists()
    assert kept_of(plan) == []


@pytest.mark.parametrize("how", ["gc", "prune", "api"])
def test_symlinked_artifacts_are_unlinked_and_a_symlink_on_the_way_is_seen_through(hostile, how):
    root, ids, outside, work = hostile
    link = root / "linked-artifacts"
    link.symlink_to(outside)
    via = root / "via"
    via.symlink_to(root)  # <root>/via/<alpha> is the experiment folder itself
    set_artifact_uri(root, ids, KILLED, link.as_uri())
    set_artifact_uri(root, ids, "deleted", (via / ids.experiments["alpha"]).as_uri())
    before = files_of(root, outside)
    purge_killed(how, root, ids)
    assert not link.is_symlink() and (outside / "canary.txt").exists()
    assert main(["gc", str(root), "--run-ids", ids.runs["deleted"], "--yes"]) == 0
    after = files_of(root, outside)
    gone = (str(killed_folder(root, ids)), str(root / ids.experiments["beta"] / ids.runs["deleted"]), str(link))
    assert all(after.get(p) == b for p, b in before.items() if not p.startswith(gone))


def test_a_run_folder_holding_another_runs_artifacts_is_left_whole(hostile):
    root, ids, outside, work = hostile
    folder = killed_folder(root, ids)
    set_artifact_uri(root, ids, "failed", (folder / "artifacts").as_uri())  # an active run's artifacts
    assert main(["delete", str(root), ids.runs[KILLED], "--yes"]) == 0
    plan = _gc_json(root, "--run-ids", ids.runs[KILLED])
    assert plan["runs"][0]["purged"] is False and plan["bytes"] == 0
    assert main(["gc", str(root), "--run-ids", ids.runs[KILLED], "--yes"]) == 0
    assert (folder / "meta.yaml").exists() and (folder / "artifacts" / "canary.txt").exists()


def test_a_trashed_experiment_is_purged_but_not_what_its_runs_name(hostile):
    root, ids, outside, work = hostile
    trashed = root / ".trash" / ids.experiments["gamma"]
    set_artifact_uri(root, ids, "in_trash", (root / ids.experiments["alpha"]).as_uri())
    before = files_of(root)
    assert main(["gc", str(root), "--yes"]) == 0
    assert not trashed.exists()
    after = files_of(root)
    gone = (str(trashed) + os.sep, str(root / ids.experiments["beta"] / ids.runs["deleted"]) + os.sep)
    assert all(after.get(p) == b for p, b in before.items() if not p.startswith(gone))


def test_a_trashed_experiment_holding_another_runs_artifacts_stays(hostile):
    root, ids, outside, work = hostile
    trashed = root / ".trash" / ids.experiments["gamma"]
    set_artifact_uri(root, ids, "parent", (trashed / "kept-for-parent").as_uri())
    canary(trashed / "kept-for-parent")
    plan = _gc_json(root)
    assert plan["experiments"][0]["purged"] is False
    assert main(["gc", str(root), "--yes"]) == 0
    assert (trashed / "kept-for-parent" / "canary.txt").exists()


def snapshot(*folders: Path) -> dict[str, tuple]:
    """Bytes and mtimes of every file and folder: what a dry run must not change."""
    out = {}
    for folder in folders:
        for dirpath, dirnames, filenames in os.walk(folder):
            for name in [".", *dirnames, *filenames]:
                path = os.path.normpath(os.path.join(dirpath, name))
                st = os.lstat(path)
                data = Path(path).read_bytes() if os.path.isfile(path) and not os.path.islink(path) else None
                out[path] = (st.st_mtime_ns, st.st_size, data)
    return out


def test_gc_dry_run_and_json_change_nothing(hostile, capsys):
    root, ids, outside, work = hostile
    set_artifact_uri(root, ids, "deleted", root.as_uri())
    before = snapshot(root, outside)
    assert main(["gc", str(root), "--dry-run"]) == 0
    err = capsys.readouterr().err
    assert "left in place" in err and "store root" in err and "frees " in err
    plan = _gc_json(root)
    assert plan["dry_run"] is True and plan["purged"] is None
    assert main(["gc", str(root), "--dry-run", "--yes"]) == 0
    assert main(["prune", str(root), "--status", "KILLED", "--purge", "--dry-run"]) == 0
    assert snapshot(root, outside) == before
    run = plan["runs"][0]
    assert run["id"] == ids.runs["deleted"] and run["kept"][0]["path"] == str(root)
    assert plan["experiments"][0]["id"] == ids.experiments["gamma"]
    # And then the plan is what --yes does.
    done = _run_json(["gc", str(root), "--json", "--yes"])
    assert done["purged"]["bytes_freed"] == plan["bytes"]


def test_hard_links_count_once_and_only_when_every_link_goes(hostile):
    root, ids, outside, work = hostile
    artifacts = killed_folder(root, ids) / "artifacts"
    (artifacts / "a.bin").write_bytes(b"x" * 40_960)
    os.link(artifacts / "a.bin", artifacts / "b.bin")  # twice in the run: counted once
    (artifacts / "c.bin").write_bytes(b"y" * 40_960)
    os.link(artifacts / "c.bin", root / "keeps-c.bin")  # also outside the run: not freed
    c_blocks = os.lstat(artifacts / "c.bin").st_blocks * 512
    a_blocks = os.lstat(artifacts / "a.bin").st_blocks * 512
    expected = du(killed_folder(root, ids)) - a_blocks - c_blocks  # du counted a twice and c once
    freed, _ = purge_killed("api", root, ids)
    assert freed == expected and (root / "keeps-c.bin").read_bytes() == b"y" * 40_960


def test_execute_checks_each_path_again(hostile):
    """A run folder swapped for a symlink between the plan and its execution is not followed."""
    root, ids, outside, work = hostile
    store = open_store(str(root))
    store.delete_run(store.find_run(ids.runs[KILLED]))
    plan = store.plan_purge([store.find_run(ids.runs[KILLED])], [])
    folder = killed_folder(root, ids)
    shutil.move(folder, outside / "moved-run")
    folder.symlink_to(outside / "moved-run")
    result = store.execute_purge(plan)
    assert (outside / "moved-run" / "meta.yaml").exists() and folder.is_symlink()
    assert any("changed since the plan" in w for w in result.warnings) and result.bytes_freed == 0


# -- moved stores ------------------------------------------------------------------------------------


def test_a_moved_store_uses_its_own_copy_of_the_artifacts(tmp_path, capsys):
    """A store MLflow wrote, copied elsewhere (rsync, a clone) and the original removed: its
    artifact URIs name the old place; the store's own `<exp>/<run>/artifacts` is used instead."""
    from tests.mlflow_stores import client_for

    original = tmp_path / "machine-a" / "mlruns"
    client = client_for(original)
    exp = client.create_experiment("moved")
    kept_run, gone_run = (client.create_run(exp).info.run_id for _ in range(2))
    model = tmp_path / "model.bin"
    model.write_bytes(b"w" * 60_000)
    for run_id in (kept_run, gone_run):
        client.log_artifact(run_id, str(model))
        client.set_terminated(run_id)
    client.delete_run(gone_run)
    moved = tmp_path / "machine-b" / "mlruns"
    shutil.copytree(original, moved)
    shutil.rmtree(tmp_path / "machine-a")

    store = open_store(str(moved))
    run = store.find_run(kept_run)
    here = moved / exp / kept_run / "artifacts"
    assert run.artifact_uri == here.as_uri()
    assert run.artifacts_moved_from == (original / exp / kept_run / "artifacts").as_uri()
    assert store.disk_usage(run) >= 60_000
    assert main(["show", str(moved), kept_run]) == 0
    out = capsys.readouterr().out
    assert here.as_uri() in out and f"moved from {run.artifacts_moved_from}" in out

    plan = _gc_json(moved)
    assert kept_of(plan) == [] and plan["bytes"] == du(moved / exp / gone_run)
    assert main(["gc", str(moved), "--yes"]) == 0
    assert not (moved / exp / gone_run).exists() and (here / "model.bin").exists()


def test_a_store_whose_artifacts_are_still_in_place_is_not_moved(reference_store):
    root, ids = reference_store  # a copy: the master, which its URIs name, still exists
    run = open_store(str(root)).find_run(ids.runs["parent"])
    assert run.artifacts_moved_from is None and str(root) not in run.artifact_uri


# -- other trackers: the same plan step -------------------------------------------------------------


@pytest.mark.parametrize("tracker", ["entrenar", "fetch_ml"])
def test_other_trackers_gc_plans_first_and_frees_what_it_said(tmp_path, tracker):
    from tests.other_trackers import write_entrenar_store, write_fetch_ml_store

    root = Path(write_entrenar_store(tmp_path / "runs") if tracker == "entrenar"
                else write_fetch_ml_store(tmp_path / "experiments"))
    store = open_store(str(root))
    run = next(r for _, r in store.all_runs(store.experiments()) if r.status.name != "RUNNING")
    store.delete_run(run)
    place = Path(store.run_dir(run))
    expected = du(place) if place.is_dir() else os.lstat(place).st_blocks * 512
    before = snapshot(root)
    assert main(["gc", str(root), "--dry-run"]) == 0
    plan = _gc_json(root)
    assert snapshot(root) == before
    assert [r["id"] for r in plan["runs"]] == [run.run_id] and plan["bytes"] == expected
    done = _run_json(["gc", str(root), "--json", "--yes"])
    assert done["purged"]["bytes_freed"] == expected and not os.path.lexists(place)


def test_the_plan_reads_the_runs_meta_again(hostile):
    """A caller's Run (the app's, read a while ago) may hold an old artifact_uri: the plan uses
    what meta.yaml says now."""
    root, ids, outside, work = hostile
    store = open_store(str(root))
    store.delete_run(store.find_run(ids.runs[KILLED]))
    old = store.find_run(ids.runs[KILLED])
    set_artifact_uri(root, ids, KILLED, root.as_uri())  # changed since the caller read it
    plan = store.plan_purge([old], [])
    assert plan.kept and "store root" in plan.kept[0][1].why
