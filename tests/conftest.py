from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from tests.mini_stores import write_mini_store, write_mixed_store
from tests.mlflow_stores import Ids, MlflowServer, write_reference_store, write_sqlite_store


@pytest.fixture(autouse=True)
def _own_config_home(tmp_path_factory, monkeypatch):
    """No test reads or writes the real ~/.config: the app reads and writes back
    $XDG_CONFIG_HOME/tuitrack/config.toml, so every test gets an empty config home of its own
    (processes a test starts inherit it)."""
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path_factory.mktemp("config-home")))


@pytest.fixture(autouse=True, scope="session")
def _read_cache_outside_home(tmp_path_factory):
    """The CLI and the app keep a read cache in $XDG_CACHE_HOME/tuitrack: tests keep theirs in a
    temporary folder, never in the home folder of whoever runs them."""
    os.environ["XDG_CACHE_HOME"] = str(tmp_path_factory.mktemp("xdg-cache"))


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
def artifacts_server(tmp_path_factory):
    """A real `mlflow server` that stores and serves artifacts itself (mlflow-artifacts:/ URIs),
    holding one run with artifacts (tests/artifact_stores.py); yields (url, run_id, client)."""
    from tests.artifact_stores import log_artifacts

    folder = tmp_path_factory.mktemp("artifacts-server")
    server = MlflowServer(folder, proxied_artifacts=True)
    try:
        client = server.client()
        yield server.url, log_artifacts(client, "arts", folder / "scratch"), client
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

REPO = Path(__file__).parent.parent


def _pristine_sample() -> Path:
    """sample_runs/mlruns as committed, copied once into a temporary folder for every test that
    reads it: the Quick start invites trying the app's edits on the tracked folder, and no test may
    see those edits (or make its own there). Outside a git checkout (an sdist), the folder as it is."""
    import atexit
    import io
    import subprocess
    import tarfile
    import tempfile

    target = Path(tempfile.mkdtemp(prefix="tuitrack-sample-"))
    atexit.register(shutil.rmtree, target, ignore_errors=True)
    try:
        archive = subprocess.run(["git", "-C", str(REPO), "archive", "--format=tar", "HEAD", "sample_runs/mlruns"],
                                 capture_output=True, check=True).stdout
        with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
            tar.extractall(target, **({"filter": "data"} if hasattr(tarfile, "data_filter") else {}))
    except (OSError, subprocess.CalledProcessError, tarfile.TarError):
        shutil.rmtree(target / "sample_runs", ignore_errors=True)
        shutil.copytree(REPO / "sample_runs" / "mlruns", target / "sample_runs" / "mlruns", symlinks=True)
    return target / "sample_runs" / "mlruns"


SAMPLE = _pristine_sample()
FIXED_NOW = 1_795_435_200.0  # 2026-11-23 12:00 UTC, seconds


def fixed_clock() -> float:
    return FIXED_NOW


@pytest.fixture
def sample_store(tmp_path) -> Path:
    """A private copy of the committed sample store, free to change."""
    root = tmp_path / "mlruns"
    shutil.copytree(SAMPLE, root, symlinks=True)
    return root
