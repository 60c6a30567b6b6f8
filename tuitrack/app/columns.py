"""The runs table's columns: what each shows, how it sorts. Plain Python, easy to test."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

from tuitrack.formatting import format_age, format_bytes, format_duration, format_value, short_timestamp, shown_name
from tuitrack.model import Run
from tuitrack.system_metrics import is_system

MAX_WIDTH = 24


@dataclass(frozen=True, slots=True)
class Column:
    key: str  # "name", "param:lr", "metric:loss", ...
    label: str
    numeric: bool = False  # right-aligned, sorts by number

    @property
    def kind(self) -> str:
        return self.key.split(":", 1)[0] if ":" in self.key else "attr"

    @property
    def field(self) -> str:
        return self.key.split(":", 1)[1] if ":" in self.key else self.key

    @property
    def is_system(self) -> bool:
        """A system metric's column (`system/cpu_utilization_percentage`): off unless asked for."""
        return self.kind == "metric" and is_system(self.field)


BASE_COLUMNS = [
    Column("name", "Name"),
    Column("status", "Status"),
    Column("start", "Started"),
    Column("age", "Age", numeric=True),
    Column("duration", "Duration", numeric=True),
    Column("user", "User"),
    Column("disk", "Disk", numeric=True),
]
VERSION_COLUMN = Column("version", "Version")
CLOCK_COLUMNS = frozenset({"status", "start", "age", "duration"})  # cells the clock alone changes
DEFAULT_HIDDEN: set[str] = set()  # every column shows until the user hides it (C)


def columns_for(runs: list[Run], disk: bool = True, system: bool = False) -> list[Column]:
    """Base columns (and Version when a run has one: mini-mlflow's; Disk unless the store cannot
    measure it), then one per param and one per metric that any of `runs` has (system metrics
    only with `system`: MLflow's CPU, memory, GPU... samples are not what a table compares)."""
    params = sorted({k for r in runs for k in r.params})
    metrics = sorted({k for r in runs for k in r.metrics})
    if not system:
        metrics = [k for k in metrics if not is_system(k)]
    version = [VERSION_COLUMN] if any(r.version is not None for r in runs) else []
    base = [c for c in BASE_COLUMNS[1:] if disk or c.key != "disk"]
    both = set(params) & set(metrics)  # `lr` logged as a param and as a metric: say which is which
    return (
        BASE_COLUMNS[:1] + version + base
        + [Column(f"param:{k}", f"param {k}" if k in both else k) for k in params]
        + [Column(f"metric:{k}", f"metric {k}" if k in both else k, numeric=True) for k in metrics]
    )


def cell(run: Run, column: Column, now_ms: int) -> str:
    key = column.key
    if key == "name":
        name = shown_name(run)
        return "↳ " + name if run.parent_run_id else name
    if key == "status":
        status = run.status.name.lower() if run.status else "unknown"
        return status + (" (deleted)" if run.is_deleted else "")
    if key == "start":
        return short_timestamp(run.start_time, now_ms)
    if key == "age":
        return format_age(run.start_time, now_ms)
    if key == "duration":
        end = run.end_time if run.end_time is not None else (now_ms if run.status and run.status.name == "RUNNING" else None)
        return format_duration(None if run.start_time is None or end is None else end - run.start_time)
    if key == "user":
        return run.user_id
    if key == "version":
        return run.version or ""
    if key == "disk":
        return "…" if run.disk_bytes is None else format_bytes(run.disk_bytes)
    if column.kind == "param":
        return run.params.get(column.field, "")
    if column.kind == "metric":
        point = run.metrics.get(column.field)
        return "" if point is None else format_value(point.value, 5)
    return ""


def sort_value(run: Run, column: Column, now_ms: int) -> float | str | None:
    """A comparable value, or None when the run has none (None sorts last either way)."""
    key = column.key
    if key in ("start", "age"):
        return run.start_time
    if key == "duration":
        end = run.end_time if run.end_time is not None else now_ms
        return None if run.start_time is None else end - run.start_time
    if key == "disk":
        return run.disk_bytes
    if column.kind == "metric":
        point = run.metrics.get(column.field)
        return None if point is None or math.isnan(point.value) else point.value
    if column.kind == "param":
        value = run.params.get(column.field)
        if value is None:
            return None
        try:
            return float(value)
        except ValueError:
            return value.lower()
    text = cell(run, column, now_ms)
    return text.lower() if text else None


def sort_runs(runs: list[Run], column: Column, descending: bool, now_ms: int,
              value_of: Callable[[Run, Column, int], float | str | None] | None = None) -> list[Run]:
    """Runs ordered by `column`: numbers, then text, then runs without a value (in both
    directions). `value_of` replaces `sort_value` (a grouped table's rows: group_rows.py)."""
    value_of = value_of or sort_value
    numbers: list[tuple[float, Run]] = []
    texts: list[tuple[str, Run]] = []
    missing: list[Run] = []
    for run in runs:
        value = value_of(run, column, now_ms)
        if value is None:
            missing.append(run)
        elif isinstance(value, str):
            texts.append((value, run))
        else:
            numbers.append((value, run))
    numbers.sort(key=lambda pair: pair[0], reverse=descending)
    texts.sort(key=lambda pair: pair[0], reverse=descending)
    return [r for _, r in numbers] + [r for _, r in texts] + missing


def hidden_to_remember(columns: list[Column], hidden: set[str], limit: int) -> list[str]:
    """The hidden keys that make the table look as it does now, in column order. The table
    shows at most `limit` columns, so past the last one shown, every column is off without the
    user having hidden it: a run with 100,000 metrics must not write 99,900 keys to config.toml."""
    shown = [i for i, c in enumerate(columns) if c.key not in hidden][:limit]
    end = shown[-1] if len(shown) == limit else len(columns)
    return [c.key for c in columns[:end] if c.key in hidden]
