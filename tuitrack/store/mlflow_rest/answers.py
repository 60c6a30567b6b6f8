"""A tracking server's JSON, read defensively into tuitrack's model.

The server is untrusted: any field may be missing, null, of another type or absurdly large. What
makes an answer unusable (an answer, a run or an experiment that is not a JSON object, one
without an id, a list that is not a list) raises BadAnswer, a one-line StoreError naming the
endpoint. A field of one run or experiment that cannot be read is left out and becomes a Problem
on it, as a broken file does in the file store, so one odd run never hides the others.

MLflow's JSON (protobuf's JSON mapping) writes int64 fields as numbers or as strings of digits,
and NaN and the infinities as the strings "NaN", "Infinity", "-Infinity"; all are read.
"""

from __future__ import annotations

import math
from typing import Any

from tuitrack.model import (
    DATASET_CONTEXT_TAG,
    RUN_NAME_TAG,
    DatasetInput,
    Experiment,
    Lifecycle,
    MetricPoint,
    Problem,
    Run,
    RunStatus,
)
from tuitrack.store.base import StoreError

INT64 = 2**63
MAX_TEXT_CHARS = 65_536  # of a name, tag or param; MLflow itself keeps tag values to 8,000
MAX_ID_CHARS = 256  # MLflow's run ids are 32 hex digits, experiment ids a number


class BadAnswer(StoreError):
    """The server's answer is not shaped as MLflow's."""


def field_list(answer: dict[str, Any], field: str, where: str) -> list[Any]:
    """A list field of an answer; MLflow leaves out empty lists, so missing (or null) is empty."""
    value = answer.get(field)
    if value is None:
        return []
    if not isinstance(value, list):
        raise BadAnswer(f"{where}: `{field}` is a JSON {_kind(value)}, not a list")
    return value


def page_token(answer: dict[str, Any], where: str) -> str | None:
    token = answer.get("next_page_token")
    if token is None or token == "":
        return None
    if not isinstance(token, str):
        raise BadAnswer(f"{where}: `next_page_token` is a JSON {_kind(token)}, not a string")
    return token


def experiment_from_json(item: Any, where: str) -> Experiment:
    if not isinstance(item, dict):
        raise BadAnswer(f"{where}: an experiment is a JSON {_kind(item)}, not an object")
    experiment_id = _id(item.get("experiment_id"))
    if not experiment_id:
        raise BadAnswer(f"{where}: an experiment without an experiment_id")
    problems: list[Problem] = []
    fields = _Fields(item, f"experiments/{experiment_id}", problems)
    stage = fields.text("lifecycle_stage", "active")
    try:
        lifecycle = Lifecycle(stage)
    except ValueError:
        fields.problem(f"lifecycle_stage {stage!r} is neither active nor deleted")
        lifecycle = Lifecycle.ACTIVE
    return Experiment(experiment_id, fields.text("name"), lifecycle, fields.text("artifact_location") or None,
                      fields.time("creation_time"), fields.time("last_update_time"), fields.pairs("tags"),
                      problems)


def run_from_json(item: Any, where: str) -> Run:
    if not isinstance(item, dict) or not isinstance(item.get("info"), dict):
        raise BadAnswer(f"{where}: a run that is not a JSON object with an `info` object")
    info = item["info"]
    run_id = _id(info.get("run_id")) or _id(info.get("run_uuid"))
    if not run_id:
        raise BadAnswer(f"{where}: a run without a run_id")
    problems: list[Problem] = []
    fields = _Fields(info, f"runs/{run_id}", problems)
    data = item.get("data")
    if data is not None and not isinstance(data, dict):
        fields.problem(f"`data` is a JSON {_kind(data)}, not an object: no params, tags or metrics")
    data_fields = _Fields(data if isinstance(data, dict) else {}, f"runs/{run_id}", problems)
    raw_status = info.get("status")
    status = RunStatus.__members__.get(raw_status) if isinstance(raw_status, str) else None
    if status is None:
        fields.problem(f"status {_short(raw_status)}, not an MLflow run status")
    stage = fields.text("lifecycle_stage", "active")
    try:
        lifecycle = Lifecycle(stage)
    except ValueError:
        fields.problem(f"lifecycle_stage {stage!r} is unknown")
        lifecycle = Lifecycle.ACTIVE
    tags = data_fields.pairs("tags")
    metrics = {}
    for entry in data_fields.objects("metrics"):
        key = entry.get("key")
        point = point_from_json(entry, data_fields)
        if isinstance(key, str) and point is not None:
            metrics[key] = point
        elif not isinstance(key, str):
            data_fields.problem(f"a metric whose key is a JSON {_kind(key)}")
    return Run(
        run_id=run_id, experiment_id=_id(info.get("experiment_id")),
        run_name=fields.text("run_name") or tags.get(RUN_NAME_TAG, ""), status=status, lifecycle_stage=lifecycle,
        start_time=fields.time("start_time"), end_time=fields.time("end_time"),
        deleted_time=None, user_id=fields.text("user_id"), artifact_uri=fields.text("artifact_uri") or None,
        params=data_fields.pairs("params"), tags=tags, metrics=metrics, problems=problems,
        datasets=_datasets_from_json(item.get("inputs"), _Fields({}, f"runs/{run_id}", problems)),
    )


def _datasets_from_json(inputs: Any, fields: _Fields) -> list[DatasetInput]:
    """The run's dataset inputs, which the server sends with every run (for dataset.* filters)."""
    if inputs is None:
        return []
    if not isinstance(inputs, dict):
        fields.problem(f"inputs as a JSON {_kind(inputs)}, not an object")
        return []
    found = []
    for given in _Fields(inputs, fields.where, fields.problems).objects("dataset_inputs"):
        dataset = given.get("dataset") if isinstance(given.get("dataset"), dict) else {}
        tags = _Fields(given, fields.where, fields.problems).pairs("tags")
        name, digest = dataset.get("name", ""), dataset.get("digest", "")
        found.append(DatasetInput(fields.bounded(str(name), "a dataset name"), fields.bounded(str(digest), "a digest"),
                                  None if DATASET_CONTEXT_TAG not in tags else tags[DATASET_CONTEXT_TAG]))
    return found


def history_point(item: Any, where: str) -> MetricPoint:
    """One point of metrics/get-history: one that cannot be read is an error (a plot with a
    silent hole in it would mislead)."""
    if not isinstance(item, dict):
        raise BadAnswer(f"{where}: a metric point is a JSON {_kind(item)}, not an object")
    problems: list[Problem] = []
    point = point_from_json(item, _Fields({}, where, problems))
    if point is None:
        raise BadAnswer(f"{where}: {problems[0].message}")
    return point


def point_from_json(item: dict[str, Any], fields: _Fields) -> MetricPoint | None:
    value = _float(item.get("value", math.nan))
    timestamp, step = _int(item.get("timestamp", 0)), _int(item.get("step", 0))
    if value is None or timestamp is None or step is None:
        fields.problem(f"metric point {_short(item)} is not a value, timestamp and step")
        return None
    return MetricPoint(timestamp, value, step)


class _Fields:
    """Reads one JSON object's fields; each one that is not what MLflow sends becomes a problem."""

    def __init__(self, item: dict[str, Any], where: str, problems: list[Problem]):
        self.item = item
        self.where = where
        self.problems = problems

    def problem(self, message: str) -> None:
        self.problems.append(Problem(self.where, f"the server sent {message}"))

    def text(self, key: str, default: str = "") -> str:
        value = self.item.get(key)
        if value is None:
            return default
        if isinstance(value, str):
            return self.bounded(value, key)
        self.problem(f"{key} as a JSON {_kind(value)}, not a string")
        return default

    def bounded(self, text: str, what: str) -> str:
        if len(text) <= MAX_TEXT_CHARS:
            return text
        self.problem(f"{what[:60]!r} of {len(text):,} characters; tuitrack keeps the first {MAX_TEXT_CHARS:,}")
        return text[:MAX_TEXT_CHARS]

    def time(self, key: str) -> int | None:
        value = self.item.get(key)
        number = _int(value)
        if value is not None and number is None:
            self.problem(f"{key} {_short(value)}, not a time in milliseconds")
        return number

    def objects(self, key: str) -> list[dict[str, Any]]:
        value = self.item.get(key)
        if value is None:
            return []
        if not isinstance(value, list):
            self.problem(f"{key} as a JSON {_kind(value)}, not a list")
            return []
        objects = [entry for entry in value if isinstance(entry, dict)]
        if len(objects) < len(value):
            self.problem(f"{len(value) - len(objects)} entries of {key} that are not objects")
        return objects

    def pairs(self, key: str) -> dict[str, str]:
        """Tags and params: [{"key": ..., "value": ...}] with string keys and values."""
        pairs = {}
        for entry in self.objects(key):
            name, value = entry.get("key"), entry.get("value", "")
            if isinstance(name, str) and isinstance(value, str):
                pairs[self.bounded(name, f"a key of {key}")] = self.bounded(value, name)
            else:
                self.problem(f"an entry of {key} that is not a string key and value: {_short(entry)}")
        return pairs


def _id(value: Any) -> str:
    """An id: a string, or a number (experiment ids are int64 in older servers); "" for none."""
    if isinstance(value, str):
        return value if len(value) <= MAX_ID_CHARS else ""
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return ""


def _int(value: Any) -> int | None:
    """An int64 as MLflow's JSON writes it: a number or a string of digits."""
    if isinstance(value, bool):
        return None
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    elif isinstance(value, str) and len(value) <= 20:
        try:
            value = int(value)
        except ValueError:
            return None
    return value if isinstance(value, int) and -INT64 <= value < INT64 else None


def _float(value: Any) -> float | None:
    """A double: a number, or a string such as "NaN", "Infinity", "-Infinity", "0.5"."""
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)) or (isinstance(value, str) and len(value) <= 40):
        try:
            return float(value)
        except (ValueError, OverflowError):
            return None
    return None


def _kind(value: Any) -> str:
    return {dict: "object", list: "list", str: "string", bool: "boolean", int: "number",
            float: "number", type(None): "null"}.get(type(value), type(value).__name__)


def _short(value: Any) -> str:
    """A glimpse of a value for a message: never the whole of a large one."""
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k!r:.20}: {_kind(v)}" for k, v in list(value.items())[:4]) + \
            (", ...}" if len(value) > 4 else "}")
    if isinstance(value, list):
        return f"a list of {len(value)}"
    text = repr(value[:60] if isinstance(value, str) else value)
    return text if len(text) <= 60 else text[:57] + "..."
