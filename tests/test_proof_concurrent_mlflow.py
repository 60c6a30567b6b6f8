"""Proof (issue 13 §2, marked `proof`; about 20 s): a real MLflow process rewrites a run's
meta.yaml thousands of times while tuitrack edits the same run hundreds of times. No MLflow
update is lost, every tuitrack change is in the end state, and no edit fails."""

from __future__ import annotations

import pytest

from tests.mlflow_race import MlflowWriter, Sampler, edit_while, fallbacks
from tests.mlflow_stores import client_for
from tuitrack.store import open_store

FIRST_END = 1_795_000_000_000


@pytest.mark.proof
def test_proof_no_update_is_lost_while_mlflow_rewrites_the_run(tmp_path):
    root = tmp_path / "mlruns"
    client = client_for(root)
    experiment = client.create_experiment("race")
    run_id = client.create_run(experiment, run_name="start").info.run_id
    mlflow = MlflowWriter(root, run_id, FIRST_END, count=2500, seconds=25, pause=0.004)
    sampler = Sampler(root / experiment / run_id / "meta.yaml")
    mlflow.go()
    edits = edit_while(open_store(str(root)), run_id, mlflow.running, limit=600)
    last = mlflow.last_written()
    samples = sampler.stop()

    assert edits.failures == []
    assert edits.count >= 200, "tuitrack should have edited the run hundreds of times meanwhile"
    assert last - FIRST_END >= 1000, "MLflow should have rewritten the run thousands of times"
    assert len(samples) > 100
    assert [f for f in fallbacks(samples) if f.lost] == []  # repaired before MLflow wrote again
    got = client.get_run(run_id)
    assert got.info.end_time == last and got.info.status == "FINISHED"  # MLflow's last write
    assert got.info.run_name == edits.name
    assert got.data.tags["mlflow.note.content"] == edits.note
    assert {k: got.data.tags[k] for k in edits.tags} == edits.tags
