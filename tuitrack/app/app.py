"""The tuitrack application: opens a store and shows the main screen."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from importlib.resources import files
from pathlib import Path

from textual.app import App
from textual.binding import Binding

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
from tuitrack.store import Store

def _stylesheet() -> Path:
    """The app's .tcss: inside the installed package (tuitrack.styles), or, when tuitrack runs
    from a source checkout that shadows the installed package, in the checkout's styles/."""
    try:
        return Path(str(files("tuitrack.styles") / "app.tcss"))
    except ModuleNotFoundError:
        return Path(__file__).resolve().parents[2] / "styles" / "app.tcss"


STYLES = _stylesheet()


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
    ) -> None:
        super().__init__()
        self.store = store
        self.clock = clock
        self.index = RunIndex(store)
        self.live = live

    def on_unmount(self) -> None:
        """Quitting: the store stops waiting (on a hung server, say), so worker threads end at once."""
        self.store.close()

    def on_mount(self) -> None:
        self.push_screen(MainScreen(self.index, clock=self.clock, live=self.live))

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
        return [(title, bindings) for title, bindings in sections if bindings]

    def _main_screen(self):
        return next((s for s in self.screen_stack if isinstance(s, MainScreen)), None)

    def action_help(self) -> None:
        if isinstance(self.screen, HelpScreen):
            self.screen.dismiss()
        else:
            self.push_screen(HelpScreen(self.help_sections()))
