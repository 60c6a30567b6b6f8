"""The option every command shares to say which format STORE is in, and opening STORE with it.

`--format` picks the store format everywhere except `ls`, where `--format` has long meant the
output format; `--store-format` works on every command, `ls` included.
"""

from __future__ import annotations

import argparse
import os
import re
import sys

from tuitrack.model import Run
from tuitrack.safe_text import visible
from tuitrack.store import RunNotFound, Store, open_store
from tuitrack.store.base import MIN_PREFIX, AmbiguousRun, prefix_matches, refuse_ambiguous
from tuitrack.store.forked import MIN_CORES
from tuitrack.store.locate import FORMAT_CHOICES

HELP = "the store's format: auto (default: recognised from what is on disk), " + ", ".join(FORMAT_CHOICES[1:])


STORE_HELP = ("an mlruns folder, an MLflow database (mlflow.db, sqlite:///...), a tracking server "
              "(http://host:5000), another tracker's folder (entrenar, fetch_ml, a daskperiment_cache), "
              "or daskperiment's Redis (redis://host:6379/0)")


def add_store_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("store", metavar="STORE", help=STORE_HELP + "; may be left out when "
                        "$MLFLOW_TRACKING_URI is set (the first word is STORE when it is a path that "
                        "exists or a URI)")


def names_a_store(word: str) -> bool:
    """Whether a command's first positional word is its STORE: a path that exists, or a URI."""
    return os.path.exists(word) or bool(re.match(r"^[a-z][a-z0-9+.-]*:(//|/)", word, re.IGNORECASE))


def with_default_store(argv: list[str], parser: argparse.ArgumentParser) -> list[str]:
    """A command's arguments with $MLFLOW_TRACKING_URI put in as STORE when STORE was left out:
    `tuitrack show RUN` is `tuitrack show $MLFLOW_TRACKING_URI RUN`. The rule that tells the two
    apart: the first positional word is STORE when it names a store (`names_a_store`)."""
    uri = os.environ.get("MLFLOW_TRACKING_URI")
    if not uri:
        return argv
    takes_value = {name for action in parser._actions if action.option_strings and action.nargs != 0
                   for name in action.option_strings}
    index = 0
    while index < len(argv):
        word = argv[index]
        if word == "--":
            index += 1
            break
        if word.startswith("-") and len(word) > 1:
            index += 2 if word in takes_value else 1
            continue
        break
    if index < len(argv) and names_a_store(argv[index]):
        return argv
    return [*argv[:index], uri, *argv[index:]]


def add_format_option(parser: argparse.ArgumentParser, short_name: bool = True) -> None:
    names = ("--format", "--store-format") if short_name else ("--store-format",)
    parser.add_argument(*names, dest="store_format", choices=FORMAT_CHOICES, default="auto", help=HELP)


def add_cache_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--no-cache", action="store_true",
                        help="read every run from the store, without the read cache (~/.cache/tuitrack/), "
                             "and leave the cache as it is")


def open_from(args: argparse.Namespace, location: str | None = None, workers: int = 1) -> Store:
    """The store named on the command line (or `location`), in the format asked for; through the
    read cache for commands that offer --no-cache and were not given it."""
    # The read cache's helper process, as the forked workers, only where a core is to spare: on
    # two, a command's second process costs more CPU than the wall time it saves (the app, whose
    # wait is the user's, takes it from two).
    return open_store(location or args.store, workers=workers, format=getattr(args, "store_format", "auto"),
                      cache=not getattr(args, "no_cache", True), helper_cores=MIN_CORES)


def say_cache_note(store: Store) -> None:
    """After a listing: the read cache's one line, when it could not be used as it was."""
    note = store.save_cache()
    if note:
        print(f"tuitrack: {visible(note)}", file=sys.stderr)


def find_run(store: Store, run_id: str) -> Run:
    """A run by id, unambiguous id prefix, or name (when one run has it; deleted runs count, so
    that restore finds them), or as EXPERIMENT/RUN (an experiment id or name, a slash, then one of
    those within it: a run id present in two experiments). A too-short prefix is said to be one; a
    name several runs share is an error that lists their ids."""
    if "/" in run_id:
        experiment, _, inner = run_id.rpartition("/")
        try:
            return _find_in_experiment(store, experiment, inner)
        except AmbiguousRun:
            raise
        except RunNotFound:
            if not runs_named(store, run_id):  # not a run name with a slash in it either
                raise
    try:
        return store.find_run(run_id)
    except AmbiguousRun:
        raise
    except RunNotFound as exc:
        named = runs_named(store, run_id)
        if named:
            return store.find_run(_the_one_named(run_id, named).run_id)
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
    try:
        found = pick_run(run_id, store.runs(experiment, include_deleted=True, with_data=False))
    except AmbiguousRun:
        raise
    except RunNotFound as exc:
        raise RunNotFound(f"{exc} in experiment {wanted!r}") from None
    run = store.read_run(experiment, found.run_id)
    if run is None:
        raise RunNotFound(f"no run {run_id!r} in experiment {wanted!r}")
    return run


def runs_named(store: Store, name: str) -> list[Run]:
    """Every run (deleted ones too) called `name`, from the metas only (no data is read)."""
    found = []
    for experiment in store.experiments(include_deleted=True):
        found += [r for r in store.runs(experiment, include_deleted=True, with_data=False) if r.run_name == name]
    return found


def pick_run(ref: str, runs: list[Run]) -> Run:
    """One of `runs` by id, unambiguous id prefix or unique name: `find_run`'s rules, on a list."""
    ids = prefix_matches(ref, [r.run_id for r in runs])
    refuse_ambiguous(ref, ids)
    if ids:
        return next(r for r in runs if r.run_id == ids[0])
    named = [r for r in runs if r.run_name == ref]
    if not named:
        short = f" (a prefix of a run id needs at least {MIN_PREFIX} characters)" if len(ref) < MIN_PREFIX else ""
        raise RunNotFound(f"no run {ref!r}{short}")
    return _the_one_named(ref, named)


def _the_one_named(name: str, named: list[Run]) -> Run:
    """The run called `name`; when several are, an error that lists their ids."""
    if len(named) > 1:
        raise AmbiguousRun(f"{len(named)} runs are named {name!r}; give one of their ids: "
                           + ", ".join(r.run_id for r in named[:10]))
    return named[0]
