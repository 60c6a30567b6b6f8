"""The quick filter behind `/`: a run matches when every word of the query appears somewhere in
it: name, id, experiment name, status, user, a param or tag key or value, or a metric key.

Case-insensitive substring matching, the way people search a list as they type: `lr=0.01 adam`
finds runs with that param value and that optimizer. A word with `=` matches `key=value` pairs.
"""

from __future__ import annotations

from tuitrack.formatting import format_value
from tuitrack.model import Run


def haystack(run: Run, experiment_name: str = "") -> str:
    """All the text a run can be found by, lower-cased, one field per line."""
    parts = [run.run_name, run.run_id, experiment_name, run.user_id]
    if run.status is not None:
        parts.append(run.status.name)
    if run.version is not None:
        parts.append(f"version={run.version}")
    for key, value in run.params.items():
        parts.append(f"{key}={value}")
    for key, value in run.tags.items():
        parts.append(f"{key}={value}")
    for key, point in run.metrics.items():
        parts.append(f"{key}={format_value(point.value)}")
    return "\n".join(parts).lower()


def matches(run: Run, query: str, experiment_name: str = "") -> bool:
    words = query.lower().split()
    if not words:
        return True
    text = haystack(run, experiment_name)
    return all(word in text for word in words)
