"""Every key binding of the app, pressed as a user would (Textual's Pilot), on the sample store."""

from __future__ import annotations

import pytest
from textual.widgets import Input, SelectionList

from tests.app_helpers import make_app, settle
from tuitrack.app.screens.columns import ColumnChooser
from tuitrack.app.screens.help import HelpScreen
from tuitrack.app.widgets.run_detail import RunDetail
from tuitrack.app.widgets.run_tree import RunTree
from tuitrack.app.widgets.runs_table import RunsTable


def names(table: RunsTable) -> list[str]:
    return [r.run_name for r in table.runs]


async def open_app(size=(120, 40)):
    app = make_app()
    return app, app.run_test(size=size)


async def goto_run(pilot, name: str) -> None:
    """Move the tree cursor onto the run called `name`."""
    screen = pilot.app.screen
    run = next(r for r in screen.index.all_runs() if r.run_name == name)
    await screen.select_run(run.run_id)
    screen.query_one(RunTree).focus()
    await settle(pilot)


async def test_first_paint_shows_experiments_and_nested_runs():
    app, ctx = await open_app()
    async with ctx as pilot:
        await settle(pilot)
        tree = app.screen.query_one(RunTree)
        labels = [str(n.label) for n in tree.experiment_nodes.values()]
        assert labels[0].startswith("Default") and any(l.startswith("mnist-cnn  6") for l in labels)
        sweep = next(n for n in tree.run_nodes.values() if "lr-sweep" in str(n.label))
        assert sorted(str(c.label).split()[1] for c in sweep.children) == ["lr=0.003", "lr=0.01", "lr=0.03", "lr=0.1"]
        assert "bad-seed" not in " ".join(str(n.label) for n in tree.run_nodes.values())


async def test_tree_vim_keys_move_and_fold():
    app, ctx = await open_app()
    async with ctx as pilot:
        await settle(pilot)
        tree = app.screen.query_one(RunTree)
        assert app.focused is tree
        await pilot.press("j")
        assert tree.cursor_node.data.kind == "run"
        await pilot.press("k")
        assert tree.cursor_node.data.kind == "experiment"
        experiment = tree.cursor_node
        await pilot.press("h")  # collapse
        assert not experiment.is_expanded
        await pilot.press("l")  # expand
        assert experiment.is_expanded
        await pilot.press("l")  # into the first child
        assert tree.cursor_node.parent is experiment
        await pilot.press("h")  # back to the parent
        assert tree.cursor_node is experiment
        await pilot.press("enter")  # enter on an experiment folds it
        assert not experiment.is_expanded
        await pilot.press("G")
        last = tree.cursor_line
        await pilot.press("g")
        assert tree.cursor_line == 0 and last > 0
        await pilot.press("down", "up")
        assert tree.cursor_line == 0


async def test_tree_and_table_follow_each_other():
    app, ctx = await open_app()
    async with ctx as pilot:
        await settle(pilot)
        screen = app.screen
        await goto_run(pilot, "lr-too-high")
        table = screen.query_one(RunsTable)
        assert table.highlighted_run.run_name == "lr-too-high"
        assert set(names(table)) == {"overnight", "long-context", "lr-too-high", "warmup-ablation"}
        assert screen.query_one(RunDetail).shown_run.run_name == "lr-too-high"
        table.focus()
        await pilot.press("j")
        assert screen.query_one(RunTree).cursor_node.data.run_id == table.highlighted_run.run_id


async def test_table_keys_sort_and_columns():
    app, ctx = await open_app()
    async with ctx as pilot:
        await settle(pilot)
        await goto_run(pilot, "lr=0.1")
        table = app.screen.query_one(RunsTable)
        table.focus()
        await pilot.press("g")
        assert table.cursor_row == 0
        await pilot.press("G")
        assert table.cursor_row == len(table.runs) - 1
        await pilot.press("pageup")
        assert table.cursor_row == 0
        await pilot.press("pagedown")
        assert table.cursor_row == len(table.runs) - 1
        await pilot.press("up", "down", "k", "j")
        assert table.cursor_row == len(table.runs) - 1
        # Move to the `lr` param column and sort by it: numbers, ascending, then descending.
        lr = next(i for i, c in enumerate(table.columns) if c.key == "param:lr")
        await pilot.press("g", *["l"] * lr)
        assert table.cursor_column == lr
        await pilot.press("s")
        values = [r.params.get("lr") for r in table.runs]
        assert values[:5] == ["0.003", "0.01", "0.01", "0.03", "0.1"] and values[-1] is None
        await pilot.press("s")
        assert [r.params.get("lr") for r in table.runs][:2] == ["0.1", "0.03"]
        await pilot.press("s")
        assert table.sort_key is None
        await pilot.press("h", "left", "right")
        assert table.cursor_column == lr - 1
        # A metric column sorts descending first (biggest first).
        metric = next(i for i, c in enumerate(table.columns) if c.key == "metric:val/acc")
        table.cursor_column = metric
        await pilot.press("s")
        accs = [r.metrics["val/acc"].value for r in table.runs if "val/acc" in r.metrics]
        assert accs == sorted(accs, reverse=True)
        # The column chooser hides a column.
        await pilot.press("C")
        assert isinstance(app.screen, ColumnChooser)
        assert app.focused is app.screen.query_one(SelectionList)
        await pilot.press("space")  # the first column, Name, off
        await pilot.press("enter")
        await pilot.pause()
        assert "name" not in [c.key for c in table.columns]
        await pilot.press("C")
        await pilot.press("escape")
        assert not isinstance(app.screen, ColumnChooser)


async def test_enter_opens_detail_full_screen_and_escape_returns():
    app, ctx = await open_app(size=(80, 24))
    async with ctx as pilot:
        await settle(pilot)
        await goto_run(pilot, "lr-too-high")
        await pilot.press("enter")
        detail = app.screen.query_one(RunDetail)
        assert app.screen.maximized is detail and app.focused is detail
        await pilot.press("j", "k", "G", "g")
        await pilot.press("escape")
        assert app.screen.maximized is None
        table = app.screen.query_one(RunsTable)
        table.focus()
        await pilot.press("enter")
        assert app.screen.maximized is detail


async def test_detail_shows_summaries_problems_and_disk():
    app, ctx = await open_app()
    async with ctx as pilot:
        await settle(pilot)
        await goto_run(pilot, "lr-too-high")
        screen = app.screen
        summaries, disk = screen._detail_cache[screen.selected_run_id]
        assert summaries["loss"].count == 1800 and disk > 0
        assert summaries["loss"].latest.step == 1799


async def test_filter_narrows_as_you_type_and_escape_clears():
    app, ctx = await open_app()
    async with ctx as pilot:
        await settle(pilot)
        await goto_run(pilot, "lr=0.1")
        await pilot.press("slash")
        box = app.screen.query_one("#filter", Input)
        assert app.focused is box
        await pilot.press(*"adam")
        await settle(pilot)
        table = app.screen.query_one(RunsTable)
        assert set(names(table)) == {"lr=0.1", "lr=0.03", "lr=0.01", "lr=0.003"}
        await pilot.press("space", *"lr=0.01")
        await settle(pilot)
        assert names(table) == ["lr=0.01"]
        tree = app.screen.query_one(RunTree)
        shown = {str(n.label).split("  ")[0][2:] for n in tree.run_nodes.values()}
        assert "lr=0.01" in shown and "lr=0.1" not in shown
        await pilot.press("enter")
        assert app.focused is table
        await pilot.press("escape")
        await settle(pilot)
        assert box.value == "" and app.focused is table
        assert len(table.runs) == 6


@pytest.mark.parametrize("query, expected", [
    ("FAILED", {"lr-too-high"}),  # status
    ("bob 4096", {"long-context"}),  # user and param value
    ("keep=true", {"overnight"}),  # a tag
    ("perplexity", {"overnight", "warmup-ablation"}),  # a metric key
])
async def test_filter_matches_status_user_params_tags_metrics(query, expected):
    app, ctx = await open_app()
    async with ctx as pilot:
        await settle(pilot)
        await goto_run(pilot, "overnight")
        await pilot.press("slash", *["space" if c == " " else c for c in query])
        await settle(pilot)
        assert set(names(app.screen.query_one(RunsTable))) == expected


async def test_filter_by_run_id_prefix():
    app, ctx = await open_app()
    async with ctx as pilot:
        await settle(pilot)
        await goto_run(pilot, "overnight")
        run_id = app.screen.selected_run_id
        await pilot.press("slash", *run_id[:10])
        await settle(pilot)
        assert [r.run_id for r in app.screen.query_one(RunsTable).runs] == [run_id]


async def test_toggle_deleted_shows_deleted_runs_and_trashed_experiments():
    app, ctx = await open_app()
    async with ctx as pilot:
        await settle(pilot)
        tree = app.screen.query_one(RunTree)
        assert not any("scratch" in str(n.label) for n in tree.experiment_nodes.values())
        await pilot.press("full_stop")
        await settle(pilot)
        assert any("scratch" in str(n.label) for n in tree.experiment_nodes.values())
        assert any("bad-seed" in str(n.label) for n in tree.run_nodes.values())
        await pilot.press("full_stop")
        await settle(pilot)
        assert not any("bad-seed" in str(n.label) for n in tree.run_nodes.values())


async def test_copy_run_id():
    app, ctx = await open_app()
    async with ctx as pilot:
        await settle(pilot)
        await goto_run(pilot, "overnight")
        await pilot.press("y")
        assert app.clipboard == app.screen.selected_run_id


async def test_help_lists_every_binding():
    app, ctx = await open_app()
    async with ctx as pilot:
        await settle(pilot)
        await pilot.press("question_mark")
        assert isinstance(app.screen, HelpScreen)
        text = " ".join(str(row) for _, bindings in app.screen.sections for row in bindings)
        for _, bindings in app.help_sections():
            for binding in bindings:
                assert binding.action in text
        await pilot.press("escape")
        assert not isinstance(app.screen, HelpScreen)
        await pilot.press("f1")
        assert isinstance(app.screen, HelpScreen)
        await pilot.press("q")  # closes help, does not quit
        assert not isinstance(app.screen, HelpScreen) and app.is_running


async def test_tab_moves_between_panes_and_i_focuses_detail():
    app, ctx = await open_app()
    async with ctx as pilot:
        await settle(pilot)
        screen = app.screen
        await pilot.press("tab")
        assert app.focused is screen.query_one(RunsTable)
        await pilot.press("tab")
        assert app.focused is screen.query_one(RunDetail)
        await pilot.press("shift+tab", "shift+tab")
        assert app.focused is screen.query_one(RunTree)
        await pilot.press("i")
        assert app.focused is screen.query_one(RunDetail)


async def test_reload_reads_the_store_again(reference_store):
    root, ids = reference_store
    app = make_app(root)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        assert app.screen.index.run(ids.runs["parent"]).run_name == "parent"
        (root / ids.experiments["alpha"] / ids.runs["parent"] / "meta.yaml").write_text(
            (root / ids.experiments["alpha"] / ids.runs["parent"] / "meta.yaml").read_text().replace("run_name: parent", "run_name: renamed")
        )
        await pilot.press("ctrl+r")
        await settle(pilot)
        assert app.screen.index.run(ids.runs["parent"]).run_name == "renamed"


async def test_command_palette_jumps_to_a_run():
    app, ctx = await open_app()
    async with ctx as pilot:
        await settle(pilot)
        await pilot.press("ctrl+p")
        await pilot.pause()
        await pilot.press(*"go to run: long-context")
        await pilot.pause(0.3)
        await pilot.press("enter")
        await settle(pilot)
        assert app.screen.query_one(RunDetail).shown_run.run_name == "long-context"


async def test_problem_runs_are_marked_and_explained(reference_store):
    root, ids = reference_store
    (root / ids.experiments["alpha"] / ids.runs["failed"] / "metrics" / "x").write_bytes(b"1 1.0 0\ngarbage\n")
    app = make_app(root)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        tree = app.screen.query_one(RunTree)
        assert str(tree.run_nodes[ids.runs["failed"]].label).startswith("! failing")
        await app.screen.select_run(ids.runs["failed"])
        await settle(pilot)
        detail = app.screen.query_one(RunDetail)
        assert detail.shown_run.problems
        rendered = app.screen.query_one("#detail-body").render()
        assert "garbage" in str(rendered) or detail.shown_run.problems[0].message.startswith("line 2")


async def test_q_quits():
    app, ctx = await open_app()
    async with ctx as pilot:
        await settle(pilot)
        await pilot.press("q")
        assert not app.is_running


async def test_no_color_renders(monkeypatch):
    """NO_COLOR switches Textual to a monochrome filter, which needs every line styled."""
    monkeypatch.setenv("NO_COLOR", "1")
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        assert app.no_color
        await goto_run(pilot, "lr-too-high")
        app.screen.query_one(RunsTable).focus()
        await pilot.press("j", "G")
        await settle(pilot)
        assert "lr-too-high" in app.export_screenshot()


async def test_reload_keeps_the_place():
    app, ctx = await open_app()
    async with ctx as pilot:
        await settle(pilot)
        await goto_run(pilot, "lr-too-high")
        before = app.screen.selected_run_id
        await pilot.press("ctrl+r")
        await settle(pilot)
        screen = app.screen
        assert screen.selected_run_id == before
        assert screen.query_one(RunTree).cursor_node.data.run_id == before
        assert screen.query_one(RunsTable).highlighted_run.run_id == before


async def test_filter_never_leaves_a_hidden_run_selected():
    app, ctx = await open_app()
    async with ctx as pilot:
        await settle(pilot)
        await goto_run(pilot, "smoke-test")  # in Default, which has no match below
        await pilot.press("slash", *"lr=0.01")
        await settle(pilot)
        screen = app.screen
        visible = {r.run_id for r in screen.query_one(RunsTable).runs}
        assert visible and screen.selected_run_id in visible
        assert screen.query_one(RunDetail).shown_run.run_id == screen.selected_run_id
        await pilot.press("enter", "y")
        assert app.clipboard in visible


async def test_escape_from_detail_returns_to_the_pane_it_came_from():
    app, ctx = await open_app()
    async with ctx as pilot:
        await settle(pilot)
        await goto_run(pilot, "lr-too-high")
        table = app.screen.query_one(RunsTable)
        table.focus()
        await pilot.press("enter", "escape")
        assert app.focused is table


async def test_detail_starts_at_the_top_for_another_run():
    app, ctx = await open_app(size=(80, 24))
    async with ctx as pilot:
        await settle(pilot)
        await goto_run(pilot, "lr-too-high")
        detail = app.screen.query_one(RunDetail)
        await pilot.press("i", "G")
        await settle(pilot)
        assert detail.scroll_y > 0
        await goto_run(pilot, "overnight")
        assert detail.scroll_y == 0


async def test_keys_typed_right_after_slash_go_to_the_filter():
    """A terminal delivers `/adam` in one read: every key after / must reach the filter, none
    may run a binding of the pane that had focus (l would unfold, r would reload)."""
    from textual import events

    app, ctx = await open_app()
    async with ctx as pilot:
        await settle(pilot)
        for key, char in [("slash", "/"), ("l", "l"), ("r", "r"), ("slash", "/"), ("x", "x")]:
            app.post_message(events.Key(key, char))
        await settle(pilot)
        assert app.screen.query_one("#filter", Input).value == "lr/x"


async def test_slash_takes_mlflow_filters_and_shows_errors_while_typing():
    app, ctx = await open_app()
    async with ctx as pilot:
        await settle(pilot)
        await goto_run(pilot, "lr=0.1")
        await pilot.press("slash", *"params.lr = '0.01'")
        await settle(pilot)
        screen = app.screen
        assert screen.query_condition is not None
        assert {r.run_name for r in screen.query_one(RunsTable).runs} == {"lr=0.01", "baseline-mlp"}
        await pilot.press("backspace")  # the closing quote gone: not a valid filter now
        await settle(pilot)
        assert "column" in screen.query_error and screen.query_one("#filter").has_class("-invalid")
        await pilot.press("escape")
        await settle(pilot)
        assert screen.query_condition is None and screen.query_error == ""


async def test_export_writes_the_table(tmp_path, monkeypatch):
    import csv

    monkeypatch.chdir(tmp_path)
    app, ctx = await open_app()
    async with ctx as pilot:
        await settle(pilot)
        await goto_run(pilot, "lr=0.1")
        await pilot.press("E")
        await settle(pilot)
        (written,) = tmp_path.glob("tuitrack-mnist-cnn-*.csv")
        rows = list(csv.DictReader(written.open()))
        assert {r["run_name"] for r in rows} == {r.run_name for r in app.screen.query_one(RunsTable).runs}
        app.screen.action_export("md")
        assert list(tmp_path.glob("tuitrack-mnist-cnn-*.md"))


@pytest.mark.parametrize("view_key, view", [("2", "plot"), ("3", "system"), ("4", "artifacts")])
async def test_enter_over_another_view_shows_the_detail_and_escape_brings_the_view_back(view_key, view):
    """Enter under the plot (or system, artifacts) view: the run's detail full screen, not a
    blank screen (the hidden detail maximized); escape: the view that was there."""
    app, ctx = await open_app(size=(80, 24))
    async with ctx as pilot:
        await settle(pilot)
        await pilot.press(view_key)
        await settle(pilot)
        await goto_run(pilot, "lr-too-high")
        await pilot.press("enter")
        await settle(pilot)
        detail = app.screen.query_one(RunDetail)
        assert app.screen.maximized is detail and detail.display and detail.region.height > 10
        assert app.screen._view() == "detail"
        await pilot.press("escape")
        await settle(pilot)
        assert app.screen.maximized is None and app.screen._view() == view


async def test_moving_onto_another_experiment_shows_its_first_run_not_the_row_left():
    """On an experiment's line the table and the detail show its runs from the top: the row the
    last experiment's cursor was on is no position in another (tmux: the detail showed a run of
    the next experiment that happened to be at row 4)."""
    app, ctx = await open_app()
    async with ctx as pilot:
        await settle(pilot)
        screen, tree = app.screen, app.screen.query_one(RunTree)
        gpt2 = next(e for e in screen.index.experiments.values() if e.name == "gpt2-finetune")
        last = screen.index.runs_of(gpt2.experiment_id)[-1]
        await goto_run(pilot, last.run_name)
        table = screen.query_one(RunsTable)
        assert table.cursor_row > 0
        tree.focus()
        while tree.cursor_node.data.kind != "experiment" or tree.cursor_node.data.experiment_id == gpt2.experiment_id:
            await pilot.press("j")
        await settle(pilot)
        other = tree.cursor_node.data.experiment_id
        assert table.runs and table.runs[0].experiment_id == other
        assert table.cursor_row == 0
        shown = screen.query_one(RunDetail).shown_run
        assert shown is not None and shown.run_id == table.runs[0].run_id  # the detail: the row the cursor is on
