"""`P`: compose a retention policy and watch what it would delete, as you type.

The same rules as `tuitrack prune` (tuitrack.query.prune). The matching runs are listed with
why, counted with the disk space they take, and marked × in the tree behind the panel. ctrl+s
soft-deletes them as one change (u undoes it); ctrl+x also purges them (type purge).
"""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Checkbox, Input, Label, OptionList, Static

from tuitrack.app.widgets.toggles import TickBox
from tuitrack.app.store_text import store_text
from tuitrack.formatting import duration_ms, format_bytes, shown_name
from tuitrack.query.prune import STALE, KeepBest, Policy, Verdict, decide

DURATION_HELP = "e.g. 30d, 12h, 1d2h"
STATUS_BOXES = ("FAILED", "KILLED", STALE, "FINISHED")


class PruneScreen(ModalScreen[None]):
    HELP_TITLE = "The prune panel"  # its section of `?` help
    BINDINGS = [
        Binding("escape", "close", "Close"),
        Binding("ctrl+s", "apply", "Delete them", priority=True),
        Binding("ctrl+x", "purge", "Purge them", priority=True),
    ]

    DEFAULT_CSS = """
    PruneScreen {
        align: right top;
        background: $background 15%;
        & > VerticalScroll { width: 60; max-width: 100%; height: 100%; border-left: wide $error;
                             background: $surface; padding: 0 1; }
        Horizontal { height: auto; }
        /* No focus border: it made the focused box's row move; the focus shows as a background. */
        Checkbox, Checkbox:focus { width: auto; border: none; padding: 0 1 0 0; }
        Checkbox:focus { background: $accent 40%; }
        Input { margin: 0 0 1 0; background: $boost; }
        #summary { margin: 1 0 0 0; text-style: bold; }
        #summary.-error { color: $error; }
        OptionList { height: 1fr; min-height: 5; border: none; }
        Label { color: $text-muted; width: 100%; }  /* wraps: the hints fit 80 columns */
    }
    """

    def __init__(self, main, experiment_id: str | None) -> None:
        super().__init__()
        self.main = main
        self.experiment_id = experiment_id
        self.doomed: list[Verdict] = []

    def compose(self) -> ComposeResult:
        with VerticalScroll() as box:
            box.border_title = "Prune runs"
            yield Label("Delete runs with status:")
            with Horizontal():
                for status in STATUS_BOXES:
                    yield TickBox(status, id=f"status-{status}")
            yield Input(placeholder=f"or started longer ago than ({DURATION_HELP})", id="older", compact=True)
            yield Label("but keep:")
            yield Input(placeholder="the newest N of each experiment", id="keep-last", compact=True)
            yield Input(placeholder="the best: METRIC:min|max:K, e.g. val/loss:min:3", id="keep-best", compact=True)
            yield Input(placeholder="ranked within each value of params.X", id="group-by", compact=True)
            with Horizontal():
                yield TickBox("judge child runs alone", id="split")
                yield TickBox("this experiment only", value=self.experiment_id is not None, id="scope")
            yield Static(id="summary")
            yield OptionList(id="matches")
            yield Label("ctrl+s deletes them (u undoes) · ctrl+x also purges · esc closes · "
                        "always kept: running runs, runs tagged keep")

    def on_mount(self) -> None:
        self.query_one("#older", Input).focus()
        self._recompute()

    def on_input_changed(self) -> None:
        self._recompute()

    def on_checkbox_changed(self) -> None:
        self._recompute()

    def _policy(self) -> Policy:
        statuses = {s for s in STATUS_BOXES if self.query_one(f"#status-{s}", Checkbox).value}
        older = self.query_one("#older", Input).value.strip()
        keep_last = self.query_one("#keep-last", Input).value.strip()
        keep_best = self.query_one("#keep-best", Input).value.strip()
        group_by = self.query_one("#group-by", Input).value.strip()
        older_ms = duration_ms(older) if older else None  # the CLI's syntax; ValueError says why
        if keep_last and not keep_last.isdigit():
            raise ValueError("keep the newest N: N is a whole number")
        best = [KeepBest.parse(keep_best)] if keep_best else []
        return Policy(statuses, older_ms, int(keep_last) if keep_last else None, best,
                      group_by or None, self.query_one("#split", Checkbox).value)

    def _recompute(self) -> None:
        summary = self.query_one("#summary", Static)
        matches = self.query_one("#matches", OptionList)
        try:
            policy = self._policy()
        except ValueError as exc:
            summary.update(store_text(str(exc)))  # it quotes what was typed
            summary.add_class("-error")
            return
        summary.remove_class("-error")
        if not policy.selects and not policy.keeps:
            self._show([], 0, "Choose a status, an age, or what to keep.")
            return
        index = self.main.index
        only = self.experiment_id if self.query_one("#scope", Checkbox).value else None
        scope = [(e, r) for e in index.sorted_experiments(include_deleted=False)
                 if only is None or e.experiment_id == only
                 for r in index.runs_of(e.experiment_id)]
        now = int(self.main.clock() * 1000)
        self.doomed = [v for v in decide(scope, policy, now, self.main._is_stale) if v.prune]
        self._show(self.doomed, len(scope), "")
        matches.clear_options()
        matches.add_options([
            store_text(f"{shown_name(v.run)} · {v.experiment.name} · {v.reason}"
                       + (f" · {v.metric}" if v.metric else ""))
            for v in self.doomed[:500]
        ])

    def _show(self, doomed: list[Verdict], total: int, note: str) -> None:
        known = [v.run.disk_bytes for v in doomed if v.run.disk_bytes is not None]
        size = format_bytes(sum(known)) + ("+" if len(known) < len(doomed) else "")
        text = note or f"{len(doomed)} of {total} runs would be deleted, {size} on disk"
        self.query_one("#summary", Static).update(store_text(text))
        self.main.set_prune_preview({v.run.run_id for v in doomed})
        if not doomed:
            self.query_one("#matches", OptionList).clear_options()

    def action_apply(self) -> None:
        if not self.doomed:
            self.notify("No run matches", severity="warning", timeout=2)
            return
        runs = [v.run for v in self.doomed]
        self.main.delete_runs_as_one(runs, f"Pruned {len(runs)} run(s)")
        self.action_close()

    def action_purge(self) -> None:
        refusal = self.main.index.store.cannot_purge()
        if refusal:
            self.notify(refusal + "; ctrl+s still soft-deletes", severity="warning", timeout=8)
            return
        if not self.doomed:
            self.notify("No run matches", severity="warning", timeout=2)
            return
        runs = [v.run for v in self.doomed]
        main = self.main
        self.action_close()  # first: the confirmation goes on top of the main screen
        main.prune_and_purge(runs)

    def action_close(self) -> None:
        self.main.set_prune_preview(set())
        self.dismiss(None)

