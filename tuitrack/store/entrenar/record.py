"""One entrenar run record (`{run_id}.json`, entrenar's `RunRecord`) read into tuitrack's model.

entrenar (a Rust trainer) writes each finished run with serde_json: run_id, run_name (or null),
experiment_name, status ("Active", "Completed", "Failed" or "Cancelled"), params, metrics as
`{key: [{"value": f64, "step": u64}]}`, artifacts (a list of paths), tags, start_time_ms and
end_time_ms (or null). serde_json writes NaN and infinite values as null; they read back as NaN.

Where tuitrack's model has no field, the record's data shows as read-only tags under
`entrenar.` (the artifact list). tuitrack's own soft delete is kept as two tags under
`tuitrack.` inside the record (entrenar has none), shown as the run's lifecycle, not as tags.
Every field that is missing or of the wrong type is a Problem on the run, never an exception.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from typing import Any

from tuitrack.model import Lifecycle, MetricPoint, Run, RunStatus

STATUS_FROM_ENTRENAR = {
    "Active": RunStatus.RUNNING,
    "Completed": RunStatus.FINISHED,
    "Failed": RunStatus.FAILED,
    "Cancelled": RunStatus.KILLED,
}
STATUS_TO_ENTRENAR = {status: name for name, status in STATUS_FROM_ENTRENAR.items()}

ARTIFACTS_TAG = "entrenar.artifacts"  # read-only: the record's artifact paths, one per line
LIFECYCLE_TAG = "tuitrack.lifecycle_stage"  # "deleted" once tuitrack soft-deleted the run
DELETED_TIME_TAG = "tuitrack.deleted_time"  # when (ms), as text
RESERVED_TAG_PREFIXES = ("entrenar.", "tuitrack.")


@dataclass(slots=True)
class Record:
    """What one file says: the run without its experiment id, every metric's points, problems."""

    run_id: str
    experiment_name: str | None = None  # None: the record cannot say (unreadable)
    run: Run | None = None
    histories: dict[str, list[MetricPoint]] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)

    def build_run(self, experiment_id: str) -> Run:
        """A fresh Run (callers may change it) in `experiment_id`, with latest metric values."""
        base = self.run or Run(run_id=self.run_id, experiment_id="")
        return Run(
            run_id=self.run_id, experiment_id=experiment_id, run_name=base.run_name, status=base.status,
            lifecycle_stage=base.lifecycle_stage, start_time=base.start_time, end_time=base.end_time,
            deleted_time=base.deleted_time, params=dict(base.params), tags=dict(base.tags),
            metrics={k: max(v, key=MetricPoint.sort_key) for k, v in self.histories.items() if v},
        )


# The most tuitrack reads of one record. A record holds every metric's whole history (about 40
# bytes a point), so this is a few hundred thousand points per metric for a wide run; a bigger
# record is a problem on its run, never memory without end.
RECORD_LIMIT = 64 << 20


def parse_record(run_id: str, data: bytes) -> Record:
    """The record in `data`, the contents of `{run_id}.json`."""
    try:
        return _parse_record(run_id, data)
    except RecursionError:  # JSON nested deeper than Python's parser goes (serde_json stops at 128)
        record = Record(run_id)
        record.problems.append("nested too deeply to read (entrenar cannot read it either)")
        return record


def _parse_record(run_id: str, data: bytes) -> Record:
    record = Record(run_id)
    try:
        fields = json.loads(data.decode("utf-8"))  # as serde_json: UTF-8 only
    except UnicodeDecodeError:
        record.problems.append("not UTF-8 text; entrenar cannot read it either")
        return record
    except json.JSONDecodeError as exc:
        what = "empty (a writer may be rewriting it)" if not data.strip() else f"not valid JSON ({exc})"
        record.problems.append(what)
        return record
    if not isinstance(fields, dict):
        record.problems.append(f"holds a JSON {type(fields).__name__}, not a run record object")
        return record
    record.run = _run_from(run_id, fields, record.problems)
    name = fields.get("experiment_name")
    if isinstance(name, str):
        record.experiment_name = name
    else:
        record.problems.append(f"experiment_name is {name!r}, not a string: its experiment is unknown")
    record.histories = _metrics(fields.get("metrics"), record.run.start_time or 0, record.problems)
    return record


def _run_from(run_id: str, fields: dict[str, Any], problems: list[str]) -> Run:
    run = Run(run_id=run_id, experiment_id="")
    stored_id = fields.get("run_id")
    if not isinstance(stored_id, str):
        problems.append(f"run_id is {stored_id!r}, not a string (entrenar cannot read this run)")
    elif stored_id != run_id:
        problems.append(f"run_id is {stored_id!r} but the file is {run_id}.json")
    name = fields.get("run_name")
    if name is not None and not isinstance(name, str):
        problems.append(f"run_name is {name!r}, not a string or null")
    run.run_name = name if isinstance(name, str) else ""
    status = fields.get("status")
    run.status = STATUS_FROM_ENTRENAR.get(status) if isinstance(status, str) else None
    if run.status is None:
        problems.append(f"status is {status!r}; expected one of {', '.join(STATUS_FROM_ENTRENAR)}")
    run.start_time = _time(fields, "start_time_ms", problems)
    run.end_time = _time(fields, "end_time_ms", problems)
    run.params = _strings(fields.get("params"), "params", problems)
    tags = _strings(fields.get("tags"), "tags", problems)
    if tags.get(LIFECYCLE_TAG) == Lifecycle.DELETED.value:
        run.lifecycle_stage = Lifecycle.DELETED
        deleted = tags.get(DELETED_TIME_TAG, "")
        run.deleted_time = int(deleted) if deleted.isdigit() else None
    run.tags = {k: v for k, v in tags.items() if k not in (LIFECYCLE_TAG, DELETED_TIME_TAG)}
    artifacts = fields.get("artifacts")
    if isinstance(artifacts, list) and all(isinstance(a, str) for a in artifacts):
        if artifacts:
            run.tags[ARTIFACTS_TAG] = "\n".join(artifacts)
    else:
        problems.append(f"artifacts is {_short(artifacts)}, not a list of paths")
    return run


def _time(fields: dict[str, Any], key: str, problems: list[str]) -> int | None:
    value = fields.get(key)
    if value is None:
        return None
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return value
    problems.append(f"{key} is {value!r}, not a time in milliseconds")
    return None


def _strings(value: Any, what: str, problems: list[str]) -> dict[str, str]:
    """A JSON object of strings (params, tags); other values are shown as JSON text."""
    if not isinstance(value, dict):
        problems.append(f"{what} is {_short(value)}, not an object of strings")
        return {}
    out = {}
    for key, item in value.items():
        if isinstance(item, str):
            out[key] = item
        else:
            out[key] = json.dumps(item)
            problems.append(f"{what}.{key} is {_short(item)}, not a string (entrenar cannot read it)")
    return out


def _metrics(value: Any, timestamp: int, problems: list[str]) -> dict[str, list[MetricPoint]]:
    """Every metric's points. entrenar keeps no time per point: each gets the run's start time."""
    if not isinstance(value, dict):
        problems.append(f"metrics is {_short(value)}, not an object of point lists")
        return {}
    histories: dict[str, list[MetricPoint]] = {}
    for key, entries in value.items():
        if not isinstance(entries, list):
            problems.append(f"metrics.{key} is {_short(entries)}, not a list of points")
            continue
        points = []
        for index, entry in enumerate(entries):
            point = _point(entry, timestamp)
            if point is None:
                problems.append(f"metrics.{key}[{index}] is {_short(entry)}; expected {{value, step}}: skipped")
            else:
                points.append(point)
        histories[key] = points
    return histories


def _point(entry: Any, timestamp: int) -> MetricPoint | None:
    if not isinstance(entry, dict):
        return None
    value, step = entry.get("value", ...), entry.get("step")
    if value is None:
        value = math.nan  # how serde_json writes NaN and infinities
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    if isinstance(step, bool) or not isinstance(step, int) or step < 0:
        return None
    return MetricPoint(timestamp, float(value), step)


def _short(value: Any) -> str:
    text = json.dumps(value) if not isinstance(value, float) else repr(value)
    return text if len(text) <= 40 else text[:37] + "..."
