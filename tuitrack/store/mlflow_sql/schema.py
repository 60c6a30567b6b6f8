"""Opening an MLflow SQLite database, and knowing which of its schemas tuitrack may write to.

MLflow creates its tables with alembic and records the migration it reached in
`alembic_version`. Reading needs only the columns MLflow's run tables have had for years, so any
version with them is read. Writing must do exactly what MLflow's SQL store does, and that is known
only for the schemas tested here: other versions are refused for writes, with the reason.
"""

from __future__ import annotations

import os
import sqlite3
from urllib.parse import quote

from tuitrack.store.base import StoreError

# alembic head -> the MLflow release whose SQL store tuitrack's writes were checked against
TESTED_SCHEMAS = {"dc11669786a5": "MLflow 3.17"}

# What tuitrack reads, table by table; a database without these is not an MLflow tracking store.
REQUIRED_COLUMNS = {
    "experiments": {"experiment_id", "name", "artifact_location", "lifecycle_stage",
                    "creation_time", "last_update_time"},
    "experiment_tags": {"key", "value", "experiment_id"},
    "runs": {"run_uuid", "name", "user_id", "status", "start_time", "end_time", "lifecycle_stage",
             "artifact_uri", "experiment_id", "deleted_time"},
    "tags": {"key", "value", "run_uuid"},
    "params": {"key", "value", "run_uuid"},
    "metrics": {"key", "value", "timestamp", "step", "is_nan", "run_uuid"},
    "latest_metrics": {"key", "value", "timestamp", "step", "is_nan", "run_uuid"},
}
BUSY_TIMEOUT_S = 20.0  # MLflow's own busy_timeout: a training process may hold the write lock


class SchemaRefused(StoreError):
    """The database's schema is not one tuitrack writes to."""


def connect_read_only(path: str) -> sqlite3.Connection:
    """A connection that cannot change the database (SQLite enforces it, not tuitrack)."""
    uri = f"file:{quote(os.path.abspath(path))}?mode=ro"
    try:
        conn = sqlite3.connect(uri, uri=True, timeout=BUSY_TIMEOUT_S, isolation_level=None,
                               check_same_thread=False)
        conn.execute("PRAGMA query_only = ON")
    except sqlite3.Error as exc:
        raise StoreError(f"{path}: cannot open the database ({exc})") from None
    return conn


def connect_read_write(path: str) -> sqlite3.Connection:
    """A connection for one change, set up as MLflow sets up its own SQLite sessions."""
    try:
        conn = sqlite3.connect(path, timeout=BUSY_TIMEOUT_S, isolation_level=None)
        conn.execute("PRAGMA foreign_keys = ON")
        conn.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT_S * 1000)}")
    except sqlite3.Error as exc:
        raise StoreError(f"{path}: cannot open the database for writing ({exc})") from None
    return conn


def schema_version(conn: sqlite3.Connection) -> str | None:
    try:
        row = conn.execute("SELECT version_num FROM alembic_version").fetchone()
    except sqlite3.Error:
        return None
    return row[0] if row else None


def check_readable(conn: sqlite3.Connection, location: str) -> None:
    """Raise a StoreError saying what is missing when this is not an MLflow tracking database."""
    try:
        for table, needed in REQUIRED_COLUMNS.items():
            have = {row[1] for row in conn.execute(f"PRAGMA table_info({table})")}
            if not have:
                raise StoreError(f"{location}: not an MLflow database (it has no {table} table)")
            missing = needed - have
            if missing:
                raise StoreError(f"{location}: an MLflow database whose {table} table lacks "
                                 f"{', '.join(sorted(missing))}; tuitrack cannot read this schema")
    except sqlite3.OperationalError as exc:
        if "locked" in str(exc) or "busy" in str(exc):  # after the busy timeout: not a broken file
            raise StoreError(f"{location}: the database is locked by another process; try again") from None
        raise StoreError(f"{location}: not an SQLite database ({exc})") from None
    except sqlite3.DatabaseError as exc:
        raise StoreError(f"{location}: not an SQLite database ({exc})") from None


def check_writable(version: str | None, location: str) -> None:
    if version in TESTED_SCHEMAS:
        return
    tested = ", ".join(f"{v} ({release})" for v, release in TESTED_SCHEMAS.items())
    raise SchemaRefused(
        f"{location}: schema version {version or 'unknown'} is not one tuitrack was tested to write "
        f"(it writes only to {tested}); the database is left unchanged. Reading works; use "
        f"MLflow's own client for changes, or `mlflow db upgrade` if the database is older"
    )
