"""`b`: choose the params to group the experiment's runs by (lr, not seed: the seeds of one
learning rate become one row). Nothing ticked, or escape: the plain runs again."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Label, SelectionList
from textual.widgets.selection_list import Selection

from tuitrack.app.screens.metric_picker import MAX_LISTED
from tuitrack.app.store_text import store_text
from tuitrack.app.widgets.toggles import TickList


class GroupByChooser(ModalScreen[list[str]]):
    """Returns the param keys to group by, in the order listed; [] for plain runs."""

    HELP_TITLE = "Grouping runs"  # its section of `?` help

    BINDINGS = [
        Binding("escape,q", "plain", "Plain runs"),
        Binding("enter", "apply", "Group", priority=True),  # the list would toggle on enter
        Binding("j", "down", "Down", show=False),
        Binding("k", "up", "Up", show=False),
    ]

    DEFAULT_CSS = """
    GroupByChooser {
        align: center middle;
        & > Vertical { width: 50; max-width: 100%; height: 80%; border: round $primary; background: $surface; }
        SelectionList { height: 1fr; }
        Label { width: 100%; padding: 0 1; color: $text-muted; }  /* the hint wraps, not cut */
    }
    """

    def __init__(self, params: list[str], chosen: list[str]) -> None:
        super().__init__()
        self.params = params[:MAX_LISTED]
        self.more = len(params) - len(self.params)
        self.chosen = [p for p in chosen if p in self.params]

    def compose(self) -> ComposeResult:
        with Vertical() as box:
            box.border_title = "Group runs by"
            yield Label("space ticks a param · enter groups · escape: plain runs")
            yield TickList[str](*[Selection(store_text(p), p, p in self.chosen) for p in self.params],
                                id="group-by-list")
            yield Label(f"+{self.more:,} more params" if self.more else ("" if self.params else "No params to group by"))

    def on_mount(self) -> None:
        choices = self.query_one(SelectionList)
        if choices.option_count:
            choices.highlighted = 0
        choices.focus()

    def action_apply(self) -> None:
        picked = set(self.query_one(SelectionList).selected)
        self.dismiss([p for p in self.params if p in picked])

    def action_plain(self) -> None:
        self.dismiss([])

    def action_down(self) -> None:
        self.query_one(SelectionList).action_cursor_down()

    def action_up(self) -> None:
        self.query_one(SelectionList).action_cursor_up()
