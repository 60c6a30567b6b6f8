"""A run with no name anywhere (an old store: no run_name in meta.yaml, no mlflow.runName tag):
null in the JSON, as MLflow's client says None; the app shows the start of its id, dimmed."""

from __future__ import annotations

import json
import re

import pytest

from tests.app_helpers import settle
from tests.conftest import fixed_clock
from tests.mlflow_stores import client_for
from tuitrack.app.app import TuitrackApp
from tuitrack.app.widgets.run_tree import RunTree
from tuitrack.cli import main
from tuitrack.live.options import LiveOptions
from tuitrack.store import open_store


@pytest.fixture
def unnamed(tmp_path):
    root = tmp_path / "mlruns"
    client = client_for(root)
    experiment = client.create_experiment("old")
    run_id = client.create_run(experiment, run_name="to-forget").info.run_id
    folder = root / experiment / run_id
    meta = folder / "meta.yaml"
    meta.write_text(re.sub(r"run_name: .*\n", "", meta.read_text()))
    (folder / "tags" / "mlflow.runName").unlink()
    assert client.get_run(run_id).info.run_name is None  # what MLflow says
    return root, run_id


def test_ls_and_show_say_null(unnamed, capsys):
    root, run_id = unnamed
    assert main(["ls", str(root), "--json"]) == 0
    assert [r["run_name"] for r in json.loads(capsys.readouterr().out)] == [None]
    assert main(["show", str(root), run_id, "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["run_name"] is None


async def test_the_app_shows_the_id_prefix_dimmed(unnamed):
    root, run_id = unnamed
    app = TuitrackApp(open_store(str(root)), clock=fixed_clock, live=LiveOptions(watch=False))
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        label = app.screen.query_one(RunTree).run_nodes[run_id].label
        assert f"{run_id[:8]}…" in label.plain
        start = label.plain.index(run_id[:8])
        assert any(span.start <= start < span.end and "dim" in str(span.style) for span in label.spans)


async def test_the_palette_names_each_runs_experiment(reference_store):
    from tuitrack.app.commands import TuitrackCommands

    root, ids = reference_store
    client = client_for(root)
    client.create_run(ids.experiments["beta"], run_name="child")  # a second "child", elsewhere
    app = TuitrackApp(open_store(str(root)), clock=fixed_clock, live=LiveOptions(watch=False))
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        provider = TuitrackCommands(app.screen)
        titles = [title for title, _, _ in provider._commands() if title.startswith("Go to run: child")]
        assert sorted(titles) == ["Go to run: child in exp-alpha", "Go to run: child in exp-beta"]
