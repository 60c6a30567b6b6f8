"""Tab in the filter box completes (keys, operators, values), lists the candidates on a second tab,
bounded, with store text shown as text; elsewhere tab still moves between panes."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from mlflow.entities import Param

from tests.app_helpers import make_app, screen_text, settle
from tests.mlflow_stores import client_for
from tuitrack.app.widgets import filter_input
from tuitrack.app.widgets.filter_input import FilterInput
from tuitrack.app.widgets.runs_table import RunsTable
from tuitrack.query.filter_completion import CANDIDATE_LIMIT

MANY_KEYS = 300


@pytest.fixture(scope="module")
def store(tmp_path_factory) -> Path:
    """Runs real MLflow wrote (an lr sweep, optimizers, a run with 300 params), and one run whose
    params and tags are hostile: names MLflow would refuse, written by hand as its files."""
    root = tmp_path_factory.mktemp("completion") / "mlruns"
    client = client_for(root)
    sweep = client.create_experiment("sweep")
    for name, lr, opt in [("a", "0.01", "adam"), ("b", "1e-3", "adamw"), ("c", "0.1", "sgd")]:
        run = client.create_run(sweep, run_name=name).info.run_id
        client.log_batch(run, params=[Param("lr", lr), Param("lr_decay", "none"), Param("optimizer", opt),
                                      Param("my key", "it's")])
        client.set_tag(run, "team", "[/]" if name == "a" else "vision")
    many = client.create_run(sweep, run_name="many").info.run_id
    for start in range(0, MANY_KEYS, 100):
        client.log_batch(many, params=[Param(f"p{i:03d}", str(i)) for i in range(start, start + 100)])
    hostile = client.create_run(sweep, run_name="hostile").info.run_id
    params = root / sweep / hostile / "params"
    (params / "[").mkdir()
    (params / "[" / "]").write_text("[@click=app.quit]v")  # the key [/]: a folder [ with a file ]
    (params / "[bold]x").write_text("[/]")
    (params / "esc\x1bkey").write_text("1")
    (params / "escval").write_text("a\x1b]52;c;x\x07b")
    return root


async def _open_filter(pilot):
    await settle(pilot)
    await pilot.press("slash")
    await settle(pilot)  # the vocabulary is gathered on a worker
    return pilot.app.screen.query_one("#filter", FilterInput)


async def _tab(pilot, *keys: str) -> None:
    await pilot.press(*keys, "tab")
    await settle(pilot)


def _candidates(app) -> str:
    shown = app.screen.query_one("#filter-candidates")
    return str(shown.render()) if shown.display else ""


async def test_tab_completes_keys_then_lists_them(store):
    app = make_app(store)
    async with app.run_test(size=(120, 40)) as pilot:
        box = await _open_filter(pilot)
        await _tab(pilot, *"par")
        assert box.value == "params."
        await _tab(pilot, *"l")
        assert box.value == "params.lr" and not _candidates(app)  # the prefix lr and lr_decay share
        assert app.focused is box  # tab stayed in the box
        await _tab(pilot)  # a second tab lists them
        assert _candidates(app) == "2 candidates: params.lr  params.lr_decay"
        await _tab(pilot, *"_")
        assert box.value == "params.lr_decay " and not _candidates(app)
        for _ in "lr_decay ":
            await pilot.press("backspace")
        await _tab(pilot, *"my")
        assert box.value == "params.`my key` "  # quoted as MLflow needs


async def test_tab_completes_operators_and_values_and_the_filter_applies(store):
    app = make_app(store)
    async with app.run_test(size=(120, 40)) as pilot:
        box = await _open_filter(pilot)
        await _tab(pilot, *"params.optimizer ")
        assert "LIKE" in _candidates(app) and "IS NOT NULL" in _candidates(app)
        await _tab(pilot, "=", "space")
        assert box.value == "params.optimizer = "
        await _tab(pilot)
        assert box.value == "params.optimizer = "  # adam, adamw, sgd share nothing
        assert _candidates(app) == "3 candidates: 'adam'  'adamw'  'sgd'"
        await _tab(pilot, "a")
        assert box.value == "params.optimizer = 'adam"
        await _tab(pilot, "w")
        assert box.value == "params.optimizer = 'adamw' "
        assert [r.run_name for r in app.screen.query_one(RunsTable).runs] == ["b"]
        await _tab(pilot, "a")
        assert box.value == "params.optimizer = 'adamw' AND "


async def test_numeric_params_complete_with_numbers_and_filter_as_numbers(store):
    app = make_app(store)
    async with app.run_test(size=(120, 40)) as pilot:
        box = await _open_filter(pilot)
        await _tab(pilot, *"params.lr > ")
        assert _candidates(app) == "3 candidates: 0.01  0.1  1e-3"  # unquoted: compared as numbers
        await _tab(pilot, "1")
        assert box.value == "params.lr > 1e-3 "
        assert sorted(r.run_name for r in app.screen.query_one(RunsTable).runs) == ["a", "c"]


async def test_the_candidate_list_is_bounded(store):
    app = make_app(store)
    async with app.run_test(size=(80, 24)) as pilot:
        box = await _open_filter(pilot)
        await _tab(pilot, *"params.p")
        await _tab(pilot)
        assert box.value == "params.p"
        listed = _candidates(app)
        assert listed.startswith(f"{CANDIDATE_LIMIT} of {MANY_KEYS} candidates: params.p000  params.p001")
        assert f"params.p{CANDIDATE_LIMIT - 1:03d}" in listed and f"params.p{CANDIDATE_LIMIT:03d}" not in listed
        shown = app.screen.query_one("#filter-candidates")
        assert shown.size.height <= 3 and shown.region.right <= 80
        await pilot.press("0")  # the list was for the text before
        await settle(pilot)
        assert not _candidates(app)


async def test_hostile_names_and_values_show_as_text(store):
    app = make_app(store)
    async with app.run_test(size=(120, 40)) as pilot:
        box = await _open_filter(pilot)
        await _tab(pilot, *"params.")
        await _tab(pilot)
        listed = _candidates(app)
        assert "params.`[/]`" in listed and "params.`[bold]x`" in listed and "params.escval" in listed
        assert "esc\x1bkey" not in listed and "esckey" not in listed  # cannot be typed: not offered
        assert "params.`[/]`" in screen_text(app) and "params.`[bold]x`" in screen_text(app)
        await _tab(pilot, *"`[/")
        assert box.value == "params.`[/]` "
        await _tab(pilot, "=", "space")
        assert box.value == "params.`[/]` = '[@click=app.quit]v' "
        assert [r.run_name for r in app.screen.query_one(RunsTable).runs] == ["hostile"]
        assert app.is_running
        await pilot.press("escape")
        await _tab(pilot, "slash", *"params.escval = ")
        assert box.value == "params.escval = " and not _candidates(app)  # its value holds ESC: none
        await pilot.press("escape")
        await _tab(pilot, "slash", *"tags.team = ")
        assert "'[/]'" in _candidates(app) and "'[/]'" in screen_text(app)


async def test_escape_and_enter_behave_as_before_and_tab_moves_panes_elsewhere(store):
    app = make_app(store)
    async with app.run_test(size=(120, 40)) as pilot:
        box = await _open_filter(pilot)
        await _tab(pilot, *"zz")
        assert app.focused is box and box.value == "zz"  # nothing to complete: a bell, no move
        await pilot.press("escape")
        await settle(pilot)
        table = app.screen.query_one(RunsTable)
        assert box.value == "" and app.focused is table
        await pilot.press("tab")
        assert app.focused is not box and app.focused is not table  # the next pane, as before
        await _tab(pilot, "slash", *"params.optimizer = 'sgd'")
        await pilot.press("enter")
        await settle(pilot)
        assert app.focused is table and [r.run_name for r in table.runs] == ["c"]


async def test_keys_are_gathered_off_the_ui_thread_and_again_when_old(store, monkeypatch):
    threads = []

    def gather(runs):
        threads.append(threading.current_thread())
        return real(runs)

    real = filter_input.gather
    monkeypatch.setattr(filter_input, "gather", gather)
    app = make_app(store)
    async with app.run_test(size=(120, 40)) as pilot:
        await _open_filter(pilot)
        await _tab(pilot, *"params.l")
        assert len(threads) == 1  # on focus; a tab right after uses what was gathered
        monkeypatch.setattr(filter_input, "REFRESH_AFTER", 0.0)
        await _tab(pilot)
        assert len(threads) == 2  # older than REFRESH_AFTER: gathered again, in the background
    assert threading.main_thread() not in threads
