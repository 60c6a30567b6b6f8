"""Writing MLflow's file store the way MLflow 3.x does, byte for byte, but atomically.

MLflow rewrites meta.yaml in place (truncate, then write), so a reader can see it empty. Here
every rewrite goes to a temporary file in the run's (or experiment's) own folder, never inside
`metrics/`, `params/` or `tags/` where MLflow would read it as a key, and then replaces the
original with `os.replace`, keeping its mode. Metric points are appended in one write, as
MLflow's `append_to` does.
"""

from __future__ import annotations

import os
import re
import secrets
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import yaml

from tuitrack.model import RunStatus

_Dumper: type = getattr(yaml, "CSafeDumper", yaml.SafeDumper)


def dump_meta(fields: dict[str, Any]) -> bytes:
    """YAML as MLflow's write_yaml makes it: block style, sorted keys, UTF-8."""
    return yaml.dump(fields, Dumper=_Dumper, default_flow_style=False, allow_unicode=True,
                     sort_keys=True).encode("utf-8")


TEMP_PREFIX, TEMP_SUFFIX = ".tuitrack-", ".tmp"
# Exactly the names tempfile.mkstemp gives ours: the prefix, 8 characters of its alphabet, the suffix.
TEMP_NAME = re.compile(r"\.tuitrack-[a-z0-9_]{8}\.tmp")
# A temporary file older than this is a leftover of a killed write (a write takes milliseconds).
STALE_TEMP_SECONDS = 3600
_swept: set[str] = set()


def write_temp(folder: str, data: bytes, mode: int, durable: bool = True) -> str:
    """`data` in a new temporary dot-file in `folder` with `mode`; its path. `durable`: on disk
    (fsync) before this returns; otherwise the caller syncs it once it is in place."""
    fd, temp = tempfile.mkstemp(prefix=TEMP_PREFIX, suffix=TEMP_SUFFIX, dir=folder)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            if durable:
                os.fsync(f.fileno())
        os.chmod(temp, mode)
    except BaseException:
        discard(temp)
        raise
    sweep_stale_temps(folder)
    return temp


def discard(temp: str) -> None:
    try:
        os.unlink(temp)
    except FileNotFoundError:
        pass


def sweep_stale_temps(folder: str) -> None:
    """Remove what killed writes of ours left in `folder`: regular files named exactly as our
    temporary files and older than an hour. Symlinks and anything else are left alone. Once per
    folder per process: enough to clean up, cheap for a folder of 10,000 entrenar records."""
    if folder in _swept:
        return
    _swept.add(folder)
    cutoff = time.time() - STALE_TEMP_SECONDS
    try:
        with os.scandir(folder) as entries:
            stale = [e.path for e in entries if TEMP_NAME.fullmatch(e.name) and e.is_file(follow_symlinks=False)
                     and e.stat(follow_symlinks=False).st_mtime < cutoff]
    except OSError:
        return
    for path in stale:
        try:
            os.unlink(path)  # unlink never follows a symlink
        except OSError:
            pass


def file_mode(path: str) -> int:
    """An existing file's permission bits (kept by a rewrite), else 0o644."""
    try:
        return os.stat(path).st_mode & 0o7777
    except FileNotFoundError:
        return 0o644


def write_atomic(path: str | os.PathLike[str], data: bytes, temp_dir: str | os.PathLike[str] | None = None) -> None:
    """Replace `path` with `data` so that a reader sees the old bytes or the new, never a part.

    The temporary file is a dot-file in `temp_dir` (default: the file's folder), which must be
    on the same filesystem. An existing file's mode is kept.
    """
    path = os.fspath(path)
    folder = os.fspath(temp_dir) if temp_dir is not None else os.path.dirname(path)
    temp = write_temp(folder, data, file_mode(path))
    try:
        os.replace(temp, path)
    except BaseException:
        discard(temp)
        raise


def now_ms() -> int:
    return int(time.time() * 1000)


def ensure_store(root: str | os.PathLike[str]) -> None:
    """Create a store as MLflow's FileStore would: the Default experiment and `.trash`."""
    root = Path(root)
    if not root.exists():
        create_experiment(root, "Default", experiment_id="0")
    (root / ".trash").mkdir(parents=True, exist_ok=True)


def find_experiment(root: str | os.PathLike[str], name: str) -> str | None:
    for folder in Path(root).iterdir():
        meta = folder / "meta.yaml"
        if folder.name.startswith(".") or not meta.is_file():
            continue
        fields = yaml.load(meta.read_text(), Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader)) or {}
        if fields.get("name") == name:
            return folder.name
    return None


def create_experiment(root: str | os.PathLike[str], name: str, experiment_id: str | None = None) -> str:
    root = Path(root).resolve()
    # MLflow's ids are random 18-digit integers, as strings.
    experiment_id = experiment_id or str(secrets.randbelow(9 * 10**17) + 10**17)
    folder = root / experiment_id
    folder.mkdir(parents=True)
    created = now_ms()
    write_atomic(folder / "meta.yaml", dump_meta({
        "artifact_location": folder.as_uri(),
        "creation_time": created,
        "effective_trace_archival_retention": None,
        "experiment_id": experiment_id,
        "last_update_time": created,
        "lifecycle_stage": "active",
        "name": name,
        "trace_location": None,
        "workspace": "default",
    }))
    return experiment_id


def run_meta(run_dir: Path, experiment_id: str, run_id: str, name: str, user: str, start: int) -> dict[str, Any]:
    """The 3.x field set of a new run's meta.yaml (shared/reference/mlflow-file-store.md §2.1)."""
    return {
        "artifact_uri": (run_dir / "artifacts").as_uri(),
        "end_time": None,
        "entry_point_name": "",
        "experiment_id": experiment_id,
        "lifecycle_stage": "active",
        "run_id": run_id,
        "run_name": name,
        "source_name": "",
        "source_type": 4,
        "source_version": "",
        "start_time": start,
        "status": RunStatus.RUNNING.value,
        "tags": [],
        "user_id": user,
    }


def create_run(root: str | os.PathLike[str], experiment_id: str, name: str, *, user: str = "demo",
               params: dict[str, Any] | None = None, tags: dict[str, str] | None = None,
               start: int | None = None) -> Path:
    """A RUNNING run with its params and tags; returns its folder."""
    run_id = uuid.uuid4().hex
    run_dir = Path(root).resolve() / experiment_id / run_id
    run_dir.mkdir(parents=True)
    for folder in ("metrics", "params", "artifacts", "tags"):
        (run_dir / folder).mkdir()
    write_atomic(run_dir / "meta.yaml", dump_meta(run_meta(run_dir, experiment_id, run_id, name, user,
                                                            start if start is not None else now_ms())))
    all_tags = {"mlflow.runName": name, "mlflow.user": user, "mlflow.source.name": "tuitrack demo",
                "mlflow.source.type": "LOCAL", **(tags or {})}
    for key, value in all_tags.items():
        write_value(run_dir, "tags", key, str(value))
    for key, value in (params or {}).items():
        write_value(run_dir, "params", key, str(value))
    return run_dir


def write_value(run_dir: Path, kind: str, key: str, value: str) -> None:
    """A param or tag file (`/` in a key is a folder), written atomically via the run folder."""
    path = run_dir / kind / key
    path.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(path, value.encode("utf-8"), temp_dir=run_dir)


def log_metric(run_dir: Path, key: str, value: float, step: int, timestamp: int | None = None) -> None:
    """Append one point, in one write, as MLflow does."""
    path = run_dir / "metrics" / key
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a") as f:
        f.write(f"{timestamp if timestamp is not None else now_ms()} {float(value)} {step}\n")


def update_meta(run_dir: Path, **changes: Any) -> None:
    """Rewrite a run's meta.yaml with `changes` applied, atomically."""
    meta = run_dir / "meta.yaml"
    fields = yaml.load(meta.read_text(), Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    fields.update(changes)
    write_atomic(meta, dump_meta(fields))


def set_terminated(run_dir: Path, status: RunStatus, end: int | None = None) -> None:
    update_meta(run_dir, status=status.value, end_time=end if end is not None else now_ms())
