"""An MLflow tracking server through its REST API: changes as MLflow's client sees them, live
polling that fetches only what can have changed, and clear messages when the server is not there.

The server is a real `mlflow server` (tests/mlflow_stores.py); these tests make their own
experiments on it so that the reference runs other tests compare stay as MLflow wrote them.
"""

from __future__ import annotations

import json
import math
import socket
import time
import uuid

import pytest
from mlflow.entities import Metric, ViewType

from tests.hostile_server import HostileServer, experiments_then, mlflow_run
from tuitrack.model import RunStatus
from tuitrack.store import RunNotFound, StoreError, open_store
from tuitrack.store.mlflow_rest import store as rest_store
from tuitrack.store.mlflow_rest.client import MlflowHttp
from tuitrack.store.mlflow_rules import ChangeRefused

T0 = 1_795_000_000_000


@pytest.fixture
def server_experiment(mlflow_server):
    """A fresh experiment on the shared server: (store, MLflow client, experiment id)."""
    server, _ = mlflow_server
    client = server.client()
    experiment_id = client.create_experiment(f"rest-{uuid.uuid4().hex[:8]}")
    return open_store(server.url), client, experiment_id


def test_changes_through_the_api_as_mlflow_sees_them(server_experiment):
    store, client, eid = server_experiment
    run_id = client.create_run(eid, run_name="first", tags={"old": "x", "custom": "1"}).info.run_id
    run = store.find_run(run_id)
    store.set_tags(run, {"stage": "prod"})
    store.set_note(run, "a note\nof two lines")
    store.rename_run(run, "renamed")
    store.delete_tags(run, ["old"])
    theirs = client.get_run(run_id)
    assert theirs.data.tags["stage"] == "prod"
    assert theirs.data.tags["mlflow.note.content"] == "a note\nof two lines"
    assert theirs.info.run_name == "renamed" and theirs.data.tags["mlflow.runName"] == "renamed"
    assert "old" not in theirs.data.tags
    store.terminate_run(run, RunStatus.KILLED, T0 + 5)
    assert (client.get_run(run_id).info.status, client.get_run(run_id).info.end_time) == ("KILLED", T0 + 5)
    store.delete_run(run)
    assert client.get_run(run_id).info.lifecycle_stage == "deleted"
    store.restore_run(run)
    assert client.get_run(run_id).info.lifecycle_stage == "active"


def test_experiment_delete_and_restore(server_experiment):
    store, client, eid = server_experiment
    client.create_run(eid)
    experiment = next(e for e in store.experiments() if e.experiment_id == eid)
    store.delete_experiment(experiment)
    assert client.get_experiment(eid).lifecycle_stage == "deleted"
    assert eid not in {e.experiment_id for e in store.experiments()}
    store.restore_experiment(experiment)
    assert client.get_experiment(eid).lifecycle_stage == "active"


def test_rules_are_checked_before_anything_is_sent(server_experiment):
    store, client, eid = server_experiment
    run = store.find_run(client.create_run(eid).info.run_id)
    with pytest.raises(ChangeRefused, match="system tag"):
        store.set_tags(run, {"mlflow.user": "me"})
    with pytest.raises(ChangeRefused, match="names may only contain"):
        store.set_tags(run, {"bad key!": "x"})


def test_the_servers_own_refusals_reach_the_user(server_experiment):
    store, client, eid = server_experiment
    run = store.find_run(client.create_run(eid).info.run_id)
    store.delete_run(run)
    with pytest.raises(StoreError, match="must be in the 'active' state"):
        store.set_tags(run, {"a": "b"})
    with pytest.raises(RunNotFound, match="no run"):
        store.find_run("0" * 32)


def test_purge_is_refused_over_rest(server_experiment):
    store, client, eid = server_experiment
    run = store.find_run(client.create_run(eid).info.run_id)
    store.delete_run(run)
    with pytest.raises(StoreError, match="REST API cannot purge.*mlflow gc"):
        store.purge([store.find_run(run.run_id)], [])
    assert client.get_run(run.run_id).info.lifecycle_stage == "deleted"


def test_gc_and_prune_purge_say_at_once_that_rest_cannot(server_experiment, capsys):
    from tuitrack.cli import main

    store, client, eid = server_experiment
    run_id = client.create_run(eid).info.run_id
    client.delete_run(run_id)
    assert main(["gc", store.location, "--yes"]) == 2
    assert "REST API cannot purge" in capsys.readouterr().err
    assert main(["prune", store.location, "--status", "FINISHED", "--purge", "--yes"]) == 2
    assert "REST API cannot purge" in capsys.readouterr().err
    assert client.get_run(run_id).info.lifecycle_stage == "deleted"


def test_runs_and_histories_page_through(server_experiment, monkeypatch):
    store, client, eid = server_experiment
    ids = {client.create_run(eid, start_time=T0 + i).info.run_id for i in range(5)}
    monkeypatch.setattr(rest_store, "PAGE", 2)
    monkeypatch.setattr(rest_store, "HISTORY_PAGE", 3)
    experiment = next(e for e in store.experiments() if e.experiment_id == eid)
    assert {r.run_id for r in store.runs(experiment)} == ids
    run_id = sorted(ids)[0]
    client.log_batch(run_id, metrics=[Metric("loss", 1 / (s + 1), T0 + s, s) for s in range(8)])
    history = store.metric_history(store.find_run(run_id), "loss")
    assert [p.step for p in history.points] == list(range(8))
    client.log_metric(run_id, "loss", math.nan, timestamp=T0 + 100, step=8)
    new = store.read_new_points(history)
    assert [p.step for p in new] == [8] and math.isnan(new[0].value)
    assert store.read_new_points(history) == []


def test_polling_fetches_what_changed(server_experiment):
    store, client, eid = server_experiment
    running = client.create_run(eid, run_name="training").info.run_id
    finished = client.create_run(eid, run_name="done").info.run_id
    client.set_terminated(finished)
    store._poller.full_every = 3
    assert store.changes(set()) == []  # the first poll learns what is there
    client.log_metric(running, "loss", 0.5, step=1)
    assert [(c.kind, c.run_id) for c in store.changes(set())] == [("run", running)]
    fresh = store.read_run(None, running)
    assert fresh.metrics["loss"].value == 0.5  # handed over, not fetched again
    new = client.create_run(eid, run_name="new").info.run_id
    assert ("run", new) in {(c.kind, c.run_id) for c in store.changes(set())}
    client.set_terminated(running, "FAILED")
    assert {(c.kind, c.run_id) for c in store.changes(set())} == {("run", running)}
    # a tag on a finished run is seen by the next full poll (every third here)
    client.set_tag(finished, "late", "tag")
    seen = set()
    for _ in range(3):
        seen |= {(c.kind, c.run_id) for c in store.changes(set())}
    assert ("run", finished) in seen
    assert store.changes(set()) == []


def test_a_listing_is_what_changes_count_from(server_experiment):
    store, client, eid = server_experiment
    run_id = client.create_run(eid).info.run_id
    experiment = next(e for e in store.experiments() if e.experiment_id == eid)
    store.runs(experiment, include_deleted=True)
    client.log_metric(run_id, "x", 1.0)
    assert ("run", run_id) in {(c.kind, c.run_id) for c in store.changes(set())}


# -- when the server is not there, or not MLflow ---------------------------------------------------------

def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_a_server_that_is_down_says_so_quickly(monkeypatch):
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "1")
    monkeypatch.setattr("tuitrack.store.mlflow_rest.client.BACKOFF_S", 0.01)
    url = f"http://127.0.0.1:{free_port()}"
    started = time.monotonic()
    with pytest.raises(StoreError, match=r"cannot reach the MLflow tracking server \(Connection refused; 2 tries"):
        open_store(url)
    assert time.monotonic() - started < 5


@pytest.fixture
def stub():
    """A pretend server answering from `script` in order (then with no experiments)."""
    script: list[tuple[int, bytes]] = []
    server = HostileServer(lambda r: r.send(*(script.pop(0) if script else (200, b'{"experiments": []}')))).start()
    server.script = script
    yield server
    server.stop()


def test_token_and_basic_auth_as_mlflow_sends_them(stub):
    MlflowHttp(stub.url, env={"MLFLOW_TRACKING_TOKEN": "s3cret"}).post("experiments/search", {})
    MlflowHttp(stub.url, env={"MLFLOW_TRACKING_USERNAME": "ann", "MLFLOW_TRACKING_PASSWORD": "pw"}).post(
        "experiments/search", {})
    assert stub.seen[0].headers["Authorization"] == "Bearer s3cret"
    assert stub.seen[1].headers["Authorization"] == "Basic YW5uOnB3"  # base64("ann:pw")
    assert stub.seen[0].path == "/api/2.0/mlflow/experiments/search"


def test_a_path_prefix_is_kept(stub):
    MlflowHttp(stub.url + "/mlflow/").post("runs/search", {"experiment_ids": ["1"]})
    assert stub.seen[0].path == "/mlflow/api/2.0/mlflow/runs/search"
    assert json.loads(stub.seen[0].body) == {"experiment_ids": ["1"]}


def test_busy_answers_are_retried(stub, monkeypatch):
    monkeypatch.setattr("tuitrack.store.mlflow_rest.client.BACKOFF_S", 0.01)
    stub.script += [(503, b"busy"), (429, b"slow down"), (200, b'{"experiments": [{"experiment_id": "7", "name": "x"}]}')]
    answer = MlflowHttp(stub.url, env={"MLFLOW_HTTP_REQUEST_MAX_RETRIES": "2"}).post("experiments/search", {})
    assert answer["experiments"][0]["name"] == "x" and len(stub.seen) == 3


def test_refused_credentials_say_which_variables_to_set(stub):
    stub.script.append((401, b""))
    with pytest.raises(StoreError, match="refused the credentials.*MLFLOW_TRACKING_TOKEN"):
        MlflowHttp(stub.url).post("experiments/search", {})


def test_a_server_that_is_not_mlflow(stub):
    stub.script.append((200, b"<html>hello</html>"))
    with pytest.raises(StoreError, match="not JSON; is this an MLflow tracking server"):
        open_store(stub.url)


def test_runs_come_with_their_data_so_loading_it_asks_nothing():
    run = mlflow_run()
    run["data"] = {"params": [{"key": "lr", "value": "0.1"}], "tags": [{"key": "team", "value": "nlp"}],
                   "metrics": [{"key": "loss", "value": 0.5, "timestamp": 7, "step": 3}]}
    server = HostileServer(experiments_then(lambda r: r.send(body={"runs": [run]}))).start()
    try:
        store = open_store(server.url)
        (listed,) = store.runs(store.experiments()[0], with_data=False)
        asked = len(server.seen)
        store.load_data(listed)
        assert len(server.seen) == asked  # no runs/get per run
        assert (listed.params, listed.tags, listed.metrics["loss"].step) == ({"lr": "0.1"}, {"team": "nlp"}, 3)
    finally:
        server.stop()


def test_search_view_types_match_mlflow(mlflow_server):
    server, ids = mlflow_server
    store = open_store(server.url)
    client = server.client()
    experiments = store.experiments(include_deleted=True)
    for include_deleted, view in ((False, ViewType.ACTIVE_ONLY), (True, ViewType.ALL)):
        ours = {r.run_id for _, r in store.all_runs(experiments, include_deleted=include_deleted)}
        theirs = {r.info.run_id for r in client.search_runs([e.experiment_id for e in experiments],
                                                             run_view_type=view, max_results=50_000)}
        assert ours == theirs
