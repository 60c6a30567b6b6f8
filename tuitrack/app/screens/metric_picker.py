"""`m` on the plot: choose up to four metrics, typing to narrow a long list."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Label, SelectionList
from textual.widgets.selection_list import Selection

from tuitrack.app.store_text import store_text

MAX_METRICS = 4


def fuzzy(query: str, text: str) -> bool:
    """Every character of `query`, in order, somewhere in `text` (case-insensitive)."""
    position = 0
    text = text.lower()
    for char in query.lower():
        position = text.find(char, position) + 1
        if position == 0:
            return False
    return True


class MetricPicker(ModalScreen[list[str] | None]):
    HELP_TITLE = "Choosing metrics"  # its section of `?` help
    BINDINGS = [
        Binding("escape", "cancel", "Cancel"),
        Binding("enter", "apply", "Apply", priority=True),
        Binding("down", "focus_list", "List", show=False),
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

    def __init__(self, available: list[str], chosen: list[str]) -> None:
        super().__init__()
        self.available = available
        self.chosen = list(chosen)

    def compose(self) -> ComposeResult:
        with Vertical() as box:
            box.border_title = "Metrics to plot"
            yield Label(f"type to narrow · ↓ then space toggles (up to {MAX_METRICS}) · enter plots")
            yield Input(placeholder="metric name", id="metric-query")
            yield SelectionList[str](id="metric-list")

    def on_mount(self) -> None:
        self._fill("")
        self.query_one(Input).focus()

    def _fill(self, query: str) -> None:
        choices = self.query_one(SelectionList)
        choices.clear_options()
        choices.add_options(
            [Selection(store_text(key), key, key in self.chosen) for key in self.available if fuzzy(query, key)]
        )
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
