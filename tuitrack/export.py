"""Runs as data for people and scripts: JSON objects (`ls --json`, `show --json`), CSV and
Markdown tables (`ls --format`, and the app's export key).

JSON (RFC 8259) has no NaN or infinity. Metric values that are not finite are written as the
strings "NaN", "Infinity" and "-Infinity" (the spellings Python's `float()` and JavaScript's
`Number()` read back); every other value is a JSON number.
"""

from __future__ import annotations

import csv
import io
import json
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
        "run_name": run.run_name or None,  # MLflow says None for a run without a name
        "version": run.version,
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


def table(pairs: list[tuple[Experiment, Run]]) -> tuple[list[str], list[list[str]]]:
    """A header and rows: the run's attributes (with a version column when a run has a version),
    then one column per param and per metric."""
    params = sorted({k for _, r in pairs for k in r.params})
    metrics = sorted({k for _, r in pairs for k in r.metrics})
    versions = any(r.version is not None for _, r in pairs)  # mini-mlflow's runs have one
    header = ["run_id", "run_name", *(["version"] if versions else []), "experiment", "status", "lifecycle_stage",
              "start_time", "end_time", "user", "parent_run_id"] + [f"params.{k}" for k in params] + [
        f"metrics.{k}" for k in metrics]
    rows = []
    for experiment, run in pairs:
        rows.append([
            run.run_id, run.run_name, *([run.version or ""] if versions else []),
            experiment.name if experiment else run.experiment_id,
            run.status.name if run.status else "", run.lifecycle_stage.value,
            "" if run.start_time is None else str(run.start_time), "" if run.end_time is None else str(run.end_time),
            run.user_id, run.parent_run_id or "",
        ] + [run.params.get(k, "") for k in params]
          + ["" if k not in run.metrics else repr(run.metrics[k].value) for k in metrics])
    return header, rows


def to_csv(pairs: list[tuple[Experiment, Run]]) -> str:
    header, rows = table(pairs)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    return out.getvalue()


def to_markdown(pairs: list[tuple[Experiment, Run]]) -> str:
    header, rows = table(pairs)

    def cell(text: str) -> str:
        return text.replace("|", "\\|").replace("\n", " ")

    lines = ["| " + " | ".join(cell(h) for h in header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(cell(c) for c in row) + " |" for row in rows]
    return "\n".join(lines) + "\n"


def to_json(pairs: list[tuple[Experiment, Run]]) -> str:
    return json.dumps([run_object(r, e) for e, r in pairs], ensure_ascii=False, allow_nan=False) + "\n"


FORMATS = {"csv": to_csv, "md": to_markdown, "json": to_json}
