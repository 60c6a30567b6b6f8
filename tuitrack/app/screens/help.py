"""`?`: every key binding, grouped by where it works. Built from the bindings themselves, so it
cannot fall out of date."""

from __future__ import annotations

from rich.console import Group
from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

KEY_WIDTH = 14  # wide enough for the longest key label ("ctrl+s / ctrl+x")

# (title, bindings) pairs; filled in by the app, which knows its widgets.
HelpSections = list[tuple[str, list[Binding]]]

EXTRA = [  # keys Textual provides that users still need to know
    ("Everywhere", "ctrl+p", "Command palette: every action, and jump to any run"),
]


def key_label(app, binding: Binding) -> str:
    """All the keys of a binding as the footer writes them: `j / ↓`, `/`, `.`."""
    if binding.key_display:
        return binding.key_display
    keys = [k.strip() for k in binding.key.split(",")]
    labels = [app.get_key_display(Binding(k, binding.action)) for k in keys]
    return " / ".join(dict.fromkeys(labels))


def _listed(bindings: list[Binding]) -> list[Binding]:
    """The bindings with a description, less those whose keys an earlier one of the same action
    already lists (`f1` bound twice, once for text fields, is one line: `? / f1`)."""
    seen: set[tuple[str, str]] = set()
    listed = []
    for binding in bindings:
        keys = {(binding.action, k.strip()) for k in binding.key.split(",")}
        if binding.description and not keys <= seen:
            listed.append(binding)
        seen |= keys
    return listed


class HelpScreen(ModalScreen[None]):
    BINDINGS = [
        Binding("escape,q,question_mark,f1", "dismiss", "Close"),
        Binding("j,down", "scroll('down')", "Down", show=False),
        Binding("k,up", "scroll('up')", "Up", show=False),
        Binding("g,home", "scroll('home')", "Top", show=False),
        Binding("G,end", "scroll('end')", "Bottom", show=False),
    ]

    DEFAULT_CSS = """
    HelpScreen {
        align: center middle;
        & > VerticalScroll {
            width: 100; max-width: 95%; height: 90%;
            border: round $primary; background: $surface; padding: 0 1;
        }
    }
    """

    def __init__(self, sections: HelpSections) -> None:
        super().__init__()
        self.sections = sections

    def compose(self) -> ComposeResult:
        with VerticalScroll() as scroll:
            scroll.border_title = "Keys  (escape closes)"
            yield Static(self._table())

    def action_scroll(self, where: str) -> None:
        scroll = self.query_one(VerticalScroll)
        {"down": scroll.scroll_down, "up": scroll.scroll_up,
         "home": scroll.scroll_home, "end": scroll.scroll_end}[where](animate=False)

    def _table(self) -> Group:
        """A title line and a two-column table per section: titles are long, keys are short, and
        one table for all would size its key column by the longest title."""
        extra = {title: [(k, d) for t, k, d in EXTRA if t == title] for title, _, _ in EXTRA}
        parts = []
        for title, bindings in self.sections:
            table = Table(box=None, show_header=False, padding=(0, 2), expand=True)
            table.add_column(style="bold", no_wrap=True, width=KEY_WIDTH)
            table.add_column(ratio=1)
            rows = [(key_label(self.app, b), b.tooltip or b.description) for b in _listed(bindings)]
            for key, description in rows + extra.pop(title, []):
                table.add_row(Text(key), Text(description))  # a key label like `[` is no markup
            parts += [Text(title, style="bold underline"), table, Text("")]
        return Group(*parts)
