"""MLflow 3.17's whole filter language, against MLflow's own search_runs on the same store (a file
store and an mlflow.db): bare attribute names, backquoted names, every entity prefix, `created`,
and the run's dataset inputs (`dataset.name`, `dataset.digest`, `dataset.context`)."""

from __future__ import annotations

import json

import pytest
from mlflow.entities import Dataset, DatasetInput, InputTag, ViewType

from tests.mlflow_stores import T0, client_for, sqlite_client, write_reference_store, write_sqlite_store
from tuitrack.cli import main


def _log_datasets(client, ids) -> None:
    """mnist (training) and cifar (eval) on the parent; mnist (eval) on the child; none elsewhere."""
    def given(name, digest, context=None):
        tags = [InputTag("mlflow.data.context", context)] if context else []
        return DatasetInput(Dataset(name=name, digest=digest, source_type="local", source=f"/data/{name}"), tags=tags)

    client.log_inputs(ids.runs["parent"], [given("mnist", "d1g35t01", "training"), given("cifar", "c1far002", "eval")])
    client.log_inputs(ids.runs["child"], [given("mnist", "d1g35t01", "eval")])
    client.log_inputs(ids.runs["failed"], [given("Mnist-raw", "ffff0003")])


@pytest.fixture(scope="module", params=["file", "sqlite"])
def store(request, tmp_path_factory):
    folder = tmp_path_factory.mktemp(f"parity-{request.param}")
    if request.param == "file":
        root = folder / "mlruns"
        ids = write_reference_store(root)
        client, location = client_for(root), str(root)
    else:
        db, ids = write_sqlite_store(folder)
        client, location = sqlite_client(db), str(db)
    _log_datasets(client, ids)
    experiment_ids = [e.experiment_id for e in client.search_experiments(view_type=ViewType.ACTIVE_ONLY)]
    return location, ids, client, experiment_ids


# {parent}, {child}... are the run ids of the reference store.
ACCEPTED_BY_MLFLOW = [
    "status = 'FAILED'",
    "status != 'FINISHED'",
    'status = "KILLED"',
    '"status" = \'FAILED\'',
    "run_name = 'child'",
    "run_name LIKE '%run%'",
    "run_name ILIKE 'PARENT'",
    "user_id = 'alice'",
    "run_id = '{child}'",
    "run_id IN ('{child}', '{killed}')",
    "run_id NOT IN ('{child}', '{killed}')",
    'run_id IN ("{child}", "{failed}",)',
    "dataset.name IN ('cifar',)",
    "artifact_uri LIKE '%artifacts'",
    f"start_time > {T0 + 100}",
    f"end_time < {T0 + 100}",
    f"created >= {T0 + 150}",
    f"Created < {T0 + 60}",
    "`Run name` = 'killed'",
    "`run name` = 'killed'",
    "`Run Name` LIKE 'still%'",
    "attributes.`Run name` = 'killed'",
    "attribute.status = 'KILLED'",
    "attr.status = 'KILLED'",
    "run.run_name = 'child'",
    f"attributes.created > {T0 + 100}",
    "tags.`mlflow.runName` = 'child'",
    "tags.`mlflow.user` = 'bob'",
    "params.lr IS NULL",
    "tags.`mlflow.user` IS NOT NULL",
    "params.lr LIKE '0.0%'",
    "params.lr ILIKE '0.0%'",
    "metrics.loss < 0.5 and status = 'FINISHED'",
    "dataset.name = 'mnist'",
    "dataset.name != 'mnist'",
    "dataset.digest = 'c1far002'",
    "dataset.context = 'training'",
    "dataset.context = 'eval'",
    "dataset.context != 'training'",
    "dataset.name LIKE 'mn%'",
    "dataset.name ILIKE 'mn%'",
    "dataset.name IN ('cifar', 'Mnist-raw')",
    "dataset.name NOT IN ('mnist')",
    "dataset.digest IN ('d1g35t01')",
    "dataset.context IN ('eval')",
    "datasets.name = 'cifar'",
    "dataset.name = 'mnist' AND dataset.context = 'eval'",
    "dataset.name = 'mnist' and status = 'FINISHED' and run_name != 'parent'",
    # Quoted literals stay string comparisons beside the numeric extension (params.lr > 1e-3):
    "params.lr = '0.01'",
    "params.epochs = '3'",
    "params.child_param = '1'",
    "params.child_param != '1.0'",
    "params.epochs LIKE '3%' and status = 'FINISHED'",
]


def ours(location, capsys, expression) -> list[str]:
    assert main(["ls", location, "--json", "--filter", expression]) == 0, capsys.readouterr().err
    return [r["run_id"] for r in json.loads(capsys.readouterr().out)]


@pytest.mark.parametrize("template", ACCEPTED_BY_MLFLOW)
def test_every_form_mlflow_accepts_gives_mlflows_runs(store, capsys, template):
    location, ids, client, experiment_ids = store
    expression = template.format(**ids.runs)
    theirs = [r.info.run_id for r in client.search_runs(experiment_ids, expression, max_results=1000)]
    assert sorted(ours(location, capsys, expression)) == sorted(theirs)


def test_the_table_is_not_trivial(store):
    """Nearly every filter above keeps some runs but not all, so agreeing with MLflow means something."""
    location, ids, client, experiment_ids = store
    every = len(client.search_runs(experiment_ids, "", max_results=1000))
    sizes = [len(client.search_runs(experiment_ids, t.format(**ids.runs), max_results=1000))
             for t in ACCEPTED_BY_MLFLOW]
    assert sum(1 for n in sizes if 0 < n < every) >= len(ACCEPTED_BY_MLFLOW) - 2


def test_dataset_filters_read_the_inputs(store, capsys):
    location, ids, *_ = store
    assert set(ours(location, capsys, "dataset.context = 'eval'")) == {ids.runs["parent"], ids.runs["child"]}


def test_extensions_stay(store, capsys):
    location, ids, *_ = store
    either = set(ours(location, capsys, "status = 'FAILED' OR (`Run name` = 'killed' AND NOT dataset.name = 'x')"))
    assert either == {ids.runs["failed"], ids.runs["killed"]}


@pytest.mark.parametrize("expression, message", [
    ("dataset.size = 'x'", "not a dataset key"),
    ("dataset.name IS NULL", "works on metrics, params and tags"),
    ("dataset.name > 'a'", "does not apply to dataset values"),
    ("loss < 0.5", "metrics.loss"),
    ("`nope` = 'x'", "is not an attribute"),
    ("status IS NULL", "works on metrics, params and tags"),
    ("params.lr > '0.01'", "does not apply to param values"),
    ("params.epochs LIKE 3", "LIKE does not apply to numbers"),
])
def test_what_mlflow_rejects_is_an_error_that_says_why(store, expression, message):
    from mlflow.exceptions import MlflowException

    from tuitrack.query.mlflow_filter import FilterError, parse

    location, ids, client, experiment_ids = store
    with pytest.raises(MlflowException):
        client.search_runs(experiment_ids, expression)
    with pytest.raises(FilterError, match=message):
        parse(expression)


@pytest.mark.parametrize("expression, same_as", [
    ("params.lr = 0.01", "params.lr = '0.01'"),
    ("params.epochs >= 3", "params.epochs = '3'"),
    ("params.child_param < 1.5", "params.child_param = '1'"),
    ("params.lr > 1", "params.lr = 'none of them'"),
])
def test_numbers_for_params_are_an_extension_mlflow_refuses(store, capsys, expression, same_as):
    """MLflow refuses an unquoted number for a param; tuitrack compares the param as a number
    (here the reference store's only values, so MLflow's string answer says what to expect)."""
    from mlflow.exceptions import MlflowException

    location, ids, client, experiment_ids = store
    with pytest.raises(MlflowException):
        client.search_runs(experiment_ids, expression)
    theirs = [r.info.run_id for r in client.search_runs(experiment_ids, same_as, max_results=1000)]
    assert sorted(ours(location, capsys, expression)) == sorted(theirs)


@pytest.mark.parametrize("text, is_filter", [
    ("status = 'FAILED'", True), ("`Run name` = 'x'", True), ("loss < 0.5", True),
    ("dataset.name = 'mnist'", True), ("run_name LIKE 'x%'", True), ("created>5", True),
    ("adam lr=0.01", False), ("converges", False), ("train/loss", False), ("status", False),
])
def test_text_that_looks_like_a_filter_is_read_as_one(text, is_filter):
    from tuitrack.query.mlflow_filter import looks_like_filter

    assert looks_like_filter(text) is is_filter


def test_a_tracking_server_gives_mlflows_runs_too(mlflow_server, capsys):
    """The server sends each run's dataset inputs; bare names and datasets filter the same."""
    import uuid

    server, _ = mlflow_server
    client = server.client()
    experiment = client.create_experiment(f"parity-{uuid.uuid4().hex[:8]}")
    runs = [client.create_run(experiment, run_name=f"r{i}").info.run_id for i in range(3)]
    client.log_inputs(runs[0], [DatasetInput(Dataset(name="mnist", digest="d1", source_type="local", source="/d"),
                                             tags=[InputTag("mlflow.data.context", "training")])])
    client.log_inputs(runs[1], [DatasetInput(Dataset(name="cifar", digest="d2", source_type="local", source="/d"))])
    client.set_terminated(runs[2], "FAILED")
    for expression in ["dataset.name = 'mnist'", "dataset.context = 'training'", "dataset.name LIKE '%i%'",
                       "status = 'FAILED'", "run_name != 'r1'", "`Run name` = 'r2'"]:
        theirs = {r.info.run_id for r in client.search_runs([experiment], expression)}
        capsys.readouterr()  # MLflow's client prints "View run ..." lines
        assert main(["ls", server.url, "--experiment", experiment, "--json", "--filter", expression]) == 0
        assert {r["run_id"] for r in json.loads(capsys.readouterr().out)} == theirs, expression
