"""tuitrack prune on a store MLflow wrote, with ages, statuses and metrics chosen so that the
exact set of pruned runs is known for each policy."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest
from mlflow.entities import ViewType

from tests.mlflow_stores import client_for
from tuitrack.cli import main

DAY = 86_400_000


@pytest.fixture
def sweep(tmp_path):
    """Runs named by letter; start ages in days; val_loss where given."""
    root = tmp_path / "mlruns"
    c = client_for(root)
    exp = c.create_experiment("sweep")
    now = int(time.time() * 1000)
    ids = {}

    def run(name, age_days, status, loss=None, opt="adam", tags=None):
        r = c.create_run(exp, start_time=now - age_days * DAY, run_name=name, tags=tags or {})
        c.log_param(r.info.run_id, "opt", opt)
        if loss is not None:
            c.log_metric(r.info.run_id, "val_loss", loss, timestamp=now - age_days * DAY, step=0)
        if status != "RUNNING":
            c.set_terminated(r.info.run_id, status, end_time=now - age_days * DAY + 1000)
        ids[name] = r.info.run_id
        return r.info.run_id

    run("a", 40, "FINISHED", 0.5, "adam")
    run("b", 20, "FINISHED", 0.3, "sgd")
    run("c", 1, "FAILED", 0.9, "adam")
    run("d", 2, "KILLED", None, "sgd")
    run("e", 50, "FINISHED", 0.4, "adam", tags={"keep": "true"})
    run("f", 60, "RUNNING", 0.2, "sgd")
    p = run("p", 10, "FINISHED", 0.6, "adam")
    run("q", 10, "FAILED", 0.7, "adam", tags={"mlflow.parentRunId": p})
    return root, ids


def plan(root, capsys, *rules) -> set[str]:
    assert main(["prune", str(root), *rules, "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    return {r["run_name"] for r in out["runs"]}


@pytest.mark.parametrize("rules, expected", [
    (["--status", "FAILED,KILLED"], {"c", "d"}),  # q is FAILED but stays with its parent p
    (["--status", "FAILED,KILLED", "--split-families"], {"c", "d", "q"}),
    (["--older-than", "30d"], {"a"}),  # e is tagged keep; f is RUNNING
    (["--keep-last", "2"], {"a", "b", "p", "q"}),  # only keep rules: all but the newest 2 (c, d)
    (["--keep-best", "val_loss:min:1"], {"a", "c", "d", "p", "q"}),  # b (0.3) is best; f runs
    (["--keep-best", "val_loss:min:1", "--group-by", "params.opt"], {"c", "d", "p", "q"}),  # a best adam, b best sgd
    (["--status", "FAILED", "--keep-best", "val_loss:max:1"], set()),  # c is the worst-loss "best" max
    (["--status", "STALE", "--stale-after", "1"], {"f"}),  # a silent RUNNING run, named explicitly
    (["--keep-last", "1", "--filter", "params.opt = 'sgd'"], {"b"}),  # sgd: b, d (newest kept), f runs
    (["--status", "FAILED,KILLED", "--filter", "metrics.val_loss > 0.8"], {"c"}),  # d has no val_loss
    (["--beyond-newest", "2"], {"a", "b", "p", "q"}),  # e is tagged keep, f runs: they rank but stay
    (["--beyond-newest", "6", "--older-than", "30d"], {"a"}),  # either rule selects (fetch_ml's policy)
    (["--keep-last", "6", "--older-than", "30d"], set()),  # a keep rule protects a from the age rule
])
def test_policies_prune_exactly(sweep, capsys, rules, expected):
    root, _ = sweep
    assert plan(root, capsys, *rules) == expected


def snapshot(root: Path) -> dict[str, tuple[bytes, int]]:
    return {str(p): (p.read_bytes(), p.stat().st_mtime_ns) for p in root.rglob("*") if p.is_file()}


def test_dry_run_changes_nothing_not_even_timestamps(sweep, capsys):
    root, _ = sweep
    before = snapshot(root)
    folders = {str(p): p.stat().st_mtime_ns for p in root.rglob("*") if p.is_dir()}
    assert main(["prune", str(root), "--status", "FAILED,KILLED", "--dry-run", "--yes"]) == 0
    assert "2 of 8 run(s) selected" in capsys.readouterr().err
    assert snapshot(root) == before
    assert {str(p): p.stat().st_mtime_ns for p in root.rglob("*") if p.is_dir()} == folders


def test_apply_agrees_with_mlflow_and_twice_is_a_no_op(sweep, capsys):
    root, ids = sweep
    assert main(["prune", str(root), "--keep-best", "val_loss:min:1", "--yes"]) == 0
    client = client_for(root)
    experiment = client.get_experiment_by_name("sweep").experiment_id
    deleted = {r.info.run_name for r in client.search_runs([experiment], run_view_type=ViewType.DELETED_ONLY)}
    assert deleted == {"a", "c", "d", "p", "q"}
    capsys.readouterr()
    before = snapshot(root)
    assert main(["prune", str(root), "--keep-best", "val_loss:min:1", "--yes"]) == 0
    assert "0 of 3 run(s) selected" in capsys.readouterr().err
    assert snapshot(root) == before


def test_purge_after_prune_frees_space(sweep, capsys):
    root, ids = sweep
    assert main(["prune", str(root), "--status", "FAILED,KILLED", "--yes", "--purge"]) == 0
    err = capsys.readouterr().err
    assert "purged 2 run(s), freed" in err
    experiment = next(p for p in root.iterdir() if p.name not in ("0", ".trash"))
    assert not (experiment / ids["c"]).exists() and not (experiment / ids["d"]).exists()


def test_refuses_without_a_terminal_or_yes(sweep, capsys, monkeypatch):
    import sys

    root, _ = sweep
    before = snapshot(root)
    monkeypatch.setattr(sys, "stdin", open(os.devnull))
    assert main(["prune", str(root), "--status", "FAILED"]) == 1
    assert "add --yes" in capsys.readouterr().err and snapshot(root) == before


def test_bad_rules_are_one_line_errors(sweep, capsys):
    root, _ = sweep
    assert main(["prune", str(root)]) == 2
    assert "give at least one rule" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["prune", str(root), "--keep-best", "val_loss:best:2"])
    assert "METRIC:min|max:K" in capsys.readouterr().err


def test_the_plan_says_why_selected_runs_stay(tmp_path, capsys):
    import shutil

    from tests.conftest import SAMPLE
    from tuitrack.cli import main

    root = tmp_path / "mlruns"
    shutil.copytree(SAMPLE, root)
    assert main(["prune", str(root), "--status", "RUNNING,STALE", "--dry-run"]) == 0
    err = capsys.readouterr().err
    assert "0 of 11 run(s) selected" in err
    assert "kept: 1 tagged keep" in err  # the RUNNING run is tagged keep: the plan says so


def test_reasons_read_naturally(sweep, capsys):
    root, _ = sweep
    assert main(["prune", str(root), "--older-than", "30d", "--json"]) == 0
    reasons = {r["run_name"]: r["reason"] for r in json.loads(capsys.readouterr().out)["runs"]}
    assert reasons == {"a": "started 40d ago, older than 30d"}
