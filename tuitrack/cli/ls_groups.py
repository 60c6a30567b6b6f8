"""`tuitrack ls --group-by params.lr`: one row (or JSON object) per group of runs, with the
count and each metric's mean, std, min and max over the runs' latest values
(tuitrack.query.groups does the figures; this module only writes them out)."""

from __future__ import annotations

import json
from typing import Any

from tuitrack.export import csv_text, json_number, markdown_text
from tuitrack.query.groups import MISSING, MetricStats, RunGroup, mean_std
from tuitrack.system_metrics import is_system


def _number(value: float | None) -> float | str | None:
    return None if value is None else json_number(value)


def group_object(group: RunGroup) -> dict[str, Any]:
    """`{"group": {"params.lr": "0.01"}, "count": 3, "metrics": {KEY: {"mean", "std", "min",
    "max", "count"}}}`; a missing param value is null, as is a figure with no value to count."""
    return {
        "group": {f"params.{k}": v for k, v in zip(group.keys, group.values)},
        "count": group.count,
        "metrics": {
            key: {"mean": _number(s.mean), "std": _number(s.std), "min": _number(s.min),
                  "max": _number(s.max), "count": s.count}
            for key, s in group.metrics.items()
        },
    }


def to_json(groups: list[RunGroup]) -> str:
    return json.dumps([group_object(g) for g in groups], ensure_ascii=False, allow_nan=False) + "\n"


def _metric_keys(groups: list[RunGroup]) -> list[str]:
    return sorted({k for g in groups for k in g.metrics})


def _text(value: float | None) -> str:
    return "" if value is None else repr(value)


def table(groups: list[RunGroup]) -> tuple[list[str], list[list[str]]]:
    """For CSV and Markdown: the params, the count, then each metric's count, mean, std, min, max."""
    keys = groups[0].keys if groups else ()
    metrics = _metric_keys(groups)
    header = [f"params.{k}" for k in keys] + ["count"] + [
        f"metrics.{m}.{figure}" for m in metrics for figure in ("count", "mean", "std", "min", "max")]
    rows = []
    for group in groups:
        row = [MISSING if v is None else v for v in group.values] + [str(group.count)]
        for key in metrics:
            s = group.metrics.get(key, MetricStats.of([]))
            row += [str(s.count), _text(s.mean), _text(s.std), _text(s.min), _text(s.max)]
        rows.append(row)
    return header, rows


def to_csv(groups: list[RunGroup]) -> str:
    return csv_text(*table(groups))


def to_markdown(groups: list[RunGroup]) -> str:
    return markdown_text(*table(groups))


FORMATS = {"csv": to_csv, "md": to_markdown, "json": to_json}


def people_table(groups: list[RunGroup]) -> tuple[list[str], list[list[str]]]:
    """The terminal's table: the params, RUNS, then each metric's mean ± std (system/ metrics
    left out, as in the app's columns: a machine's CPU and GPU figures would crowd out the
    training's; CSV, Markdown and JSON keep them)."""
    keys = groups[0].keys if groups else ()
    metrics = [m for m in _metric_keys(groups) if not is_system(m)]
    header = [f"params.{k}" for k in keys] + ["RUNS"] + metrics
    rows = [[MISSING if v is None else v for v in g.values] + [str(g.count)]
            + [mean_std(g.metrics.get(m), g.count) for m in metrics] for g in groups]
    return header, rows
