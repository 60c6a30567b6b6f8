"""A half-written or broken store: the listing still succeeds and says what is wrong where."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tuitrack.store import StoreError, open_store
from tuitrack.store.listing import list_runs, select_experiments


def listing(root: Path, include_deleted: bool = True):
    store = open_store(str(root))
    experiments = select_experiments(store, include_deleted=include_deleted)
    runs = {r.run_id: r for _, r in list_runs(store, experiments, include_deleted)}
    return {e.experiment_id: e for e in experiments}, runs


def problems_of(thing) -> str:
    return " | ".join(str(p) for p in thing.problems)


@pytest.fixture
def store(reference_store):
    return reference_store  # (root, ids): a fresh copy per test


def run_dir(root: Path, ids, name: str, exp: str = "alpha") -> Path:
    return root / ids.experiments[exp] / ids.runs[name]


def test_intact_store_has_no_problems(store):
    root, ids = store
    experiments, runs = listing(root)
    assert all(not e.problems for e in experiments.values())
    assert all(not r.problems for r in runs.values())


@pytest.mark.parametrize(
    "content, expected",
    [
        (b"", "meta.yaml is empty"),
        (b"run_id: [unclosed\n", "meta.yaml is unreadable: invalid YAML at line 2, column 1"),
        (b"\x00\xff\xfe binary junk", "meta.yaml is unreadable: not UTF-8"),
        (b"- just\n- a list\n", "expected a mapping"),
    ],
)
def test_bad_run_meta(store, content, expected):
    root, ids = store
    (run_dir(root, ids, "failed") / "meta.yaml").write_bytes(content)
    _, runs = listing(root)
    bad = runs[ids.runs["failed"]]
    assert expected in problems_of(bad)
    assert bad.status is None
    assert runs[ids.runs["parent"]].problems == []  # the others are untouched
    assert len(runs) == 10


def test_missing_required_fields_and_string_status(store):
    root, ids = store
    meta = run_dir(root, ids, "failed") / "meta.yaml"
    text = meta.read_text().replace("status: 4", "status: FAILED")
    text = "\n".join(l for l in text.splitlines() if not l.startswith(("user_id", "start_time"))) + "\n"
    meta.write_text(text)
    _, runs = listing(root)
    bad = runs[ids.runs["failed"]]
    text = problems_of(bad)
    assert "status is the string 'FAILED'" in text
    assert "user_id is missing" in text and "start_time is missing" in text
    assert bad.status.name == "FAILED"


def test_run_id_not_matching_folder(store):
    root, ids = store
    meta = run_dir(root, ids, "child") / "meta.yaml"
    meta.write_text(meta.read_text().replace(ids.runs["child"], "0" * 32, 1).replace(
        f"run_id: {ids.runs['child']}", "run_id: " + "0" * 32))
    _, runs = listing(root)
    assert f"but the folder is '{ids.runs['child']}'" in problems_of(runs[ids.runs["child"]])


def test_run_folder_without_meta_is_reported_on_its_experiment(store):
    root, ids = store
    (root / ids.experiments["alpha"] / "half-created").mkdir()
    experiments, runs = listing(root)
    assert "half-created" not in runs
    assert "folder has no meta.yaml" in problems_of(experiments[ids.experiments["alpha"]])


@pytest.mark.parametrize(
    "content, expected",
    [
        (b"", "file is empty"),
        (b"1 1.0 0\n17000000\n2 2.0 1\n", "line 2: expected 2, 3 or 5 fields, found 1"),
        (b"1 1.0 0\n\x89PNG\x00\x01\xff\n", "line 2"),
    ],
)
def test_bad_metric_files(store, content, expected):
    root, ids = store
    (run_dir(root, ids, "failed") / "metrics" / "x").write_bytes(content)
    _, runs = listing(root)
    assert expected in problems_of(runs[ids.runs["failed"]])


def test_truncated_last_metric_line_is_not_a_problem(store):
    root, ids = store
    with open(run_dir(root, ids, "failed") / "metrics" / "x", "ab") as f:
        f.write(b"1795000000099 2.")  # a writer mid-append
    _, runs = listing(root)
    run = runs[ids.runs["failed"]]
    assert run.problems == [] and run.metrics["x"].value == 1.0


def test_bad_experiment_meta(store):
    root, ids = store
    (root / ids.experiments["beta"] / "meta.yaml").write_bytes(b"name: [oops\n")
    experiments, runs = listing(root)
    beta = experiments[ids.experiments["beta"]]
    assert "invalid YAML" in problems_of(beta)
    assert ids.runs["running"] in runs  # its runs are still listed


def test_experiment_id_mismatch_and_missing_meta(store):
    root, ids = store
    meta = root / ids.experiments["beta"] / "meta.yaml"
    meta.write_text(meta.read_text().replace(f"'{ids.experiments['beta']}'", "'999'"))
    (root / "12345").mkdir()
    experiments, _ = listing(root)
    assert "experiment_id is '999'" in problems_of(experiments[ids.experiments["beta"]])
    assert "meta.yaml is missing" in problems_of(experiments["12345"])


def test_symlink_loops_do_not_hang(store):
    root, ids = store
    run = run_dir(root, ids, "parent")
    os.symlink(run / "params", run / "params" / "loop")  # a folder symlink pointing at its parent
    os.symlink("selfloop", run / "tags" / "selfloop")  # a symlink to itself
    os.symlink(root / ids.experiments["alpha"], root / ids.experiments["alpha"] / "exp-loop")
    os.symlink("spin", root / "spin")
    experiments, runs = listing(root)
    parent = runs[ids.runs["parent"]]
    assert parent.params["lr"] == "0.01"
    assert "params/loop: a symlinked folder; not followed" in problems_of(parent)
    assert "tags/selfloop: too many levels of symbolic links" in problems_of(parent)
    assert "spin" in experiments  # reported, not followed forever
    # A symlink to the experiment inside itself is a run candidate (MLflow follows it too) whose
    # meta.yaml is the experiment's: listed once, marked, not recursed into.
    assert "run_id is missing" in problems_of(runs["exp-loop"])
    assert len(runs) == 11


def test_fifo_in_store_does_not_block(store):
    root, ids = store
    os.mkfifo(run_dir(root, ids, "parent") / "params" / "fifo")
    _, runs = listing(root)
    assert "params/fifo: not a regular file" in problems_of(runs[ids.runs["parent"]])


def test_non_utf8_param(store):
    root, ids = store
    (run_dir(root, ids, "parent") / "params" / "bin").write_bytes(b"\xff\xfe")
    _, runs = listing(root)
    parent = runs[ids.runs["parent"]]
    assert parent.params["bin"] == "\ufffd\ufffd"
    assert "not UTF-8" in problems_of(parent)


def test_permission_denied_is_reported(store, monkeypatch):
    """Simulated (tests run as root, which no chmod stops): opening one run's params folder fails."""
    root, ids = store
    denied = str(run_dir(root, ids, "parent") / "params")
    real_open = os.open

    def open_(path, flags, *args, **kwargs):
        if os.fspath(path) == denied:
            raise PermissionError(13, "Permission denied", denied)
        return real_open(path, flags, *args, **kwargs)

    monkeypatch.setattr(os, "open", open_)
    _, runs = listing(root)
    assert "/params: cannot list folder (permission denied)" in problems_of(runs[ids.runs["parent"]])


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads files whatever their mode")
def test_permission_denied_for_real(store):
    root, ids = store
    meta = run_dir(root, ids, "parent") / "meta.yaml"
    meta.chmod(0)
    try:
        _, runs = listing(root)
        assert "cannot read meta.yaml (permission denied)" in problems_of(runs[ids.runs["parent"]])
    finally:
        meta.chmod(0o644)


def test_paths_that_are_not_stores(tmp_path):
    with pytest.raises(StoreError, match="no such folder"):
        open_store(str(tmp_path / "nope"))
    (tmp_path / "file.txt").write_text("x")
    with pytest.raises(StoreError, match="is a file"):
        open_store(str(tmp_path / "file.txt"))
    with pytest.raises(StoreError, match="not a store; expected an MLflow mlruns folder"):
        open_store(str(tmp_path))


def test_parent_folder_suggests_mlruns(store):
    root, _ = store
    with pytest.raises(StoreError, match="try .*mlruns"):
        open_store(str(root.parent))


def test_file_uri(store):
    root, ids = store
    assert open_store(root.as_uri()).find_run(ids.runs["parent"]).run_name == "parent"


def test_experiment_or_run_folder_points_to_the_store(store):
    root, ids = store
    with pytest.raises(StoreError, match=f"is an MLflow experiment folder, not a store: try {root}$"):
        open_store(str(root / ids.experiments["alpha"]))
    with pytest.raises(StoreError, match=f"is an MLflow run folder, not a store: try {root}$"):
        open_store(str(root / ids.experiments["alpha"] / ids.runs["parent"]))


def test_empty_store_with_only_trash_opens(tmp_path):
    (tmp_path / "mlruns" / ".trash").mkdir(parents=True)
    assert open_store(str(tmp_path / "mlruns")).experiments() == []


def test_experiment_without_lifecycle_stage_is_listed_with_a_problem(store):
    root, ids = store
    meta = root / ids.experiments["alpha"] / "meta.yaml"
    meta.write_text("".join(line for line in meta.read_text().splitlines(keepends=True)
                            if not line.startswith("lifecycle_stage")))
    experiments, runs = listing(root)
    alpha = experiments[ids.experiments["alpha"]]
    assert not alpha.is_deleted and ids.runs["parent"] in runs
    assert "lifecycle_stage is missing: MLflow 3 cannot read this experiment" in problems_of(alpha)


def test_trashed_but_active_stays_deleted_with_a_problem(store):
    root, ids = store
    trashed = root / ".trash" / ids.experiments["gamma"]
    for meta in (trashed / "meta.yaml", trashed / ids.runs["in_trash"] / "meta.yaml"):
        meta.write_text(meta.read_text().replace("lifecycle_stage: deleted", "lifecycle_stage: active"))
    experiments, runs = listing(root)
    gamma, run = experiments[ids.experiments["gamma"]], runs[ids.runs["in_trash"]]
    assert gamma.is_deleted and run.is_deleted
    for thing in (gamma, run):
        assert "in .trash, but meta.yaml says lifecycle_stage: active" in problems_of(thing)
        assert "MLflow 3 reads it as active" in problems_of(thing)
