"""MLflow's file store (`mlruns/`), read exactly as MLflow 3.x reads it, only faster and never failing.

Layout (see shared/reference/mlflow-file-store.md): `<root>/<experiment_id>/meta.yaml`, deleted
experiments under `<root>/.trash/`, runs as `<experiment>/<run_id>/` with `meta.yaml`, `params/`,
`tags/` and append-only `metrics/` files. Where MLflow would raise for one bad file (and so fail the
whole search), this reader records a Problem on the run or experiment and goes on.

A run's id and experiment id are those of its folders: that is where its data is. When meta.yaml
says otherwise, the run carries a problem saying so.

The same store reads the runs the mini-mlflow package writes into an mlruns folder, mixed with
MLflow's (see mini.py): such a run has `dialect` set, and its params, metrics, history and
changes go through mini.py; its experiment may have no meta.yaml.
"""

from __future__ import annotations

import os
import posixpath
import threading
import time
from pathlib import Path
from collections.abc import Iterator
from typing import Any

from tuitrack.model import (
    PARENT_RUN_TAG,
    RUN_NAME_TAG,
    DatasetInput,
    Experiment,
    Lifecycle,
    MetricPoint,
    Problem,
    Run,
    RunStatus,
)
from tuitrack.store import purge_plan
from tuitrack.store.base import (
    MIN_PREFIX,
    Change,
    MetricHistory,
    PurgeResult,
    RunNotFound,
    Store,
    refuse_ambiguous,
    stat_key,
)
from tuitrack.store.forked import map_chunks
from tuitrack.store.mlflow_file import changes, experiment_delete, inputs, mini, purge
from tuitrack.store.mlflow_file.files import (
    PARAM_LIMIT,
    READ_FLAGS,
    TAG_LIMIT,
    open_beneath,
    read_bytes,
    META_LIMIT,
    read_fd,
    reason,
    refuse_symlinked_parts,
    said_plainly,
    stat_and_read,
    walk_keys,
)
from tuitrack.store.mlflow_file.meta_yaml import MetaYamlError, load_meta
from tuitrack.store.mlflow_file.metric_file import MetricCursor, latest_of_fd, read_latest
from tuitrack.store.mlflow_file.read_cache import ReadCache, Stamps
from tuitrack.store.mlflow_file.run_prints import RunPrints
from tuitrack.store.shared_strings import share_strings
from tuitrack.store.purge_plan import PurgePlan

TRASH = ".trash"
# Folders that are not experiments at the root, and not runs inside an experiment (MLflow's names).
RESERVED_ROOT_FOLDERS = frozenset({TRASH, "models"})
RESERVED_EXPERIMENT_FOLDERS = frozenset({"tags", "datasets", "traces", "models"})
META = "meta.yaml"
# MLflow rewrites meta.yaml in place (truncate, then write), so a reader may see it empty for a
# moment. A meta.yaml that is empty or does not parse is read again after these pauses (about
# 0.3 s in all) before it is called broken, when it changed in the last few seconds: one broken
# for longer is not being written, and is reported at once.
META_RETRIES = (0.02, 0.04, 0.08, 0.16)
RECENT_SECONDS = 5.0


class _Meta:
    """The outcome of reading one meta.yaml: its fields, or why there are none."""

    __slots__ = ("fields", "problem", "missing")

    def __init__(self, fields: dict[str, Any] | None, problem: str | None = None, missing: bool = False):
        self.fields = fields
        self.problem = problem
        self.missing = missing


def read_meta(path: str, stamps: Stamps | None = None) -> _Meta:
    meta, may_be_mid_write = _read_meta_once(path, stamps)
    for delay in META_RETRIES:
        if not may_be_mid_write or not _changed_lately(path):
            break
        time.sleep(delay)
        meta, may_be_mid_write = _read_meta_once(path)  # such a run has a problem: not cached
    return meta


def _read_meta_once(path: str, stamps: Stamps | None = None) -> tuple[_Meta, bool]:
    """The outcome, and whether it may be a rewrite in progress (empty, or does not parse)."""
    try:
        if stamps is None:
            data = read_bytes(path)
        else:
            st, data = stat_and_read(path, META_LIMIT)
            stamps.add(META, st)
    except FileNotFoundError:
        return _Meta(None, "meta.yaml is missing", missing=True), False
    except IsADirectoryError:
        return _Meta(None, "meta.yaml is a folder, not a file"), False
    except OSError as exc:
        return _Meta(None, f"cannot read meta.yaml ({reason(exc)})"), False
    try:
        fields = load_meta(data)
    except MetaYamlError as exc:
        return _Meta(None, f"meta.yaml is unreadable: {exc}"), True
    if fields is None:
        return _Meta(None, "meta.yaml is empty (a writer may have been rewriting it)"), True
    return _Meta(fields), False


def _changed_lately(path: str) -> bool:
    try:
        return os.stat(path).st_mtime > time.time() - RECENT_SECONDS
    except OSError:
        return False


def _int_or_none(fields: dict[str, Any], key: str, problems: list[str]) -> int | None:
    value = fields.get(key)
    if value is None or (isinstance(value, int) and not isinstance(value, bool)):
        return value
    problems.append(f"{key} is {value!r}, not a time in milliseconds")
    return None


def _lifecycle(fields: dict[str, Any], problems: list[str]) -> Lifecycle:
    stage = fields.get("lifecycle_stage")
    if stage is None:
        return Lifecycle.ACTIVE  # old stores omit it; MLflow reads that as active
    try:
        return Lifecycle(stage)
    except ValueError:
        problems.append(f"lifecycle_stage is {stage!r}; expected 'active' or 'deleted'")
        return Lifecycle.ACTIVE


TRASHED_BUT_ACTIVE = ("in .trash, but meta.yaml says lifecycle_stage: active: tuitrack keeps it deleted, "
                      "as its place says; MLflow 3 reads it as active")


class MlflowFileStore(Store):
    """Reads an `mlruns` folder. Holds no cache of run data: callers (the live index) do."""

    default_experiment_id = "0"
    metric_points_disposable = True  # a MetricCursor's byte offset is all a next read needs

    def __init__(self, root: str | os.PathLike[str], location: str | None = None, workers: int = 1,
                 cache: bool = False):
        self.root = os.path.abspath(root)
        self.location = location if location is not None else str(root)
        self.workers = workers  # > 1 forks processes for big listings: only for the CLI
        self.shares_strings = workers <= 1  # runs pickled back from a worker are unshared copies
        self.watch_root = self.root
        # Artifact URIs that start so are in this store (a root with % or : in it is parsed each time).
        self._inside_uri = "" if any(c in self.root for c in "%:?#;") else "file://" + self.root + "/"
        self._mini_runs: dict[str, bool] = {}  # run folder -> is it mini-mlflow's (for classify)
        # The persistent read cache (read_cache.py), for the first listing of this session only.
        self.cache = ReadCache(self.root) if cache else None
        # run folder -> hash of its fingerprint as the listing read it (record_fingerprints)
        self._prints: dict[str, int] | None = None
        self._prints_lock = threading.Lock()
        self._run_prints = RunPrints()  # the sweep's fingerprints of run folders, and their names
        # (experiment id, run id) -> the run a listing without data made: from the cache, with
        # its data already (load_data has nothing to do); or read, with its stamps so far.
        self._from_cache: dict[tuple[str, str], Run] = {}
        self._stamping: dict[tuple[str, str], tuple[Run, Stamps]] = {}

    # -- paths --------------------------------------------------------------------------------

    def _rel(self, path: str) -> str:
        """`path` relative to the store root (paths here are all built from the root)."""
        prefix = self.root + os.sep
        return path[len(prefix):] if path.startswith(prefix) else os.path.relpath(path, self.root)

    def experiment_dir(self, experiment_id: str) -> str:
        """The folder of an experiment: at the root, or in `.trash` once deleted."""
        active = os.path.join(self.root, experiment_id)
        if os.path.isdir(active):
            return active
        trashed = os.path.join(self.root, TRASH, experiment_id)
        return trashed if os.path.isdir(trashed) else active

    def run_dir(self, run: Run) -> str:
        return os.path.join(self.experiment_dir(run.experiment_id), run.run_id)

    def run_dirs(self, runs: list[Run]) -> list[str]:
        """`run_dir` of each, each experiment's folder looked up (a stat or two) once for all."""
        folders: dict[str, str] = {}
        out = []
        for run in runs:
            folder = folders.get(run.experiment_id)
            if folder is None:
                folder = folders[run.experiment_id] = self.experiment_dir(run.experiment_id)
            out.append(os.path.join(folder, run.run_id))
        return out

    # -- experiments ----------------------------------------------------------------------------

    def experiments(self, include_deleted: bool = False) -> list[Experiment]:
        active = self._subfolders(self.root)
        trashed = self._subfolders(os.path.join(self.root, TRASH)) if include_deleted else []
        found = [(self._read_experiment(path, name, trash), path)
                 for trash, folders in ((False, active), (True, trashed)) for name, path in folders]
        if self.cache is not None and not self.cache.finished:  # a helper process, if worth it
            self.cache.expect(sum(_subfolder_count(path) for experiment, path in found if experiment is not None))
        return [experiment for experiment, _ in found if experiment is not None]

    def _subfolders(self, folder: str) -> list[tuple[str, str]]:
        """Experiment candidates: sub-folders that are not reserved and not hidden."""
        try:
            entries = list(os.scandir(folder))
        except OSError:
            return []
        out = []
        for entry in entries:
            if entry.name in RESERVED_ROOT_FOLDERS or entry.name.startswith("."):
                continue
            try:
                if entry.is_dir():
                    out.append((entry.name, entry.path))
            except OSError:
                out.append((entry.name, entry.path))  # e.g. a symlink loop: reported when read
        out.sort()
        return out

    def _read_experiment(self, path: str, folder: str, trashed: bool) -> Experiment | None:
        meta = read_meta(os.path.join(path, META))
        where = self._rel(os.path.join(path, META))
        if meta.missing and mini.holds_mini_runs(path):
            # mini-mlflow writes no experiment meta.yaml and records no experiment name.
            exp = Experiment(experiment_id=folder, name=folder)
            if trashed:
                exp.lifecycle_stage = Lifecycle.DELETED
            return exp
        if meta.fields is None:
            exp = Experiment(experiment_id=folder, name="")
            note = " (MLflow ignores this experiment)" if meta.missing else ""
            exp.problems.append(Problem(where, meta.problem + note))
            if trashed:
                exp.lifecycle_stage = Lifecycle.DELETED
            return exp
        fields = meta.fields
        issues: list[str] = []
        stored_id = fields.get("experiment_id")
        if stored_id is not None and str(stored_id) != folder:
            issues.append(
                f"experiment_id is {str(stored_id)!r} but the folder is {folder!r} "
                "(MLflow ignores this experiment)"
            )
        stage = fields.get("lifecycle_stage")
        if stage is None:
            issues.append("lifecycle_stage is missing: MLflow 3 cannot read this experiment (its searches skip it, "
                          "get_experiment fails)")
        elif trashed and stage == Lifecycle.ACTIVE.value:
            issues.append(TRASHED_BUT_ACTIVE)
        exp = Experiment(
            experiment_id=folder,
            name=str(fields.get("name") or ""),
            lifecycle_stage=Lifecycle.DELETED if trashed else _lifecycle(fields, issues),
            artifact_location=fields.get("artifact_location"),
            creation_time=_int_or_none(fields, "creation_time", issues),
            last_update_time=_int_or_none(fields, "last_update_time", issues),
        )
        if not trashed and experiment_delete.interrupted(path):
            issues.append(experiment_delete.INTERRUPTED_HINT)
        exp.problems.extend(Problem(where, m) for m in issues)
        exp.tags = self._read_values(path, "tags", self._rel(path), exp.problems)
        return exp

    # -- runs -----------------------------------------------------------------------------------

    def runs(
        self, experiment: Experiment, include_deleted: bool = False, with_data: bool = True
    ) -> list[Run]:
        return [run for _, run in self.all_runs([experiment], include_deleted, with_data)]

    def all_runs(
        self, experiments: list[Experiment], include_deleted: bool = False, with_data: bool = True
    ) -> list[tuple[Experiment, Run]]:
        # One flat list of run folders, so that forked workers share the work evenly.
        folders = [(i, name, path) for i, e in enumerate(experiments) for name, path in self._run_folders(e)]

        cache = self.cache if self.cache is not None and not self.cache.finished else None
        recording = self._prints is not None  # the sweep's baseline, from the stamps of the reads

        def read(chunk: list[tuple[int, str, str]]) -> list[tuple[int, Run | Problem]]:
            # Experiment problems travel back beside the runs, so this works in a forked worker.
            out: list[tuple[int, Run | Problem]] = []
            for index, name, path in chunk:
                experiment = experiments[index]
                if cache is not None:
                    result = self._cached_run(cache, experiment, path, name, include_deleted, with_data)
                elif recording:
                    result = self._stamped_run(experiment, path, name, include_deleted, with_data)
                else:
                    result = self._read_run(experiment, path, name, with_data=with_data)
                    if isinstance(result, Run):
                        if result.is_deleted and not include_deleted:
                            continue
                        if with_data:
                            self._load_data_at(result, path)
                if result is not None:
                    out.append((index, result))
            return out

        runs = []
        # The cache's entries are kept in this process: no forked workers (a cached run costs
        # a few stats; on two cores, the workers cost more CPU than they saved in wall time).
        # Nor while the reads' stamps are recorded: a worker's would stay in the worker.
        for index, item in map_chunks(read, folders, self.workers if cache is None and not recording else 1):
            if isinstance(item, Problem):
                experiments[index].problems.append(item)
            else:
                runs.append((experiments[index], item))
        return runs

    def _cached_run(self, cache: ReadCache, experiment: Experiment, path: str, name: str,
                    include_deleted: bool, with_data: bool) -> Run | Problem | None:
        """`_read_run` (and its data when `with_data`) through the read cache; None for a deleted
        run not asked for."""
        key = self._rel(path)
        run = cache.run(key, path, name, experiment.experiment_id,
                        None if self._prints is None else lambda names, numbers: self._record(path, names, numbers))
        if run is not None:
            if run.artifact_uri:
                self._find_moved_artifacts(run, path)
            if run.is_deleted and not include_deleted:
                return None
            if not with_data:
                self._from_cache[(run.experiment_id, run.run_id)] = run
            return run
        return self._stamped_run(experiment, path, name, include_deleted, with_data)

    def _stamped_run(self, experiment: Experiment, path: str, name: str, include_deleted: bool,
                     with_data: bool) -> Run | Problem | None:
        """`_read_run` (and its data when `with_data`), stamping the files as they are read: the
        read cache keeps the run by them, and the sweep's baseline is recorded from them."""
        stamps = Stamps()
        result = self._read_run(experiment, path, name, stamps, with_data)
        if not isinstance(result, Run) or (result.is_deleted and not include_deleted):
            return result if isinstance(result, Problem) else None
        if with_data:
            self._load_stamped_data(result, path, stamps)
        else:
            self._stamping[(result.experiment_id, result.run_id)] = (result, stamps)
        return result

    def save_cache(self) -> str | None:
        """Every run listed has its data: save the read cache (the next open reads only what
        changed) and let go of it. Returns a note for the user when the cache was not usable."""
        if self.cache is None:
            return None
        self.cache.save()
        self._from_cache, self._stamping = {}, {}
        return self.cache.note

    def _run_folders(self, experiment: Experiment) -> list[tuple[str, str]]:
        """(name, path) of every run candidate: sub-folders that are not reserved."""
        exp_dir = self.experiment_dir(experiment.experiment_id)
        try:
            entries = list(os.scandir(exp_dir))
        except OSError as exc:
            experiment.problems.append(Problem(self._rel(exp_dir), f"cannot list runs ({reason(exc)})"))
            return []
        if self.cache is not None:
            self.cache.listed(self._rel(exp_dir))
        folders = []
        for entry in sorted(entries, key=lambda e: e.name):
            if entry.name in RESERVED_EXPERIMENT_FOLDERS or entry.name.startswith("."):
                continue
            try:
                if entry.is_dir():
                    folders.append((entry.name, entry.path))
            except OSError as exc:
                experiment.problems.append(Problem(self._rel(entry.path), f"{reason(exc)}; skipped"))
        return folders

    def _read_run(self, experiment: Experiment, path: str, folder: str, stamps: Stamps | None = None,
                  with_data: bool = False) -> Run | Problem:
        """The run in `path`, or, for a folder without meta.yaml, a problem for its experiment.
        `with_data`: the caller reads its data next (all its tags), so no tag is read here."""
        meta = read_meta(os.path.join(path, META), stamps)
        where = self._rel(os.path.join(path, META))
        if meta.missing:
            # MLflow skips such folders silently (a run being created has no meta.yaml yet).
            return Problem(self._rel(path), "folder has no meta.yaml; not a run (MLflow skips it)")
        run = Run(run_id=folder, experiment_id=experiment.experiment_id)
        if experiment.is_deleted:
            run.lifecycle_stage = Lifecycle.DELETED
        if meta.fields is None:
            run.problems.append(Problem(where, meta.problem or "unreadable"))
            return run
        if "version" in meta.fields and mini.is_mini_meta(meta.fields):
            issues = mini.apply_meta(run, meta.fields, folder, experiment.experiment_id)
        else:
            issues = self._apply_run_meta(run, meta.fields, folder, experiment.experiment_id)
        run.problems.extend(Problem(where, m) for m in issues)
        if run.artifact_uri:
            self._find_moved_artifacts(run, path)
        if with_data:
            return run
        # Two tags belong to what a run is even before its data is read: its parent (the tree
        # nests by it) and, for stores whose meta.yaml has no name, its name.
        for tag in (PARENT_RUN_TAG, RUN_NAME_TAG) if not run.run_name else (PARENT_RUN_TAG,):
            value = _read_text_or_none(path, "tags/" + tag)
            if value is not None:
                run.tags[tag] = value
        if not run.run_name:
            run.run_name = run.tags.get(RUN_NAME_TAG, "")
        return run

    def _find_moved_artifacts(self, run: Run, run_dir: str) -> None:
        """A store copied from another machine (rsync, a git clone) keeps MLflow's absolute URIs,
        which name the old place. When that place is gone and the URI ends in this run's
        `<experiment>/<run>/artifacts`, which this store holds, the store's copy is the run's
        artifacts: for sizes, purge and display (the detail says where it moved from)."""
        if self._inside_uri and run.artifact_uri.startswith(self._inside_uri):
            return  # in this store (MLflow's own URIs): no URI to parse, nothing moved
        path, _ = purge_plan.local_path(run.artifact_uri)
        if path is None or path.startswith(self.root + os.sep):
            return
        if path.rstrip(os.sep).split(os.sep)[-3:] != [run.experiment_id, run.run_id, "artifacts"]:
            return
        here = os.path.join(run_dir, "artifacts")
        if os.path.lexists(path) or not os.path.lexists(here):
            return
        run.artifacts_moved_from = run.artifact_uri
        run.artifact_uri = Path(here).as_uri()

    @staticmethod
    def _apply_run_meta(run: Run, fields: dict[str, Any], folder: str, experiment_id: str) -> list[str]:
        issues: list[str] = []
        stored_id = fields.get("run_id")
        if stored_id is None and fields.get("run_uuid") is not None:
            stored_id = fields["run_uuid"]
            issues.append("has run_uuid but no run_id (MLflow 3 cannot read this run)")
        if stored_id is None:
            issues.append("run_id is missing (MLflow cannot read this run)")
        elif str(stored_id) != folder:
            issues.append(f"run_id is {str(stored_id)!r} but the folder is {folder!r}")
        stored_exp = fields.get("experiment_id")
        if stored_exp is not None and str(stored_exp) != experiment_id:
            issues.append(
                f"experiment_id is {str(stored_exp)!r} but the run is in experiment folder "
                f"{experiment_id!r} (MLflow skips this run)"
            )
        status = fields.get("status", RunStatus.RUNNING.value)
        run.status = RunStatus.from_stored(status)
        if run.status is None:
            if isinstance(status, str) and status.upper() in RunStatus.__members__:
                run.status = RunStatus[status.upper()]
                issues.append(f"status is the string {status!r}, not a number (MLflow 3 cannot read it)")
            else:
                issues.append(f"status is {status!r}; expected a number from 1 to 5")
        if run.lifecycle_stage is not Lifecycle.DELETED:
            run.lifecycle_stage = _lifecycle(fields, issues)
        elif fields.get("lifecycle_stage") == Lifecycle.ACTIVE.value:  # its experiment is in .trash
            issues.append(TRASHED_BUT_ACTIVE)
        if fields.get("start_time") is None:
            issues.append("start_time is missing (MLflow cannot read this run)")
        run.start_time = _int_or_none(fields, "start_time", issues)
        run.end_time = _int_or_none(fields, "end_time", issues)
        run.deleted_time = _int_or_none(fields, "deleted_time", issues)
        user = fields.get("user_id")
        if user is None:
            issues.append("user_id is missing (MLflow cannot read this run)")
        run.user_id = "" if user is None else str(user)
        name = fields.get("run_name")
        run.run_name = "" if name is None else str(name)
        uri = fields.get("artifact_uri")
        run.artifact_uri = None if uri is None else str(uri)
        return issues

    def load_data(self, run: Run) -> None:
        which = (run.experiment_id, run.run_id)
        if self._from_cache.pop(which, None) is run:
            return  # read from the cache with its data, moments ago
        stamping = self._stamping.pop(which, None)
        if stamping is not None and stamping[0] is run:
            path = self.run_dir(run)
            helped = None if self.cache is None else self.cache.helper_read(self._rel(path), run.run_id, run.experiment_id)
            if helped is not None:  # the data as the helper read it (its meta may be newer than this)
                read, names, numbers = helped
                run.params, run.tags, run.metrics = read.params, read.tags, read.metrics
                if not run.run_name:
                    run.run_name = read.run_name
                self._record(path, names, numbers)
                return
            self._load_stamped_data(run, path, stamping[1])
            return
        self._load_data_at(run, self.run_dir(run))

    def _load_stamped_data(self, run: Run, path: str, stamps: Stamps) -> None:
        """The run's data, read with the stamps its meta began; then the read cache keeps the run
        by them (if this listing uses it), and the sweep's baseline records them."""
        self._load_data_at(run, path, stamps)
        if self.cache is not None:
            self.cache.keep(self._rel(path), run, stamps)  # nothing, once the cache is finished
        self._record(path, stamps.names, stamps.numbers)

    def _load_data_at(self, run: Run, path: str, stamps: Stamps | None = None) -> None:
        rel = self._rel(path)
        if run.dialect:
            run.params = mini.read_params(path, rel, run.problems)
            run.tags = self._read_values(path, "tags", rel, run.problems)
            run.metrics = mini.read_metrics(path, rel, run.problems)
        else:
            run.params = self._read_values(path, "params", rel, run.problems, stamps)
            run.tags = self._read_values(path, "tags", rel, run.problems, stamps)
            run.metrics = self._read_latest_metrics(path, rel, run.problems, stamps)
        if not run.run_name:
            run.run_name = run.tags.get(RUN_NAME_TAG, "")
        share_strings(run)  # before the read cache keeps it: marshal gives interned strings back interned

    @staticmethod
    def _read_values(parent: str, kind: str, rel: str, problems: list[Problem],
                     stamps: Stamps | None = None) -> dict[str, str]:
        """Every `<parent>/<kind>/<key>` file's text: params, run tags or experiment tags."""
        values: dict[str, str] = {}
        bad: list[tuple[str, str]] = []
        limit = PARAM_LIMIT if kind == "params" else TAG_LIMIT
        on_folder = None if stamps is None else (lambda sub, st: stamps.add(kind + "/" + sub if sub else kind, st))
        for key, dir_fd, name in walk_keys(os.path.join(parent, kind), bad, on_folder):
            try:
                if stamps is None:
                    data = read_bytes(name, limit, dir_fd)
                else:
                    st, data = stat_and_read(name, limit, dir_fd)
                    stamps.add(kind + "/" + key, st)
            except OSError as exc:
                bad.append((key, f"cannot read ({reason(exc)})"))
                continue
            try:
                values[key] = data.decode("utf-8")
            except UnicodeDecodeError:
                values[key] = data.decode("utf-8", "replace")
                bad.append((key, "not UTF-8 text; shown with replacement characters"))
        problems.extend(Problem(posixpath.join(rel, kind, key).rstrip("/"), msg) for key, msg in bad)
        return values

    @staticmethod
    def _read_latest_metrics(parent: str, rel: str, problems: list[Problem],
                             stamps: Stamps | None = None) -> dict[str, MetricPoint]:
        metrics: dict[str, MetricPoint] = {}
        bad: list[tuple[str, str]] = []
        on_folder = None if stamps is None else (lambda sub, st: stamps.add("metrics/" + sub if sub else "metrics", st))
        for key, dir_fd, name in walk_keys(os.path.join(parent, "metrics"), bad, on_folder):
            try:
                latest = read_latest(name, dir_fd=dir_fd) if stamps is None else _stamped_latest(name, dir_fd, key, stamps)
            except OSError as exc:
                bad.append((key, f"cannot read ({reason(exc)})"))
                continue
            if latest.empty:
                bad.append((key, "file is empty"))
            bad.extend((key, error) for error in latest.errors)
            if latest.point is not None:
                metrics[key] = latest.point
        problems.extend(Problem(posixpath.join(rel, "metrics", key).rstrip("/"), msg) for key, msg in bad)
        return metrics

    def dataset_inputs(self, run: Run) -> list[DatasetInput]:
        return [] if run.dialect else inputs.read_dataset_inputs(self.run_dir(run))

    def last_write(self, run: Run) -> int | None:
        """The newest timestamp among the latest points of the run's metrics (what the training
        logged), else its start. File times do not count: tuitrack's own tags, renames and undos,
        and a fresh clone, set them to now. A run's latest points, when it has them, are the
        ones just read (its data, or a live update): no need to read them again."""
        metrics = run.metrics
        if not metrics:
            path = self.run_dir(run)
            rel = self._rel(path)
            metrics = (mini.read_metrics(path, rel, []) if run.dialect
                       else self._read_latest_metrics(path, rel, []))
        times = [p.timestamp for p in metrics.values()]
        if run.start_time is not None:
            times.append(run.start_time)
        return max(times, default=None)

    def disk_usage(self, run: Run) -> int | None:
        """Disk blocks used by the run folder, like `du` (symlinks counted, not followed), plus
        its artifacts when they live elsewhere inside the store, in a folder of their own."""
        folder = self.run_dir(run)
        if not os.path.isdir(folder):
            return None
        total = purge_plan.disk_bytes(folder)
        path, _ = purge_plan.local_path(run.artifact_uri)
        if path is not None:
            place, root = purge_plan.canonical(path), purge_plan.canonical(self.root)
            if (purge_plan.is_within(place, root) and not os.path.islink(place)
                    and not purge_plan.is_within(place, purge_plan.canonical(folder))
                    and not purge_plan.is_within(purge_plan.canonical(folder), place)):
                total += purge_plan.disk_bytes(place)
        return total

    def _run_path(self, run: Run) -> Path:
        path = Path(self.run_dir(run))
        if not (path / META).is_file():
            raise RunNotFound(f"run {run.run_id} is gone from {self.location}")
        refuse_symlinked_parts(str(path))
        return path

    def refusal(self, change: str, run: Run | None = None) -> str | None:
        if change == "rename" and run is not None and run.dialect and run.status is RunStatus.RUNNING:
            return changes.running_mini_message(run.run_id, "rename")
        if run is not None:
            try:
                refuse_symlinked_parts(self.run_dir(run))
            except changes.ChangeRefused as exc:
                return str(exc)
        return None

    def set_tags(self, run: Run, tags: dict[str, str], force: bool = False) -> None:
        changes.set_tags(self._run_path(run), tags, force)

    def delete_tags(self, run: Run, keys: list[str], force: bool = False) -> None:
        changes.delete_tags(self._run_path(run), keys, force)

    def set_note(self, run: Run, text: str) -> None:
        changes.set_note(self._run_path(run), text)

    def rename_run(self, run: Run, name: str) -> None:
        changes.rename(self._run_path(run), name)

    def delete_run(self, run: Run) -> None:
        changes.soft_delete(self._run_path(run))

    def restore_run(self, run: Run) -> None:
        changes.restore(self._run_path(run))

    def terminate_run(self, run: Run, status: RunStatus, end_time: int | None) -> None:
        changes.terminate(self._run_path(run), status, end_time)

    def delete_experiment(self, experiment: Experiment) -> None:
        experiment_delete.delete_experiment(Path(self.root), experiment.experiment_id, experiment.tags)

    def restore_experiment(self, experiment: Experiment) -> None:
        experiment_delete.restore_experiment(Path(self.root), experiment.experiment_id, experiment.tags)

    def plan_purge(self, runs: list[Run], experiments: list[Experiment]) -> PurgePlan:
        return purge.plan(self, runs, experiments)

    def execute_purge(self, plan: PurgePlan) -> PurgeResult:
        return purge_plan.execute(plan, lambda target: purge.check_still_deleted(self, target))

    # -- what a changed path means ------------------------------------------------------------------

    def fingerprints(self) -> dict[str, int]:
        """Each experiment folder by its meta.yaml; each run folder by every file and folder a read
        of it stamps (run_prints.py: a tag rewritten in place changes its file, not its folder)."""
        out: dict[str, int] = {}
        runs: list[str] = []
        for exp_path in self._experiment_folders():
            out[exp_path] = _experiment_print(exp_path)
            try:
                entries = list(os.scandir(exp_path))
            except OSError:
                continue
            for entry in entries:
                if entry.name in RESERVED_EXPERIMENT_FOLDERS or entry.name.startswith("."):
                    continue
                try:
                    if entry.is_dir(follow_symlinks=False):
                        runs.append(entry.path)
                except OSError:
                    continue
        out.update(self._run_prints.sweep(runs))
        return out

    def _experiment_folders(self) -> list[str]:
        """Every experiment folder, active and in the trash."""
        return [path for base in (self.root, os.path.join(self.root, TRASH)) for _, path in self._subfolders(base)]

    def record_fingerprints(self, known) -> bool:
        """From the stamps the listing reads each run by (its fingerprint, run_prints.py): at 50,000
        runs a pass of its own walks every run folder (13 s) before the listing reads the same
        files. Not once the read cache is done with (a later listing of this session: the
        sweep knows the names by then, and takes its own pass)."""
        if self.cache is not None and self.cache.finished:
            return False
        prints = {path: _experiment_print(path) for path in self._experiment_folders() if known(path)}
        with self._prints_lock:
            self._prints = prints
        return True

    def recorded_fingerprints(self) -> dict[str, int]:
        with self._prints_lock:
            prints, self._prints = self._prints, None
        return prints or {}

    def _record(self, run_path: str, names, numbers) -> None:
        """A run's fingerprint, from the stamps its read was checked or made by (taken before its
        files were read: a change after them differs from it, so the first sweep finds it)."""
        if self._prints is None:
            return
        with self._prints_lock:
            if self._prints is not None:
                self._prints[run_path] = self._run_prints.recorded(run_path, names, numbers)

    def classify(self, path: str) -> Change | None:
        rel = self._rel(os.path.abspath(path))
        if rel.startswith(".."):
            return None
        parts = [] if rel == "." else rel.split(os.sep)
        base = self.root
        if parts[:1] == [TRASH]:
            parts = parts[1:]
            base = os.path.join(self.root, TRASH)
        if not parts or parts[0] in RESERVED_ROOT_FOLDERS or parts[0].startswith("."):
            return Change("experiments")
        experiment_id = parts[0]
        if len(parts) == 1 or parts[1] in ("meta.yaml", "tags"):
            return Change("experiments", experiment_id)
        run_id = parts[1]
        if run_id in RESERVED_EXPERIMENT_FOLDERS or run_id.startswith("."):
            return None
        if (len(parts) == 4 and parts[2] in ("metrics", "params") and parts[3].endswith((mini.SUFFIX, ".tmp"))
                and self._is_mini_run(os.path.join(base, experiment_id, run_id))):
            # mini-mlflow rewrites `<key>.json` whole via `<key>.json.tmp`: the rename is the change.
            if parts[3].endswith(".tmp"):
                return None
            if parts[2] == "params":
                return Change("run", experiment_id, run_id)
            return Change("metric", experiment_id, run_id, parts[3][: -len(mini.SUFFIX)])
        if len(parts) == 2 or parts[2] in (META, "params", "tags"):
            return Change("run", experiment_id, run_id)
        if len(parts) == 3 and parts[2] == META + ".tmp" and not os.path.exists(os.path.join(base, experiment_id, META)):
            # mini-mlflow writes a run's meta.yaml through meta.yaml.tmp, and its experiments have no
            # meta.yaml: a new one is an experiment only once its first run has one; read again.
            return Change("experiments", experiment_id)
        if parts[2] == "metrics" and len(parts) > 3:
            return Change("metric", experiment_id, run_id, "/".join(parts[3:]))
        if parts[2] == "metrics":
            return Change("run", experiment_id, run_id)
        return None  # artifacts, inputs, outputs, our own temporary files

    def _is_mini_run(self, run_dir: str) -> bool:
        known = self._mini_runs.get(run_dir)
        if known is None:
            fields = mini.run_meta_fields(run_dir)
            if fields is None:
                return False
            known = self._mini_runs[run_dir] = mini.is_mini_meta(fields)
        return known

    def read_run(self, experiment: Experiment, run_id: str) -> Run | None:
        if not _valid_folder_name(run_id):
            return None
        path = os.path.join(self.experiment_dir(experiment.experiment_id), run_id)
        if not os.path.isdir(path):
            return None
        run = self._read_run(experiment, path, run_id, with_data=True)
        if not isinstance(run, Run):
            return None
        self._load_data_at(run, path)
        return run

    def latest_metric(self, run: Run, key: str) -> MetricPoint | None:
        if not _valid_key(key):
            return None
        try:
            if run.dialect:
                return mini.JsonMetricCursor(self.run_dir(run), mini.metric_path(key)).read_new().points[-1]
            fd = open_beneath(self.run_dir(run), "metrics/" + key)
            try:
                return latest_of_fd(fd).point
            finally:
                os.close(fd)
        except (OSError, IndexError):
            return None

    # -- single runs and histories -------------------------------------------------------------

    def find_run(self, run_id: str) -> Run:
        if not _valid_folder_name(run_id) or run_id in RESERVED_EXPERIMENT_FOLDERS:
            raise RunNotFound(f"{run_id!r} is not a run id")
        folders = [
            (exp, self.experiment_dir(exp.experiment_id))
            for exp in self.experiments(include_deleted=True)
        ]
        matches = [(exp, d, run_id) for exp, d in folders if os.path.isdir(os.path.join(d, run_id))]
        if not matches and len(run_id) >= MIN_PREFIX:
            # Only run folders: `meta` must not find an experiment's meta.yaml.
            matches = [(exp, exp_dir, name) for exp, exp_dir in folders
                       for name, _ in self._run_folders(exp) if name.startswith(run_id)]
        refuse_ambiguous(run_id, [name for _, _, name in matches], [exp.experiment_id for exp, _, _ in matches])
        for exp, exp_dir, name in matches:
            path = os.path.join(exp_dir, name)
            run = self._read_run(exp, path, name, with_data=True)
            if isinstance(run, Run):
                self._load_data_at(run, path)
                return run
        raise RunNotFound(f"no run {run_id!r} in {self.location}")

    def metric_history(self, run: Run, key: str) -> MetricHistory:
        history = self.open_metric(run, key)
        self.read_new_points(history)
        return history

    def open_metric(self, run: Run, key: str) -> MetricHistory:
        run_dir = self.run_dir(run)
        where = posixpath.join(self._rel(run_dir), "metrics", key)
        if run.dialect:
            where += mini.SUFFIX
        history = MetricHistory(run_id=run.run_id, key=key, where=where)
        if not _valid_key(key):
            history.problems.append(Problem(where, "not a valid metric key"))
            return history
        if run.dialect:  # one point, the latest: the file is rewritten whole
            history.cursor = mini.JsonMetricCursor(run_dir, mini.metric_path(key))
        else:
            history.cursor = MetricCursor("metrics/" + key, base=run_dir)
        return history

    def stream_history(self, run: Run, key: str) -> tuple[MetricHistory, Iterator[list[MetricPoint]]]:
        if run.dialect or not _valid_key(key):  # one point at most, or none
            return super().stream_history(run, key)
        run_dir = self.run_dir(run)
        history = MetricHistory(run_id=run.run_id, key=key, where=posixpath.join(self._rel(run_dir), "metrics", key))
        cursor = MetricCursor("metrics/" + key, base=run_dir)

        def batches() -> Iterator[list[MetricPoint]]:
            try:
                reading = cursor.iter_new()
                next(reading)
                yield from reading
            except OSError as exc:
                history.problems.append(Problem(history.where, f"cannot read ({reason(exc)})"))
                return
            history.problems.extend(Problem(history.where, e) for e in cursor.last_errors)

        return history, batches()

    def read_fraction(self, history: MetricHistory) -> float | None:
        cursor = history.cursor
        if not isinstance(cursor, MetricCursor):
            return None
        return 1.0 if cursor.size <= 0 else min(1.0, cursor.offset / cursor.size)

    def read_some_points(self, history: MetricHistory, max_bytes: int) -> list[MetricPoint]:
        return self.read_new_points(history, max_bytes)

    def read_new_points(self, history: MetricHistory, max_bytes: int | None = None) -> list[MetricPoint]:
        cursor: MetricCursor | mini.JsonMetricCursor | None = history.cursor
        if cursor is None:
            return []
        try:
            new = cursor.read_new(max_bytes) if isinstance(cursor, MetricCursor) else cursor.read_new()
        except OSError as exc:
            history.problems.append(Problem(history.where, f"cannot read ({reason(exc)})"))
            return []
        if new.reset:
            history.points = []
            history.problems = []
        history.points.extend(new.points)
        history.problems.extend(Problem(history.where, e) for e in new.errors)
        return new.points


def _stamped_latest(name: str, dir_fd: int, key: str, stamps: Stamps):
    """`read_latest`, stamping the file by the fstat made before its bytes are read."""
    try:
        fd = os.open(name, READ_FLAGS, dir_fd=dir_fd)
    except OSError as exc:
        raise said_plainly(exc, name, dir_fd) from None
    try:
        st = os.fstat(fd)
        stamps.add("metrics/" + key, st)
        return latest_of_fd(fd, st=st)
    finally:
        os.close(fd)


def _experiment_print(exp_path: str) -> int:
    """An experiment folder's fingerprint (`fingerprints`): its meta.yaml's stat."""
    return hash((stat_key(os.path.join(exp_path, META)),))


def _subfolder_count(folder: str) -> int:
    """About how many folders `folder` holds, from its link count (a stat; 0 where the filesystem
    does not count them so, as btrfs)."""
    try:
        return max(0, os.stat(folder).st_nlink - 2)
    except OSError:
        return 0


def _read_text_or_none(run_dir: str, relative: str) -> str | None:
    """A tag's text read on its own (the run's parent and name), or None; never through a symlink."""
    try:  # most runs have no such tag: one failed open says so, before the careful one
        os.close(os.open(os.path.join(run_dir, relative), READ_FLAGS))
        fd = open_beneath(run_dir, relative)
    except OSError:
        return None
    try:
        return read_fd(fd, TAG_LIMIT).decode("utf-8", "replace")
    except OSError:
        return None
    finally:
        os.close(fd)


def _valid_folder_name(name: str) -> bool:
    return bool(name) and "/" not in name and name not in (".", "..") and "\x00" not in name


def _valid_key(key: str) -> bool:
    """A metric/param/tag key that stays inside its folder (MLflow's path check)."""
    return (
        bool(key)
        and "\x00" not in key
        and posixpath.normpath(key) == key
        and not key.startswith(("/", ".."))
        and key != "."
    )
