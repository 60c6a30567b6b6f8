"""`tuitrack [STORE]`: open the app on a store (./mlruns by default)."""

from __future__ import annotations

import argparse
import os
import sys

from tuitrack.store import StoreError, open_store

DEFAULT_STORE = "./mlruns"
HINT = "give the path of an mlruns folder: tuitrack PATH/TO/mlruns (in tuitrack's repository, try sample_runs/mlruns)"


def build_parser(commands_epilog: str) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="tuitrack",
        usage="tuitrack [STORE] [--no-mouse]\n       tuitrack COMMAND ...",
        description="Browse and tidy MLflow experiment runs in the terminal.",
        epilog=commands_epilog,
    )
    parser.add_argument("store", metavar="STORE", nargs="?", default=None,
                        help=f"an mlruns folder or file:// URI (default: {DEFAULT_STORE})")
    parser.add_argument("--no-mouse", action="store_true",
                        help="ignore the mouse (for terminals that garble mouse reports)")
    return parser


def run(args: argparse.Namespace) -> int:
    location = args.store or DEFAULT_STORE
    if args.store is None and not os.path.exists(DEFAULT_STORE):
        print(f"tuitrack: no {DEFAULT_STORE} here; {HINT}", file=sys.stderr)
        return 2
    try:
        store = open_store(location)
    except StoreError as exc:
        print(f"tuitrack: {exc}", file=sys.stderr)
        return 2
    from tuitrack.app.app import TuitrackApp  # Textual loads only when the app opens

    TuitrackApp(store).run(mouse=not args.no_mouse)
    return 0
