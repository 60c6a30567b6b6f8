"""Turning what the user typed (`./mlruns`, `file:///abs/mlruns`, `mlflow.db`...) into a Store.

Each format says whether a path is one of its stores; a path that is none of them gets an error
that says what was expected, so `tuitrack ls ~/project` can answer "did you mean ~/project/mlruns?".
"""

from __future__ import annotations

import os
from urllib.parse import unquote, urlparse

from tuitrack.store.base import Store, StoreError
from tuitrack.store.mlflow_file import MlflowFileStore
from tuitrack.store.mlflow_file.store import META, TRASH

EXPECTED = "an MLflow mlruns folder (experiment folders with a meta.yaml, and .trash)"


def is_mlruns(path: str) -> bool:
    """True for a folder that looks like an MLflow file store (even an empty one with .trash)."""
    if os.path.isdir(os.path.join(path, TRASH)):
        return True
    try:
        entries = os.scandir(path)
    except OSError:
        return False
    with entries:
        for entry in entries:
            if entry.name.startswith(".") or entry.name == "models":
                continue
            if os.path.isfile(os.path.join(entry.path, META)):
                return True
    return False


def open_store(location: str, workers: int = 1) -> Store:
    """The store at `location`. Raises StoreError with a one-line, user-facing message.

    `workers` > 1 lets big listings fork that many processes: for the CLI, never the app.
    """
    if location.startswith(("http://", "https://")):
        raise StoreError(f"{location}: MLflow tracking servers are not supported yet; expected {EXPECTED}")
    path = location
    if location.startswith("file:"):
        path = unquote(urlparse(location).path)
    elif location.startswith("sqlite:"):
        raise StoreError(f"{location}: SQLite stores are not supported yet; expected {EXPECTED}")
    path = os.path.expanduser(path)
    if not os.path.exists(path):
        raise StoreError(f"{location}: no such folder; expected {EXPECTED}")
    if os.path.isfile(path):
        if path.endswith(".db"):
            raise StoreError(f"{location}: SQLite stores (mlflow.db) are not supported yet; expected {EXPECTED}")
        raise StoreError(f"{location}: is a file; expected {EXPECTED}")
    if not os.access(path, os.R_OK | os.X_OK):
        raise StoreError(f"{location}: permission denied; expected a readable folder")
    if is_mlruns(path):
        return MlflowFileStore(path, location, workers=workers)
    inner = os.path.join(path, "mlruns")
    if os.path.isdir(inner) and is_mlruns(inner):
        raise StoreError(f"{location}: not a store, but it holds one: try {inner}")
    raise StoreError(f"{location}: not a store; expected {EXPECTED}")
