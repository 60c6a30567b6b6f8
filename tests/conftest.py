from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.mlflow_stores import Ids, write_reference_store


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
