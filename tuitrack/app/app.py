"""The tuitrack application: opens a store and shows the main screen."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from importlib.resources import files
from pathlib import Path

from textual import work
from textual.app import App
from textual.binding import Binding
from textual.dom import DOMNode
from textual.theme import Theme

from tuitrack.app.commands import TuitrackCommands
from tuitrack.app.key_order import KeysFollowScreens
from tuitrack.app.screens.help import HelpScreen, HelpSections
from tuitrack.app.screens.editing import EDIT_BINDINGS
from tuitrack.app.screens.main import MainScreen
from tuitrack.app.widgets.run_detail import RunDetail
from tuitrack.app.widgets.run_tree import RunTree
from tuitrack.app.widgets.runs_table import RunsTable
from tuitrack.live.index import RunIndex
from tuitrack.live.options import LiveOptions
from tuitrack.safe_text import visible
from tuitrack.settings import SettingsError, SettingsFile
from tuitrack.store import Store

def _stylesheet() -> Path:
    """The app's .tcss: inside the installed package (tuitrack.styles), or, when tuitrack runs
    from a source checkout that shadows the installed package, in the checkout's styles/."""
    try:
        return Path(str(files("tuitrack.styles") / "app.tcss"))
    except ModuleNotFoundError:
        return Path(__file__).resolve().parents[2] / "styles" / "app.tcss"


STYLES = _stylesheet()


def binding_ids() -> set[str]:
    """The id of every key binding the app's screens and widgets (and Textual's) declare: the
    names a remap in config.toml may use."""
    ids: set[str] = set()
    classes, seen = [DOMNode], set()
    while classes:
        cls = classes.pop()
        if cls in seen:
            continue
        seen.add(cls)
        classes.extend(cls.__subclasses__())
        ids.update(b.id for b in cls.__dict__.get("BINDINGS", []) if isinstance(b, Binding) and b.id)
    return ids


class TuitrackApp(KeysFollowScreens):
    TITLE = "tuitrack"
    CSS_PATH = STYLES
    COMMANDS = App.COMMANDS | {TuitrackCommands}
    BINDINGS = [
        Binding("q", "quit", "Quit", id="quit"),
        Binding("question_mark,f1", "help", "Help", id="help"),
        # f1 also inside a text field, where ? is typed and f1 would not reach the app
        Binding("f1", "help", "Help", id="help-f1", show=False, priority=True),
    ]

    def __init__(
        self,
        store: Store,
        clock: Callable[[], float] = time.time,
        live: LiveOptions = LiveOptions(),
        settings: SettingsFile | None = None,
    ) -> None:
        super().__init__()
        self.store = store
        self.clock = clock
        self.index = RunIndex(store)
        self.live = live
        # Remembered settings (config.toml): read here unless handed in (the CLI reads them
        # first, for --stale-after and --poll); theme names and remaps checked against the app's.
        self.settings = settings if settings is not None else SettingsFile.load()
        self.settings.check_names(set(self.available_themes), binding_ids())
        self._told_unsaved = False

    def on_unmount(self) -> None:
        """Quitting: the store stops waiting (on a hung server, say), so worker threads end at once;
        a remembered setting not saved yet is saved now."""
        self.store.close()
        try:
            self.settings.save()
        except SettingsError:
            pass  # said already, if it failed before; the app is gone

    def on_mount(self) -> None:
        remembered = self.settings.settings
        if remembered.theme is not None:
            self.theme = remembered.theme
        if remembered.keys:
            self.set_keymap(remembered.keys)
        self.theme_changed_signal.subscribe(self, self._theme_changed)
        self.push_screen(MainScreen(self.index, clock=self.clock, live=self.live, settings=self.settings))
        warning = self.settings.warning()
        if warning is not None:
            self.notify(warning, severity="warning", timeout=10)

    def _theme_changed(self, theme: Theme) -> None:
        """A theme chosen in the palette ("Change theme") is the theme of the next launch too."""
        self.remember(lambda: self.settings.remember_theme(theme.name))

    def remember(self, change: Callable[[], None]) -> None:
        """Apply a change to the remembered settings, and save it on a worker thread."""
        change()
        if self.settings.unsaved:
            self._save_settings()

    @work(thread=True, group="settings", exit_on_error=False)
    def _save_settings(self) -> None:
        try:
            self.settings.save()
        except SettingsError as exc:
            self.call_from_thread(self._not_saved, str(exc))

    def _not_saved(self, why: str) -> None:
        """A write that failed is said once; the app goes on."""
        if not self._told_unsaved:
            self._told_unsaved = True
            self.notify(why, severity="warning", timeout=10)

    async def run_action(self, action, default_namespace=None, namespaces=None) -> bool:
        """Every action (a key, a palette command) may have changed a plot option: the main
        screen compares them with what it remembers, so the plot widget knows nothing of settings."""
        handled = await super().run_action(action, default_namespace, namespaces)
        main = self._main_screen()
        if main is not None and main.is_mounted:
            main.remember_plot_options()
        return handled

    def notify(self, message: str, *, title: str = "", severity="information", timeout: float | None = None,
               markup: bool = True) -> None:
        """Notifications from tuitrack's screens and widgets quote run names, tags and store
        errors: they are plain text, with escapes made visible (as markup, `[/]` would crash the
        app). Only Textual's own, sent by its App class ("Press q to quit"), keep their markup."""
        if sys._getframe(1).f_globals.get("__name__") != "textual.app":
            message, title, markup = visible(str(message)), visible(str(title)), False
        super().notify(message, title=title, severity=severity, timeout=timeout, markup=markup)

    def help_sections(self, screen=None) -> HelpSections:
        """The keys of what the user looks at first (the focused widget, its containers, the
        screen), then every other key of the app, each binding listed once."""
        from tuitrack.app.widgets.artifacts_view import ArtifactsView
        from tuitrack.app.widgets.metric_plot import MetricPlot

        screen = screen or self.screen
        here: HelpSections = []
        focused = screen.focused
        for node in (focused.ancestors_with_self if focused is not None else [screen]):
            if node is self:
                break
            bindings = [b for b in node.BINDINGS if isinstance(b, Binding)]
            title = getattr(node, "HELP_TITLE", None)
            if title and bindings:
                here.append((f"{title} (here)", bindings))
        rest: HelpSections = [
            ("Everywhere", list(self.BINDINGS) + [b for b in MainScreen.BINDINGS if b not in EDIT_BINDINGS]),
            ("Changing runs (the marked runs, or the one under the cursor)", list(EDIT_BINDINGS)),
            ("Tree (left)", list(RunTree.BINDINGS)),
            ("Runs table", list(RunsTable.BINDINGS)),
            ("Run detail", list(RunDetail.BINDINGS)),
            ("Plot (p shows it)", list(MetricPlot.BINDINGS)),
            ("Artifacts (4 shows them)", list(ArtifactsView.BINDINGS)),
        ]
        if screen is not self._main_screen():
            here.append(("Keys of the app (back on the main screen)", list(self.BINDINGS)))
        shown = {id(b) for _, bindings in here for b in bindings}
        sections = here + [(t, [b for b in bs if id(b) not in shown]) for t, bs in rest]
        return [(title, [self._remapped(b) for b in bindings]) for title, bindings in sections if bindings]

    def _remapped(self, binding: Binding) -> Binding:
        """The binding with the keys config.toml gives it (help shows the keys that work)."""
        keys = self._keymap.get(binding.id) if binding.id else None
        return binding.with_key(key=keys, key_display=None) if keys else binding

    def _main_screen(self):
        return next((s for s in self.screen_stack if isinstance(s, MainScreen)), None)

    def action_help(self) -> None:
        if isinstance(self.screen, HelpScreen):
            self.screen.dismiss()
        else:
            self.push_screen(HelpScreen(self.help_sections()))
