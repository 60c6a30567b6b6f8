"""daskperiment's RedisBackend (`redis://host:port/db`) as a tuitrack Store, through redis-py.

daskperiment's keys, per experiment `<id>` (its RedisBackend and RedisTrialManager):
`<id>:trial_id` (the last trial id, a counter), `<id>:parameter:<t>` and `<id>:history:<t>`
(cloudpickles of the parameter and result dicts; the parameters are saved when a trial starts,
the result when it ends), `<id>:metric:<name>:<t>` (a list, one pickled {Epoch, Value,
Timestamp} record appended per save_metric), `<id>:code:<t>`, `<id>:<environment kind>:<t>`
(text), `<id>:persist:<step>:<t>` (pickles, never read) and `<id>:step_hash:*`.

Experiments are the `*:trial_id` keys; an experiment's other keys are found with SCAN (never
KEYS, which blocks the server), values are fetched in pipelines, their sizes asked first (STRLEN,
LLEN) so nothing bigger than the bounds below is fetched, and a metric's history is read in pages.
Every pickle goes through inert.py: nothing in it is imported or called. A trial with parameters
and no result is RUNNING. A listing shows a metric's last saved record as its latest value.

Live: `changes`, asked every ASK_EVERY seconds, asks only about what moves (trial counters, the
running trials' results and metric list lengths) and, every FULL_EVERY-th time, compares a whole
listing (see RedisPoller). daskperiment has no way to change or delete a trial: tuitrack refuses.
"""

from __future__ import annotations

import os
import threading
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from tuitrack.model import Experiment, MetricPoint, Problem, Run, RunStatus
from tuitrack.store.base import Change, MetricHistory, RunNotFound, Store, StoreError, prefix_matches, refuse_ambiguous
from tuitrack.store.daskperiment.inert import PickleRefused, load_inert
from tuitrack.store.daskperiment.trials import (
    CODE_TAG,
    ENVIRONMENT_KINDS,
    ENVIRONMENT_TAG,
    PERSISTED_TAG,
    ReadOnlyChanges,
    RESULT_METRIC,
    TRIAL_TAG,
    Trial,
    bounded_text,
    code_text,
    metric_point,
    result_history,
    trial_named,
    trial_run,
)

TIMEOUT = float(os.environ.get("TUITRACK_REDIS_TIMEOUT", "10"))  # seconds, per command and to connect
ASK_EVERY = 2.0
FULL_EVERY = 10
SCAN_COUNT = 1_000
PIPELINE = 500  # commands per round trip
PAGE = 10_000  # metric records per LRANGE
MAX_KEYS = 1_000_000  # keys of one experiment (or trial_id keys) read at most
MAX_VALUE = 16 << 20  # a parameter or result pickle
MAX_TEXT = 1 << 20  # a code or environment text
MAX_RECORD = 1 << 16  # one metric record
MAX_POINTS = 1_000_000  # one metric history
MAX_TRIALS = 1_000_000
RECORD_OPS = 10_000  # opcodes in one small pickle (a metric record)


def shown(url: str) -> str:
    """The URL without its password, for messages."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.hostname or ""
    netloc = f"{parts.username or ''}:***@{host}" + (f":{parts.port}" if parts.port else "")
    return urlunsplit(parts._replace(netloc=netloc))


def open_redis(location: str) -> DaskperimentRedisStore:
    try:
        import redis
    except ImportError:
        raise StoreError(f"{shown(location)}: reading daskperiment's Redis needs redis-py; "
                         "install it with: pip install 'tuitrack[redis]'") from None
    try:
        client = redis.Redis.from_url(location, socket_timeout=TIMEOUT, socket_connect_timeout=TIMEOUT,
                                      decode_responses=False)
    except ValueError as exc:
        raise StoreError(f"{shown(location)}: not a Redis URL ({exc})") from None
    store = DaskperimentRedisStore(location, client, redis.exceptions.RedisError)
    store.ping()
    return store


def _escape(text: str) -> str:
    """`text` as a literal inside a SCAN MATCH pattern."""
    return "".join("\\" + c if c in "*?[]\\" else c for c in text)


def _decode(key: bytes) -> str | None:
    try:
        return key.decode("utf-8")
    except UnicodeDecodeError:
        return None


@dataclass
class Keys:
    """An experiment's keys, sorted out by trial."""

    parameters: set[int] = field(default_factory=set)
    histories: set[int] = field(default_factory=set)
    codes: set[int] = field(default_factory=set)
    metrics: dict[int, set[str]] = field(default_factory=lambda: defaultdict(set))
    environment: dict[int, set[str]] = field(default_factory=lambda: defaultdict(set))
    persisted: dict[int, list[str]] = field(default_factory=lambda: defaultdict(list))
    problems: list[Problem] = field(default_factory=list)

    def trials(self) -> list[int]:
        return sorted(self.parameters | self.histories)

    def add(self, rest: str) -> None:
        """One key, without its `<id>:` prefix."""
        kind, _, tail = rest.partition(":")
        name, _, trial_text = tail.rpartition(":")
        trial = int(trial_text) if trial_text.isdigit() else None
        if trial is None or trial > MAX_TRIALS:
            return  # trial_id, step_hash:..., or not daskperiment's
        if not name:
            if kind == "parameter":
                self.parameters.add(trial)
            elif kind == "history":
                self.histories.add(trial)
            elif kind == "code":
                self.codes.add(trial)
            elif kind in ENVIRONMENT_KINDS:
                self.environment[trial].add(kind)
        elif kind == "metric":
            self.metrics[trial].add(name)
        elif kind == "persist":
            self.persisted[trial].append(name)


class DaskperimentRedisStore(ReadOnlyChanges, Store):
    ask_every = ASK_EVERY
    measures_disk = False

    def __init__(self, location: str, client: Any, error: type[Exception]):
        self.location = location
        self._client = client
        self._error = error  # redis.exceptions.RedisError: every failure of the server or the link
        self._trial_of: dict[str, tuple[str, int]] = {}  # run id -> (experiment id, trial)
        self._key_problems: dict[str, list[Problem]] = {}  # what the last listing of each experiment found
        self._lock = threading.Lock()
        self._poller = RedisPoller(self)

    # -- talking to the server --------------------------------------------------------------------

    def _fail(self, exc: Exception) -> StoreError:
        return StoreError(f"{shown(self.location)}: {type(exc).__name__}: {str(exc)[:200] or 'no answer'}")

    def ping(self) -> None:
        try:
            self._client.ping()
        except self._error as exc:
            raise self._fail(exc) from None

    def _scan(self, pattern: str) -> tuple[list[bytes], bool]:
        """Keys matching `pattern` (SCAN, in steps), at most MAX_KEYS; True when more were left."""
        found: list[bytes] = []
        limit = MAX_KEYS
        try:
            for key in self._client.scan_iter(match=pattern, count=SCAN_COUNT):
                if len(found) >= limit:
                    return found, True
                found.append(key)
        except self._error as exc:
            raise self._fail(exc) from None
        return found, False

    def _pipeline(self, commands: list[tuple[str, tuple]]) -> list[Any]:
        """Each (command, args) answered, in order; a command the server refused (a key of the wrong
        type) answers with its exception, for the caller to turn into a problem."""
        answers: list[Any] = []
        try:
            for start in range(0, len(commands), PIPELINE):
                pipe = self._client.pipeline(transaction=False)
                for name, args in commands[start:start + PIPELINE]:
                    getattr(pipe, name)(*args)
                answers += pipe.execute(raise_on_error=False)
        except self._error as exc:
            raise self._fail(exc) from None
        return answers

    def _values(self, keys: list[str], limit: int) -> list[bytes | str]:
        """Each key's string value, or a str saying why it is not given (too big, not a string)."""
        sizes = self._pipeline([("strlen", (k,)) for k in keys])
        wanted = [k for k, size in zip(keys, sizes) if isinstance(size, int) and 0 < size <= limit]
        got = dict(zip(wanted, self._pipeline([("get", (k,)) for k in wanted])))
        out: list[bytes | str] = []
        for key, size in zip(keys, sizes):
            value = got.get(key)
            if isinstance(size, Exception):
                out.append(f"is not a string ({str(size)[:80]})")
            elif isinstance(size, int) and size > limit:
                out.append(f"is {size:,} bytes, more than tuitrack reads ({limit:,})")
            elif isinstance(value, bytes):
                out.append(value)
            else:
                out.append("is gone or empty")
        return out

    # -- experiments and keys ---------------------------------------------------------------------

    def _experiment_ids(self) -> list[str]:
        keys, _ = self._scan("*:trial_id")
        ids = {_decode(k)[: -len(":trial_id")] for k in keys if _decode(k)}
        return sorted(i for i in ids if i)

    def experiments(self, include_deleted: bool = False) -> list[Experiment]:
        with self._lock:
            said = dict(self._key_problems)
        return [Experiment(e, e, problems=list(said.get(e, []))) for e in self._experiment_ids()]

    def _keys(self, experiment_id: str) -> Keys:
        keys = Keys()
        found, more = self._scan(_escape(experiment_id) + ":*")
        if more:
            keys.problems.append(Problem(experiment_id, f"has more than {MAX_KEYS:,} keys: only those were read"))
        prefix = len(experiment_id) + 1
        for key in found:
            text = _decode(key)
            if text is not None:
                keys.add(text[prefix:])
        return keys

    # -- trials ----------------------------------------------------------------------------------

    def _trials(self, experiment_id: str, keys: Keys, wanted: list[int]) -> list[Trial]:
        """The trials `wanted`, with parameters, result and each metric's first and last record."""
        trials = {t: Trial(t) for t in wanted}
        pickled = [(t, kind) for t in wanted for kind in ("parameter", "history")
                   if t in (keys.parameters if kind == "parameter" else keys.histories)]
        values = self._values([f"{experiment_id}:{kind}:{t}" for t, kind in pickled], MAX_VALUE)
        for (t, kind), value in zip(pickled, values):
            where = f"{experiment_id}:{kind}:{t}"
            data = _inert(value, where, trials[t].problems)
            if data is not None:
                if kind == "parameter":
                    trials[t].parameters = data
                else:
                    trials[t].result = data
        metric_keys = [(t, name) for t in wanted for name in sorted(keys.metrics.get(t, ()))]
        ends = self._pipeline([(c, (f"{experiment_id}:metric:{name}:{t}", i))
                               for t, name in metric_keys for c, i in (("lindex", 0), ("lindex", -1))])
        for n, (t, name) in enumerate(metric_keys):
            where = f"{experiment_id}:metric:{name}:{t}"
            if isinstance(ends[2 * n], Exception):
                trials[t].problems.append(Problem(where, f"is not a list ({str(ends[2 * n])[:80]})"))
                continue
            first, last = (_record(v, where, trials[t].problems) for v in ends[2 * n: 2 * n + 2])
            if last is not None:
                trials[t].metrics[name] = [last]
            if first is not None:
                trials[t].started = min(first.timestamp, trials[t].started or first.timestamp)
        return list(trials.values())

    def _runs(self, experiment_id: str, keys: Keys, wanted: list[int], with_data: bool) -> list[Run]:
        runs = [trial_run(experiment_id, t, running=True) for t in self._trials(experiment_id, keys, wanted)]
        with self._lock:
            for run in runs:
                self._trial_of[run.run_id] = (experiment_id, int(run.tags[TRIAL_TAG]))
        if with_data:
            self._add_side_tags(experiment_id, keys, runs)
        return runs

    def _add_side_tags(self, experiment_id: str, keys: Keys, runs: list[Run]) -> None:
        """Code, environment and persisted steps, as read-only tags (see trials.py)."""
        wanted = []
        for run in runs:
            t = int(run.tags[TRIAL_TAG])
            if t in keys.codes:
                wanted.append((run, CODE_TAG, f"{experiment_id}:code:{t}"))
            wanted += [(run, ENVIRONMENT_TAG + kind, f"{experiment_id}:{kind}:{t}")
                       for kind in ENVIRONMENT_KINDS if kind in keys.environment.get(t, ())]
            if keys.persisted.get(t):
                run.tags[PERSISTED_TAG] = ", ".join(sorted(keys.persisted[t]))
        for (run, tag, _), value in zip(wanted, self._values([k for _, _, k in wanted], MAX_TEXT)):
            if not isinstance(value, bytes):
                run.tags[tag] = f"(not shown: the key {value})"
                continue
            saved = value.decode("utf-8", "replace")
            run.tags[tag] = code_text(saved) if tag == CODE_TAG else bounded_text(saved)

    def runs(self, experiment: Experiment, include_deleted: bool = False, with_data: bool = True) -> list[Run]:
        keys = self._keys(experiment.experiment_id)
        with self._lock:
            self._key_problems[experiment.experiment_id] = keys.problems
        experiment.problems = list(keys.problems)
        return self._runs(experiment.experiment_id, keys, keys.trials(), with_data)

    def load_data(self, run: Run) -> None:
        fresh = self._read(run.experiment_id, int(run.tags.get(TRIAL_TAG, "0") or 0))
        if fresh is not None:
            run.params, run.metrics, run.tags = fresh.params, fresh.metrics, fresh.tags

    def _read(self, experiment_id: str, trial: int) -> Run | None:
        keys = self._keys(experiment_id)
        if trial not in keys.trials():
            return None
        return self._runs(experiment_id, keys, [trial], with_data=True)[0]

    def find_run(self, run_id: str) -> Run:
        named = trial_named(run_id)
        if named is not None:
            run = self._read(*named)
            if run is not None:
                return run
        ids = []
        for experiment in self.experiments():
            ids += [r.run_id for r in self.runs(experiment, with_data=False)]
        matches = prefix_matches(run_id, ids)
        refuse_ambiguous(run_id, matches)
        if not matches:
            raise RunNotFound(f"no run {run_id!r} in {shown(self.location)} (a trial is also found as "
                              "EXPERIMENT:TRIAL)")
        with self._lock:
            experiment_id, trial = self._trial_of[matches[0]]
        run = self._read(experiment_id, trial)
        if run is None:
            raise RunNotFound(f"run {run_id!r} is gone from {shown(self.location)}")
        return run

    def read_run(self, experiment: Experiment, run_id: str) -> Run | None:
        with self._lock:
            known = self._trial_of.get(run_id)
        if known is None or known[0] != experiment.experiment_id:
            return None
        return self._read(*known)

    # -- metrics ---------------------------------------------------------------------------------

    def _metric_key(self, run: Run, key: str) -> str:
        return f"{run.experiment_id}:metric:{key}:{run.tags.get(TRIAL_TAG, '')}"

    def latest_metric(self, run: Run, key: str) -> MetricPoint | None:
        if key == RESULT_METRIC and run.metrics.get(key) is not None and run.status is not RunStatus.RUNNING:
            return run.metrics[key]
        last = self._pipeline([("lindex", (self._metric_key(run, key), -1))])[0]
        return _record(last, key, [])

    def metric_history(self, run: Run, key: str) -> MetricHistory:
        history = MetricHistory(run_id=run.run_id, key=key, where=self._metric_key(run, key))
        length = self._pipeline([("llen", (history.where,))])[0]
        if key == RESULT_METRIC and not (isinstance(length, int) and length > 0):
            history.points = result_history(run)
            history.cursor = None
            return history
        history.cursor = 0
        self.read_new_points(history)
        return history

    def read_new_points(self, history: MetricHistory) -> list[MetricPoint]:
        if history.cursor is None:
            return []
        length = self._pipeline([("llen", (history.where,))])[0]
        if isinstance(length, Exception):
            history.problems = [Problem(history.where, f"is not a list ({str(length)[:80]})")]
            return []
        if length < history.cursor:  # the list was replaced: start again
            history.points, history.problems, history.cursor = [], [], 0
        new: list[MetricPoint] = []
        end = min(length, MAX_POINTS)
        if length > MAX_POINTS and not any("more than" in p.message for p in history.problems):
            history.problems.append(Problem(history.where, f"has {length:,} records: the first {MAX_POINTS:,} are shown"))
        while history.cursor < end:
            stop = min(history.cursor + PAGE, end) - 1
            page = self._pipeline([("lrange", (history.where, history.cursor, stop))])[0]
            if isinstance(page, Exception) or not page:
                break
            bad: list[Problem] = []
            new += [p for p in (_record(v, history.where, bad) for v in page) if p is not None]
            if bad:
                history.problems.append(Problem(history.where, f"{len(bad):,} record(s) cannot be read: {bad[0].message}"))
            history.cursor += len(page)
        history.points.extend(new)
        return new

    def last_write(self, run: Run) -> int | None:
        """A trial writes its parameters when it starts and a metric record at each save_metric: the
        newest of those times (so a trial whose process died shows as stale)."""
        times = [p.timestamp for k, p in run.metrics.items() if k != RESULT_METRIC or run.end_time is None]
        times += [t for t in (run.start_time, run.end_time) if t is not None]
        return max(times) if times else None

    # -- following ---------------------------------------------------------------------------------

    def start_counting_changes(self) -> None:
        self._poller.start()

    def changes(self, paths: set[str]) -> list[Change]:
        return self._poller.poll()

    def trial_keys(self, experiment_id: str) -> Keys:
        return self._keys(experiment_id)



def _inert(value: bytes | str | Any, where: str, problems: list[Problem], max_ops: int | None = None) -> Any:
    """The data in one pickled value, or None with a problem said."""
    if not isinstance(value, bytes):
        problems.append(Problem(where, value if isinstance(value, str) else f"is not a string ({str(value)[:80]})"))
        return None
    try:
        return load_inert(value, max_ops) if max_ops else load_inert(value)
    except PickleRefused as exc:
        problems.append(Problem(where, str(exc)))
        return None


def _record(value: Any, where: str, problems: list[Problem]) -> MetricPoint | None:
    """One metric list item (a pickled record) as a point."""
    if value is None:
        return None
    if isinstance(value, bytes) and len(value) > MAX_RECORD:
        problems.append(Problem(where, f"holds a record of {len(value):,} bytes, more than a metric record"))
        return None
    data = _inert(value, where, problems, RECORD_OPS)
    if data is None:
        return None
    point = metric_point(data)
    if point is None:
        problems.append(Problem(where, "holds a record that is not {Epoch, Value, Timestamp}"))
    return point


class RedisPoller:
    """What changed since the last poll, asking the server as little as possible (see the module
    docstring). Snapshots are fingerprints of runs as `trial_run` builds them."""

    def __init__(self, store: DaskperimentRedisStore, full_every: int = FULL_EVERY):
        self.store = store
        self.full_every = full_every
        self._polls = 0
        self._experiments: list[str] | None = None
        self._seen: dict[str, tuple] = {}  # run id -> fingerprint
        self._counters: dict[str, Any] = {}  # experiment id -> trial_id value
        self._running: dict[str, tuple[str, int, dict[str, int]]] = {}  # run id -> (exp, trial, list lengths)

    def start(self) -> None:
        self._full(report=False)

    def poll(self) -> list[Change]:
        if self._experiments is None:
            self._full(report=False)
            return []
        self._polls += 1
        if self._polls % self.full_every == 0:
            return self._full(report=True)
        return self._quick()

    def _full(self, report: bool) -> list[Change]:
        store = self.store
        changes: list[Change] = []
        experiments = store._experiment_ids()
        if report and experiments != self._experiments:
            changes.append(Change("experiments"))
        self._experiments = experiments
        seen: dict[str, tuple] = {}
        running: dict[str, tuple[str, int, dict[str, int]]] = {}
        owner: dict[str, str] = {}
        for experiment_id in experiments:
            keys = store.trial_keys(experiment_id)
            for run in store._runs(experiment_id, keys, keys.trials(), with_data=False):
                seen[run.run_id] = _fingerprint(run)
                owner[run.run_id] = experiment_id
                if run.status is RunStatus.RUNNING:
                    trial = int(run.tags[TRIAL_TAG])
                    running[run.run_id] = (experiment_id, trial, {})
        self._counters = self._counter_values(experiments)
        self._running = running
        self._measure_running()
        if report:
            for run_id in seen.keys() | self._seen.keys():
                if seen.get(run_id) != self._seen.get(run_id):
                    changes.append(Change("run", owner.get(run_id) or self._owner(run_id), run_id))
        self._seen = seen
        return changes

    def _owner(self, run_id: str) -> str | None:
        with self.store._lock:
            known = self.store._trial_of.get(run_id)
        return known[0] if known else None

    def _counter_values(self, experiments: list[str]) -> dict[str, Any]:
        answers = self.store._pipeline([("get", (f"{e}:trial_id",)) for e in experiments])
        return dict(zip(experiments, answers))

    def _measure_running(self) -> dict[str, list[str]]:
        """Each running trial's metric list lengths now; returns the metrics that grew."""
        grown: dict[str, list[str]] = defaultdict(list)
        names: dict[str, set[str]] = defaultdict(set)
        keys_of: dict[str, Keys] = {}  # one SCAN per experiment with running trials: new metrics show
        for run_id, (experiment_id, trial, _) in self._running.items():
            if experiment_id not in keys_of:
                keys_of[experiment_id] = self.store.trial_keys(experiment_id)
            names[run_id] = set(keys_of[experiment_id].metrics.get(trial, ()))
        asks = [(run_id, name) for run_id in self._running for name in sorted(names[run_id])]
        lengths = self.store._pipeline([("llen", (f"{self._running[r][0]}:metric:{n}:{self._running[r][1]}",))
                                        for r, n in asks])
        for (run_id, name), length in zip(asks, lengths):
            before = self._running[run_id][2]
            if isinstance(length, int):
                if length > before.get(name, 0):
                    grown[run_id].append(name)
                before[name] = length
        return grown

    def _quick(self) -> list[Change]:
        store = self.store
        changes: list[Change] = []
        experiments = self._experiments or []
        counters = self._counter_values(experiments)
        for experiment_id in experiments:
            if counters.get(experiment_id) != self._counters.get(experiment_id):
                # new trials started: read the experiment again, like a full poll does for one
                keys = store.trial_keys(experiment_id)
                for run in store._runs(experiment_id, keys, keys.trials(), with_data=False):
                    fingerprint = _fingerprint(run)
                    if self._seen.get(run.run_id) != fingerprint:
                        self._seen[run.run_id] = fingerprint
                        changes.append(Change("run", experiment_id, run.run_id))
                    if run.status is RunStatus.RUNNING and run.run_id not in self._running:
                        self._running[run.run_id] = (experiment_id, int(run.tags[TRIAL_TAG]), {})
        self._counters = counters
        ended = self._ended()
        for run_id in ended:
            experiment_id, trial, _ = self._running.pop(run_id)
            changes.append(Change("run", experiment_id, run_id))
        for run_id, names in self._measure_running().items():
            experiment_id = self._running[run_id][0]
            changes += [Change("metric", experiment_id, run_id, name) for name in names]
        return changes

    def _ended(self) -> list[str]:
        """Running trials whose result is there now (or whose keys are gone)."""
        ids = list(self._running)
        answers = self.store._pipeline([("exists", (f"{self._running[r][0]}:history:{self._running[r][1]}",))
                                        for r in ids])
        return [r for r, found in zip(ids, answers) if found == 1]


def _fingerprint(run: Run) -> tuple:
    return (run.status, run.start_time, run.end_time, tuple(sorted(run.params.items())),
            tuple(sorted(run.tags.items())), tuple(sorted((k, p.step, p.timestamp, repr(p.value))
                                                          for k, p in run.metrics.items())))
