"""The interface every store format implements, and the errors it may raise.

tuitrack reads MLflow's `mlruns` folders today; SQLite `mlflow.db`, tracking servers and other
trackers' folders come later behind the same interface. Methods never raise for one bad run or
experiment: that run or experiment carries `problems` instead. They raise `StoreError` only when the
store as a whole cannot be read.
"""

from __future__ import annotations

import abc
import os
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from tuitrack.model import DatasetInput, Experiment, MetricPoint, Problem, Run, RunStatus

if TYPE_CHECKING:
    from tuitrack.store.artifacts import ArtifactSource
    from tuitrack.store.purge_plan import PurgePlan


class StoreError(Exception):
    """The store cannot be opened or read at all. The message is meant for the user as is."""


class RunNotFound(StoreError):
    pass


class AmbiguousRun(RunNotFound):
    """A prefix or name that names more than one run; the message lists them."""


MIN_PREFIX = 4  # a run id prefix this long names the one run it starts, as git takes commits


def prefix_matches(run_id: str, ids: Iterable[str]) -> list[str]:
    """[run_id] when it is one of `ids`; else every id it is a long enough prefix of."""
    ids = list(ids)
    if run_id in ids:
        return [run_id]
    return [i for i in ids if len(run_id) >= MIN_PREFIX and i.startswith(run_id)]


def refuse_ambiguous(run_id: str, matches: list[str], experiment_ids: list[str] | None = None) -> None:
    """Every store says the same when a prefix starts more than one run (`experiment_ids`: the
    experiment of each match, for stores where one run id may sit in two experiments)."""
    if len(matches) <= 1:
        return
    if experiment_ids and len(set(matches)) == 1:
        raise AmbiguousRun(f"run {matches[0]!r} is in {len(matches)} experiments ({', '.join(experiment_ids[:5])}): "
                          f"name one as EXPERIMENT/RUN, e.g. {experiment_ids[0]}/{matches[0]}")
    where = ""
    if experiment_ids:
        where = "; EXPERIMENT/RUN (an experiment id or name, a slash, the run id) names one in one experiment"
    raise AmbiguousRun(f"run id {run_id!r} is ambiguous: it starts {', '.join(matches[:5])}{where}")


@dataclass(slots=True)
class MetricHistory:
    """All points of one metric of one run, in the order they were logged.

    `cursor` is the store's private bookmark (for the file store, a byte offset) that lets
    `Store.read_new_points` parse only what was appended since.
    """

    run_id: str
    key: str
    where: str = ""  # the metric's place in the store, for problems
    points: list[MetricPoint] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    cursor: Any = None


def problems_after_full_read(run: Run, histories: list[MetricHistory]) -> list[Problem]:
    """A run's problems once some metrics were read in full: those reads know each bad line, so
    they replace what the listing's tail reads said about the same files."""
    read = {h.where for h in histories}
    kept = [p for p in run.problems if p.where not in read]
    return kept + [p for h in histories for p in h.problems]


@dataclass
class PurgeResult:
    """What a purge removed, the disk space it freed, and what it would not touch."""

    removed: list[str] = field(default_factory=list)  # run ids and experiment ids
    bytes_freed: int = 0
    warnings: list[str] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class Change:
    """Something in a store changed; what the live index must read again.

    kind: "experiments" (the set of experiments or their meta), "run" (one run's meta, params
    or tags, or the run appeared or vanished), or "metric" (points appended to one metric).
    """

    kind: str
    experiment_id: str | None = None
    run_id: str | None = None
    key: str | None = None


class Store(abc.ABC):
    """A place where runs live. `location` is what the user typed to open it."""

    location: str
    # How the live view learns of changes, one of three ways:
    watch_root: str | None = None  # a folder tree whose changed files `classify` explains
    watch_files: tuple[str, ...] = ()  # files whose changes mean "ask `changes` what changed"
    ask_every: float | None = None  # seconds: ask `changes` this often even without file events
    shares_strings = False  # True: runs come with their strings shared (shared_strings.py) already
    measures_disk = True  # False: the app shows no Disk (a server's disk; a database's shared file)
    # True: points read into a MetricHistory may be dropped between reads (the cursor alone says
    # where to go on), so a reader can fold them away; False where a read compares against them.
    metric_points_disposable = False

    @abc.abstractmethod
    def experiments(self, include_deleted: bool = False) -> list[Experiment]:
        """Every experiment, deleted ones (MLflow's `.trash`) only when asked."""

    @abc.abstractmethod
    def runs(
        self, experiment: Experiment, include_deleted: bool = False, with_data: bool = True
    ) -> list[Run]:
        """The runs of one experiment, with params, tags and latest metrics when `with_data`.

        Without data, a run has its meta and the tags that say what it is (its parent run and,
        when the meta has none, its name): fast enough for a first paint.
        """

    def all_runs(
        self, experiments: list[Experiment], include_deleted: bool = False, with_data: bool = True
    ) -> list[tuple[Experiment, Run]]:
        """The runs of several experiments; a store may read them all at once, faster."""
        return [(e, r) for e in experiments for r in self.runs(e, include_deleted, with_data)]

    @abc.abstractmethod
    def load_data(self, run: Run) -> None:
        """Fill in `run.params`, `run.tags` and `run.metrics` (latest values) in place."""

    @abc.abstractmethod
    def find_run(self, run_id: str) -> Run:
        """A run with data by id (or unambiguous id prefix). Raises RunNotFound."""

    @abc.abstractmethod
    def read_run(self, experiment: Experiment, run_id: str) -> Run | None:
        """One run with its data, read again; None when it no longer exists."""

    @abc.abstractmethod
    def latest_metric(self, run: Run, key: str) -> MetricPoint | None:
        """The latest point of one metric, read again (None if it has none now)."""

    def classify(self, path: str) -> Change | None:
        """What a changed file under the store means, for stores watched as files."""
        return None

    def save_cache(self) -> str | None:
        """Every run listed has its data now: a store with a persistent read cache saves it, for
        the next open. Returns a one-line note when the cache could not be used (else None)."""
        return None

    def start_counting_changes(self) -> None:
        """What `changes` reports is counted from now. The app calls this before its first listing,
        so nothing written between that listing and the first look is missed; the CLI, which never
        asks, pays nothing for it."""

    def fingerprints(self) -> dict[str, int] | None:
        """For a folder store: the hash of a cheap stat fingerprint (a tuple of `stat_key`s) of
        each experiment and run, keyed by a path that `classify` explains. The live view compares
        two of them to find what a watcher missed (a run made before watching began, an
        overflowed inotify queue, folders past the watch limit). Hashes, not the tuples: 50,000
        runs' tuples are 35 MiB. None: the store is asked what changed instead (a database, a
        server)."""
        return None

    def run_dirs(self, runs: list[Run]) -> list[str]:
        """A folder store's folder of each run (`run_dir`: the stores with a `watch_root` have one)."""
        return [self.run_dir(run) for run in runs]  # type: ignore[attr-defined]

    def record_fingerprints(self, known: Callable[[str], bool]) -> bool:
        """Instead of `fingerprints` before a listing, for a sweep's first baseline: take the
        experiments' fingerprints now (those `known` says yes to) and each run's as the listing
        reads it, from the stats it makes anyway (the files' stamps), until
        `recorded_fingerprints`. False: this store does not; call `fingerprints`."""
        return False

    def recorded_fingerprints(self) -> dict[str, int]:
        """What `record_fingerprints` recorded: path -> the hash of what `fingerprints` would have
        said of it when it was read. Recording stops."""
        return {}

    def changes(self, paths: set[str]) -> list[Change]:
        """What changed, given the paths a watcher saw (none when the store is asked on a timer).

        A folder store explains each path; a database or a server is asked what differs since the
        last call instead."""
        return [c for c in map(self.classify, paths) if c is not None]

    def close(self) -> None:
        """The app is quitting: stop waiting on anything in flight (calls may then raise
        StoreError). Python waits for the app's worker threads before it exits, so a thread
        waiting on a hung server would hold the quit."""

    def dataset_inputs(self, run: Run) -> list[DatasetInput]:
        """The datasets the run logged as inputs (MLflow's `log_input`); none in stores without them."""
        return []

    def last_write(self, run: Run) -> int | None:
        """When (ms) the run's meta or metrics last changed; None if unknown. A RUNNING run that
        has not written for long is probably dead."""
        return None

    # -- changes (a store that cannot make one says so) ---------------------------------------

    def set_tags(self, run: Run, tags: dict[str, str], force: bool = False) -> None:
        raise StoreError(f"{self.location}: this store is read-only for tuitrack")

    def delete_tags(self, run: Run, keys: list[str], force: bool = False) -> None:
        raise StoreError(f"{self.location}: this store is read-only for tuitrack")

    def set_note(self, run: Run, text: str) -> None:
        raise StoreError(f"{self.location}: this store is read-only for tuitrack")

    def rename_run(self, run: Run, name: str) -> None:
        raise StoreError(f"{self.location}: this store is read-only for tuitrack")

    def delete_run(self, run: Run) -> None:
        """Soft delete: the run stays on disk, marked deleted, until purged."""
        raise StoreError(f"{self.location}: this store is read-only for tuitrack")

    def restore_run(self, run: Run) -> None:
        raise StoreError(f"{self.location}: this store is read-only for tuitrack")

    def terminate_run(self, run: Run, status: RunStatus, end_time: int | None) -> None:
        """Set a run's status and end time (a stale RUNNING run whose process died: KILLED)."""
        raise StoreError(f"{self.location}: this store is read-only for tuitrack")

    def delete_experiment(self, experiment: Experiment) -> None:
        raise StoreError(f"{self.location}: this store is read-only for tuitrack")

    def restore_experiment(self, experiment: Experiment) -> None:
        raise StoreError(f"{self.location}: this store is read-only for tuitrack")

    def refusal(self, change: str, run: Run | None = None) -> str | None:
        """Why `change` ("tag", "note", "rename", "delete_experiment") cannot be made here (to
        `run`), asked before the user is asked anything; None when it may be tried. The change
        itself still checks: this only spares a dialog that would end in a refusal."""
        return None

    default_experiment_id: str | None = None  # MLflow's Default experiment, which cannot be deleted

    def experiment_refusal(self, experiment: Experiment) -> str | None:
        """Why `experiment` cannot be deleted here, asked before the user is asked anything."""
        if experiment.experiment_id == self.default_experiment_id:
            return "the Default experiment cannot be deleted (MLflow refuses it too)"
        return self.refusal("delete_experiment")

    def cannot_purge(self) -> str | None:
        """Why this store cannot purge at all (asked before confirming anything), or None."""
        return None

    def plan_purge(self, runs: list[Run], experiments: list[Experiment]) -> PurgePlan:
        """What purging these runs and deleted experiments would remove (exact bytes) and leave in
        place (and why), judged against the whole store. Changes nothing: show it, then execute."""
        raise StoreError(self.cannot_purge() or f"{self.location}: this store cannot purge")

    def execute_purge(self, plan: PurgePlan) -> PurgeResult:
        """Carry out exactly `plan` (each target must still be deleted). Not undoable."""
        raise StoreError(self.cannot_purge() or f"{self.location}: this store cannot purge")

    def purge(self, runs: list[Run], experiments: list[Experiment]) -> PurgeResult:
        """Plan and execute at once, for callers that show nothing in between."""
        return self.execute_purge(self.plan_purge(runs, experiments))

    def disk_usage(self, run: Run) -> int | None:
        """Bytes the run takes on disk (artifacts inside the store included); None if unknown."""
        return None

    def artifacts(self, run: Run) -> ArtifactSource:
        """Where the run's artifacts are, to list and read within bounds: by default the local
        folder its `artifact_uri` names (for a moved file store, the store's own copy), or a
        description of a place tuitrack does not fetch from (s3://, hdfs://)."""
        from tuitrack.store.artifacts import local_or_described

        return local_or_described(run.artifact_uri)

    @abc.abstractmethod
    def metric_history(self, run: Run, key: str) -> MetricHistory:
        """Every point of one metric. Problems (bad lines, unreadable file) are in the result."""

    def stream_history(self, run: Run, key: str) -> tuple[MetricHistory, Iterator[list[MetricPoint]]]:
        """Every point of one metric, a batch at a time, for output that need not hold them all
        (`show --json`): the history's `problems` are complete once the batches are exhausted, and
        its `points` stay empty. By default, the whole history as one batch."""
        history = self.metric_history(run, key)
        points, history.points = history.points, []
        return history, iter([points])

    def gone(self) -> str | None:
        """The store's folder or database file, when it is no longer there (deleted, moved,
        unmounted); None while it is, and for stores that are not on this machine's disk."""
        place = self.watch_root or (self.watch_files[0] if self.watch_files else None)
        return place if place is not None and not os.path.exists(place) else None

    def open_metric(self, run: Run, key: str) -> MetricHistory:
        """A history to fill with `read_some_points`, in pieces where the store can (a plot of
        10 million points never holds them all). Stores that fetch a whole history at once have
        read it here."""
        return self.metric_history(run, key)

    def read_some_points(self, history: MetricHistory, max_bytes: int) -> list[MetricPoint]:
        """`read_new_points`, parsing about `max_bytes` of the store's data at most where it can."""
        return self.read_new_points(history)

    def read_fraction(self, history: MetricHistory) -> float | None:
        """How much of the metric `history` has read (0 to 1), when the store knows."""
        return None

    @abc.abstractmethod
    def read_new_points(self, history: MetricHistory) -> list[MetricPoint]:
        """Extend `history` with the points appended since it was read; returns only those.

        If the metric was rewritten from scratch, `history.points` is replaced and all of it
        returned.
        """


def stat_key(path: str) -> tuple[int, int, int] | None:
    """(size, mtime_ns, inode) of `path`, or None when it is not there: what tells a rewrite."""
    try:
        st = os.stat(path, follow_symlinks=False)
    except OSError:
        return None
    return (st.st_size, st.st_mtime_ns, st.st_ino)
