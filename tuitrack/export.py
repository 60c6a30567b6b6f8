"""Runs as data for people and scripts: JSON objects (`ls --json`, `show --json`), CSV and
Markdown tables (`ls --format`, and the app's export key).

CSV and Markdown are read by people and spreadsheets: store text in them has its control
characters made visible, and CSV text cells cannot start a formula (tuitrack.safe_text).
JSON stays exact.

JSON (RFC 8259) has no NaN or infinity. Metric values that are not finite are written as the
strings "NaN", "Infinity" and "-Infinity" (the spellings Python's `float()` and JavaScript's
`Number()` read back); every other value is a JSON number.
"""

from __future__ import annotations

import csv
import io
import json
import math
from collections.abc import Callable, Iterable, Iterator
from typing import Any, TextIO

from tuitrack.model import Experiment, MetricPoint, Run
from tuitrack.safe_text import spreadsheet_cell, visible
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


_POINT = '{{"step": {}, "timestamp": {}, "value": {}}}'  # json.dumps(point_object(p)), without its cost


def _number_text(value: float) -> str:
    """json.dumps(json_number(value)): finite floats as their repr, the others as strings."""
    return repr(value) if math.isfinite(value) else json.dumps(json_number(value))


def write_run_with_histories(
    out: TextIO, run: Run, experiment: Experiment | None,
    streams: Iterable[tuple[MetricHistory, Iterator[list[MetricPoint]]]],
    after_metrics: Callable[[], dict[str, Any]] | None = None,
) -> None:
    """`run_with_histories` as JSON text, the same bytes as `json.dumps` of it, written a batch of
    points at a time: memory stays that of one batch however long the histories are.
    `after_metrics`, asked once the histories are written, gives keys to write after them (what
    was counted while they streamed past: `show`'s system summary)."""
    obj = run_object(run, experiment)
    head = json.dumps({k: v for k, v in obj.items() if k not in ("metrics", "problems")},
                      ensure_ascii=False, allow_nan=False)
    out.write(head[:-1] + ', "metrics": {')
    histories = []
    for index, (history, batches) in enumerate(streams):
        out.write((", " if index else "") + json.dumps(history.key, ensure_ascii=False) + ": [")
        first = True
        for batch in batches:
            if batch:
                text = ", ".join([_POINT.format(p.step, p.timestamp, _number_text(p.value)) for p in batch])
                out.write(text if first else ", " + text)
                first = False
        out.write("]")
        histories.append(history)
    out.write("}")
    for key, value in (after_metrics() if after_metrics else {}).items():
        out.write(", " + json.dumps(key) + ": " + json.dumps(value, ensure_ascii=False, allow_nan=False))
    problems = [str(p) for p in problems_after_full_read(run, histories)]
    out.write(', "problems": ' + json.dumps(problems, ensure_ascii=False) + "}")


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


def csv_text(header: list[str], rows: list[list[str]]) -> str:
    """CSV for spreadsheets: a text cell that would start a formula (`=`, `+`, `-`, `@`) gets a
    leading `'` (numbers stay numbers); control characters are written as visible escapes
    (a cell's own line breaks stay, quoted as CSV does)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    for row in [header, *rows]:
        writer.writerow([spreadsheet_cell(visible(cell, newlines=True)) for cell in row])
    return out.getvalue()


def markdown_text(header: list[str], rows: list[list[str]]) -> str:
    """A Markdown table: `|` escaped, and line breaks and control characters visible escapes."""

    def cell(text: str) -> str:
        return visible(text).replace("|", "\\|")

    lines = ["| " + " | ".join(cell(h) for h in header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(cell(c) for c in row) + " |" for row in rows]
    return "\n".join(lines) + "\n"


def to_csv(pairs: list[tuple[Experiment, Run]]) -> str:
    return csv_text(*table(pairs))


def to_markdown(pairs: list[tuple[Experiment, Run]]) -> str:
    return markdown_text(*table(pairs))


def to_json(pairs: list[tuple[Experiment, Run]]) -> str:
    return json.dumps([run_object(r, e) for e, r in pairs], ensure_ascii=False, allow_nan=False) + "\n"


FORMATS = {"csv": to_csv, "md": to_markdown, "json": to_json}
