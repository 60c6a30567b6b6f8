"""Experiments for formats that have none of their own, only a name on each run.

entrenar names a run's experiment in its record; fetch_ml names a job. tuitrack groups runs by
that name. The experiment id is derived from the name, so it stays the same from one listing to
the next and across processes (the CLI's ids match the app's). Runs whose record cannot be read
cannot say which experiment they belong to: they are gathered in one experiment of their own, so
that they are shown with their problems instead of vanishing.
"""

from __future__ import annotations

import hashlib

from tuitrack.model import Experiment

UNREADABLE_ID = "unreadable"
UNREADABLE_NAME = "(unreadable runs)"


def experiment_id_for(name: str) -> str:
    """A stable id for an experiment known only by its name."""
    return hashlib.sha1(name.encode("utf-8", "surrogatepass")).hexdigest()[:12]


def experiments_from(names_and_times: list[tuple[str | None, int | None]]) -> list[Experiment]:
    """One experiment per distinct name (None: unreadable), created at its earliest run's start.

    Sorted by name, the unreadable group last.
    """
    first: dict[str | None, int | None] = {}
    for name, start in names_and_times:
        if name not in first:
            first[name] = start
        elif start is not None and (first[name] is None or start < first[name]):
            first[name] = start
    experiments = []
    for name in sorted(first, key=lambda n: (n is None, n or "")):
        if name is None:
            experiments.append(Experiment(UNREADABLE_ID, UNREADABLE_NAME, creation_time=first[name]))
        else:
            experiments.append(Experiment(experiment_id_for(name), name, creation_time=first[name]))
    return experiments
