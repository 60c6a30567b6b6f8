"""An MLflow tracking server, through its REST API (`/api/2.0/mlflow/...`)."""

from tuitrack.store.mlflow_rest.store import MlflowRestStore

__all__ = ["MlflowRestStore"]
