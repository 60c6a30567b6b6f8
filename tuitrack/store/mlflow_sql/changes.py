"""What changed in an MLflow database since the last look, without reading it all again.

A file event on `mlflow.db` (or its journal) says only that *something* was committed. This asks
the database what, cheaply:
- `PRAGMA data_version` first: unchanged means nobody committed, and the look costs nothing more.
- Metrics and params are only ever inserted, so rows past the largest rowid seen last time are
  exactly the new ones (a range scan on the rowid: the cost of the new rows, not of the history;
  `NOT INDEXED` keeps SQLite from scanning MLflow's (run, key, step) index instead, 200x slower).
- Run rows and tags are updated in place, so they are compared with a snapshot (a tuple per run,
  a hash of each run's tags); that scan is done at most once a second, however fast a training
  process writes, and the store is asked again a second later so nothing waits longer.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable

from tuitrack.store.base import Change

FULL_EVERY_S = 1.0
RUN_SNAPSHOT = ("SELECT run_uuid, experiment_id, name, status, start_time, end_time, lifecycle_stage, "
                "deleted_time, user_id, artifact_uri FROM runs")
TAG_SNAPSHOT = ("SELECT run_uuid, group_concat(key || char(0) || coalesce(value, ''), char(1)) "
                "FROM tags GROUP BY run_uuid")
EXPERIMENT_SNAPSHOT = ("SELECT experiment_id, name, lifecycle_stage, last_update_time, "
                       "(SELECT group_concat(key || char(0) || coalesce(value, ''), char(1)) "
                       " FROM experiment_tags t WHERE t.experiment_id = e.experiment_id) FROM experiments e")


class ChangeTracker:
    """Remembers what one database looked like; `poll` says what differs now."""

    def __init__(self, clock: Callable[[], float] = time.monotonic):
        self.clock = clock
        self._version: tuple[int, int] | None = None  # (connection id, data_version)
        self._metric_mark = 0
        self._param_mark = 0
        self._runs: dict[str, tuple] = {}
        self._tags: dict[str, int] = {}
        self._experiments: int | None = None
        self._last_full = float("-inf")
        self._full_due = True

    def poll(self, conn: sqlite3.Connection) -> list[Change]:
        version = (id(conn), conn.execute("PRAGMA data_version").fetchone()[0])
        first = self._version is None
        if version != self._version:
            self._full_due = True
        elif not self._full_due:
            return []
        self._version = version
        if first:
            self._metric_mark = _max_rowid(conn, "metrics")
            self._param_mark = _max_rowid(conn, "params")
            self._full_pass(conn)
            return []
        changes = self._appended(conn)
        if self._full_due and self.clock() - self._last_full >= FULL_EVERY_S:
            changes += self._full_pass(conn)
        return changes

    def _appended(self, conn: sqlite3.Connection) -> list[Change]:
        """New metric points and params, by rowid."""
        changes = []
        top = _max_rowid(conn, "metrics")
        if top < self._metric_mark:
            self._metric_mark = top  # rows purged from the end: rowids are handed out again
        for run_id, key, mark in conn.execute("SELECT run_uuid, key, max(rowid) FROM metrics NOT INDEXED WHERE rowid > ? "
                                              "GROUP BY run_uuid, key", (self._metric_mark,)):
            changes.append(Change("metric", self._experiment_of(run_id), run_id, key))
            self._metric_mark = max(self._metric_mark, mark)
        top = _max_rowid(conn, "params")
        if top < self._param_mark:
            self._param_mark = top
        for run_id, mark in conn.execute("SELECT run_uuid, max(rowid) FROM params NOT INDEXED WHERE rowid > ? "
                                         "GROUP BY run_uuid", (self._param_mark,)):
            changes.append(Change("run", self._experiment_of(run_id), run_id))
            self._param_mark = max(self._param_mark, mark)
        return changes

    def _full_pass(self, conn: sqlite3.Connection) -> list[Change]:
        """Run rows, tags and experiments against the snapshot."""
        self._last_full = self.clock()
        self._full_due = False
        changes: list[Change] = []
        experiments = hash(tuple(conn.execute(EXPERIMENT_SNAPSHOT)))
        if self._experiments is not None and experiments != self._experiments:
            changes.append(Change("experiments"))
        self._experiments = experiments
        runs = {row[0]: row for row in conn.execute(RUN_SNAPSHOT)}
        tags = {run_id: hash(text) for run_id, text in conn.execute(TAG_SNAPSHOT)}
        for run_id in runs.keys() | self._runs.keys():
            row = runs.get(run_id) or self._runs[run_id]
            if runs.get(run_id) != self._runs.get(run_id) or tags.get(run_id) != self._tags.get(run_id):
                changes.append(Change("run", str(row[1]), run_id))
        self._runs, self._tags = runs, tags
        return changes

    def _experiment_of(self, run_id: str) -> str | None:
        row = self._runs.get(run_id)
        return None if row is None else str(row[1])


def _max_rowid(conn: sqlite3.Connection, table: str) -> int:
    return conn.execute(f"SELECT coalesce(max(rowid), 0) FROM {table}").fetchone()[0]
