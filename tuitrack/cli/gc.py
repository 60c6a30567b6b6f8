"""`tuitrack gc STORE`: purge soft-deleted runs and deleted experiments for good, like `mlflow gc`,
showing what goes and the space it frees first."""

from __future__ import annotations

import argparse
import sys
import time

from tuitrack.cli.edit import describe, guarded
from tuitrack.cli.store_format import add_format_option, add_store_argument, open_from, pick_run
from tuitrack.formatting import duration_ms, format_bytes
from tuitrack.model import RunStatus
from tuitrack.store import RunNotFound
from tuitrack.store.listing import list_runs, select_experiments

HELP = "purge deleted runs and experiments for good (shows the space freed)"
def parse_duration(text: str) -> int:
    try:
        return duration_ms(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def add_parser(parser: argparse.ArgumentParser) -> None:
    add_store_argument(parser)
    add_format_option(parser)
    parser.add_argument("--older-than", type=parse_duration, metavar="DURATION",
                        help="only what was deleted at least this long ago (by deleted_time, as mlflow gc)")
    parser.add_argument("--run-ids", metavar="ID,ID", help="only these runs (they must be deleted): ids, id prefixes "
                                                           "or unique run names")
    parser.add_argument("--yes", "-y", action="store_true", help="do not ask (for scripts)")
    parser.add_argument("--force", action="store_true", help="purge deleted runs still marked RUNNING too")


@guarded
def run(args: argparse.Namespace) -> int:
    store = open_from(args)
    refusal = store.cannot_purge()
    if refusal:
        print(f"tuitrack: {refusal}", file=sys.stderr)
        return 2
    now = int(time.time() * 1000)
    old_enough = (lambda ms: True) if args.older_than is None else (
        lambda ms: ms is None or now - ms >= args.older_than)
    experiments = select_experiments(store, include_deleted=True)
    pairs = list_runs(store, experiments, include_deleted=True)
    wanted = None
    if args.run_ids:
        try:
            wanted = {pick_run(ref.strip(), [found for _, found in pairs]).run_id
                      for ref in args.run_ids.split(",") if ref.strip()}
        except RunNotFound as exc:
            print(f"tuitrack: {exc}", file=sys.stderr)
            return 1
    runs = []
    for experiment, found in pairs:
        if wanted is not None and found.run_id not in wanted:
            continue
        if not found.is_deleted:
            if wanted is not None:
                print(f"tuitrack: run {found.run_id} is not deleted; delete it first", file=sys.stderr)
                return 1
            continue
        if experiment.is_deleted and wanted is None:
            continue  # goes with its experiment
        if not old_enough(found.deleted_time):
            if wanted is not None:
                print(f"tuitrack: run {found.run_id} was deleted less than --older-than ago", file=sys.stderr)
                return 1
            continue
        if found.status is RunStatus.RUNNING and not args.force:
            print(f"skipping {found.run_id[:8]} ({found.run_name}): still RUNNING (--force purges it)", file=sys.stderr)
            continue
        runs.append(found)
    trashed = [] if wanted is not None else [
        e for e in experiments if e.is_deleted and old_enough(e.last_update_time)]
    if not runs and not trashed:
        print("nothing to purge", file=sys.stderr)
        return 0
    sizes = sum(store.disk_usage(r) or 0 for r in runs)
    print(f"Purge for good (this cannot be undone): {len(runs)} run(s), {len(trashed)} deleted experiment(s)",
          file=sys.stderr)
    for found in runs:
        print(describe(found), file=sys.stderr)
    for experiment in trashed:
        print(f"  experiment {experiment.experiment_id} {experiment.name}", file=sys.stderr)
    print(f"about {format_bytes(sizes)} in runs, plus their experiments' folders", file=sys.stderr)
    if not args.yes:
        if not sys.stdin.isatty():
            print("tuitrack: not a terminal, so not asking: add --yes to purge", file=sys.stderr)
            return 1
        try:
            answer = input("Type purge to go ahead: ")
        except EOFError:
            return 1
        if answer.strip() != "purge":
            print("nothing purged", file=sys.stderr)
            return 1
    result = store.purge(runs, trashed)
    for warning in result.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    print(f"purged {len(runs)} run(s) and {len(trashed)} experiment(s), freed {format_bytes(result.bytes_freed)}")
    return 0
