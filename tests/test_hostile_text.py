"""Store text is shown as typed, everywhere: never read as markup (no crash, nothing dropped, no
live `[@click]` action), and its terminal escapes and bidi controls are shown as visible escapes
on every screen of the app and in every human-readable output of the CLI. JSON stays exact;
CSV text cells cannot start a formula."""

from __future__ import annotations

import csv
import dataclasses
import io
import json
import shutil

import pytest

from tests.app_helpers import screen_text, settle
from tests.conftest import fixed_clock
from tests.hostile_stores import MARKUP, OUTLAW_METRIC, OUTLAW_PARAM, write_hostile_store
from tuitrack.app.app import TuitrackApp
from tuitrack.app.widgets.run_detail import RunDetail
from tuitrack.app.widgets.run_tree import RunTree
from tuitrack.app.widgets.runs_table import RunsTable
from tuitrack.cli import main
from tuitrack.safe_text import spreadsheet_cell, visible
from tuitrack.store import open_store

SIZE = (220, 70)
UNSAFE = ["\x1b", "\x07", "\x9b", "\u202e", "\u202c", "\u2066", "\u2069", "\u200f"]


@pytest.fixture(scope="module")
def hostile_master(tmp_path_factory):
    base = tmp_path_factory.mktemp("hostile")
    return write_hostile_store(base / "mlruns", base / "canary")


@pytest.fixture
def hostile(hostile_master, tmp_path):
    """A private copy, in a folder whose own name is hostile too (the status bar shows it); the
    canary folder the @click payload names stays the master's."""
    root = tmp_path / "copy [/] \x1b]0;t\x07" / "mlruns"
    shutil.copytree(hostile_master.root, root)
    yield dataclasses.replace(hostile_master, root=root)
    assert not any(hostile_master.canary.iterdir()), "the @click payload ran an action"


def make_app(hostile) -> TuitrackApp:
    return TuitrackApp(open_store(str(hostile.root)), clock=fixed_clock)


def assert_safe_screen(app) -> str:
    """No escape reaches the terminal from store text, and nothing on screen is a live action
    from it. Returns the screen's text."""
    text = screen_text(app)
    for char in UNSAFE:
        assert char not in text, f"{char!r} reached the screen"
    for strip in app.screen._compositor.render_strips():
        for segment in strip:
            meta = segment.style.meta if segment.style else {}
            assert "screenshot" not in str(meta.get("@click", "")), segment
            assert not (segment.style and segment.style.link), segment
    return text


def detail_rows(text: str) -> set[tuple[str, str]]:
    """(first word, the rest) of each line of a full-screen detail: its key and value rows."""
    rows = set()
    for line in text.splitlines():
        parts = line.strip().rstrip(" ▁▂▃▄▅▆▇█▉▊▋▌▍▎▏").split(None, 1)
        if len(parts) == 2:
            rows.add((parts[0], parts[1]))
    return rows


async def open_on(pilot, hostile, run_name: str) -> None:
    await settle(pilot)
    await pilot.app.screen.select_run(hostile.runs[run_name])
    await settle(pilot)


async def mark_and_press(pilot, hostile, names: list[str], key: str) -> str:
    """Mark the runs `names`, press `key` (plot, compare); the screen shows every name as typed."""
    await open_on(pilot, hostile, names[0])
    for name in names:
        await pilot.app.screen.select_run(hostile.runs[name])
        pilot.app.screen.action_toggle_mark()
    await pilot.press(key)
    await settle(pilot)
    await pilot.pause(0.2)
    text = assert_safe_screen(pilot.app)
    for name in names:
        assert visible(name) in text
    return text


# -- the one function -----------------------------------------------------------------------------


def test_visible_escapes_controls_and_bidi_and_keeps_text():
    assert visible("[WIP] baseline é ✓ 日本") == "[WIP] baseline é ✓ 日本"
    assert visible("a\x1b]0;t\x07b") == "a\\x1b]0;t\\x07b"
    assert visible("\x9b2J\x7f") == "\\u009b2J\\u007f"
    assert visible("bidi\u202eevil\u202c\u2066\u2069\u200e\u200f\u061c") == (
        "bidi\\u202eevil\\u202c\\u2066\\u2069\\u200e\\u200f\\u061c")
    assert visible("a\nb\tc\rd") == "a\\nb\\tc\\rd"
    assert visible("a\nb\x1b", newlines=True) == "a\nb\\x1b"
    assert visible(visible("x\x1by")) == visible("x\x1by")  # applied twice: the same
    # Its fast path (str.isprintable) skips only text with nothing to escape:
    assert not [c for c in map(chr, range(0x110000)) if visible(c) != c and c.isprintable()]
    # The escapes above 0x7f are JSON's too: over JSON text, it keeps the values exact.
    data = {"name": "csi\x9b2J \u202e", "n": 1}
    assert json.loads(visible(json.dumps(data, ensure_ascii=False))) == data


@pytest.mark.parametrize("cell, expected", [
    ("=1+1", "'=1+1"), ("+1+1", "'+1+1"), ("-2+3", "'-2+3"), ("@SUM(A1)", "'@SUM(A1)"),
    ("\tx", "'\tx"), ("\rx", "'\rx"), ("-inf", "'-inf"),
    ("-0.5", "-0.5"), ("+1e-3", "+1e-3"), ("-12", "-12"), ("0.01", "0.01"), ("adam", "adam"), ("", ""),
    ("a=b", "a=b"),
])
def test_spreadsheet_cells_cannot_start_a_formula_but_numbers_stay(cell, expected):
    assert spreadsheet_cell(cell) == expected


# -- the app ----------------------------------------------------------------------------------------


async def test_main_screen_tree_table_detail_status(hostile):
    app = make_app(hostile)
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await open_on(pilot, hostile, "[WIP] baseline")
        tree, table = app.screen.query_one(RunTree), app.screen.query_one(RunsTable)
        text = assert_safe_screen(app)
        assert "[exp] data[/tmp/x] [/]" in text
        assert visible("exp\x1b]0;pwned\x07\u202eevil") in text
        for name, run_id in hostile.runs.items():
            assert visible(name) in tree.run_nodes[run_id].label.plain
        names = {row[0] for row in table._cells}
        assert names == {visible(n) for n in hostile.names}
        for name in hostile.names:  # as far as the table's 24-cell column shows it
            assert visible(name)[:20] in text
        for row in table._cells:  # the param columns (most are scrolled out of view)
            assert {visible(v) for v in hostile.params.values()} <= set(row)
        assert "regex=[a-z]+" in text and "model[v2]" in text
        for name in hostile.names:
            await app.screen.select_run(hostile.runs[name])
            await settle(pilot)
            text = assert_safe_screen(app)
            assert f"Name        {visible(name)}" in text
            assert f"Run {visible(name)}"[:60] in text  # the detail's border title
        assert f" {visible(str(hostile.root))} │ 3 experiments, 16 runs" in text  # the status bar


async def test_detail_full_screen_with_note(hostile):
    app = make_app(hostile)
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await open_on(pilot, hostile, "data[/tmp/x]")
        app.screen.action_open_detail()
        await settle(pilot)
        text = assert_safe_screen(app)
        assert app.screen.maximized is app.screen.query_one(RunDetail)
        assert "note [/] data[/tmp/x]" in text
        assert "second line \\x1b[2J end" in text  # the note's own line break stays
        assert "Name        data[/tmp/x]" in text
        rows = detail_rows(text)
        await pilot.press("G")  # the tags are at the bottom
        await settle(pilot)
        rows |= detail_rows(assert_safe_screen(app))
        for key, value in list(hostile.params.items()) + list(hostile.tags.items()):
            assert (key, visible(value)) in rows


async def test_plot_legends_and_titles(hostile):
    app = make_app(hostile)
    plotted = ["[WIP] baseline", "[/]", "clip\x1b]52;c;cHduZWQ=\x07"]
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        text = await mark_and_press(pilot, hostile, plotted, "p")
        assert "loss" in text


async def test_compare_and_its_exports(hostile, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    app = make_app(hostile)
    compared = ["model[v2]", "[/]", "bidi\u202eevil\u202c"]
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        text = await mark_and_press(pilot, hostile, compared, "c")
        for key in ("p0", "p3", "t4"):
            assert f"{'param' if key[0] == 'p' else 'tag'} {key}" in text
        assert "regex=[a-z]+" in text and "data[/tmp/x]" in text
        for key in ("E", "M"):
            await pilot.press(key)
            await settle(pilot)
        await pilot.pause(0.1)
    written = {p.suffix: p.read_text() for p in tmp_path.glob("tuitrack-compare-*")}
    rows = {row[0]: row[1:] for row in csv.reader(io.StringIO(written[".csv"]))}
    assert rows["field"] == [visible(n) for n in compared]
    assert rows["param formula"] == ["'=HYPERLINK(\"http://x\")"] * 3
    assert rows["param negative"] == ["-0.5"] * 3
    assert rows["param p3"] == ["[/]"] * 3
    for unsafe in UNSAFE:
        assert unsafe not in written[".csv"] and unsafe not in written[".md"]
    assert "| param p2 | regex=[a-z]+ |" in written[".md"]


@pytest.mark.parametrize("key, expected", [
    ("S", [" [exp] data[/tmp/x] [/]: a param or metric against a metric", "loss against val/acc: top-1"]),
    ("question_mark", ["Keys  (escape closes)", "Command palette"]),
])
async def test_scatter_and_help_screens(hostile, key, expected):
    app = make_app(hostile)
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await open_on(pilot, hostile, "[/]")
        await pilot.press(key)
        await settle(pilot)
        text = assert_safe_screen(app)
        for shown in expected:
            assert shown in text


async def test_prune_panel_lists_hostile_names(hostile):
    app = make_app(hostile)
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await open_on(pilot, hostile, "[/]")
        await pilot.press("P")
        await settle(pilot)
        app.screen.query_one("#status-FAILED").value = True
        await settle(pilot)
        await pilot.pause(0.1)
        text = assert_safe_screen(app)
        failed = [n for i, n in enumerate(hostile.names) if i % 3 == 0]
        listed = app.screen.query_one("#matches")
        prompts = {str(listed.get_option_at_index(i).prompt) for i in range(listed.option_count)}
        assert prompts == {f"{visible(n)} · [exp] data[/tmp/x] [/] · status FAILED" for n in failed}
        for name in failed:
            assert visible(name)[:40] in text
        app.screen.query_one("#keep-best").value = "val[/]:min:2"  # an error quoting what was typed
        await settle(pilot)
        assert "val[/]" in assert_safe_screen(app)


async def test_palette_hits_and_help(hostile):
    app = make_app(hostile)
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await open_on(pilot, hostile, "[/]")
        for query, name in (("WIP", "[WIP] baseline"), ("looks-normal", hostile.click),
                            ("csi", "csi\x9b2J"), ("exp", "[exp] data[/tmp/x] [/]")):
            await pilot.press("ctrl+p")
            await settle(pilot)
            await pilot.press(*query)
            await settle(pilot)
            await pilot.pause(0.5)
            text = assert_safe_screen(app)
            assert visible(name)[:100] in text, query
            await pilot.press("escape")
            await settle(pilot)
        await pilot.press("ctrl+p")
        await settle(pilot)
        await pilot.press(*"looks-normal")  # only the payload's run matches: enter goes there
        await settle(pilot)
        await pilot.pause(0.5)
        await pilot.press("down", "enter")
        await settle(pilot)
        assert app.screen.selected_run_id == hostile.runs[hostile.click]
        assert f"Name        {hostile.click}" in assert_safe_screen(app)


async def test_column_chooser_and_metric_picker(hostile):
    app = make_app(hostile)
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await open_on(pilot, hostile, "in-escape-experiment")
        app.screen.query_one(RunsTable).focus()
        assert OUTLAW_PARAM in assert_safe_screen(app)  # the table's column
        await pilot.press("C")
        await settle(pilot)
        assert f"param {OUTLAW_PARAM}" in assert_safe_screen(app)
        await pilot.press("escape", "p")
        await settle(pilot)
        await pilot.press("i", "m")
        await settle(pilot)
        text = assert_safe_screen(app)
        assert "Metrics to plot" in text and OUTLAW_METRIC in text
        await pilot.press("b", "m", "down", "space", "enter")  # narrowed to it, chosen, plotted
        await settle(pilot)
        await pilot.pause(0.3)
        assert OUTLAW_METRIC in app.screen.query_one("#plot").metrics
        assert OUTLAW_METRIC in assert_safe_screen(app)  # the plot's title


async def test_dialogs_name_runs_as_typed_and_notifications_too(hostile):
    app = make_app(hostile)
    name = "[WIP] baseline"
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await open_on(pilot, hostile, name)
        app.screen.query_one(RunsTable).focus()
        await pilot.press("t")
        await settle(pilot)
        assert f"Tag {name}" in assert_safe_screen(app)
        await pilot.press(*"k=[/]", "enter")
        await settle(pilot)
        await pilot.pause(0.2)
        assert f"{name}: set k=[/]" in assert_safe_screen(app)  # the notification
        assert open_store(str(hostile.root)).find_run(hostile.runs[name]).tags["k"] == "[/]"

        escaped = "title\x1b]0;pwned\x07"
        await app.screen.select_run(hostile.runs[escaped])
        await settle(pilot)
        await pilot.press("R")
        await settle(pilot)
        text = assert_safe_screen(app)
        assert f"Rename {visible(escaped)}" in text  # the dialog names its run, escapes visible
        await pilot.press("enter")  # left as shown: not renamed to its escaped spelling
        await settle(pilot)
        assert open_store(str(hostile.root)).find_run(hostile.runs[escaped]).run_name == escaped

        await pilot.press("e")
        await settle(pilot)
        text = assert_safe_screen(app)
        assert "note [/] data[/tmp/x]" in text and "second line \\x1b[2J end" in text
        await pilot.press("ctrl+s")  # unchanged: nothing written
        await settle(pilot)
        assert open_store(str(hostile.root)).find_run(hostile.runs[escaped]).note == hostile.note

        await pilot.press("d")
        await settle(pilot)
        text = assert_safe_screen(app)
        assert f"Soft-delete {visible(escaped)}?" in text and f"{visible(escaped)}  (FINISHED)" in text
        await pilot.press("y")
        await settle(pilot)
        await pilot.pause(0.2)
        assert f"Deleted {visible(escaped)}" in assert_safe_screen(app)
        await pilot.press("full_stop")
        await settle(pilot)
        await app.screen.select_run(hostile.runs[escaped])
        await settle(pilot)
        await pilot.press("X")
        await settle(pilot)
        text = assert_safe_screen(app)
        assert f"Purge {visible(escaped)} for good?" in text
        await pilot.press("escape")
        await settle(pilot)


async def test_clicking_the_payload_runs_nothing(hostile):
    app = make_app(hostile)
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await open_on(pilot, hostile, hostile.click)
        lines = screen_text(app).splitlines()
        spots = [(line.index("@click=app"), y) for y, line in enumerate(lines) if "@click=app" in line]
        assert len(spots) >= 4  # tree, table, detail title and name
        for x, y in spots:
            await pilot.click(offset=(x + 2, y))
            await settle(pilot)
        await pilot.pause(0.3)
        assert_safe_screen(app)
    # (the fixture checks that the canary folder is still empty)


async def test_textuals_own_notifications_keep_their_markup(hostile):
    app = make_app(hostile)
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await open_on(pilot, hostile, "[/]")
        await pilot.press("ctrl+c")  # Textual's hint: "Press [b]q[/b] to quit the app"
        await settle(pilot)
        await pilot.pause(0.2)
        (hint,) = [n for n in app._notifications if "to quit the app" in n.message]
        assert hint.markup and "[b]" in hint.message  # Textual's own markup, left to Textual
        text = assert_safe_screen(app)
        assert "to quit the app" in text and "[b]q[/b]" not in text and "[b]ctrl+q[/b]" not in text


# -- the CLI ----------------------------------------------------------------------------------------


def run_cli(capsys, *argv) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def assert_no_escapes(*outputs: str) -> None:
    for output in outputs:
        for char in UNSAFE:
            assert char not in output, f"{char!r} reached the terminal"


def test_cli_human_outputs_show_escapes_visibly(hostile, capsys):
    root = str(hostile.root)
    for fmt in ("table", "md", "csv"):
        code, out, err = run_cli(capsys, "ls", root, "--all", "--format", fmt)
        assert code == 0
        assert_no_escapes(out, err)
        assert visible("exp\x1b]0;pwned\x07\u202eevil") in out
        for name in hostile.names:  # CSV quotes a cell's own line breaks
            assert visible(name, newlines=fmt == "csv")[:16] in out, (fmt, name)
    escaped = "clip\x1b]52;c;cHduZWQ=\x07"
    code, out, err = run_cli(capsys, "show", root, hostile.runs[escaped])
    assert code == 0
    assert_no_escapes(out, err)
    assert f"Name       {visible(escaped)}" in out
    assert "  second line \\x1b[2J end" in out  # the note keeps its lines
    for value in hostile.params.values():
        assert visible(value) in out
    code, out, err = run_cli(capsys, "prune", root, "--status", "FAILED", "--dry-run")
    assert code == 0
    assert_no_escapes(out, err)
    assert visible("clear\x1b[2J\x1b[H") in out and visible("exp\x1b]0;pwned\x07\u202eevil") in out
    code, out, err = run_cli(capsys, "delete", root, hostile.runs[escaped], hostile.runs["csi\x9b2J"], "--yes")
    assert code == 0
    assert_no_escapes(out, err)
    assert visible(escaped) in err
    code, out, err = run_cli(capsys, "gc", root)  # not a terminal: lists, then refuses to ask
    assert_no_escapes(out, err)
    assert visible(escaped) in err and visible("csi\x9b2J") in err


def test_cli_messages_quoting_store_text_show_escapes_visibly(hostile, capsys):
    code, out, err = run_cli(capsys, "delete", str(hostile.root), "--experiment", hostile.escape_experiment_id)
    assert code == 1  # not a terminal: it says what it would do, and does not ask
    assert_no_escapes(out, err)
    name = visible("exp\x1b]0;pwned\x07\u202eevil")
    assert f"Delete experiment {name} (" in err


def test_cli_json_stays_exact(hostile, capsys):
    code, out, _ = run_cli(capsys, "ls", str(hostile.root), "--json")
    assert code == 0
    assert_no_escapes(out)  # the C1 and bidi characters too: as JSON escapes
    runs = {r["run_id"]: r for r in json.loads(out)}
    for name, run_id in hostile.runs.items():
        assert runs[run_id]["run_name"] == name
        assert runs[run_id]["params"].items() >= hostile.params.items()
    escaped = "bidi\u202eevil\u202c"
    code, out, _ = run_cli(capsys, "show", str(hostile.root), hostile.runs[escaped], "--json")
    assert json.loads(out)["tags"]["mlflow.note.content"] == hostile.note
    assert json.loads(out)["run_name"] == escaped


def test_cli_csv_neutralises_formulas_not_numbers(hostile, capsys):
    code, out, _ = run_cli(capsys, "ls", str(hostile.root), "--format", "csv")
    assert code == 0
    rows = list(csv.DictReader(io.StringIO(out)))
    assert len(rows) == len(hostile.runs)
    for row in rows:
        assert row["params.formula"] == "'=HYPERLINK(\"http://x\")"
        assert row["params.at"] == "'@SUM(A1)"
        assert row["params.plus"] == "'+1+1"
        assert row["params.negative"] == "-0.5"
        assert float(row["metrics.loss"]) == pytest.approx(float(row["metrics.loss"]))
    assert any(row["metrics.loss"].startswith("-") for row in rows)  # negative numbers, untouched
    assert {row["params.p13"] for row in rows} == {"two\nlines"}  # a cell's line break, quoted


async def test_app_export_is_the_same_csv(hostile, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    app = make_app(hostile)
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await open_on(pilot, hostile, "[/]")
        await pilot.press("E")
        await settle(pilot)
    (written,) = tmp_path.glob("tuitrack-*.csv")
    assert_no_escapes(written.read_text())
    rows = list(csv.DictReader(io.StringIO(written.read_text())))
    assert {r["params.formula"] for r in rows} == {"'=HYPERLINK(\"http://x\")"}
    assert {r["run_name"] for r in rows} == {visible(n, newlines=True) for n in hostile.names}
    assert MARKUP[0] in {r["run_name"] for r in rows}


# -- an unexpected crash --------------------------------------------------------------------------


def test_a_crash_in_the_app_exits_non_zero(hostile, monkeypatch, capsys):
    from tuitrack.app.screens.main import MainScreen

    def boom(self):
        raise RuntimeError("unexpected")

    original_run = TuitrackApp.run
    monkeypatch.setattr(MainScreen, "on_mount", boom)
    monkeypatch.setattr(TuitrackApp, "run", lambda self, **kw: original_run(self, headless=True, **kw))
    code = main([str(hostile.root), "--no-watch"])
    assert code == 1
    assert "tuitrack: the app stopped after an unexpected error" in capsys.readouterr().err


def test_the_hostile_store_opens_and_quits_with_zero(hostile, monkeypatch):
    apps = []

    def mount_then_quit(self):
        apps.append(self)
        original_mount(self)
        self.set_timer(1.5, self.exit)

    original_run, original_mount = TuitrackApp.run, TuitrackApp.on_mount
    monkeypatch.setattr(TuitrackApp, "on_mount", mount_then_quit)
    monkeypatch.setattr(TuitrackApp, "run", lambda self, **kw: original_run(self, headless=True, **kw))
    assert main([str(hostile.root), "--no-watch"]) == 0
    assert apps[0].return_code == 0  # it quit; no crash it caught
