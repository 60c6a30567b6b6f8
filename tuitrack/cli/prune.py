"""`tuitrack prune STORE ...`: delete the runs a retention policy selects, showing the plan first.

Note that --older-than counts from a run's start time here, while `mlflow gc --older-than`
(and `tuitrack gc`) count from when a run was deleted.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import sys
import time
from collections import Counter

from tuitrack.cli.arguments import count, positive_float
from tuitrack.cli.edit import confirm, guarded
from tuitrack.cli.gc import parse_duration, print_result
from tuitrack.cli.store_format import add_cache_option, add_format_option, add_store_argument, open_from, say_cache_note
from tuitrack.cli.table import print_table
from tuitrack.formatting import format_age, format_bytes
from tuitrack.model import RunStatus
from tuitrack.query.mlflow_filter import FilterError, describe_error, parse, uses_datasets
from tuitrack.query.prune import KEEP_TAG, STALE, KeepBest, Policy, decide
from tuitrack.query.staleness import staleness_among
from tuitrack.store.listing import ExperimentNotFound, list_runs, read_datasets, select_experiments

HELP = "delete runs by retention policy (failed, old, all but the newest or best), plan first"
STATUSES = {s.name for s in RunStatus} | {STALE}


def _statuses(text: str) -> set[str]:
    names = {s.strip().upper() for s in text.split(",") if s.strip()}
    unknown = names - STATUSES
    if unknown:
        raise argparse.ArgumentTypeError(f"unknown status {sorted(unknown)[0]}; choose from {', '.join(sorted(STATUSES))}")
    return names


def _keep_best(text: str) -> KeepBest:
    try:
        return KeepBest.parse(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def add_parser(parser: argparse.ArgumentParser) -> None:
    add_store_argument(parser)
    add_cache_option(parser)
    add_format_option(parser)
    parser.add_argument("--status", type=_statuses, default=set(), metavar="S,S",
                        help="select runs with these statuses: FAILED, KILLED, FINISHED, ..., and STALE "
                             "(RUNNING runs silent for --stale-after; never pruned unless named)")
    parser.add_argument("--older-than", type=parse_duration, metavar="DURATION",
                        help="select runs that STARTED at least this long ago (30d, 12h, 1d2h); unlike "
                             "mlflow gc, which counts from deletion")
    parser.add_argument("--beyond-newest", type=count, metavar="N",
                        help="select all but the newest N runs of each experiment (with --older-than: "
                             "fetch_ml's own policy, where either rule prunes)")
    parser.add_argument("--keep-last", type=count, metavar="N",
                        help="keep the newest N runs of each experiment, besides those always kept")
    parser.add_argument("--keep-best", type=_keep_best, action="append", default=[], metavar="METRIC:min|max:K",
                        help="keep the K best runs of each experiment by METRIC, besides those always kept "
                             "(runs without the metric are not best)")
    parser.add_argument("--group-by", metavar="params.X", help="rank --keep-best within each value of param X")
    parser.add_argument("--experiment", "-e", metavar="NAME_OR_ID", help="only this experiment")
    parser.add_argument("--filter", "-f", metavar="EXPR",
                        help="only runs matching this MLflow filter, e.g. \"params.optimizer = 'sgd'\"")
    parser.add_argument("--split-families", action="store_true",
                        help="judge parent and child runs one by one (by default a family goes together or not at all)")
    parser.add_argument("--stale-after", type=positive_float, default=10.0, metavar="MINUTES",
                        help="a RUNNING run silent this long is STALE (default: 10)")
    parser.add_argument("--dry-run", action="store_true", help="print the plan and change nothing")
    parser.add_argument("--json", action="store_true", help="print the plan as JSON (and change nothing unless --yes)")
    parser.add_argument("--yes", "-y", action="store_true", help="apply without asking")
    parser.add_argument("--purge", action="store_true", help="purge the pruned runs for good after deleting them")


@guarded
def run(args: argparse.Namespace) -> int:
    if (not args.status and args.older_than is None and args.keep_last is None and not args.keep_best
            and args.beyond_newest is None):
        print("tuitrack: give at least one rule: --status, --older-than, --beyond-newest, --keep-last or --keep-best",
              file=sys.stderr)
        return 2
    if args.group_by and not args.keep_best:
        print("tuitrack: --group-by ranks --keep-best: give --keep-best too", file=sys.stderr)
        return 2
    store = open_from(args)
    refusal = store.cannot_purge() if args.purge else None
    if refusal:
        print(f"tuitrack: {refusal}", file=sys.stderr)
        return 2
    try:
        experiments = select_experiments(store, args.experiment)
    except ExperimentNotFound as exc:
        print(f"tuitrack: {exc}", file=sys.stderr)
        return 1
    now = int(time.time() * 1000)
    stale_ms = int(args.stale_after * 60_000)
    runs = list_runs(store, experiments)
    say_cache_note(store)
    is_stale = staleness_among((r for _, r in runs), store.last_write, now, stale_ms)

    try:
        condition = parse(args.filter) if args.filter else None
    except FilterError as exc:
        print(f"tuitrack: bad filter: {describe_error(exc, args.filter)}", file=sys.stderr)
        return 2
    policy = Policy(args.status, args.older_than, args.keep_last, args.keep_best, args.group_by,
                    args.split_families, condition, args.beyond_newest)
    if condition is not None and uses_datasets(condition):
        read_datasets(store, [r for _, r in runs])
    verdicts = decide(runs, policy, now, is_stale)
    doomed = [v for v in verdicts if v.prune]
    # With --purge the sizes are the purge plan's: exactly what goes, and what is left in place.
    purge_plan = store.plan_purge([v.run for v in doomed], []) if args.purge and doomed else None
    targets = {t.id: t for t in purge_plan.runs()} if purge_plan else {}
    sizes = {v.run.run_id: targets[v.run.run_id].bytes if v.run.run_id in targets else store.disk_usage(v.run) or 0
             for v in doomed}
    total = sum(sizes.values())
    if args.json:
        plan = [{"run_id": v.run.run_id, "run_name": v.run.run_name, "experiment_id": v.experiment.experiment_id,
                 "experiment_name": v.experiment.name, "status": v.run.status.name if v.run.status else None,
                 "start_time": v.run.start_time, "metric": v.metric, "bytes": sizes[v.run.run_id],
                 "reason": v.reason} for v in doomed]
        if purge_plan:
            for row in plan:
                target = targets.get(row["run_id"])
                row["kept"] = [k.to_json() for k in target.kept] if target else []
        print(json.dumps({"runs": plan, "count": len(plan), "bytes": total}, ensure_ascii=False))
    else:
        _print_plan(doomed, sizes, now)
        freed = "freed by the purge" if purge_plan else "on disk"
        print(f"{len(doomed)} of {len(verdicts)} run(s) selected, {format_bytes(total)} {freed} "
              f"(runs tagged '{KEEP_TAG}' and running runs are always kept)", file=sys.stderr)
        for line in purge_plan.kept_lines() if purge_plan else []:
            print(f"  kept: {line}", file=sys.stderr)
        _print_kept(verdicts)
    if args.dry_run or not doomed or (args.json and not args.yes):
        return 0
    question = f"Delete these {len(doomed)} run(s)" + (" and purge them for good" if args.purge else "") + "?"
    if not confirm(question, args.yes):
        return 1
    if args.purge and not args.yes:
        try:
            if input("Purging cannot be undone. Type purge to go ahead: ").strip() != "purge":
                print("nothing changed", file=sys.stderr)
                return 1
        except EOFError:
            return 1
    for verdict in doomed:
        store.delete_run(verdict.run)
    print(f"deleted {len(doomed)} run(s) (tuitrack restore undoes it)", file=sys.stderr)
    if purge_plan:
        result = store.execute_purge(purge_plan)  # exactly the plan shown, now that the runs are deleted
        print_result(result, purge_plan)
        print(f"purged {len(result.removed)} run(s), freed {format_bytes(result.bytes_freed)}", file=sys.stderr)
    return 0


def _print_kept(verdicts) -> None:
    """Why the runs a rule selects but that stay, stay: counted by reason."""
    reasons = Counter(_short_reason(v.reason) for v in verdicts if not v.prune and v.matched)
    if reasons:
        print("kept: " + "; ".join(f"{n} {why}" for why, n in reasons.most_common()), file=sys.stderr)


def _short_reason(reason: str) -> str:
    """The reason without the run-specific rank: "newest 2 of its experiment" -> "newest N ..."."""
    return re.sub(r"\b(newest|best) \d+\b", r"\1 N", reason)


def _print_plan(doomed, sizes: dict[str, int], now: int) -> None:
    rows = [
        (v.experiment.name or v.experiment.experiment_id, v.run.run_name or v.run.run_id[:8],
         v.run.status.name if v.run.status else "?", format_age(v.run.start_time, now), v.metric,
         format_bytes(sizes[v.run.run_id]), v.reason)
        for v in doomed
    ]
    width = shutil.get_terminal_size((120, 24)).columns
    print_table(("EXPERIMENT", "RUN", "STATUS", "AGE", "METRIC", "SIZE", "WHY"), rows, width, flex=6)
