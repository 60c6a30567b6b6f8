"""The option every command shares to say which format STORE is in, and opening STORE with it.

`--format` picks the store format everywhere except `ls`, where `--format` has long meant the
output format; `--store-format` works on every command, `ls` included.
"""

from __future__ import annotations

import argparse

from tuitrack.model import Run
from tuitrack.store import RunNotFound, Store, open_store
from tuitrack.store.base import MIN_PREFIX, prefix_matches, refuse_ambiguous
from tuitrack.store.locate import FORMAT_CHOICES

HELP = "the store's format: auto (default: recognised from what is on disk), " + ", ".join(FORMAT_CHOICES[1:])


STORE_HELP = ("an mlruns folder, an MLflow database (mlflow.db, sqlite:///...), a tracking server "
              "(http://host:5000), another tracker's folder (entrenar, fetch_ml, a daskperiment_cache), "
              "or daskperiment's Redis (redis://host:6379/0)")


def add_store_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("store", metavar="STORE", help=STORE_HELP)


def add_format_option(parser: argparse.ArgumentParser, short_name: bool = True) -> None:
    names = ("--format", "--store-format") if short_name else ("--store-format",)
    parser.add_argument(*names, dest="store_format", choices=FORMAT_CHOICES, default="auto", help=HELP)


def open_from(args: argparse.Namespace, location: str | None = None, workers: int = 1) -> Store:
    """The store named on the command line (or `location`), in the format asked for."""
    return open_store(location or args.store, workers=workers, format=getattr(args, "store_format", "auto"))


def find_run(store: Store, run_id: str) -> Run:
    """A run by id or unambiguous prefix, or as EXPERIMENT/RUN (an experiment id or name, then
    the run id or prefix: a run id present in two experiments); a too-short prefix is said to be one."""
    if "/" in run_id:
        experiment, _, run_id = run_id.rpartition("/")
        return _find_in_experiment(store, experiment, run_id)
    try:
        return store.find_run(run_id)
    except RunNotFound as exc:
        if len(run_id) < MIN_PREFIX:
            raise RunNotFound(f"{exc} (a prefix of a run id needs at least {MIN_PREFIX} characters)") from None
        raise


def _find_in_experiment(store: Store, wanted: str, run_id: str) -> Run:
    experiments = store.experiments(include_deleted=True)
    chosen = [e for e in experiments if e.experiment_id == wanted] or [e for e in experiments if e.name == wanted]
    if not chosen:
        raise RunNotFound(f"no experiment {wanted!r} (by id or name) in {store.location}")
    if len(chosen) > 1:
        raise RunNotFound(f"{len(chosen)} experiments are named {wanted!r}: use the experiment id "
                          f"({', '.join(e.experiment_id for e in chosen[:5])})")
    experiment = chosen[0]
    ids = [r.run_id for r in store.runs(experiment, include_deleted=True, with_data=False)]
    matches = prefix_matches(run_id, ids)
    refuse_ambiguous(run_id, matches)
    run = store.read_run(experiment, matches[0]) if matches else None
    if run is None:
        short = f" (a prefix of a run id needs at least {MIN_PREFIX} characters)" if len(run_id) < MIN_PREFIX else ""
        raise RunNotFound(f"no run {run_id!r} in experiment {wanted!r}{short}")
    return run
