"""config.toml: where it is, what it holds, writes that keep the user's file, and every way a
file can be broken (a one-line warning, and the file is never written then)."""

from __future__ import annotations

import os
import tomllib
from pathlib import Path

import pytest

from tuitrack.app.columns import Column, hidden_to_remember
from tuitrack.settings import MAX_BYTES, PLOT_OPTIONS, SettingsError, SettingsFile, config_path, store_identity


@pytest.fixture
def config() -> Path:
    """The suite's config file (conftest gives each test its own XDG_CONFIG_HOME)."""
    path = config_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    return path


def test_the_suite_never_touches_the_real_config_folder():
    real = Path(os.path.expanduser("~")) / ".config"
    assert os.environ["XDG_CONFIG_HOME"] and not config_path().is_relative_to(real)
    assert config_path() == Path(os.environ["XDG_CONFIG_HOME"]) / "tuitrack" / "config.toml"


def test_config_path_follows_xdg_and_ignores_a_relative_one():
    assert config_path({"XDG_CONFIG_HOME": "/etc/xdg-home"}) == Path("/etc/xdg-home/tuitrack/config.toml")
    home = Path(os.path.expanduser("~"))
    assert config_path({"XDG_CONFIG_HOME": "relative/dir"}) == home / ".config" / "tuitrack" / "config.toml"
    assert config_path({}) == home / ".config" / "tuitrack" / "config.toml"


def test_a_store_is_named_by_its_resolved_path_or_its_url_without_credentials(tmp_path, monkeypatch):
    (tmp_path / "mlruns").mkdir()
    (tmp_path / "link").symlink_to(tmp_path / "mlruns")
    monkeypatch.chdir(tmp_path)
    real = os.path.realpath(tmp_path / "mlruns")
    for typed in ("./mlruns", "mlruns/", str(tmp_path / "link"), (tmp_path / "mlruns").as_uri()):
        assert store_identity(typed) == real
    assert store_identity("sqlite:///mlflow.db") == os.path.realpath(tmp_path / "mlflow.db")
    assert store_identity("http://alice:s3cret@Host:5000/") == "http://host:5000"
    assert store_identity("rediss://:pw@redis.example:6380/0") == "rediss://redis.example:6380/0"


def test_a_missing_file_is_no_problem_and_the_first_write_makes_the_folder_private(config):
    config.parent.rmdir()
    settings = SettingsFile.load()
    assert settings.saving and settings.warning() is None and settings.settings.theme is None
    settings.remember_theme("nord")
    assert not config.exists()  # in memory until saved
    settings.save()
    assert tomllib.loads(config.read_text()) == {"theme": "nord"}
    assert config.parent.stat().st_mode & 0o777 == 0o700
    assert [p.name for p in config.parent.iterdir()] == ["config.toml"]  # no temporary file left


HAND_WRITTEN = """\
# my tuitrack settings
theme = "gruvbox"   # dark, for the night
stale_after = 30    # my runs log every 20 minutes
future_option = "a newer tuitrack's key"

[plot]
smoothing = 0.6  # a little
zoom_style = "a plot option this tuitrack does not know"

[keys]
tag = "T"

# the store at work
[stores."/data/mlruns".experiments."7"]
metrics = ["val/loss"]  # the one that matters
"""


def test_a_write_keeps_every_comment_and_key_it_did_not_change(config):
    config.write_text(HAND_WRITTEN)
    settings = SettingsFile.load()
    assert settings.saving, settings.problems
    assert settings.settings.theme == "gruvbox" and settings.settings.stale_after == 30
    assert settings.settings.plot == {"smoothing": 0.6} and settings.settings.keys == {"tag": "T"}
    assert settings.view("/data/mlruns", "7").metrics == ["val/loss"]
    settings.remember_theme("nord")
    settings.remember_plot({"log_x": True, "smoothing": 0.6})  # smoothing unchanged: not rewritten
    settings.remember_view("/data/mlruns", "7", hidden_columns=["user"])
    settings.remember_view("/other", "0", metrics=["acc"])
    settings.save()
    text = config.read_text()
    expected = HAND_WRITTEN.replace('theme = "gruvbox"', 'theme = "nord"')
    for line in expected.splitlines():  # every line the user wrote is there, as written
        assert line in text.splitlines(), line
    data = tomllib.loads(text)
    assert data["theme"] == "nord" and data["future_option"] == "a newer tuitrack's key"
    assert data["plot"] == {"smoothing": 0.6, "zoom_style": "a plot option this tuitrack does not know",
                            "log_x": True}
    assert data["stores"]["/data/mlruns"]["experiments"]["7"] == {"metrics": ["val/loss"], "hidden_columns": ["user"]}
    assert data["stores"]["/other"]["experiments"]["0"] == {"metrics": ["acc"]}
    assert SettingsFile.load().settings == settings.settings  # what the next launch reads


def test_a_write_keeps_what_another_tuitrack_wrote_meanwhile(config):
    first, second = SettingsFile.load(), SettingsFile.load()
    first.remember_theme("nord")
    first.save()
    second.remember_plot({"log_x": True})
    second.save()
    assert tomllib.loads(config.read_text()) == {"theme": "nord", "plot": {"log_x": True}}


def test_a_symlinked_config_stays_a_symlink(config, tmp_path):
    dotfiles = tmp_path / "dotfiles"
    dotfiles.mkdir()
    (dotfiles / "tuitrack.toml").write_text('theme = "nord"  # from my dotfiles\n')
    config.symlink_to(dotfiles / "tuitrack.toml")
    settings = SettingsFile.load()
    assert settings.settings.theme == "nord"
    settings.remember_theme("dracula")
    settings.save()
    assert config.is_symlink()
    assert (dotfiles / "tuitrack.toml").read_text() == 'theme = "dracula"  # from my dotfiles\n'


HOSTILE_PATHS = [
    '/data/"quoted"/mlruns',
    "C:\\runs\\mlruns",
    "/tmp/new\nline]\n[keys]\nquit = \"x\"",
    "/tmp/esc\x1b[31mred\x00nul\x7f",
    "/tmp/\u202ereversed\u2028sep",
    "/tmp/trailing ' single quote",
    "",
]


def test_store_paths_are_keys_written_so_that_they_read_back_exactly(config):
    settings = SettingsFile.load()
    for index, path in enumerate(HOSTILE_PATHS):
        settings.remember_view(path, f"id {index}.\"x\"", hidden_columns=[f"param:{path}"], metrics=[path])
    settings.save()
    data = tomllib.loads(config.read_text())
    assert set(data) == {"stores"}  # nothing escaped into a table or key of its own
    assert set(data["stores"]) == set(HOSTILE_PATHS)
    again = SettingsFile.load()
    assert again.saving, again.problems
    for index, path in enumerate(HOSTILE_PATHS):
        view = again.view(path, f"id {index}.\"x\"")
        assert view.hidden_columns == [f"param:{path}"] and view.metrics == [path]


def test_hidden_columns_past_the_tables_limit_are_not_written():
    columns = [Column(k, k) for k in ["name", "status", "user"] + [f"metric:m{i}" for i in range(10)]]
    # The table shows 4 columns at most: hiding `user` shows name, status, m0, m1; m2..m9 are off.
    hidden = {"user"} | {f"metric:m{i}" for i in range(2, 10)}
    assert hidden_to_remember(columns, hidden, limit=4) == ["user"]
    # Under the limit, every hidden column is the user's choice.
    assert hidden_to_remember(columns, {"user", "metric:m9"}, limit=100) == ["user", "metric:m9"]


def test_every_plot_option_maps_to_the_widget_and_back():
    for name, option in PLOT_OPTIONS.items():
        for value in option.choices:
            assert option.accepts(value)
            assert option.from_widget(option.to_widget(value)) == value
    smoothing = PLOT_OPTIONS["smoothing"]
    assert smoothing.to_widget(0.9) == 3 and smoothing.accepts(0) and not smoothing.accepts(0.5)
    assert not PLOT_OPTIONS["log_x"].accepts(1) and not PLOT_OPTIONS["smoothing"].accepts(True)


# -- broken files ----------------------------------------------------------------------------

WRONG_TYPES = {
    "theme = 3": "theme: expected a theme's name, not 3",
    'stale_after = "ten"': 'stale_after: expected a number above 0, not "ten"',
    "stale_after = true": "stale_after: expected a number above 0, not true",
    "poll = -1": "poll: expected a number above 0, not -1",
    "poll = nan": "poll: expected a number above 0, not nan",
    'plot = "log"': 'plot: expected a table, not "log"',
    "plot.smoothing = 0.5": "plot.smoothing: expected one of 0.0, 0.6, 0.8, 0.9, 0.95, 0.99, not 0.5",
    'plot.x_axis = "epoch"': 'plot.x_axis: expected one of "step", "relative", "wall", not "epoch"',
    'plot.log_x = "yes"': 'plot.log_x: expected one of false, true, not "yes"',
    "keys.tag = 3": "keys.tag: expected keys such as",
    'keys.tag = ""': "keys.tag: expected keys such as",
    "keys = []": "keys: expected a table, not list",
    'stores."/m".experiments."1".hidden_columns = "user"':
        'stores."/m".experiments."1".hidden_columns: expected a list of strings, not "user"',
    'stores."/m".experiments."1".metrics = [1, 2]':
        'stores."/m".experiments."1".metrics: expected a list of strings, not list',
    'stores."/m".experiments = 5': 'stores."/m".experiments: expected a table, not 5',
    'stores."/m" = "x"': 'stores."/m": expected a table, not "x"',
}


def assert_never_written(settings: SettingsFile, config: Path) -> None:
    """A broken file stays as the user wrote it, whatever the app changes."""
    before = (config.read_bytes(), config.stat().st_mtime_ns) if config.is_file() else None
    assert not settings.saving
    settings.remember_theme("nord")
    settings.remember_plot({"log_x": True})
    settings.remember_view("/m", "1", hidden_columns=["user"], metrics=["loss"])
    settings.save()
    assert not settings.unsaved
    after = (config.read_bytes(), config.stat().st_mtime_ns) if config.is_file() else None
    assert after == before
    assert settings.settings.theme == "nord"  # still kept for this session


@pytest.mark.parametrize("line", WRONG_TYPES)
def test_a_value_of_the_wrong_kind_is_a_one_line_warning_and_the_file_is_kept(config, line):
    config.write_text(f'theme = "nord"\n{line}\n' if not line.startswith("theme") else f"{line}\n")
    settings = SettingsFile.load()
    warning = settings.warning()
    assert warning is not None and "\n" not in warning and WRONG_TYPES[line] in warning, warning
    assert warning.startswith(str(config)) and warning.endswith("the app saves no settings until it is fixed")
    assert_never_written(settings, config)


def test_the_rest_of_a_file_with_a_wrong_value_still_applies(config):
    config.write_text('theme = "nord"\npoll = "often"\n[plot]\nlog_x = true\n')
    settings = SettingsFile.load()
    assert settings.settings.theme == "nord" and settings.settings.plot == {"log_x": True}
    assert settings.settings.poll is None and not settings.saving


def test_many_problems_are_still_one_line(config):
    config.write_text("theme = 1\npoll = 0\nstale_after = 0\n[plot]\nlog_x = 2\nx_axis = 3\n")
    warning = SettingsFile.load().warning()
    assert "\n" not in warning and "(and 2 more)" in warning


def test_a_file_that_is_not_toml(config):
    config.write_text('theme = "nord"\n[plot\nlog_x = true\n')
    settings = SettingsFile.load()
    assert "is not valid TOML" in settings.warning() and "line 2" in settings.warning()
    assert settings.settings.theme is None  # nothing of a file that does not parse is used
    assert_never_written(settings, config)


def test_a_file_that_is_not_utf8(config):
    config.write_bytes(b'theme = "n\xffrd"\n')
    settings = SettingsFile.load()
    assert "is not UTF-8 text" in settings.warning()
    assert_never_written(settings, config)


def test_a_folder_where_the_file_should_be(config):
    config.mkdir()
    (config / "canary").write_text("keep me")
    settings = SettingsFile.load()
    assert "is a folder, not a file" in settings.warning()
    assert_never_written(settings, config)
    assert (config / "canary").read_text() == "keep me" and [p.name for p in config.iterdir()] == ["canary"]


def test_a_file_that_cannot_be_read(config):
    # Tests run as root, whom no permission bit stops: a symlink loop cannot be read by anyone.
    config.symlink_to(config)
    settings = SettingsFile.load()
    assert "cannot be read: Too many levels of symbolic links" in settings.warning()
    assert_never_written(settings, config)
    assert config.is_symlink()


def test_a_config_folder_that_is_a_file(config):
    config.parent.rmdir()
    config.parent.write_text("not a folder")
    settings = SettingsFile.load()
    assert "cannot be read: Not a directory" in settings.warning()
    assert_never_written(settings, config)
    assert config.parent.read_text() == "not a folder"


def test_a_fifo_is_not_waited_on(config):
    os.mkfifo(config)
    settings = SettingsFile.load()  # no writer ever opens it: a blocking read would hang here
    assert "is not a regular file" in settings.warning()
    assert_never_written(settings, config)


def test_a_huge_file_is_not_read(config):
    with open(config, "wb") as f:  # a sparse gigabyte: what a read of it all would cost
        f.write(b'theme = "nord"\n#')
        f.truncate(1 << 30)
    settings = SettingsFile.load()
    assert f"is larger than {MAX_BYTES // 1024} KiB" in settings.warning()
    assert settings.settings.theme is None
    assert_never_written(settings, config)


def test_a_file_broken_after_it_was_read_is_not_overwritten(config):
    config.write_text('theme = "nord"\n')
    settings = SettingsFile.load()
    config.write_text('theme = "nord"\n[half written\n')  # the user is editing it
    settings.remember_theme("dracula")
    with pytest.raises(SettingsError, match="no longer reads"):
        settings.save()
    assert config.read_text() == 'theme = "nord"\n[half written\n'
    settings.remember_plot({"log_x": True})  # and nothing after that either
    assert not settings.unsaved
    settings.save()
    assert config.read_text() == 'theme = "nord"\n[half written\n'


def test_a_write_that_fails_says_why(config):
    settings = SettingsFile.load()
    config.parent.rmdir()
    config.parent.write_text("in the way")  # root ignores permission bits: a file where the folder goes
    settings.remember_theme("nord")
    with pytest.raises(SettingsError, match="not saved"):
        settings.save()
    assert config.parent.read_text() == "in the way"
    config.parent.unlink()  # the way is clear again: the next save writes what was not saved
    settings.remember_plot({"log_x": True})
    settings.save()
    assert tomllib.loads(config.read_text()) == {"theme": "nord", "plot": {"log_x": True}}


def test_unknown_theme_and_binding_ids_are_problems(config):
    config.write_text('theme = "no-such-theme"\n[keys]\ntag = "T"\nlaunch-rockets = "ctrl+l"\n')
    settings = SettingsFile.load()
    assert settings.saving  # the file itself reads: only the app knows its themes and bindings
    settings.check_names(themes={"nord", "textual-dark"}, binding_ids={"tag", "quit"})
    warning = settings.warning()
    assert 'no theme is called "no-such-theme"' in warning and '"launch-rockets"' in warning
    assert settings.settings.theme is None and settings.settings.keys == {"tag": "T"}
    assert_never_written(settings, config)


def test_the_app_never_grows_the_file_past_what_it_reads(config):
    settings = SettingsFile.load()
    for index in range(300):
        settings.remember_view(f"/store/{index:03}" + "x" * 4000, "1", hidden_columns=["user"])
    with pytest.raises(SettingsError, match="would grow past 1024 KiB"):
        settings.save()
    assert not config.exists()


def test_a_list_too_long_to_remember_is_not_remembered(config):
    from tuitrack.settings import MAX_LIST

    settings = SettingsFile.load()
    assert not settings.remember_view("/s", "1", hidden_columns=[f"m{i}" for i in range(MAX_LIST + 1)])
    assert not settings.unsaved and settings.view("/s", "1").hidden_columns is None
    assert settings.remember_view("/s", "1", hidden_columns=[f"m{i}" for i in range(MAX_LIST)])
