"""`params.lr > 1e-3`: params compared as numbers when the literal is an unquoted number, an
extension MLflow refuses (its params are strings). Everything MLflow accepts keeps MLflow's
meaning: a quoted literal is still a string comparison (tests/test_mlflow_filter_parity.py checks
the whole language against MLflow)."""

from __future__ import annotations

import json
import math
import uuid

import pytest
from mlflow.entities import Param, ViewType
from mlflow.exceptions import MlflowException

from tests.mlflow_stores import client_for, sqlite_client
from tuitrack.cli import main
from tuitrack.model import Run
from tuitrack.query.mlflow_filter import FilterError, matches, param_number, parse

# The values a param holds in the stores below, one run each, and one run without `lr`.
LR_VALUES = ["0.01", "1e-3", "0.1", "1E-2", ".5", "-2", "+3.", "10", "adam", "nan", "inf",
             " 0.5", "0.5 ", "1_000", "0x10", "", "1e-3.5"]
NUMERIC_FILTERS = ["params.lr > 1e-3", "params.lr >= 1e-3", "params.lr < 0.05", "params.lr <= 0.01",
                   "params.lr = 0.01", "params.lr != 0.01", "params.lr = 1e-2", "params.lr > -5",
                   "params.lr < 1e400", "params.epochs >= 10"]


def _strict_number(text: str) -> float | None:
    """The README's rule, written independently of tuitrack's regex: what Python's float reads,
    minus what the rule excludes (spaces, underscores, nan, hex never parse; inf does)."""
    if text != text.strip() or "_" in text or text.lower().lstrip("+-") == "nan":
        return None
    try:
        return float(text)
    except ValueError:
        return None


def _oracle(expression: str, params: dict[str, str]) -> bool:
    """`params.KEY OP NUMBER` evaluated the plain way: the param read as a number, else no match."""
    left, op, right = expression.split(" ")
    value = params.get(left.removeprefix("params."))
    number = None if value is None else _strict_number(value)
    if number is None:
        return False
    wanted = float(right)
    return {"=": number == wanted, "!=": number != wanted, "<": number < wanted, "<=": number <= wanted,
            ">": number > wanted, ">=": number >= wanted}[op]


def _run(**params: str) -> Run:
    return Run(run_id=uuid.uuid4().hex, experiment_id="1", params=params)


@pytest.mark.parametrize("text, number", [
    ("0.01", 0.01), ("1e-3", 0.001), ("1E-2", 0.01), (".5", 0.5), ("-2", -2.0), ("+3.", 3.0), ("10", 10.0),
    ("inf", math.inf), ("-Infinity", -math.inf),
    ("adam", None), ("nan", None), ("NaN", None), (" 0.5", None), ("0.5 ", None), ("1_000", None),
    ("0x10", None), ("", None), ("1e-3.5", None), ("1.2.3", None), ("e5", None), ("--1", None),
])
def test_which_param_values_are_numbers(text, number):
    assert param_number(text) == number


@pytest.mark.parametrize("expression", NUMERIC_FILTERS)
def test_numeric_param_comparisons_follow_the_rule(expression):
    runs = [_run(lr=v, epochs=v) for v in LR_VALUES] + [_run(other="1")]
    node = parse(expression)
    kept = [r.params.get("lr") for r in runs if matches(node, r)]
    assert kept == [r.params.get("lr") for r in runs if _oracle(expression, r.params)]
    assert 0 < len(kept) < len(runs)


def test_a_quoted_literal_stays_a_string_comparison():
    runs = [_run(lr="0.01"), _run(lr="0.010"), _run(lr="1e-2")]
    assert [r.params["lr"] for r in runs if matches(parse("params.lr = '0.01'"), r)] == ["0.01"]
    assert [r.params["lr"] for r in runs if matches(parse("params.lr = 0.01"), r)] == ["0.01", "0.010", "1e-2"]
    assert [r.params["lr"] for r in runs if matches(parse("params.lr != '0.01'"), r)] == ["0.010", "1e-2"]


def test_a_param_that_is_not_a_number_matches_no_numeric_comparison():
    words = _run(lr="adam")
    for expression in ("params.lr = 1", "params.lr != 1", "params.lr < 1", "params.lr > 1"):
        assert not matches(parse(expression), words)
    assert matches(parse("NOT params.lr > 1"), words)  # NOT is the complement, as for metrics
    assert not matches(parse("params.lr != 1"), _run(other="1"))  # nor does a run without the param


@pytest.mark.parametrize("expression, message", [
    ("params.lr LIKE 1", "LIKE does not apply to numbers"),
    ("params.lr > '0.01'", "unquoted number"),
    ("params.lr > adam", "or an unquoted number"),
    ("params.lr = adam", "expected a quoted string"),
    ("tags.lr > 1", "does not apply to tag values"),
    ("tags.lr = 1", "expected a quoted string"),
])
def test_what_the_extension_still_refuses(expression, message):
    with pytest.raises(FilterError, match=message):
        parse(expression)


# -- ls --filter on stores real MLflow wrote ------------------------------------------------------------


def _write_runs(client) -> tuple[str, dict[str, dict[str, str]]]:
    """One run per LR_VALUES (named after it), half with opt=adam, and one without params."""
    experiment = client.create_experiment(f"numbers-{uuid.uuid4().hex[:8]}")
    written = {}
    for i, value in enumerate(LR_VALUES):
        run = client.create_run(experiment, run_name=f"r{i}").info.run_id
        params = {"lr": value, "epochs": str(i), "opt": "adam" if i % 2 else "sgd"}
        client.log_batch(run, params=[Param(k, v) for k, v in params.items()])
        client.set_terminated(run, "FINISHED")
        written[run] = params
    written[client.create_run(experiment, run_name="bare").info.run_id] = {}
    return experiment, written


@pytest.fixture(scope="module", params=["file", "sqlite"])
def numbers_store(request, tmp_path_factory):
    folder = tmp_path_factory.mktemp(f"numbers-{request.param}")
    if request.param == "file":
        client, location = client_for(folder / "mlruns"), str(folder / "mlruns")
    else:
        client, location = sqlite_client(folder / "mlflow.db"), str(folder / "mlflow.db")
    experiment, written = _write_runs(client)
    return location, client, experiment, written


def _ours(location: str, experiment: str, expression: str, capsys) -> set[str]:
    capsys.readouterr()
    assert main(["ls", location, "--experiment", experiment, "--json", "--filter", expression]) == 0, \
        capsys.readouterr().err
    return {r["run_id"] for r in json.loads(capsys.readouterr().out)}


@pytest.mark.parametrize("expression", NUMERIC_FILTERS)
def test_ls_compares_params_as_numbers(numbers_store, capsys, expression):
    location, client, experiment, written = numbers_store
    stored = {r.info.run_id: r.data.params
              for r in client.search_runs([experiment], "", run_view_type=ViewType.ALL, max_results=1000)}
    assert stored == written  # what MLflow wrote is what the oracle reads
    with pytest.raises(MlflowException):
        client.search_runs([experiment], expression)  # MLflow refuses the extension
    expected = {run_id for run_id, params in stored.items() if _oracle(expression, params)}
    assert _ours(location, experiment, expression, capsys) == expected
    assert 0 < len(expected) < len(stored)


@pytest.mark.parametrize("numeric, accepted", [
    ("params.lr > 1e-3", "params.opt = 'adam'"),
    ("params.epochs < 5", "params.lr LIKE '%e%'"),
    ("params.lr >= 0", "params.lr != '0.01'"),
])
def test_ls_mixes_the_extension_with_what_mlflow_accepts(numbers_store, capsys, numeric, accepted):
    """The MLflow part keeps MLflow's runs (asked of MLflow itself), the numeric part narrows them."""
    location, client, experiment, written = numbers_store
    theirs = {r.info.run_id for r in client.search_runs([experiment], accepted, max_results=1000)}
    assert _ours(location, experiment, accepted, capsys) == theirs
    expected = {run_id for run_id in theirs if _oracle(numeric, written[run_id])}
    assert _ours(location, experiment, f"{numeric} AND {accepted}", capsys) == expected
    assert expected and expected != theirs


def test_ls_on_a_tracking_server_compares_params_as_numbers(mlflow_server, capsys):
    """A server gets no filter from `ls` (tuitrack lists the runs and filters them itself), so the
    extension works there as on the files."""
    server, _ = mlflow_server
    client = server.client()
    experiment, written = _write_runs(client)
    for expression in ("params.lr > 1e-3", "params.epochs >= 10 AND params.opt = 'adam'"):
        if " AND " in expression:
            numeric, accepted = expression.split(" AND ")
            theirs = {r.info.run_id for r in client.search_runs([experiment], accepted)}
        else:
            numeric, theirs = expression, set(written)
        capsys.readouterr()  # MLflow's client prints "View run ..." lines
        expected = {run_id for run_id in theirs if _oracle(numeric, written[run_id])}
        assert expected
        assert main(["ls", server.url, "--experiment", experiment, "--json", "--filter", expression]) == 0
        assert {r["run_id"] for r in json.loads(capsys.readouterr().out)} == expected, expression


def test_an_error_in_a_numeric_comparison_points_at_it(numbers_store, capsys):
    location, _, experiment, _ = numbers_store
    assert main(["ls", location, "--filter", "params.lr ILIKE 5"]) == 2
    err = capsys.readouterr().err
    assert "column 11: ILIKE does not apply to numbers" in err


def test_prune_selects_by_numeric_params_too(numbers_store, capsys):
    location, client, experiment, written = numbers_store
    capsys.readouterr()
    assert main(["prune", location, "--experiment", experiment, "--status", "FINISHED",
                 "--filter", "params.lr < 0.05", "--json"]) == 0  # --json without --yes: a plan only
    planned = {r["run_id"] for r in json.loads(capsys.readouterr().out)["runs"]}
    assert planned and planned == {run_id for run_id, params in written.items() if _oracle("params.lr < 0.05", params)}
