"""MLflow's file store format (`mlruns/` folders)."""

from tuitrack.store.mlflow_file.store import MlflowFileStore

__all__ = ["MlflowFileStore"]
