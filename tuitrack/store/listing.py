"""Listing runs across experiments: what `ls`, `prune` and the app's first load share."""

from __future__ import annotations

import gc
from collections.abc import Iterable
from contextlib import contextmanager

from tuitrack.model import Experiment, Run
from tuitrack.store.base import Store, StoreError


class ExperimentNotFound(StoreError):
    pass


def select_experiments(
    store: Store, name_or_id: str | None = None, include_deleted: bool = False
) -> list[Experiment]:
    """All experiments, or the one whose id (first) or name is `name_or_id`."""
    experiments = store.experiments(include_deleted=True)
    if name_or_id is None:
        return [e for e in experiments if include_deleted or not e.is_deleted]
    for matches in (
        [e for e in experiments if e.experiment_id == name_or_id],
        [e for e in experiments if e.name == name_or_id],
    ):
        if matches:
            return matches
    names = ", ".join(sorted(repr(e.name or e.experiment_id) for e in experiments)[:10])
    raise ExperimentNotFound(f"no experiment named or numbered {name_or_id!r} (there are: {names})")


@contextmanager
def gc_paused():
    """No garbage collection while a listing builds its runs: they are all kept, and each full
    collection would walk every object made so far (at 50,000 runs, millions)."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def list_runs(
    store: Store, experiments: list[Experiment], include_deleted: bool = False
) -> list[tuple[Experiment, Run]]:
    """Every run of `experiments` with its data, newest first within each experiment."""
    order = {id(e): i for i, e in enumerate(experiments)}
    with gc_paused():
        pairs = store.all_runs(experiments, include_deleted=include_deleted)
        store.save_cache()
    pairs.sort(key=lambda pair: (-order[id(pair[0])], pair[1].start_time or 0, pair[1].run_id), reverse=True)
    return pairs


def read_datasets(store: Store, runs: Iterable[Run]) -> None:
    """Fill in `Run.datasets` (what `dataset.*` filters read) where it is not read yet."""
    for run in runs:
        if run.datasets is None:
            run.datasets = store.dataset_inputs(run)
