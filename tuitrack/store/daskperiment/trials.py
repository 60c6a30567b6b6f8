"""A daskperiment trial as a tuitrack run, the same for both backends.

What daskperiment keeps per trial (its `_TrialManager`), and where it goes in a run:

- the parameters dict (`save_parameters`) -> params, each as `str(value)` as MLflow stores them;
- the result record (`TrialResult.to_dict`): `Success` -> FINISHED or FAILED, `Finished` (a
  Timestamp) -> the end time, `Finished - Process Time` -> the start time, `Result` -> the metric
  `Result` when it is a number (else the tag `daskperiment.result`), `Result Type` and `Seed`
  -> the tags `daskperiment.result_type` and `daskperiment.seed`, `Description` (the error text of
  a failed trial) -> the run's note;
- saved metrics (`save_metric`), records `{Epoch, Value, Timestamp}` -> points (step = Epoch).

A trial with parameters but no result is still running (Redis, which saves parameters when a trial
starts) or was interrupted (a LocalBackend pickle saved after KeyboardInterrupt): RUNNING or KILLED.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from tuitrack.model import NOTE_TAG, MetricPoint, Problem, Run, RunStatus
from tuitrack.store.grouping import experiment_id_for
from tuitrack.store.mlflow_rules import ChangeRefused
from tuitrack.store.daskperiment.values import number, text, timedelta_ms, timestamp_ms

RESULT_METRIC = "Result"
TAG_PREFIX = "daskperiment."
TRIAL_TAG = "daskperiment.trial_id"
SEED_TAG = "daskperiment.seed"
RESULT_TAG = "daskperiment.result"
RESULT_TYPE_TAG = "daskperiment.result_type"
CODE_TAG = "daskperiment.code"
ENVIRONMENT_TAG = "daskperiment.environment."
PERSISTED_TAG = "daskperiment.persisted"
# daskperiment's environment collectors (Environment.collectors), in its order, with file extension.
ENVIRONMENT_KINDS = {"platform": "json", "cpu": "json", "python": "json", "numpy": "txt", "scipy": "txt",
                     "pandas": "txt", "conda": "txt", "git": "json", "requirements": "txt"}
MAX_TAG_TEXT = 16_384
READ_ONLY = ("daskperiment keeps its trials as its own records (a pickle rewritten whole, or Redis keys) "
             "and has no way to change or delete one, so tuitrack only reads them")


def run_id_for(experiment_id: str, trial: int) -> str:
    """A stable id, hex like MLflow's, for trial `trial` of an experiment (the CLI also takes the
    `EXPERIMENT:TRIAL` form, see `trial_named`)."""
    return experiment_id_for(f"{experiment_id}:{trial}")


def trial_named(run_id: str) -> tuple[str, int] | None:
    """(experiment id, trial) for what a user typed as `EXPERIMENT:TRIAL`, else None."""
    experiment_id, sep, trial = run_id.rpartition(":")
    return (experiment_id, int(trial)) if sep and experiment_id and trial.isdigit() else None


def bounded_text(value: str) -> str:
    """A code or environment text as a tag: cut (and said so) past MAX_TAG_TEXT characters."""
    if len(value) <= MAX_TAG_TEXT:
        return value
    return value[:MAX_TAG_TEXT] + f"\n… (cut: {len(value):,} characters in all)"


def code_text(saved: str) -> str:
    """A trial's code as daskperiment's `get_code(trial_id)` returns it: without the header line
    (`# Code output saved in trial_id=N`) its CodeManager writes first."""
    lines = saved.splitlines()
    if lines and lines[0].startswith("# Code output saved in trial_id="):
        lines = lines[1:]
    return bounded_text("\n".join(lines) + "\n")


class ReadOnlyChanges:
    """daskperiment has no way to change or delete a trial: every change a store could make is
    refused, saying so, before any dialog (mixed into both daskperiment stores)."""

    def refusal(self, change: str, run=None) -> str | None:
        return READ_ONLY

    def cannot_purge(self) -> str | None:
        return READ_ONLY

    def _refuse(self, *args: Any, **kwargs: Any) -> None:
        raise ChangeRefused(READ_ONLY)

    set_tags = delete_tags = set_note = rename_run = delete_run = restore_run = _refuse
    terminate_run = delete_experiment = restore_experiment = purge = _refuse


@dataclass
class Trial:
    """One trial's records as read (still inert data), and what was wrong reading them."""

    trial: int
    parameters: Any = None  # the dict, or None when there is none
    result: Any = None
    metrics: dict[str, list[MetricPoint]] = field(default_factory=dict)  # full, or only the latest point
    started: int | None = None  # the first metric point's time, when only the latest points are here
    problems: list[Problem] = field(default_factory=list)


def trial_run(experiment_id: str, trial: Trial, running: bool = False) -> Run:
    """The run of one trial, its latest metrics included. `running`: a trial without a result is
    still going (else it was interrupted)."""
    run = Run(run_id=run_id_for(experiment_id, trial.trial), experiment_id=experiment_id,
              run_name=f"trial {trial.trial}", problems=list(trial.problems))
    run.tags[TRIAL_TAG] = str(trial.trial)
    where = f"{experiment_id}:{trial.trial}"
    if trial.parameters is not None:
        if isinstance(trial.parameters, dict):
            run.params = {text(k): text(v) for k, v in trial.parameters.items()}
        else:
            run.problems.append(Problem(where, f"the parameters are not a dict but {text(trial.parameters)[:80]}"))
    for key, points in trial.metrics.items():
        if points:
            run.metrics[key] = max(points, key=MetricPoint.sort_key)
    if trial.result is None:
        run.status = RunStatus.RUNNING if running else RunStatus.KILLED
        firsts = [p[0].timestamp for p in trial.metrics.values() if p]
        run.start_time = trial.started if trial.started is not None else min(firsts) if firsts else None
        return run
    if not isinstance(trial.result, dict):
        run.status = RunStatus.FINISHED
        run.problems.append(Problem(where, f"the result record is not a dict but {text(trial.result)[:80]}"))
        return run
    _read_result(run, trial.result)
    return run


def _read_result(run: Run, record: dict) -> None:
    where = f"{run.experiment_id}:{run.tags[TRIAL_TAG]}"
    success = record.get("Success")
    if success is True or success is False:
        run.status = RunStatus.FINISHED if success else RunStatus.FAILED
    else:
        run.status = RunStatus.FINISHED
        run.problems.append(Problem(where, f"the result's Success is {text(success)!r}, not True or False"))
    run.end_time = timestamp_ms(record.get("Finished"))
    if run.end_time is None:
        run.problems.append(Problem(where, "the result has no readable Finished time"))
    took = timedelta_ms(record.get("Process Time"))
    run.start_time = run.end_time - took if run.end_time is not None and took is not None else run.end_time
    result = record.get("Result")
    value = number(result)
    if value is not None and RESULT_METRIC not in run.metrics:
        run.metrics[RESULT_METRIC] = MetricPoint(run.end_time or 0, float(value), 0)
    elif result is not None:
        run.tags[RESULT_TAG] = text(result)
    if "Result Type" in record:
        run.tags[RESULT_TYPE_TAG] = text(record["Result Type"])
    seed = record.get("Seed")
    if seed is not None:
        run.tags[SEED_TAG] = text(seed)
    description = record.get("Description")
    if isinstance(description, str) and description:
        run.tags[NOTE_TAG] = bounded_text(description)


def result_history(run: Run) -> list[MetricPoint]:
    """The `Result` metric's one point, when the run has it from its result record."""
    point = run.metrics.get(RESULT_METRIC)
    return [point] if point is not None else []


def metric_points(records: list, where: str) -> tuple[list[MetricPoint], list[Problem]]:
    """Saved metric records ({Epoch, Value, Timestamp}) as points; the unreadable ones counted."""
    points, bad = [], 0
    for record in records:
        point = metric_point(record)
        if point is None:
            bad += 1
        else:
            points.append(point)
    problems = [Problem(where, f"{bad:,} saved metric record(s) are not {{Epoch, Value, Timestamp}}")] if bad else []
    return points, problems


def metric_point(record: Any) -> MetricPoint | None:
    if not isinstance(record, dict):
        return None
    value = number(record.get("Value"))
    epoch = number(record.get("Epoch"))
    stamp = timestamp_ms(record.get("Timestamp"))
    if value is None or epoch is None or stamp is None or not math.isfinite(epoch) or epoch != int(epoch):
        return None
    return MetricPoint(stamp, float(value), int(epoch))
