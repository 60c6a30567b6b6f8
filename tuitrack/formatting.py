"""How times, durations and metric values are written for people (CLI tables and the app alike)."""

from __future__ import annotations

import math
import time

from tuitrack.model import SOURCE_NAME_TAG, Experiment, Run


def format_timestamp(ms: int | None) -> str:
    """Local wall time, to the second: `2026-11-23 20:09:49`."""
    if ms is None:
        return "-"
    try:
        return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(ms / 1000))
    except (OverflowError, OSError, ValueError):
        return f"{ms} ms"


def format_duration(ms: int | None) -> str:
    """A short duration: `850ms`, `42s`, `3m05s`, `2h07m`, `3d04h`."""
    if ms is None:
        return "-"
    if ms < 0:
        return "-" + format_duration(-ms)
    if ms < 1000:
        return f"{ms}ms"
    seconds = ms // 1000
    if seconds < 60:
        return f"{seconds}s"
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes}m{seconds:02d}s"
    hours, minutes = divmod(minutes, 60)
    if hours < 24:
        return f"{hours}h{minutes:02d}m"
    days, hours = divmod(hours, 24)
    return f"{days}d{hours:02d}h"


def format_age(ms: int | None, now_ms: int | None = None) -> str:
    """How long ago: `just now`, `5m ago`, `3h ago`, `12d ago`."""
    if ms is None:
        return "-"
    now_ms = int(time.time() * 1000) if now_ms is None else now_ms
    delta = now_ms - ms
    if delta < 60_000:
        return "just now" if delta >= -60_000 else "in the future"
    minutes = delta // 60_000
    if minutes < 60:
        return f"{minutes}m ago"
    hours = minutes // 60
    if hours < 48:
        return f"{hours}h ago"
    return f"{hours // 24}d ago"


def format_value(value: float, digits: int = 6) -> str:
    """A metric value in at most about `digits` significant digits: `0.123457`, `1e+300`, `nan`."""
    if math.isnan(value):
        return "nan"
    if math.isinf(value):
        return "inf" if value > 0 else "-inf"
    if value == int(value) and abs(value) < 1e15:
        return str(int(value))
    return f"{value:.{digits}g}"


def format_bytes(size: int) -> str:
    """`512 B`, `1.5 KiB`, `3.2 GiB`."""
    value = float(size)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if value < 1024 or unit == "TiB":
            return f"{int(value)} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    raise AssertionError("unreachable")


def run_overview(run: Run, experiment: Experiment | None, now_ms: int | None = None) -> list[tuple[str, str]]:
    """(label, value) rows that say what a run is: the top of `show` and of the detail pane."""
    experiment_label = f"{experiment.name} ({experiment.experiment_id})" if experiment else run.experiment_id
    status = run.status.name if run.status else "unknown"
    return [
        ("Name", run.run_name or "-"),
        ("Run id", run.run_id),
        ("Status", status + ("  (deleted)" if run.is_deleted else "")),
        ("Experiment", experiment_label),
        ("Started", f"{format_timestamp(run.start_time)}  {format_age(run.start_time, now_ms)}"),
        ("Ended", format_timestamp(run.end_time)),
        ("Duration", format_duration(run.duration_ms)),
        ("User", run.user_id or "-"),
        ("Source", run.tags.get(SOURCE_NAME_TAG, "-")),
        ("Parent", run.parent_run_id or "-"),
        ("Artifacts", run.artifact_uri or "-"),
    ]
