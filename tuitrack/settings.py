"""Remembered settings: `$XDG_CONFIG_HOME/tuitrack/config.toml` (default ~/.config/tuitrack/).

What the user chose in the app (theme, hidden columns, plotted metrics, plot options) is written
back here, so that the next launch looks the same; `stale_after`, `poll` and key remaps are read
only. The file is the user's: a write changes only the keys the app changed, through tomlkit,
which keeps every other key, comment and blank line as written. A file that cannot be read, does
not parse or holds a value of the wrong kind is one warning, and the app then never writes it
(it stays as the user wrote it). No Textual here: the app checks theme names and binding ids.
"""

from __future__ import annotations

import math
import os
import stat
import threading
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit, urlunsplit

from tuitrack.safe_text import visible
from tuitrack.plot_view import Y_SCALES
from tuitrack.series import SMOOTHING, SPREADS, X_AXES
from tuitrack.store.base import StoreError
from tuitrack.store.locate import sqlite_path
from tuitrack.store.mlflow_file.writer import write_atomic

FILE_NAME = "config.toml"
MAX_BYTES = 1024 * 1024  # a hand-written file is a few KiB; one of a thousand experiments, some 100 KiB
MAX_LIST = 500  # keys in one remembered list (tomlkit takes 0.3 s to write 1,000)
MAX_PROBLEMS_TOLD = 3  # a warning is one line: the first few problems, then how many more


class SettingsError(Exception):
    """The file could not be written (disk full, read-only folder, changed meanwhile)."""


@dataclass(frozen=True)
class PlotOption:
    """One remembered plot option: the plot widget's attribute that holds it, and the values it
    may take, as written in the file. `by_index`: the widget holds the value's index in
    `choices` (smoothing 0.9 is the widget's level 3). To remember another option of the plot,
    add it to PLOT_OPTIONS; the app saves and restores every option listed there."""

    attribute: str
    choices: tuple
    by_index: bool = False

    def accepts(self, value: Any) -> bool:
        return any(_same_kind(value, choice) and value == choice for choice in self.choices)

    def to_widget(self, value: Any) -> Any:
        if not self.by_index:
            return value
        return next(i for i, choice in enumerate(self.choices) if _same_kind(value, choice) and value == choice)

    def from_widget(self, value: Any) -> Any:
        return self.choices[value] if self.by_index else value

    def described(self) -> str:
        return "one of " + ", ".join(_toml_literal(c) for c in self.choices)


PLOT_OPTIONS: dict[str, PlotOption] = {
    "smoothing": PlotOption("smoothing", SMOOTHING, by_index=True),
    "x_axis": PlotOption("axis", X_AXES),
    "y_scale": PlotOption("y_scale", Y_SCALES),
    "log_x": PlotOption("log_x", (False, True)),
    "clip": PlotOption("clip", (False, True)),
    "band": PlotOption("band", SPREADS),
}


@dataclass
class ExperimentView:
    """What the user chose for one experiment of one store (None: never chosen)."""

    hidden_columns: list[str] | None = None
    metrics: list[str] | None = None


@dataclass
class Settings:
    theme: str | None = None
    stale_after: float | None = None  # minutes (the app's --stale-after)
    poll: float | None = None  # seconds (the app's --poll)
    plot: dict[str, Any] = field(default_factory=dict)  # PLOT_OPTIONS name -> value as in the file
    keys: dict[str, str] = field(default_factory=dict)  # binding id -> keys ("ctrl+t,T")
    stores: dict[str, dict[str, ExperimentView]] = field(default_factory=dict)  # store -> experiment id -> view


def config_path(environ: Mapping[str, str] | None = None) -> Path:
    """Where the settings live: $XDG_CONFIG_HOME/tuitrack/config.toml, else ~/.config/...
    (a relative XDG_CONFIG_HOME is ignored, as the XDG spec says)."""
    environ = os.environ if environ is None else environ
    base = environ.get("XDG_CONFIG_HOME", "")
    if not os.path.isabs(base):
        base = os.path.join(os.path.expanduser("~"), ".config")
    return Path(base) / "tuitrack" / FILE_NAME


def store_identity(location: str) -> str:
    """The store as the settings file names it: a local store by its resolved path (however it
    was typed: ./mlruns, file://, sqlite:///), a server by its URL without credentials."""
    if location.startswith("sqlite:"):
        try:
            return os.path.realpath(sqlite_path(location))
        except StoreError:  # not a valid sqlite URI: the store did not open anyway
            return location
    parts = urlsplit(location)
    if parts.scheme == "file":
        return os.path.realpath(unquote(parts.path))
    if parts.scheme and parts.netloc:  # http(s)://, redis://: never a password into the file
        host = parts.hostname or ""
        netloc = f"[{host}]" if ":" in host else host
        if parts.port is not None:
            netloc += f":{parts.port}"
        return urlunsplit((parts.scheme.lower(), netloc, parts.path.rstrip("/"), "", ""))
    return os.path.realpath(os.path.expanduser(location))


# -- reading ----------------------------------------------------------------------------------


def _read_text(path: Path) -> str | None:
    """The file's text, None when there is none; OSError/ValueError say why it cannot be read.
    Follows a symlink (dotfile managers link config files), reads only a regular file (a FIFO
    would never end), and at most MAX_BYTES."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except FileNotFoundError:
        return None
    except IsADirectoryError:
        raise ValueError("is a folder, not a file") from None
    try:
        info = os.fstat(fd)
        if stat.S_ISDIR(info.st_mode):
            raise ValueError("is a folder, not a file")
        if not stat.S_ISREG(info.st_mode):
            raise ValueError("is not a regular file")
    except BaseException:
        os.close(fd)
        raise
    with os.fdopen(fd, "rb") as f:
        data = f.read(MAX_BYTES + 1)
    if len(data) > MAX_BYTES:
        raise ValueError(f"is larger than {MAX_BYTES // 1024} KiB; not read")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ValueError(f"is not UTF-8 text (byte {exc.start})") from None


def _same_kind(value: Any, example: Any) -> bool:
    """TOML's kinds: a bool is no number, an int is a float's kind."""
    if isinstance(example, bool) or isinstance(value, bool):
        return isinstance(value, bool) and isinstance(example, bool)
    if isinstance(example, (int, float)):
        return isinstance(value, (int, float))
    return isinstance(value, type(example))


def _toml_literal(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return '"' + visible(value) + '"'
    return repr(value)


def _shown(value: Any) -> str:
    """A value the file holds, in a warning: short, escapes visible."""
    text = _toml_literal(value) if isinstance(value, (bool, str, int, float)) else type(value).__name__
    return visible(text if len(text) <= 40 else text[:37] + "…")


class _Checker:
    """Turns the parsed file into Settings, collecting what is wrong instead of stopping at it."""

    def __init__(self) -> None:
        self.problems: list[str] = []

    def wrong(self, where: str, expected: str, value: Any) -> None:
        self.problems.append(f"{visible(where)}: expected {expected}, not {_shown(value)}")

    def table(self, where: str, value: Any) -> dict | None:
        if isinstance(value, dict):
            return value
        self.wrong(where, "a table", value)
        return None

    def strings(self, where: str, value: Any) -> list[str] | None:
        if isinstance(value, list) and all(isinstance(v, str) for v in value):
            return list(value)
        self.wrong(where, "a list of strings", value)
        return None

    def positive(self, where: str, value: Any) -> float | None:
        if isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value) and value > 0:
            return float(value)
        self.wrong(where, "a number above 0", value)
        return None

    def settings(self, data: dict) -> Settings:
        found = Settings()
        if "theme" in data:
            theme = data["theme"]
            if isinstance(theme, str):
                found.theme = theme
            else:
                self.wrong("theme", "a theme's name", theme)
        if "stale_after" in data:
            found.stale_after = self.positive("stale_after", data["stale_after"])
        if "poll" in data:
            found.poll = self.positive("poll", data["poll"])
        plot = self.table("plot", data["plot"]) if "plot" in data else None
        for name, value in (plot or {}).items():
            option = PLOT_OPTIONS.get(name)
            if option is None:
                continue  # an option of a newer tuitrack, or a typo: kept in the file, not used
            if option.accepts(value):
                found.plot[name] = value
            else:
                self.wrong(f"plot.{name}", option.described(), value)
        keys = self.table("keys", data["keys"]) if "keys" in data else None
        for binding_id, value in (keys or {}).items():
            if isinstance(value, str) and value.strip():
                found.keys[binding_id] = value
            else:
                self.wrong(f"keys.{binding_id}", 'keys such as "ctrl+t" or "T,ctrl+t"', value)
        stores = self.table("stores", data["stores"]) if "stores" in data else None
        for store, store_table in (stores or {}).items():
            where = f"stores.{_toml_literal(store)}"
            experiments = (self.table(where, store_table) or {}).get("experiments", {})
            experiments = self.table(f"{where}.experiments", experiments) or {}
            for experiment_id, view_table in experiments.items():
                where = f"stores.{_toml_literal(store)}.experiments.{_toml_literal(experiment_id)}"
                view_table = self.table(where, view_table)
                if view_table is None:
                    continue
                view = ExperimentView()
                if "hidden_columns" in view_table:
                    view.hidden_columns = self.strings(f"{where}.hidden_columns", view_table["hidden_columns"])
                if "metrics" in view_table:
                    view.metrics = self.strings(f"{where}.metrics", view_table["metrics"])
                found.stores.setdefault(store, {})[experiment_id] = view
        return found


# -- the file ---------------------------------------------------------------------------------


class SettingsFile:
    """The settings read from `path`, and the writes back to it. A file with problems is never
    written: `saving` is False from the first problem on."""

    def __init__(self, path: Path | None, settings: Settings | None = None, problems: list[str] | None = None) -> None:
        self.path = path  # None: settings kept for this session only, never written
        self.settings = settings if settings is not None else Settings()
        self.problems = problems or []
        self._pending: dict[tuple[str, ...], None] = {}  # keys changed since the last save, in order
        self._pending_lock = threading.Lock()  # taken briefly by the UI thread too
        self._save_lock = threading.Lock()  # one write at a time

    @classmethod
    def load(cls, path: Path | None = None) -> SettingsFile:
        path = config_path() if path is None else path
        data, problems = _parse(path)
        if data is None:
            return cls(path, Settings(), problems)
        checker = _Checker()
        settings = checker.settings(data)
        return cls(path, settings, problems + checker.problems)

    @property
    def saving(self) -> bool:
        return self.path is not None and not self.problems

    def warning(self) -> str | None:
        """The problems in one line, or None when there are none."""
        if not self.problems:
            return None
        told = "; ".join(self.problems[:MAX_PROBLEMS_TOLD])
        more = len(self.problems) - MAX_PROBLEMS_TOLD
        if more > 0:
            told += f" (and {more} more)"
        return f"{visible(str(self.path))}: {told}; the app saves no settings until it is fixed"

    def check_names(self, themes: set[str], binding_ids: set[str]) -> None:
        """What only the app knows: the theme must be one of its themes, each remap name one of
        its bindings. A wrong one is a problem (and is not used)."""
        theme = self.settings.theme
        if theme is not None and theme not in themes:
            self.problems.append(f'theme: no theme is called "{visible(theme)}" (ctrl+p, "Change theme" lists them)')
            self.settings.theme = None
        for binding_id in list(self.settings.keys):
            if binding_id not in binding_ids:
                self.problems.append(f'keys: no key binding has the id "{visible(binding_id)}" (README: Settings)')
                del self.settings.keys[binding_id]

    # -- what the app changes: in memory at once, in the file at the next save() --

    def view(self, store: str, experiment_id: str) -> ExperimentView:
        return self.settings.stores.get(store, {}).get(experiment_id, ExperimentView())

    def remember_theme(self, theme: str) -> None:
        if theme != self.settings.theme:
            self.settings.theme = theme
            self._changed(("theme",))

    def remember_plot(self, options: dict[str, Any]) -> None:
        for name, value in options.items():
            if name in PLOT_OPTIONS and self.settings.plot.get(name, _UNSET) != value:
                self.settings.plot[name] = value
                self._changed(("plot", name))

    def remember_view(self, store: str, experiment_id: str, *, hidden_columns: list[str] | None = None,
                      metrics: list[str] | None = None) -> bool:
        """Remember an experiment's choices; False when a list is longer than MAX_LIST (it is
        not remembered: the file stays small and quick to rewrite)."""
        view = self.settings.stores.setdefault(store, {}).setdefault(experiment_id, ExperimentView())
        fits = True
        for name, value in (("hidden_columns", hidden_columns), ("metrics", metrics)):
            if value is not None and len(value) > MAX_LIST:
                fits = False
            elif value is not None and getattr(view, name) != value:
                setattr(view, name, list(value))  # replaced, never changed in place: save() reads it
                self._changed(("stores", store, "experiments", experiment_id, name))
        return fits

    def _changed(self, key: tuple[str, ...]) -> None:
        with self._pending_lock:
            self._pending[key] = None

    @property
    def unsaved(self) -> bool:
        """Changes are waiting for save() (never, for a file with problems)."""
        return self.saving and bool(self._pending)

    def save(self) -> None:
        """Write the changes remembered since the last save. A write costs milliseconds to a
        second (tomlkit is slow on a big file, fsync on a busy disk), so the app calls this on a
        worker thread: one save at a time, each writing the latest values, so the order in which
        threads get here does not matter. Raises SettingsError when the write fails."""
        with self._save_lock:
            with self._pending_lock:
                keys, self._pending = list(self._pending), {}
            if not keys or not self.saving:
                return
            try:
                self._write(keys, [self._value(key) for key in keys])
            except SettingsError:
                if self.saving:  # a full disk, say: try these again with the next change
                    with self._pending_lock:
                        self._pending = {**dict.fromkeys(keys), **self._pending}
                raise

    def _value(self, key: tuple[str, ...]) -> Any:
        if key[0] == "theme":
            return self.settings.theme
        if key[0] == "plot":
            return self.settings.plot[key[1]]
        _, store, _, experiment_id, name = key
        return list(getattr(self.settings.stores[store][experiment_id], name))

    def _write(self, keys: Sequence[tuple[str, ...]], values: Sequence[Any]) -> None:
        """Set `keys` to `values` in the file as it is now (another tuitrack, or the user, may
        have changed it since it was read) and replace it atomically."""
        assert self.path is not None
        import tomlkit  # only when writing: reading is tomllib's

        try:
            text = _read_text(self.path) or ""
            tomllib.loads(text)
            document = tomlkit.parse(text)
        except OSError as exc:  # cannot look now: not written, tried again with the next change
            raise SettingsError(f"{visible(str(self.path))}: not saved: {visible(str(exc))}") from None
        except ValueError as exc:  # the user broke it since: from now on it is theirs alone
            self.problems.append(f"changed since it was read and no longer reads: {visible(str(exc))}")
            raise SettingsError(self.warning()) from None
        try:
            for key, value in zip(keys, values):
                _set(document, key, value)
            text = document.as_string()
            if len(text.encode("utf-8")) > MAX_BYTES:  # never write what the next launch would not read
                raise ValueError(f"it would grow past {MAX_BYTES // 1024} KiB; remove stores you no longer use from it")
            target = os.path.realpath(self.path)  # a symlinked file stays a symlink: its target changes
            folder = os.path.dirname(target)
            if not os.path.isdir(folder):
                os.makedirs(os.path.dirname(folder), exist_ok=True)
                os.mkdir(folder, 0o700)
            write_atomic(target, text.encode("utf-8"))
        except (OSError, ValueError, TypeError) as exc:
            raise SettingsError(f"{visible(str(self.path))}: not saved: {visible(str(exc))}") from None


_UNSET = object()


def _parse(path: Path) -> tuple[dict | None, list[str]]:
    try:
        text = _read_text(path)
    except ValueError as exc:
        return None, [str(exc)]
    except OSError as exc:
        return None, [f"cannot be read: {visible(exc.strerror or str(exc))}"]
    if text is None:
        return {}, []
    try:
        return tomllib.loads(text), []
    except tomllib.TOMLDecodeError as exc:
        return None, [f"is not valid TOML: {visible(str(exc))}"]


def _set(document: Any, key: tuple[str, ...], value: Any) -> None:
    """document[k1][k2]...[kn] = value, making the tables on the way (dotted headers such as
    [stores."/data/mlruns".experiments."3"], without an empty [stores] table above them)."""
    import tomlkit

    container: Any = document
    for depth, part in enumerate(key[:-1]):
        if part not in container:
            last = depth == len(key) - 2
            container[part] = tomlkit.table(is_super_table=not last)
        container = container[part]
    container[key[-1]] = value
