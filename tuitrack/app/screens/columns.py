"""`C`: choose which columns of the runs table are shown."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Label, SelectionList
from textual.widgets.selection_list import Selection

from tuitrack.app.columns import Column
from tuitrack.app.widgets.toggles import TickList
from tuitrack.app.store_text import store_text


class ColumnChooser(ModalScreen[set[str] | None]):
    """Returns the set of hidden column keys, or None when cancelled."""

    HELP_TITLE = "Choosing columns"  # its section of `?` help

    BINDINGS = [
        Binding("escape,q", "cancel", "Cancel"),
        Binding("enter", "apply", "Apply", priority=True),  # the list would toggle on enter
        Binding("j", "down", "Down", show=False),
        Binding("k", "up", "Up", show=False),
    ]

    DEFAULT_CSS = """
    ColumnChooser {
        align: center middle;
        & > Vertical { width: 50; max-width: 100%; height: 80%; border: round $primary; background: $surface; }
        SelectionList { height: 1fr; }
        Label { padding: 0 1; color: $text-muted; }
    }
    """

    def __init__(self, columns: list[Column], hidden: set[str]) -> None:
        super().__init__()
        self.columns = columns
        self.hidden = hidden

    def compose(self) -> ComposeResult:
        with Vertical() as box:
            box.border_title = "Columns"
            yield Label("space toggles · enter applies · escape cancels")
            yield TickList[str](
                *[
                    Selection(store_text(self._label(c)), c.key, c.key not in self.hidden)
                    for c in self.columns
                ]
            )

    def on_mount(self) -> None:
        choices = self.query_one(SelectionList)
        choices.highlighted = 0
        choices.focus()

    @staticmethod
    def _label(column: Column) -> str:
        kind = {"param": "param ", "metric": "metric "}.get(column.kind, "")
        return f"{kind}{column.label}"

    def action_apply(self) -> None:
        shown = set(self.query_one(SelectionList).selected)
        self.dismiss({c.key for c in self.columns if c.key not in shown})

    def action_cancel(self) -> None:
        self.dismiss(None)

    def action_down(self) -> None:
        self.query_one(SelectionList).action_cursor_down()

    def action_up(self) -> None:
        self.query_one(SelectionList).action_cursor_up()
