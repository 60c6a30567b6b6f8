"""Turning what the user typed (`./mlruns`, `file:///abs/mlruns`, `mlflow.db`...) into a Store.

Each format says whether a path is one of its stores; a path that is none of them gets an error
that says what was expected, so `tuitrack ls ~/project` can answer "did you mean ~/project/mlruns?".
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import NamedTuple
from urllib.parse import unquote, urlparse

from tuitrack.store.base import Store, StoreError
from tuitrack.store.daskperiment.local import is_experiment_pickle, is_local_cache, open_local
from tuitrack.store.entrenar import EntrenarStore
from tuitrack.store.entrenar.store import record_files
from tuitrack.store.fetch_ml import FetchMlStore
from tuitrack.store.fetch_ml.store import META as FETCH_ML_META
from tuitrack.store.mlflow_file import MlflowFileStore
from tuitrack.store.mlflow_file.files import read_head
from tuitrack.store.mlflow_file.mini import holds_mini_runs
from tuitrack.store.mlflow_file.read_cache import ReadCache
from tuitrack.store.mlflow_file.store import META, TRASH

EXPECTED = "an MLflow mlruns folder (experiment folders with a meta.yaml, and .trash)"
ELSEWHERE = ("or an MLflow database (mlflow.db) or tracking server (http://host:5000), or daskperiment's Redis "
             "(redis://host:6379/0)")
SQLITE_MAGIC = b"SQLite format 3\x00"


def meta_kind(folder: str) -> str | None:
    """"run" or "experiment" for a folder whose meta.yaml says which, else None."""
    head = read_head(os.path.join(folder, META), 4096)
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


def sqlite_path(uri: str) -> str:
    """The file of an SQLAlchemy SQLite URI: sqlite:///rel/path.db, sqlite:////abs/path.db."""
    rest = uri[len("sqlite:"):]
    if not rest.startswith("//"):
        raise StoreError(f"{uri}: an SQLite URI looks like sqlite:///path/to/mlflow.db")
    return os.path.expanduser(unquote(rest[3:].split("?", 1)[0]) if rest.startswith("///") else rest[2:])


def is_sqlite(path: str) -> bool:
    return read_head(path, 16, follow=True) == SQLITE_MAGIC


def is_entrenar(path: str) -> bool:
    """True for a folder holding entrenar run records: `{run_id}.json` files whose start names a
    run_id and an experiment_name (the first few files are enough to tell)."""
    for _, record in record_files(path)[:3]:
        head = read_head(record, 4096)
        if b'"run_id"' in head and b'"experiment_name"' in head:
            return True
    return False


def is_fetch_ml(path: str) -> bool:
    """True for a fetch_ml base folder: some sub-folder (a commit) holds a meta.bin."""
    try:
        with os.scandir(path) as entries:
            return any(e.is_dir(follow_symlinks=False) and os.path.isfile(os.path.join(e.path, FETCH_ML_META))
                       for e in entries if not e.name.startswith("."))
    except OSError:
        return False


def _open_sqlite(path: str, location: str) -> Store:
    if not os.path.isfile(path):
        raise StoreError(f"{location}: no such database file")
    if not is_sqlite(path):
        raise StoreError(f"{location}: not an SQLite database (or not readable)")
    from tuitrack.store.mlflow_sql import MlflowSqliteStore  # sqlite3: only for a database

    return MlflowSqliteStore(path, location)


def _has_entries(path: str) -> bool:
    try:
        with os.scandir(path) as entries:
            return any(not e.name.startswith(".") for e in entries)
    except OSError:
        return False


class Format(NamedTuple):
    """A store format: what it looks like (for errors), how to recognise it, how to open it."""

    expected: str
    detect: Callable[[str], bool]
    open: Callable[[str, str, int], Store]  # (path, location, workers)


# Tried in this order by --format auto. Other trackers' folders: see README, "Other trackers".
FORMATS: dict[str, Format] = {
    "mlflow": Format(EXPECTED, is_mlruns, lambda path, loc, workers: MlflowFileStore(path, loc, workers=workers)),
    "entrenar": Format("an entrenar folder of {run_id}.json run records", is_entrenar,
                       lambda path, loc, workers: EntrenarStore(path, loc)),
    "fetch_ml": Format("a fetch_ml base folder (commit folders with meta.bin and metrics.bin)", is_fetch_ml,
                       lambda path, loc, workers: FetchMlStore(path, loc)),
    "daskperiment": Format("a daskperiment_cache folder (experiment folders with <id>.pkl), one experiment folder "
                           "or its .pkl", is_local_cache, lambda path, loc, workers: open_local(path, loc)),
}
FORMAT_CHOICES = ("auto", *FORMATS)
EXPECTED_ANY = "; or ".join(f.expected for f in FORMATS.values()) + "; " + ELSEWHERE


def open_store(location: str, workers: int = 1, format: str = "auto", cache: bool = False,
               helper_cores: int = 2) -> Store:
    """The store at `location`. Raises StoreError with a one-line, user-facing message.

    `workers` > 1 lets big listings fork that many processes: for the CLI, never the app.
    `format` is one of FORMAT_CHOICES: "auto" recognises the format from what is on disk.
    `cache`: a file store's first listing goes through its persistent read cache (read_cache.py),
    with a helper process (read_helper.py) on machines of at least `helper_cores` cores.
    """
    store = _open_store(location, workers, format)
    if cache and isinstance(store, MlflowFileStore):
        store.cache = ReadCache(store.root, helper_cores=helper_cores)
    return store


def _open_store(location: str, workers: int, format: str) -> Store:
    if format not in FORMAT_CHOICES:
        raise StoreError(f"unknown store format {format!r}; choose from {', '.join(FORMAT_CHOICES)}")
    if location.startswith(("http://", "https://")):
        from tuitrack.store.mlflow_rest import MlflowRestStore  # http, ssl, urllib: only for a server

        return MlflowRestStore(location)
    if location.startswith(("redis://", "rediss://")):
        from tuitrack.store.daskperiment.redis_store import open_redis  # redis-py is an optional extra

        return open_redis(location)
    path = location
    if location.startswith("file:"):
        path = unquote(urlparse(location).path)
    elif location.startswith("sqlite:"):
        return _open_sqlite(sqlite_path(location), location)
    path = os.path.expanduser(path)
    if not os.path.exists(path):
        if path.endswith(".db"):
            raise StoreError(f"{location}: no such database file")
        raise StoreError(f"{location}: no such folder; expected {EXPECTED_ANY}")
    if os.path.isfile(path):
        if is_sqlite(path):
            return _open_sqlite(path, location)
        if format in ("auto", "daskperiment") and is_experiment_pickle(path):
            return open_local(path, location)
        raise StoreError(f"{location}: is a file, not a database; expected {EXPECTED_ANY}")
    if not os.access(path, os.R_OK | os.X_OK):
        raise StoreError(f"{location}: permission denied; expected a readable folder")
    if format not in ("auto", "mlflow"):
        chosen = FORMATS[format]
        if not chosen.detect(path) and _has_entries(path):  # an empty folder may become one
            raise StoreError(f"{location}: not {chosen.expected} (asked for with --format {format})")
        return chosen.open(path, location, workers)
    for name, kind in FORMATS.items():
        if format in ("auto", name) and kind.detect(path):
            return kind.open(path, location, workers)
    kind = meta_kind(path)
    if kind is not None:
        up = 1 if kind == "experiment" else 2
        root = os.path.normpath(os.path.join(path, *[".."] * up))
        raise StoreError(f"{location}: is an MLflow {kind} folder, not a store: try {root}")
    inner = os.path.join(path, "mlruns")
    if os.path.isdir(inner) and is_mlruns(inner):
        raise StoreError(f"{location}: not a store, but it holds one: try {inner}")
    raise StoreError(f"{location}: not a store; expected {EXPECTED_ANY if format == 'auto' else EXPECTED}")
