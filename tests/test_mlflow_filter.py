"""MLflow's filter language: the same runs as MLflow's own search_runs, on a store MLflow wrote."""

from __future__ import annotations

import json

import pytest
from mlflow.entities import ViewType
from mlflow.exceptions import MlflowException

from tests.mlflow_stores import client_for
from tuitrack.cli import main
from tuitrack.query.mlflow_filter import FilterError, parse

# Expressions MLflow accepts: tuitrack must return exactly its runs, in its order.
SAME_AS_MLFLOW = [
    "metrics.loss < 0.5",
    "metrics.loss >= 0.0033",
    "metrics.`train/acc` > 0.7",
    'metrics."train/acc" > 0.7',
    "metrics.x = 1",
    "metrics.x != 1",
    "metrics.child_metric = 42",
    "metrics.m <= 0.4 and metrics.m > 0.3",
    "params.lr = '0.01'",
    "params.lr != '0.01'",
    "params.`opt/name` = 'adam'",
    "params.lr LIKE '0.0%'",
    "params.lr ILIKE '%1'",
    "params.p IS NULL",
    "params.p IS NOT NULL",
    "tags.unicode = 'héllo ✓'",
    "tags.`mlflow.user` = 'bob'",
    "tags.`mlflow.runName` LIKE 'to-%'",
    "tags.custom.tag = 'v'",
    "attributes.status = 'FAILED'",
    "attributes.status != 'FINISHED'",
    "attributes.run_name = 'child'",
    "attributes.run_name LIKE '%run%'",
    "attributes.run_name ILIKE 'PARENT'",
    "attributes.user_id = 'alice'",
    "attributes.start_time > 1795000000100",
    "attributes.created >= 1795000000150",
    "attributes.end_time < 1795000000100",
    "attributes.`run name` = 'killed'",
    "run.status = 'KILLED'",
    "params.lr = '0.01' AND metrics.loss < 0.01 and tags.custom.tag = 'v'",
]

ORDERS = [
    ["metrics.loss DESC"],
    ["metrics.loss"],
    ["attributes.start_time"],
    ["params.lr DESC", "attributes.run_name"],
    ["tags.`mlflow.runName`"],
]


@pytest.fixture(scope="module")
def store(reference_store_master):
    root, ids = reference_store_master
    client = client_for(root)
    experiment_ids = [e.experiment_id for e in client.search_experiments(view_type=ViewType.ACTIVE_ONLY)]
    return root, ids, client, experiment_ids


def ours(root, capsys, *args) -> list[str]:
    assert main(["ls", str(root), "--json", *args]) == 0
    return [r["run_id"] for r in json.loads(capsys.readouterr().out)]


@pytest.mark.parametrize("expression", SAME_AS_MLFLOW)
def test_same_runs_as_mlflow(store, capsys, expression):
    root, ids, client, experiment_ids = store
    theirs = [r.info.run_id for r in client.search_runs(experiment_ids, expression, max_results=1000)]
    assert sorted(ours(root, capsys, "--filter", expression)) == sorted(theirs)


def test_the_table_is_not_trivial(store):
    """Most expressions above select some runs but not all, so agreeing with MLflow means something."""
    root, ids, client, experiment_ids = store
    every = len(client.search_runs(experiment_ids, "", max_results=1000))
    sizes = [len(client.search_runs(experiment_ids, e, max_results=1000)) for e in SAME_AS_MLFLOW]
    assert sum(1 for n in sizes if 0 < n < every) >= 25


@pytest.mark.parametrize("order", ORDERS)
def test_same_order_as_mlflow(store, capsys, order):
    root, ids, client, experiment_ids = store
    theirs = [r.info.run_id for r in client.search_runs(experiment_ids, "", order_by=order, max_results=1000)]
    args = [a for clause in order for a in ("--order-by", clause)]
    assert ours(root, capsys, *args) == theirs


# Expressions MLflow rejects: tuitrack says what is wrong and where.
@pytest.mark.parametrize("expression, message", [
    ("metrics.loss = 'a'", "expected a number"),
    ("params.lr > '1'", "does not apply to param values"),
    ("tags.lr = 0.01", "expected a quoted string"),
    ("foo.bar = 'x'", "is not metrics, params, tags, attributes or dataset"),
    ("attributes.nope = 'x'", "not an attribute one can search"),
    ("metrics.loss <", "ends too early"),
    ("metrics.loss < 1 junk", "expected AND or OR"),
    ("attributes.start_time LIKE '1%'", "does not apply to numbers"),
    ("params.lr = '0.0", "column 13: the quote ' here is never closed"),  # a tab's common prefix
    ('tags.`mlflow.user = "x"', "column 6: the quote ` here is never closed"),
])
def test_mlflow_rejects_and_so_do_we(store, expression, message):
    root, ids, client, experiment_ids = store
    with pytest.raises(MlflowException):
        client.search_runs(experiment_ids, expression)
    with pytest.raises(FilterError, match=message):
        parse(expression)


def test_errors_point_at_the_column(store, capsys):
    root, *_ = store
    assert main(["ls", str(root), "--filter", "tags.lr = 0.01"]) == 2
    err = capsys.readouterr().err
    assert "column 11: expected a quoted string" in err and err.rstrip().endswith("^")


def test_or_not_and_parentheses(store, capsys):
    root, ids, client, experiment_ids = store
    either = set(ours(root, capsys, "--filter", "attributes.status = 'FAILED' OR attributes.status = 'KILLED'"))
    assert either == {ids.runs["failed"], ids.runs["killed"]}
    negated = set(ours(root, capsys, "--filter", "NOT (attributes.status = 'FINISHED' OR attributes.status = 'RUNNING')"))
    assert negated == either
    listed = set(ours(root, capsys, "--filter", "attributes.status IN ('FAILED', 'KILLED')"))
    assert listed == either
