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

import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tuitrack.model import NOTE_TAG, RUN_NAME_TAG, Lifecycle, RunStatus
from tuitrack.store.base import PurgeResult, RunNotFound, StoreError
from tuitrack.store.mlflow_file import purge as local_files
from tuitrack.store.mlflow_rules import ChangeRefused, check_user_tag, no_such_tag, validate_key
from tuitrack.store.mlflow_sql import schema

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

    def purge(self, run_ids: list[str], experiment_ids: list[str], root: Path) -> PurgeResult:
        """As `mlflow gc`: each run's artifacts first (only local ones inside `root`), then its rows;
        a deleted experiment after all its runs. The database file keeps its size (SQLite reuses
        the pages) until `VACUUM`."""
        result = PurgeResult()
        schema.check_writable(self.schema_version, self.location)
        for run_id in run_ids:
            self._purge_run(run_id, root, result, require_deleted=True)
        for experiment_id in experiment_ids:
            eid = _experiment_key(experiment_id)
            rows = self._look("SELECT lifecycle_stage FROM experiments WHERE experiment_id = ?", eid)
            runs = [r for (r,) in self._look("SELECT run_uuid FROM runs WHERE experiment_id = ?", eid)]
            if not rows or rows[0][0] != Lifecycle.DELETED.value:
                raise ChangeRefused(f"experiment {experiment_id} is not deleted; delete it first")
            for run_id in runs:
                self._purge_run(run_id, root, result, require_deleted=False)
            try:
                with self._transaction() as conn:
                    conn.execute("DELETE FROM experiment_tags WHERE experiment_id = ?", (eid,))
                    conn.execute("DELETE FROM experiments WHERE experiment_id = ?", (eid,))
            except sqlite3.IntegrityError:
                result.warnings.append(f"experiment {experiment_id}: its runs are purged, but it still holds "
                                       f"traces, datasets or models; purge it with `mlflow gc`")
                continue
            result.removed.append(experiment_id)
        return result

    def _purge_run(self, run_id: str, root: Path, result: PurgeResult, require_deleted: bool) -> None:
        rows = self._look("SELECT lifecycle_stage, artifact_uri FROM runs WHERE run_uuid = ?", run_id)
        if not rows:
            return  # purged by someone else meanwhile
        row = rows[0]
        if require_deleted and row[0] != Lifecycle.DELETED.value:
            raise ChangeRefused(f"run {run_id} is not deleted; delete it first")
        _remove_artifacts(run_id, row[1], root, result)
        with self._transaction() as conn:
            for table in RUN_CHILD_TABLES:
                conn.execute(f"DELETE FROM {table} WHERE run_uuid = ?", (run_id,))
            conn.execute("DELETE FROM runs WHERE run_uuid = ?", (run_id,))
        result.removed.append(run_id)


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


def _remove_artifacts(run_id: str, artifact_uri: str | None, root: Path, result: PurgeResult) -> None:
    """The run's local artifact folder, if it is inside `root` (the database's folder), then the
    run's folder above it when that is left empty."""
    folder = local_files.artifact_folder(artifact_uri)
    if folder is None:
        if artifact_uri:
            result.warnings.append(f"{run_id}: artifacts at {artifact_uri} are not local: left in place")
        return
    if not folder.exists() and not folder.is_symlink():
        return
    if not local_files.inside(root, folder.parent) or not local_files.inside(root, folder) and not folder.is_symlink():
        result.warnings.append(f"{run_id}: artifacts at {folder} are outside {root}: left in place")
        return
    try:
        local_files.remove_tree(root, folder, result)
        if folder.name == "artifacts" and folder.parent.name == run_id and not any(folder.parent.iterdir()):
            folder.parent.rmdir()
    except OSError as exc:
        raise StoreError(f"{run_id}: cannot remove artifacts at {folder} ({exc.strerror or exc}); "
                         f"the run's rows are kept") from None
