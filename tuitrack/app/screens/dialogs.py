"""Small dialogs for changing runs: confirm, one line of text, a note (purges: purge_dialog.py)."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Label, Static, TextArea

from tuitrack.app.store_text import store_text
from tuitrack.safe_text import visible

DIALOG_CSS = """
    align: center middle;
    & > Vertical { width: 70; max-width: 100%; height: auto; max-height: 90%;
                   border: round $primary; background: $surface; padding: 0 1; }
    Label { color: $text-muted; }
    .danger { color: $error; text-style: bold; }
"""


def _listing(lines: list[str]) -> Text:
    """What a dialog lists (run names among it), at most 12 lines, as plain text."""
    shown = lines[:12] + ([f"… and {len(lines) - 12} more"] if len(lines) > 12 else [])
    return Text("\n").join(store_text(line) for line in shown)


class Confirm(ModalScreen[bool]):
    """A yes/no question listing what will change. `y` says yes; `n` or escape says no."""

    HELP_TITLE = "This question"  # its section of `?` help

    BINDINGS = [Binding("y", "answer(True)", "Yes"), Binding("n,escape", "answer(False)", "No")]
    DEFAULT_CSS = "Confirm {" + DIALOG_CSS + "}"

    def __init__(self, title: str, lines: list[str]) -> None:
        super().__init__()
        self.title_text = title
        self.lines = lines

    def compose(self) -> ComposeResult:
        with Vertical() as box:
            box.border_title = store_text(self.title_text)
            yield Static(_listing(self.lines))
            yield Label("y: yes   n / escape: no")

    def action_answer(self, yes: bool) -> None:
        self.dismiss(yes)


class Prompt(ModalScreen[str | None]):
    """One line of text: a tag, a new name. enter gives it, escape cancels."""

    HELP_TITLE = "This prompt"  # its section of `?` help

    BINDINGS = [Binding("escape", "cancel", "Cancel")]
    DEFAULT_CSS = "Prompt {" + DIALOG_CSS + "}"

    def __init__(self, title: str, hint: str, value: str = "") -> None:
        super().__init__()
        self.title_text, self.hint, self.value = title, hint, value

    def compose(self) -> ComposeResult:
        with Vertical() as box:
            box.border_title = store_text(self.title_text)
            yield Label(store_text(self.hint))
            yield Input(value=visible(self.value), id="answer")

    def on_mount(self) -> None:
        self.query_one(Input).focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        # The old value is shown with its escapes made visible: left as shown, it is unchanged.
        self.dismiss(self.value if event.value == visible(self.value) else event.value)

    def action_cancel(self) -> None:
        self.dismiss(None)


class NoteEditor(ModalScreen[str | None]):
    """A run's note, several lines. ctrl+s saves, escape cancels."""

    HELP_TITLE = "The note editor"  # its section of `?` help

    BINDINGS = [Binding("ctrl+s", "save", "Save", priority=True), Binding("escape", "cancel", "Cancel")]
    DEFAULT_CSS = "NoteEditor {" + DIALOG_CSS + "} NoteEditor TextArea { height: 12; }"

    def __init__(self, title: str, text: str) -> None:
        super().__init__()
        self.title_text, self.text = title, text

    def compose(self) -> ComposeResult:
        with Vertical() as box:
            box.border_title = store_text(self.title_text)
            yield TextArea(visible(self.text, newlines=True), id="note")
            yield Label("ctrl+s saves · escape cancels")

    def on_mount(self) -> None:
        self.query_one(TextArea).focus()

    def action_save(self) -> None:
        text = self.query_one(TextArea).text
        self.dismiss(self.text if text == visible(self.text, newlines=True) else text)

    def action_cancel(self) -> None:
        self.dismiss(None)
