"""The mini-mlflow dialect: runs the `mini-mlflow` package (PyPI, 0.1.x) writes into an mlruns folder.

What the package writes (its storage.py), and so what this reads:

- `<root>/<experiment_id>/<run_id>/meta.yaml`: `name`, `version` (both may be null), `status` as a
  string (`RUNNING`, `FINISHED`, `FAILED`), `start_time` and `end_time` as ISO strings in UTC with a
  `Z` (`'2026-11-23T22:46:33.695625Z'`, end null while running), `run_id`, `experiment_id` (an int).
  No experiment meta.yaml: the experiment is its folder, and mini-mlflow records no experiment name.
- `params/<key>.json` and `metrics/<key>.json`: `{"value": ..., "timestamp": "<ISO>"}`, rewritten
  whole on every log (temp file `<key>.json.tmp` beside it, then a rename), so a metric has one
  point: the latest. Param values are any JSON; metric values numbers (NaN as the literal `NaN`).

A run is mini-mlflow's when its meta.yaml has `name` and `version` and none of MLflow's
`run_name` or `artifact_uri` (`is_mini_meta`); MLflow's runs in the same store read as before.

What tuitrack writes into such a run (documented in the README): tags and notes as MLflow tag
files under `tags/` (mini-mlflow never reads or rewrites that folder); a rename rewrites `name`;
soft delete adds `lifecycle_stage: deleted` and `deleted_time` (ms) to meta.yaml, restore removes
them; KILLED is written as the string `KILLED` with an ISO `end_time`. mini-mlflow's own reader
(`load_run`) reads all of these. A RUNNING run's meta.yaml is rewritten by the package from memory
when the run ends, so renaming or deleting a RUNNING mini-mlflow run is refused.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

import yaml

from tuitrack.model import Lifecycle, MetricPoint, Problem, Run, RunStatus
from tuitrack.store.mlflow_file.files import (
    DIR_FLAGS,
    SYMLINK_NOT_READ,
    open_beneath,
    read_bytes,
    read_fd,
    reason,
)
from tuitrack.store.mlflow_file.meta_yaml import MetaYamlError, load_meta
from tuitrack.store.mlflow_file.metric_file import CursorRead

DIALECT = "mini-mlflow"
SUFFIX = ".json"
META = "meta.yaml"
WRITTEN_STATUSES = ("RUNNING", "FINISHED", "FAILED")  # what the package writes; KILLED is tuitrack's
_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
_MS = timedelta(milliseconds=1)
# How many sub-folders of a folder without meta.yaml to look into for a mini-mlflow run.
SCAN_LIMIT = 20
# The most tuitrack reads of one params/metrics `<key>.json` (a param value may be any JSON).
RECORD_LIMIT = 1 << 20


def is_mini_meta(fields: dict[str, Any]) -> bool:
    """A run meta.yaml that mini-mlflow wrote (MLflow's always has run_name and artifact_uri)."""
    return "version" in fields and "name" in fields and "run_name" not in fields and "artifact_uri" not in fields


def iso_to_ms(value: object) -> int:
    """Milliseconds since the epoch of an ISO time (UTC when it has no zone). Raises ValueError."""
    if isinstance(value, datetime):  # an unquoted timestamp, as YAML reads one
        moment = value
    elif isinstance(value, str):
        moment = datetime.fromisoformat(value)
    else:
        raise ValueError(value)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return (moment - _EPOCH) // _MS


def ms_to_iso(ms: int) -> str:
    """An ISO time the way mini-mlflow writes one: `datetime.utcnow().isoformat() + "Z"`."""
    return (_EPOCH + timedelta(milliseconds=ms)).replace(tzinfo=None).isoformat() + "Z"


def dump_meta(fields: dict[str, Any]) -> bytes:
    """meta.yaml as mini-mlflow writes it: `yaml.dump(..., sort_keys=False)`, its field order kept."""
    return yaml.dump(fields, Dumper=yaml.SafeDumper, default_flow_style=False, sort_keys=False).encode("utf-8")


def apply_meta(run: Run, fields: dict[str, Any], folder: str, experiment_id: str) -> list[str]:
    """Fill `run` from a mini-mlflow meta.yaml; returns what is wrong with it."""
    issues: list[str] = []
    run.dialect = DIALECT
    stored_id = fields.get("run_id")
    if stored_id is None:
        issues.append("run_id is missing")
    elif str(stored_id) != folder:
        issues.append(f"run_id is {str(stored_id)!r} but the folder is {folder!r}")
    stored_exp = fields.get("experiment_id")
    if stored_exp is not None and str(stored_exp) != experiment_id:
        issues.append(f"experiment_id is {str(stored_exp)!r} but the run is in experiment folder {experiment_id!r}")
    status = fields.get("status")
    if isinstance(status, str) and status in RunStatus.__members__:
        run.status = RunStatus[status]
    else:
        run.status = None
        issues.append(f"status is {status!r}; mini-mlflow writes one of {', '.join(WRITTEN_STATUSES)}")
    if run.lifecycle_stage is not Lifecycle.DELETED:
        stage = fields.get("lifecycle_stage", Lifecycle.ACTIVE.value)
        try:
            run.lifecycle_stage = Lifecycle(stage)
        except ValueError:
            issues.append(f"lifecycle_stage is {stage!r}; expected 'active' or 'deleted'")
    if fields.get("start_time") is None:
        issues.append("start_time is missing")
    for key in ("start_time", "end_time"):
        value = fields.get(key)
        if value is None:
            continue
        try:
            setattr(run, key, iso_to_ms(value))
        except (ValueError, TypeError, OverflowError):
            issues.append(f"{key} is {value!r}, not an ISO time like '2026-01-31T12:00:00.000000Z'")
    deleted = fields.get("deleted_time")
    if deleted is None or (isinstance(deleted, int) and not isinstance(deleted, bool)):
        run.deleted_time = deleted
    else:
        issues.append(f"deleted_time is {deleted!r}, not a time in milliseconds")
    name = fields.get("name")
    run.run_name = "" if name is None else str(name)
    version = fields.get("version")
    run.version = None if version is None else str(version)
    run.user_id = ""
    run.artifact_uri = None
    return issues


# -- params and metrics ---------------------------------------------------------------------------


def _json_files(folder: str, rel: str, problems: list[Problem]) -> Iterator[tuple[str, int, str]]:
    """(key, dir_fd, name) of every `<key>.json` in `folder` (read it with `read_bytes(name,
    dir_fd=...)` before the next); other files (the package's `.tmp` files while it writes) are
    skipped, as its own reader skips them. Nothing is read through a symlink: not the folder
    (opened with O_NOFOLLOW, its files relative to it), not a file in it."""
    try:
        fd = os.open(folder, DIR_FLAGS)
    except FileNotFoundError:
        return
    except OSError as exc:
        link = os.path.islink(folder)
        problems.append(Problem(rel, "the folder is " + SYMLINK_NOT_READ if link else f"cannot list folder ({reason(exc)})"))
        return
    try:
        try:
            found = [e for e in os.scandir(fd) if e.name.endswith(SUFFIX) and len(e.name) > len(SUFFIX)]
        except OSError as exc:
            problems.append(Problem(rel, f"cannot list folder ({reason(exc)})"))
            return
        for entry in found:
            try:
                if entry.is_symlink():
                    problems.append(Problem(f"{rel}/{entry.name}", SYMLINK_NOT_READ))
                    continue
                if not entry.is_file(follow_symlinks=False):
                    problems.append(Problem(f"{rel}/{entry.name}", "not a regular file; ignored (mini-mlflow fails on it)"))
                    continue
            except OSError as exc:
                problems.append(Problem(f"{rel}/{entry.name}", f"{reason(exc)}; ignored"))
                continue
            yield entry.name[: -len(SUFFIX)], fd, entry.name
    finally:
        os.close(fd)


def parse_record(data: bytes) -> tuple[dict[str, Any] | None, str | None]:
    """The `{"value", "timestamp"}` object in one file's bytes, or why there is none."""
    if not data.strip():
        return None, "file is empty"
    try:
        record = json.loads(data)
    except RecursionError:
        return None, "JSON nested too deeply to read"
    except UnicodeDecodeError:
        return None, "not UTF-8 text"
    except json.JSONDecodeError as exc:
        return None, f"not valid JSON ({exc.msg} at line {exc.lineno}, column {exc.colno})"
    if not isinstance(record, dict) or "value" not in record:
        return None, 'expected a JSON object with "value" and "timestamp"'
    return record, None


def param_text(value: Any) -> str:
    """A param value as tuitrack's params are: text. Strings as they are; anything else as
    Python's str(), which is what MLflow's log_param stores for the same value."""
    return value if isinstance(value, str) else str(value)


def parse_point(record: dict[str, Any]) -> tuple[MetricPoint | None, list[str]]:
    value = record.get("value")
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None, [f"value is {value!r}, not a number"]
    errors = []
    try:
        timestamp = iso_to_ms(record.get("timestamp"))
    except (ValueError, TypeError, OverflowError):
        timestamp = 0
        errors.append(f"timestamp is {record.get('timestamp')!r}, not an ISO time")
    try:
        number = float(value)
    except OverflowError:  # an int too big for a float
        number = math.inf if value > 0 else -math.inf
    return MetricPoint(timestamp, number, 0), errors


def _records(run_dir: str, kind: str, rel: str, problems: list[Problem]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    """(key, where, record) of each readable `<kind>/<key>.json`; a problem for each other one."""
    for key, dir_fd, name in _json_files(os.path.join(run_dir, kind), f"{rel}/{kind}", problems):
        where = f"{rel}/{kind}/{key}{SUFFIX}"
        try:
            record, error = parse_record(read_bytes(name, RECORD_LIMIT, dir_fd))
        except OSError as exc:
            problems.append(Problem(where, f"cannot read ({reason(exc)})"))
            continue
        if record is None:
            problems.append(Problem(where, error or "unreadable"))
            continue
        yield key, where, record


def read_params(run_dir: str, rel: str, problems: list[Problem]) -> dict[str, str]:
    return {key: param_text(record["value"]) for key, _, record in _records(run_dir, "params", rel, problems)}


def read_metrics(run_dir: str, rel: str, problems: list[Problem]) -> dict[str, MetricPoint]:
    metrics: dict[str, MetricPoint] = {}
    for key, where, record in _records(run_dir, "metrics", rel, problems):
        point, errors = parse_point(record)
        problems.extend(Problem(where, e) for e in errors)
        if point is not None:
            metrics[key] = point
    return metrics


def metric_path(key: str) -> str:
    """A metric's file, relative to its run folder."""
    return "metrics/" + key + SUFFIX


@dataclass(slots=True)
class JsonMetricCursor:
    """A mini-mlflow metric file is rewritten whole (a new inode each time): each change is read
    as a new one-point history (`reset`), an unchanged file as nothing new. `path` is relative to
    the run folder `base`, and read through no symlink."""

    base: str
    path: str
    signature: tuple[int, int, int] | None = None

    def read_new(self) -> CursorRead:
        """Raises OSError."""
        fd = open_beneath(self.base, self.path)
        try:
            st = os.fstat(fd)
            signature = (st.st_ino, st.st_mtime_ns, st.st_size)
            if signature == self.signature:
                return CursorRead([], [], False)
            data = read_fd(fd, RECORD_LIMIT)
        finally:
            os.close(fd)
        self.signature = signature
        record, error = parse_record(data)
        if record is None:
            return CursorRead([], [error or "unreadable"], True)
        point, errors = parse_point(record)
        return CursorRead([point] if point is not None else [], errors, True)


# -- experiments without meta.yaml ----------------------------------------------------------------


def run_meta_fields(run_dir: str) -> dict[str, Any] | None:
    """A run folder's meta.yaml fields, None if it has none or they cannot be read."""
    try:
        return load_meta(read_bytes(os.path.join(run_dir, META)))
    except (OSError, MetaYamlError):
        return None


def holds_mini_runs(folder: str, limit: int = SCAN_LIMIT) -> bool:
    """True for a folder (without an experiment meta.yaml) holding a mini-mlflow run folder:
    a mini-mlflow experiment. Looks into at most `limit` sub-folders."""
    try:
        with os.scandir(folder) as entries:
            names = sorted(e.path for e in entries if not e.name.startswith("."))
    except OSError:
        return False
    looked = 0
    for path in names:
        if looked >= limit:
            break
        fields = run_meta_fields(path)
        if fields is None:
            if os.path.isdir(path):
                looked += 1
            continue
        looked += 1
        if isinstance(fields, dict) and is_mini_meta(fields):
            return True
    return False
