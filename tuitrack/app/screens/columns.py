"""`C`: choose which columns of the runs table are shown.

A run with 100,000 metrics has 100,000 columns to choose from: the list holds the first
MAX_LISTED that match what is typed after `/` (the rest are counted), and what is on or off is
kept per column, not read back from the list. System metrics (`system/...`) are listed only
after ctrl+t.
"""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Label, SelectionList
from textual.widgets.selection_list import Selection

from tuitrack.app.columns import Column
from tuitrack.app.screens.metric_picker import MAX_LISTED, FuzzyIndex, more_note, system_note
from tuitrack.app.store_text import store_text
from tuitrack.app.widgets.toggles import TickList


class ColumnChooser(ModalScreen[set[str] | None]):
    """Returns the set of hidden column keys, or None when cancelled."""

    HELP_TITLE = "Choosing columns"  # its section of `?` help

    BINDINGS = [
        Binding("escape,q", "cancel", "Cancel"),
        Binding("enter", "apply", "Apply", priority=True),  # the list would toggle on enter
        Binding("j", "down", "Down", show=False),
        Binding("k", "up", "Up", show=False),
        Binding("slash", "narrow", "Narrow", show=False),
        Binding("ctrl+t", "toggle_system", "System metrics", priority=True,
                tooltip="List the system metrics' columns (CPU, memory, GPU...) too, or not"),
    ]

    DEFAULT_CSS = """
    ColumnChooser {
        align: center middle;
        & > Vertical { width: 50; max-width: 100%; height: 80%; border: round $primary; background: $surface; }
        SelectionList { height: 1fr; }
        Input { margin: 0 1; }
        Label { width: 100%; padding: 0 1; color: $text-muted; }  /* the hint wraps, not cut */
    }
    """

    def __init__(self, columns: list[Column], hidden: set[str], limit: int | None = None,
                 show_system: bool = False) -> None:
        """`show_system`: whether system metrics' columns are listed (and shown); ctrl+t turns
        it on and off; read it after the chooser closes."""
        super().__init__()
        self.all_columns = columns
        self.hidden = hidden
        self.limit = limit  # columns shown at most: turning one more on turns the last other off
        self.shown = {c.key: c.key not in hidden for c in columns}
        self.system_count = sum(c.is_system for c in columns)
        self.show_system = show_system
        self._picked: set[str] = set()  # turned on here: never the one turned off for room
        self._listed: set[str] = set()
        self._index()

    def _index(self) -> None:
        self.columns = [c for c in self.all_columns if self.show_system or not c.is_system]
        labels = [self._label(c) for c in self.columns]
        self._key_of = dict(zip(labels, (c.key for c in self.columns)))
        self._labels = FuzzyIndex(labels)

    def compose(self) -> ComposeResult:
        with Vertical() as box:
            box.border_title = "Columns"
            yield Label("space toggles · / narrows · enter applies · escape cancels")
            yield Input(placeholder="column name", id="column-query")
            yield TickList[str](id="column-list")
            yield Label("", id="column-more")
            yield Label(system_note(self.system_count, self.show_system), id="column-system")

    def on_mount(self) -> None:
        self._fill("")
        choices = self.query_one(SelectionList)
        choices.highlighted = 0
        choices.focus()

    def _fill(self, query: str) -> None:
        choices = self.query_one(SelectionList)
        choices.clear_options()
        labels, more = self._labels.first(query, MAX_LISTED)
        choices.add_options([Selection(store_text(label), self._key_of[label], self.shown[self._key_of[label]])
                             for label in labels])
        self._listed = {self._key_of[label] for label in labels}
        self.query_one("#column-more", Label).update(more_note(len(labels), more))
        if choices.option_count:
            choices.highlighted = 0

    @staticmethod
    def _label(column: Column) -> str:
        kind = {"param": "param ", "metric": "metric "}.get(column.kind, "")
        return f"{kind}{column.label}"

    def on_input_changed(self, event: Input.Changed) -> None:
        self._fill(event.value)

    def on_input_submitted(self) -> None:
        self.query_one(SelectionList).focus()

    def on_selection_list_selection_toggled(self, event: SelectionList.SelectionToggled) -> None:
        key = event.selection.value
        self.shown[key] = not self.shown[key]
        if not self.shown[key]:
            self._picked.discard(key)
            return
        self._picked.add(key)
        if self.limit is not None and sum(self.shown[c.key] for c in self.columns) > self.limit:
            room = next((c for c in reversed(self.columns)
                         if self.shown[c.key] and c.kind != "attr" and c.key not in self._picked), None)
            if room is not None:
                self.shown[room.key] = False
                if room.key in self._listed:
                    self.query_one(SelectionList).deselect(room.key)
                self.query_one("#column-more", Label).update(
                    f"{self._label(room)} off: {self.limit} columns at most")

    def action_toggle_system(self) -> None:
        if not self.system_count:
            return
        self.show_system = not self.show_system
        self._index()
        self._fill(self.query_one(Input).value)
        self.query_one("#column-system", Label).update(system_note(self.system_count, self.show_system))

    def action_narrow(self) -> None:
        self.query_one(Input).focus()

    def action_apply(self) -> None:
        if self.focused is self.query_one(Input):
            self.query_one(SelectionList).focus()
            return
        self.dismiss({key for key, on in self.shown.items() if not on})

    def action_cancel(self) -> None:
        self.dismiss(None)

    def action_down(self) -> None:
        self.query_one(SelectionList).action_cursor_down()

    def action_up(self) -> None:
        self.query_one(SelectionList).action_cursor_up()
