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
    is_within,
    local_path,
    measure,
    plan_removal,
)

if TYPE_CHECKING:
    from tuitrack.store.mlflow_file.store import MlflowFileStore

TRASH = ".trash"


def plan(store: MlflowFileStore, runs: list[Run], experiments: list[Experiment]) -> PurgePlan:
    guard = Guard(store.root)
    root = guard.root
    guard.protect(os.path.join(root, TRASH), "the store's .trash folder")
    guard.protect(os.path.join(root, "models"), "the store's models folder", inner=True)
    purged = {e.experiment_id for e in experiments}
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
            owner = _exp_owner(exp.experiment_id) if exp.experiment_id in purged else None
            guard.protect(folder, f"experiment {exp.name or exp.experiment_id}'s folder", owner, inner=True)

    result = PurgePlan()
    for run in runs:
        run = fresh.get(run.run_id, run)  # its meta.yaml as it is now, not as the caller last read it
        if run.experiment_id in purged:
            continue  # it goes with its experiment
        target = Target("run", run.run_id, run.run_name, run.experiment_id)
        folder = guard.canonical(store.run_dir(run))
        owners = {run.run_id}
        why = guard.holds(folder, owners) if is_within(folder, root) and folder != root else "it is outside the store"
        if why:
            target.kept.append(Kept(folder, why))
            target.stays = True
            _keep_artifacts_too(target, run)
        else:
            _plan_artifacts(guard, target, run, owners, within=folder)
            plan_removal(target, folder, "run folder")
        result.targets.append(target)

    trash = os.path.join(root, TRASH)
    for exp in experiments:
        target = Target("experiment", exp.experiment_id, exp.name)
        folder = guard.canonical(store.experiment_dir(exp.experiment_id))
        inside = members.get(exp.experiment_id, [])
        target.run_ids = [r.run_id for r in inside]
        owners = {_exp_owner(exp.experiment_id), *target.run_ids}
        why = "it is not in .trash" if os.path.dirname(folder) != trash else guard.holds(folder, owners)
        if why:
            target.kept.append(Kept(folder, why))
            target.stays = True
        else:
            for run in inside:
                _plan_artifacts(guard, target, run, {run.run_id, _exp_owner(exp.experiment_id)}, within=folder)
            plan_removal(target, folder, "experiment folder")
        result.targets.append(target)
    measure(result)
    return result


def _exp_owner(experiment_id: str) -> str:
    return "experiment:" + experiment_id


def _plan_artifacts(guard: Guard, target: Target, run: Run, owners: set[str], within: str) -> None:
    """The run's artifact location, when it lies outside `within` (which goes anyway)."""
    path, why = local_path(run.artifact_uri)
    if path is None:
        if why:
            target.kept.append(Kept(run.artifact_uri or "", f"artifacts: {why}"))
        return
    place = guard.canonical(path)
    if is_within(place, within) or not os.path.lexists(place):
        return
    why = guard.refuse_artifacts(place, owners)
    if why:
        target.kept.append(Kept(place, f"artifacts of run {run.run_id}: {why}" if target.kind == "experiment"
                                else f"artifacts: {why}"))
    else:
        plan_removal(target, place, "artifacts")


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
