"""MLflow's SQLite store (`mlflow.db`), read with the standard library's sqlite3."""

from tuitrack.store.mlflow_sql.store import MlflowSqliteStore

__all__ = ["MlflowSqliteStore"]
