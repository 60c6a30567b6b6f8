"""How times, durations and metric values are written for people (CLI tables and the app alike)."""

from __future__ import annotations

import math
import re
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


def short_timestamp(ms: int | None, now_ms: int) -> str:
    """`11-19 02:30` within the current year, `2025-11-19` before it: fits narrow tables."""
    if ms is None:
        return "-"
    try:
        then, now = time.localtime(ms / 1000), time.localtime(now_ms / 1000)
    except (OverflowError, OSError, ValueError):
        return "-"
    return time.strftime("%m-%d %H:%M" if then.tm_year == now.tm_year else "%Y-%m-%d", then)


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


def _duration(run: Run, now_ms: int | None) -> str:
    if run.duration_ms is not None:
        return format_duration(run.duration_ms)
    if run.status is not None and run.status.name == "RUNNING" and run.start_time is not None:
        now_ms = int(time.time() * 1000) if now_ms is None else now_ms
        return f"{format_duration(now_ms - run.start_time)} so far"
    return "-"


def shown_name(run: Run) -> str:
    """What stands where a run's name would: the name, or for a run without one (old stores
    wrote `run_name: ''` and no tag) the start of its id, `a1b2c3d4…`."""
    return run.run_name or f"{run.run_id[:8]}…"


def run_overview(run: Run, experiment: Experiment | None, now_ms: int | None = None) -> list[tuple[str, str]]:
    """(label, value) rows that say what a run is: the top of `show` and of the detail pane."""
    experiment_label = f"{experiment.name} ({experiment.experiment_id})" if experiment else run.experiment_id
    if experiment is not None and experiment.is_deleted:
        experiment_label += "  (deleted experiment)"
    status = run.status.name if run.status else "unknown"
    version = [("Version", run.version or "-")] if run.dialect or run.version is not None else []
    return [
        ("Name", run.run_name or "-"),
        *version,
        ("Run id", run.run_id),
        ("Status", status + ("  (deleted)" if run.is_deleted else "")),
        ("Experiment", experiment_label),
        ("Started", f"{format_timestamp(run.start_time)}  {format_age(run.start_time, now_ms)}"),
        ("Ended", format_timestamp(run.end_time)),
        ("Duration", _duration(run, now_ms)),
        ("User", run.user_id or "-"),
        ("Source", run.tags.get(SOURCE_NAME_TAG, "-")),
        ("Parent", run.parent_run_id or "-"),
        ("Artifacts", _artifacts(run)),
    ]


def _artifacts(run: Run) -> str:
    if run.artifacts_moved_from:
        return f"{run.artifact_uri}  (moved from {run.artifacts_moved_from})"
    return run.artifact_uri or "-"


_DURATION = re.compile(r"^(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?$")


def duration_ms(text: str) -> int:
    """`1d2h3m4s` (any part may be left out, as `mlflow gc --older-than` reads it) in ms."""
    match = _DURATION.match(text.strip())
    if not text.strip() or not match:
        raise ValueError(f"{text!r} is not a duration like 30d, 12h, 1d2h3m4s")
    days, hours, minutes, seconds = (int(g or 0) for g in match.groups())
    return (((days * 24 + hours) * 60 + minutes) * 60 + seconds) * 1000


def duration_text(ms: int) -> str:
    """The inverse of `duration_ms`: `30d`, `1d2h`, `90s` as `1m30s` (0 is `0s`)."""
    seconds = ms // 1000
    parts = []
    for unit, size in (("d", 86_400), ("h", 3_600), ("m", 60), ("s", 1)):
        amount, seconds = divmod(seconds, size)
        if amount:
            parts.append(f"{amount}{unit}")
    return "".join(parts) or "0s"
