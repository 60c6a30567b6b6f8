"""What the app knows about a store, loaded in stages so that the first paint never waits.

1. experiments (one meta.yaml each: instant);
2. the runs of an experiment, meta only (enough for the tree: names, statuses, times);
3. each run's params, tags and latest metrics (for the table's columns and the filter).

The index is filled from a worker thread and read by the UI thread. Every change replaces whole
objects or adds keys, and the UI is told what changed by the caller, so it never sees a run half
read in a way that matters (a run whose data is still loading simply shows no columns yet).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable

from tuitrack.model import Experiment, Run
from tuitrack.store import Store


class RunIndex:
    def __init__(self, store: Store):
        self.store = store
        self.experiments: dict[str, Experiment] = {}
        self._runs: dict[str, dict[str, Run]] = {}  # experiment id -> run id -> run
        self._with_data: set[str] = set()
        self._children: dict[str, list[str]] = {}  # parent run id -> child run ids, newest first

    # -- loading (worker thread) -------------------------------------------------------------

    def load_experiments(self) -> list[Experiment]:
        experiments = self.store.experiments(include_deleted=True)
        self.experiments = {e.experiment_id: e for e in experiments}
        return self.sorted_experiments()

    def load_runs(self, experiment_id: str) -> list[Run]:
        """Read (again) the runs of one experiment, meta only; deleted runs included."""
        experiment = self.experiments[experiment_id]
        runs = self.store.runs(experiment, include_deleted=True, with_data=False)
        old = self._runs.get(experiment_id, {})
        fresh: dict[str, Run] = {}
        for run in runs:
            previous = old.get(run.run_id)
            if previous is not None and run.run_id in self._with_data:
                # Keep data already read, so the table does not flicker while it reloads.
                run.params, run.tags, run.metrics = previous.params, previous.tags, previous.metrics
                run.problems += [p for p in previous.problems if not p.where.endswith("meta.yaml")]
            fresh[run.run_id] = run
        self._runs[experiment_id] = fresh
        self._rebuild_children()
        return list(fresh.values())

    def load_data(self, runs: Iterable[Run]) -> list[Run]:
        """Read params, tags and latest metrics of `runs`; returns them."""
        done = []
        for run in runs:
            if run.run_id in self._with_data and self.run(run.run_id) is run:
                continue  # this very object already has its data
            self.store.load_data(run)
            self._with_data.add(run.run_id)
            done.append(run)
        return done  # parent links come with the metas: the tree's shape does not change here

    def _rebuild_children(self) -> None:
        children: dict[str, list[Run]] = defaultdict(list)
        for runs in self._runs.values():
            for run in runs.values():
                parent = run.parent_run_id
                if parent and parent != run.run_id:
                    children[parent].append(run)
        self._children = {
            parent: [r.run_id for r in sorted(kids, key=lambda r: (r.start_time or 0, r.run_id), reverse=True)]
            for parent, kids in children.items()
        }

    # -- reading (UI thread) -------------------------------------------------------------------

    def sorted_experiments(self, include_deleted: bool = True) -> list[Experiment]:
        """Active experiments by name (Default first), then deleted ones."""
        experiments = [e for e in self.experiments.values() if include_deleted or not e.is_deleted]
        return sorted(
            experiments,
            key=lambda e: (e.is_deleted, e.experiment_id != "0", (e.name or e.experiment_id).lower()),
        )

    def runs_loaded(self, experiment_id: str) -> bool:
        return experiment_id in self._runs

    def has_data(self, run: Run) -> bool:
        return run.run_id in self._with_data

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

    def children_ids(self, run_id: str) -> list[str]:
        return self._children.get(run_id, [])

    def roots_of(self, experiment_id: str, include_deleted: bool = False) -> list[Run]:
        """Runs without a parent in the same experiment (nested runs hang under their parent)."""
        runs = self.runs_of(experiment_id, include_deleted)
        present = {r.run_id for r in runs}
        return [r for r in runs if not r.parent_run_id or r.parent_run_id not in present]

    def all_runs(self) -> list[Run]:
        return [run for runs in self._runs.values() for run in runs.values()]
