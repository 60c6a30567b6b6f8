"""Retention policies: which runs a prune deletes, and why each one.

A run is pruned when a selecting rule matches it (a status, an age, being beyond the newest N)
and no keep rule protects it (the newest N, the best K by a metric). With only keep rules, every other run is selected,
as `dvc exp remove --keep` does. Some runs are always kept: RUNNING runs that are not stale (a
script may still be writing; a RUNNING mini-mlflow run even when stale, as its deletion would
not last), runs tagged `keep` (any value but false/0/no), and runs already deleted (purge those
with gc). A parent and its children are pruned together or not at all,
unless families are split.

Plain Python over model objects: the CLI and the app's prune screen share it, and tests can
state exactly which runs go.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field

from tuitrack.formatting import duration_text, format_age
from tuitrack.families import build_forest
from tuitrack.model import Experiment, Run, RunStatus
from tuitrack.query.mlflow_filter import matches

KEEP_TAG = "keep"
STALE = "STALE"  # a pseudo-status: RUNNING runs whose script went silent (only when named)


@dataclass(frozen=True)
class KeepBest:
    metric: str
    direction: str  # "min" or "max"
    count: int

    @classmethod
    def parse(cls, text: str) -> KeepBest:
        """`val/loss:min:3`; the metric may itself contain colons."""
        metric, sep, rest = text.rpartition(":")
        metric2, sep2, direction = metric.rpartition(":")
        if not sep or not sep2 or direction not in ("min", "max") or not rest.isdigit() or not metric2:
            raise ValueError(f"{text!r}: expected METRIC:min|max:K, like val/loss:min:3")
        return cls(metric2, direction, int(rest))


@dataclass
class Policy:
    statuses: set[str] = field(default_factory=set)  # FAILED, KILLED, ..., STALE
    older_than_ms: int | None = None  # by start time
    keep_last: int | None = None  # newest by start time, per experiment
    keep_best: list[KeepBest] = field(default_factory=list)
    group_by: str | None = None  # "params.X": keep-best ranks within each value of X
    split_families: bool = False
    condition: object = None  # a parsed MLflow filter (--filter): only matching runs are in scope
    # Selects all but the newest N of each experiment. With --older-than this is fetch_ml's own
    # policy (either rule prunes), where --keep-last would protect the newest N from the age rule.
    beyond_newest: int | None = None

    @property
    def selects(self) -> bool:
        return bool(self.statuses) or self.older_than_ms is not None or self.beyond_newest is not None

    @property
    def keeps(self) -> bool:
        return self.keep_last is not None or bool(self.keep_best)


NOT_SELECTED = "no rule selects it"


@dataclass
class Verdict:
    run: Run
    experiment: Experiment
    prune: bool
    reason: str  # why it goes, or why it stays
    metric: str = ""  # the keep-best metric and its value, for the plan
    matched: str = ""  # what the selecting rules say of it, kept or not ("" when none selects it)


def has_keep_tag(run: Run) -> bool:
    value = run.tags.get(KEEP_TAG)
    return value is not None and value.strip().lower() not in ("false", "0", "no")


def decide(
    runs: list[tuple[Experiment, Run]],
    policy: Policy,
    now_ms: int,
    is_stale: Callable[[Run], bool],
) -> list[Verdict]:
    """A verdict for every run in scope (already-deleted runs are left out: nothing to do)."""
    live = [(e, r) for e, r in runs if not r.is_deleted
            and (policy.condition is None or matches(policy.condition, r))]
    always: dict[str, str] = {}  # run id -> why it stays whatever the rules say
    stale_ids: set[str] = set()
    for _, run in live:
        stale = run.status is RunStatus.RUNNING and is_stale(run)
        if stale:
            stale_ids.add(run.run_id)
        if has_keep_tag(run):
            always[run.run_id] = f"tagged {KEEP_TAG}"
        elif run.status is RunStatus.RUNNING and run.dialect:
            # mini-mlflow rewrites a RUNNING run's meta.yaml when it ends: a deletion would not last.
            always[run.run_id] = f"RUNNING {run.dialect} run (mark it KILLED first)"
        elif run.status is RunStatus.RUNNING and not (stale and STALE in policy.statuses):
            always[run.run_id] = "stale RUNNING (name STALE to prune)" if stale else "RUNNING"
    # Keep rules rank only runs that could go: "the best 3" means 3 besides those always kept.
    kept_by_rule = _kept_by_keep_rules([(e, r) for e, r in live if r.run_id not in always], policy)
    beyond = _beyond_newest(live, policy.beyond_newest)
    verdicts = []
    for experiment, run in live:
        verdict = Verdict(run, experiment, False, "")
        stale = run.run_id in stale_ids
        verdict.matched = _selected_because(run, stale, policy, now_ms, run.run_id in beyond)
        if run.run_id in always:
            verdict.reason = always[run.run_id]
        elif run.run_id in kept_by_rule:
            verdict.reason, verdict.metric = kept_by_rule[run.run_id]
        else:
            if verdict.matched:
                verdict.prune, verdict.reason = True, verdict.matched
            else:
                verdict.reason = NOT_SELECTED
        if not verdict.metric:
            verdict.metric = _metric_note(run, policy)
        verdicts.append(verdict)
    if not policy.split_families:
        _keep_families_together(verdicts)
    return verdicts


def _selected_because(run: Run, stale: bool, policy: Policy, now_ms: int, beyond: bool) -> str:
    if not policy.selects:
        return "not kept by any keep rule"
    reasons = []
    status = STALE if stale else (run.status.name if run.status else "")
    if status in policy.statuses:
        reasons.append(f"status {status}")
    if policy.older_than_ms is not None and run.start_time is not None and now_ms - run.start_time >= policy.older_than_ms:
        reasons.append(f"started {format_age(run.start_time, now_ms)}, older than {duration_text(policy.older_than_ms)}")
    if beyond:
        reasons.append(f"beyond the newest {policy.beyond_newest}")
    return " and ".join(reasons)


def _newest_first(runs: list[Run]) -> list[Run]:
    return sorted(runs, key=lambda r: (r.start_time or 0, r.run_id), reverse=True)


def _beyond_newest(runs: list[tuple[Experiment, Run]], count: int | None) -> set[str]:
    """Ids of the runs after the newest `count` of each experiment (all runs in scope rank,
    those that always stay included, as fetch_ml ranks every commit)."""
    if count is None:
        return set()
    by_experiment: dict[str, list[Run]] = defaultdict(list)
    for experiment, run in runs:
        by_experiment[experiment.experiment_id].append(run)
    return {r.run_id for members in by_experiment.values() for r in _newest_first(members)[count:]}


def _kept_by_keep_rules(runs: list[tuple[Experiment, Run]], policy: Policy) -> dict[str, tuple[str, str]]:
    """run id -> (why it is kept, metric note) for runs a keep rule protects."""
    kept: dict[str, tuple[str, str]] = {}
    by_experiment: dict[str, list[Run]] = defaultdict(list)
    for experiment, run in runs:
        by_experiment[experiment.experiment_id].append(run)
    for members in by_experiment.values():
        if policy.keep_last is not None:
            newest = _newest_first(members)
            for rank, run in enumerate(newest[: policy.keep_last], start=1):
                kept.setdefault(run.run_id, (f"newest {rank} of its experiment", ""))
        for rule in policy.keep_best:
            for label, group in _groups(members, policy.group_by).items():
                scored = [r for r in group if _score(r, rule.metric) is not None]
                scored.sort(key=lambda r: _score(r, rule.metric), reverse=rule.direction == "max")
                for rank, run in enumerate(scored[: rule.count], start=1):
                    where = f" in {policy.group_by}={label}" if policy.group_by else ""
                    note = f"{rule.metric}={_score(run, rule.metric):.6g}"
                    kept.setdefault(run.run_id, (f"best {rank} by {rule.metric} ({rule.direction}){where}", note))
    return kept


def _groups(runs: list[Run], group_by: str | None) -> dict[str, list[Run]]:
    if group_by is None:
        return {"": runs}
    key = group_by.removeprefix("params.")
    groups: dict[str, list[Run]] = defaultdict(list)
    for run in runs:
        groups[run.params.get(key, "(none)")].append(run)
    return groups


def _score(run: Run, metric: str) -> float | None:
    point = run.metrics.get(metric)
    if point is None or math.isnan(point.value):
        return None  # runs without the metric are not "best"
    return point.value


def _metric_note(run: Run, policy: Policy) -> str:
    for rule in policy.keep_best:
        score = _score(run, rule.metric)
        return f"{rule.metric}={score:.6g}" if score is not None else f"{rule.metric}: none"
    return ""


def _keep_families_together(verdicts: list[Verdict]) -> None:
    """If any run of a family (a parent and its descendants) stays, the whole family stays."""
    root_of = build_forest(v.run for v in verdicts).family_roots()  # linear, cycles broken
    families: dict[str, list[Verdict]] = defaultdict(list)
    for verdict in verdicts:
        families[root_of[verdict.run.run_id]].append(verdict)
    for members in families.values():
        if len(members) > 1 and any(not v.prune for v in members) and any(v.prune for v in members):
            keeper = next(v for v in members if not v.prune)
            name = keeper.run.run_name or keeper.run.run_id[:8]
            for verdict in members:
                if verdict.prune:
                    verdict.prune, verdict.reason = False, f"family of {name}, which stays ({keeper.reason})"
