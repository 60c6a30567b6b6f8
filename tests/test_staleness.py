"""Staleness tells the truth: what counts is what the training wrote (its metric points), a
parent counts its children, and tuitrack's own edits or a fresh clone do not wake a dead run."""

from __future__ import annotations

import json
import os
import time

import pytest

from tests.mlflow_stores import client_for
from tuitrack.cli import main
from tuitrack.live.index import RunIndex
from tuitrack.store import open_store
from tuitrack.store.base import Change

HOUR = 3_600_000
TEN_MINUTES = 600_000


@pytest.fixture
def sweep(tmp_path):
    """A RUNNING parent that logs nothing, a live child logging now, and a dead RUNNING run that
    last logged two hours ago."""
    root = tmp_path / "mlruns"
    client = client_for(root)
    experiment = client.create_experiment("sweep")
    now = int(time.time() * 1000)
    parent = client.create_run(experiment, start_time=now - 3 * HOUR, run_name="parent").info.run_id
    child = client.create_run(experiment, start_time=now - 3 * HOUR, run_name="child",
                              tags={"mlflow.parentRunId": parent}).info.run_id
    client.log_metric(child, "loss", 0.5, timestamp=now - 1000, step=7)
    dead = client.create_run(experiment, start_time=now - 3 * HOUR, run_name="dead").info.run_id
    client.log_metric(dead, "loss", 0.9, timestamp=now - 2 * HOUR, step=3)
    return root, experiment, {"parent": parent, "child": child, "dead": dead}, now


def loaded_index(root) -> RunIndex:
    index = RunIndex(open_store(str(root)))
    for experiment in index.load_experiments():
        index.load_data(index.load_runs(experiment.experiment_id))
    return index


def test_a_parent_with_a_live_child_is_not_stale(sweep):
    root, _, ids, now = sweep
    index = loaded_index(root)
    parent = index.run(ids["parent"])
    assert not index.is_stale(parent, now, TEN_MINUTES)
    assert not index.is_stale(index.run(ids["child"]), now, TEN_MINUTES)
    assert index.is_stale(index.run(ids["dead"]), now, TEN_MINUTES)
    # Once the child has been silent too, the family is stale.
    assert index.is_stale(parent, now + 2 * TEN_MINUTES, TEN_MINUTES)


def test_the_last_write_is_the_last_logged_point_not_a_file_time(sweep):
    root, _, ids, now = sweep
    store = open_store(str(root))
    dead = store.find_run(ids["dead"])
    assert store.last_write(dead) == now - 2 * HOUR


def test_tuitracks_own_edits_do_not_wake_a_dead_run(sweep):
    root, experiment, ids, now = sweep
    index = loaded_index(root)
    store = index.store
    dead = index.run(ids["dead"])
    store.set_tags(dead, {"reviewed": "yes"})
    store.rename_run(dead, "dead-renamed")
    index.apply([Change("run", experiment, ids["dead"])], now_ms=now)
    dead = index.run(ids["dead"])
    assert dead.run_name == "dead-renamed"
    assert index.is_stale(dead, now, TEN_MINUTES)


def test_a_fresh_clone_does_not_wake_a_dead_run(sweep, capsys):
    root, _, ids, now = sweep
    for folder, _, files in os.walk(root):  # what `git clone` or `cp` does to file times
        for name in files:
            os.utime(os.path.join(folder, name))
    index = loaded_index(root)
    assert index.is_stale(index.run(ids["dead"]), now, TEN_MINUTES)
    assert main(["prune", str(root), "--status", "STALE", "--json"]) == 0
    pruned = {r["run_name"] for r in json.loads(capsys.readouterr().out)["runs"]}
    assert pruned == {"dead"}  # the parent goes with its live child: not stale


def test_appended_points_are_life(sweep):
    root, experiment, ids, now = sweep
    index = loaded_index(root)
    later = now + HOUR
    index.apply([Change("metric", experiment, ids["dead"], "loss")], now_ms=later)
    assert not index.is_stale(index.run(ids["dead"]), later + 1000, TEN_MINUTES)


@pytest.mark.parametrize("args", [
    ["STORE", "--stale-after", "-5"], ["STORE", "--stale-after", "0"], ["STORE", "--stale-after", "nan"],
    ["STORE", "--stale-after", "soon"], ["STORE", "--poll", "-1"], ["STORE", "--poll", "inf"],
    ["prune", "STORE", "--status", "STALE", "--stale-after", "-5"],
    ["prune", "STORE", "--keep-last", "-1"], ["prune", "STORE", "--keep-last", "2.5"],
    ["prune", "STORE", "--beyond-newest", "x"],
    ["demo", "STORE", "--steps", "0"], ["demo", "STORE", "--rate", "-3"], ["demo", "STORE", "--rate", "nan"],
])
def test_bad_numbers_are_refused_in_one_line(sweep, capsys, args):
    root = sweep[0]
    args = [str(root) if a == "STORE" else a for a in args]
    with pytest.raises(SystemExit) as exit_:
        main(args)
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "argument --" in err and "Traceback" not in err
