"""Runs grouped by params (tuitrack.query.groups) and `tuitrack ls --group-by`, checked against
runs real MLflow logged, with the figures computed again here from MLflow's own answers."""

from __future__ import annotations

import csv
import io
import json
import math
import statistics

import pytest

from tests.mlflow_stores import T0, client_for
from tuitrack.cli import main
from tuitrack.model import MetricPoint, Run
from tuitrack.query.groups import GroupKeyError, MetricStats, group_runs, mean_std, parse_group_by

LRS = ["0.01", "0.1", "0.001"]


@pytest.fixture(scope="module")
def sweep(tmp_path_factory):
    """A sweep MLflow logged: 3 learning rates x 3 seeds, one run without `lr`, one run lacking
    `acc`, one run whose latest loss is NaN, and a second experiment that must not count."""
    root = tmp_path_factory.mktemp("groups") / "mlruns"
    client = client_for(root)
    sweep_id = client.create_experiment("sweep")
    other = client.create_experiment("other")
    for i, lr in enumerate(LRS * 3):
        seed = str(i // 3)
        run = client.create_run(sweep_id, start_time=T0 + i, run_name=f"lr{lr}-s{seed}").info.run_id
        client.log_param(run, "lr", lr)
        client.log_param(run, "seed", seed)
        for step in range(4):
            client.log_metric(run, "loss", 1 / (step + 1 + i * 0.37), timestamp=T0 + step, step=step)
        if not (lr == "0.1" and seed == "2"):
            client.log_metric(run, "acc", 0.5 + i / 40, timestamp=T0, step=0)
        client.set_terminated(run, "FINISHED", end_time=T0 + 100)
    lost = client.create_run(sweep_id, start_time=T0 + 50, run_name="no-lr").info.run_id
    client.log_param(lost, "seed", "0")
    client.log_metric(lost, "loss", 0.75, timestamp=T0, step=0)
    nan_run = client.create_run(sweep_id, start_time=T0 + 60, run_name="nan-loss").info.run_id
    client.log_param(nan_run, "lr", "0.01")
    client.log_param(nan_run, "seed", "9")
    client.log_metric(nan_run, "loss", float("nan"), timestamp=T0, step=0)
    elsewhere = client.create_run(other, run_name="elsewhere").info.run_id
    client.log_param(elsewhere, "lr", "0.01")
    client.log_metric(elsewhere, "loss", 100.0, timestamp=T0, step=0)
    return root, client, sweep_id


def expected_groups(client, experiment_id: str) -> dict[str | None, dict]:
    """What the groups must say, from MLflow's search_runs and the statistics module."""
    by_lr: dict[str | None, list] = {}
    for run in client.search_runs([experiment_id]):
        by_lr.setdefault(run.data.params.get("lr"), []).append(run)
    out = {}
    for lr, runs in by_lr.items():
        figures = {}
        for key in {k for r in runs for k in r.data.metrics}:
            values = [r.data.metrics[key] for r in runs if key in r.data.metrics
                      and math.isfinite(r.data.metrics[key])]
            figures[key] = {
                "mean": statistics.mean(values) if values else None,
                "std": statistics.stdev(values) if len(values) > 1 else None,
                "min": min(values) if values else None,
                "max": max(values) if values else None,
                "count": len(values),
            }
        out[lr] = {"count": len(runs), "metrics": figures}
    return out


def close(a, b) -> bool:
    return (a is None and b is None) or (a is not None and b is not None and math.isclose(a, b, rel_tol=1e-12))


def test_ls_group_by_json_agrees_with_mlflow(sweep, capsys):
    root, client, sweep_id = sweep
    assert main(["ls", str(root), "--experiment", "sweep", "--group-by", "params.lr", "--format", "json"]) == 0
    groups = json.loads(capsys.readouterr().out)
    expected = expected_groups(client, sweep_id)
    assert [g["group"]["params.lr"] for g in groups] == ["0.001", "0.01", "0.1", None]  # numbers in order, missing last
    for group in groups:
        want = expected[group["group"]["params.lr"]]
        assert group["count"] == want["count"]
        assert set(group["metrics"]) == set(want["metrics"])
        for key, figures in group["metrics"].items():
            assert figures["count"] == want["metrics"][key]["count"]
            for name in ("mean", "std", "min", "max"):
                assert close(figures[name], want["metrics"][key][name]), (group["group"], key, name)
    by_lr = {g["group"]["params.lr"]: g for g in groups}
    assert by_lr["0.01"]["count"] == 4 and by_lr["0.01"]["metrics"]["loss"]["count"] == 3  # the NaN does not count
    assert by_lr["0.1"]["metrics"]["acc"]["count"] == 2  # the run lacking acc does not count
    assert by_lr[None]["metrics"]["loss"]["std"] is None  # one value: no standard deviation


def test_ls_group_by_applies_the_filter_first_and_takes_several_params(sweep, capsys):
    root, client, sweep_id = sweep
    assert main(["ls", str(root), "-e", "sweep", "--filter", "params.seed != '0'",
                 "--group-by", "params.lr,params.seed", "--json"]) == 0
    groups = json.loads(capsys.readouterr().out)
    kept = [r for r in client.search_runs([sweep_id], "params.seed != '0'")]
    assert sum(g["count"] for g in groups) == len(kept)
    assert {tuple(g["group"].values()) for g in groups} == {(r.data.params.get("lr"), r.data.params["seed"]) for r in kept}
    assert all(list(g["group"]) == ["params.lr", "params.seed"] for g in groups)


def test_ls_group_by_csv_and_table(sweep, capsys):
    root, client, sweep_id = sweep
    assert main(["ls", str(root), "-e", "sweep", "--group-by", "params.lr", "--format", "csv"]) == 0
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    expected = expected_groups(client, sweep_id)
    assert [r["params.lr"] for r in rows] == ["0.001", "0.01", "0.1", "(missing)"]
    first = rows[0]
    assert int(first["count"]) == expected["0.001"]["count"]
    assert math.isclose(float(first["metrics.loss.mean"]), expected["0.001"]["metrics"]["loss"]["mean"])
    assert rows[-1]["metrics.loss.std"] == ""  # one value: none
    assert main(["ls", str(root), "-e", "sweep", "--group-by", "params.lr"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split()[:2] == ["params.lr", "RUNS"]
    assert [line.split()[0] for line in lines[1:]] == ["0.001", "0.01", "0.1", "(missing)"]
    assert "±" in lines[1] and "(n=3)" in lines[2]  # lr 0.01: 4 runs, 3 finite losses


def test_ls_group_by_table_leaves_system_metrics_to_the_machine_formats(tmp_path, capsys):
    root = tmp_path / "mlruns"
    client = client_for(root)
    experiment = client.create_experiment("sys")
    for lr in ("0.1", "0.01"):
        run = client.create_run(experiment, start_time=T0).info.run_id
        client.log_param(run, "lr", lr)
        client.log_metric(run, "loss", float(lr), timestamp=T0, step=0)
        client.log_metric(run, "system/cpu_utilization_percentage", 50.0, timestamp=T0, step=0)
    assert main(["ls", str(root), "--group-by", "params.lr"]) == 0
    header = capsys.readouterr().out.splitlines()[0].split()
    assert header == ["params.lr", "RUNS", "loss"]
    assert main(["ls", str(root), "--group-by", "params.lr", "--json"]) == 0
    groups = json.loads(capsys.readouterr().out)
    assert all(set(g["metrics"]) == {"loss", "system/cpu_utilization_percentage"} for g in groups)


def test_ls_group_by_refuses_what_is_not_a_param(sweep, capsys):
    root, _, _ = sweep
    assert main(["ls", str(root), "--group-by", "metrics.loss"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "params.KEY" in err


def run(run_id: str, params: dict[str, str], metrics: dict[str, float]) -> Run:
    return Run(run_id, "1", params=params, metrics={k: MetricPoint(0, v, 0) for k, v in metrics.items()})


def test_group_figures_and_order():
    runs = [run("a", {"lr": "1e-3"}, {"loss": 1.0}), run("b", {"lr": "0.01"}, {"loss": 2.0, "acc": 0.5}),
            run("c", {"lr": "0.01"}, {"loss": 4.0}), run("d", {"lr": "adam"}, {}), run("e", {}, {"loss": float("inf")})]
    groups = group_runs(runs, ["lr"])
    assert [g.values for g in groups] == [("1e-3",), ("0.01",), ("adam",), (None,)]
    assert [[r.run_id for r in g.runs] for g in groups] == [["a"], ["b", "c"], ["d"], ["e"]]
    loss = groups[1].metrics["loss"]
    assert (loss.count, loss.mean, loss.min, loss.max) == (2, 3.0, 2.0, 4.0)
    assert loss.std == pytest.approx(statistics.stdev([2.0, 4.0]))
    assert groups[1].metrics["acc"] == MetricStats(1, 0.5, None, 0.5, 0.5)
    assert groups[3].metrics["loss"] == MetricStats(0, None, None, None, None)  # inf does not count
    assert groups[3].label() == "lr (missing)" and groups[1].label() == "lr=0.01"
    assert len({g.group_id for g in groups}) == 4
    assert mean_std(groups[1].metrics["loss"], 2).startswith("3 ± 1.4")
    assert mean_std(groups[1].metrics["acc"], 2) == "0.5 (n=1)"
    assert mean_std(groups[3].metrics["loss"], 1) == "-"


def test_parse_group_by():
    assert parse_group_by("params.lr, param.seed,params.lr") == ["lr", "seed"]
    assert parse_group_by("params.opt.name") == ["opt.name"]
    for bad in ("lr", "tags.x", "params.", ""):
        with pytest.raises(GroupKeyError):
            parse_group_by(bad)
