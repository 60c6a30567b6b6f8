"""Deleting and restoring an experiment of a file store as MLflow does, but all or nothing.

MLflow's delete_experiment marks every active run deleted (one shared deleted_time), marks the
experiment deleted and moves its folder into `.trash`; restore_experiment moves it back and
restores every deleted run in it. Those are many separate writes: a full disk or a kill between
them leaves a half-deleted experiment (runs deleted, experiment active) that MLflow cannot tell
from runs deleted one by one.

Here, before the first write, a journal (`.tuitrack-experiment.json`, a file in the experiment
folder: MLflow and tuitrack's listing read only its sub-folders) records what each run had
(`lifecycle_stage`, `deleted_time`) and the experiment's meta.yaml bytes, and a reserve file
keeps some disk space aside. When a step fails, the reserve is freed and every step made is
undone from the journal, so the experiment and its runs are as they were (runs deleted before
stay deleted, with their own deleted_time). When the process is killed instead, the journal
stays, the experiment lists with a problem saying so, and the next delete finishes the job or
the next restore undoes it.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from tuitrack.model import Experiment, Lifecycle
from tuitrack.store.mlflow_file import mini
from tuitrack.store.mlflow_file.changes import (
    read_fields,
    refuse_running_mini,
    restore,
    rewrite_meta,
    soft_delete,
)
from tuitrack.store.mlflow_file.files import read_bytes, refuse_symlinked_parts
from tuitrack.store.mlflow_file.meta_yaml import load_meta
from tuitrack.store.mlflow_file.writer import discard, dump_meta, now_ms, write_atomic
from tuitrack.store.mlflow_rules import ChangeRefused

TRASH = ".trash"
JOURNAL = ".tuitrack-experiment.json"
RESERVE = ".tuitrack-experiment.reserve"
RESERVE_BYTES = 256 * 1024  # room for undoing on a full disk: one meta.yaml rewrite at a time
INTERRUPTED = "a delete or restore of this experiment was interrupted"
INTERRUPTED_HINT = (f"{INTERRUPTED}: `tuitrack delete --experiment` finishes the delete, "
                    "`tuitrack restore --experiment` undoes it")
_RUN_STATE = ("lifecycle_stage", "deleted_time")


def cut_short(experiment: Experiment) -> bool:
    """True for an experiment listed with a half-done delete or restore (its problem says so):
    deleting it finishes the delete, restoring it undoes it."""
    return any(INTERRUPTED in p.message for p in experiment.problems)


def interrupted(folder: str) -> bool:
    """True for an experiment folder at the store root that holds a journal: a half-done change."""
    return os.path.isfile(os.path.join(folder, JOURNAL))


def delete_experiment(root: Path, experiment_id: str, tags: dict[str, str]) -> None:
    """As MlflowClient.delete_experiment: its active runs deleted, then the folder into .trash."""
    if experiment_id == "0":
        raise ChangeRefused("the Default experiment cannot be deleted (MLflow refuses it too)")
    folder = root / experiment_id
    journal = _read_journal(folder)
    if journal is not None and journal["action"] == "restore":
        _finish_restore(folder, journal, tags)  # a restore was interrupted: finish it, then delete
        journal = None
    synthesised = _synthesised(folder)
    if not synthesised and not (folder / "meta.yaml").is_file():
        raise ChangeRefused(f"experiment {experiment_id} is not an active experiment here")
    trash = root / TRASH
    if (trash / experiment_id).exists():
        raise ChangeRefused(f".trash already holds an experiment {experiment_id}; purge it first")
    if journal is None:  # a fresh delete (else: one that was interrupted, finished now)
        when = now_ms()
        journal = {"action": "delete", "time": when, "runs": {},
                   "experiment_meta": None if synthesised else read_bytes(str(folder / "meta.yaml")).decode("utf-8")}
        for run_dir in _run_dirs(folder):
            refuse_symlinked_parts(str(run_dir))  # before anything changes: all of it, or nothing
            fields = read_fields(run_dir)
            if fields.get("lifecycle_stage", "active") == Lifecycle.ACTIVE.value:
                refuse_running_mini(run_dir, fields, "delete")
                journal["runs"][run_dir.name] = {k: fields[k] for k in _RUN_STATE if k in fields}
        _begin(folder, journal)
    when = journal["time"]
    try:
        for run_id in journal["runs"]:
            if not _is_deleted(folder / run_id):
                soft_delete(folder / run_id, when)
        if not synthesised:
            _rewrite_experiment_meta(folder, {"lifecycle_stage": Lifecycle.DELETED.value, "last_update_time": when}, tags)
        trash.mkdir(exist_ok=True)
        os.rename(folder, trash / experiment_id)
    except BaseException:
        _undo(folder, journal)
        raise
    _end(trash / experiment_id)


def restore_experiment(root: Path, experiment_id: str, tags: dict[str, str]) -> None:
    """As MlflowClient.restore_experiment: back from .trash, and every deleted run in it restored.
    An experiment whose delete was interrupted gets back exactly what it had before instead."""
    active = root / experiment_id
    journal = _read_journal(active)
    if journal is not None:
        if journal["action"] == "delete":
            _undo(active, journal, reraise=True)
        else:
            _finish_restore(active, journal, tags)
        return
    folder = root / TRASH / experiment_id
    if not _synthesised(folder) and not (folder / "meta.yaml").is_file():
        raise ChangeRefused(f"experiment {experiment_id} is not in .trash")
    if active.exists():
        raise ChangeRefused(f"an experiment {experiment_id} exists already; not restored")
    journal = {"action": "restore", "time": now_ms(), "runs": {},
               "experiment_meta": None if _synthesised(folder) else read_bytes(str(folder / "meta.yaml")).decode("utf-8")}
    for run_dir in _run_dirs(folder):
        refuse_symlinked_parts(str(run_dir))  # before anything changes: all of it, or nothing
        fields = read_fields(run_dir)
        if fields.get("lifecycle_stage") == Lifecycle.DELETED.value:
            journal["runs"][run_dir.name] = {k: fields[k] for k in _RUN_STATE if k in fields}
    _begin(folder, journal)
    try:
        os.rename(folder, active)
    except BaseException:
        _end(folder)
        raise
    _finish_restore(active, journal, tags)


def _finish_restore(folder: Path, journal: dict[str, Any], tags: dict[str, str]) -> None:
    """The rest of a restore whose folder is back at the root; undone if a step fails."""
    try:
        if not _synthesised(folder):
            _rewrite_experiment_meta(folder, {"lifecycle_stage": Lifecycle.ACTIVE.value,
                                              "last_update_time": journal["time"]}, tags)
        for run_id in journal["runs"]:
            if _is_deleted(folder / run_id):
                restore(folder / run_id)
    except BaseException:
        _undo(folder, journal)
        raise
    _end(folder)


def _undo(folder: Path, journal: dict[str, Any], reraise: bool = False) -> None:
    """Put the runs, the experiment's meta.yaml and its folder back as the journal says they
    were, then drop the journal. If that fails too, the journal stays for the next attempt."""
    discard(str(folder / RESERVE))  # the room to undo in, on a full disk
    try:
        for run_id, had in journal["runs"].items():
            run_dir = folder / run_id
            if (run_dir / "meta.yaml").is_file() and _is_deleted(run_dir) != (had.get("lifecycle_stage") == "deleted"):
                rewrite_meta(run_dir, had, remove=tuple(k for k in _RUN_STATE if k not in had))
        original = journal["experiment_meta"]
        if original is not None and read_bytes(str(folder / "meta.yaml")) != original.encode("utf-8"):
            write_atomic(folder / "meta.yaml", original.encode("utf-8"))
        if journal["action"] == "restore":  # it came from .trash: back there
            os.rename(folder, folder.parent / TRASH / folder.name)
            folder = folder.parent / TRASH / folder.name
    except BaseException:
        if reraise:
            raise
        return  # the error that made us undo is the one to report
    _end(folder)


def _begin(folder: Path, journal: dict[str, Any]) -> None:
    """Keep disk space aside and write the journal; on failure nothing is left behind."""
    try:
        with open(folder / RESERVE, "wb") as f:
            f.write(bytes(RESERVE_BYTES))
        write_atomic(folder / JOURNAL, json.dumps(journal).encode("utf-8"))
    except BaseException:
        _end(folder)
        raise


def _end(folder: Path) -> None:
    for name in (JOURNAL, RESERVE):
        try:
            os.unlink(folder / name)
        except OSError:
            pass


def _read_journal(folder: Path) -> dict[str, Any] | None:
    try:
        journal = json.loads(read_bytes(str(folder / JOURNAL)))
    except (OSError, ValueError):
        return None
    if not isinstance(journal, dict) or journal.get("action") not in ("delete", "restore"):
        return None
    return journal


def _synthesised(folder: Path) -> bool:
    """mini-mlflow's experiments have no meta.yaml, and get none: MLflow would then try to read
    their runs and fail on them."""
    return not (folder / "meta.yaml").is_file() and mini.holds_mini_runs(str(folder))


def _run_dirs(folder: Path) -> list[Path]:
    return sorted(d for d in folder.iterdir()
                  if not d.name.startswith(".") and not d.is_symlink() and (d / "meta.yaml").is_file())


def _is_deleted(run_dir: Path) -> bool:
    return read_fields(run_dir).get("lifecycle_stage") == Lifecycle.DELETED.value


def _rewrite_experiment_meta(folder: Path, change: dict[str, Any], tags: dict[str, str]) -> None:
    """MLflow rewrites an experiment's meta.yaml with its tags as a mapping (dict(experiment))."""
    fields = load_meta(read_bytes(str(folder / "meta.yaml")))
    if fields is None:
        raise ChangeRefused(f"experiment {folder.name}: meta.yaml is empty; not changed")
    fields.update(change)
    fields["tags"] = dict(tags)
    write_atomic(folder / "meta.yaml", dump_meta(fields))
