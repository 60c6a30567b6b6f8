"""`tuitrack ls STORE`: one row per run, or a JSON list of runs for scripts."""

from __future__ import annotations

import argparse
import shutil
import sys

from tuitrack.export import FORMATS
from tuitrack.cli.store_format import add_format_option, add_store_argument, open_from
from tuitrack.cli.table import print_table
from tuitrack.formatting import format_duration, format_timestamp
from tuitrack.model import Experiment, Run, latest_versions
from tuitrack.cli import ls_groups
from tuitrack.query.groups import GroupKeyError, group_runs, parse_group_by
from tuitrack.query.mlflow_filter import (
    FilterError,
    describe_error,
    matches,
    parse,
    parse_order_by,
    sort_runs,
    uses_datasets,
)
from tuitrack.store.forked import default_workers
from tuitrack.store.listing import ExperimentNotFound, list_runs, read_datasets, select_experiments

HELP = "list runs"


def add_parser(parser: argparse.ArgumentParser) -> None:
    add_store_argument(parser)
    add_format_option(parser, short_name=False)
    parser.add_argument("--all", "-a", action="store_true", help="include deleted runs and experiments")
    parser.add_argument("--experiment", "-e", metavar="NAME_OR_ID", help="only this experiment")
    parser.add_argument("--filter", "-f", metavar="EXPR",
                        help="MLflow's filter syntax, e.g. \"metrics.loss < 0.5 and params.opt = 'adam'\" "
                             "(OR, NOT and parentheses work too; params.lr > 1e-3 compares a param as a number)")
    parser.add_argument("--order-by", action="append", default=[], metavar="CLAUSE",
                        help="e.g. 'metrics.loss DESC' or attributes.start_time (repeat for more keys)")
    parser.add_argument("--latest", action="store_true",
                        help="only the latest run of each run name per experiment (mini-mlflow's "
                             "get_latest_version: the run that ended, or started, last)")
    parser.add_argument("--group-by", metavar="PARAMS",
                        help="one row per group of runs sharing these params (params.lr[,params.x]): "
                             "the count and each metric's mean, std, min and max of the latest values")
    parser.add_argument("--format", choices=["table", "csv", "md", "json"], default="table",
                        help="table (default), csv, md (Markdown) or json")
    parser.add_argument(
        "--json",
        action="store_true",
        help="print a JSON list of runs; non-finite metric values are the strings "
        '"NaN", "Infinity" and "-Infinity"',
    )


def families_first(rows: list[tuple[Experiment, Run]]) -> tuple[list[tuple[Experiment, Run]], dict[str, int]]:
    """The rows with each run's children right after it (in the given order, nested to any depth),
    and each run's depth. A run whose parent is not listed (or a loop of parents) starts a family."""
    listed = {r.run_id for _, r in rows}
    children: dict[str, list[tuple[Experiment, Run]]] = {}
    for row in rows:
        parent = row[1].parent_run_id
        if parent in listed and parent != row[1].run_id:
            children.setdefault(parent, []).append(row)
    out: list[tuple[Experiment, Run]] = []
    depth: dict[str, int] = {}

    def add(row: tuple[Experiment, Run], level: int) -> None:
        stack = [(row, level)]
        while stack:
            (experiment, run), at = stack.pop()
            if run.run_id in depth:
                continue
            depth[run.run_id] = at
            out.append((experiment, run))
            stack.extend((child, at + 1) for child in reversed(children.get(run.run_id, [])))

    for row in rows:
        if row[1].parent_run_id not in listed or row[1].parent_run_id == row[1].run_id:
            add(row, 0)
    for row in rows:  # runs caught in a loop of parents: none is a root
        if row[1].run_id not in depth:
            add(row, 0)
    return out, depth


def run(args: argparse.Namespace) -> int:
    store = open_from(args, workers=default_workers())
    try:
        experiments = select_experiments(store, args.experiment, include_deleted=args.all)
    except ExperimentNotFound as exc:
        print(f"tuitrack: {exc}", file=sys.stderr)
        return 1
    try:
        condition = parse(args.filter) if args.filter else None
        order = [parse_order_by(clause) for clause in args.order_by]
    except FilterError as exc:
        text = args.filter if args.filter and "ORDER" not in str(exc) else " ".join(args.order_by)
        print(f"tuitrack: bad filter: {describe_error(exc, text)}", file=sys.stderr)
        return 2
    try:
        group_keys = parse_group_by(args.group_by) if args.group_by is not None else None
    except GroupKeyError as exc:
        print(f"tuitrack: {exc}", file=sys.stderr)
        return 2
    rows = list_runs(store, experiments, include_deleted=args.all)
    if condition is not None:
        if uses_datasets(condition):
            read_datasets(store, [r for _, r in rows])
        rows = [(e, r) for e, r in rows if matches(condition, r)]
    if args.latest:
        keep = {id(r) for r in latest_versions([r for _, r in rows])}
        rows = [(e, r) for e, r in rows if id(r) in keep]
    if order:
        experiment_of = {id(r): e for e, r in rows}
        rows = [(experiment_of[id(r)], r) for r in sort_runs([r for _, r in rows], order)]
    for experiment in experiments:
        for problem in experiment.problems:
            print(f"warning: experiment {experiment.experiment_id}: {problem}", file=sys.stderr)
    fmt = "json" if args.json else args.format
    if group_keys is not None:
        return _print_groups(group_keys, rows, fmt)
    if fmt != "table":
        sys.stdout.write(FORMATS[fmt](rows))  # json.dumps (the C encoder) inside, not json.dump
        return 0
    width = shutil.get_terminal_size((120, 24)).columns
    versions = any(r.version is not None for _, r in rows)  # mini-mlflow's runs have one
    depth: dict[str, int] = {}
    if not order:  # the table nests: each parent, then its children (machines read JSON in MLflow's order)
        rows, depth = families_first(rows)
    table = [
        (
            ("!" if r.problems else "") + r.run_id[:8],
            e.name or e.experiment_id,
            "  " * depth.get(r.run_id, 1 if r.parent_run_id else 0) + r.run_name,
            *([r.version or ""] if versions else []),
            (r.status.name if r.status else "?") + (" (deleted)" if r.is_deleted else ""),
            format_timestamp(r.start_time)[:16],
            format_duration(r.duration_ms),
        )
        for e, r in rows
    ]
    header = ("RUN", "EXPERIMENT", "NAME", *(["VERSION"] if versions else []), "STATUS", "STARTED", "DURATION")
    print_table(header, table, width, flex=2)
    broken = sum(1 for _, r in rows if r.problems)
    if broken:
        print(
            f"{broken} run(s) marked ! have problems: 'tuitrack show {args.store} RUN' explains",
            file=sys.stderr,
        )
    return 0


def _print_groups(keys: list[str], rows: list[tuple[Experiment, Run]], fmt: str) -> int:
    """`--group-by`: the runs kept by the other options, grouped (in the order of their values)."""
    groups = group_runs([r for _, r in rows], keys)
    if fmt != "table":
        sys.stdout.write(ls_groups.FORMATS[fmt](groups))
        return 0
    print_table(*ls_groups.people_table(groups), shutil.get_terminal_size((120, 24)).columns)
    return 0
