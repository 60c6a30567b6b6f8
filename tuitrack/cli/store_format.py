"""The option every command shares to say which format STORE is in, and opening STORE with it.

`--format` picks the store format everywhere except `ls`, where `--format` has long meant the
output format; `--store-format` works on every command, `ls` included.
"""

from __future__ import annotations

import argparse

from tuitrack.model import Run
from tuitrack.store import RunNotFound, Store, open_store
from tuitrack.store.base import MIN_PREFIX
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
    """A run by id or unambiguous prefix; a too-short prefix is said to be one."""
    try:
        return store.find_run(run_id)
    except RunNotFound as exc:
        if len(run_id) < MIN_PREFIX:
            raise RunNotFound(f"{exc} (a prefix of a run id needs at least {MIN_PREFIX} characters)") from None
        raise
