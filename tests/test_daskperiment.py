"""daskperiment's LocalBackend and RedisBackend stores, written by the real package, read by
tuitrack without running any of their pickles, and compared field by field with what
daskperiment's own loaders return."""

from __future__ import annotations

import json
import os
import pickle
import shutil

import pytest

from tests.daskperiment_stores import metric_record, pickled_dict, result_record, run_quickstart
from tuitrack.cli import main
from tuitrack.model import NOTE_TAG, RunStatus
from tuitrack.store import StoreError, open_store
from tuitrack.store.daskperiment import DaskperimentLocalStore
from tuitrack.store.daskperiment.trials import ENVIRONMENT_TAG, run_id_for
from tuitrack.store.mlflow_rules import ChangeRefused

pytest_plugins = ["tests.daskperiment_fixtures"]  # its fixtures: stores and a Redis server
EXPERIMENT = "quickstart_pj"


def trials_of(store, experiment=EXPERIMENT):
    [found] = [e for e in store.experiments() if e.experiment_id == experiment]
    return {int(r.tags["daskperiment.trial_id"]): r for r in store.runs(found)}


def check_against_daskperiment(store, expected: dict) -> None:
    """Every field daskperiment's loaders give, as tuitrack reads it."""
    runs = trials_of(store)
    assert sorted(runs) == sorted(int(t) for t in expected)
    for trial, want in expected.items():
        run = runs[int(trial)]
        assert run.run_id == run_id_for(EXPERIMENT, int(trial))
        assert run.problems == []
        assert run.params == want["params"]
        assert run.status is (RunStatus.FINISHED if want["success"] else RunStatus.FAILED)
        assert run.end_time == want["finished_ms"]
        assert run.start_time == want["finished_ms"] - want["process_ms"]
        assert run.tags["daskperiment.seed"] == str(want["seed"])
        assert run.tags["daskperiment.result_type"] == want["result_type"]
        if want["result"] is None:
            assert "Result" not in run.metrics
        else:
            assert run.metrics["Result"].value == want["result"]
        assert run.tags.get(NOTE_TAG) == want["description"]
        assert run.tags["daskperiment.code"] == want["code"]
        python = json.loads(run.tags[ENVIRONMENT_TAG + "python"])
        assert [f"{k}: {v}" for k, v in python.items()] == want["python"].splitlines()
        assert run.tags["daskperiment.persisted"] == "scaled"
        for name, points in want["metrics"].items():
            history = store.metric_history(run, name)
            assert [[p.step, p.value, p.timestamp] for p in history.points] == points
            assert history.problems == []
            assert run.metrics[name].step == points[-1][0]


# -- LocalBackend -------------------------------------------------------------------------------------


def test_local_trials_match_what_daskperiment_loads(local_cache):
    cache, expected = local_cache
    store = open_store(str(cache))
    assert isinstance(store, DaskperimentLocalStore)
    assert [e.experiment_id for e in store.experiments()] == [EXPERIMENT]
    check_against_daskperiment(store, expected)


@pytest.mark.parametrize("where", ["cache", "experiment folder", "pickle"])
def test_the_cache_one_experiment_folder_or_its_pickle_opens(local_cache, where, capsys):
    cache, expected = local_cache
    path = {"cache": cache, "experiment folder": cache / EXPERIMENT,
            "pickle": cache / EXPERIMENT / f"{EXPERIMENT}.pkl"}[where]
    assert main(["ls", str(path), "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert sorted(r["run_name"] for r in listed) == [f"trial {t}" for t in sorted(expected)]
    assert main(["show", str(path), f"{EXPERIMENT}:3", "--format", "daskperiment", "--json"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["status"] == "FAILED" and shown["tags"][NOTE_TAG] == expected["3"]["description"]
    assert main(["ls", str(path), "--store-format", "entrenar"]) == 2  # not entrenar's


def test_a_folder_that_is_no_store_names_daskperiment_among_the_expected(tmp_path, capsys):
    assert main(["ls", str(tmp_path)]) == 2
    assert "daskperiment_cache" in capsys.readouterr().err


def test_every_change_is_refused_saying_why(local_cache):
    cache, _ = local_cache
    store = open_store(str(cache))
    run = trials_of(store)[1]
    for change in (lambda: store.set_tags(run, {"a": "b"}), lambda: store.delete_tags(run, ["a"]),
                   lambda: store.set_note(run, "x"), lambda: store.rename_run(run, "x"),
                   lambda: store.delete_run(run), lambda: store.restore_run(run),
                   lambda: store.terminate_run(run, RunStatus.KILLED, None),
                   lambda: store.purge([run], [])):
        with pytest.raises(ChangeRefused, match="no way to change or delete"):
            change()
    assert "no way to change" in store.refusal("tag", run) and "no way to change" in store.cannot_purge()


def test_an_experiment_without_a_finished_trial_is_listed_empty(tmp_path):
    for sub in ("code", "environment", "persist"):
        (tmp_path / "cache" / "fresh" / sub).mkdir(parents=True)
    store = open_store(str(tmp_path / "cache"))
    [experiment] = store.experiments()
    assert experiment.name == "fresh" and store.runs(experiment) == [] and experiment.problems == []


def test_a_pickle_being_rewritten_keeps_the_last_complete_reading(local_cache):
    cache, expected = local_cache
    store = open_store(str(cache))
    before = trials_of(store)
    path = cache / EXPERIMENT / f"{EXPERIMENT}.pkl"
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])  # daskperiment truncates, then writes
    assert store.changes({str(path)}) == []
    assert trials_of(store).keys() == before.keys()
    fresh = open_store(str(cache))  # never read whole: cut short is a problem on the experiment
    [experiment] = fresh.experiments()
    assert "cut short" in experiment.problems[0].message and fresh.runs(experiment) == []


def test_a_new_trial_is_a_change_naming_its_run(local_cache):
    cache, expected = local_cache
    store = open_store(str(cache))
    store.start_counting_changes()
    trials_of(store)
    more = run_quickstart(cache.parent, "local", trials=[{"a": 5, "b": 6, "opt": "adam", "seed": 1}])
    assert len(more) == len(expected) + 1
    changes = store.changes({str(cache / EXPERIMENT / f"{EXPERIMENT}.pkl")})
    assert {c.run_id for c in changes if c.kind == "run"} == {run_id_for(EXPERIMENT, 4)}
    run = store.read_run(store.experiments()[0], run_id_for(EXPERIMENT, 4))
    assert run.params == more["4"]["params"] and run.tags["daskperiment.seed"] == "1"


def test_a_symlinked_pickle_is_not_followed(local_cache, tmp_path):
    cache, _ = local_cache
    path = cache / EXPERIMENT / f"{EXPERIMENT}.pkl"
    outside = tmp_path / "outside.pkl"
    shutil.move(path, outside)
    path.symlink_to(outside)
    store = open_store(str(cache))
    [experiment] = store.experiments()
    assert "symlink" in experiment.problems[0].message and store.runs(experiment) == []


def test_a_too_big_pickle_is_a_problem_not_read(local_cache, monkeypatch):
    cache, _ = local_cache
    monkeypatch.setattr("tuitrack.store.daskperiment.local.MAX_BYTES", 100)
    [experiment] = open_store(str(cache)).experiments()
    assert "more than tuitrack reads" in experiment.problems[0].message


# -- RedisBackend ---------------------------------------------------------------------------------------


def test_redis_trials_match_what_daskperiment_loads(redis_quickstart):
    url, expected = redis_quickstart
    store = open_store(url)
    assert [e.experiment_id for e in store.experiments()] == [EXPERIMENT]
    check_against_daskperiment(store, expected)


def test_redis_ls_and_show_through_the_cli(redis_quickstart, capsys):
    url, expected = redis_quickstart
    assert main(["ls", url, "--json"]) == 0
    listed = {r["run_name"]: r for r in json.loads(capsys.readouterr().out)}
    assert listed["trial 3"]["status"] == "FAILED" and listed["trial 2"]["params"] == expected["2"]["params"]
    assert main(["show", url, run_id_for(EXPERIMENT, 2)[:6]]) == 0
    assert "dummy_score" in capsys.readouterr().out
    assert main(["tag", url, f"{EXPERIMENT}:2", "k=v"]) != 0
    assert "no way to change or delete" in capsys.readouterr().err


def test_a_running_trial_and_appended_metrics_are_changes(redis_url):
    import redis

    client = redis.Redis.from_url(redis_url)
    client.set("live:trial_id", 1)
    client.set("live:parameter:1", pickled_dict({"lr": 0.1}))
    client.rpush("live:metric:loss:1", metric_record(0, 1.0))
    store = open_store(redis_url)
    store.start_counting_changes()
    [run] = trials_of(store, "live").values()
    assert run.status is RunStatus.RUNNING and run.params == {"lr": "0.1"} and run.start_time is not None
    assert store.changes(set()) == []
    client.rpush("live:metric:loss:1", metric_record(1, 0.5))
    assert [(c.kind, c.key) for c in store.changes(set())] == [("metric", "loss")]
    assert store.latest_metric(run, "loss").step == 1
    assert store.last_write(store.find_run(run.run_id)) == store.latest_metric(run, "loss").timestamp
    client.set("live:trial_id", 2)
    client.set("live:parameter:2", pickled_dict({"lr": 0.2}))
    client.set("live:history:1", result_record(True, 0.5))
    changed = {c.run_id for c in store.changes(set()) if c.kind == "run"}
    assert changed == {run_id_for("live", 1), run_id_for("live", 2)}
    assert store.read_run(store.experiments()[0], run.run_id).status is RunStatus.FINISHED


def test_redis_garbage_is_a_problem_on_the_trial(redis_url):
    import redis

    client = redis.Redis.from_url(redis_url)
    client.set("bad:trial_id", 3)
    client.set("bad:parameter:1", b"not a pickle at all")
    client.rpush("bad:history:2", b"a list where a pickle should be")
    client.set("bad:parameter:3", pickled_dict({"lr": 1}))
    client.rpush("bad:metric:loss:3", b"garbage", metric_record(1, 2.0))
    client.set("bad:metric:acc:1", b"a string where a list should be")
    runs = trials_of(open_store(redis_url), "bad")
    assert [p.message[:25] for p in runs[1].problems] == ["is not a readable pickle ", "is not a list (WRONGTYPE "]
    assert "not a string" in runs[2].problems[0].message
    assert runs[3].metrics["loss"].value == 2.0
    history = open_store(redis_url).metric_history(runs[3], "loss")
    assert [p.value for p in history.points] == [2.0] and "cannot be read" in history.problems[0].message


def test_a_long_metric_list_is_read_in_pages(redis_url, monkeypatch):
    import redis

    monkeypatch.setattr("tuitrack.store.daskperiment.redis_store.PAGE", 7)
    client = redis.Redis.from_url(redis_url)
    client.set("long:trial_id", 1)
    client.set("long:parameter:1", pickled_dict({}))
    client.rpush("long:metric:loss:1", *[metric_record(i, float(i)) for i in range(50)])
    store = open_store(redis_url)
    [run] = trials_of(store, "long").values()
    history = store.metric_history(run, "loss")
    assert [p.step for p in history.points] == list(range(50))
    client.rpush("long:metric:loss:1", *[metric_record(i, float(i)) for i in range(50, 60)])
    assert [p.step for p in store.read_new_points(history)] == list(range(50, 60))


def test_an_experiment_with_too_many_keys_says_so(redis_url, monkeypatch):
    import redis

    monkeypatch.setattr("tuitrack.store.daskperiment.redis_store.MAX_KEYS", 5)
    client = redis.Redis.from_url(redis_url)
    client.set("many:trial_id", 10)
    for t in range(1, 11):
        client.set(f"many:parameter:{t}", pickled_dict({"t": t}))
    store = open_store(redis_url)
    [experiment] = store.experiments()
    assert 0 < len(store.runs(experiment)) <= 5
    assert "more than 5 keys" in experiment.problems[0].message
    assert "more than 5 keys" in store.experiments()[0].problems[0].message


def test_a_too_big_value_is_not_fetched(redis_url, monkeypatch):
    import redis

    monkeypatch.setattr("tuitrack.store.daskperiment.redis_store.MAX_VALUE", 64)
    client = redis.Redis.from_url(redis_url)
    client.set("big:trial_id", 1)
    client.set("big:parameter:1", pickled_dict({"x": "y" * 1000}))
    [run] = trials_of(open_store(redis_url), "big").values()
    assert "more than tuitrack reads" in run.problems[0].message


def test_a_server_that_does_not_answer_is_one_line(redis_server):
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(StoreError, match="ConnectionError"):
        open_store(f"redis://:secret@127.0.0.1:{port}/0")
    try:
        open_store(f"redis://:secret@127.0.0.1:{port}/0")
    except StoreError as exc:
        assert "secret" not in str(exc)


def test_without_redis_py_the_message_says_how_to_install_it(monkeypatch):
    monkeypatch.setitem(__import__("sys").modules, "redis", None)
    with pytest.raises(StoreError, match=r"pip install 'tuitrack\[redis\]'"):
        open_store("redis://127.0.0.1:6379/0")


def test_the_environment_in_ci_has_redis():
    if os.environ.get("CI") == "true":
        assert os.environ.get("TUITRACK_TEST_REDIS"), ".ci/run starts redis-server and exports its URL"
    else:
        pytest.skip("only checked in CI")


def test_hostile_pickle_stays_inert(local_cache, tmp_path):
    """A LocalBackend pickle replaced by one that would run a command: a problem, nothing runs."""
    cache, _ = local_cache
    canary = tmp_path / "canary"

    class Payload:
        def __reduce__(self):
            return (os.system, (f"touch {canary}",))

    (cache / EXPERIMENT / f"{EXPERIMENT}.pkl").write_bytes(pickle.dumps(Payload()))
    store = open_store(str(cache))
    [experiment] = store.experiments()
    assert "would run code" in experiment.problems[0].message
    assert store.runs(experiment) == [] and not canary.exists()
    pickle.loads((cache / EXPERIMENT / f"{EXPERIMENT}.pkl").read_bytes())  # the payload is real
    assert canary.exists()


NEVER_IMPORTED = {"daskperiment", "pandas", "cloudpickle", "numpy", "dask"}
LIST_AND_CHECK = """
import json, sys
from tuitrack.cli import main
main(["ls", sys.argv[1], "--json"])
main(["show", sys.argv[1], "quickstart_pj:1", "--json"])
print(json.dumps(sorted(m.split(".")[0] for m in sys.modules)))
"""


@pytest.mark.parametrize("backend", ["local", "redis"])
def test_reading_imports_neither_daskperiment_nor_pandas_nor_cloudpickle(request, backend):
    import subprocess
    import sys

    location = str(request.getfixturevalue("local_cache")[0]) if backend == "local" \
        else request.getfixturevalue("redis_quickstart")[0]
    done = subprocess.run([sys.executable, "-c", LIST_AND_CHECK, location], capture_output=True, text=True,
                          check=True)
    modules = set(json.loads(done.stdout.strip().splitlines()[-1]))
    assert "tuitrack" in modules and not modules & NEVER_IMPORTED
