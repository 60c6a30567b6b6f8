"""tuitrack reads a store written by real MLflow exactly as MLflow's own client reads it."""

from __future__ import annotations

import math

import pytest

from tests.mlflow_stores import client_for, mlflow_runs, sqlite_client
from tuitrack.model import MetricPoint, RunStatus
from tuitrack.store import open_store
from tuitrack.store.listing import list_runs, select_experiments


def same_value(a: float, b: float) -> bool:
    return (math.isnan(a) and math.isnan(b)) or a == b


@pytest.fixture(scope="module", params=["file", "sqlite", "server"])
def backend(request):
    """(location tuitrack opens, MLflow's client on the same store, ids) for each MLflow format."""
    if request.param == "file":
        root, ids = request.getfixturevalue("reference_store_master")
        return "file", str(root), client_for(root), ids
    if request.param == "sqlite":
        db, ids = request.getfixturevalue("sqlite_store_master")
        return "sqlite", str(db), sqlite_client(db), ids
    server, ids = request.getfixturevalue("mlflow_server")
    return "server", server.url, server.client(), ids


@pytest.fixture(scope="module")
def both(backend):
    kind, location, client, ids = backend
    store = open_store(location)
    # Other tests add experiments of their own to the shared server: compare the reference ones.
    reference = {"0", *ids.experiments.values()}
    ours = {r.run_id: (e, r) for e, r in list_runs(store, select_experiments(store, include_deleted=True), True)
            if e.experiment_id in reference}
    theirs = {i: r for i, r in mlflow_runs(None, client).items() if r.info.experiment_id in reference}
    return location, ids, ours, theirs, client, kind


def test_same_runs(both):
    _, _, ours, theirs, _, _ = both
    assert set(ours) == set(theirs)
    assert len(ours) == 10


def test_run_info_field_by_field(both):
    _, _, ours, theirs, _, _ = both
    for run_id, mlflow_run in theirs.items():
        exp, run = ours[run_id]
        info = mlflow_run.info
        assert run.experiment_id == info.experiment_id
        assert run.run_name == info.run_name
        assert run.status.name == info.status
        assert run.lifecycle_stage.value == info.lifecycle_stage
        assert run.start_time == info.start_time
        assert run.end_time == info.end_time
        assert run.user_id == info.user_id
        assert run.artifact_uri == info.artifact_uri
        assert run.problems == [], run.problems


def test_params_and_tags_field_by_field(both):
    _, _, ours, theirs, _, _ = both
    for run_id, mlflow_run in theirs.items():
        _, run = ours[run_id]
        assert run.params == mlflow_run.data.params
        assert run.tags == mlflow_run.data.tags


def test_latest_metrics_follow_mlflow(both):
    _, ids, ours, theirs, _, kind = both
    for run_id, mlflow_run in theirs.items():
        _, run = ours[run_id]
        expected = dict(mlflow_run.data.metrics)
        if run_id == ids.runs["dataset"] and kind == "file":
            # MLflow 3.17 reads 5-field (dataset) lines as step 0 and so takes the latest by
            # timestamp; tuitrack keeps the logged step, so step 1 (0.7) is the latest.
            assert expected == {"val_acc": 0.6}
            assert run.metrics["val_acc"] == MetricPoint(1_795_000_000_161, 0.7, 1)
            continue
        assert run.metrics.keys() == expected.keys()
        for key, value in expected.items():
            assert same_value(run.metrics[key].value, value), key


def test_metric_histories_match_get_metric_history(both):
    location, ids, ours, _, client, _ = both
    store = open_store(location)
    for name in ("parent", "child", "running"):
        _, run = ours[ids.runs[name]]
        for key in run.metrics:
            history = store.metric_history(run, key)
            theirs = client.get_metric_history(run.run_id, key)
            assert [(p.timestamp, p.step) for p in history.points] == [(m.timestamp, m.step) for m in theirs]
            assert all(same_value(p.value, m.value) for p, m in zip(history.points, theirs))
            assert history.problems == []


def test_experiments_match(both):
    location, ids, _, _, client, _ = both
    from mlflow.entities import ViewType

    theirs = {e.experiment_id: e for e in client.search_experiments(view_type=ViewType.ALL)}
    ours = {e.experiment_id: e for e in open_store(location).experiments(include_deleted=True)}
    assert ours.keys() == theirs.keys()
    for eid, exp in theirs.items():
        assert ours[eid].name == exp.name
        assert ours[eid].lifecycle_stage.value == exp.lifecycle_stage
        assert ours[eid].tags == exp.tags
        assert ours[eid].creation_time == exp.creation_time
        assert ours[eid].artifact_location == exp.artifact_location


def test_nested_runs_and_notes(both):
    _, ids, ours, _, _, _ = both
    _, child = ours[ids.runs["child"]]
    _, parent = ours[ids.runs["parent"]]
    assert child.parent_run_id == parent.run_id
    assert parent.note == "A note\non two lines"
    assert parent.params["opt/name"] == "adam"
    assert parent.metrics["train/acc"].step == 299


def test_deleted_and_trashed(both):
    _, ids, ours, _, _, kind = both
    exp, run = ours[ids.runs["in_trash"]]
    assert exp.is_deleted and run.is_deleted
    _, deleted = ours[ids.runs["deleted"]]
    assert deleted.is_deleted
    # MLflow's REST API leaves deleted_time out of a run's info; the stores themselves keep it.
    assert (deleted.deleted_time is None) == (kind == "server")
    _, restored = ours[ids.runs["restored"]]
    assert not restored.is_deleted and restored.deleted_time is None
    _, running = ours[ids.runs["running"]]
    assert running.status is RunStatus.RUNNING and running.end_time is None


def test_default_listing_hides_deleted(backend):
    _, location, _, ids = backend
    store = open_store(location)
    active = {r.run_id for _, r in list_runs(store, select_experiments(store))}
    assert ids.runs["deleted"] not in active
    assert ids.runs["in_trash"] not in active
    assert ids.runs["restored"] in active
