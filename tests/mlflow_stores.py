"""Stores written by real MLflow, for tests to read and to compare tuitrack against.

MLflow is a test dependency only; tuitrack never imports it.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

os.environ["MLFLOW_ALLOW_FILE_STORE"] = "true"

from mlflow.entities import Metric, Param, ViewType  # noqa: E402
from mlflow.tracking import MlflowClient  # noqa: E402

T0 = 1_795_000_000_000


def client_for(root: Path) -> MlflowClient:
    return MlflowClient(tracking_uri=root.resolve().as_uri())


@dataclass
class Ids:
    """The ids of what `write_reference_store` made, by the names the tests use."""

    experiments: dict[str, str] = field(default_factory=dict)
    runs: dict[str, str] = field(default_factory=dict)


def write_reference_store(root: Path | None, client: MlflowClient | None = None) -> Ids:
    """A store with every feature of the format that MLflow's API can produce: a file store at
    `root`, or whatever store `client` writes to (an mlflow.db, a tracking server)."""
    c = client or client_for(root)
    ids = Ids()
    alpha = c.create_experiment("exp-alpha", tags={"team": "vision", "nested/key": "x"})
    beta = c.create_experiment("exp-beta")
    gamma = c.create_experiment("exp-gamma")
    ids.experiments.update(alpha=alpha, beta=beta, gamma=gamma)

    parent = c.create_run(alpha, start_time=T0, run_name="parent",
                          tags={"mlflow.user": "alice", "mlflow.note.content": "A note\non two lines",
                                "unicode": "héllo ✓", "custom.tag": "v"}).info.run_id
    c.log_batch(parent, params=[Param("lr", "0.01"), Param("epochs", "3"),
                                Param("multi", "line1\nline2"), Param("opt/name", "adam")])
    c.log_batch(parent, metrics=[Metric("loss", 1 / (s + 1), T0 + s, s) for s in range(300)]
                + [Metric("train/acc", 0.5 + s / 1000, T0 + s, s) for s in range(300)])
    for i, v in enumerate([float("nan"), float("inf"), float("-inf")]):
        c.log_metric(parent, "weird", v, timestamp=T0 + i, step=i)
    c.log_metric(parent, "big", 1e300, timestamp=T0, step=0)
    c.log_metric(parent, "intval", 5, timestamp=T0, step=0)
    # Out of order: step 9 logged first, then 0..4. MLflow's latest is step 9.
    c.log_metric(parent, "out_of_order", 9.0, timestamp=T0 + 100, step=9)
    c.log_batch(parent, metrics=[Metric("out_of_order", float(s), T0 + 200 + s, s) for s in range(5)])
    # Same step twice: the later timestamp wins.
    c.log_metric(parent, "same_step", 1.0, timestamp=T0 + 1, step=3)
    c.log_metric(parent, "same_step", 2.0, timestamp=T0 + 2, step=3)
    c.set_terminated(parent, "FINISHED", end_time=T0 + 10_000)
    ids.runs["parent"] = parent

    child = c.create_run(alpha, start_time=T0 + 50, run_name="child",
                         tags={"mlflow.parentRunId": parent}).info.run_id
    c.log_param(child, "child_param", "1")
    c.log_metric(child, "child_metric", 42.0, timestamp=T0 + 60, step=7)
    c.set_terminated(child, "FINISHED", end_time=T0 + 70)
    ids.runs["child"] = child

    failed = c.create_run(alpha, start_time=T0 + 80, run_name="failing").info.run_id
    c.log_metric(failed, "x", 1.0, timestamp=T0 + 81, step=0)
    c.set_terminated(failed, "FAILED", end_time=T0 + 90)
    ids.runs["failed"] = failed

    running = c.create_run(beta, start_time=T0 + 100, run_name="still-running",
                           tags={"mlflow.user": "bob"}).info.run_id
    c.log_param(running, "p", "v")
    c.log_batch(running, metrics=[Metric("m", s / 10, T0 + 100 + s, s) for s in range(5)])
    ids.runs["running"] = running

    killed = c.create_run(beta, start_time=T0 + 110, run_name="killed").info.run_id
    c.set_terminated(killed, "KILLED", end_time=T0 + 120)
    ids.runs["killed"] = killed

    deleted = c.create_run(beta, start_time=T0 + 130, run_name="to-delete").info.run_id
    c.log_metric(deleted, "acc", 0.5, timestamp=T0 + 131, step=0)
    c.set_terminated(deleted, "FINISHED", end_time=T0 + 140)
    c.delete_run(deleted)
    ids.runs["deleted"] = deleted

    restored = c.create_run(beta, start_time=T0 + 150, run_name="to-restore").info.run_id
    c.delete_run(restored)
    c.restore_run(restored)
    ids.runs["restored"] = restored

    dataset = c.create_run(alpha, start_time=T0 + 160, run_name="with-dataset").info.run_id
    c.log_metric(dataset, "val_acc", 0.7, timestamp=T0 + 161, step=1, dataset_name="toy", dataset_digest="ad126910")
    c.log_metric(dataset, "val_acc", 0.6, timestamp=T0 + 162, step=0, dataset_name="toy", dataset_digest="ad126910")
    ids.runs["dataset"] = dataset

    in_trash = c.create_run(gamma, start_time=T0 + 170, run_name="in-deleted-exp").info.run_id
    c.set_terminated(in_trash, "FINISHED", end_time=T0 + 180)
    c.delete_experiment(gamma)
    ids.runs["in_trash"] = in_trash

    default_run = c.create_run("0", start_time=T0 + 190, run_name="yes").info.run_id  # a YAML bool word
    ids.runs["default"] = default_run
    return ids


def mlflow_runs(root: Path, client: MlflowClient | None = None) -> dict[str, object]:
    """Every run MLflow sees in the store (all view types), by run id."""
    c = client or client_for(root)
    exps = c.search_experiments(view_type=ViewType.ALL)
    runs = c.search_runs([e.experiment_id for e in exps], run_view_type=ViewType.ALL, max_results=50_000)
    return {r.info.run_id: r for r in runs}


def sqlite_client(db: Path) -> MlflowClient:
    return MlflowClient(tracking_uri=f"sqlite:///{db.resolve()}")


def write_sqlite_store(folder: Path) -> tuple[Path, Ids]:
    """An mlflow.db written by MLflow, its default artifact root (./mlruns) inside `folder`."""
    folder.mkdir(parents=True, exist_ok=True)
    db = folder / "mlflow.db"
    here = os.getcwd()
    os.chdir(folder)  # MLflow puts artifacts under ./mlruns of the current folder
    try:
        ids = write_reference_store(None, sqlite_client(db))
    finally:
        os.chdir(here)
    return db, ids


class MlflowServer:
    """A real `mlflow server` on 127.0.0.1 with an SQLite backend, for the tests' session."""

    def __init__(self, folder: Path, proxied_artifacts: bool = False):
        """`proxied_artifacts`: runs' artifacts are `mlflow-artifacts:/` URIs the server stores
        and serves itself (MLflow's default), not a folder clients write to directly."""
        import socket
        import subprocess
        import sys
        import time
        import urllib.request

        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.db = folder / "server.db"
        self.log = folder / "server.log"
        self.process = subprocess.Popen(
            [sys.executable, "-m", "mlflow", "server", "--backend-store-uri", f"sqlite:///{self.db}",
             *(["--artifacts-destination", str(folder / "artifacts")] if proxied_artifacts
               else ["--default-artifact-root", str(folder / "artifacts")]), "--host", "127.0.0.1",
             "--port", str(self.port), "--workers", "1"],
            stdout=self.log.open("wb"), stderr=subprocess.STDOUT, cwd=folder)
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                break
            try:
                urllib.request.urlopen(self.url + "/health", timeout=1).read()
                return
            except OSError:
                time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"mlflow server did not start: {self.log.read_text()[-2000:]}")

    def client(self) -> MlflowClient:
        return MlflowClient(tracking_uri=self.url)

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except Exception:
            self.process.kill()
