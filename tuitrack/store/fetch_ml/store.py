"""fetch_ml's experiment folders as a tuitrack Store.

fetch_ml keeps, under one base folder, a folder per commit id with `meta.bin`, an append-only
`metrics.bin` and `files/` (see binary.py). Each commit folder is one tuitrack run (its id is the
folder name, its name the job name). All of them form ONE experiment, named after the base
folder: fetch_ml has no grouping above commits, and its own prune policy (keep the newest N,
drop those older than D days) ranks all commits together, as `tuitrack prune --beyond-newest N
--older-than Dd` ranks the runs of one experiment. The job name is also the tag `fetch_ml.job_name`, so filters
can pick one job.

fetch_ml records no status, end time, params or tags: runs are FINISHED, tags, notes and names
cannot be changed, and that is said when asked. Soft delete, which fetch_ml lacks, is a marker
file `.tuitrack-deleted` (holding the deletion time) in the commit folder: fetch_ml ignores it,
restore removes it, and purge removes the whole folder like fetch_ml's prune does.

metrics.bin holds every metric of a run. The store keeps, per run, the byte offset it has read
to and each metric's latest point, so re-reading a growing file parses only the new bytes.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path

from tuitrack.model import Experiment, Lifecycle, MetricPoint, Problem, Run, RunStatus
from tuitrack.store.base import (
    Change,
    MetricHistory,
    PurgeResult,
    RunNotFound,
    Store,
    prefix_matches,
    refuse_ambiguous,
    stat_key,
)
from tuitrack.store import purge_plan
from tuitrack.store.fetch_ml.binary import Chunk, MetricsTail, read_meta
from tuitrack.store.grouping import experiment_id_for
from tuitrack.store.mlflow_file.changes import ChangeRefused
from tuitrack.store.mlflow_file.files import read_bytes, reason
from tuitrack.store.mlflow_file.writer import now_ms, write_atomic
from tuitrack.store.purge_plan import PurgePlan

META = "meta.bin"
METRICS = "metrics.bin"
FILES = "files"
DELETED_MARKER = ".tuitrack-deleted"
COMMIT_TAG = "fetch_ml.commit_id"
JOB_TAG = "fetch_ml.job_name"
NO_TAGS = ("fetch_ml keeps no tags, notes or run names (meta.bin holds only the commit id, job name "
           "and user), so tuitrack cannot change them")


class _Latest:
    """What the store knows of one run's metrics.bin: where it read to, each metric's latest point."""

    def __init__(self, path: str):
        self.tail = MetricsTail(path)
        self.points: dict[str, MetricPoint] = {}
        self.errors: list[str] = []

    def refresh(self) -> None:
        points = dict(self.points)

        def fold(chunk: Chunk) -> None:  # chunk by chunk: only the latest point of each name is kept
            for name, point in chunk.records:
                current = points.get(name)
                if current is None or point.sort_key() > current.sort_key():
                    points[name] = point

        try:
            chunk, reset = self.tail.read_new(fold, on_reset=points.clear)
        except OSError as exc:
            self.errors = [f"cannot read ({reason(exc)})"]
            return
        if reset:
            self.errors = []
        self.errors = [e for e in self.errors if not e.startswith("cannot read")] + chunk.errors
        self.points = points  # swapped whole: readers on other threads see old or new


class FetchMlStore(Store):
    def __init__(self, root: str | os.PathLike[str], location: str | None = None):
        self.root = os.path.abspath(root)
        self.location = location if location is not None else str(root)
        self.watch_root = self.root
        name = os.path.basename(self.root) or self.root
        self._experiment_id = experiment_id_for(name)
        self._experiment_name = name
        self._latest: dict[str, _Latest] = {}
        self._lock = threading.Lock()

    # -- folders ----------------------------------------------------------------------------------

    def _commit_folders(self) -> list[str]:
        """Commit folders, as fetch_ml lists them: real folders (not symlinks), here not hidden."""
        try:
            with os.scandir(self.root) as entries:
                return sorted(e.name for e in entries if not e.name.startswith(".") and e.is_dir(follow_symlinks=False))
        except OSError:
            return []

    def _folder(self, run_id: str) -> str:
        return os.path.join(self.root, run_id)

    def run_dir(self, run: Run) -> str:
        return self._folder(run.run_id)

    # -- reading ----------------------------------------------------------------------------------

    def _experiment(self) -> Experiment:
        return Experiment(self._experiment_id, self._experiment_name, artifact_location=Path(self.root).as_uri())

    def experiments(self, include_deleted: bool = False) -> list[Experiment]:
        return [self._experiment()]

    def runs(self, experiment: Experiment, include_deleted: bool = False, with_data: bool = True) -> list[Run]:
        if experiment.experiment_id != self._experiment_id:
            return []
        runs = []
        for name in self._commit_folders():
            run = self._read_run(name)
            if run.is_deleted and not include_deleted:
                continue
            if with_data:
                self.load_data(run)
            runs.append(run)
        return runs

    def _read_run(self, name: str) -> Run:
        folder = self._folder(name)
        run = Run(run_id=name, experiment_id=self._experiment_id, run_name=name[:12],
                  artifact_uri=Path(folder, FILES).as_uri())
        where = f"{name}/{META}"
        try:
            meta, why = read_meta(read_bytes(os.path.join(folder, META)))
        except FileNotFoundError:
            meta, why = None, "is missing (fetch_ml skips this experiment when pruning)"
        except OSError as exc:
            meta, why = None, f"cannot be read ({reason(exc)})"
        if meta is None:
            run.problems.append(Problem(where, f"{META} {why}"))
        else:
            run.status = RunStatus.FINISHED
            run.start_time = meta.timestamp * 1000
            run.user_id = meta.user
            run.run_name = meta.job_name or run.run_name
            run.tags = {COMMIT_TAG: meta.commit_id, JOB_TAG: meta.job_name}
            run.problems += [Problem(where, p) for p in meta.problems]
            if meta.commit_id != name:
                run.problems.append(Problem(where, f"the commit id is {meta.commit_id!r} but the folder is {name!r}"))
        try:
            stamp = read_bytes(os.path.join(folder, DELETED_MARKER)).decode("ascii", "replace").strip()
        except OSError:
            return run
        run.lifecycle_stage = Lifecycle.DELETED
        run.deleted_time = int(stamp) if stamp.isdigit() else None
        return run

    def _latest_of(self, run_id: str) -> _Latest:
        with self._lock:
            latest = self._latest.get(run_id)
            if latest is None:
                latest = self._latest[run_id] = _Latest(os.path.join(self._folder(run_id), METRICS))
            latest.refresh()
            return latest

    def load_data(self, run: Run) -> None:
        latest = self._latest_of(run.run_id)
        run.metrics = dict(latest.points)
        where = f"{run.run_id}/{METRICS}"
        # An incomplete last record is not a problem: a writer is appending it, and it counts once
        # complete (as an MLflow metric line does).
        run.problems = [p for p in run.problems if p.where != where] + [Problem(where, e) for e in latest.errors]

    def find_run(self, run_id: str) -> Run:
        names = self._commit_folders()
        matches = prefix_matches(run_id, names)
        refuse_ambiguous(run_id, matches)
        if not matches:
            raise RunNotFound(f"no run {run_id!r} in {self.location}")
        run = self._read_run(matches[0])
        self.load_data(run)
        return run

    def read_run(self, experiment: Experiment, run_id: str) -> Run | None:
        folder = self._folder(run_id)
        if (experiment.experiment_id != self._experiment_id or not _is_folder_name(run_id)
                or os.path.islink(folder) or not os.path.isdir(folder)):
            return None  # one stat or two: the watcher asks this for every change
        run = self._read_run(run_id)
        self.load_data(run)
        return run

    def latest_metric(self, run: Run, key: str) -> MetricPoint | None:
        return self._latest_of(run.run_id).points.get(key)

    def metric_history(self, run: Run, key: str) -> MetricHistory:
        history = MetricHistory(run_id=run.run_id, key=key, where=f"{run.run_id}/{METRICS}")
        history.cursor = MetricsTail(os.path.join(self._folder(run.run_id), METRICS))
        self.read_new_points(history)
        return history

    def read_new_points(self, history: MetricHistory) -> list[MetricPoint]:
        tail: MetricsTail = history.cursor
        new: list[MetricPoint] = []

        def keep(chunk: Chunk) -> None:  # only this metric's points are kept, chunk by chunk
            new.extend(point for name, point in chunk.records if name == history.key)

        try:
            chunk, reset = tail.read_new(keep)
        except OSError as exc:
            history.problems.append(Problem(history.where, f"cannot read ({reason(exc)})"))
            return []
        if reset:
            history.points, history.problems = [], []
        history.points.extend(new)
        history.problems.extend(Problem(history.where, e) for e in chunk.errors)
        return new

    def last_write(self, run: Run) -> int | None:
        times = []
        for name in (META, METRICS):
            try:
                times.append(os.stat(os.path.join(self._folder(run.run_id), name)).st_mtime)
            except OSError:
                continue
        return int(max(times) * 1000) if times else None

    def disk_usage(self, run: Run) -> int | None:
        folder = Path(self._folder(run.run_id))
        return purge_plan.disk_bytes(folder) if folder.is_dir() else None

    def fingerprints(self) -> dict[str, int]:
        """Each commit folder by its meta.bin, metrics.bin and deletion marker."""
        return {folder: hash(tuple(stat_key(os.path.join(folder, name)) for name in (META, METRICS, DELETED_MARKER)))
                for folder in map(self._folder, self._commit_folders())}

    def classify(self, path: str) -> Change | None:
        rel = os.path.relpath(os.path.abspath(path), self.root)
        if rel == ".":
            return Change("experiments")
        parts = rel.split(os.sep)
        if rel.startswith("..") or parts[0].startswith("."):
            return None
        if len(parts) == 1 or parts[1] in (META, METRICS, DELETED_MARKER):
            # metrics.bin holds every metric: the run is read again (only the new bytes are
            # parsed) and the index sees which metrics have new points.
            return Change("run", self._experiment_id, parts[0])
        return None  # files/, and our own temporary files

    # -- changes ----------------------------------------------------------------------------------

    def _existing(self, run: Run) -> str:
        folder = self._folder(run.run_id)
        if not os.path.isdir(folder):
            raise RunNotFound(f"run {run.run_id} is gone from {self.location}")
        return folder

    def delete_run(self, run: Run) -> None:
        folder = self._existing(run)
        write_atomic(os.path.join(folder, DELETED_MARKER), f"{now_ms()}\n".encode())

    def restore_run(self, run: Run) -> None:
        try:
            os.unlink(os.path.join(self._existing(run), DELETED_MARKER))
        except FileNotFoundError:
            pass

    def refusal(self, change: str, run: Run | None = None) -> str | None:
        if change in ("tag", "note", "rename"):
            return NO_TAGS
        if change == "delete_experiment":
            return "a fetch_ml base folder is one experiment; delete its runs instead"
        return None

    def set_tags(self, run: Run, tags: dict[str, str], force: bool = False) -> None:
        raise ChangeRefused(NO_TAGS)

    def delete_tags(self, run: Run, keys: list[str], force: bool = False) -> None:
        raise ChangeRefused(NO_TAGS)

    def set_note(self, run: Run, text: str) -> None:
        raise ChangeRefused(NO_TAGS)

    def rename_run(self, run: Run, name: str) -> None:
        raise ChangeRefused(NO_TAGS)

    def terminate_run(self, run: Run, status: RunStatus, end_time: int | None) -> None:
        raise ChangeRefused("fetch_ml keeps no run status, so tuitrack cannot change it")

    def delete_experiment(self, experiment: Experiment) -> None:
        raise ChangeRefused("a fetch_ml base folder is one experiment; delete its runs instead")

    def restore_experiment(self, experiment: Experiment) -> None:
        raise ChangeRefused("a fetch_ml base folder is one experiment; restore its runs instead")

    def plan_purge(self, runs: list[Run], experiments: list[Experiment]) -> PurgePlan:
        """Deleted runs' commit folders, as fetch_ml's prune removes them, but never outside the
        base folder: a symlink is unlinked, not followed."""
        if experiments:
            raise ChangeRefused("a fetch_ml base folder is one experiment; purge its runs instead")
        return purge_plan.plan_own_places(
            self.root, runs, lambda r: self._folder(r.run_id) if _is_folder_name(r.run_id) else None, "run folder")

    def execute_purge(self, plan: PurgePlan) -> PurgeResult:
        result = purge_plan.execute(plan, lambda target: purge_plan.check_run_deleted(self.find_run, target))
        with self._lock:
            for run_id in result.removed:
                self._latest.pop(run_id, None)
        return result


def _is_folder_name(name: str) -> bool:
    """A name that stays directly inside the base folder, and is not hidden (ours)."""
    return bool(name) and "/" not in name and "\x00" not in name and not name.startswith(".")
