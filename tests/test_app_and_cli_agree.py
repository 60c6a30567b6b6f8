"""The app and the CLI say and do the same: removing a tag a run lacks is refused by both, the
app's refusals name what the app offers (never the CLI's --force), the tag prompt takes several
tags, notes are removed by an empty text, the Default experiment is refused before any question;
and the CLI's own agreements: $MLFLOW_TRACKING_URI for every command, run names for ids, id
prefixes in gc, --version, parents before their children in ls."""

from __future__ import annotations

import json
from importlib.metadata import version

import pytest

from tests.app_helpers import settle
from tests.mlflow_stores import client_for
from tests.test_app_edit import app_for, app_while_running, focus_run
from tuitrack.app.screens.dialogs import Confirm
from tuitrack.app.widgets.run_tree import RunTree
from tuitrack.cli import main


def messages(app) -> list[str]:
    return [str(n.message) for n in app._notifications]


def cli(capsys, *args) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


async def test_removing_a_tag_the_run_lacks_is_refused_by_both(reference_store, capsys):
    root, ids = reference_store
    run_id = ids.runs["parent"]
    code, _, err = cli(capsys, "tag", str(root), run_id, "--remove", "nope")
    assert code == 1 and f"run {run_id[:8]} has no tag 'nope'" in err
    app = app_for(root)
    async with app.run_test(size=(120, 40), notifications=True) as pilot:
        await settle(pilot)
        await focus_run(pilot, run_id)
        await pilot.press("t", *"-nope", "enter")
        await settle(pilot)
        assert any(f"Not done: run {run_id[:8]} has no tag 'nope'" in m for m in messages(app))
        assert len(app.screen.undo_stack) == 0


async def test_the_tag_prompt_takes_several_tags_and_says_what_it_did(reference_store):
    root, ids = reference_store
    run_id = ids.runs["parent"]
    client = client_for(root)
    app = app_for(root)
    async with app.run_test(size=(120, 40), notifications=True) as pilot:
        await settle(pilot)
        await focus_run(pilot, run_id)
        await pilot.press("t", *"a=1 b='two words' -custom.tag", "enter")
        await settle(pilot)
        tags = client.get_run(run_id).data.tags
        assert tags["a"] == "1" and tags["b"] == "two words" and "custom.tag" not in tags
        assert any("parent: set a=1, b=two words; removed custom.tag" in m for m in messages(app))
        await pilot.press("u")  # one undo takes all of it back
        await settle(pilot)
        tags = client.get_run(run_id).data.tags
        assert "a" not in tags and "b" not in tags and tags["custom.tag"] == "v"


async def test_app_refusals_do_not_mention_force(reference_store):
    root, ids = reference_store
    app = app_while_running(root)  # the running run is alive, so d leaves it alone
    async with app.run_test(size=(120, 40), notifications=True) as pilot:
        await settle(pilot)
        await focus_run(pilot, ids.runs["parent"])
        await pilot.press("t", *"mlflow.user=x", "enter")
        await settle(pilot)
        await focus_run(pilot, ids.runs["running"])
        await pilot.press("d")
        await settle(pilot)
        said = messages(app)
        assert any("'mlflow.user' is an MLflow system tag" in m and "R renames" in m for m in said)
        assert any("RUNNING run(s) left alone" in m for m in said)
        assert not any("--force" in m for m in said), said


def test_the_cli_still_offers_force_for_system_tags(reference_store, capsys):
    root, ids = reference_store
    code, _, err = cli(capsys, "tag", str(root), ids.runs["parent"], "mlflow.user=x")
    assert code == 1 and "add --force to change it anyway" in err


async def test_the_default_experiment_is_refused_before_asking(reference_store, capsys):
    root, ids = reference_store
    code, _, err = cli(capsys, "delete", str(root), "--experiment", "0")  # no --yes: it must not ask
    assert code == 1 and "the Default experiment cannot be deleted" in err and "Delete?" not in err
    app = app_for(root)
    async with app.run_test(size=(120, 40), notifications=True) as pilot:
        await settle(pilot)
        tree = app.screen.query_one(RunTree)
        tree.focus()
        tree.select_experiment("0")
        await settle(pilot)
        await pilot.press("d")
        await settle(pilot)
        assert not isinstance(app.screen, Confirm)
        assert any("the Default experiment cannot be deleted" in m for m in messages(app))


def test_an_empty_note_removes_the_note(reference_store, capsys):
    root, ids = reference_store
    run_id = ids.runs["parent"]
    code, _, err = cli(capsys, "note", str(root), run_id, "")
    assert code == 0 and "note removed" in err
    assert "mlflow.note.content" not in client_for(root).get_run(run_id).data.tags


@pytest.mark.parametrize("command", [
    ["ls", "--json"], ["show", "{run}", "--json"], ["tag", "{run}", "k=v"], ["note", "{run}", "hi"],
    ["rename", "{run}", "renamed"], ["prune", "--status", "FAILED", "--dry-run"], ["gc", "--yes"],
])
def test_mlflow_tracking_uri_stands_for_a_left_out_store(reference_store, capsys, monkeypatch, tmp_path, command):
    root, ids = reference_store
    monkeypatch.setenv("MLFLOW_TRACKING_URI", str(root))
    monkeypatch.chdir(tmp_path)  # no ./mlruns here
    args = [a.format(run=ids.runs["child"]) for a in command]
    code, out, err = cli(capsys, *args)
    assert code == 0, err
    # Naming the store still works, and wins over the variable.
    other = tmp_path / "other"
    client_for(other).create_experiment("other")
    code, out, err = cli(capsys, "ls", str(other), "--json")
    assert code == 0 and json.loads(out) == []


def test_run_names_stand_for_ids_when_unique(reference_store, capsys):
    root, ids = reference_store
    code, out, _ = cli(capsys, "show", str(root), "still-running", "--json")
    assert code == 0 and json.loads(out)["run_id"] == ids.runs["running"]
    client = client_for(root)
    client.create_run(ids.experiments["alpha"], run_name="child")  # now two runs are called child
    code, _, err = cli(capsys, "show", str(root), "child")
    assert code == 1 and "2 runs are named 'child'" in err and ids.runs["child"] in err


def test_gc_run_ids_take_prefixes_and_names(reference_store, capsys):
    root, ids = reference_store
    deleted = ids.runs["deleted"]
    code, out, err = cli(capsys, "gc", str(root), "--run-ids", deleted[:6], "--yes")
    assert code == 0 and "purged 1 run(s)" in out
    assert not (root / ids.experiments["beta"] / deleted).exists()
    code, _, err = cli(capsys, "gc", str(root), "--run-ids", "still-running", "--yes")
    assert code == 1 and "is not deleted" in err


def test_version(capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["--version"])
    assert exit_.value.code == 0 and capsys.readouterr().out.strip() == f"tuitrack {version('tuitrack')}"


def test_ls_lists_children_under_their_parent(reference_store, capsys, monkeypatch):
    root, ids = reference_store
    monkeypatch.setenv("COLUMNS", "160")
    code, out, _ = cli(capsys, "ls", str(root), "--experiment", "exp-alpha")
    lines = out.splitlines()
    parent = next(i for i, line in enumerate(lines) if ids.runs["parent"][:8] in line)
    child = next(i for i, line in enumerate(lines) if ids.runs["child"][:8] in line)
    assert child == parent + 1 and "  child" in lines[child]
    # JSON keeps MLflow's order (newest first), for scripts that compare.
    code, out, _ = cli(capsys, "ls", str(root), "--experiment", "exp-alpha", "--json")
    order = [r["run_id"] for r in json.loads(out)]
    assert order.index(ids.runs["child"]) < order.index(ids.runs["parent"])


def test_tag_edits_read_as_the_prompt_says():
    from tuitrack.store.tag_edits import parse_tag_edits

    edits = parse_tag_edits("a=1 b='x y' -c d=")
    assert edits.sets == {"a": "1", "b": "x y", "d": ""} and edits.removes == ["c"]
    for bad in ("junk", "-", "a='open"):
        with pytest.raises(ValueError):
            parse_tag_edits(bad)
