"""entrenar's JSON file backend as a tuitrack Store: a folder of `{run_id}.json` run records.

Experiments are the records' `experiment_name`s (see tuitrack/store/grouping.py). Each record is
parsed once per version of its file: the store keeps the parsed record beside the file's
(inode, size, mtime), so a listing after one rewrite parses one file. `run_dir` is the record
file itself: for this format a run is one file.

Changes rewrite the record atomically (rewrite.py). entrenar has no soft delete: tuitrack marks a
deleted run with the tag `tuitrack.lifecycle_stage=deleted` (and `tuitrack.deleted_time`) inside
its record; restore removes them and purge removes the file. entrenar itself still lists such a
run, with those tags. Experiments cannot be deleted or restored: they exist only as names.
"""

from __future__ import annotations

import os
import threading
import time

from tuitrack.model import NOTE_TAG, RUN_NAME_TAG, Experiment, Lifecycle, MetricPoint, Problem, Run, RunStatus
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
from tuitrack.store.entrenar import rewrite
from tuitrack.store.entrenar.record import (
    RECORD_LIMIT,
    DELETED_TIME_TAG,
    LIFECYCLE_TAG,
    RESERVED_TAG_PREFIXES,
    STATUS_TO_ENTRENAR,
    Record,
    parse_record,
)
from tuitrack.store.grouping import UNREADABLE_ID, experiment_id_for, experiments_from
from tuitrack.store.mlflow_file.changes import ChangeRefused
from tuitrack.store.mlflow_rules import no_such_tag
from tuitrack.store.mlflow_file.files import read_bytes, reason
from tuitrack.store.mlflow_file.writer import now_ms
from tuitrack.store.purge_plan import PurgePlan

SUFFIX = ".json"
JUST_WRITTEN_S = 2.0  # a record this fresh that does not parse may be mid-write: read it again once


def record_files(root: str) -> list[tuple[str, str]]:
    """(run id, path) of every `{run_id}.json` in `root`, by run id; dot-files are ours or hidden."""
    try:
        with os.scandir(root) as entries:
            found = [(e.name[: -len(SUFFIX)], e.path) for e in entries
                     if e.name.endswith(SUFFIX) and not e.name.startswith(".") and len(e.name) > len(SUFFIX)]
    except OSError:
        return []
    return sorted(found)


EXPERIMENTS_ARE_NAMES = "entrenar experiments are only names on runs and cannot be deleted; delete their runs instead"


class EntrenarStore(Store):
    def __init__(self, root: str | os.PathLike[str], location: str | None = None):
        self.root = os.path.abspath(root)
        self.location = location if location is not None else str(root)
        self.watch_root = self.root
        self._parsed: dict[str, tuple[tuple[int, int, int], Record]] = {}  # path -> (file version, record)
        self._lock = threading.Lock()
        self._known_experiments: set[str] = set()

    # -- reading records --------------------------------------------------------------------------

    def _path(self, run_id: str) -> str:
        return os.path.join(self.root, run_id + SUFFIX)

    def _record(self, run_id: str, path: str) -> Record | None:
        """The parsed record of one file; None when the file is gone."""
        try:
            st = os.stat(path)
            version = (st.st_ino, st.st_size, st.st_mtime_ns)
            with self._lock:
                cached = self._parsed.get(path)
            if cached is not None and cached[0] == version:
                return cached[1]
            data = read_bytes(path, RECORD_LIMIT)
        except FileNotFoundError:
            return None
        except OSError as exc:
            record = Record(run_id)
            record.problems.append(f"cannot read ({reason(exc)})")
            return record
        record = parse_record(run_id, data)
        if record.run is None and time.time() - st.st_mtime < JUST_WRITTEN_S:
            time.sleep(0.05)  # entrenar truncates, then writes: the rest may be on its way
            return self._parse_again(run_id, path, record)
        with self._lock:
            self._parsed[path] = (version, record)
        return record

    @staticmethod
    def _parse_again(run_id: str, path: str, first: Record) -> Record:
        """A second read of a record that was unreadable just after a write (not cached: the
        next read parses it again, whatever it holds then)."""
        try:
            return parse_record(run_id, read_bytes(path, RECORD_LIMIT))
        except OSError:
            return first

    def _records(self) -> list[Record]:
        records = [self._record(run_id, path) for run_id, path in record_files(self.root)]
        return [r for r in records if r is not None]

    @staticmethod
    def _experiment_id(record: Record) -> str:
        return UNREADABLE_ID if record.experiment_name is None else experiment_id_for(record.experiment_name)

    def _run_of(self, record: Record) -> Run:
        run = record.build_run(self._experiment_id(record))
        run.problems = [Problem(record.run_id + SUFFIX, message) for message in record.problems]
        run.artifact_uri = None
        return run

    # -- the Store interface: reading ---------------------------------------------------------------

    def experiments(self, include_deleted: bool = False) -> list[Experiment]:
        records = self._records()
        found = experiments_from([(r.experiment_name, r.run.start_time if r.run else None) for r in records])
        self._known_experiments = {e.experiment_id for e in found}
        return found

    def runs(self, experiment: Experiment, include_deleted: bool = False, with_data: bool = True) -> list[Run]:
        runs = [self._run_of(r) for r in self._records() if self._experiment_id(r) == experiment.experiment_id]
        return [r for r in runs if include_deleted or not r.is_deleted]

    def load_data(self, run: Run) -> None:
        record = self._record(run.run_id, self._path(run.run_id))
        if record is not None:
            fresh = self._run_of(record)
            run.params, run.tags, run.metrics = fresh.params, fresh.tags, fresh.metrics

    def find_run(self, run_id: str) -> Run:
        files = dict(record_files(self.root))
        matches = prefix_matches(run_id, files)
        refuse_ambiguous(run_id, matches)
        record = self._record(matches[0], files[matches[0]]) if matches else None
        if record is None:
            raise RunNotFound(f"no run {run_id!r} in {self.location}")
        return self._run_of(record)

    def read_run(self, experiment: Experiment, run_id: str) -> Run | None:
        if "/" in run_id or run_id.startswith("."):
            return None
        record = self._record(run_id, self._path(run_id))
        if record is None or self._experiment_id(record) != experiment.experiment_id:
            return None
        return self._run_of(record)

    def latest_metric(self, run: Run, key: str) -> MetricPoint | None:
        record = self._record(run.run_id, self._path(run.run_id))
        points = record.histories.get(key) if record else None
        return max(points, key=MetricPoint.sort_key) if points else None

    def metric_history(self, run: Run, key: str) -> MetricHistory:
        history = MetricHistory(run_id=run.run_id, key=key, where=f"{run.run_id}{SUFFIX}: metrics.{key}")
        history.cursor = self._path(run.run_id)
        self.read_new_points(history)
        return history

    def read_new_points(self, history: MetricHistory) -> list[MetricPoint]:
        """The record is rewritten whole: new points are those past the ones already read, or all
        of them if the start differs."""
        record = self._record(history.run_id, history.cursor)
        points = record.histories.get(history.key, []) if record else []
        old = history.points
        if points[: len(old)] == old:
            new = points[len(old):]
            history.points = old + new
            return new
        history.points = list(points)
        return list(points)

    def run_dir(self, run: Run) -> str:
        """The run's record file (a run of this format is one file, not a folder)."""
        return self._path(run.run_id)

    def last_write(self, run: Run) -> int | None:
        try:
            return int(os.stat(self._path(run.run_id)).st_mtime * 1000)
        except OSError:
            return None

    def disk_usage(self, run: Run) -> int | None:
        try:
            return os.lstat(self._path(run.run_id)).st_blocks * 512
        except OSError:
            return None

    def fingerprints(self) -> dict[str, int]:
        """Each run record by its stat."""
        return {path: hash((stat_key(path),)) for _, path in record_files(self.root)}

    def classify(self, path: str) -> Change | None:
        folder, name = os.path.split(os.path.abspath(path))
        if folder != self.root or not name.endswith(SUFFIX) or name.startswith("."):
            return Change("experiments") if os.path.abspath(path) == self.root else None
        run_id = name[: -len(SUFFIX)]
        record = self._record(run_id, path)
        if record is None:  # removed: the run leaves the experiment it was in
            with self._lock:
                gone = self._parsed.pop(path, None)
            if gone is None:
                return Change("experiments")
            return Change("run", self._experiment_id(gone[1]), run_id)
        experiment_id = self._experiment_id(record)
        if experiment_id not in self._known_experiments:
            return Change("experiments")  # a new experiment name: the experiment list grows
        return Change("run", experiment_id, run_id)

    # -- changes ----------------------------------------------------------------------------------

    def _rewrite(self, run: Run, change, require_active: bool = True, while_running: bool = False) -> None:
        """Rewrite the run's record. entrenar's save_run writes a running run's whole record from
        memory, so anything written into an Active record would be lost at its next save: such
        changes are refused unless `while_running` (killing a run whose process is gone)."""
        path = self._path(run.run_id)
        if not os.path.isfile(path):
            raise RunNotFound(f"run {run.run_id} is gone from {self.location}")

        def checked(fields: dict) -> None:
            tags = fields.get("tags")
            if require_active and isinstance(tags, dict) and tags.get(LIFECYCLE_TAG) == Lifecycle.DELETED.value:
                raise ChangeRefused(f"{run.run_id} is deleted; restore it first")
            if not while_running and fields.get("status") == "Active":
                raise ChangeRefused(f"{run.run_id} is still Active: entrenar rewrites a running run's whole "
                                    f"record from memory, so the change would be lost; make it once the run ends")
            change(fields)

        rewrite.rewrite_record(path, checked)

    def refusal(self, change: str, run: Run | None = None) -> str | None:
        if change == "delete_experiment":
            return EXPERIMENTS_ARE_NAMES
        if change in ("tag", "note", "rename") and run is not None and run.status is RunStatus.RUNNING:
            return (f"{run.run_id} is still Active: entrenar rewrites a running run's whole record from "
                    f"memory, so the change would be lost; make it once the run ends")
        return None

    def set_tags(self, run: Run, tags: dict[str, str], force: bool = False) -> None:
        for key in tags:
            _check_tag_key(key)
        name = tags.get(RUN_NAME_TAG)
        others = {k: v for k, v in tags.items() if k != RUN_NAME_TAG}

        def change(fields: dict) -> None:
            rewrite.tags_of(fields).update(others)
            if name is not None:
                fields["run_name"] = name

        if name is not None and not name.strip():
            raise ChangeRefused("a run name cannot be empty")
        self._rewrite(run, change)

    def delete_tags(self, run: Run, keys: list[str], force: bool = False) -> None:
        for key in keys:
            _check_tag_key(key)

        def change(fields: dict) -> None:
            tags = rewrite.tags_of(fields)
            missing = [k for k in keys if k not in tags]
            if missing:
                raise no_such_tag(run.run_id, missing[0])
            for key in keys:
                del tags[key]

        self._rewrite(run, change)

    def set_note(self, run: Run, text: str) -> None:
        self._rewrite(run, lambda fields: rewrite.tags_of(fields).__setitem__(NOTE_TAG, text))

    def rename_run(self, run: Run, name: str) -> None:
        if not name.strip():
            raise ChangeRefused("a run name cannot be empty")
        self._rewrite(run, lambda fields: fields.__setitem__("run_name", name))

    def delete_run(self, run: Run) -> None:
        when = str(now_ms())
        self._rewrite(run, lambda fields: rewrite.tags_of(fields).update(
            {LIFECYCLE_TAG: Lifecycle.DELETED.value, DELETED_TIME_TAG: when}), require_active=False)

    def restore_run(self, run: Run) -> None:
        def change(fields: dict) -> None:
            tags = rewrite.tags_of(fields)
            tags.pop(LIFECYCLE_TAG, None)
            tags.pop(DELETED_TIME_TAG, None)

        self._rewrite(run, change, require_active=False)

    def terminate_run(self, run: Run, status: RunStatus, end_time: int | None) -> None:
        name = STATUS_TO_ENTRENAR.get(status)
        if name is None:
            raise ChangeRefused(f"entrenar has no status for {status.name}; it knows "
                                f"{', '.join(s.name for s in STATUS_TO_ENTRENAR)}")
        self._rewrite(run, lambda fields: fields.update({"status": name, "end_time_ms": end_time}), while_running=True)

    def delete_experiment(self, experiment: Experiment) -> None:
        raise ChangeRefused(EXPERIMENTS_ARE_NAMES)

    def restore_experiment(self, experiment: Experiment) -> None:
        raise ChangeRefused("entrenar experiments are only names on runs; restore their runs instead")

    def plan_purge(self, runs: list[Run], experiments: list[Experiment]) -> PurgePlan:
        if experiments:
            raise ChangeRefused("entrenar experiments are only names on runs; purge their runs instead")
        return purge_plan.plan_own_places(self.root, runs, lambda r: self._path(r.run_id), "run record")

    def execute_purge(self, plan: PurgePlan) -> PurgeResult:
        # a symlinked record loses the link; its target stays
        return purge_plan.execute(plan, lambda target: purge_plan.check_run_deleted(self.find_run, target))


def _check_tag_key(key: str) -> None:
    if not key:
        raise ChangeRefused("a tag key cannot be empty")
    if key.startswith(RESERVED_TAG_PREFIXES):
        raise ChangeRefused(f"{key!r}: tags under {' and '.join(RESERVED_TAG_PREFIXES)} are tuitrack's "
                            "view of the record (artifacts, soft delete) and cannot be set")
