"""Plain data that every layer of tuitrack shares: experiments, runs, metrics, problems.

Nothing here knows about files, YAML or Textual. Stores build these objects; the CLI and the app
only read them. Field names follow MLflow's entities so that a reader who knows MLflow knows these.
"""

from __future__ import annotations

import enum
import math
from dataclasses import dataclass, field
from typing import NamedTuple

PARENT_RUN_TAG = "mlflow.parentRunId"
RUN_NAME_TAG = "mlflow.runName"
NOTE_TAG = "mlflow.note.content"
USER_TAG = "mlflow.user"
SOURCE_NAME_TAG = "mlflow.source.name"
DATASET_CONTEXT_TAG = "mlflow.data.context"


class RunStatus(enum.Enum):
    """A run's status. The values are the integers MLflow stores in a run's meta.yaml."""

    RUNNING = 1
    SCHEDULED = 2
    FINISHED = 3
    FAILED = 4
    KILLED = 5

    @classmethod
    def from_stored(cls, value: object) -> RunStatus | None:
        """The status for a stored value (an int 1-5), or None when the value is not one."""
        if isinstance(value, int) and not isinstance(value, bool):
            try:
                return cls(value)
            except ValueError:
                return None
        return None

    @property
    def is_terminated(self) -> bool:
        return self in (RunStatus.FINISHED, RunStatus.FAILED, RunStatus.KILLED)


class Lifecycle(enum.Enum):
    """Soft-delete state of a run or experiment, as MLflow names it."""

    ACTIVE = "active"
    DELETED = "deleted"


class MetricPoint(NamedTuple):
    """One logged metric value. A tuple so that millions of them stay cheap."""

    timestamp: int
    value: float
    step: int

    def sort_key(self) -> tuple[int, int, float]:
        """MLflow's order for "latest": by step, then timestamp, then value."""
        return (self.step, self.timestamp, self.value)


def latest_point(points: list[MetricPoint]) -> MetricPoint | None:
    """The point MLflow reports as a metric's value: max by (step, timestamp, value).

    NaN compares false against everything in Python, so `max` keeps whichever NaN-valued point it
    met first among equal (step, timestamp) pairs, exactly as MLflow's own `max(key=...)` does.
    """
    if not points:
        return None
    return max(points, key=MetricPoint.sort_key)


@dataclass(frozen=True, slots=True)
class Problem:
    """Something wrong with a stored run or experiment, said so that a user can act on it."""

    where: str  # path relative to the store root, e.g. "1234/abcd/meta.yaml"
    message: str

    def __str__(self) -> str:
        return f"{self.where}: {self.message}"


class DatasetInput(NamedTuple):
    """A dataset a run logged as an input (`mlflow.log_input`): what `dataset.name`,
    `dataset.digest` and `dataset.context` search."""

    name: str
    digest: str
    context: str | None  # the input's `mlflow.data.context` tag ("training", "eval"), if any


@dataclass(slots=True)
class Experiment:
    experiment_id: str
    name: str
    lifecycle_stage: Lifecycle = Lifecycle.ACTIVE
    artifact_location: str | None = None
    creation_time: int | None = None
    last_update_time: int | None = None
    tags: dict[str, str] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)

    @property
    def is_deleted(self) -> bool:
        return self.lifecycle_stage is Lifecycle.DELETED

    def order(self) -> tuple[bool, bool, str]:
        """Where it comes among experiments, as the app shows and loads them: active ones by
        name (Default first), then deleted ones."""
        return (self.is_deleted, self.experiment_id != "0", (self.name or self.experiment_id).lower())


@dataclass(slots=True)
class Run:
    """A run as listed: its meta, params, tags and the latest value of each metric.

    `status` and `start_time` are None only for a run whose meta.yaml could not be read; such a run
    always carries a Problem saying why.
    """

    run_id: str
    experiment_id: str
    run_name: str = ""
    status: RunStatus | None = None
    lifecycle_stage: Lifecycle = Lifecycle.ACTIVE
    start_time: int | None = None
    end_time: int | None = None
    deleted_time: int | None = None
    user_id: str = ""
    artifact_uri: str | None = None  # where the artifacts are (for a moved store, its own copy)
    artifacts_moved_from: str | None = None  # the URI the store names, when the store was moved
    params: dict[str, str] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)
    metrics: dict[str, MetricPoint] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)
    disk_bytes: int | None = None  # filled in later, off the UI thread: walking folders is slow
    version: str | None = None  # mini-mlflow's run version ("v1.0"); MLflow runs have none
    dialect: str = ""  # "" for the store's own format; "mini-mlflow" for such a run in an mlruns folder
    datasets: list[DatasetInput] | None = None  # read only when a filter asks (Store.dataset_inputs)

    @property
    def parent_run_id(self) -> str | None:
        return self.tags.get(PARENT_RUN_TAG) or None

    @property
    def note(self) -> str | None:
        return self.tags.get(NOTE_TAG)

    @property
    def is_deleted(self) -> bool:
        return self.lifecycle_stage is Lifecycle.DELETED

    @property
    def duration_ms(self) -> int | None:
        """Wall time from start to end; None while the run has no end time."""
        if self.start_time is None or self.end_time is None:
            return None
        return self.end_time - self.start_time


def latest_versions(runs: list[Run]) -> list[Run]:
    """For each run name in each experiment, only the latest run, in the given order: what
    mini-mlflow's `get_latest_version(name)` returns. Its "latest" is the run whose meta.yaml was
    written last, which is when the run ended, or started while it runs; so here: the greatest
    end time, else start time (ties: later start, then run id). Runs without a name are all kept.
    """
    best: dict[tuple[str, str], Run] = {}

    def order(run: Run) -> tuple[int, int, str]:
        written = run.end_time if run.end_time is not None else run.start_time
        return (written if written is not None else -1, run.start_time if run.start_time is not None else -1,
                run.run_id)

    for run in runs:
        if not run.run_name:
            continue
        key = (run.experiment_id, run.run_name)
        if key not in best or order(run) > order(best[key]):
            best[key] = run
    keep = {id(r) for r in best.values()}
    return [r for r in runs if not r.run_name or id(r) in keep]


def is_finite(value: float) -> bool:
    return not (math.isnan(value) or math.isinf(value))


@dataclass(frozen=True, slots=True)
class MetricSummary:
    """What a run's detail shows for one metric: the latest point, extremes and their steps."""

    latest: MetricPoint
    count: int
    min_value: float
    min_step: int
    max_value: float
    max_step: int


def summarize(points: list[MetricPoint]) -> MetricSummary | None:
    """Summary of a full history; NaN values are ignored for min and max (NaN if all are NaN)."""
    latest = latest_point(points)
    if latest is None:
        return None
    finite = [p for p in points if not math.isnan(p.value)]
    if not finite:
        nan = float("nan")
        return MetricSummary(latest, len(points), nan, latest.step, nan, latest.step)
    low = min(finite, key=lambda p: p.value)
    high = max(finite, key=lambda p: p.value)
    return MetricSummary(latest, len(points), low.value, low.step, high.value, high.step)


def merge_summaries(earlier: MetricSummary | None, later: MetricSummary | None) -> MetricSummary | None:
    """The summary of two consecutive parts of a history, as `summarize` of both at once: a long
    history is summarized a batch at a time, never held whole."""
    if earlier is None or later is None:
        return earlier or later
    latest = later.latest if later.latest.sort_key() > earlier.latest.sort_key() else earlier.latest
    count = earlier.count + later.count
    if math.isnan(earlier.min_value) and math.isnan(later.min_value):  # every value NaN
        return MetricSummary(latest, count, earlier.min_value, latest.step, earlier.max_value, latest.step)
    low = later if math.isnan(earlier.min_value) or later.min_value < earlier.min_value else earlier
    high = later if math.isnan(earlier.max_value) or later.max_value > earlier.max_value else earlier
    return MetricSummary(latest, count, low.min_value, low.min_step, high.max_value, high.max_step)


def fold_latest(summary: MetricSummary, point: MetricPoint) -> MetricSummary:
    """A summary brought up to a newer latest point without reading the history again, so that a
    live view never shows a last value outside its own min and max. (Points logged between the
    two count at the next full read.)"""
    if point.sort_key() <= summary.latest.sort_key():
        return summary
    if summary.count <= 1:  # a store that keeps only the latest value (mini-mlflow): replaced
        return MetricSummary(point, 1, point.value, point.step, point.value, point.step)
    low, low_step, high, high_step = summary.min_value, summary.min_step, summary.max_value, summary.max_step
    if not math.isnan(point.value):
        if math.isnan(low) or point.value < low:
            low, low_step = point.value, point.step
        if math.isnan(high) or point.value > high:
            high, high_step = point.value, point.step
    return MetricSummary(point, summary.count + 1, low, low_step, high, high_step)
