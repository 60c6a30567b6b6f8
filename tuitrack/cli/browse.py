"""`tuitrack [STORE]`: open the app on a store (./mlruns by default)."""

from __future__ import annotations

import argparse
import os
import sys
from typing import TYPE_CHECKING

from tuitrack import __version__
from tuitrack.cli.arguments import OneLineErrors, positive_float
from tuitrack.cli.store_format import add_cache_option, add_format_option, open_from
from tuitrack.live.options import LiveOptions
from tuitrack.safe_text import visible
from tuitrack.store import StoreError

if TYPE_CHECKING:
    from tuitrack.settings import Settings

DEFAULT_STORE = "./mlruns"
DEFAULT_STALE_AFTER = 10.0  # minutes
HINT = "give the path of an mlruns folder: tuitrack PATH/TO/mlruns (in tuitrack's repository, try sample_runs/mlruns)"


def build_parser(commands_epilog: str) -> argparse.ArgumentParser:
    parser = OneLineErrors(
        prog="tuitrack",
        usage="tuitrack [STORE] [--format FORMAT] [--no-mouse]\n       tuitrack COMMAND ...",
        description="Browse and tidy MLflow experiment runs in the terminal.",
        epilog=commands_epilog,
    )
    parser.add_argument("store", metavar="STORE", nargs="?", default=None,
                        help="an mlruns folder or file:// URI, an MLflow database (mlflow.db, sqlite:///…) "
                             f"or a tracking server (http://host:5000) (default: $MLFLOW_TRACKING_URI, "
                             f"else {DEFAULT_STORE})")
    add_format_option(parser)
    parser.add_argument("--version", action="version", version=f"tuitrack {__version__}")
    parser.add_argument("--no-mouse", action="store_true",
                        help="ignore the mouse (for terminals that garble mouse reports)")
    parser.add_argument("--poll", type=positive_float, metavar="SECONDS",
                        help="watch by polling every SECONDS instead of inotify (chosen by itself on "
                             "network filesystems and when inotify watches run out); for a tracking "
                             "server, how often to ask it (default: config.toml's poll, else 2 for a server)")
    parser.add_argument("--no-watch", action="store_true", help="read the store once; do not follow changes")
    add_cache_option(parser)
    parser.add_argument("--stale-after", type=positive_float, metavar="MINUTES",
                        help="a RUNNING run silent this long is shown as stale (default: config.toml's "
                             "stale_after, else 10)")
    return parser


def first_given(*values):
    return next((v for v in values if v is not None), None)


def live_options(args: argparse.Namespace, remembered: Settings) -> LiveOptions:
    """How the app follows the store: a flag on the command line wins over config.toml, the
    file over the default."""
    stale_after = first_given(args.stale_after, remembered.stale_after, DEFAULT_STALE_AFTER)
    return LiveOptions(watch=not args.no_watch, poll=first_given(args.poll, remembered.poll),
                       stale_after=stale_after * 60)


def run(args: argparse.Namespace) -> int:
    location = args.store or os.environ.get("MLFLOW_TRACKING_URI") or DEFAULT_STORE
    if location == DEFAULT_STORE and not os.path.exists(DEFAULT_STORE):
        print(f"tuitrack: no {DEFAULT_STORE} here; {HINT}", file=sys.stderr)
        return 2
    try:
        store = open_from(args, location)
    except StoreError as exc:
        print(f"tuitrack: {visible(str(exc))}", file=sys.stderr)
        return 2
    from tuitrack.app.app import TuitrackApp  # Textual loads only when the app opens
    from tuitrack.app import pictures
    from tuitrack.settings import SettingsFile

    settings = SettingsFile.load()
    app = TuitrackApp(store, live=live_options(args, settings.settings), settings=settings)
    warning = settings.warning()  # the app checked theme names and remaps too
    if warning is not None:
        print(f"tuitrack: {warning}", file=sys.stderr)
    pictures.detect()  # asks the terminal, which only answers before Textual owns it
    try:
        app.run(mouse=not args.no_mouse)
    except Exception as exc:  # the app could not even start (no terminal, a broken driver)
        print(f"tuitrack: the app failed: {type(exc).__name__}: {visible(str(exc))}", file=sys.stderr)
        return 1
    if app.return_code:  # Textual caught a crash, printed its report and stopped the app
        print("tuitrack: the app stopped after an unexpected error (the report above says where)",
              file=sys.stderr)
        return 1
    return 0
