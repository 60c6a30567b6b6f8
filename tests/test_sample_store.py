"""The bundled sample store, as committed: MLflow reads every run, tuitrack finds no problems."""

from __future__ import annotations

from tests.conftest import SAMPLE  # the committed sample store, copied
from tests.mlflow_stores import client_for, mlflow_runs
from tuitrack.model import RunStatus
from tuitrack.store import open_store
from tuitrack.store.listing import list_runs, select_experiments


def test_mlflow_reads_every_committed_run():
    client = client_for(SAMPLE)
    runs = mlflow_runs(SAMPLE)
    assert len(runs) == 13
    for run_id in runs:
        assert client.get_run(run_id).info.run_id == run_id  # needs artifacts/, params/, metrics/


def test_sample_store_is_healthy_and_varied():
    store = open_store(str(SAMPLE))
    experiments = select_experiments(store, include_deleted=True)
    pairs = list_runs(store, experiments, include_deleted=True)
    assert not any(e.problems for e in experiments)
    assert not any(r.problems for _, r in pairs)
    statuses = {r.status for _, r in pairs}
    assert statuses == {RunStatus.RUNNING, RunStatus.FINISHED, RunStatus.FAILED, RunStatus.KILLED}
    assert any(r.parent_run_id for _, r in pairs) and any(r.is_deleted for _, r in pairs)
    assert {e.name for e in experiments} == {"Default", "mnist-cnn", "gpt2-finetune", "scratch"}
    longest = max(len(store.metric_history(r, "train/loss").points) for _, r in pairs if "train/loss" in r.metrics)
    assert longest >= 3000


def test_tests_read_a_copy_of_the_committed_sample():
    """Editing sample_runs (as the Quick start invites) changes nothing any test reads."""
    from tests.conftest import REPO

    assert not SAMPLE.resolve().is_relative_to(REPO.resolve())
    assert (SAMPLE / "0" / "meta.yaml").read_bytes() == (REPO / "sample_runs" / "mlruns" / "0" / "meta.yaml").read_bytes()
