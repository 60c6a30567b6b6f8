"""Changing runs in an MLflow file store as MLflow itself does: tags, notes, names, soft delete
and restore (shared/reference/mlflow-file-store.md §3, §4 and §8).

What differs from MLflow is safety. Every rewrite is atomic (see writer.write_atomic), and a
run's meta.yaml is rewritten so that neither tuitrack's change nor one a training script makes
at the same moment (MLflow rewrites meta.yaml in place as the run ends) is lost: see guarded.py.
Tags live in their own files, so a script logging metrics, params or tags into the run at the
same time loses nothing.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from tuitrack.model import NOTE_TAG, RUN_NAME_TAG, Lifecycle, RunStatus
from tuitrack.store.mlflow_file import guarded, mini
from tuitrack.store.mlflow_rules import ChangeRefused, check_user_tag, no_such_tag, validate_key
from tuitrack.store.mlflow_file.meta_yaml import load_meta
from tuitrack.store.mlflow_file.writer import dump_meta, now_ms, write_atomic, write_value



def _dump_any_meta(fields: dict[str, Any]) -> bytes:
    return mini.dump_meta(fields) if mini.is_mini_meta(fields) else dump_meta(fields)


def rewrite_meta(run_dir: Path, change: dict[str, Any], remove: tuple[str, ...] = ()) -> dict[str, Any]:
    """Apply `change` (and drop `remove` keys) to a run's meta.yaml, atomically, without losing a
    rewrite MLflow makes at the same moment, nor letting it undo ours (see guarded.py). Returns
    the new fields."""
    meta = str(run_dir / "meta.yaml")
    # mini-mlflow's "latest version" is the meta.yaml written last: a rewrite keeps its time.
    keep_mtime = mini.is_mini_meta(_peek(run_dir))
    try:
        return guarded.rewrite(meta, load_meta, guarded.merge_fields(change, remove), _dump_any_meta, keep_mtime,
                               busy=_is_running)
    except FileNotFoundError:
        raise ChangeRefused(f"{run_dir.name}: the run is gone (meta.yaml missing)") from None
    except guarded.Unsettled as exc:
        raise ChangeRefused(f"{run_dir.name}: meta.yaml {exc}; not changed") from None


def _is_running(fields: dict[str, Any]) -> bool:
    """A RUNNING run: its script may end it (rewriting meta.yaml) at any moment."""
    return fields.get("status", RunStatus.RUNNING.value) in (RunStatus.RUNNING.value, RunStatus.RUNNING.name)


def read_fields(run_dir: Path) -> dict[str, Any]:
    """meta.yaml's fields, waiting briefly while MLflow rewrites it (truncate, then write)."""
    try:
        return guarded.read_settled(str(run_dir / "meta.yaml"), load_meta)[1]
    except FileNotFoundError:
        raise ChangeRefused(f"{run_dir.name}: the run is gone (meta.yaml missing)") from None
    except guarded.Unsettled as exc:
        raise ChangeRefused(f"{run_dir.name}: meta.yaml {exc}; not changed") from None


def refuse_running_mini(run_dir: Path, fields: dict[str, Any], what: str) -> None:
    """mini-mlflow rewrites a RUNNING run's meta.yaml from memory when it ends: a change made to
    it now would be lost then, so it is refused instead."""
    if mini.is_mini_meta(fields) and fields.get("status") == RunStatus.RUNNING.name:
        raise ChangeRefused(running_mini_message(run_dir.name, what))


def running_mini_message(run_id: str, what: str) -> str:
    return (f"{run_id} is a RUNNING mini-mlflow run: mini-mlflow rewrites its meta.yaml when the run "
            f"ends and would undo the {what}; wait until it ends (or mark it KILLED if it died)")


def _peek(run_dir: Path) -> dict[str, Any]:
    """meta.yaml's fields for deciding how to change it (waiting while MLflow rewrites it); {}
    when unreadable (the rewrite that follows reads it again and says what is wrong)."""
    try:
        return read_fields(run_dir)
    except ChangeRefused:
        return {}


def require_active(run_dir: Path) -> None:
    if read_fields(run_dir).get("lifecycle_stage", "active") != Lifecycle.ACTIVE.value:
        raise ChangeRefused(f"{run_dir.name} is deleted; restore it first (MLflow refuses changes too)")


def set_tags(run_dir: Path, tags: dict[str, str], force: bool = False) -> None:
    """Set run tags. Setting mlflow.runName renames the run, as MLflow does."""
    for key in tags:
        validate_key(key)
        if key != RUN_NAME_TAG:
            check_user_tag(key, force)
    require_active(run_dir)
    for key, value in tags.items():
        if key == RUN_NAME_TAG:
            rename(run_dir, value)
        else:
            write_value(run_dir, "tags", key, value)


def delete_tags(run_dir: Path, keys: list[str], force: bool = False) -> None:
    for key in keys:
        validate_key(key)
        check_user_tag(key, force)
    require_active(run_dir)
    missing = [k for k in keys if not (run_dir / "tags" / k).is_file()]
    if missing:
        raise no_such_tag(run_dir.name, missing[0])
    for key in keys:
        os.remove(run_dir / "tags" / key)


def set_note(run_dir: Path, text: str) -> None:
    require_active(run_dir)
    write_value(run_dir, "tags", NOTE_TAG, text)


def rename(run_dir: Path, name: str) -> None:
    """The name lives twice: meta.yaml's run_name and the mlflow.runName tag (MLflow writes both)."""
    if not name.strip():
        raise ChangeRefused("a run name cannot be empty")
    require_active(run_dir)
    fields = _peek(run_dir)
    if mini.is_mini_meta(fields):  # mini-mlflow's name lives in meta.yaml only
        refuse_running_mini(run_dir, fields, "rename")
        rewrite_meta(run_dir, {"name": name})
        return
    tag = run_dir / "tags" / RUN_NAME_TAG
    try:
        old_tag: bytes | None = tag.read_bytes()
    except FileNotFoundError:
        old_tag = None
    write_value(run_dir, "tags", RUN_NAME_TAG, name)
    try:
        rewrite_meta(run_dir, {"run_name": name})
    except BaseException:  # a full disk: the name stays whole, the tag as it was
        try:
            if old_tag is None:
                os.remove(tag)
            else:
                write_atomic(tag, old_tag, temp_dir=run_dir)
        except OSError:
            pass
        raise


def soft_delete(run_dir: Path, when: int | None = None) -> None:
    """lifecycle_stage deleted plus deleted_time, exactly what MlflowClient.delete_run writes
    (into a mini-mlflow run's meta.yaml too, which mini-mlflow reads and ignores)."""
    refuse_running_mini(run_dir, _peek(run_dir), "delete")
    rewrite_meta(run_dir, {"lifecycle_stage": Lifecycle.DELETED.value, "deleted_time": when or now_ms()})


def restore(run_dir: Path) -> None:
    """lifecycle_stage active, deleted_time removed, as MlflowClient.restore_run does. A
    mini-mlflow run gets its meta.yaml back as mini-mlflow wrote it: both fields removed."""
    if mini.is_mini_meta(_peek(run_dir)):
        rewrite_meta(run_dir, {}, remove=("lifecycle_stage", "deleted_time"))
        return
    rewrite_meta(run_dir, {"lifecycle_stage": Lifecycle.ACTIVE.value}, remove=("deleted_time",))


def terminate(run_dir: Path, status: RunStatus, end_time: int | None) -> None:
    """Set status and end time: MLflow's numbers and ms, or mini-mlflow's status name and ISO time."""
    if mini.is_mini_meta(_peek(run_dir)):
        end = None if end_time is None else mini.ms_to_iso(end_time)
        rewrite_meta(run_dir, {"status": status.name, "end_time": end})
    else:
        rewrite_meta(run_dir, {"status": status.value, "end_time": end_time})
