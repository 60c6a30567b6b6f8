"""The purge confirmation: it plans the purge, shows the plan, and gives back exactly that plan.

The dialog opens at once, so keys typed right after X reach it, and the plan (which reads every
run of the store: a second on 10,000 runs) is made on a worker meanwhile. Only a plan the user
has seen can be confirmed: enter pressed before the plan shows asks for enter again after.
"""

from __future__ import annotations

from collections.abc import Callable

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Label, Static

from tuitrack.app.screens.dialogs import DIALOG_CSS
from tuitrack.formatting import format_bytes
from tuitrack.app.store_text import store_text
from tuitrack.store.purge_plan import PurgePlan

MAX_LINES = 14


def purge_lines(plan: PurgePlan, run_lines: list[str]) -> list[str]:
    """What the dialog says: the exact space freed and what is left in place, then the runs."""
    kept = plan.kept_lines()
    lines = [f"frees {format_bytes(plan.bytes)}"]
    if kept:
        lines.append(f"left in place ({len(kept)}):")
        lines += [f"  {line}" for line in kept]
    return lines + run_lines


class PurgeConfirm(ModalScreen[PurgePlan | None]):
    """Type `purge` to carry out the plan shown; escape or another word cancels (None)."""

    BINDINGS = [Binding("escape", "cancel", "Cancel")]
    DEFAULT_CSS = "PurgeConfirm {" + DIALOG_CSS + "}"
    WORD = "purge"

    def __init__(self, title: str, make_plan: Callable[[], PurgePlan], run_lines: list[str]) -> None:
        super().__init__()
        self.title_text, self.make_plan, self.run_lines = title, make_plan, run_lines
        self.plan: PurgePlan | None = None
        self.early = False  # the word was entered before the plan was shown

    def compose(self) -> ComposeResult:
        with Vertical() as box:
            box.border_title = store_text(self.title_text)
            yield Static(Text("Planning the purge (reading every run of the store)…"), id="plan")
            yield Label(f"This cannot be undone. Type {self.WORD} and press enter (escape cancels):",
                        classes="danger")
            yield Input(id="word")

    def on_mount(self) -> None:
        self.query_one(Input).focus()
        self._plan()

    @work(thread=True, exclusive=True, exit_on_error=False)
    def _plan(self) -> None:
        try:
            plan = self.make_plan()
        except Exception as exc:  # a store error: say it in the dialog, nothing can be confirmed
            self.app.call_from_thread(self._failed, str(exc))
            return
        self.app.call_from_thread(self._planned, plan)

    def _failed(self, message: str) -> None:
        if not self.is_attached:
            return  # cancelled while planning
        self.query_one("#plan", Static).update(store_text(f"Cannot plan the purge: {message}"))

    def _planned(self, plan: PurgePlan) -> None:
        if not self.is_attached:
            return  # cancelled while planning
        self.plan = plan
        lines = purge_lines(plan, self.run_lines)
        if len(lines) > MAX_LINES:
            lines = lines[:MAX_LINES - 1] + [f"… and {len(lines) - MAX_LINES + 1} more"]
        if self.early:
            lines += ["", "This is the plan: press enter again to purge."]
        self.query_one("#plan", Static).update(Text("\n").join(store_text(line) for line in lines))

    def on_input_submitted(self, event: Input.Submitted) -> None:
        if event.value.strip() != self.WORD:
            self.dismiss(None)
        elif self.plan is None:
            self.early = True  # typed before the plan showed: it must be seen before it is carried out
        else:
            self.dismiss(self.plan)

    def action_cancel(self) -> None:
        self.dismiss(None)
