"""Runs as JSON objects for `ls --json` and `show --json`.

JSON (RFC 8259) has no NaN or infinity. Metric values that are not finite are written as the
strings "NaN", "Infinity" and "-Infinity" (the spellings Python's `float()` and JavaScript's
`Number()` read back); every other value is a JSON number.
"""

from __future__ import annotations

import math
from typing import Any

from tuitrack.model import Experiment, MetricPoint, Run
from tuitrack.store.base import MetricHistory, problems_after_full_read


def json_number(value: float) -> float | str:
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "Infinity" if value > 0 else "-Infinity"
    return value


def run_object(run: Run, experiment: Experiment | None) -> dict[str, Any]:
    """The fields of `ls --json`; `metrics` maps each key to its latest value."""
    return {
        "run_id": run.run_id,
        "run_name": run.run_name,
        "experiment_id": run.experiment_id,
        "experiment_name": experiment.name if experiment else None,
        "status": run.status.name if run.status else None,
        "lifecycle_stage": run.lifecycle_stage.value,
        "start_time": run.start_time,
        "end_time": run.end_time,
        "deleted_time": run.deleted_time,
        "user": run.user_id,
        "parent_run_id": run.parent_run_id,
        "artifact_uri": run.artifact_uri,
        "params": dict(sorted(run.params.items())),
        "tags": dict(sorted(run.tags.items())),
        "metrics": {k: json_number(p.value) for k, p in sorted(run.metrics.items())},
        "problems": [str(p) for p in run.problems],
    }


def point_object(point: MetricPoint) -> dict[str, Any]:
    return {"step": point.step, "timestamp": point.timestamp, "value": json_number(point.value)}


def run_with_histories(
    run: Run, experiment: Experiment | None, histories: list[MetricHistory]
) -> dict[str, Any]:
    """The fields of `show --json`: as `ls`, with `metrics` mapping each key to every point."""
    obj = run_object(run, experiment)
    obj["metrics"] = {h.key: [point_object(p) for p in h.points] for h in histories}
    obj["problems"] = [str(p) for p in problems_after_full_read(run, histories)]
    return obj
