"""Following a tracking server by polling, fetching only the runs that can have changed.

MLflow's REST API cannot say "what changed since"; runs have no update time. But what changes on
a server while someone watches is nearly always a training run: it is RUNNING, or it just stopped,
or it just started. So each poll asks for
- the RUNNING runs (their metrics, tags and status move);
- the runs that were RUNNING last time and are not now, one by one (they finished or were
  killed or deleted);
- the runs started since the newest start seen (new ones);
and every `full_every`-th poll for all runs, which also catches tags, renames and deletions made
elsewhere on finished runs, and runs purged by `mlflow gc`. Each fetched run is compared with what
was seen before; only differences become changes, and `take` hands the fresh copy to the index so
it is not fetched twice.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING

from tuitrack.model import Run, RunStatus
from tuitrack.store.base import Change
from tuitrack.store.mlflow_rest.client import NotFoundOnServer

if TYPE_CHECKING:
    from tuitrack.store.mlflow_rest.store import MlflowRestStore

FULL_EVERY = 10


def fingerprint(run: Run) -> tuple:
    return (run.run_name, run.status, run.lifecycle_stage, run.start_time, run.end_time, run.experiment_id,
            tuple(sorted(run.tags.items())), tuple(sorted(run.params.items())),
            tuple(sorted((k, p.step, p.timestamp, repr(p.value)) for k, p in run.metrics.items())))


class RunPoller:
    def __init__(self, store: MlflowRestStore, full_every: int = FULL_EVERY):
        self.store = store
        self.full_every = full_every
        self._seen: dict[str, tuple[str, tuple]] = {}  # run id -> (experiment id, fingerprint)
        self._running: set[str] = set()
        self._newest_start = 0
        self._experiments: tuple | None = None
        self._polls = 0
        self._fresh: dict[str, Run] = {}
        self._lock = threading.Lock()

    def take(self, run_id: str) -> Run | None:
        """The copy of a run the last poll fetched, once."""
        with self._lock:
            return self._fresh.pop(run_id, None)

    def remember(self, runs: list[Run]) -> None:
        """Runs the store handed out by other means (the first listing): changes count from them."""
        for run in runs:
            self._seen[run.run_id] = (run.experiment_id, fingerprint(run))
            self._newest_start = max(self._newest_start, run.start_time or 0)
            if run.status is RunStatus.RUNNING:
                self._running.add(run.run_id)

    def poll(self) -> list[Change]:
        first = self._experiments is None
        quiet = first and not self._seen  # nothing to compare with: this poll only learns
        full = first or self._polls % self.full_every == 0
        self._polls += 1
        changes: list[Change] = []
        experiments = self.store.experiments(include_deleted=True)
        shape = tuple((e.experiment_id, e.name, e.lifecycle_stage, tuple(sorted(e.tags.items()))) for e in experiments)
        if not first and shape != self._experiments:
            changes.append(Change("experiments"))
        self._experiments = shape
        ids = [e.experiment_id for e in experiments]
        if full:
            fetched = {r.run_id: r for r in self.store.search_runs(ids)}
            gone = self._seen.keys() - fetched.keys()
        else:
            fetched = {r.run_id: r for r in self.store.search_runs(ids, filter_string="attributes.status = 'RUNNING'")}
            fetched.update((r.run_id, r) for r in self.store.search_runs(
                ids, filter_string=f"attributes.start_time >= {self._newest_start}"))
            gone = set()
            for run_id in self._running - fetched.keys():
                try:
                    fetched[run_id] = self.store.get_run(run_id)
                except NotFoundOnServer:
                    gone.add(run_id)
        for run_id, run in fetched.items():
            seen = (run.experiment_id, fingerprint(run))
            if self._seen.get(run_id) != seen:
                if not quiet:
                    changes.append(Change("run", run.experiment_id, run_id))
                    with self._lock:
                        self._fresh[run_id] = run
                self._seen[run_id] = seen
            self._newest_start = max(self._newest_start, run.start_time or 0)
        for run_id in gone:
            experiment_id, _ = self._seen.pop(run_id)
            changes.append(Change("run", experiment_id, run_id))
        # every run RUNNING before was fetched above, so this is the whole running set
        self._running = {r.run_id for r in fetched.values() if r.status is RunStatus.RUNNING}
        return changes
