"""Changing an MLflow SQLite database the way MLflow's SQL store (SqlAlchemyStore) does.

Each change is one `BEGIN IMMEDIATE` transaction: it waits (up to MLflow's own 20 s busy timeout)
for a training process that holds the write lock, then commits whole or not at all. The rows and
values written are MLflow's, statement for statement (mlflow/store/tracking/sqlalchemy_store.py);
where MLflow would lose something silently, tuitrack refuses and says why instead:
- a tag value over 8000 characters (MLflow truncates it);
- deleting a run that GenAI assessments came from (MLflow deletes them, and restoring the run
  does not bring them back).
"""

from __future__ import annotations

import os
import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager

from tuitrack.model import NOTE_TAG, RUN_NAME_TAG, Lifecycle, RunStatus
from tuitrack.store.base import PurgeResult, RunNotFound, StoreError
from tuitrack.store.mlflow_rules import ChangeRefused, check_user_tag, no_such_tag, validate_key
from tuitrack.store.mlflow_sql import schema
from tuitrack.store.purge_plan import (
    Guard,
    PurgePlan,
    Target,
    execute,
    experiment_owner,
    local_path,
    measure,
    plan_artifacts,
)

MAX_TAG_VALUE_LENGTH = 8000  # MLflow's MAX_TAG_VAL_LENGTH
# Rows that belong to a run, removed before the run itself (MLflow's _RUN_DELETE_CASCADE_MODELS).
RUN_CHILD_TABLES = ("metrics", "latest_metrics", "params", "tags")
ASSESSMENT_SOURCE = '"mlflow.assessment.sourceRunId": "{}"'


def now_ms() -> int:
    return int(time.time() * 1000)


class SqlWriter:
    """Makes changes to one database file, each in its own transaction."""

    def __init__(self, path: str, location: str, schema_version: str | None):
        self.path = path
        self.location = location
        self.schema_version = schema_version

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        schema.check_writable(self.schema_version, self.location)
        conn = schema.connect_read_write(self.path)
        try:
            conn.execute("BEGIN IMMEDIATE")
            # `mlflow db upgrade` may have run since the store was opened
            schema.check_writable(schema.schema_version(conn), self.location)
            yield conn
            conn.execute("COMMIT")
        except BaseException as exc:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            if isinstance(exc, sqlite3.Error) and not isinstance(exc, sqlite3.IntegrityError):
                raise StoreError(self._explain(exc)) from None
            raise
        finally:
            conn.close()

    def _look(self, sql: str, *args: object) -> list[tuple]:
        """A read before a change, on a connection of its own."""
        conn = schema.connect_read_only(self.path)
        try:
            return conn.execute(sql, args).fetchall()
        except sqlite3.Error as exc:
            raise StoreError(self._explain(exc)) from None
        finally:
            conn.close()

    def _explain(self, exc: sqlite3.Error) -> str:
        if "locked" in str(exc) or "busy" in str(exc):
            return (f"{self.location}: another process held the database's write lock for over "
                    f"{schema.BUSY_TIMEOUT_S:g} s; nothing was changed, try again")
        if "readonly" in str(exc) or "read-only" in str(exc):
            return f"{self.location}: the database (or its folder) is read-only for you; nothing was changed"
        return f"{self.location}: the database refused the change ({exc}); nothing was changed"

    def _run_row(self, conn: sqlite3.Connection, run_id: str) -> tuple[str, int | None, str]:
        row = conn.execute("SELECT status, end_time, lifecycle_stage FROM runs WHERE run_uuid = ?",
                           (run_id,)).fetchone()
        if row is None:
            raise RunNotFound(f"run {run_id} is gone from {self.location}")
        return row

    def _active_run(self, conn: sqlite3.Connection, run_id: str) -> None:
        if self._run_row(conn, run_id)[2] != Lifecycle.ACTIVE.value:
            raise ChangeRefused(f"{run_id} is deleted; restore it first (MLflow refuses changes too)")

    # -- tags, notes, names -------------------------------------------------------------------------

    def set_tags(self, run_id: str, tags: dict[str, str], force: bool = False) -> None:
        """MLflow's set_tag for each: an upsert, except that mlflow.runName renames the run."""
        for key, value in tags.items():
            validate_key(key)
            if key not in (RUN_NAME_TAG, NOTE_TAG):
                check_user_tag(key, force)
            if len(value) > MAX_TAG_VALUE_LENGTH:
                raise ChangeRefused(f"tag {key!r}: an MLflow database holds at most {MAX_TAG_VALUE_LENGTH} "
                                    f"characters per value (this one has {len(value)}); MLflow would cut it")
        with self._transaction() as conn:
            self._active_run(conn, run_id)
            for key, value in tags.items():
                if key == RUN_NAME_TAG:
                    self._rename(conn, run_id, value)
                else:
                    _upsert_tag(conn, run_id, key, value)

    def delete_tags(self, run_id: str, keys: list[str], force: bool = False) -> None:
        for key in keys:
            validate_key(key)
            check_user_tag(key, force)
        with self._transaction() as conn:
            self._active_run(conn, run_id)
            for key in keys:
                if conn.execute("DELETE FROM tags WHERE run_uuid = ? AND key = ?", (run_id, key)).rowcount == 0:
                    raise no_such_tag(run_id, key)

    def rename(self, run_id: str, name: str) -> None:
        if not name.strip():
            raise ChangeRefused("a run name cannot be empty")
        with self._transaction() as conn:
            self._active_run(conn, run_id)
            self._rename(conn, run_id, name)

    @staticmethod
    def _rename(conn: sqlite3.Connection, run_id: str, name: str) -> None:
        """update_run_info with a run_name: the runs.name column and the mlflow.runName tag."""
        conn.execute("UPDATE runs SET name = ? WHERE run_uuid = ?", (name, run_id))
        _upsert_tag(conn, run_id, RUN_NAME_TAG, name)

    def terminate(self, run_id: str, status: RunStatus, end_time: int | None) -> None:
        with self._transaction() as conn:
            self._active_run(conn, run_id)
            conn.execute("UPDATE runs SET status = ? WHERE run_uuid = ?", (status.name, run_id))
            if end_time is not None:
                conn.execute("UPDATE runs SET end_time = ? WHERE run_uuid = ?", (end_time, run_id))

    # -- soft delete and restore ----------------------------------------------------------------------

    def set_lifecycle(self, run_id: str, stage: Lifecycle) -> None:
        """MLflow's delete_run / restore_run: lifecycle_stage and deleted_time, nothing else."""
        with self._transaction() as conn:
            self._run_row(conn, run_id)
            if stage is Lifecycle.DELETED:
                _refuse_if_assessed(conn, [run_id])
                conn.execute("UPDATE runs SET lifecycle_stage = 'deleted', deleted_time = ? WHERE run_uuid = ?",
                             (now_ms(), run_id))
            else:
                conn.execute("UPDATE runs SET lifecycle_stage = 'active', deleted_time = NULL WHERE run_uuid = ?",
                             (run_id,))

    def set_experiment_lifecycle(self, experiment_id: str, stage: Lifecycle) -> None:
        """MLflow's delete_experiment / restore_experiment: the experiment and EVERY run in it
        (MLflow restores runs deleted before the experiment too; so does this)."""
        with self._transaction() as conn:
            row = conn.execute("SELECT lifecycle_stage FROM experiments WHERE experiment_id = ?",
                               (_experiment_key(experiment_id),)).fetchone()
            wanted_before = Lifecycle.ACTIVE if stage is Lifecycle.DELETED else Lifecycle.DELETED
            if row is None or row[0] != wanted_before.value:
                raise ChangeRefused(f"experiment {experiment_id} is not {wanted_before.value} here")
            when = now_ms()
            eid = _experiment_key(experiment_id)
            conn.execute("UPDATE experiments SET lifecycle_stage = ?, last_update_time = ? WHERE experiment_id = ?",
                         (stage.value, when, eid))
            if stage is Lifecycle.DELETED:
                run_ids = [r for (r,) in conn.execute("SELECT run_uuid FROM runs WHERE experiment_id = ?", (eid,))]
                _refuse_if_assessed(conn, run_ids)
                conn.execute("UPDATE runs SET lifecycle_stage = 'deleted', deleted_time = ? WHERE experiment_id = ?",
                             (when, eid))
            else:
                conn.execute("UPDATE runs SET lifecycle_stage = 'active', deleted_time = NULL WHERE experiment_id = ?",
                             (eid,))

    # -- purge ------------------------------------------------------------------------------------------

    def plan_purge(self, run_ids: list[str], experiment_ids: list[str], root: str) -> PurgePlan:
        """As `mlflow gc`: each run's local artifacts, then its rows; a deleted experiment after
        all its runs. Artifacts go only when they are the run's alone: inside `root` (the
        database's folder) and not the database, an experiment's artifact location, the shared
        artifact root or another run's artifacts, nor a folder holding any of those."""
        guard = Guard(root)
        for suffix in ("", "-wal", "-journal", "-shm"):
            guard.protect(self.path + suffix, "the database")
        purged = {str(e) for e in experiment_ids}
        for eid, location in self._look("SELECT experiment_id, artifact_location FROM experiments"):
            owner = experiment_owner(str(eid)) if str(eid) in purged else None
            guard.protect_uri(location, f"experiment {eid}'s artifact location", owner, inner=False)
        rows = self._look("SELECT run_uuid, name, experiment_id, artifact_uri FROM runs")
        for run_id, _, _, uri in rows:
            guard.protect_uri(uri, f"run {run_id}'s artifacts", run_id)
            path, _ = local_path(uri)
            if path is not None and os.path.basename(path) == "artifacts" \
                    and os.path.basename(os.path.dirname(path)) == run_id:
                guard.protect(os.path.dirname(path), f"run {run_id}'s folder", run_id, inner=True)
        by_id = {r[0]: r for r in rows}
        plan = PurgePlan()
        for run_id in run_ids:
            row = by_id.get(run_id)
            if row is None or str(row[2]) in purged:
                continue  # purged meanwhile, or goes with its experiment
            target = Target("run", run_id, row[1] or "", str(row[2]))
            plan_artifacts(guard, target, run_id, row[3], {run_id})
            plan.targets.append(target)
        for experiment_id in experiment_ids:
            names = self._look("SELECT name FROM experiments WHERE experiment_id = ?", _experiment_key(experiment_id))
            target = Target("experiment", str(experiment_id), names[0][0] if names else "")
            for run_id, _, eid, uri in rows:
                if str(eid) == str(experiment_id):
                    target.run_ids.append(run_id)
                    plan_artifacts(guard, target, run_id, uri, {run_id, experiment_owner(str(eid))})
            plan.targets.append(target)
        measure(plan)
        return plan

    def execute_purge(self, plan: PurgePlan) -> PurgeResult:
        schema.check_writable(self.schema_version, self.location)
        return execute(plan, self._check_still_deleted, self._forget)

    def _check_still_deleted(self, target: Target) -> None:
        if target.kind == "run":
            rows = self._look("SELECT lifecycle_stage FROM runs WHERE run_uuid = ?", target.id)
            if rows and rows[0][0] != Lifecycle.DELETED.value:
                raise ChangeRefused(f"run {target.id} is not deleted; delete it first")
            return
        rows = self._look("SELECT lifecycle_stage FROM experiments WHERE experiment_id = ?",
                          _experiment_key(target.id))
        if not rows or rows[0][0] != Lifecycle.DELETED.value:
            raise ChangeRefused(f"experiment {target.id} is not deleted; delete it first")

    def _forget(self, target: Target, result: PurgeResult) -> bool:
        """The rows of a target whose artifacts are gone (an experiment's runs first), and each
        run's folder that its artifacts leave empty."""
        run_ids = [target.id] if target.kind == "run" else target.run_ids
        for removal in target.removals:
            if os.path.basename(os.path.dirname(removal.path)) in run_ids:
                _remove_if_empty(os.path.dirname(removal.path))
        for run_id in run_ids:
            with self._transaction() as conn:
                for table in RUN_CHILD_TABLES:
                    conn.execute(f"DELETE FROM {table} WHERE run_uuid = ?", (run_id,))
                conn.execute("DELETE FROM runs WHERE run_uuid = ?", (run_id,))
            if target.kind == "experiment":
                result.removed.append(run_id)
        if target.kind == "run":
            return True
        eid = _experiment_key(target.id)
        try:
            with self._transaction() as conn:
                conn.execute("DELETE FROM experiment_tags WHERE experiment_id = ?", (eid,))
                conn.execute("DELETE FROM experiments WHERE experiment_id = ?", (eid,))
        except sqlite3.IntegrityError:
            result.warnings.append(f"experiment {target.id}: its runs are purged, but it still holds "
                                   f"traces, datasets or models; purge it with `mlflow gc`")
            return False
        return True


def _upsert_tag(conn: sqlite3.Connection, run_id: str, key: str, value: str) -> None:
    """session.merge(SqlTag(...)): insert, or replace the value of the same key."""
    conn.execute("INSERT INTO tags (key, value, run_uuid) VALUES (?, ?, ?) "
                 "ON CONFLICT (key, run_uuid) DO UPDATE SET value = excluded.value", (key, value, run_id))


def _experiment_key(experiment_id: str) -> int | str:
    return int(experiment_id) if experiment_id.isdigit() else experiment_id


def _refuse_if_assessed(conn: sqlite3.Connection, run_ids: list[str]) -> None:
    """MLflow deletes the GenAI assessments a run produced when it deletes the run; a restore
    cannot bring them back. tuitrack leaves such runs to MLflow rather than lose them."""
    try:
        for run_id in run_ids:
            pattern = "%" + ASSESSMENT_SOURCE.format(run_id) + "%"
            if conn.execute("SELECT 1 FROM assessments WHERE assessment_metadata LIKE ? LIMIT 1",
                            (pattern,)).fetchone():
                raise ChangeRefused(f"run {run_id} produced GenAI assessments, which MLflow deletes with the "
                                    f"run for good; delete it with MLflow's client if that is meant")
    except sqlite3.OperationalError:
        return  # no assessments table in this schema


def _remove_if_empty(folder: str) -> None:
    """MLflow's `<run_id>/` folder above `artifacts`, once empty (rmdir never removes more)."""
    try:
        if not os.path.islink(folder) and os.path.realpath(folder) == folder:
            os.rmdir(folder)
    except OSError:
        pass
