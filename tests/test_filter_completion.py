"""Completing MLflow filter text (tuitrack/query/filter_completion.py) from a vocabulary gathered
from runs (filter_vocabulary.py): what a tab offers at each place of the grammar, how keys and
values are quoted, and that every completion parses and finds the run that holds it."""

from __future__ import annotations

import pytest

from tuitrack.model import Run
from tuitrack.query import filter_vocabulary
from tuitrack.query.filter_completion import CANDIDATE_LIMIT, complete, key_text, value_text
from tuitrack.query.filter_vocabulary import gather
from tuitrack.query.mlflow_filter import matches, parse

HOSTILE_KEYS = ["my key", "opt/name", "custom.tag", "a-b", "[/]", "[bold]x", "back`tick", 'dq"x', "1st", "é"]
HOSTILE_VALUES = ["it's", 'say "hi"', "both ' and \"", "[/]", "[@click=app.quit]x", "%_", "  spaced  "]


def _runs() -> list[Run]:
    runs = [
        Run("r1", "1", run_name="first", user_id="alice",
            params={"lr": "0.01", "opt": "adam", "layers": "3"}, tags={"mlflow.runName": "first", "team": "vision"}),
        Run("r2", "1", run_name="second", user_id="bob",
            params={"lr": "1e-3", "opt": "adamw", "lr_decay": "none"}, tags={"team": "nlp"}),
    ]
    runs[0].metrics = {"loss": None, "train/acc": None}  # keys only: completion never reads points
    for i, key in enumerate(HOSTILE_KEYS):
        runs.append(Run(f"k{i}", "2", params={key: f"v{i}"}, tags={key: f"t{i}"}))
    for i, value in enumerate(HOSTILE_VALUES):
        runs.append(Run(f"v{i}", "2", params={"weird": value}))
    return runs


@pytest.fixture(scope="module")
def vocabulary():
    return gather(_runs())


def _tab(text: str, vocabulary) -> tuple[str, list[str]]:
    found = complete(text, len(text), vocabulary)
    assert found is not None, text
    return found.applied(text)[0], found.candidates


@pytest.mark.parametrize("typed, after, candidates", [
    ("par", "params.", ["params."]),
    ("params.o", "params.opt", ["params.opt", "params.`opt/name`"]),
    ("params.opt/", "params.`opt/name` ", ["params.`opt/name`"]),
    ("params.l", "params.l", ["params.layers", "params.lr", "params.lr_decay"]),
    ("params.lr", "params.lr", ["params.lr", "params.lr_decay"]),
    ("params.lr_", "params.lr_decay ", ["params.lr_decay"]),
    ("metrics.tr", "metrics.`train/acc` ", ["metrics.`train/acc`"]),
    ("tags.mlflow.r", "tags.`mlflow.runName` ", ["tags.`mlflow.runName`"]),
    ("tags.`mlflow.r", "tags.`mlflow.runName` ", ["tags.`mlflow.runName`"]),
    ("attributes.st", "attributes.sta", ["attributes.start_time", "attributes.status"]),
    ("attributes.sta", "attributes.sta", ["attributes.start_time", "attributes.status"]),
    ("attributes.stat", "attributes.status ", ["attributes.status"]),
    ("dataset.c", "dataset.context ", ["dataset.context"]),
    ("params.lr I", "params.lr I", ["ILIKE", "IS NULL", "IS NOT NULL"]),
    ("params.lr IS N", "params.lr IS N", ["NULL", "NOT NULL"]),
    ("params.lr IS NO", "params.lr IS NOT NULL ", ["NOT NULL"]),
    ("params.lr <", "params.lr <", ["<", "<="]),
    ("metrics.loss l", None, None),  # metrics take no LIKE
    ("params.opt = ", "params.opt = 'adam", ["'adam'", "'adamw'"]),
    ("params.opt = 'adamw", "params.opt = 'adamw' ", ["'adamw'"]),
    ("params.opt = adamw", "params.opt = 'adamw' ", ["'adamw'"]),
    ("params.lr > ", "params.lr > ", ["0.01", "1e-3"]),  # numbers, unquoted: the extension
    ("params.lr = ", "params.lr = ", ["'0.01'", "'1e-3'"]),  # = keeps MLflow's strings
    ("metrics.loss < ", None, None),
    ("status = 'F", "status = 'F", ["'FAILED'", "'FINISHED'"]),
    ("status IN ('FAILED', 'K", "status IN ('FAILED', 'KILLED' ", ["'KILLED'"]),
    ("run_name = 's", "run_name = 'second' ", ["'second'"]),
    ("attributes.user_id != 'a", "attributes.user_id != 'alice' ", ["'alice'"]),
    ("params.opt = 'adam' a", "params.opt = 'adam' AND ", ["AND"]),
    ("params.opt = 'adam' AND (tags.t", "params.opt = 'adam' AND (tags.team ", ["tags.team"]),
    ("NOT params.la", "NOT params.layers ", ["params.layers"]),
    ("adam lr", None, None),  # plain words: the quick filter, nothing to complete
    ("params.nope", None, None),
])
def test_what_a_tab_offers(vocabulary, typed, after, candidates):
    found = complete(typed, len(typed), vocabulary)
    if after is None:
        assert found is None
        return
    assert found is not None
    assert found.applied(typed)[0] == after
    assert found.candidates == candidates and found.total == len(candidates)


def test_the_cursor_decides_what_is_completed(vocabulary):
    text = "params.o = 'x' AND status = 'FAILED'"
    found = complete(text, len("params.o"), vocabulary)
    assert found.applied(text) == ("params.opt = 'x' AND status = 'FAILED'", len("params.opt"))


@pytest.mark.parametrize("key", HOSTILE_KEYS)
def test_every_completed_key_parses_and_finds_its_run(vocabulary, key):
    for entity, prefix, field in (("param", "params.", "params"), ("tag", "tags.", "tags")):
        typed = prefix + key[:1] if key[:1].isalnum() else prefix + key_text(key, complete=False)[:2]
        found = complete(typed, len(typed), vocabulary)
        written = next(c for c in found.candidates if c == prefix + key_text(key))
        node = parse(f"{written} IS NOT NULL")
        assert [r.run_id for r in _runs() if matches(node, r)] == [r.run_id for r in _runs() if key in getattr(r, field)]


@pytest.mark.parametrize("value", HOSTILE_VALUES)
def test_every_completed_value_parses_and_finds_its_run(vocabulary, value):
    found = complete("params.weird = ", len("params.weird = "), vocabulary)
    written = value_text(value)
    assert written in found.candidates
    node = parse(f"params.weird = {written}")
    assert [r.params["weird"] for r in _runs() if matches(node, r)] == [value]


def test_keys_mlflow_reads_bare_stay_bare_and_others_are_quoted():
    assert [key_text(k) for k in ["lr", "_x", "lr2", "my key", "a.b", "a-b", "1st", "a/b", "back`tick"]] == \
        ["lr", "_x", "lr2", "`my key`", "`a.b`", "`a-b`", "`1st`", "`a/b`", '"back`tick"']


def test_candidates_are_bounded_and_counted():
    runs = [Run(f"r{i}", "1", params={f"p{i:04d}": str(i)}) for i in range(1_000)]
    runs += [Run(f"s{i}", "1", params={"seed": str(i)}) for i in range(1_000)]
    vocabulary = gather(runs)
    found = complete("params.p", len("params.p"), vocabulary)
    assert len(found.candidates) == CANDIDATE_LIMIT and found.total == 1_000
    assert found.common == "params.p0"  # the prefix all 1,000 share, not only the 200 listed
    values = complete("params.seed = ", len("params.seed = "), vocabulary)
    assert values.total == filter_vocabulary.VALUE_LIMIT and vocabulary.truncated


def test_the_vocabulary_is_bounded(monkeypatch):
    monkeypatch.setattr(filter_vocabulary, "KEY_LIMIT", 50)
    runs = [Run("big", "1", params={f"k{i}": "x" * (i * 10) for i in range(100)},
                metrics={f"m{i}": None for i in range(100)})]
    vocabulary = gather(runs)
    assert len(vocabulary.keys_of("param")) == 50 and len(vocabulary.keys_of("metric")) == 50
    kept = [len(v) for (_, _), values in vocabulary.values.items() for v in values]
    assert kept and max(kept) <= filter_vocabulary.VALUE_LENGTH and vocabulary.truncated


def test_what_cannot_be_typed_is_not_offered():
    runs = [Run("r", "1", params={"a\x1bb": "1", "ok": "line1\nline2", "rtl": "\u202eevil", "fine": "v"})]
    vocabulary = gather(runs)
    assert vocabulary.keys_of("param") == ["fine", "ok", "rtl"]
    assert vocabulary.values_of("param", "ok") == [] and vocabulary.values_of("param", "rtl") == []
    assert vocabulary.values_of("param", "fine") == ["v"]


def test_any_text_and_cursor_gives_candidates_or_none(vocabulary):
    """Pieces of the grammar in random order, cut at random places: never an exception, and a
    completion only ever replaces what is before the cursor."""
    import random

    pieces = ["params.", "metrics.", "tags.", "status", "lr", "`", "'", '"', "''", " ", "(", ")", ",", "=", "<",
              "IS", "NOT", "NULL", "IN", "AND", "or", "LIKE", "0.5", "-", "my key", "[/]", "\x1b", "é", "."]
    chance = random.Random(18)
    for _ in range(5_000):
        text = "".join(chance.choice(pieces) for _ in range(chance.randrange(0, 12)))
        cursor = chance.randrange(0, len(text) + 1)
        found = complete(text, cursor, vocabulary)
        if found is not None:
            assert 0 <= found.start <= found.end == cursor and found.candidates
            changed, at = found.applied(text)
            assert changed.endswith(text[cursor:]) and changed.startswith(text[:found.start])


def test_mlflow_reads_the_keys_and_values_completion_writes(tmp_path):
    """Keys with spaces, dots, dashes, slashes, colons or a leading digit, backquoted as completion
    writes them, and values with a quote, in the quotes completion picks: MLflow's own search_runs
    finds the run by them, as tuitrack does."""
    from mlflow.entities import Param

    from tests.mlflow_stores import client_for
    from tuitrack.store import open_store
    from tuitrack.store.listing import list_runs, select_experiments

    keys = ["plain_key", "my key", "a.b", "a-b", "opt/name", "x:y", "1st"]
    values = ["it's", 'say "hi"', "[/]", "%_"]
    client = client_for(tmp_path / "mlruns")
    experiment = client.create_experiment("quoting")
    run_of = {}
    for i, (key, value) in enumerate([(k, f"v{i}") for i, k in enumerate(keys)] + [("text", v) for v in values]):
        run_of[(key, value)] = client.create_run(experiment, run_name=f"r{i}").info.run_id
        client.log_batch(run_of[(key, value)], params=[Param(key, value)])
    store = open_store(str(tmp_path / "mlruns"))
    ours = [r for _, r in list_runs(store, select_experiments(store, experiment, include_deleted=False))]
    vocabulary = gather(ours)
    for (key, value), run_id in run_of.items():
        typed = f"params.{key_text(key)} = {value_text(value)[:2]}"
        found = complete(typed, len(typed), vocabulary)
        expression = found.applied(typed)[0].strip()
        assert expression == f"params.{key_text(key)} = {value_text(value)}"
        assert [r.info.run_id for r in client.search_runs([experiment], expression)] == [run_id], expression
        assert [r.run_id for r in ours if matches(parse(expression), r)] == [run_id], expression
