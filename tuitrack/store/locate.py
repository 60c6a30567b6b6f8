"""Turning what the user typed (`./mlruns`, `file:///abs/mlruns`, `mlflow.db`...) into a Store.

Each format says whether a path is one of its stores; a path that is none of them gets an error
that says what was expected, so `tuitrack ls ~/project` can answer "did you mean ~/project/mlruns?".
"""

from __future__ import annotations

import os
from urllib.parse import unquote, urlparse

from tuitrack.store.base import Store, StoreError
from tuitrack.store.mlflow_file import MlflowFileStore
from tuitrack.store.mlflow_file.mini import holds_mini_runs
from tuitrack.store.mlflow_file.store import META, TRASH

EXPECTED = "an MLflow mlruns folder (experiment folders with a meta.yaml, and .trash)"


def meta_kind(folder: str) -> str | None:
    """"run" or "experiment" for a folder whose meta.yaml says which, else None."""
    try:
        with open(os.path.join(folder, META), "rb") as f:
            head = f.read(4096)
    except OSError:
        return None
    if b"\nrun_id:" in b"\n" + head or b"\nrun_uuid:" in b"\n" + head:
        return "run"
    if b"\nartifact_location:" in b"\n" + head or b"\nexperiment_id:" in b"\n" + head:
        return "experiment"
    return None


def is_mlruns(path: str) -> bool:
    """True for a folder that looks like an MLflow file store (even an empty one with .trash):
    its sub-folders are experiments, not runs. mini-mlflow's experiments have no meta.yaml: a
    folder without one that holds mini-mlflow run folders counts as an experiment too."""
    if meta_kind(path) is not None:
        return False  # an experiment or a run folder itself
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
            kind = meta_kind(entry.path)
            if kind == "experiment":
                return True
            if kind is None and entry.is_dir() and holds_mini_runs(entry.path):
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
    kind = meta_kind(path)
    if kind is not None:
        up = 1 if kind == "experiment" else 2
        root = os.path.normpath(os.path.join(path, *[".."] * up))
        raise StoreError(f"{location}: is an MLflow {kind} folder, not a store: try {root}")
    inner = os.path.join(path, "mlruns")
    if os.path.isdir(inner) and is_mlruns(inner):
        raise StoreError(f"{location}: not a store, but it holds one: try {inner}")
    raise StoreError(f"{location}: not a store; expected {EXPECTED}")
