"""Purging an `mlruns` folder (hard-deleting runs and experiments that are already soft-deleted),
like `mlflow gc`, but never reaching past the runs purged.

MLflow's gc deletes a run's folder and whatever its artifact_uri points to, wherever that is. Here
a run's folder goes, and its artifact location only when it belongs to that run alone: inside the
store, and not the root, an experiment folder, another run's folder or artifacts, a folder holding
any of those, a path another run also names, or a relative URI. Every run of the store counts,
deleted or not, trashed experiments too. See purge_plan.py for how the plan is measured and run.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from tuitrack.model import Experiment, Run
from tuitrack.store.base import RunNotFound
from tuitrack.store.mlflow_rules import ChangeRefused
from tuitrack.store.purge_plan import (
    Guard,
    Kept,
    PurgePlan,
    Target,
    canonical,
    experiment_owner,
    is_within,
    local_path,
    measure,
    plan_artifacts,
    plan_removal,
)

if TYPE_CHECKING:
    from tuitrack.store.mlflow_file.store import MlflowFileStore

TRASH = ".trash"


def plan(store: MlflowFileStore, runs: list[Run], experiments: list[Experiment]) -> PurgePlan:
    purged = {e.experiment_id for e in experiments}
    guard, members, fresh = _protect_everything(store, purged)
    result = PurgePlan()
    for run in runs:
        run = fresh.get(run.run_id, run)  # its meta.yaml as it is now, not as the caller last read it
        if run.experiment_id not in purged:  # else it goes with its experiment
            result.targets.append(_plan_run(store, guard, run))
    for exp in experiments:
        result.targets.append(_plan_experiment(store, guard, exp, members.get(exp.experiment_id, [])))
    measure(result)
    return result


def _protect_everything(store: MlflowFileStore, purged: set[str]) -> tuple[Guard, dict[str, list[Run]], dict[str, Run]]:
    """A guard over every run of the store (deleted or not, trashed experiments too): its folder
    and artifacts, each experiment's folder, `.trash` and `models`; and the runs, as read now."""
    guard = Guard(store.root)
    guard.protect(os.path.join(guard.root, TRASH), "the store's .trash folder")
    guard.protect(os.path.join(guard.root, "models"), "the store's models folder", inner=True)
    every_experiment = store.experiments(include_deleted=True)
    members: dict[str, list[Run]] = {}
    fresh: dict[str, Run] = {}
    for exp, run in store.all_runs(every_experiment, include_deleted=True, with_data=False):
        fresh[run.run_id] = run
        guard.protect(store.run_dir(run), f"run {run.run_id}'s folder", run.run_id, inner=True)
        guard.protect_uri(run.artifact_uri, f"run {run.run_id}'s artifacts", run.run_id)
        members.setdefault(exp.experiment_id, []).append(run)
    for exp in every_experiment:
        folder = store.experiment_dir(exp.experiment_id)
        # A folder with no meta.yaml and no runs is no experiment (MLflow ignores it): just a folder.
        if exp.experiment_id in members or os.path.lexists(os.path.join(folder, "meta.yaml")):
            owner = experiment_owner(exp.experiment_id) if exp.experiment_id in purged else None
            guard.protect(folder, f"experiment {exp.name or exp.experiment_id}'s folder", owner, inner=True)
    return guard, members, fresh


def _plan_run(store: MlflowFileStore, guard: Guard, run: Run) -> Target:
    """The run's folder, unless it holds what another run names; its artifacts elsewhere, if its alone."""
    target = Target("run", run.run_id, run.run_name, run.experiment_id)
    folder = guard.canonical(store.run_dir(run))
    owners = {run.run_id}
    inside = is_within(folder, guard.root) and folder != guard.root
    why = guard.holds(folder, owners) if inside else "it is outside the store"
    if why:
        target.kept.append(Kept(folder, why))
        target.stays = True
        _keep_artifacts_too(target, run)
    else:
        plan_artifacts(guard, target, run.run_id, run.artifact_uri, owners, within=folder)
        plan_removal(target, folder, "run folder")
    return target


def _plan_experiment(store: MlflowFileStore, guard: Guard, exp: Experiment, inside: list[Run]) -> Target:
    """A trashed experiment's folder with its runs, and their artifacts elsewhere if theirs alone."""
    target = Target("experiment", exp.experiment_id, exp.name)
    folder = guard.canonical(store.experiment_dir(exp.experiment_id))
    target.run_ids = [r.run_id for r in inside]
    owner = experiment_owner(exp.experiment_id)
    in_trash = os.path.dirname(folder) == os.path.join(guard.root, TRASH)
    why = guard.holds(folder, {owner, *target.run_ids}) if in_trash else "it is not in .trash"
    if why:
        target.kept.append(Kept(folder, why))
        target.stays = True
        return target
    for run in inside:
        plan_artifacts(guard, target, run.run_id, run.artifact_uri, {run.run_id, owner}, within=folder)
    plan_removal(target, folder, "experiment folder")
    return target


def _keep_artifacts_too(target: Target, run: Run) -> None:
    path, _ = local_path(run.artifact_uri)
    if path is not None and os.path.lexists(path):
        target.kept.append(Kept(canonical(path), "artifacts: the run's folder is left in place"))


def check_still_deleted(store: MlflowFileStore, target: Target) -> None:
    """Read the run's meta.yaml (or look for the experiment in .trash) again before purging."""
    if target.kind == "experiment":
        if not os.path.isdir(os.path.join(store.root, TRASH, target.id)):
            raise ChangeRefused(f"experiment {target.id} is not deleted")
        return
    try:
        run = store.find_run(target.id)
    except RunNotFound:
        return  # purged meanwhile: nothing of it is left to remove
    if not run.is_deleted:
        raise ChangeRefused(f"run {target.id} is not deleted; delete it first")
