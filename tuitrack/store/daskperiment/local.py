"""daskperiment's LocalBackend cache as a tuitrack Store.

`daskperiment_cache/<experiment id>/` holds `<experiment id>.pkl`, a cloudpickle of the whole
backend object, rewritten (truncated, then written) when each trial ends. Inside: the trial
manager's `_parameters_history` and `_result_history` ({trial id: dict}) and the metric manager's
`metrics` ({name: Metric with values {trial id: [{Epoch, Value, Timestamp}]}}). Beside it,
`code/<id>_<trial>.py`, `environment/<kind>_<id>_<trial>.<txt|json>` and
`persist/<id>_<step>_<trial>.pkl`; tuitrack shows the code and environment as the read-only tags
`daskperiment.code` and `daskperiment.environment.<kind>`, and the persisted steps' names as
`daskperiment.persisted` (their pickles are never opened).

The pickle is read by inert.py (nothing in it is imported or called), at most MAX_BYTES of it,
and parsed once per version (inode, size, modification time): the live view asks `changes` when
the file changes, which parses it again and names the trials that differ. A pickle cut short while
daskperiment rewrites it keeps the last good reading until the write is complete.
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tuitrack.model import Experiment, MetricPoint, Problem, Run
from tuitrack.store.base import Change, MetricHistory, RunNotFound, Store, prefix_matches, refuse_ambiguous
from tuitrack.store.daskperiment.inert import Made, PickleRefused, load_inert
from tuitrack.store.daskperiment.trials import (
    CODE_TAG,
    ENVIRONMENT_KINDS,
    ENVIRONMENT_TAG,
    PERSISTED_TAG,
    ReadOnlyChanges,
    RESULT_METRIC,
    Trial,
    bounded_text,
    code_text,
    metric_points,
    result_history,
    trial_named,
    trial_run,
)
from tuitrack.store.mlflow_file.files import reason

MAX_BYTES = 256 << 20  # a LocalBackend pickle larger than this is not read
MAX_TEXT_BYTES = 1 << 20  # a code or environment file: the start of it
SUBFOLDERS = ("code", "environment", "persist")


def pickle_path(folder: str) -> str:
    return os.path.join(folder, os.path.basename(os.path.normpath(folder)) + ".pkl")


def is_experiment_folder(folder: str) -> bool:
    """A LocalBackend experiment folder: `<id>.pkl` inside `<id>/`, or (no trial ended yet) the
    code/, environment/ and persist/ folders daskperiment makes when an experiment starts."""
    if os.path.isfile(pickle_path(folder)):
        return True
    return all(os.path.isdir(os.path.join(folder, sub)) for sub in SUBFOLDERS)


def is_local_cache(path: str, limit: int = 20) -> bool:
    """A daskperiment_cache folder (some of its first `limit` sub-folders is an experiment folder)
    or one experiment folder of it."""
    if is_experiment_folder(path):
        return True
    try:
        with os.scandir(path) as entries:
            folders = [e.path for e in entries if not e.name.startswith(".") and e.is_dir(follow_symlinks=False)]
    except OSError:
        return False
    return any(is_experiment_folder(f) for f in sorted(folders)[:limit])


def is_experiment_pickle(path: str) -> bool:
    """`<id>/<id>.pkl`: the pickle of one LocalBackend experiment."""
    return os.path.abspath(path) == os.path.abspath(pickle_path(os.path.dirname(os.path.abspath(path))))


def open_local(path: str, location: str) -> DaskperimentLocalStore:
    """The store for a cache folder, one experiment folder of it, or one experiment's pickle."""
    if os.path.isfile(path):
        path = os.path.dirname(os.path.abspath(path))
    folder = os.path.abspath(path)
    if is_experiment_folder(folder):
        return DaskperimentLocalStore(os.path.dirname(folder), location, only=os.path.basename(folder))
    return DaskperimentLocalStore(folder, location)


def read_bounded(path: str, limit: int) -> bytes:
    """The file's bytes, never through a symlink, never more than `limit`. Raises OSError, or
    PickleRefused when the file is bigger."""
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_NOFOLLOW)
    try:
        size = os.fstat(fd).st_size
        if size > limit:
            raise PickleRefused(f"is {size:,} bytes, more than tuitrack reads ({limit:,})")
        chunks, total = [], 0
        while total <= limit:
            chunk = os.read(fd, min(1 << 20, limit + 1 - total))
            if not chunk:
                break
            chunks.append(chunk)
            total += len(chunk)
        if total > limit:
            raise PickleRefused(f"grew past {limit:,} bytes while being read")
        return b"".join(chunks)
    finally:
        os.close(fd)


@dataclass
class Reading:
    """One version of an experiment's pickle, read."""

    version: tuple | None
    trials: dict[int, Trial] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)
    cut_short: bool = False


def read_backend(experiment_id: str, data: bytes, where: str) -> Reading:
    """The trials in a LocalBackend pickle's bytes (see the module docstring)."""
    reading = Reading(version=None)
    try:
        backend = load_inert(data)
    except PickleRefused as exc:
        reading.problems.append(Problem(where, str(exc)))
        reading.cut_short = "cut short" in str(exc)
        return reading
    attributes = backend.attributes() if isinstance(backend, Made) else {}
    trials, metrics = _made(attributes.get("trials")), _made(attributes.get("metrics"))
    if trials is None:
        reading.problems.append(Problem(where, "is not a daskperiment LocalBackend (no trial manager in it)"))
        return reading
    stored_id = attributes.get("experiment_id")
    if stored_id != experiment_id:
        reading.problems.append(Problem(where, f"holds experiment {str(stored_id)[:80]!r}, not {experiment_id!r}"))
    state = trials.attributes()
    parameters = _dict(state.get("_parameters_history"))
    results = _dict(state.get("_result_history"))
    for trial_id in sorted({*parameters, *results}, key=lambda t: (not isinstance(t, int), str(t))):
        if not isinstance(trial_id, int) or isinstance(trial_id, bool):
            reading.problems.append(Problem(where, f"has a trial id that is not a number: {str(trial_id)[:40]!r}"))
            continue
        reading.trials[trial_id] = Trial(trial_id, parameters.get(trial_id), results.get(trial_id))
    for name, metric in (_dict(metrics.attributes().get("metrics")) if metrics else {}).items():
        values = _dict(_made(metric).attributes().get("values")) if _made(metric) else {}
        for trial_id, records in values.items():
            trial = reading.trials.get(trial_id) if isinstance(trial_id, int) else None
            if trial is None or not isinstance(records, list) or not isinstance(name, str):
                continue
            points, problems = metric_points(records, f"{where} ({name}, trial {trial_id})")
            trial.metrics[name] = points
            trial.problems += problems
    return reading


def _made(value: Any) -> Made | None:
    return value if isinstance(value, Made) else None


def _dict(value: Any) -> dict:
    return value if isinstance(value, dict) else {}


class DaskperimentLocalStore(ReadOnlyChanges, Store):
    """A `daskperiment_cache` folder (or one experiment folder of it: `only`)."""

    measures_disk = False

    def __init__(self, root: str | os.PathLike[str], location: str | None = None, only: str | None = None):
        self.root = os.path.abspath(root)
        self.location = location if location is not None else str(root)
        self.only = only
        self.watch_root = self.root if only is None else os.path.join(self.root, only)
        self._readings: dict[str, Reading] = {}
        self._lock = threading.Lock()

    # -- experiments and their pickles -------------------------------------------------------------

    def _experiment_ids(self) -> list[str]:
        if self.only is not None:
            return [self.only]
        try:
            with os.scandir(self.root) as entries:
                names = [e.name for e in entries if not e.name.startswith(".") and e.is_dir(follow_symlinks=False)]
        except OSError:
            return []
        return sorted(n for n in names if is_experiment_folder(os.path.join(self.root, n)))

    def _pickle(self, experiment_id: str) -> str:
        return os.path.join(self.root, experiment_id, f"{experiment_id}.pkl")

    def _reading(self, experiment_id: str) -> Reading:
        """The experiment's pickle as last read, read again if it changed since."""
        path = self._pickle(experiment_id)
        where = f"{experiment_id}/{experiment_id}.pkl"
        try:
            st = os.lstat(path)
            version = (st.st_ino, st.st_size, st.st_mtime_ns)
        except FileNotFoundError:
            return Reading(version=("missing",))  # no trial has ended yet
        except OSError as exc:
            return Reading(version=None, problems=[Problem(where, f"cannot be read ({reason(exc)})")])
        with self._lock:
            known = self._readings.get(experiment_id)
        if known is not None and known.version == version:
            return known
        try:
            reading = read_backend(experiment_id, read_bounded(path, MAX_BYTES), where)
        except PickleRefused as exc:
            reading = Reading(version=None, problems=[Problem(where, str(exc))])
        except OSError as exc:
            why = "is a symlink: not followed" if os.path.islink(path) else f"cannot be read ({reason(exc)})"
            reading = Reading(version=None, problems=[Problem(where, why)])
        if reading.cut_short and known is not None and not known.cut_short:
            return known  # daskperiment is rewriting it: the last complete version stands
        reading.version = version
        with self._lock:
            self._readings[experiment_id] = reading
        return reading

    def _experiment(self, experiment_id: str, reading: Reading) -> Experiment:
        runs = [trial_run(experiment_id, t) for t in reading.trials.values()]
        starts = [r.start_time for r in runs if r.start_time is not None]
        return Experiment(experiment_id, experiment_id, artifact_location=Path(self.root, experiment_id).as_uri(),
                          creation_time=min(starts) if starts else None, problems=list(reading.problems))

    def experiments(self, include_deleted: bool = False) -> list[Experiment]:
        return [self._experiment(e, self._reading(e)) for e in self._experiment_ids()]

    # -- runs -----------------------------------------------------------------------------------

    def runs(self, experiment: Experiment, include_deleted: bool = False, with_data: bool = True) -> list[Run]:
        if experiment.experiment_id not in self._experiment_ids():
            return []
        reading = self._reading(experiment.experiment_id)
        runs = [trial_run(experiment.experiment_id, t) for t in reading.trials.values()]
        if with_data:
            for run in runs:
                self.load_data(run)
        return runs

    def _trial(self, run: Run) -> Trial | None:
        trial_id = int(run.tags.get("daskperiment.trial_id", "0") or 0)
        return self._reading(run.experiment_id).trials.get(trial_id)

    def load_data(self, run: Run) -> None:
        """Params, the result and metrics are in the run already; this adds the code, environment
        and persisted steps from the files beside the pickle."""
        trial = self._trial(run)
        if trial is None:
            return
        fresh = trial_run(run.experiment_id, trial)
        run.params, run.metrics = fresh.params, fresh.metrics
        run.tags = {**fresh.tags, **self._side_files(run.experiment_id, trial.trial)}

    def _side_files(self, experiment_id: str, trial: int) -> dict[str, str]:
        folder = os.path.join(self.root, experiment_id)
        tags = {}
        code = _read_text(os.path.join(folder, "code", f"{experiment_id}_{trial}.py"))
        if code is not None:
            tags[CODE_TAG] = code_text(code)
        for kind, ext in ENVIRONMENT_KINDS.items():
            found = _read_text(os.path.join(folder, "environment", f"{kind}_{experiment_id}_{trial}.{ext}"))
            if found is not None:
                tags[ENVIRONMENT_TAG + kind] = found
        prefix, suffix = f"{experiment_id}_", f"_{trial}.pkl"
        try:
            with os.scandir(os.path.join(folder, "persist")) as entries:
                steps = sorted(e.name[len(prefix):-len(suffix)] for e in entries
                               if e.name.startswith(prefix) and e.name.endswith(suffix)
                               and len(e.name) > len(prefix) + len(suffix))
        except OSError:
            steps = []
        if steps:
            tags[PERSISTED_TAG] = ", ".join(steps)
        return tags

    def _all_runs(self) -> list[Run]:
        return [r for e in self._experiment_ids() for r in self.runs(Experiment(e, e), with_data=False)]

    def find_run(self, run_id: str) -> Run:
        runs = self._all_runs()
        named = trial_named(run_id)
        by_name = [r for r in runs if named and (r.experiment_id, r.tags.get("daskperiment.trial_id")) ==
                   (named[0], str(named[1]))]
        if by_name:
            run = by_name[0]
        else:
            matches = prefix_matches(run_id, [r.run_id for r in runs])
            refuse_ambiguous(run_id, matches)
            if not matches:
                raise RunNotFound(f"no run {run_id!r} in {self.location} (a trial is also found as EXPERIMENT:TRIAL)")
            run = next(r for r in runs if r.run_id == matches[0])
        self.load_data(run)
        return run

    def read_run(self, experiment: Experiment, run_id: str) -> Run | None:
        for run in self.runs(experiment, with_data=False):
            if run.run_id == run_id:
                self.load_data(run)
                return run
        return None

    def latest_metric(self, run: Run, key: str) -> MetricPoint | None:
        history = self._points(run, key)
        return max(history, key=MetricPoint.sort_key) if history else None

    def _points(self, run: Run, key: str) -> list[MetricPoint]:
        trial = self._trial(run)
        if trial is None:
            return []
        if key in trial.metrics:
            return list(trial.metrics[key])
        return result_history(trial_run(run.experiment_id, trial)) if key == RESULT_METRIC else []

    def metric_history(self, run: Run, key: str) -> MetricHistory:
        history = MetricHistory(run_id=run.run_id, key=key, where=f"{run.experiment_id}/{run.experiment_id}.pkl")
        history.points = self._points(run, key)
        history.cursor = run
        return history

    def read_new_points(self, history: MetricHistory) -> list[MetricPoint]:
        """The pickle is rewritten whole: the points since are those past the old ones; a history
        that changed otherwise is replaced."""
        points = self._points(history.cursor, history.key)
        old = history.points
        if points[: len(old)] == old:
            new = points[len(old):]
            old.extend(new)
            return new
        history.points = points
        return list(points)

    # -- following --------------------------------------------------------------------------------

    def changes(self, paths: set[str]) -> list[Change]:
        """Pickles that changed are read again; each trial that differs is a change. A new or
        removed experiment folder changes the experiments."""
        found: list[Change] = []
        touched: set[str] = set()
        for path in paths:
            rel = os.path.relpath(os.path.abspath(path), self.root).split(os.sep)
            if rel[0] in (".", "..") or rel[0].startswith("."):
                if rel == ["."]:
                    found.append(Change("experiments"))
                continue
            if len(rel) == 1:
                found.append(Change("experiments"))
            elif len(rel) == 2 and rel[1] == f"{rel[0]}.pkl":
                touched.add(rel[0])
        for experiment_id in touched:
            with self._lock:
                before = self._readings.get(experiment_id)
            after = self._reading(experiment_id)
            if after is before:
                continue
            old = {t: trial_run(experiment_id, x) for t, x in (before.trials.items() if before else ())}
            new = {t: trial_run(experiment_id, x) for t, x in after.trials.items()}
            for trial_id in old.keys() | new.keys():
                a, b = old.get(trial_id), new.get(trial_id)
                if a is None or b is None or _fingerprint(a) != _fingerprint(b):
                    found.append(Change("run", experiment_id, (a or b).run_id))
            if before is None or before.problems != after.problems:
                found.append(Change("experiments"))
        return found

    def run_dir(self, run: Run) -> str:
        return os.path.join(self.root, run.experiment_id)



def _fingerprint(run: Run) -> tuple:
    return (run.status, run.start_time, run.end_time, tuple(sorted(run.params.items())),
            tuple(sorted(run.tags.items())), tuple(sorted(run.metrics.items())), tuple(run.problems))


def _read_text(path: str) -> str | None:
    try:
        data = read_bounded(path, MAX_TEXT_BYTES)
    except PickleRefused as exc:
        return f"(not shown: the file {exc})"
    except OSError:
        return None
    return bounded_text(data.decode("utf-8", "replace"))
