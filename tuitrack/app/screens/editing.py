"""Changing runs from the main screen: tag, note, rename, delete, restore, purge, and undo.

Tag, delete, restore, purge and mark-killed work on the marked runs (space), or on the run under
the cursor when none are marked; a note or a new name is for one run, the one under the cursor,
always. Delete and restore on the tree's experiment line work on the experiment. Every dialog
names the runs it will change. Changes run
on a worker thread; the index then reads the touched runs again and the screen repaints
them, the same path the file watcher takes. Every change but purge goes on the undo stack.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from textual import work
from textual.binding import Binding

from tuitrack.app.messages import StoreChanged
from tuitrack.app.screens.dialogs import Confirm, NoteEditor, Prompt
from tuitrack.app.screens.purge_dialog import PurgeConfirm
from tuitrack.formatting import format_bytes, shown_name
from tuitrack.live.undo import Edit, UndoStack
from tuitrack.model import NOTE_TAG, Run, RunStatus
from tuitrack.store.base import Change, StoreError
from tuitrack.store.mlflow_file.experiment_delete import cut_short
from tuitrack.store.mlflow_rules import SystemTagRefused, no_such_tag
from tuitrack.store.purge_plan import PurgePlan
from tuitrack.store.tag_edits import describe as describe_tag_edits
from tuitrack.store.tag_edits import parse_tag_edits

SLOW_EDIT_S = 1.0  # an edit still running after this long gets a "waiting" note

EDIT_BINDINGS = [
    Binding("t", "tag", "Tag", id="tag", tooltip="Set a tag (key=value) or remove one (-key) on the runs"),
    Binding("e", "edit_note", "Note", id="note", show=False, tooltip="Edit the run's note"),
    Binding("R", "rename", "Rename", id="rename", show=False, tooltip="Rename the run"),
    Binding("d,delete", "delete", "Delete", id="delete",
            tooltip="Soft-delete the runs, or the experiment (asks first)"),
    Binding("r", "restore", "Restore", id="restore", show=False, tooltip="Restore deleted runs, or the experiment"),
    Binding("X", "purge", "Purge", id="purge", show=False, tooltip="Purge deleted runs for good (type purge)"),
    Binding("K", "kill_stale", "Mark killed", id="kill-stale", show=False, tooltip="Mark stale RUNNING runs KILLED"),
    Binding("u", "undo", "Undo", id="undo", tooltip="Undo the last change (not a purge)"),
    Binding("c", "compare", "Compare", id="compare",
            show=False, tooltip="Compare the marked runs side by side (mark 2 or more)"),
    Binding("S", "scatter", "Scatter", id="scatter", show=False,
            tooltip="A param or metric against a metric over the experiment's runs"),
    Binding("E", "export('csv')", "Export", id="export", show=False,
            tooltip="Write the runs the table shows to a CSV file here (the palette has Markdown, JSON)"),
    Binding("P", "prune", "Prune", id="prune",
            show=False, tooltip="Compose a retention policy and see what it deletes"),
    Binding("A", "mark_all", "Mark all", id="mark-all", show=False, tooltip="Mark every run the table shows"),
    Binding("I", "invert_marks", "Invert", id="invert-marks",
            show=False, tooltip="Invert the marks of the runs the table shows"),
    Binding("M", "clear_marks", "Clear marks", id="clear-marks", show=False, tooltip="Unmark every run"),
]


def _runs_label(runs: list[Run]) -> str:
    return f"{shown_name(runs[0])}" if len(runs) == 1 else f"{len(runs)} runs"


def _names(runs: list[Run], most: int = 4) -> str:
    """The runs a dialog will change, by name: `a, b, c and 5 more`."""
    names = [r.run_name or r.run_id[:8] for r in runs[:most]]
    more = f" and {len(runs) - most} more" if len(runs) > most else ""
    return ", ".join(names) + more


def _line(run: Run) -> str:
    status = run.status.name if run.status else "?"
    return f"{run.run_id[:8]}  {run.run_name or '-'}  ({status})"


def _purged(what: str, plan: PurgePlan) -> str:
    kept = len(plan.kept)
    return f"{what}, freed {format_bytes(plan.bytes)}" + (f"; {kept} place(s) left in place" if kept else "")


class RunEditing:
    """Mixed into MainScreen, which provides index, marked, _run_under_cursor and the widgets."""

    undo_stack: UndoStack

    # -- what an action works on ---------------------------------------------------------------

    def _targets(self) -> list[Run]:
        """The marked runs, or the run under the cursor when none is marked."""
        ids = list(self.marked) or [r for r in [self._run_under_cursor()] if r]
        return [r for r in (self.index.run(i) for i in ids) if r is not None]

    def _run_at_cursor(self) -> list[Run]:
        """The run under the cursor (marks or not): what a note or a new name is for."""
        run = self.index.run(self._run_under_cursor() or "")
        return [run] if run is not None else []

    def _experiment_under_cursor(self):
        from tuitrack.app.widgets.run_tree import RunTree

        tree = self.query_one(RunTree)
        node = tree.cursor_node
        if self.focused is tree and node is not None and node.data is not None and node.data.kind == "experiment":
            return self.index.experiments.get(node.data.experiment_id)
        return None

    # -- doing and undoing ----------------------------------------------------------------------

    @work(thread=True, group="edit", exit_on_error=False)
    def _apply_edit(self, description: str, do: Callable[[], None], undo: Callable[[], None] | None,
                    touched: list[Change]) -> None:
        # A database locked by a training process (or a slow server) can take seconds: say so.
        slow = threading.Timer(SLOW_EDIT_S, self.app.call_from_thread, (
            self.notify, f"{description}: waiting for the store (another process may be writing)…"),
            {"timeout": 4})
        slow.start()
        try:
            do()
        except (StoreError, OSError) as exc:
            self.app.call_from_thread(self.notify, f"Not done: {_reason(exc)}", severity="error", timeout=6)
            return
        finally:
            slow.cancel()
            delta = self.index.apply(touched)
            if delta:
                self.post_message(StoreChanged(delta))
        if undo is not None:
            self.undo_stack.push(Edit(description, undo, touched))
        hint = "  (u undoes)" if undo is not None else ""
        self.app.call_from_thread(self.notify, description + hint, timeout=3)

    def action_undo(self) -> None:
        edit = self.undo_stack.pop()
        if edit is None:
            self.notify("Nothing to undo", timeout=2)
            return
        self._apply_edit(f"Undone: {edit.description}", edit.revert, None, edit.touched)

    # -- marking ------------------------------------------------------------------------------

    def action_mark_all(self) -> None:
        self._mark(lambda run_id, marked: True)

    def action_invert_marks(self) -> None:
        self._mark(lambda run_id, marked: not marked)

    def action_clear_marks(self) -> None:
        from tuitrack.app.widgets.run_tree import RunTree
        from tuitrack.app.widgets.runs_table import RunsTable

        unmarked = [self.index.run(i) for i in self.marked]
        self.marked.clear()
        tree = self.query_one(RunTree)
        for run in unmarked:
            if run is not None:
                tree.update_run(run)
        self.query_one(RunsTable).refresh()
        self._refresh_plot()
        self._update_status()

    def _mark(self, rule: Callable[[str, bool], bool]) -> None:
        from tuitrack.app.widgets.metric_plot import PALETTE
        from tuitrack.app.widgets.run_tree import RunTree
        from tuitrack.app.widgets.runs_table import RunsTable

        table = self.query_one(RunsTable)
        for run in table.runs:
            if rule(run.run_id, run.run_id in self.marked):
                if run.run_id not in self.marked:
                    used = set(self.marked.values())
                    self.marked[run.run_id] = next((c for c in PALETTE if c not in used), PALETTE[len(self.marked) % len(PALETTE)])
            else:
                self.marked.pop(run.run_id, None)
            self.query_one(RunTree).update_run(run)
        table.refresh()
        self._refresh_plot()
        self.notify(f"{len(self.marked)} run(s) marked", timeout=2)

    # -- the changes --------------------------------------------------------------------------

    def _allowed(self, change: str, runs: list[Run]) -> list[Run]:
        """The runs the store can make `change` to; the reason said at once for the others."""
        reasons = {r.run_id: self.index.store.refusal(change, r) for r in runs}
        refused = [why for why in reasons.values() if why]
        if refused:
            more = f" (and {len(refused) - 1} more)" if len(refused) > 1 else ""
            self.notify(f"Not possible: {refused[0]}{more}", severity="warning", timeout=8)
        return [r for r in runs if not reasons[r.run_id]]

    def action_tag(self) -> None:
        targets = self._targets()
        runs = [r for r in targets if not r.is_deleted]
        if not targets:
            self.notify("Tags go on runs: move to a run, or mark runs with space", severity="warning")
            return
        if not runs:
            self.notify("No active run to tag (restore deleted runs first)", severity="warning")
            return
        runs = self._allowed("tag", runs)
        if not runs:
            return

        def answered(text: str | None) -> None:
            if not text or not text.strip():
                return
            try:
                edits = parse_tag_edits(text)
            except ValueError as exc:
                self.notify(f"Not done: {exc}", severity="warning", timeout=6)
                return
            before = {r.run_id: dict(r.tags) for r in runs}
            holders = {k: [r for r in runs if k in before[r.run_id]] for k in edits.removes}
            lacking = [k for k, held in holders.items() if not held]
            if lacking:  # what the CLI refuses too
                why = (str(no_such_tag(runs[0].run_id, lacking[0])) if len(runs) == 1
                       else f"none of the {len(runs)} runs has tag {lacking[0]!r}")
                self.notify(f"Not done: {why}", severity="warning", timeout=6)
                return
            store = self.index.store

            def do() -> None:
                for r in runs:
                    if edits.sets:
                        store.set_tags(r, edits.sets)
                    gone = [k for k in edits.removes if k in before[r.run_id]]
                    if gone:
                        store.delete_tags(r, gone)

            def undo() -> None:
                for r in runs:
                    old = before[r.run_id]
                    back = {k: old[k] for k in [*edits.sets, *edits.removes] if k in old}
                    if back:
                        store.set_tags(r, back)
                    added = [k for k in edits.sets if k not in old]
                    if added:
                        store.delete_tags(r, added)

            removed = [k if len(holders[k]) == len(runs) else f"{k} (from the {len(holders[k])} of {len(runs)} runs "
                       "that had it)" for k in edits.removes]
            description = f"{_runs_label(runs)}: {describe_tag_edits(edits.sets, removed)}"
            self._apply_edit(description, do, undo, [Change("run", r.experiment_id, r.run_id) for r in runs])

        self.app.push_screen(Prompt(f"Tag {_runs_label(runs)}",
                                    f"{_names(runs)}: key=value sets a tag · -key removes it · several at once: a=1 b=2 -c"),
                             answered)

    def action_edit_note(self) -> None:
        runs = self._run_at_cursor()
        if not runs or runs[0].is_deleted or not self._allowed("note", runs):
            return
        run = runs[0]
        old = run.tags.get(NOTE_TAG)

        def saved(text: str | None) -> None:
            if text is None or text == (old or ""):
                return
            store = self.index.store
            undo = (lambda: store.set_tags(run, {NOTE_TAG: old}, force=True)) if old is not None else \
                (lambda: store.delete_tags(run, [NOTE_TAG], force=True))
            if not text.strip():  # an empty note is no note: removed (as `tuitrack note RUN ""`)
                if old is None:
                    return
                self._apply_edit(f"Note of {_runs_label([run])} removed",
                                 lambda: store.delete_tags(run, [NOTE_TAG], force=True), undo,
                                 [Change("run", run.experiment_id, run.run_id)])
                return
            self._apply_edit(f"Note of {_runs_label([run])} saved", lambda: store.set_note(run, text), undo,
                             [Change("run", run.experiment_id, run.run_id)])

        self.app.push_screen(NoteEditor(f"Note of {_runs_label([run])}", old or ""), saved)

    def action_rename(self) -> None:
        runs = self._run_at_cursor()
        if not runs or runs[0].is_deleted or not self._allowed("rename", runs):
            return
        run = runs[0]
        old = run.run_name

        def answered(name: str | None) -> None:
            if not name or name == old:
                return
            store = self.index.store
            self._apply_edit(f"Renamed {old!r} to {name!r}", lambda: store.rename_run(run, name),
                             lambda: store.rename_run(run, old), [Change("run", run.experiment_id, run.run_id)])

        self.app.push_screen(Prompt(f"Rename {_runs_label([run])}", f"run {run.run_id[:8]}: a new name "
                                    "(enter saves, escape cancels)", old), answered)

    def action_delete(self) -> None:
        experiment = self._experiment_under_cursor()
        store = self.index.store
        if experiment is not None and not self.marked:
            if experiment.is_deleted and not cut_short(experiment):
                return
            refusal = store.experiment_refusal(experiment)
            if refusal:
                self.notify(f"Not possible: {refusal}", severity="warning", timeout=8)
                return
            runs = self.index.runs_of(experiment.experiment_id)
            busy = [r for r in runs if r.status is RunStatus.RUNNING and not self._is_stale(r)]
            if busy:
                self.notify(f"{experiment.name} has {len(busy)} RUNNING run(s) a script may still write: "
                            "not deleted", severity="warning", timeout=5)
                return

            def confirmed(yes: bool) -> None:
                if yes:
                    self._apply_edit(f"Deleted experiment {experiment.name}",
                                     lambda: store.delete_experiment(experiment),
                                     lambda: store.restore_experiment(self.index.experiments[experiment.experiment_id]),
                                     [Change("experiments", experiment.experiment_id)])

            self.app.push_screen(Confirm(f"Delete experiment {experiment.name}?",
                                         [f"moves to .trash with its {len(runs)} run(s):"] + [_line(r) for r in runs]),
                                 confirmed)
            return
        runs = [r for r in self._targets() if not r.is_deleted]
        busy = [r for r in runs if r.status is RunStatus.RUNNING and not self._is_stale(r)]
        runs = [r for r in runs if r not in busy]
        if busy:
            self.notify(f"{len(busy)} RUNNING run(s) left alone: a script may still write them "
                        "(once one ends or turns stale ◔, d deletes it)", severity="warning", timeout=5)
        if not runs:
            return

        def confirmed(yes: bool) -> None:
            if yes:
                self._apply_edit(f"Deleted {_runs_label(runs)}",
                                 lambda: [store.delete_run(r) for r in runs],
                                 lambda: [store.restore_run(self.index.run(r.run_id) or r) for r in runs],
                                 [Change("run", r.experiment_id, r.run_id) for r in runs])

        self.app.push_screen(Confirm(f"Soft-delete {_runs_label(runs)}? (u undoes)", [_line(r) for r in runs]), confirmed)

    def action_restore(self) -> None:
        store = self.index.store
        experiment = self._experiment_under_cursor()
        if experiment is not None and (experiment.is_deleted or cut_short(experiment)) and not self.marked:
            self._apply_edit(f"Restored experiment {experiment.name}",
                             lambda: store.restore_experiment(experiment),
                             lambda: store.delete_experiment(self.index.experiments[experiment.experiment_id]),
                             [Change("experiments", experiment.experiment_id)])
            return
        runs = [r for r in self._targets() if r.is_deleted]
        in_trash = [r for r in runs if (e := self.index.experiments.get(r.experiment_id)) is not None and e.is_deleted]
        if in_trash:
            self.notify("Runs of a deleted experiment come back with it: restore the experiment",
                        severity="warning")
        runs = [r for r in runs if r not in in_trash]
        if not runs:
            return
        self._apply_edit(f"Restored {_runs_label(runs)}",
                         lambda: [store.restore_run(r) for r in runs],
                         lambda: [store.delete_run(self.index.run(r.run_id) or r) for r in runs],
                         [Change("run", r.experiment_id, r.run_id) for r in runs])

    def action_purge(self) -> None:
        refusal = self.index.store.cannot_purge()
        if refusal:
            self.notify(refusal, severity="warning", timeout=8)
            return
        runs = [r for r in self._targets() if r.is_deleted]
        if not runs:
            self.notify("Only deleted runs can be purged: delete them first (. shows deleted runs)",
                        severity="warning", timeout=5)
            return

        def purge(plan: PurgePlan) -> None:
            for r in runs:
                self.marked.pop(r.run_id, None)
            self._apply_edit(_purged(f"Purged {_runs_label(runs)}", plan), lambda: self._execute_plan(plan), None,
                             [Change("run", r.experiment_id, r.run_id) for r in runs])

        self._confirm_purge(f"Purge {_runs_label(runs)} for good?", runs, purge, "Nothing purged")

    def _execute_plan(self, plan: PurgePlan) -> None:
        """Carry out the plan shown (on the edit worker); a place that changed since is left, and said."""
        result = self.index.store.execute_purge(plan)
        said = set(plan.kept_lines())
        surprises = [w for w in result.warnings if w not in said and "was a symlink" not in w]
        if surprises:
            self.app.call_from_thread(self.notify, "; ".join(surprises), severity="warning", timeout=8)

    def _confirm_purge(self, title: str, runs: list[Run], then: Callable[[PurgePlan], None], cancelled: str) -> None:
        """Ask with the purge plan (the exact space freed, what is left in place and why, made
        while the dialog is open); `then(plan)` carries out exactly the plan shown."""
        store = self.index.store

        def answered(plan: PurgePlan | None) -> None:
            if plan is not None:
                then(plan)
            else:
                self.notify(cancelled, timeout=2)

        self.app.push_screen(PurgeConfirm(title, lambda: store.plan_purge(runs, []), [_line(r) for r in runs]),
                             answered)

    # -- compare ------------------------------------------------------------------------------

    def action_compare(self) -> None:
        from tuitrack.app.screens.compare import CompareScreen

        runs = [r for r in (self.index.run(i) for i in self.marked) if r is not None]
        if len(runs) < 2:
            self.notify("Mark 2 or more runs with space (A marks all), then c compares them",
                        severity="warning", timeout=4)
            return
        self.app.push_screen(CompareScreen(runs, dict(self.index.experiments), self.index.store, dict(self.marked),
                                           show_system=self.show_system_metrics))

    def action_scatter(self) -> None:
        from tuitrack.app.screens.scatter import ScatterScreen

        if self.current_experiment is None:
            return
        runs = self.index.runs_of(self.current_experiment)
        experiment = self.index.experiments[self.current_experiment]
        if not any(r.metrics for r in runs):
            self.notify("This experiment's runs have no metrics to plot", severity="warning")
            return
        self.app.push_screen(ScatterScreen(runs, experiment.name or experiment.experiment_id))

    # -- export -------------------------------------------------------------------------------

    def action_export(self, fmt: str) -> None:
        """The runs the table shows (filter and sort as on screen), written to ./tuitrack-*.FMT."""
        import os
        import time as _time

        from tuitrack.app.widgets.runs_table import RunsTable
        from tuitrack.export import FORMATS

        runs = self.query_one(RunsTable).runs
        if not runs:
            self.notify("No runs to export", severity="warning", timeout=2)
            return
        pairs = [(self.index.experiments.get(r.experiment_id), r) for r in runs]
        experiment = pairs[0][0].name if pairs[0][0] else "runs"
        safe = "".join(c if c.isalnum() or c in "-_." else "-" for c in experiment)
        path = os.path.abspath(f"tuitrack-{safe}-{_time.strftime('%Y%m%d-%H%M%S')}.{fmt}")
        try:
            with open(path, "x", encoding="utf-8") as f:
                f.write(FORMATS[fmt](pairs))
        except OSError as exc:
            self.notify(f"Not exported: {_reason(exc)}", severity="error", timeout=6)
            return
        self.notify(f"Wrote {len(runs)} run(s) to {path}", timeout=6)

    # -- prune --------------------------------------------------------------------------------

    def action_prune(self) -> None:
        from tuitrack.app.screens.prune import PruneScreen

        self.app.push_screen(PruneScreen(self, self.current_experiment))

    def set_prune_preview(self, run_ids: set[str]) -> None:
        """Mark × in the tree the runs the prune panel would delete."""
        from tuitrack.app.widgets.run_tree import RunTree

        tree = self.query_one(RunTree)
        changed = self.prune_preview ^ run_ids
        self.prune_preview = set(run_ids)
        for run_id in changed:
            run = self.index.run(run_id)
            if run is not None:
                tree.update_run(run)

    def delete_runs_as_one(self, runs: list[Run], description: str) -> None:
        """Soft-delete `runs` as one change: one u restores them all."""
        store = self.index.store
        self._apply_edit(description,
                         lambda: [store.delete_run(r) for r in runs],
                         lambda: [store.restore_run(self.index.run(r.run_id) or r) for r in runs],
                         [Change("run", r.experiment_id, r.run_id) for r in runs])

    def prune_and_purge(self, runs: list[Run]) -> None:
        store = self.index.store

        def purge(plan: PurgePlan) -> None:
            def do() -> None:
                for run in runs:
                    store.delete_run(run)
                self._execute_plan(plan)

            self._apply_edit(_purged(f"Pruned and purged {len(runs)} run(s)", plan), do, None,
                             [Change("run", r.experiment_id, r.run_id) for r in runs])

        self._confirm_purge(f"Prune and purge {_runs_label(runs)} for good?", runs, purge, "Nothing deleted")

    def _live_descendant(self, run: Run) -> Run | None:
        """A RUNNING descendant of `run` that still writes: a sweep's parent is alive through it."""
        seen, todo = {run.run_id}, list(self.index.children_ids(run.run_id))
        while todo:
            run_id = todo.pop()
            if run_id in seen:
                continue
            seen.add(run_id)
            child = self.index.run(run_id)
            if child is not None and child.status is RunStatus.RUNNING and not self._is_stale(child):
                return child
            todo.extend(self.index.children_ids(run_id))
        return None

    def action_kill_stale(self) -> None:
        stale = [r for r in self._targets() if r.status is RunStatus.RUNNING and self._is_stale(r)]
        alive = {r.run_id: child for r in stale if (child := self._live_descendant(r)) is not None}
        runs = [r for r in stale if r.run_id not in alive]
        if alive:
            first, child = next((self.index.run(i), c) for i, c in alive.items())
            self.notify(f"{_runs_label([first])} left RUNNING: its child {_runs_label([child])} still writes"
                        + (f" (and {len(alive) - 1} more parent(s))" if len(alive) > 1 else ""),
                        severity="warning", timeout=6)
        if not runs:
            if not alive:
                self.notify("K marks stale RUNNING runs (◔) KILLED; none is selected", severity="warning")
            return
        store = self.index.store
        ends = {r.run_id: self.index.last_write(r.run_id) for r in runs}

        def confirmed(yes: bool) -> None:
            if yes:
                self._apply_edit(f"Marked {_runs_label(runs)} KILLED",
                                 lambda: [store.terminate_run(r, RunStatus.KILLED, ends[r.run_id]) for r in runs],
                                 lambda: [store.terminate_run(r, RunStatus.RUNNING, None) for r in runs],
                                 [Change("run", r.experiment_id, r.run_id) for r in runs])

        self.app.push_screen(Confirm(f"Mark {_runs_label(runs)} KILLED? (u undoes)",
                                     ["silent for longer than --stale-after; ended at their last write:"]
                                     + [_line(r) for r in runs]), confirmed)


def _reason(exc: Exception) -> str:
    if isinstance(exc, SystemTagRefused):  # the app changes them only through what it offers
        return f"{exc}: the app leaves MLflow's own tags alone (R renames a run, e edits its note)"
    if isinstance(exc, OSError):
        return f"{exc.strerror or exc} ({exc.filename})" if exc.filename else str(exc.strerror or exc)
    return str(exc)
