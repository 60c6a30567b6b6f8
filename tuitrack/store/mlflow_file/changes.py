"""Changing runs in an MLflow file store as MLflow itself does: tags, notes, names, soft delete
and restore (shared/reference/mlflow-file-store.md §3, §4 and §8).

What differs from MLflow is safety. Every rewrite is atomic (see writer.write_atomic), and a
run's meta.yaml is rewritten only if nobody changed it since it was read: a training script
may finish the run (MLflow rewrites meta.yaml) at the same moment. If it did, the change is
made again on the new content. Tags live in their own files, so a script logging metrics,
params or tags into the run at the same time loses nothing.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

from tuitrack.model import NOTE_TAG, RUN_NAME_TAG, Lifecycle, RunStatus
from tuitrack.store.mlflow_file import mini
from tuitrack.store.mlflow_rules import ChangeRefused, check_user_tag, no_such_tag, validate_key
from tuitrack.store.mlflow_file.files import read_bytes
from tuitrack.store.mlflow_file.meta_yaml import MetaYamlError, load_meta
from tuitrack.store.mlflow_file.writer import dump_meta, now_ms, write_atomic, write_value

RETRIES = 5


def rewrite_meta(run_dir: Path, change: dict[str, Any], remove: tuple[str, ...] = ()) -> dict[str, Any]:
    """Apply `change` (and drop `remove` keys) to a run's meta.yaml, atomically, without
    losing a rewrite someone else made in the meantime. Returns the new fields."""
    meta = run_dir / "meta.yaml"
    for attempt in range(RETRIES):
        try:
            before = read_bytes(str(meta))
        except FileNotFoundError:
            raise ChangeRefused(f"{run_dir.name}: the run is gone (meta.yaml missing)") from None
        try:
            fields = load_meta(before)
        except MetaYamlError as exc:
            raise ChangeRefused(f"{run_dir.name}: meta.yaml is unreadable ({exc}); not changed") from None
        if fields is None:  # MLflow is rewriting it (truncate, then write): read it again
            time.sleep(0.02 * (attempt + 1))
            continue
        fields.update(change)
        for key in remove:
            fields.pop(key, None)
        is_mini = mini.is_mini_meta(fields)
        data = mini.dump_meta(fields) if is_mini else dump_meta(fields)
        stamp = os.stat(meta)
        if read_bytes(str(meta)) != before:
            continue  # changed under us: apply our change to the new content
        write_atomic(meta, data)
        if is_mini:  # mini-mlflow's "latest version" is the meta.yaml written last: keep its time
            os.utime(meta, ns=(stamp.st_atime_ns, stamp.st_mtime_ns))
        return fields
    raise ChangeRefused(f"{run_dir.name}: meta.yaml kept changing; not changed, try again")


def read_fields(run_dir: Path) -> dict[str, Any]:
    fields = load_meta(read_bytes(str(run_dir / "meta.yaml")))
    if fields is None:
        raise ChangeRefused(f"{run_dir.name}: meta.yaml is empty")
    return fields


def refuse_running_mini(run_dir: Path, fields: dict[str, Any], what: str) -> None:
    """mini-mlflow rewrites a RUNNING run's meta.yaml from memory when it ends: a change made to
    it now would be lost then, so it is refused instead."""
    if mini.is_mini_meta(fields) and fields.get("status") == RunStatus.RUNNING.name:
        raise ChangeRefused(running_mini_message(run_dir.name, what))


def running_mini_message(run_id: str, what: str) -> str:
    return (f"{run_id} is a RUNNING mini-mlflow run: mini-mlflow rewrites its meta.yaml when the run "
            f"ends and would undo the {what}; wait until it ends (or mark it KILLED if it died)")


def _peek(run_dir: Path) -> dict[str, Any]:
    """meta.yaml's fields for deciding how to change it; {} when unreadable right now (the
    rewrite that follows reads it again, retrying, and says what is wrong)."""
    try:
        return load_meta(read_bytes(str(run_dir / "meta.yaml"))) or {}
    except (OSError, MetaYamlError):
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
    write_value(run_dir, "tags", RUN_NAME_TAG, name)
    rewrite_meta(run_dir, {"run_name": name})


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


def _rewrite_experiment_meta(folder: Path, change: dict[str, Any], tags: dict[str, str]) -> None:
    """MLflow rewrites an experiment's meta.yaml with its tags as a mapping (dict(experiment))."""
    fields = load_meta(read_bytes(str(folder / "meta.yaml")))
    if fields is None:
        raise ChangeRefused(f"experiment {folder.name}: meta.yaml is empty; not changed")
    fields.update(change)
    fields["tags"] = dict(tags)
    write_atomic(folder / "meta.yaml", dump_meta(fields))


def delete_experiment(root: Path, experiment_id: str, tags: dict[str, str]) -> None:
    """As MlflowClient.delete_experiment: its active runs deleted, then the folder into .trash."""
    if experiment_id == "0":
        raise ChangeRefused("the Default experiment cannot be deleted (MLflow refuses it too)")
    folder = root / experiment_id
    # mini-mlflow's experiments have no meta.yaml, and get none: MLflow would then try to read
    # their runs and fail on them.
    synthesised = not (folder / "meta.yaml").is_file() and mini.holds_mini_runs(str(folder))
    if not synthesised and not (folder / "meta.yaml").is_file():
        raise ChangeRefused(f"experiment {experiment_id} is not an active experiment here")
    trash = root / ".trash"
    if (trash / experiment_id).exists():
        raise ChangeRefused(f".trash already holds an experiment {experiment_id}; purge it first")
    when = now_ms()
    to_delete = []
    for run_dir in folder.iterdir():
        if run_dir.name.startswith(".") or not (run_dir / "meta.yaml").is_file():
            continue
        fields = read_fields(run_dir)
        if fields.get("lifecycle_stage", "active") == Lifecycle.ACTIVE.value:
            refuse_running_mini(run_dir, fields, "delete")
            to_delete.append(run_dir)
    for run_dir in to_delete:
        soft_delete(run_dir, when)
    if not synthesised:
        _rewrite_experiment_meta(folder, {"lifecycle_stage": Lifecycle.DELETED.value, "last_update_time": when}, tags)
    trash.mkdir(exist_ok=True)
    os.rename(folder, trash / experiment_id)


def restore_experiment(root: Path, experiment_id: str, tags: dict[str, str]) -> None:
    """As MlflowClient.restore_experiment: back from .trash, and every deleted run in it restored."""
    folder = root / ".trash" / experiment_id
    synthesised = not (folder / "meta.yaml").is_file() and mini.holds_mini_runs(str(folder))
    if not synthesised and not (folder / "meta.yaml").is_file():
        raise ChangeRefused(f"experiment {experiment_id} is not in .trash")
    if (root / experiment_id).exists():
        raise ChangeRefused(f"an experiment {experiment_id} exists already; not restored")
    os.rename(folder, root / experiment_id)
    folder = root / experiment_id
    if not synthesised:
        _rewrite_experiment_meta(folder, {"lifecycle_stage": Lifecycle.ACTIVE.value, "last_update_time": now_ms()}, tags)
    for run_dir in folder.iterdir():
        if run_dir.name.startswith(".") or not (run_dir / "meta.yaml").is_file():
            continue
        if read_fields(run_dir).get("lifecycle_stage") == Lifecycle.DELETED.value:
            restore(run_dir)
