"""`m` on the plot: choose up to four metrics, typing to narrow a long list.

System metrics (`system/...`, MLflow's CPU, memory, GPU samples) are listed only after ctrl+t.

A run may have 100,000 metrics: the list shows the first MAX_LISTED that match what is typed
(matched by one regular expression over all the names, not a Python loop per name), and says
that there are more. A list of 100,000 options would take seconds to build.
"""

from __future__ import annotations

import re

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Label, SelectionList
from textual.widgets.selection_list import Selection

from tuitrack.app.store_text import store_text

MAX_METRICS = 4
MAX_LISTED = 200  # options in the list at once; type to narrow the rest


def fuzzy(query: str, text: str) -> bool:
    """Every character of `query`, in order, somewhere in `text` (case-insensitive)."""
    position = 0
    text = text.lower()
    for char in query.lower():
        position = text.find(char, position) + 1
        if position == 0:
            return False
    return True


class FuzzyIndex:
    """Names to narrow by `fuzzy`, fast: the names joined in one text, searched by one regex."""

    def __init__(self, names: list[str]) -> None:
        self.names = names
        self._known = set(names)
        self._text = "\n".join(names)

    def first(self, query: str, limit: int) -> tuple[list[str], bool]:
        """The first `limit` names `query` matches (in the given order), and whether there are more."""
        if not query:
            return self.names[:limit], len(self.names) > limit
        # Each character at its first place after the previous one (possessive: no backtracking).
        steps = "".join(f"[^\n{re.escape(char)}]*+{re.escape(char)}" for char in query)
        found = []
        for match in re.finditer(f"^{steps}[^\n]*", self._text, re.IGNORECASE | re.MULTILINE):
            name = match.group(0)
            if name in self._known:  # a name with a newline in it spans two lines of the text
                if len(found) == limit:
                    return found, True
                found.append(name)
        return found, False


def more_note(shown: int, more: bool) -> str:
    return f"{shown} shown, more match: type to narrow" if more else ""


def system_note(count: int, shown: bool) -> str:
    """What ctrl+t does, in the metric picker and the column chooser."""
    if not count:
        return ""
    return f"ctrl+t hides the {count} system metrics" if shown else f"ctrl+t lists the {count} system metrics too"


class MetricPicker(ModalScreen[list[str] | None]):
    HELP_TITLE = "Choosing metrics"  # its section of `?` help
    BINDINGS = [
        Binding("escape", "cancel", "Cancel"),
        Binding("enter", "apply", "Apply", priority=True),
        Binding("down", "focus_list", "List", show=False),
        Binding("ctrl+t", "toggle_system", "System metrics", priority=True,
                tooltip="List the system metrics (CPU, memory, GPU...) too, or not"),
    ]

    DEFAULT_CSS = """
    MetricPicker {
        align: center middle;
        & > Vertical { width: 60; max-width: 100%; height: 80%; border: round $primary; background: $surface; }
        Input { margin: 0 1; }
        SelectionList { height: 1fr; }
        Label { padding: 0 1; color: $text-muted; }
    }
    """

    def __init__(self, available: list[str], chosen: list[str], system: list[str] = (),
                 show_system: bool = False) -> None:
        """`available`: the metrics to choose from; `system`: the system metrics, listed after
        them when `show_system` (ctrl+t turns it on and off; read it after the picker closes)."""
        super().__init__()
        self.ordinary = available
        self.system = list(system)
        self.show_system = show_system
        self.chosen = list(chosen)
        self._index()

    def _index(self) -> None:
        self.available = self.ordinary + (self.system if self.show_system else [])
        self._names = FuzzyIndex(self.available)

    def compose(self) -> ComposeResult:
        with Vertical() as box:
            box.border_title = "Metrics to plot"
            yield Label(f"type to narrow · ↓ then space toggles (up to {MAX_METRICS}) · enter plots")
            yield Input(placeholder="metric name", id="metric-query")
            yield SelectionList[str](id="metric-list")
            yield Label("", id="metric-more")
            yield Label("", id="metric-system")

    def on_mount(self) -> None:
        self._fill("")
        self.query_one(Input).focus()

    def action_toggle_system(self) -> None:
        if not self.system:
            return
        self.show_system = not self.show_system
        if not self.show_system:
            self.chosen = [k for k in self.chosen if k not in set(self.system)]
        self._index()
        self._fill(self.query_one(Input).value)

    def _fill(self, query: str) -> None:
        choices = self.query_one(SelectionList)
        choices.clear_options()
        keys, more = self._names.first(query, MAX_LISTED)
        choices.add_options([Selection(store_text(key), key, key in self.chosen) for key in keys])
        self.query_one("#metric-more", Label).update(more_note(len(keys), more))
        self.query_one("#metric-system", Label).update(system_note(len(self.system), self.show_system))
        if choices.option_count:
            choices.highlighted = 0

    def on_input_changed(self, event: Input.Changed) -> None:
        self._fill(event.value)

    def on_selection_list_selection_toggled(self, event: SelectionList.SelectionToggled) -> None:
        key = event.selection.value
        if key in self.chosen:
            self.chosen.remove(key)
        else:
            self.chosen.append(key)
            if len(self.chosen) > MAX_METRICS:
                dropped = self.chosen.pop(0)
                self.query_one(SelectionList).deselect(dropped)

    def action_focus_list(self) -> None:
        self.query_one(SelectionList).focus()

    def action_apply(self) -> None:
        if not self.chosen:
            choices = self.query_one(SelectionList)
            if choices.highlighted is not None:  # enter on a single metric plots just that one
                self.chosen = [choices.get_option_at_index(choices.highlighted).value]
        self.dismiss(self.chosen or None)

    def action_cancel(self) -> None:
        self.dismiss(None)
