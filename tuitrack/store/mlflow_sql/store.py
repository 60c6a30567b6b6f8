"""MLflow's SQLite store (`mlflow.db`), read as MLflow's SQL store reads it and changed as it does.

Reads go through a read-only connection per thread (SQLite refuses writes on it), each listing in
one transaction so that a training process committing meanwhile is seen whole or not at all.
Changes (see writes.py) open their own connection, one transaction per change, and only on a
schema version tuitrack was tested against.

Metric points are read back exactly as MLflow returns them: NaN is stored as 0 with `is_nan`, and
±infinity as ±1.7976931348623157e308 (MLflow's own clamping), so values equal MLflow's client's.
"""

from __future__ import annotations

import os
import sqlite3
import threading
from collections.abc import Iterable

from tuitrack.model import (
    DATASET_CONTEXT_TAG,
    NOTE_TAG,
    PARENT_RUN_TAG,
    RUN_NAME_TAG,
    DatasetInput,
    Experiment,
    Lifecycle,
    MetricPoint,
    Problem,
    Run,
    RunStatus,
)
from tuitrack.store import purge_plan
from tuitrack.store.base import (
    MIN_PREFIX,
    Change,
    MetricHistory,
    PurgeResult,
    RunNotFound,
    Store,
    StoreError,
    refuse_ambiguous,
)
from tuitrack.store.mlflow_sql import schema, writes
from tuitrack.store.mlflow_sql.changes import ChangeTracker
from tuitrack.store.purge_plan import PurgePlan

RUN_COLUMNS = ("run_uuid, name, user_id, status, start_time, end_time, lifecycle_stage, artifact_uri, "
               "experiment_id, deleted_time")
# Tags a run needs before its data is read: where it sits in the tree and what it is called.
IDENTITY_TAGS = (PARENT_RUN_TAG, RUN_NAME_TAG)
NAN = float("nan")


def _point(timestamp: int | None, value: float, step: int | None, is_nan: int) -> MetricPoint:
    return MetricPoint(timestamp or 0, NAN if is_nan else float(value), step or 0)


class MlflowSqliteStore(Store):
    """An `mlflow.db` file. `location` is what the user typed (a path or a sqlite:/// URI)."""

    default_experiment_id = "0"
    # A run's rows share the database file with every other run's: its size is not knowable, and
    # "Disk 0 B" for a run of a million metric rows misled. The app shows no Disk; `prune` and
    # `gc` still count the local artifacts a purge frees (disk_usage).
    measures_disk = False

    def __init__(self, path: str, location: str | None = None):
        self.path = os.path.abspath(path)
        self.location = location or path
        self.root = os.path.dirname(self.path)  # purge never removes artifacts outside this folder
        self.watch_files = (self.path, self.path + "-wal", self.path + "-journal")
        self.ask_every = 1.0  # a change the file events missed (or rate-limited) shows within a second
        self._local = threading.local()
        conn = self._conn()
        schema.check_readable(conn, self.location)
        self.schema_version = schema.schema_version(conn)
        self._tracker = ChangeTracker()

    # -- connections --------------------------------------------------------------------------------

    def _conn(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._local.conn = schema.connect_read_only(self.path)
        return conn

    def _read(self, sql: str, args: Iterable[object] = ()) -> list[tuple]:
        try:
            return self._conn().execute(sql, tuple(args)).fetchall()
        except sqlite3.Error as exc:
            raise StoreError(f"{self.location}: cannot read the database ({exc})") from None

    def _snapshot(self):
        """A read transaction: every query inside sees the same committed state."""
        return _Snapshot(self._conn(), self.location)

    # -- experiments ------------------------------------------------------------------------------

    def experiments(self, include_deleted: bool = False) -> list[Experiment]:
        with self._snapshot():
            rows = self._read("SELECT experiment_id, name, artifact_location, lifecycle_stage, creation_time, "
                              "last_update_time FROM experiments ORDER BY experiment_id")
            tags = self._read("SELECT experiment_id, key, value FROM experiment_tags")
        by_id: dict[str, dict[str, str]] = {}
        for eid, key, value in tags:
            by_id.setdefault(str(eid), {})[key] = value or ""
        result = []
        for eid, name, location, stage, created, updated in rows:
            problems = []
            lifecycle = _lifecycle(stage, f"experiments/{eid}", problems)
            experiment = Experiment(str(eid), name or "", lifecycle, location, created, updated,
                                    by_id.get(str(eid), {}), problems)
            if include_deleted or not experiment.is_deleted:
                result.append(experiment)
        return result

    # -- runs -------------------------------------------------------------------------------------

    def runs(self, experiment: Experiment, include_deleted: bool = False, with_data: bool = True) -> list[Run]:
        return [run for _, run in self.all_runs([experiment], include_deleted, with_data)]

    def all_runs(self, experiments: list[Experiment], include_deleted: bool = False,
                 with_data: bool = True) -> list[tuple[Experiment, Run]]:
        """Four queries for any number of runs: rows, tags, params, latest metrics."""
        by_id = {e.experiment_id: e for e in experiments}
        if not by_id:
            return []
        marks = ",".join("?" * len(by_id))
        where = f"r.experiment_id IN ({marks})" + ("" if include_deleted else " AND r.lifecycle_stage = 'active'")
        args = [int(e) if e.isdigit() else e for e in by_id]
        with self._snapshot():
            rows = self._read(f"SELECT {RUN_COLUMNS} FROM runs r WHERE {where}", args)
            runs = {row[0]: self._run_from_row(row) for row in rows}
            tag_filter = "" if with_data else f" AND t.key IN ({','.join('?' * len(IDENTITY_TAGS))})"
            tag_args = args + ([] if with_data else list(IDENTITY_TAGS))
            self._fill(runs, "tags", f"SELECT t.run_uuid, t.key, t.value FROM tags t JOIN runs r "
                                     f"ON r.run_uuid = t.run_uuid WHERE {where}{tag_filter}", tag_args)
            if with_data:
                self._fill(runs, "params", f"SELECT p.run_uuid, p.key, p.value FROM params p JOIN runs r "
                                           f"ON r.run_uuid = p.run_uuid WHERE {where}", args)
                self._fill_metrics(runs, f"SELECT m.run_uuid, m.key, m.timestamp, m.value, m.step, m.is_nan "
                                         f"FROM latest_metrics m JOIN runs r ON r.run_uuid = m.run_uuid "
                                         f"WHERE {where}", args)
        for run in runs.values():
            run.run_name = run.run_name or run.tags.get(RUN_NAME_TAG, "")
        return [(by_id[run.experiment_id], run) for run in runs.values() if run.experiment_id in by_id]

    def _fill(self, runs: dict[str, Run], kind: str, sql: str, args: list) -> None:
        for run_id, key, value in self._read(sql, args):
            run = runs.get(run_id)
            if run is not None:
                getattr(run, kind)[key] = "" if value is None else value

    def _fill_metrics(self, runs: dict[str, Run], sql: str, args: list) -> None:
        for run_id, key, timestamp, value, step, is_nan in self._read(sql, args):
            run = runs.get(run_id)
            if run is not None:
                run.metrics[key] = _point(timestamp, value, step, is_nan)

    @staticmethod
    def _run_from_row(row: tuple) -> Run:
        run_id, name, user, status, start, end, stage, artifact_uri, eid, deleted = row
        problems: list[Problem] = []
        where = f"runs/{run_id}"
        parsed = RunStatus.__members__.get(status) if isinstance(status, str) else None
        if parsed is None:
            problems.append(Problem(where, f"status {status!r} is not an MLflow run status"))
        return Run(run_id=run_id, experiment_id=str(eid), run_name=name or "", status=parsed,
                   lifecycle_stage=_lifecycle(stage, where, problems), start_time=start, end_time=end,
                   deleted_time=deleted, user_id=user or "", artifact_uri=artifact_uri, problems=problems)

    def load_data(self, run: Run) -> None:
        with self._snapshot():
            run.tags = {k: v or "" for k, v in self._read("SELECT key, value FROM tags WHERE run_uuid = ?", [run.run_id])}
            run.params = {k: v or "" for k, v in self._read("SELECT key, value FROM params WHERE run_uuid = ?", [run.run_id])}
            run.metrics = {row[0]: _point(*row[1:]) for row in self._read(
                "SELECT key, timestamp, value, step, is_nan FROM latest_metrics WHERE run_uuid = ?", [run.run_id])}
        run.run_name = run.run_name or run.tags.get(RUN_NAME_TAG, "")

    def read_run(self, experiment: Experiment, run_id: str) -> Run | None:
        with self._snapshot():
            rows = self._read(f"SELECT {RUN_COLUMNS} FROM runs WHERE run_uuid = ?", [run_id])
            if not rows:
                return None
            run = self._run_from_row(rows[0])
            self.load_data(run)
        return run

    def find_run(self, run_id: str) -> Run:
        rows = self._read(f"SELECT {RUN_COLUMNS} FROM runs WHERE run_uuid = ?", [run_id])
        if not rows and len(run_id) >= MIN_PREFIX:
            rows = self._read(f"SELECT {RUN_COLUMNS} FROM runs WHERE substr(run_uuid, 1, ?) = ? LIMIT 6",
                              [len(run_id), run_id])
        refuse_ambiguous(run_id, [row[0] for row in rows])
        if not rows:
            raise RunNotFound(f"no run {run_id!r} in {self.location}")
        run = self._run_from_row(rows[0])
        self.load_data(run)
        return run

    def latest_metric(self, run: Run, key: str) -> MetricPoint | None:
        rows = self._read("SELECT timestamp, value, step, is_nan FROM latest_metrics WHERE run_uuid = ? AND key = ?",
                          [run.run_id, key])
        return _point(*rows[0]) if rows else None

    def dataset_inputs(self, run: Run) -> list[DatasetInput]:
        """From MLflow's inputs, datasets and input_tags tables (absent before MLflow 2.4: none)."""
        tables = {row[0] for row in self._read("SELECT name FROM sqlite_master WHERE type = 'table' "
                                               "AND name IN ('inputs', 'datasets', 'input_tags')")}
        if len(tables) < 3:
            return []
        rows = self._read(
            "SELECT d.name, d.digest, t.value FROM inputs i JOIN datasets d ON d.dataset_uuid = i.source_id "
            "LEFT JOIN input_tags t ON t.input_uuid = i.input_uuid AND t.name = ? "
            "WHERE i.destination_type = 'RUN' AND i.destination_id = ? AND i.source_type = 'DATASET' "
            "ORDER BY i.rowid", [DATASET_CONTEXT_TAG, run.run_id])
        return [DatasetInput(str(name), str(digest), None if context is None else str(context))
                for name, digest, context in rows]

    def last_write(self, run: Run) -> int | None:
        rows = self._read("SELECT max(timestamp) FROM latest_metrics WHERE run_uuid = ?", [run.run_id])
        newest = rows[0][0] if rows else None
        return max(filter(None, (newest, run.start_time)), default=None)

    # -- metric histories: the cursor is the largest rowid read, so growth costs only new rows ----

    def metric_history(self, run: Run, key: str) -> MetricHistory:
        """All points in MLflow's order (timestamp, step, value), as get_metric_history gives them."""
        history = MetricHistory(run_id=run.run_id, key=key, where=f"metrics/{run.run_id}/{key}")
        rows = self._read("SELECT rowid, timestamp, value, step, is_nan FROM metrics WHERE run_uuid = ? AND key = ? "
                          "ORDER BY timestamp, step, value", [run.run_id, key])
        history.points = [_point(*row[1:]) for row in rows]
        history.cursor = max((row[0] for row in rows), default=0)
        return history

    def read_new_points(self, history: MetricHistory) -> list[MetricPoint]:
        # by the rowid alone: the rows logged since, whatever the metric's length (see changes.py)
        rows = self._read("SELECT rowid, timestamp, value, step, is_nan FROM metrics NOT INDEXED WHERE rowid > ? "
                          "AND run_uuid = ? AND key = ? ORDER BY rowid", [history.cursor or 0, history.run_id, history.key])
        new = [_point(*row[1:]) for row in rows]
        if rows:
            history.cursor = rows[-1][0]
            history.points.extend(new)
        return new

    # -- live: asked, not classified (the database is one file) -----------------------------------

    def start_counting_changes(self) -> None:
        self.changes(set())  # the tracker's first look only takes its snapshot

    def changes(self, paths: set[str]) -> list[Change]:
        with self._snapshot():
            try:
                return self._tracker.poll(self._conn())
            except sqlite3.Error as exc:
                raise StoreError(f"{self.location}: cannot read the database ({exc})") from None

    # -- sizes -------------------------------------------------------------------------------------

    def disk_usage(self, run: Run) -> int | None:
        """The run's local artifacts (what a purge frees besides its rows); None when elsewhere."""
        path, _ = purge_plan.local_path(run.artifact_uri)
        if path is None:
            return None
        place = purge_plan.canonical(path)
        if not purge_plan.is_within(place, purge_plan.canonical(self.root)) or not os.path.lexists(place):
            return 0
        return purge_plan.disk_bytes(place)

    # -- changes: one transaction each, as MLflow's SQL store makes them --------------------------

    def _writer(self) -> writes.SqlWriter:
        return writes.SqlWriter(self.path, self.location, self.schema_version)

    def set_tags(self, run: Run, tags: dict[str, str], force: bool = False) -> None:
        self._writer().set_tags(run.run_id, tags, force)

    def delete_tags(self, run: Run, keys: list[str], force: bool = False) -> None:
        self._writer().delete_tags(run.run_id, keys, force)

    def set_note(self, run: Run, text: str) -> None:
        self._writer().set_tags(run.run_id, {NOTE_TAG: text}, force=True)

    def rename_run(self, run: Run, name: str) -> None:
        self._writer().rename(run.run_id, name)

    def delete_run(self, run: Run) -> None:
        self._writer().set_lifecycle(run.run_id, Lifecycle.DELETED)

    def restore_run(self, run: Run) -> None:
        self._writer().set_lifecycle(run.run_id, Lifecycle.ACTIVE)

    def terminate_run(self, run: Run, status: RunStatus, end_time: int | None) -> None:
        self._writer().terminate(run.run_id, status, end_time)

    def delete_experiment(self, experiment: Experiment) -> None:
        self._writer().set_experiment_lifecycle(experiment.experiment_id, Lifecycle.DELETED)

    def restore_experiment(self, experiment: Experiment) -> None:
        self._writer().set_experiment_lifecycle(experiment.experiment_id, Lifecycle.ACTIVE)

    def plan_purge(self, runs: list[Run], experiments: list[Experiment]) -> PurgePlan:
        return self._writer().plan_purge([r.run_id for r in runs], [e.experiment_id for e in experiments],
                                         self.root)

    def execute_purge(self, plan: PurgePlan) -> PurgeResult:
        return self._writer().execute_purge(plan)


class _Snapshot:
    """BEGIN … COMMIT around reads, so they share one view; nested use is a no-op."""

    def __init__(self, conn: sqlite3.Connection, location: str):
        self.conn = conn
        self.location = location
        self.outer = False

    def __enter__(self) -> None:
        if not self.conn.in_transaction:
            try:
                self.conn.execute("BEGIN")
            except sqlite3.Error as exc:
                raise StoreError(f"{self.location}: cannot read the database ({exc})") from None
            self.outer = True

    def __exit__(self, *exc_info) -> None:
        if self.outer:
            try:
                self.conn.execute("COMMIT")
            except sqlite3.Error:
                pass


def _lifecycle(stage: object, where: str, problems: list[Problem]) -> Lifecycle:
    try:
        return Lifecycle(stage)
    except ValueError:
        problems.append(Problem(where, f"lifecycle_stage {stage!r} is neither active nor deleted"))
        return Lifecycle.ACTIVE
