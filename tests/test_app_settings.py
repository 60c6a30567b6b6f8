"""Remembered settings in the app: what is changed in one launch is there in the next, a broken
config.toml is a one-line warning and stays as it was, remaps work, and --stale-after and
--poll on the command line win over the file."""

from __future__ import annotations

import os
import tomllib
from pathlib import Path

import pytest

from tests.app_helpers import make_app, settle
from tests.conftest import SAMPLE
from tests.test_app_keys import goto_run
from tuitrack.app.screens.columns import ColumnChooser
from tuitrack.app.screens.dialogs import Prompt
from tuitrack.app.screens.metric_picker import MetricPicker
from tuitrack.app.widgets.metric_plot import MetricPlot
from tuitrack.app.widgets.runs_table import RunsTable
from tuitrack.cli import browse
from tuitrack.settings import config_path, store_identity


@pytest.fixture
def config() -> Path:
    path = config_path()  # in the test's own XDG_CONFIG_HOME (conftest)
    path.parent.mkdir(parents=True, exist_ok=True)
    return path


def warnings_of(app) -> list[str]:
    return [n.message for n in app._notifications if n.severity == "warning"]


async def test_changes_made_in_one_launch_are_there_in_the_next(config):
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        # The theme, from the palette's theme picker.
        await pilot.press("ctrl+p")
        await pilot.press(*"theme", "enter")
        await pilot.pause()
        await pilot.press(*"nord", "enter")
        await settle(pilot)
        assert app.theme == "nord"
        # A column of this experiment hidden with C.
        await goto_run(pilot, "lr=0.1")
        experiment = app.screen.current_experiment
        app.screen.query_one(RunsTable).focus()
        await pilot.press("C")
        assert isinstance(app.screen, ColumnChooser)
        await pilot.press("down", "space", "enter")  # the second column, Status, off
        await settle(pilot)
        assert "status" not in [c.key for c in app.screen.query_one(RunsTable).columns]
        # Two metrics chosen with m, and plot options.
        await pilot.press("p", "i", "m")
        await pilot.pause()
        assert isinstance(app.screen, MetricPicker)
        await pilot.press(*"val")
        await pilot.press("down", "space", "enter")
        await settle(pilot)
        plot = app.screen.query_one(MetricPlot)
        chosen = list(plot.metrics)
        assert len(chosen) == 2
        await pilot.press("L", "plus", "plus", "x")
        await settle(pilot)
        assert (plot.log_y, plot.smoothing, plot.axis) == (True, 2, "relative")
    saved = tomllib.loads(config.read_text())
    view = saved["stores"][store_identity(str(SAMPLE))]["experiments"][experiment]
    assert view == {"hidden_columns": ["status"], "metrics": chosen}
    assert saved["theme"] == "nord" and saved["plot"] == {"y_scale": "log", "smoothing": 0.8, "x_axis": "relative"}

    app = make_app()  # the next launch
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        assert app.theme == "nord"
        await goto_run(pilot, "lr=0.1")
        columns = [c.key for c in app.screen.query_one(RunsTable).columns]
        assert "status" not in columns and "name" in columns and "start" in columns
        await pilot.press("p")
        await settle(pilot)
        plot = app.screen.query_one(MetricPlot)
        assert plot.metrics == chosen
        assert (plot.log_y, plot.smoothing, plot.axis) == (True, 2, "relative")
        # Another experiment has its own columns: everything shows there.
        other = next(e for e in app.screen.index.sorted_experiments()
                     if e.experiment_id != experiment and app.screen.index.runs_of(e.experiment_id))
        await app.screen.select_run(app.screen.index.runs_of(other.experiment_id)[0].run_id)
        await settle(pilot)
        assert "status" in [c.key for c in app.screen.query_one(RunsTable).columns]
        assert not warnings_of(app)


async def test_a_launch_that_changes_nothing_writes_nothing(config):
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await goto_run(pilot, "lr=0.1")
        await pilot.press("p", "i", "j", "k", "p")
        await settle(pilot)
    assert not config.exists()


BROKEN = {
    "bad TOML": ('theme = "nord"\n[plot\n', "is not valid TOML"),
    "wrong type": ('theme = "nord"\nstale_after = "ten"\n', "stale_after: expected a number above 0"),
    "unknown theme": ('theme = "neon-pink"\n', 'no theme is called "neon-pink"'),
    "unknown binding id": ('[keys]\nlaunch = "ctrl+l"\n', 'no key binding has the id "launch"'),
    "markup in it": ('theme = "[bold]x[/]"\n', 'no theme is called "[bold]x[/]"'),
}


@pytest.mark.parametrize("case", BROKEN)
async def test_a_broken_config_is_a_one_line_warning_and_is_never_overwritten(config, case):
    text, said = BROKEN[case]
    config.write_text(text)
    before = config.stat().st_mtime_ns
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        [warning] = warnings_of(app)
        assert said in warning and "\n" not in warning and "the app saves no settings until it is fixed" in warning
        # Changes in the app work for this session, and the file stays as the user wrote it.
        app.theme = "dracula"
        await goto_run(pilot, "lr=0.1")
        await pilot.press("p", "i", "L")
        await settle(pilot)
        assert app.theme == "dracula" and app.screen.query_one(MetricPlot).log_y
    assert config.read_text() == text and config.stat().st_mtime_ns == before


def make_folder(config: Path) -> None:
    config.mkdir()


def make_loop(config: Path) -> None:
    config.symlink_to(config)  # unreadable by anyone, root included


def make_huge(config: Path) -> None:
    with open(config, "wb") as f:
        f.write(b'theme = "nord"\n#')
        f.truncate(1 << 30)  # sparse: a gigabyte that costs no disk


@pytest.mark.parametrize("make, said", [(make_folder, "is a folder, not a file"),
                                        (make_loop, "cannot be read: Too many levels of symbolic links"),
                                        (make_huge, "is larger than 1024 KiB")])
async def test_a_config_that_cannot_be_read(config, make, said):
    make(config)
    before = os.lstat(config)
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        app.theme = "dracula"
        await settle(pilot)
        [warning] = warnings_of(app)
        assert said in warning and "\n" not in warning
    after = os.lstat(config)
    assert (after.st_ino, after.st_size, after.st_mtime_ns) == (before.st_ino, before.st_size, before.st_mtime_ns)
    assert sorted(p.name for p in config.parent.iterdir()) == ["config.toml"]


async def test_a_remapped_key_works_and_the_old_one_no_longer_does(config):
    config.write_text('[keys]\ntag = "T"\ntoggle-plot = "ctrl+g"  # p is for something else\n')
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        assert not warnings_of(app)
        await goto_run(pilot, "lr=0.1")
        await pilot.press("t")
        await pilot.pause()
        assert not isinstance(app.screen, Prompt)
        await pilot.press("T")
        await pilot.pause()
        assert isinstance(app.screen, Prompt)
        await pilot.press("escape")
        await pilot.pause()
        lower = app.screen.query_one("#lower")
        await pilot.press("p")
        await pilot.pause()
        assert lower.current == "detail"
        await pilot.press("ctrl+g")
        await pilot.pause()
        assert lower.current == "plot"
        footer_keys = {b.key for _, b, *_ in app.screen.active_bindings.values()}
        assert "T" in footer_keys and "ctrl+g" in footer_keys and "t" not in footer_keys


async def test_the_plot_keys_can_be_remapped_too(config):
    config.write_text('[keys]\nplot-y-scale = "Y"\nplot-zoom-in = "ctrl+z"\n')
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        assert not warnings_of(app)
        await goto_run(pilot, "lr=0.1")
        await pilot.press("p", "i")
        await settle(pilot)
        plot = app.screen.query_one(MetricPlot)
        assert app.focused is plot
        await pilot.press("L", "z")
        await pilot.pause()
        assert plot.y_scale == "linear" and plot.window is None
        await pilot.press("Y", "ctrl+z")
        await pilot.pause()
        assert plot.y_scale == "log" and plot.window is not None


# -- the command line: flags win over the file --------------------------------------------------


def live_for(argv: list[str], config: Path, text: str):
    config.write_text(text)
    from tuitrack.settings import SettingsFile

    args = browse.build_parser("").parse_args([str(SAMPLE), *argv])
    return browse.live_options(args, SettingsFile.load().settings)


def test_stale_after_and_poll_come_from_the_file_unless_given_on_the_command_line(config):
    live = live_for([], config, "stale_after = 30\npoll = 5\n")
    assert live.stale_after == 30 * 60 and live.poll == 5
    live = live_for(["--stale-after", "2", "--poll", "0.5"], config, "stale_after = 30\npoll = 5\n")
    assert live.stale_after == 2 * 60 and live.poll == 0.5
    live = live_for([], config, "")
    assert live.stale_after == 10 * 60 and live.poll is None


def test_the_cli_says_what_is_wrong_on_stderr_and_opens_the_app_anyway(config, monkeypatch, capsys):
    from tuitrack.app.app import TuitrackApp

    config.write_text('theme = "neon-pink"\nstale_after = 30\npoll = "often"\n')
    opened = []
    monkeypatch.setattr(TuitrackApp, "run", lambda app, **_: opened.append(app))  # no terminal here
    assert browse.run(browse.build_parser("").parse_args([str(SAMPLE), "--poll", "3"])) == 0
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith(f"tuitrack: {config}: ")
    assert 'poll: expected a number above 0, not "often"' in err and 'no theme is called "neon-pink"' in err
    [app] = opened
    assert app.live.stale_after == 30 * 60 and app.live.poll == 3  # what was right still applies
    assert config.read_text() == 'theme = "neon-pink"\nstale_after = 30\npoll = "often"\n'


async def test_help_shows_the_remapped_keys(config):
    from tuitrack.app.screens.help import HelpScreen

    config.write_text('[keys]\ntag = "T"\n')
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await pilot.press("f1")
        assert isinstance(app.screen, HelpScreen)
        keys = {b.action: b.key for _, bindings in app.screen.sections for b in bindings}
        assert keys["tag"] == "T" and keys["undo"] == "u"


async def test_a_save_that_fails_is_said_once_and_the_app_goes_on(config):
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        config.parent.rmdir()
        config.parent.write_text("in the way")  # root ignores permission bits: a file where the folder is
        app.theme = "nord"
        await settle(pilot)
        app.theme = "dracula"
        await settle(pilot)
        [warning] = warnings_of(app)
        assert "not saved" in warning and "\n" not in warning
        assert app.theme == "dracula"
    assert config.parent.read_text() == "in the way"


async def test_a_file_the_user_breaks_while_the_app_runs_is_left_alone(config):
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        app.theme = "nord"
        await settle(pilot)
        assert tomllib.loads(config.read_text()) == {"theme": "nord"}
        config.write_text('theme = "nord"\n[keys  # being edited\n')
        app.theme = "dracula"
        await settle(pilot)
        [warning] = warnings_of(app)
        assert "no longer reads" in warning
    assert config.read_text() == 'theme = "nord"\n[keys  # being edited\n'
