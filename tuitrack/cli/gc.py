"""`tuitrack gc STORE`: purge soft-deleted runs and deleted experiments for good, like `mlflow gc`,
showing the plan first: what goes, the exact space it frees, and what is left in place and why."""

from __future__ import annotations

import argparse
import json
import sys
import time

from tuitrack.cli.edit import describe, guarded
from tuitrack.cli.store_format import add_cache_option, add_format_option, add_store_argument, open_from, say_cache_note, pick_run
from tuitrack.formatting import duration_ms, format_bytes
from tuitrack.model import Run, RunStatus
from tuitrack.safe_text import visible
from tuitrack.store import RunNotFound
from tuitrack.store.base import PurgeResult
from tuitrack.store.listing import list_runs, select_experiments
from tuitrack.store.purge_plan import PurgePlan

HELP = "purge deleted runs and experiments for good (shows the plan and the space freed first)"


def parse_duration(text: str) -> int:
    try:
        return duration_ms(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def add_parser(parser: argparse.ArgumentParser) -> None:
    add_store_argument(parser)
    add_cache_option(parser)
    add_format_option(parser)
    parser.add_argument("--older-than", type=parse_duration, metavar="DURATION",
                        help="only what was deleted at least this long ago (by deleted_time, as mlflow gc)")
    parser.add_argument("--run-ids", metavar="ID,ID", help="only these runs (they must be deleted): ids, id prefixes "
                                                           "or unique run names")
    parser.add_argument("--dry-run", action="store_true", help="print the plan and change nothing")
    parser.add_argument("--json", action="store_true",
                        help="print the plan (and what was purged) as JSON; changes nothing unless --yes")
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
    say_cache_note(store)
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
            print(f"skipping {found.run_id[:8]} ({visible(found.run_name)}): still RUNNING (--force purges it)",
                  file=sys.stderr)
            continue
        runs.append(found)
    trashed = [] if wanted is not None else [
        e for e in experiments if e.is_deleted and old_enough(e.last_update_time)]
    if not runs and not trashed:
        if args.json:
            print(json.dumps({"bytes": 0, "runs": [], "experiments": [], "dry_run": True, "purged": None}))
        print("nothing to purge", file=sys.stderr)
        return 0
    plan = store.plan_purge(runs, trashed)
    if args.json:
        report = {**plan.to_json(), "dry_run": bool(args.dry_run or not args.yes), "purged": None}
    else:
        print_plan(plan, runs)
    if args.dry_run or (args.json and not args.yes):
        if args.json:
            print(json.dumps(report, ensure_ascii=False))
        return 0
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
    result = store.execute_purge(plan)
    if args.json:
        report["purged"] = {"removed": result.removed, "bytes_freed": result.bytes_freed,
                            "warnings": result.warnings}
        print(json.dumps(report, ensure_ascii=False))
        return 0
    print_result(result, plan)
    removed = set(result.removed)
    print(f"purged {sum(t.id in removed for t in plan.runs())} run(s) and "
          f"{sum(t.id in removed for t in plan.experiments())} experiment(s), "
          f"freed {format_bytes(result.bytes_freed)}")
    return 0


def print_plan(plan: PurgePlan, runs: list[Run]) -> None:
    """The plan, on standard error: what goes, its exact size, and what stays and why."""
    by_id = {r.run_id: r for r in runs}
    print(f"Purge for good (this cannot be undone): {len(plan.runs())} run(s), "
          f"{len(plan.experiments())} deleted experiment(s)", file=sys.stderr)
    for target in plan.runs():
        line = describe(by_id[target.id]) if target.id in by_id else f"  {visible(target.id[:8])}  {visible(target.name or '-')}"
        print(f"{line}  {format_bytes(target.bytes)}", file=sys.stderr)
    for target in plan.experiments():
        print(f"  experiment {visible(target.id)} {visible(target.name or '')} ({len(target.run_ids)} run(s))  "
              f"{format_bytes(target.bytes)}", file=sys.stderr)
    for line in plan.kept_lines():
        print(f"  kept: {visible(line)}", file=sys.stderr)
    print(f"frees {format_bytes(plan.bytes)}", file=sys.stderr)


def print_result(result: PurgeResult, plan: PurgePlan) -> None:
    """Warnings of the purge that the plan did not already say."""
    said = set(plan.kept_lines())
    for warning in result.warnings:
        if warning not in said:
            print(f"warning: {visible(warning)}", file=sys.stderr)
