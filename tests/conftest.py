from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.mini_stores import write_mini_store, write_mixed_store
from tests.mlflow_stores import Ids, MlflowServer, write_reference_store, write_sqlite_store


@pytest.fixture(scope="session")
def reference_store_master(tmp_path_factory) -> tuple[Path, Ids]:
    root = tmp_path_factory.mktemp("reference") / "mlruns"
    ids = write_reference_store(root)
    return root, ids


@pytest.fixture
def reference_store(reference_store_master, tmp_path) -> tuple[Path, Ids]:
    """A private copy of the MLflow-written reference store, free to change."""
    master, ids = reference_store_master
    root = tmp_path / "mlruns"
    shutil.copytree(master, root, symlinks=True)
    return root, ids


@pytest.fixture(scope="session")
def sqlite_store_master(tmp_path_factory) -> tuple[Path, Ids]:
    """The reference store written by MLflow into an mlflow.db (read it, do not change it)."""
    return write_sqlite_store(tmp_path_factory.mktemp("sqlite-reference"))


@pytest.fixture
def sqlite_store(sqlite_store_master, tmp_path) -> tuple[Path, Ids]:
    """A private copy of the reference mlflow.db, free to change (its runs' artifact URIs still
    point into the master's folder: outside this copy's)."""
    master, ids = sqlite_store_master
    db = tmp_path / "mlflow.db"
    shutil.copyfile(master, db)
    return db, ids


@pytest.fixture(scope="session")
def mlflow_server(tmp_path_factory):
    """A real `mlflow server` on 127.0.0.1 holding the reference runs; yields (server, ids)."""
    server = MlflowServer(tmp_path_factory.mktemp("mlflow-server"))
    try:
        ids = write_reference_store(None, server.client())
        yield server, ids
    finally:
        server.stop()


@pytest.fixture(scope="session")
def mini_master(tmp_path_factory):
    root = tmp_path_factory.mktemp("mini") / "mlruns"
    return root, write_mini_store(root)


@pytest.fixture(scope="session")
def mixed_master(tmp_path_factory):
    root = tmp_path_factory.mktemp("mixed") / "mlruns"
    return root, write_mixed_store(root)


def private_copy(master_and_ids, tmp_path):
    master, ids = master_and_ids
    shutil.copytree(master, tmp_path / "mlruns")
    return tmp_path / "mlruns", ids


@pytest.fixture
def mini_store(mini_master, tmp_path):
    return private_copy(mini_master, tmp_path)


@pytest.fixture
def mixed_store(mixed_master, tmp_path):
    return private_copy(mixed_master, tmp_path)


import os  # noqa: E402
import time  # noqa: E402

# Times in tables and snapshots are local times: make them the same everywhere.
os.environ["TZ"] = "UTC"
time.tzset()

SAMPLE = Path(__file__).parent.parent / "sample_runs" / "mlruns"
FIXED_NOW = 1_795_435_200.0  # 2026-11-23 12:00 UTC, seconds


def fixed_clock() -> float:
    return FIXED_NOW
