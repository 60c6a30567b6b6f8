"""The main screen: the tree of experiments and runs, the runs table, and the run's detail.

Loading runs in a worker thread, in stages (experiments, run metas, run data) with the
experiment the user is looking at first, so the screen answers keys from the first frame.
Tree, table and detail follow one selected run: whichever pane moves, the others follow.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from rich.text import Text
from textual import events, on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import Screen
from textual.widgets import ContentSwitcher, Input, Static, Tree
from textual.worker import Worker, WorkerState, get_current_worker

from tuitrack.app.columns import CLOCK_COLUMNS, DEFAULT_HIDDEN, Column, cell, columns_for, hidden_to_remember
from tuitrack.app.messages import (
    ExperimentsLoaded,
    LoadingDone,
    StatusNote,
    RunDataLoaded,
    PlotLoaded,
    RunsLoaded,
    SizesLoaded,
    StoreChanged,
    StoreGone,
    WatchStarted,
    WatchTrouble,
)
from tuitrack.app.group_rows import GroupedRows, group_columns, group_summary, stand_in
from tuitrack.app.plotted import Plotted, for_group, for_run
from tuitrack.app.screens.columns import ColumnChooser
from tuitrack.app.screens.editing import EDIT_BINDINGS, RunEditing
from tuitrack.app.screens.group_by import GroupByChooser
from tuitrack.app.screens.metric_picker import MetricPicker
from tuitrack.app.status_look import glyph
from tuitrack.app.widgets.artifacts_view import ArtifactsView
from tuitrack.app.widgets.filter_input import FilterInput
from tuitrack.app.widgets.metric_plot import PALETTE, MetricPlot, PlotRun, default_metric
from tuitrack.app.widgets.run_detail import RunDetail, first_keys
from tuitrack.app.widgets.run_tree import NodeRef, RunTree
from tuitrack.app.widgets.runs_table import MAX_COLUMNS, RunsTable
from tuitrack.app.widgets.system_view import SystemView
from tuitrack.app.widgets.view_footer import ViewFooter
from tuitrack.live.follow import Follower, Listener
from tuitrack.live.index import RunIndex
from tuitrack.live.loading import LoadListener, StoreLoader
from tuitrack.live.metric_reads import PlotFeed, read_summary
from tuitrack.live.options import LiveOptions
from tuitrack.live.undo import UndoStack
from tuitrack.model import Run, RunStatus
from tuitrack.query import mlflow_filter
from tuitrack.query.groups import RunGroup, group_runs, is_group_id
from tuitrack.query.quick import matches
from tuitrack.safe_text import visible
from tuitrack.settings import MAX_LIST, PLOT_OPTIONS, SettingsFile, store_identity
from tuitrack.store.base import StoreError
from tuitrack.system_metrics import is_system

def _experiment_of(items: list[Plotted]) -> str | None:
    """The experiment of the first run plotted (a group's runs are all of one experiment)."""
    return next((run.experiment_id for item in items for run in item.runs), None)


def _plural(count: int, word: str) -> str:
    return f"{count} {word}" + ("" if count == 1 else "s")


SUMMARIES_EVERY = 3.0  # seconds between full reads for min/max while the selected run writes
AGES_EVERY = 60.0  # seconds between refreshes of the "5m ago" ages on screen
GONE_EVERY = 2.0  # seconds between checks that the store's folder or database is still there
EXPAND_ALL_BELOW = 300  # with fewer runs than this in the store, every experiment opens at start
VIEW_KEYS = Binding.Group("view", compact=True)  # 1 2 3 4: the views of the pane under the table


class MainScreen(RunEditing, Screen):
    ESCAPE_TO_MINIMIZE = False  # our escape minimizes and also puts the focus back
    BINDINGS = [
        # priority: handled when the key arrives, so keys typed right behind it reach the filter
        # (a normal binding runs only after the key has bubbled up from the focused pane).
        Binding("slash", "filter", "Filter", id="filter", priority=True,
                tooltip="Narrow runs by name, id, param, tag or metric"),
        Binding("escape", "escape", "Back", show=False, tooltip="Clear the filter / close the detail view"),
        # The footer has room for the keys that matter most at 80 columns; ? lists every key.
        Binding("full_stop", "toggle_deleted", "Deleted", id="toggle-deleted", show=False,
                tooltip="Show or hide deleted runs and experiments"),
        Binding("y", "copy_run_id", "Copy id", id="copy-run-id",
                show=False, tooltip="Copy the run id to the clipboard (works over SSH)"),
        Binding("ctrl+r", "reload", "Reload", id="reload", show=False, tooltip="Read the store again"),
        Binding("i", "focus_detail", "Detail", id="focus-detail", show=False, tooltip="Focus the pane under the table (detail, plot, ...)"),
        Binding("p", "toggle_plot", "Plot", id="toggle-plot", show=False, tooltip="Show metric curves (again: the run's detail)"),
        Binding("1", "show_view('detail')", "Detail", id="view-detail", group=VIEW_KEYS, tooltip="Under the table: the run's detail"),
        Binding("2", "show_view('plot')", "Plot", id="view-plot", group=VIEW_KEYS, tooltip="Under the table: metric curves"),
        Binding("3", "show_view('system')", "System", id="view-system", group=VIEW_KEYS,
                tooltip="Under the table: the run's CPU, memory, GPU, disk and network use"),
        Binding("4", "show_view('artifacts')", "Artifacts", id="view-artifacts", group=VIEW_KEYS,
                tooltip="Under the table: the run's artifacts (enter previews one)"),
        Binding("space", "toggle_mark", "Mark", id="mark", show=False,
                tooltip="Mark the run: marked runs are plotted and changed together"),
        Binding("tab", "cycle_pane(1)", "Next pane", id="next-pane", show=False, tooltip="Next pane: tree, table, detail"),
        Binding("shift+tab", "cycle_pane(-1)", "Previous pane", id="previous-pane", show=False, tooltip="Previous pane"),
        Binding("b", "group_by", "Group", id="group-by", show=False,
                tooltip="Group runs by params: a row per group, mean ± std per metric"),
        Binding("backspace", "group_back", "Back", id="group-back", tooltip="Grouped: back from a group, then back to the runs"),
        *EDIT_BINDINGS,
    ]

    def __init__(
        self,
        index: RunIndex,
        clock: Callable[[], float] = time.time,
        live: LiveOptions = LiveOptions(),
        settings: SettingsFile | None = None,
    ) -> None:
        super().__init__()
        self.index = index
        # What the user chose before (columns, metrics, plot options), applied here; choices
        # made here are handed back to it. The screen reads and writes no file itself.
        self.settings = settings if settings is not None else SettingsFile(None)
        self.store_key = store_identity(index.store.location)
        self._plot_options: dict[str, object] = {}  # as last applied or remembered
        self.clock = clock
        self.watch = live.watch
        self.stale_after_ms = int(live.stale_after * 1000)
        # What the status bar says of following the store, until the watcher says it is on.
        self.watch_mode = "live once loaded" if live.watch else "not watching (--no-watch)"
        self.follower = Follower(index, Listener(
            delta=lambda delta: self.post_message(StoreChanged(delta)),
            status=lambda description: self.post_message(WatchStarted(description)),
            trouble=lambda problem: self.post_message(WatchTrouble(problem)),
            gone=lambda path: self.post_message(StoreGone(path)),
            sizes=lambda experiment_id, run_ids: self.post_message(SizesLoaded(experiment_id, run_ids)),
        ), clock=clock, poll=live.poll)
        self.marked: dict[str, str] = {}  # marked run id -> its colour in plots, in marking order
        self.undo_stack = UndoStack()
        self.prune_preview: set[str] = set()  # runs the prune panel would delete (× in the tree)
        self._histories: dict[tuple[str, str], PlotFeed] = {}  # (run id, metric) -> its plotted points
        self._plotted: list[Plotted] = []  # what the plot shows (runs, a parent's children, groups)
        self.groups: dict[str, RunGroup] = {}  # group id -> the group, while the table shows groups
        self.group_keys: list[str] = []  # the params the table groups runs by (b); [] for plain runs
        self.open_group: str | None = None  # the group whose runs the table shows (enter on a group)
        self._summaries_timer = None
        self.show_deleted = False
        self.query_text = ""
        self.query_condition = None  # a parsed MLflow filter, when the text is one
        self.query_error = ""
        self._filter_answers: dict[str, tuple[Run, bool, bool]] = {}  # see _passes_filter
        self._shown_counts: dict[str, int] | None = None  # see _filtered_count
        self._shown: dict[str, bool] = {}  # run id -> whether the filter shows it, as counted
        self._columns_cache: tuple | None = None  # see _columns_of
        self.current_experiment: str | None = None
        self.selected_run_id: str | None = None
        self._hidden_columns: dict[str, set[str]] = {}  # experiment id -> its hidden column keys
        self.show_system_metrics = False  # system/ metrics in the table, the plot's metrics and the picker
        self._wake = threading.Event()
        self._detail_cache: dict[str, tuple[dict, int | None]] = {}
        self.loader = StoreLoader(index, self.follower if live.watch else None, LoadListener(
            experiments=lambda: self.post_message(ExperimentsLoaded()),
            runs=lambda experiment_id: self.post_message(RunsLoaded(experiment_id)),
            data=lambda experiment_id, run_ids: self.post_message(RunDataLoaded(experiment_id, run_ids)),
            done=lambda seconds: self.post_message(LoadingDone(seconds)),
            note=lambda note: self.post_message(StatusNote(note)),
            sizes=lambda experiment_id: self.post_message(SizesLoaded(experiment_id)),
        ))
        self._painted = self.loader.painted  # set once the experiments are on screen
        self.loaded = False  # every run's data is read (tests and benchmarks wait for it)
        self._reopen: set[str] = set()  # experiments to open again once reloaded
        self._user_moved = False  # the user chose where to look: loading must not move them
        self._focus_before_detail = None
        self._view_before_detail: str | None = None  # enter showed the detail over this view

    def compose(self) -> ComposeResult:
        yield Static(id="status-bar")
        with Horizontal(id="panes"):
            yield RunTree(clock=self.clock, id="tree")
            with Vertical(id="right"):
                yield FilterInput(self._completion_runs, placeholder="/ filter: words runs must contain",
                                  id="filter", compact=True)
                yield Static(id="filter-candidates")
                yield Static(id="filter-error")
                yield RunsTable(clock=self.clock, id="table")
                with ContentSwitcher(initial="detail", id="lower"):
                    yield RunDetail(clock=self.clock, id="detail")
                    yield MetricPlot(id="plot")
                    yield SystemView(id="system")
                    yield ArtifactsView(id="artifacts")
        yield ViewFooter(lambda: f"show_view('{self._view()}')")

    def on_mount(self) -> None:
        self.query_one(RunTree).focus()
        for pane in (self.query_one(RunTree), self.query_one(RunsTable)):
            pane.is_stale = self._is_stale
            pane.is_marked = lambda run: run.run_id in self.marked
        self.query_one(RunsTable).leaves_out = lambda metric: not self.show_system_metrics and is_system(metric)
        self.query_one(RunTree).is_previewed = lambda run: run.run_id in self.prune_preview
        self._apply_plot_options()
        self.set_interval(30, self._refresh_stale)
        self.set_interval(AGES_EVERY, self._refresh_ages)
        self.set_interval(GONE_EVERY, self._check_gone)
        self._set_status("loading…")
        self.load_store()

    # -- loading (worker thread) ---------------------------------------------------------------

    @work(thread=True, exclusive=True, group="loader", exit_on_error=False)
    def load_store(self) -> None:
        """Read the store (live/loading.py) on a worker thread; its messages arrive below."""
        worker = get_current_worker()
        self.loaded = False
        self.loader.run(cancelled=lambda: worker.is_cancelled)

    def _hurry(self, experiment_id: str) -> None:
        self.loader.hurry(experiment_id)

    # -- messages from the worker ----------------------------------------------------------------

    def on_experiments_loaded(self, _: ExperimentsLoaded) -> None:
        self._shown_counts = None
        tree = self.query_one(RunTree)
        self._reopen = {eid for eid, node in tree.experiment_nodes.items() if node.is_expanded}
        tree.set_experiments(self._visible_experiments(), {})
        visible = {e.experiment_id for e in self._visible_experiments()}
        if self.current_experiment not in visible:  # first load, or it is gone
            first = next(iter(self._visible_experiments()), None)
            self.current_experiment = first.experiment_id if first else None
        if self.current_experiment is not None:
            tree.select_experiment(self.current_experiment)
        self._update_status()
        self.call_after_refresh(self._painted.set)

    async def on_runs_loaded(self, message: RunsLoaded) -> None:
        self._shown_counts = None
        eid = message.experiment_id
        experiment = self.index.experiments[eid]
        tree = self.query_one(RunTree)
        count = self._visible_count(eid)
        tree.update_experiment(experiment, count)
        node = tree.experiment_nodes.get(eid)
        small = self.index.run_count(include_deleted=True) < EXPAND_ALL_BELOW
        if node is not None and (node.is_expanded or eid in self._reopen or (small and not self._reopen)):
            await self._fill_experiment(eid)
            node.expand()
        selected = self.index.run(self.selected_run_id) if self.selected_run_id else None
        if selected is not None and selected.experiment_id == eid:
            tree.select_run(selected.run_id)  # after a reload: back where the user was
        elif not self._user_moved and count and not self._visible_runs(self.current_experiment or ""):
            # Nothing to see in the first experiment (an empty Default): show one with runs.
            self.current_experiment = eid
            tree.select_experiment(eid)
        if eid == self.current_experiment:
            self._refresh_table()
        self._update_status()

    def on_run_data_loaded(self, message: RunDataLoaded) -> None:
        self._shown_counts = None  # data read in place: the filter's answers may change
        tree = self.query_one(RunTree)
        for run_id in message.run_ids:
            run = self.index.run(run_id)
            if run is not None and (run.problems or run.status is RunStatus.RUNNING):
                # Problems found in data files, and staleness (known once the files' times are
                # read), change the glyph.
                tree.update_run(run)
        if message.experiment_id == self.current_experiment:
            # Only the rows of the runs just read, when the table can: refreshing all of a
            # 2,500-run experiment per chunk of 200 was most of the UI thread's loading time.
            runs = [r for r in map(self.index.run, message.run_ids) if r is not None]
            shown = [r for r in runs if self.show_deleted or not r.is_deleted]
            if self.query_text or self.group_keys or not self.query_one(RunsTable).update_rows(shown):
                self._refresh_table()
        if self.selected_run_id in message.run_ids:
            self._show_detail()
            self._follow_view()

    def on_sizes_loaded(self, message: SizesLoaded) -> None:
        experiment = self.index.experiments.get(message.experiment_id)
        if experiment is not None:
            self.query_one(RunTree).update_experiment(
                experiment, self._visible_count(message.experiment_id),
                self.index.experiment_bytes(message.experiment_id))
        if message.experiment_id == self.current_experiment:
            table = self.query_one(RunsTable)
            runs = [r for r in map(self.index.run, message.run_ids or ()) if r is not None]
            if message.run_ids is None or not table.update_rows(runs):  # a growing run: its row only
                table.recompute()

    def on_status_note(self, message: StatusNote) -> None:
        self._update_status(message.note)

    def on_loading_done(self, message: LoadingDone) -> None:
        self.loaded = True
        if self.watch and not self.follower.started:
            self.start_watching()
        self.log(f"store loaded in {message.seconds:.3f}s")
        self._update_status("")
        if self.query_text:
            self._apply_filter()

    # -- following the store (live/follow.py; the follower's messages arrive below) -------------

    @property
    def gone(self) -> str | None:
        return self.follower.gone

    @work(thread=True, exclusive=True, group="watch", exit_on_error=False)
    def start_watching(self) -> None:
        self.follower.start()

    @work(thread=True, exclusive=True, group="gone", exit_on_error=False)
    def _check_gone(self) -> None:
        """A stat off the UI thread (a network mount may be slow to answer)."""
        self.follower.check_gone()

    def on_store_gone(self, message: StoreGone) -> None:
        self._update_status()
        if message.path is not None:
            self.notify(f"The store is gone: {message.path}. What it held stays on screen; "
                        "it is read again when it comes back", severity="error", timeout=10)
        else:
            self.notify("The store is back: reading it again", timeout=4)
            self.action_reload()

    def stop_watching(self) -> None:
        self.follower.stop()

    def on_unmount(self) -> None:
        self.stop_watching()

    def on_watch_trouble(self, message: WatchTrouble) -> None:
        if message.problem is None:
            self._set_status("")
            self.notify("The store answers again; following it", timeout=4)
        else:
            self._set_status(f"⚠ not following: {message.problem}")
            self.notify(f"Cannot follow the store: {message.problem} (still trying)", severity="error", timeout=8)

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        """A failed (re)load says why and leaves the last good view in place."""
        if event.worker.group == "loader" and event.state is WorkerState.ERROR:
            error = event.worker.error
            reason = str(error) if isinstance(error, StoreError) else f"{type(error).__name__}: {error}"
            self._set_status(f"⚠ reading failed: {reason}")
            self.notify(f"Reading the store failed: {reason}; ctrl+r tries again", severity="error", timeout=8)

    def on_watch_started(self, message: WatchStarted) -> None:
        self.watch_mode = message.description
        self._update_status()

    def _filled(self, experiment_id: str) -> bool:
        """Whether the tree holds the experiment's run nodes (experiments fill when opened)."""
        node = self.query_one(RunTree).experiment_nodes.get(experiment_id)
        first = node.children[0] if node is not None and node.children else None
        return first is not None and first.data is not None and first.data.kind == "run"

    async def on_store_changed(self, message: StoreChanged) -> None:
        """Repaint only what the batch changed."""
        delta = message.delta
        self._recount_shown(delta)  # before anything asks the filter about the new runs
        tree = self.query_one(RunTree)
        if delta.experiments:
            self._filter_answers.clear()  # the quick filter matches experiment names too
            await self._rebuild_tree(open_new=True)
        affected = set(delta.experiments_reloaded)
        for run_id in delta.runs_added:
            run = self.index.run(run_id)
            if run is not None:
                affected.add(run.experiment_id)
        for run_id in delta.runs_removed:
            node = tree.run_nodes.get(run_id)
            if node is not None and node.data is not None:
                affected.add(node.data.experiment_id)
        for eid in affected:
            experiment = self.index.experiments.get(eid)
            if experiment is None:
                continue
            tree.update_experiment(experiment, self._visible_count(eid))
            node = tree.experiment_nodes.get(eid)
            if node is not None and (node.is_expanded or node.children):
                await self._fill_experiment(eid)
        changed = [self.index.run(r) for r in delta.runs_changed]
        # A run deleted (or gone) loses its mark: the next change must not reach it unseen.
        unmarked = [r for r in delta.runs_removed if self.marked.pop(r, None)] + [
            run.run_id for run in changed if run is not None and run.is_deleted and self.marked.pop(run.run_id, None)]
        if unmarked:
            self._refresh_plot()
        logged = {run_id for run_id, _ in delta.metrics}
        for run in changed:
            if run is None or run.experiment_id in affected:
                continue
            should_show = (self.show_deleted or not run.is_deleted) and self._passes_filter(run)
            if not self._filled(run.experiment_id):
                # Not drawn in the tree yet (a collapsed experiment): only its count may change,
                # and only by a change of the run's meta (deleted, restored), not by new points.
                experiment = self.index.experiments.get(run.experiment_id)
                if experiment is not None and run.run_id not in logged:
                    tree.update_experiment(experiment, self._visible_count(run.experiment_id))
                continue
            shown = run.run_id in tree.run_nodes
            if shown != should_show:  # deleted while hidden, or restored: the tree's shape changes
                affected.add(run.experiment_id)
                experiment = self.index.experiments.get(run.experiment_id)
                if experiment is not None:
                    tree.update_experiment(experiment, self._visible_count(run.experiment_id))
                    node = tree.experiment_nodes.get(run.experiment_id)
                    if node is not None and (node.is_expanded or node.children):
                        await self._fill_experiment(run.experiment_id)
            else:
                tree.update_run(run)
        shown_changed = [r for r in changed if r is not None and r.experiment_id == self.current_experiment]
        if self.current_experiment in affected:
            self._refresh_table()
        elif shown_changed and (self.query_text or not self.query_one(RunsTable).update_rows(shown_changed)):
            self._refresh_table()  # a filter may now take or leave them, or the table's shape changes
        if self.selected_run_id in delta.runs_changed:
            # The overview and latest values now; min and max (a full read) at most every
            # few seconds while the run writes.
            self._show_detail(fresh_summaries=False)
            if self._summaries_timer is None:
                self._summaries_timer = self.set_timer(SUMMARIES_EVERY, self._resummarize)
            self._follow_view()
        if self._plot_shown():
            plotted = delta.metrics & set(self._histories)
            if plotted:
                self._grow_plot(plotted)
            if self._plot_labels_changed(delta.runs_changed):
                self._refresh_plot()
        self._update_status()

    def _plot_labels_changed(self, run_ids) -> bool:
        """A plotted run was renamed: the plot's title and legend say its name."""
        on_plot = {run.run_id for item in self._plotted for run in item.runs}
        if on_plot.isdisjoint(run_ids):
            return False
        return [(i.key, i.label) for i in self._plot_runs()] != [(i.key, i.label) for i in self._plotted]

    def _resummarize(self) -> None:
        self._summaries_timer = None
        if self.selected_run_id is not None:
            self._detail_cache.pop(self.selected_run_id, None)
            self._show_detail()

    def _is_stale(self, run: Run) -> bool:
        return self.index.is_stale(run, int(self.clock() * 1000), self.stale_after_ms)

    def _refresh_ages(self) -> None:
        """Labels say "5m ago": redraw the ones on screen now and then (cheap at any size)."""
        tree = self.query_one(RunTree)
        for run_id in tree.visible_run_ids():
            run = self.index.run(run_id)
            if run is not None:
                tree.update_run(run)
        self.query_one(RunsTable).recompute(CLOCK_COLUMNS)

    def _refresh_stale(self) -> None:
        """Running runs turn stale by the clock alone: look again now and then, and redraw the
        labels and rows that say otherwise (every row of a 2,500-run experiment every 30 s was
        most of the idle CPU; then relabeling all 7,000 dead RUNNING runs of 50,000 was)."""
        running = self.index.running_runs()
        self.query_one(RunTree).update_stale(running)
        table = self.query_one(RunsTable)
        changed = table.stale_changed(running)
        if changed and (self.query_text or not table.update_rows(changed)):
            self._refresh_table()

    # -- what is visible ---------------------------------------------------------------------------

    def _visible_experiments(self):
        return self.index.sorted_experiments(include_deleted=self.show_deleted)

    def _visible_runs(self, experiment_id: str) -> list[Run]:
        runs = self.index.runs_of(experiment_id, include_deleted=self.show_deleted)
        return [r for r in runs if self._passes_filter(r)] if self.query_text else runs

    def _filtered_count(self, experiments) -> int:
        """How many runs of `experiments` (the visible ones) the filter shows: counted once, then
        kept by deltas (`_recount_shown`), since counting every run on every batch of the
        watcher took 50 ms at 50,000 runs."""
        if self._shown_counts is None:
            self._shown, counts = {}, {}
            for experiment in experiments:
                runs = self.index.runs_of(experiment.experiment_id, include_deleted=True)
                self._shown.update((r.run_id, self._shows(r)) for r in runs)
                counts[experiment.experiment_id] = sum(self._shown[r.run_id] for r in runs)
            self._shown_counts = counts
        return sum(self._shown_counts.values())

    def _shows(self, run: Run) -> bool:
        visible = self.show_deleted or not run.is_deleted
        return self._passes_filter(run) and visible

    def _recount_shown(self, delta) -> None:
        """The filter's counts after runs changed: whether each run's new copy is shown, against
        whether it was. Anything else (runs added or removed, experiments) counts again."""
        counts = self._shown_counts
        if counts is None or not self.query_text:
            return
        if delta.experiments or delta.experiments_reloaded or delta.runs_added or delta.runs_removed:
            self._shown_counts = None
            return
        for run_id in delta.runs_changed:
            run = self.index.run(run_id)
            if run is None or run.experiment_id not in counts:
                self._shown_counts = None
                return
            shown = self._shows(run)
            counts[run.experiment_id] += int(shown) - int(self._shown.get(run_id, False))
            self._shown[run_id] = shown

    def _visible_count(self, experiment_id: str) -> int:
        """len(_visible_runs), without listing and sorting them unless a filter is on."""
        if self.query_text:
            return len(self._visible_runs(experiment_id))
        return self.index.run_count(include_deleted=self.show_deleted, experiment_id=experiment_id)

    def _passes_filter(self, run: Run) -> bool:
        """Whether the filter keeps `run`, remembered per run: the status bar, the tree and the
        table ask for every run on every batch the watcher brings. The index replaces a changed
        run with a new object and only ever fills in data in place, so (object, has data) says
        when an answer is still good; a new query clears them all."""
        if not self.query_text or (self.query_error and self.query_condition is None):
            return True  # no filter, or one being typed that does not parse yet: show everything
        has_data = self.index.has_data(run)
        known = self._filter_answers.get(run.run_id)
        if known is not None and known[0] is run and known[1] == has_data:
            return known[2]
        if self.query_condition is not None:
            if run.datasets is None and mlflow_filter.uses_datasets(self.query_condition):
                run.datasets = self.index.store.dataset_inputs(run)  # a few small files, once per run
            answer = mlflow_filter.matches(self.query_condition, run)
        else:
            experiment = self.index.experiments.get(run.experiment_id)
            answer = matches(run, self.query_text, experiment.name if experiment else "")
        self._filter_answers[run.run_id] = (run, has_data, answer)
        return answer

    async def _fill_experiment(self, experiment_id: str) -> None:
        runs = self._visible_runs(experiment_id)
        family = self.index.family_of(runs, experiment_id)
        await self.query_one(RunTree).show_runs(
            self.index.experiments[experiment_id], family.roots, family.children_of, len(runs))

    def _refresh_table(self) -> None:
        table = self.query_one(RunsTable)
        if self.current_experiment is None or not self.index.runs_loaded(self.current_experiment):
            table.empty_text = "Loading runs…"
            table.set_runs([], [])
            return
        runs = self._visible_runs(self.current_experiment)
        table.empty_text = "No runs match the filter" if self.query_text else "No runs"
        table.hidden = self.hidden_columns
        if self.group_keys:
            runs, columns = self._grouped_view(runs)
        else:
            self.groups = {}
            table.cell_of, table.glyph_of, table.sort_value_of = cell, glyph, None
            columns = self._columns_of(runs)
            # Families together, as in the tree: a sweep's runs right under its parent (a sort
            # by a column, `s`, orders them by that column instead).
            runs = self.index.family_of(runs, self.current_experiment).in_order()
        table.set_runs(runs, columns, keep_run_id=self.selected_run_id)
        if self.selected_run_id not in {r.run_id for r in runs}:
            # The selected run is filtered out or gone: select what the table shows instead,
            # so that the detail and `y` never act on a run the user cannot see.
            first = table.highlighted_run
            self.selected_run_id = first.run_id if first else None
            self._selection_changed()

    def _grouped_view(self, runs: list[Run]) -> tuple[list[Run], list[Column]]:
        """The table's rows and columns while grouped (b): a row per group (group_rows.py), or
        the runs of the group opened."""
        groups = group_runs(runs, self.group_keys)
        self.groups = {g.group_id: g for g in groups}
        rows = GroupedRows(groups)
        table = self.query_one(RunsTable)
        table.cell_of, table.glyph_of = rows.cell, lambda run, stale: rows.glyph(run, stale, glyph)
        table.sort_value_of = rows.sort_value
        opened = self.groups.get(self.open_group or "")
        if opened is not None:
            return opened.runs, self._columns_of(opened.runs)
        self.open_group = None  # gone (a filter, a change of the runs): back to the groups
        return [stand_in(g, self.current_experiment or "") for g in groups], group_columns(groups)

    def action_group_by(self) -> None:
        if self.current_experiment is None:
            return
        runs = self._visible_runs(self.current_experiment)
        params = sorted({k for r in runs for k in r.params})

        def chosen(keys: list[str] | None) -> None:
            self._set_grouping(keys or [], None)

        self.app.push_screen(GroupByChooser(params, self.group_keys), chosen)

    def _set_grouping(self, keys: list[str], opened: str | None) -> None:
        """Group by `keys` ([]: plain runs), with the group `opened` showing its runs."""
        back_to = self.open_group if opened is None else None
        self.group_keys, self.open_group = keys, opened
        if not keys:
            for key in [k for k in self.marked if is_group_id(k)]:
                del self.marked[key]  # no group to draw any more
        if back_to is not None:
            self.selected_run_id = back_to  # back from a group: on its row
        elif keys:
            self.query_one(RunsTable).cursor_row = 0  # the first group, or the opened group's first run
        self._refresh_table()
        self._refresh_plot()
        self._update_status()
        self.refresh_bindings()

    def action_compare(self) -> None:
        """Marked groups side by side (group_compare.py); marked runs as always."""
        groups = [self.groups[k] for k in self.marked if k in self.groups]
        if not groups:
            super().action_compare()
            return
        if len(groups) < 2:
            self.notify("Mark 2 or more groups with space (A marks all), then c compares them",
                        severity="warning", timeout=4)
            return
        from tuitrack.app.screens.group_compare import GroupCompareScreen

        self.app.push_screen(GroupCompareScreen(groups, self.index.store, dict(self.marked),
                                                show_system=self.show_system_metrics))

    def action_export(self, fmt: str) -> None:
        if self.group_keys and self.open_group is None:
            self.notify("The table shows groups: open one (enter) or go back to the runs (escape) to export "
                        "runs; tuitrack ls --group-by writes the groups", severity="warning", timeout=6)
            return
        super().action_export(fmt)

    def action_group_back(self) -> None:
        if self.open_group is not None:
            self._set_grouping(self.group_keys, None)
        elif self.group_keys:
            self._set_grouping([], None)

    def _columns_of(self, runs: list[Run]) -> list[Column]:
        """The table's columns for `runs`, computed again only when a run changed: gathering the
        keys of a run with 100,000 metrics takes a few hundred ms, and the table is refreshed on
        every batch the watcher brings. The index replaces a changed run (and fills in data only
        once), so the runs' identities and data states say when the answer is still good."""
        states = [self.index.has_data(r) for r in runs] + [self.show_system_metrics]
        cached = self._columns_cache
        if cached is None or len(cached[0]) != len(runs) or cached[1] != states \
                or any(a is not b for a, b in zip(cached[0], runs)):  # the runs themselves are kept
            cached = self._columns_cache = (list(runs), states, columns_for(
                runs, disk=self.index.store.measures_disk, system=self.show_system_metrics))
        return cached[2]

    # -- remembered settings ---------------------------------------------------------------------

    @property
    def hidden_columns(self) -> set[str]:
        """The current experiment's hidden columns: as chosen with C (this session or before)."""
        eid = self.current_experiment or ""
        if eid not in self._hidden_columns:
            remembered = self.settings.view(self.store_key, eid).hidden_columns
            self._hidden_columns[eid] = set(remembered) if remembered is not None else set(DEFAULT_HIDDEN)
        return self._hidden_columns[eid]

    @hidden_columns.setter
    def hidden_columns(self, hidden: set[str]) -> None:
        self._hidden_columns[self.current_experiment or ""] = set(hidden)

    def _remembered_metrics(self, items: list[Plotted]) -> list[str] | None:
        """The metrics last chosen for the plotted runs' experiment, if any were."""
        experiment = _experiment_of(items)
        return self.settings.view(self.store_key, experiment).metrics if experiment is not None else None

    def _remember_metrics(self, metrics: list[str]) -> None:
        experiment = _experiment_of(self._plot_runs())
        if experiment is not None:
            self.app.remember(lambda: self.settings.remember_view(self.store_key, experiment, metrics=metrics))

    def _current_plot_options(self) -> dict[str, object]:
        plot = self.query_one(MetricPlot)
        return {name: option.from_widget(getattr(plot, option.attribute)) for name, option in PLOT_OPTIONS.items()}

    def _apply_plot_options(self) -> None:
        plot = self.query_one(MetricPlot)
        for name, value in self.settings.settings.plot.items():
            option = PLOT_OPTIONS[name]
            setattr(plot, option.attribute, option.to_widget(value))
        self._plot_options = self._current_plot_options()

    def remember_plot_options(self) -> None:
        """Called after every action: plot options the user changed since are remembered."""
        now = self._current_plot_options()
        changed = {name: value for name, value in now.items() if self._plot_options.get(name) != value}
        if changed:
            self._plot_options = now
            self.app.remember(lambda: self.settings.remember_plot(changed))

    def _set_status(self, note: str = "") -> None:
        self._status_note = note
        self._update_status()

    def _update_status(self, note: str | None = None) -> None:
        if note is not None:
            self._status_note = note
        runs = self.index.run_count(include_deleted=self.show_deleted)
        experiments = self._visible_experiments()
        text = Text(no_wrap=True, overflow="ellipsis")
        text.append(" tuitrack ", style="bold reverse")
        text.append(f" {visible(self.index.store.location)} ", style="bold")
        text.append(f"│ {_plural(len(experiments), 'experiment')}, {_plural(runs, 'run')} ")
        if self.query_error:
            text.append("│ filter: not valid (see below the filter) ", style="bold red")
        elif self.query_text:
            shown = self._filtered_count(experiments)
            kind = "MLflow filter" if self.query_condition is not None else "filter"
            text.append(f"│ {kind}: {shown} of {runs} ", style="bold")
        if self.group_keys:
            opened = self.groups.get(self.open_group or "")
            if opened is not None:
                text.append(f"│ group {visible(opened.label())}: {_plural(opened.count, 'run')} (esc: groups) ",
                            style="bold")
            else:
                text.append(f"│ grouped by {visible(', '.join(self.group_keys))}: "
                            f"{_plural(len(self.groups), 'group')} (enter opens, esc: runs) ", style="bold")
        if self.show_deleted:
            text.append("│ deleted shown ", style="italic")
        if self.marked:
            text.append(f"│ {len(self.marked)} marked (M clears) ", style="bold")
        if self.gone is not None:  # what is on screen stays, but nothing of it is live any more
            text.append(f"│ ⚠ the store is gone: {visible(self.gone)} (showing what was there) ", style="bold red")
        elif self.watch:
            text.append(f"│ {visible(self.watch_mode)} ", style="dim")
        if getattr(self, "_status_note", ""):
            text.append(f"│ {visible(self._status_note)}", style="dim italic")  # may quote a store error
        if text.plain != getattr(self, "_status_plain", None):
            self._status_plain = text.plain
            # One line of the screen's width whatever it says (styles/app.tcss): no layout pass,
            # which would arrange every widget again (a loading store updates it per chunk).
            self.query_one("#status-bar", Static).update(text, layout=False)

    # -- selection: tree, table and detail follow each other -------------------------------------

    @on(Tree.NodeExpanded)
    async def _expanded(self, event: Tree.NodeExpanded) -> None:
        ref: NodeRef | None = event.node.data
        if ref is None or ref.kind != "experiment" or event.node.children:
            return
        if self.index.runs_loaded(ref.experiment_id):
            await self._fill_experiment(ref.experiment_id)
        else:
            self.query_one(RunTree).show_loading(ref.experiment_id)
            self._hurry(ref.experiment_id)

    @on(Tree.NodeHighlighted)
    def _tree_highlighted(self, event: Tree.NodeHighlighted) -> None:
        # Only the user moving the tree's cursor chooses the run. Rebuilding nodes (filter,
        # deleted toggle, reload) also moves it: those events are stale by the time they arrive
        # or come while another pane has focus, and programmatic moves set the state directly.
        tree = self.query_one(RunTree)
        if event.node is not tree.cursor_node or not tree.has_focus:
            return
        ref: NodeRef | None = event.node.data
        if ref is None:
            return
        if self._painted.is_set():
            self._user_moved = True
        self._switch_experiment(ref.experiment_id)
        if ref.kind == "run" and ref.run_id != self.selected_run_id:
            self.selected_run_id = ref.run_id
            self.query_one(RunsTable).select_run_id(ref.run_id)
            self._selection_changed()

    @on(Tree.NodeSelected)
    def _tree_selected(self, event: Tree.NodeSelected) -> None:
        ref: NodeRef | None = event.node.data
        if ref is not None and ref.kind == "run":
            self.action_open_detail()
        elif ref is not None and ref.kind == "experiment":
            event.node.toggle()

    @on(RunsTable.RunHighlighted)
    def _table_highlighted(self, event: RunsTable.RunHighlighted) -> None:
        run = event.run
        if run is None or run.run_id == self.selected_run_id or run is not self.query_one(RunsTable).highlighted_run:
            return
        self.selected_run_id = run.run_id
        tree = self.query_one(RunTree)
        if self.query_one(RunsTable).has_focus:
            tree.select_run(run.run_id)
        self._selection_changed()

    @on(RunsTable.RunOpened)
    def _table_opened(self, event: RunsTable.RunOpened) -> None:
        if event.run.run_id in self.groups and self.open_group is None:
            self._set_grouping(self.group_keys, event.run.run_id)  # a group opens to its runs
            return
        self.action_open_detail()

    def _switch_experiment(self, experiment_id: str) -> None:
        if experiment_id == self.current_experiment:
            return
        self.current_experiment = experiment_id
        if not self.index.runs_loaded(experiment_id):
            self._hurry(experiment_id)
        elif any(not self.index.has_data(r) for r in self.index.runs_of(experiment_id)[:1]):
            self._hurry(experiment_id)
        self._refresh_table()

    def _selection_changed(self) -> None:
        """Another run is selected: the detail shows it, and so does the plot unless runs are
        marked (then the plot shows those)."""
        self._show_detail()
        if not self.marked and self._plot_shown():
            self._refresh_plot()
        self._follow_view()

    def _show_detail(self, fresh_summaries: bool = True) -> None:
        detail = self.query_one(RunDetail)
        if self._view() != "detail" and self.maximized is not detail:
            self._detail_dirty = True  # hidden behind another view: draw it when it shows again
            return
        self._detail_dirty = False
        group = self.groups.get(self.selected_run_id or "")
        if group is not None:
            detail.show_other(f"Group {group.label()}", group_summary(group))
            return
        run = self.index.run(self.selected_run_id) if self.selected_run_id else None
        if run is None:
            detail.show(None, None)
            return
        cached = self._detail_cache.get(run.run_id)
        summaries, disk = cached if cached else (None, None)
        detail.show(run, self.index.experiment_of(run), summaries, disk,
                    measures_disk=self.index.store.measures_disk)
        if cached is None and fresh_summaries and self.index.has_data(run):
            self._load_detail(run, first_keys(run.metrics, detail.rows))

    @on(RunDetail.MoreRows)
    def _more_detail_rows(self, message: RunDetail.MoreRows) -> None:
        run = self.index.run(self.selected_run_id) if self.selected_run_id else None
        if run is None or not self.index.has_data(run):
            return
        have = self._detail_cache.get(run.run_id, ({}, None))[0]
        self._load_detail(run, [k for k in first_keys(run.metrics, message.rows) if k not in have])

    @work(thread=True, exclusive=True, group="detail", exit_on_error=False)
    def _load_detail(self, run: Run, keys: list[str]) -> None:
        """Full histories of the metrics the detail shows (for min and max) and the disk size,
        off the UI thread."""
        worker = get_current_worker()
        summaries = {}
        for key in keys:
            if worker.is_cancelled:
                return
            summary = read_summary(self.index.store, run, key, lambda: worker.is_cancelled)
            if summary is not None:
                summaries[key] = summary
        disk = self.index.store.disk_usage(run)
        if not worker.is_cancelled:
            self.app.call_from_thread(self._detail_loaded, run.run_id, summaries, disk)

    def _detail_loaded(self, run_id: str, summaries: dict, disk: int | None) -> None:
        known = self._detail_cache.get(run_id, ({}, None))[0]
        self._detail_cache[run_id] = ({**known, **summaries}, disk)
        if run_id == self.selected_run_id:
            self._show_detail()

    # -- actions ---------------------------------------------------------------------------------

    def action_filter(self) -> None:
        box = self.query_one("#filter", Input)
        if self.focused is box:
            # A / inside the filter is text (metric keys like train/loss). As a key event it
            # queues behind the keys typed before it, so the order stays as typed.
            box.post_message(events.Key("slash", "/"))
            return
        # Focus now, not later (Widget.focus defers): keys typed right after / are the query.
        self.set_focus(box)

    @on(Input.Changed, "#filter")
    def _filter_changed(self, event: Input.Changed) -> None:
        """Plain words are a quick filter; `metrics.x < 1 and ...` is MLflow's filter language."""
        self.query_text = event.value.strip()
        self.query_condition, self.query_error = None, ""
        self._filter_answers.clear()
        if mlflow_filter.looks_like_filter(self.query_text):
            try:
                self.query_condition = mlflow_filter.parse(self.query_text)
            except mlflow_filter.FilterError as exc:
                self.query_error = str(exc)
        event.input.set_class(bool(self.query_error), "-invalid")
        self._show_filter_error()
        self._apply_filter()

    def _show_filter_error(self) -> None:
        """The filter's error in full, wrapped under the input; nothing when it parses."""
        shown = self.query_one("#filter-error", Static)
        shown.update(Text(f"MLflow filter, {self.query_error}" if self.query_error else ""))
        shown.set_class(bool(self.query_error), "-shown")

    @on(FilterInput.CandidatesChanged)
    def _show_candidates(self, event: FilterInput.CandidatesChanged) -> None:
        shown = self.query_one("#filter-candidates", Static)
        shown.update(event.candidates or "")
        shown.set_class(event.candidates is not None, "-shown")

    def _completion_runs(self) -> list[Run]:
        """What the filter completes from: the runs of the experiment shown first (the key
        limits keep its keys), then the others the tree shows, whatever the filter keeps."""
        here = self.index.runs_of(self.current_experiment, self.show_deleted) if self.current_experiment else []
        return here + [r for r in self.index.all_runs()
                       if r.experiment_id != self.current_experiment and (self.show_deleted or not r.is_deleted)]

    @on(Input.Submitted, "#filter")
    def _filter_submitted(self) -> None:
        self.query_one(RunsTable).focus()

    def _apply_filter(self) -> None:
        self._shown_counts, self._shown = None, {}
        if self.query_text and self.current_experiment and not self._visible_runs(self.current_experiment):
            with_matches = next((e.experiment_id for e in self._visible_experiments()
                                 if self._visible_runs(e.experiment_id)), None)
            if with_matches is not None:
                self.current_experiment = with_matches
                self.query_one(RunTree).select_experiment(with_matches)
        self._refresh_table()
        self.run_worker(self._refill_tree, exclusive=True, group="tree-refill")
        self._update_status()

    async def _refill_tree(self) -> None:
        tree = self.query_one(RunTree)
        for experiment in self._visible_experiments():
            eid = experiment.experiment_id
            if not self.index.runs_loaded(eid):
                continue
            tree.update_experiment(experiment, self._visible_count(eid))
            node = tree.experiment_nodes.get(eid)
            if node is not None and (node.is_expanded or node.children):
                await self._fill_experiment(eid)
        if self.selected_run_id:
            tree.select_run(self.selected_run_id)

    def action_escape(self) -> None:
        box = self.query_one("#filter", Input)
        if box.has_focus or box.value:
            had = box.value
            box.value = ""
            self.query_text = ""
            self.query_condition, self.query_error = None, ""
            self._filter_answers.clear()
            self._show_filter_error()
            if had:
                self._apply_filter()
            self.set_focus(self.query_one(RunsTable))
        elif self.maximized is not None:
            self.minimize()
            if self._view_before_detail is not None:
                self.action_show_view(self._view_before_detail)
                self._view_before_detail = None
            self.refresh_bindings()
            back = self._focus_before_detail
            if back is not None and back.is_attached:
                back.focus()
        elif self.group_keys:
            self.action_group_back()

    async def action_toggle_deleted(self) -> None:
        self.show_deleted = not self.show_deleted
        self._shown_counts = None
        await self._rebuild_tree()
        self._refresh_table()
        self._update_status()
        self.notify("Showing deleted runs" if self.show_deleted else "Hiding deleted runs", timeout=2)

    async def _rebuild_tree(self, open_new: bool = False) -> None:
        """Rebuild every experiment node (the set of visible experiments changed), keeping open
        what was open and the cursor where it was. With `open_new` (experiments created in the
        store), a new experiment opens like the others when they all are open."""
        tree = self.query_one(RunTree)
        was_open = {eid for eid, node in tree.experiment_nodes.items() if node.is_expanded}
        was_shut = {eid for eid, node in tree.experiment_nodes.items() if not node.is_expanded and node.children}
        open_new = open_new and bool(was_open) and not was_shut
        before = set(tree.experiment_nodes)
        tree.set_experiments(self._visible_experiments(), {})
        for experiment in self._visible_experiments():
            eid = experiment.experiment_id
            if open_new and eid not in before:
                was_open.add(eid)
                self._reopen.add(eid)  # if its runs are not loaded yet: opened when they are
            if not self.index.runs_loaded(eid):
                continue
            tree.update_experiment(experiment, self._visible_count(eid))
            if eid in was_open:
                await self._fill_experiment(eid)
                tree.experiment_nodes[eid].expand()
        if not (self.selected_run_id and tree.select_run(self.selected_run_id)) and self.current_experiment:
            tree.select_experiment(self.current_experiment)

    def action_copy_run_id(self) -> None:
        run_id = self._run_under_cursor()
        if run_id is None or run_id in self.groups:  # a group's row has no run id to copy
            self.notify("No run selected", severity="warning", timeout=2)
            return
        self.app.copy_to_clipboard(run_id)
        self.notify(f"Copied {run_id}", timeout=2)

    def action_open_detail(self) -> None:
        if self.selected_run_id is None:
            return
        detail = self.query_one(RunDetail)
        if self.maximized is None:
            self._focus_before_detail = self.focused
        if self._view() != "detail":
            # A hidden detail maximized is a blank screen: show it, and the view that was
            # under the table comes back with escape.
            view = self._view()
            self.action_show_view("detail")
            self._view_before_detail = view
        self.maximize(detail, container=False)
        detail.focus()
        self.refresh_bindings()  # the footer: escape back, no "Full screen"

    def action_cycle_pane(self, step: int) -> None:
        """Tab between the three panes (the filter is reached with /)."""
        panes = [self.query_one(RunTree), self.query_one(RunsTable), self._lower()]
        current = self.focused if self.focused in panes else None
        index = panes.index(current) + step if current is not None else (0 if step > 0 else -1)
        self.set_focus(panes[index % len(panes)])

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """Full screen: the footer offers the way back, not `Full screen` again."""
        if action in ("open_plot", "open_detail") and self.maximized is not None:
            return False
        if action == "leave_full_screen":
            return self.maximized is not None
        if action == "group_back":
            return bool(self.group_keys)
        return True

    def action_leave_full_screen(self) -> None:
        self.action_escape()

    def action_open_plot(self) -> None:
        plot = self.query_one(MetricPlot)
        if self.maximized is None:
            self._focus_before_detail = self.focused
        self.maximize(plot, container=False)
        plot.focus()
        self.refresh_bindings()  # the footer: escape back, no "Full screen"

    def action_focus_detail(self) -> None:
        self._lower().focus()

    def _lower(self):
        """The pane under the table: the view shown (the run's detail, the plot, ...)."""
        return self.query_one(f"#lower > #{self._view()}")

    def _view(self) -> str:
        """The id of the view shown under the table: detail, plot, system, ..."""
        switcher = next(self.query("#lower").results(ContentSwitcher), None)  # None while composing
        return (switcher.current if switcher is not None else None) or "detail"

    def _plot_shown(self) -> bool:
        return self._view() == "plot"

    # -- the views under the table: 1 detail, 2 plot, 3 system, ... -------------------------------

    def action_show_view(self, name: str) -> None:
        """Show the view `name` under the table (a child of #lower with that id)."""
        switcher = self.query_one("#lower", ContentSwitcher)
        self._view_before_detail = None  # a view chosen: escape from the detail keeps it
        if name == "artifacts" == self._view():  # 4 again: list them again (new artifacts)
            self._follow_view(again=True)
            return
        if name == self._view() or not switcher.query(f"#lower > #{name}"):
            return
        if self.maximized is not None:  # full screen was of the view being left
            self.minimize()
        had_focus = self.focused is self._lower()
        if self._view() == "detail" and any(w.group == "detail" and w.is_running for w in self.workers):
            # The hidden detail's min and max can wait: reading a long history for both at
            # once would halve the plot's speed. The detail reads them when it shows again.
            self.workers.cancel_group(self, "detail")
            self._detail_dirty = True
        switcher.current = name
        if had_focus or name == "artifacts":  # the artifacts' tree takes keys (enter previews)
            self._lower().focus()
        if name == "plot":
            self._refresh_plot()
        elif name == "detail":
            if self._detail_dirty:
                self._show_detail()
        else:
            self._follow_view()
        self.refresh_bindings()  # the footer: the key of this view in reverse

    def action_toggle_plot(self) -> None:
        self.action_show_view("detail" if self._plot_shown() else "plot")

    def _follow_view(self, again: bool = False) -> None:
        """A view that follows the selected run by itself (it has `show_run`, as the system
        view does) is told the run again: another was selected, or it logged. `again`: the
        artifacts view lists the same run's artifacts again."""
        view = self._lower()
        run = self.index.run(self.selected_run_id) if self.selected_run_id else None
        if isinstance(view, ArtifactsView):
            if run is None:
                view.show_run(None, None)
            elif again or run.run_id != view.run_id:
                view.show_run(self.index.store.artifacts(run), run)
            else:
                view.run_changed(run)  # it logged: while it does, the view lists its artifacts again
        elif hasattr(view, "show_run"):
            view.show_run(self.index.store, run, loaded=run is not None and self.index.has_data(run))

    def _run_under_cursor(self) -> str | None:
        """The run the focused pane's cursor is on, read now: keys typed quickly can run before
        the cursor's highlight message has updated `selected_run_id`."""
        tree, table = self.query_one(RunTree), self.query_one(RunsTable)
        if self.focused is tree and tree.cursor_node is not None and tree.cursor_node.data is not None:
            return tree.cursor_node.data.run_id
        if self.focused is table and table.highlighted_run is not None:
            return table.highlighted_run.run_id
        return self.selected_run_id

    def action_toggle_mark(self) -> None:
        run_id = self._run_under_cursor()
        if run_id is None:
            return
        if run_id in self.marked:
            del self.marked[run_id]
        else:
            used = set(self.marked.values())
            self.marked[run_id] = next((c for c in PALETTE if c not in used), PALETTE[len(self.marked) % len(PALETTE)])
        run = self.index.run(run_id)
        if run is not None:
            self.query_one(RunTree).update_run(run)
        self.query_one(RunsTable).refresh()
        self._refresh_plot()  # the ▌ beside the run says it is marked: no toast to pile up
        self._update_status()
        # On to the next run, so that space space space marks three in a row.
        tree, table = self.query_one(RunTree), self.query_one(RunsTable)
        if self.focused is tree:
            tree.action_cursor_down()
        elif self.focused is table:
            table.action_cursor_down()

    def _plot_runs(self) -> list[Plotted]:
        """What the plot draws: the marked runs and groups, else the selected one; a sweep's
        parent without metrics of its own brings its children's curves (tuitrack.app.plotted)."""
        ids = list(self.marked) or ([self.selected_run_id] if self.selected_run_id else [])
        children_of = self._children_of
        out: list[Plotted] = []
        for key in ids:
            group = self.groups.get(key)
            if group is not None:
                out.append(for_group(group))
                continue
            run = self.index.run(key)
            if run is not None:
                out.extend(for_run(run, children_of))
        seen: set[str] = set()  # a child marked itself and through its parent: plotted once
        return [item for item in out if not (item.key in seen or seen.add(item.key))]

    def _children_of(self, run_id: str) -> list[Run]:
        return [r for r in (self.index.run(i) for i in self.index.children_ids(run_id)) if r is not None]

    def _refresh_plot(self) -> None:
        if self._plot_shown():
            runs = self._plot_runs()
            self._load_plot(runs, self._remembered_metrics(runs) or list(self.query_one(MetricPlot).metrics))

    @work(thread=True, exclusive=True, group="plot", exit_on_error=False)
    def _load_plot(self, items: list[Plotted], wanted: list[str]) -> None:
        """Histories of the plotted metrics of the plotted runs, off the UI thread, in pieces:
        the plot says how far it is, and memory stays bounded however long they are."""
        worker = get_current_worker()
        runs = list({r.run_id: r for item in items for r in item.runs}.values())
        available = sorted({k for r in runs for k in r.metrics if self.show_system_metrics or not is_system(k)})
        metrics = [m for m in wanted if m in available]
        if not metrics and available:
            metrics = [default_metric(available)]
        plot = self.query_one(MetricPlot)
        keep = {}
        for run in runs:
            for key in metrics:
                if key not in run.metrics:
                    continue
                feed = self._histories.get((run.run_id, key))
                if feed is None:
                    feed = PlotFeed(self.index.store, run, key)

                def progress(fraction: float, key=key) -> None:
                    self.app.call_from_thread(plot.show_progress, f"reading {key}… {fraction:.0%}")

                # Read before, perhaps while the plot was hidden: this catches up.
                feed.read(progress, lambda: worker.is_cancelled)
                if worker.is_cancelled:
                    return
                keep[(run.run_id, key)] = feed
        self._histories = keep
        self.post_message(PlotLoaded(items, available, metrics))

    def on_plot_loaded(self, message: PlotLoaded) -> None:
        plot = self.query_one(MetricPlot)
        used = set(self.marked.values())
        spare = [c for c in PALETTE if c not in used] or PALETTE
        plot_runs = []
        for index, item in enumerate(message.runs):
            colour = self.marked.get(item.key, spare[index % len(spare)])
            plot_runs.append(self._filled_plot_run(PlotRun(item.key, item.label, colour, item.start_ms), item))
        self._plotted = list(message.runs)
        plot.metrics = message.metrics
        plot.show_progress("")
        plot.set_runs(plot_runs, message.available)

    def _filled_plot_run(self, plot_run: PlotRun, item: Plotted) -> PlotRun:
        """The entry's histories from the feeds: a run's own, or each of a group's runs'."""
        if item.is_group:
            plot_run.members = {}
            for run in item.runs:
                for (run_id, key), feed in self._histories.items():
                    if run_id == run.run_id:
                        plot_run.members.setdefault(key, []).append(feed.points)
        else:
            plot_run.histories = {key: feed.points for (rid, key), feed in self._histories.items() if rid == item.key}
        return plot_run

    @on(MetricPlot.PickMetrics)
    def _pick_metrics(self) -> None:
        plot = self.query_one(MetricPlot)
        keys = sorted({k for item in self._plot_runs() for r in item.runs for k in r.metrics})
        if not keys:
            return
        picker = MetricPicker([k for k in keys if not is_system(k)], plot.metrics,
                              system=[k for k in keys if is_system(k)], show_system=self.show_system_metrics)

        def chosen(metrics: list[str] | None) -> None:
            if metrics is not None:
                self._show_system_metrics(picker.show_system)
            if metrics:
                self._remember_metrics(metrics)
                self._load_plot(self._plot_runs(), metrics)

        self.app.push_screen(picker, chosen)

    def _show_system_metrics(self, shown: bool) -> None:
        """System metrics in (or out of) the table's columns, the plot's metrics and the picker."""
        if shown != self.show_system_metrics:
            self.show_system_metrics = shown
            self._refresh_table()
            self._refresh_plot()

    @on(MetricPlot.MetricsWanted)
    def _metrics_wanted(self, message: MetricPlot.MetricsWanted) -> None:
        self._remember_metrics(message.metrics)
        self._load_plot(self._plot_runs(), message.metrics)

    @work(thread=True, exclusive=True, group="plot-grow", exit_on_error=False)
    def _grow_plot(self, keys: set[tuple[str, str]]) -> None:
        """Parse only the bytes appended to the plotted metric files since they were read."""
        grew = False
        for key in keys:
            feed = self._histories.get(key)
            if feed is not None and feed.read():
                grew = True
        if grew:
            self.app.call_from_thread(self._plot_grown)

    def _plot_grown(self) -> None:
        plot = self.query_one(MetricPlot)
        items = {item.key: item for item in self._plotted}
        for plot_run in plot.runs:
            item = items.get(plot_run.run_id)
            if item is not None:
                self._filled_plot_run(plot_run, item)
        plot.data_changed()

    def action_choose_columns(self) -> None:
        table = self.query_one(RunsTable)
        columns = table.all_columns if self.show_system_metrics else columns_for(
            table.runs, disk=self.index.store.measures_disk, system=True)  # the chooser can bring them in
        if not columns:
            return
        # Columns past the table's limit are off in the chooser: on is what the table shows.
        shown = {c.key for c in table.columns}
        off = {c.key for c in columns if c.key not in shown
               and not (c.is_system and not self.show_system_metrics and c.key not in self.hidden_columns)}
        chooser = ColumnChooser(columns, off, limit=MAX_COLUMNS, show_system=self.show_system_metrics)

        def chosen(hidden: set[str] | None, experiment_id=self.current_experiment) -> None:
            if hidden is not None and experiment_id == self.current_experiment:
                self.hidden_columns = hidden
                self._show_system_metrics(chooser.show_system)
                self._refresh_table()
                remembered = hidden_to_remember(columns, hidden, MAX_COLUMNS)
                if len(remembered) > MAX_LIST:  # a column shown far past the table's limit
                    self.notify(f"These columns are for this session: the next launch remembers at most "
                                f"{MAX_LIST} hidden columns, not {len(remembered):,}", timeout=6)
                    return
                self.app.remember(lambda: self.settings.remember_view(self.store_key, experiment_id or "",
                                                                      hidden_columns=remembered))

        self.app.push_screen(chooser, chosen)

    def action_reload(self) -> None:
        self._detail_cache.clear()
        self.stop_watching()
        self._set_status("reloading…")
        self.load_store()

    async def select_run(self, run_id: str) -> None:
        """Jump to a run from anywhere (the command palette): open its experiment, move there."""
        run = self.index.run(run_id)
        if run is None:
            return
        tree = self.query_one(RunTree)
        if run_id not in tree.run_nodes:
            await self._fill_experiment(run.experiment_id)
        self._switch_experiment(run.experiment_id)
        self.selected_run_id = run_id
        tree.select_run(run_id)
        self.query_one(RunsTable).select_run_id(run_id)
        self._selection_changed()
