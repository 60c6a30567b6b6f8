"""What the app knows about a store, loaded in stages so that the first paint never waits.

1. experiments (one meta.yaml each: instant);
2. the runs of an experiment, meta only (enough for the tree: names, statuses, times);
3. each run's params, tags and latest metrics (for the table's columns and the filter).

Then `apply` keeps it current from the watcher's batches of changes.

Writers (the loader and the watcher threads) take a lock; the UI thread reads without one. So
writers never change a dict the UI may be iterating: they build a new one and swap the reference
(copy on write), and they replace a run object instead of editing it, except for filling in data
of a run that has none yet (a run whose data is still loading simply shows no columns).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass, field, replace

from tuitrack.families import Forest, build_forest
from tuitrack.model import Experiment, Problem, Run, RunStatus
from tuitrack.query.staleness import family_last_write
from tuitrack.query.staleness import is_stale as _is_stale
from tuitrack.store import Store
from tuitrack.store.base import Change
from tuitrack.store.shared_strings import share_strings
from tuitrack.store.shared_strings import shared as _shared

DISK_EVERY_S = 10.0  # a growing run's disk size is measured again at most this often


@dataclass
class Delta:
    """What an `apply` changed, so the UI repaints only that."""

    experiments: bool = False  # the list of experiments or their names/states
    experiments_reloaded: set[str] = field(default_factory=set)  # run lists read again
    runs_changed: set[str] = field(default_factory=set)  # run ids with new meta, data or metrics
    runs_added: set[str] = field(default_factory=set)
    runs_removed: set[str] = field(default_factory=set)
    metrics: set[tuple[str, str]] = field(default_factory=set)  # (run id, key) with new points

    def __bool__(self) -> bool:
        return bool(self.experiments or self.experiments_reloaded or self.runs_changed
                    or self.runs_added or self.runs_removed or self.metrics)


class RunIndex:
    def __init__(self, store: Store):
        self.store = store
        self.experiments: dict[str, Experiment] = {}
        self._runs: dict[str, dict[str, Run]] = {}  # experiment id -> run id -> run
        self._with_data: set[str] = set()
        self._family_problems: dict[str, Problem] = {}  # run id -> what is wrong with its parent link
        self._forests: dict[str, Forest] = {}  # experiment id -> its runs as families (all of them)
        self._measured_at: dict[str, float] = {}  # run id -> when (monotonic) its size was measured again
        self._write = threading.RLock()
        self._last_write: dict[str, int] = {}  # run id -> ms of the training's last write (running runs)
        # experiment id -> (active runs, deleted runs): the status bar's counts on every batch,
        # kept by deltas (counting 50,000 runs per batch was a third of the UI thread's CPU).
        self._counts: dict[str, tuple[int, int]] = {}

    # -- loading (worker thread) -------------------------------------------------------------

    def load_experiments(self) -> list[Experiment]:
        with self._write:
            experiments = self.store.experiments(include_deleted=True)
            self.experiments = {e.experiment_id: e for e in experiments}
            return self.sorted_experiments()

    def load_runs(self, experiment_id: str) -> list[Run]:
        """Read (again) the runs of one experiment, meta only; deleted runs included."""
        with self._write:
            return self._load_runs(experiment_id)

    def _load_runs(self, experiment_id: str) -> list[Run]:
        experiment = self.experiments[experiment_id]
        runs = self.store.runs(experiment, include_deleted=True, with_data=False)
        old = self._runs.get(experiment_id, {})
        fresh: dict[str, Run] = {}
        for run in runs:
            previous = old.get(run.run_id)
            if previous is not None and run.run_id in self._with_data:
                # Keep data already read, so the table does not flicker while it reloads.
                run.params, run.tags, run.metrics = previous.params, previous.tags, previous.metrics
                run.problems += [p for p in previous.problems
                                 if not p.where.endswith("meta.yaml") and p not in run.problems]
            run.experiment_id, run.user_id = _shared(run.experiment_id), _shared(run.user_id)
            fresh[run.run_id] = run
        self._runs = {**self._runs, experiment_id: fresh}
        deleted = sum(1 for run in fresh.values() if run.is_deleted)
        self._counts = {**self._counts, experiment_id: (len(fresh) - deleted, deleted)}
        self._check_families({experiment_id})
        return list(fresh.values())

    def load_data(self, runs: Iterable[Run]) -> list[Run]:
        """Read params, tags and latest metrics of `runs`; returns them."""
        done = []
        with self._write:
            for run in runs:
                if run.run_id in self._with_data and self.run(run.run_id) is run:
                    continue  # this very object already has its data
                self.store.load_data(run)
                if not self.store.shares_strings:
                    share_strings(run)
                self._with_data.add(run.run_id)
                self._note_last_write(run)
                done.append(run)
        return done  # parent links come with the metas: the tree's shape does not change here

    def load_disk_sizes(self, runs: Iterable[Run]) -> list[Run]:
        """Measure the disk use of `runs` that have no size yet (cached on the run)."""
        done = []
        for run in runs:
            if run.disk_bytes is None:
                run.disk_bytes = self.store.disk_usage(run)
                done.append(run)
        return done

    def remeasure_disk(self, run_ids: Iterable[str], now: float | None = None) -> list[Run]:
        """Measure again runs whose files grew, each at most every DISK_EVERY_S seconds: a
        training run appends all the time, and walking its folder on every append would cost
        more than the size tells."""
        now = time.monotonic() if now is None else now
        done = []
        for run_id in run_ids:
            run = self.run(run_id)
            if run is None or now - self._measured_at.get(run_id, float("-inf")) < DISK_EVERY_S:
                continue
            self._measured_at[run_id] = now
            run.disk_bytes = self.store.disk_usage(run)
            done.append(run)
        return done

    def experiment_bytes(self, experiment_id: str) -> int | None:
        """The disk use of an experiment's runs, once every one is measured."""
        runs = self._runs.get(experiment_id, {}).values()
        sizes = [r.disk_bytes for r in runs]
        return None if any(size is None for size in sizes) else sum(sizes)

    # -- keeping current (watcher thread) ----------------------------------------------------------

    def apply(self, changes: Iterable[Change], now_ms: int | None = None) -> Delta:
        """Read again what `changes` name, and say what is different now."""
        delta = Delta()
        changes = set(changes)
        now_ms = int(time.time() * 1000) if now_ms is None else now_ms
        for change in changes:
            # Points appended now are life now; a rewritten meta.yaml or tag may be tuitrack's
            # own edit, so those runs are asked again below (store.last_write) instead.
            if change.kind == "metric" and change.run_id is not None:
                self._last_write[change.run_id] = max(now_ms, self._last_write.get(change.run_id, now_ms))
        with self._write:
            if any(c.kind == "experiments" for c in changes):
                self._apply_experiments(delta)
            for change in changes:
                if change.kind == "run" and change.experiment_id not in delta.experiments_reloaded:
                    self._apply_run(change.experiment_id, change.run_id, delta)
            reread = delta.runs_changed | delta.runs_added  # read whole just now: metrics included
            for change in changes:
                if change.kind == "metric" and change.run_id not in reread:
                    self._apply_metric(change.run_id, change.key, delta)
            # A run read again is a new object without its family problem; a run added, removed
            # or re-tagged may make or break a parent link elsewhere in its experiment.
            touched = {c.experiment_id for c in changes if c.kind == "run" and c.experiment_id}
            removed = set(self._runs) if delta.runs_removed else set()  # rare: look at every experiment
            self._check_families(touched | delta.experiments_reloaded | removed)
            for run_id in (delta.runs_added | delta.runs_changed) - {c.run_id for c in changes if c.kind == "metric"}:
                self._note_last_write(self.run(run_id))
        return delta

    def _note_last_write(self, run: Run | None) -> None:
        """Remember when a RUNNING run's training last wrote, as the store tells it."""
        if run is None or run.status is not RunStatus.RUNNING:
            return
        written = self.store.last_write(run)
        if written is not None:
            self._last_write[run.run_id] = max(written, self._last_write.get(run.run_id, written))

    def _apply_experiments(self, delta: Delta) -> None:
        before = self.experiments
        after = {e.experiment_id: e for e in self.store.experiments(include_deleted=True)}
        for eid, experiment in after.items():
            old = before.get(eid)
            if old is None or old.lifecycle_stage != experiment.lifecycle_stage or old.name != experiment.name \
                    or old.problems != experiment.problems or old.tags != experiment.tags:
                delta.experiments = True
        if before.keys() != after.keys():
            delta.experiments = True
        self.experiments = after
        for eid in before.keys() - after.keys():
            delta.runs_removed |= set(self._runs.get(eid, {}))
            runs = dict(self._runs)
            runs.pop(eid, None)
            self._runs = runs
            counts = dict(self._counts)
            counts.pop(eid, None)
            self._counts = counts
        for eid in after:
            old = before.get(eid)
            moved = old is not None and old.lifecycle_stage != after[eid].lifecycle_stage
            if old is None or moved:  # new, or moved in or out of .trash: its runs changed too
                previous = set(self._runs.get(eid, {}))
                fresh = self._load_runs(eid)
                self.load_data(fresh)
                now = {r.run_id for r in fresh}
                delta.runs_added |= now - previous
                delta.runs_removed |= previous - now
                delta.runs_changed |= now & previous
                delta.experiments_reloaded.add(eid)

    def _apply_run(self, experiment_id: str | None, run_id: str | None, delta: Delta) -> None:
        experiment = self.experiments.get(experiment_id or "")
        if experiment is None or run_id is None:
            return
        runs = self._runs.get(experiment.experiment_id)
        if runs is None:
            return  # not loaded yet: the loader will read it
        fresh = self.store.read_run(experiment, run_id)
        updated = dict(runs)
        old = updated.get(run_id)
        if fresh is None:
            if updated.pop(run_id, None) is not None:
                delta.runs_removed.add(run_id)
        else:
            if old is not None:
                delta.runs_changed.add(run_id)
                # A store whose metrics share one file (fetch_ml) or one record (entrenar) says
                # "run" when points are added: plotted histories must grow too.
                delta.metrics |= {(run_id, k) for k, p in fresh.metrics.items() if old.metrics.get(k) != p}
            else:
                delta.runs_added.add(run_id)
            updated[run_id] = fresh if self.store.shares_strings else share_strings(fresh)
            self._with_data.add(run_id)
        self._runs = {**self._runs, experiment.experiment_id: updated}
        self._recount(experiment.experiment_id, old, fresh)

    def _recount(self, experiment_id: str, old: Run | None, new: Run | None) -> None:
        """The experiment's counts after `old` (None: not there) became `new` (None: gone)."""
        active, deleted = self._counts.get(experiment_id, (0, 0))
        for run, sign in ((old, -1), (new, 1)):
            if run is not None:
                if run.is_deleted:
                    deleted += sign
                else:
                    active += sign
        self._counts = {**self._counts, experiment_id: (active, deleted)}

    def _apply_metric(self, run_id: str | None, key: str | None, delta: Delta) -> None:
        run = self.run(run_id) if run_id else None
        if run is None or key is None or run.run_id not in self._with_data:
            return
        point = self.store.latest_metric(run, key)
        if point is not None:
            fresh = replace(run, metrics={**run.metrics, _shared(key): point})
            runs = dict(self._runs[run.experiment_id])
            runs[run.run_id] = fresh
            self._runs = {**self._runs, run.experiment_id: runs}
            delta.runs_changed.add(run.run_id)
        delta.metrics.add((run.run_id, key))

    def _check_families(self, experiment_ids: Iterable[str]) -> None:
        """Put a Problem on runs whose parent link cannot be drawn as it says (a cycle, itself,
        a parent that is not there), and take it off runs whose link is fine again. Linear in
        the experiment's runs. A run gets a new problems list (never one changed in place)."""
        for experiment_id in experiment_ids:
            runs = self._runs.get(experiment_id)
            if runs is None:
                continue
            forest = build_forest(runs.values(), known_ids=set(runs))
            self._forests = {**self._forests, experiment_id: forest}
            for run_id, run in runs.items():
                wanted = forest.problems.get(run_id)
                old = self._family_problems.get(run_id)
                problems = run.problems
                if old is not None and old != wanted and old in problems:
                    problems = [p for p in problems if p != old]
                if wanted is not None and wanted not in problems:
                    problems = [*problems, wanted]
                run.problems = problems
                if wanted is None:
                    self._family_problems.pop(run_id, None)
                else:
                    self._family_problems[run_id] = wanted

    # -- reading (UI thread) -------------------------------------------------------------------

    def sorted_experiments(self, include_deleted: bool = True) -> list[Experiment]:
        """Active experiments by name (Default first), then deleted ones."""
        experiments = [e for e in self.experiments.values() if include_deleted or not e.is_deleted]
        return sorted(experiments, key=Experiment.order)

    def runs_loaded(self, experiment_id: str) -> bool:
        return experiment_id in self._runs

    def has_data(self, run: Run) -> bool:
        return run.run_id in self._with_data

    def run_count(self, include_deleted: bool = False, experiment_id: str | None = None) -> int:
        """How many runs the index holds (without deleted ones unless asked), in one experiment
        or in all: a sum over the experiments, whatever the number of runs."""
        counts = self._counts.values() if experiment_id is None else [self._counts.get(experiment_id, (0, 0))]
        return sum(active + deleted if include_deleted else active for active, deleted in counts)

    def runs_of(self, experiment_id: str, include_deleted: bool = False) -> list[Run]:
        """The runs of an experiment, newest first."""
        runs = [
            r for r in self._runs.get(experiment_id, {}).values() if include_deleted or not r.is_deleted
        ]
        runs.sort(key=lambda r: (r.start_time or 0, r.run_id), reverse=True)
        return runs

    def run(self, run_id: str) -> Run | None:
        for runs in self._runs.values():
            if run_id in runs:
                return runs[run_id]
        return None

    def experiment_of(self, run: Run) -> Experiment | None:
        return self.experiments.get(run.experiment_id)

    def family_of(self, runs: list[Run], experiment_id: str) -> Forest:
        """`runs` (some of an experiment's, newest first) as a forest: nested runs under their
        parents, every run reachable once however its parent links go."""
        return build_forest(runs, known_ids=set(self._runs.get(experiment_id, {})))

    def children_ids(self, run_id: str) -> list[str]:
        """The runs that hang under `run_id` (as the tree draws them: cycles broken)."""
        run = self.run(run_id)
        forest = self._forests.get(run.experiment_id) if run is not None else None
        return [kid.run_id for kid in forest.children.get(run_id, ())] if forest is not None else []

    def is_stale(self, run: Run, now_ms: int, after_ms: int) -> bool:
        """A RUNNING run whose family has written nothing for `after_ms`: its process probably died."""
        if run.status is not RunStatus.RUNNING:
            return False
        return _is_stale(run, self.family_last_write(run.run_id), now_ms, after_ms)

    def last_write(self, run_id: str) -> int | None:
        """When the run's own training last wrote (what K takes as its end)."""
        return self._last_write.get(run_id)

    def family_last_write(self, run_id: str) -> int | None:
        """The newest write of the run and its descendants (an ended child counts its end)."""
        def own(rid: str) -> int | None:
            if rid in self._last_write:
                return self._last_write[rid]
            found = self.run(rid)
            return found.end_time if found is not None else None
        return family_last_write(run_id, own, self.children_ids)

    def all_runs(self) -> list[Run]:
        return [run for runs in self._runs.values() for run in runs.values()]

    def running_runs(self) -> list[Run]:
        """The runs whose status is RUNNING (without a list of all 50,000 first)."""
        running = RunStatus.RUNNING
        return [run for runs in self._runs.values() for run in runs.values() if run.status is running]
