"""Runs grouped by params: the runs of a sweep that differ only in what is not grouped by (a
seed, say) are one group, summarized by the count of its runs and, for each metric, the mean,
sample standard deviation, min and max of the runs' latest values.

A run lacking a metric does not count for it, and neither does a latest value that is not a
finite number (NaN, inf): they would make every figure of the group NaN. A run lacking a param
grouped by is in the group whose value is missing (None), never dropped.

Plain Python over model objects: `tuitrack ls --group-by` and the app's grouped table share it.
"""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass, field

from tuitrack.formatting import format_value
from tuitrack.model import Run

MISSING = "(missing)"  # how a missing param value reads in tables and labels


class GroupKeyError(ValueError):
    """A `--group-by` key that is not a param (`params.lr`)."""


def parse_group_by(text: str) -> list[str]:
    """The param keys of `params.lr,params.batch` (also `param.lr`, as MLflow's filters take it),
    in order and without repeats."""
    keys: list[str] = []
    for part in text.split(","):
        part = part.strip()
        prefix, dot, key = part.partition(".")
        if not dot or prefix.lower() not in ("params", "param") or not key:
            raise GroupKeyError(f"cannot group by {part!r}: give a param as params.KEY (e.g. params.lr)")
        if key not in keys:
            keys.append(key)
    return keys


@dataclass(frozen=True, slots=True)
class MetricStats:
    """One metric's latest values over a group's runs that have a finite one (`count` of them)."""

    count: int
    mean: float | None
    std: float | None  # sample standard deviation (n - 1); None for fewer than two values
    min: float | None
    max: float | None

    @classmethod
    def of(cls, values: list[float]) -> MetricStats:
        if not values:
            return cls(0, None, None, None, None)
        mean = math.fsum(values) / len(values)
        std = statistics.stdev(values, mean) if len(values) > 1 else None
        return cls(len(values), mean, std, min(values), max(values))


@dataclass(slots=True)
class RunGroup:
    """The runs sharing one value (or a missing one) of each param grouped by."""

    keys: tuple[str, ...]
    values: tuple[str | None, ...]  # per key; None: the runs lack that param
    runs: list[Run] = field(default_factory=list)
    metrics: dict[str, MetricStats] = field(default_factory=dict)  # sorted by key

    @property
    def count(self) -> int:
        return len(self.runs)

    @property
    def group_id(self) -> str:
        """A stable id, unlike any run id (the app marks groups and runs in one place)."""
        return "group:" + "\x1f".join("\x00" if v is None else v for v in self.values)

    def label(self) -> str:
        """`lr=0.01 batch=64`, a missing value said as such (`lr (missing)`); store text, raw."""
        return " ".join(f"{k} {MISSING}" if v is None else f"{k}={v}" for k, v in zip(self.keys, self.values))


def mean_std(stats: MetricStats | None, runs: int) -> str:
    """`0.1234 ± 0.005` for people; `(n=2)` when fewer of the group's `runs` have a value;
    `-` when none has."""
    if stats is None or stats.mean is None:
        return "-"
    text = format_value(stats.mean, 4)
    if stats.std is not None:
        text += f" ± {format_value(stats.std, 2)}"
    if stats.count < runs:
        text += f" (n={stats.count})"
    return text


def group_runs(runs: list[Run], keys: list[str]) -> list[RunGroup]:
    """The groups of `runs` by the params `keys`, ordered by their values (numbers as numbers,
    then text; a missing value last), each group's runs in the given order."""
    found: dict[tuple[str | None, ...], RunGroup] = {}
    for run in runs:
        values = tuple(run.params.get(k) for k in keys)
        group = found.get(values)
        if group is None:
            group = found[values] = RunGroup(tuple(keys), values)
        group.runs.append(run)
    for group in found.values():
        latest: dict[str, list[float]] = {}
        for run in group.runs:
            for key, point in run.metrics.items():
                values_of = latest.setdefault(key, [])
                if math.isfinite(point.value):
                    values_of.append(point.value)
        group.metrics = {k: MetricStats.of(latest[k]) for k in sorted(latest)}
    return sorted(found.values(), key=lambda g: tuple(_value_order(v) for v in g.values))


def _value_order(value: str | None) -> tuple[int, float, str]:
    if value is None:
        return (2, 0.0, "")
    try:
        number = float(value)
    except ValueError:
        return (1, 0.0, value)
    return (0, number, value) if math.isfinite(number) else (1, 0.0, value)
