"""Other trackers' folders behind the same commands: recognised from what is on disk or named with
--format, listed with the same JSON shape as MLflow's, changed and pruned through the CLI."""

from __future__ import annotations

import json
import time

import pytest

from tests.conftest import SAMPLE
from tests.other_trackers import (
    entrenar_record,
    write_entrenar,
    write_entrenar_store,
    write_fetch_ml_store,
    write_meta,
)
from tuitrack.cli import main
from tuitrack.store import StoreError, open_store
from tuitrack.store.entrenar import EntrenarStore
from tuitrack.store.fetch_ml import FetchMlStore
from tuitrack.store.mlflow_file import MlflowFileStore


@pytest.fixture
def stores(tmp_path):
    return {"mlflow": SAMPLE, "entrenar": write_entrenar_store(tmp_path / "entrenar"),
            "fetch_ml": write_fetch_ml_store(tmp_path / "fetch_ml")}


def test_each_format_is_recognised_from_disk(stores):
    assert isinstance(open_store(str(stores["mlflow"])), MlflowFileStore)
    assert isinstance(open_store(str(stores["entrenar"])), EntrenarStore)
    assert isinstance(open_store(str(stores["fetch_ml"])), FetchMlStore)
    assert isinstance(open_store(stores["fetch_ml"].as_uri()), FetchMlStore)


def test_format_can_be_named(stores, tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    assert isinstance(open_store(str(empty), format="entrenar"), EntrenarStore)
    assert open_store(str(empty), format="entrenar").experiments() == []
    assert isinstance(open_store(str(empty), format="fetch_ml"), FetchMlStore)
    with pytest.raises(StoreError, match="not a store; expected an MLflow mlruns folder"):
        open_store(str(stores["entrenar"]), format="mlflow")
    with pytest.raises(StoreError, match="unknown store format"):
        open_store(str(empty), format="wandb")


def test_not_a_store_lists_every_format(tmp_path):
    (tmp_path / "config.json").write_text('{"lr": 1}')
    with pytest.raises(StoreError) as caught:
        open_store(str(tmp_path))
    message = str(caught.value)
    assert "expected an MLflow mlruns folder" in message
    assert "an entrenar folder of {run_id}.json run records" in message and "a fetch_ml base folder" in message


def ls_json(capsys, *argv) -> list[dict]:
    assert main(["ls", *argv, "--json"]) == 0
    return json.loads(capsys.readouterr().out)


def test_ls_json_has_the_same_shape_for_every_format(stores, capsys):
    reference = ls_json(capsys, str(stores["mlflow"]))
    keys = set(reference[0])
    assert all(set(row) == keys for row in reference)
    for name in ("entrenar", "fetch_ml"):
        rows = ls_json(capsys, str(stores[name]), "--store-format", name)
        assert rows and all(set(row) == keys for row in rows), name
        for row in rows:
            for key in ("params", "tags", "metrics"):
                assert isinstance(row[key], dict)
            assert isinstance(row["problems"], list) and isinstance(row["start_time"], int)
    assert {r["run_id"] for r in ls_json(capsys, str(stores["entrenar"]))} == {"run-1", "run-2", "run-3"}


def test_format_option_on_the_commands(stores, capsys):
    root = str(stores["entrenar"])
    assert main(["show", root, "run-1", "--format", "entrenar", "--json"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["metrics"]["loss"] == [{"step": 1, "timestamp": shown["start_time"], "value": 0.5},
                                        {"step": 2, "timestamp": shown["start_time"], "value": 0.25}]
    assert main(["tag", root, "run-1", "stage=prod", "--format", "entrenar"]) == 0
    assert json.loads((stores["entrenar"] / "run-1.json").read_text())["tags"]["stage"] == "prod"
    assert main(["ls", root, "--store-format", "fetch_ml", "--json"]) == 2  # entrenar records are not fetch_ml's
    assert "not a fetch_ml base folder" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["show", root, "run-1", "--format", "wandb"])


def test_refused_changes_are_one_line_errors(stores, capsys):
    assert main(["tag", str(stores["fetch_ml"]), "a1b2", "x=y"]) == 1
    assert "fetch_ml keeps no tags" in capsys.readouterr().err
    assert main(["delete", str(stores["entrenar"]), "--experiment", "resnet", "--yes"]) == 1
    assert "only names on runs" in capsys.readouterr().err


def test_delete_restore_and_gc_through_the_cli(stores, capsys):
    root = str(stores["entrenar"])
    assert main(["delete", root, "run-2", "--yes"]) == 0
    assert {r["run_id"] for r in ls_json(capsys, root)} == {"run-1", "run-3"}
    assert main(["restore", root, "run-2"]) == 0
    assert {r["run_id"] for r in ls_json(capsys, root)} == {"run-1", "run-2", "run-3"}
    assert main(["delete", root, "run-2", "--yes"]) == 0
    assert main(["gc", root, "--yes"]) == 0
    assert not (stores["entrenar"] / "run-2.json").exists()


def test_fetch_ml_native_prune_policy(tmp_path, capsys):
    """fetch_ml's PruneExperiments(keep=N, olderThanDays=D) prunes the commits beyond the newest N,
    and those older than D days: tuitrack prune --beyond-newest N --older-than Dd."""
    now = int(time.time())
    for commit, days in (("old", 10), ("middle", 5), ("new", 1), ("newest", 0.5)):
        write_meta(tmp_path, commit, int(now - days * 86_400), "train", "alice")
    root = str(tmp_path)

    def plan(*rules) -> set[str]:
        assert main(["prune", root, *rules, "--json"]) == 0
        return {r["run_id"] for r in json.loads(capsys.readouterr().out)["runs"]}

    assert plan("--beyond-newest", "3", "--older-than", "3d") == {"old", "middle"}
    assert plan("--keep-last", "3", "--older-than", "3d") == {"old"}  # tuitrack's keep rule protects
    assert main(["prune", root, "--beyond-newest", "3", "--older-than", "3d", "--yes", "--purge"]) == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["new", "newest"]


def test_entrenar_runs_share_nothing_with_other_experiments_of_the_same_folder(tmp_path, capsys):
    write_entrenar(tmp_path, entrenar_record("a", "one"))
    write_entrenar(tmp_path, entrenar_record("b", "two"))
    rows = ls_json(capsys, str(tmp_path), "--experiment", "two")
    assert [r["run_id"] for r in rows] == ["b"] and rows[0]["experiment_name"] == "two"


def test_the_app_entry_takes_the_format_too(stores):
    from tuitrack.cli import browse
    from tuitrack.cli.store_format import open_from

    args = browse.build_parser("").parse_args([str(stores["fetch_ml"]), "--format", "fetch_ml", "--no-watch"])
    assert isinstance(open_from(args, args.store), FetchMlStore)
    args = browse.build_parser("").parse_args([str(stores["entrenar"])])
    assert isinstance(open_from(args, args.store), EntrenarStore)


def test_a_format_asked_for_that_is_not_there_is_an_error(tmp_path, capsys):
    from tuitrack.cli import main

    (tmp_path / "notes.txt").write_text("not runs")
    for name in ("entrenar", "fetch_ml"):
        assert main(["ls", str(tmp_path), "--store-format", name]) == 2
        assert f"asked for with --format {name}" in capsys.readouterr().err
