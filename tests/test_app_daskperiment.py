"""The app on daskperiment's stores: it shows the trials and follows them as daskperiment writes."""

from __future__ import annotations

import asyncio

import pytest

from tests.app_helpers import settle
from tests.conftest import fixed_clock
from tests.daskperiment_stores import metric_record, pickled_dict, result_record, run_quickstart
from tests.test_app_live import eventually
from tuitrack.app.app import TuitrackApp
from tuitrack.app.widgets.run_tree import RunTree
from tuitrack.app.widgets.runs_table import RunsTable
from tuitrack.live.options import LiveOptions
from tuitrack.store import open_store
from tuitrack.store.daskperiment.trials import run_id_for

pytest_plugins = ["tests.daskperiment_fixtures"]  # its fixtures: stores and a Redis server
EXPERIMENT = "quickstart_pj"


def app_on(location, **live) -> TuitrackApp:
    return TuitrackApp(open_store(str(location)), clock=fixed_clock, live=LiveOptions(**live))


async def test_app_shows_the_trials_of_a_local_cache(local_cache):
    cache, expected = local_cache
    app = app_on(cache, watch=False)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        tree = app.screen.query_one(RunTree)
        assert set(tree.run_nodes) == {run_id_for(EXPERIMENT, int(t)) for t in expected}
        assert "trial 3" in str(tree.run_nodes[run_id_for(EXPERIMENT, 3)].label)
        assert str(tree.run_nodes[run_id_for(EXPERIMENT, 3)].label).startswith("✗")
        await app.screen.select_run(run_id_for(EXPERIMENT, 1))
        await settle(pilot)
        table = app.screen.query_one(RunsTable)
        assert table.highlighted_run.metrics["dummy_score"].value == expected["1"]["metrics"]["dummy_score"][-1][1]


@pytest.mark.parametrize("poll", [None, 0.2], ids=["inotify", "polling"])
async def test_app_follows_a_local_cache_as_trials_end(local_cache, poll):
    cache, expected = local_cache
    app = app_on(cache, poll=poll)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        tree = app.screen.query_one(RunTree)
        more = [{"a": 5, "b": 6, "opt": "adam"}]
        await asyncio.to_thread(run_quickstart, cache.parent, "local", trials=more)
        new = run_id_for(EXPERIMENT, len(expected) + 1)
        await eventually(pilot, lambda: new in tree.run_nodes, timeout=10)
        assert app.screen.index.run(new).params == {"a": "5", "b": "6", "opt": "adam"}


async def test_app_follows_redis_as_a_trial_runs(redis_url):
    import redis

    client = redis.Redis.from_url(redis_url)
    client.set("live:trial_id", 1)
    client.set("live:parameter:1", pickled_dict({"lr": 0.1}))
    client.rpush("live:metric:loss:1", metric_record(0, 1.0))
    app = app_on(redis_url, poll=0.2)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        screen = app.screen
        tree = screen.query_one(RunTree)
        first = run_id_for("live", 1)
        assert str(tree.run_nodes[first].label).startswith("●")
        await screen.select_run(first)
        await settle(pilot)
        table = screen.query_one(RunsTable)
        await asyncio.to_thread(client.rpush, "live:metric:loss:1", metric_record(1, 0.5))
        await eventually(pilot, lambda: table.highlighted_run.metrics["loss"].step == 1)
        await asyncio.to_thread(client.set, "live:history:1", result_record(False))
        await eventually(pilot, lambda: str(tree.run_nodes[first].label).startswith("✗"))
        await asyncio.to_thread(client.set, "live:trial_id", 2)
        await asyncio.to_thread(client.set, "live:parameter:2", pickled_dict({"lr": 0.2}))
        await eventually(pilot, lambda: run_id_for("live", 2) in tree.run_nodes)


async def test_app_follows_trials_daskperiment_adds_to_redis(redis_url, tmp_path):
    expected = await asyncio.to_thread(run_quickstart, tmp_path, redis_url, trials=[{"a": 1, "b": 2, "opt": "sgd"}])
    app = app_on(redis_url, poll=0.2)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        tree = app.screen.query_one(RunTree)
        assert set(tree.run_nodes) == {run_id_for(EXPERIMENT, int(t)) for t in expected}
        await asyncio.to_thread(run_quickstart, tmp_path, redis_url, trials=[{"a": 300, "b": 1, "opt": "sgd"}])
        new = run_id_for(EXPERIMENT, 2)
        await eventually(pilot, lambda: new in tree.run_nodes and str(tree.run_nodes[new].label).startswith("✗"))
        assert app.screen.index.run(new).note == "ValueError(score too big: 301)"
