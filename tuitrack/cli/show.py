"""`tuitrack show STORE RUN_ID`: one run in full, with every metric's history."""

from __future__ import annotations

import argparse
import shutil
import sys

from tuitrack.export import json_number, write_run_with_histories
from tuitrack.cli.store_format import add_format_option, add_store_argument, find_run, open_from
from tuitrack.cli.table import print_table
from tuitrack.formatting import format_value, run_overview
from tuitrack.model import merge_summaries, summarize
from tuitrack.safe_text import visible
from tuitrack.store import RunNotFound
from tuitrack.store.base import problems_after_full_read
from tuitrack.system_metrics import SystemQuantity, SystemSummary, is_system, system_quantities

HELP = "show one run with its params, tags and metric histories"


def add_parser(parser: argparse.ArgumentParser) -> None:
    add_store_argument(parser)
    add_format_option(parser)
    parser.add_argument("run_id", metavar="RUN_ID", help="a run id, or an unambiguous prefix of one")
    parser.add_argument(
        "--json",
        action="store_true",
        help="print the run as JSON, each metric as a list of {step, timestamp, value}",
    )


def run(args: argparse.Namespace) -> int:
    store = open_from(args)
    try:
        found = find_run(store, args.run_id)
    except RunNotFound as exc:
        print(f"tuitrack: {exc}", file=sys.stderr)
        return 1
    experiment = next(
        (e for e in store.experiments(include_deleted=True) if e.experiment_id == found.experiment_id),
        None,
    )
    system = system_quantities(found.metrics)
    tallies = {q.key: SystemSummary() for q in system}
    if args.json:  # streamed: memory does not grow with the number of points
        streams = (_tallied(store.stream_history(found, key), tallies.get(key)) for key in sorted(found.metrics))
        write_run_with_histories(sys.stdout, found, experiment, streams,
                                 after_metrics=lambda: {"system": _system_object(system, tallies)})
        sys.stdout.write("\n")
        return 0
    width = shutil.get_terminal_size((120, 24)).columns
    for label, value in run_overview(found, experiment):
        print(f"{label:<11}{visible(value)}")
    if found.note:
        print("Note")
        for line in visible(found.note, newlines=True).split("\n"):
            print(f"  {line}")
    for title, values in (("Params", found.params), ("Tags", found.tags)):
        print(f"\n{title}")
        print_table(("  KEY", "VALUE"), [("  " + k, v) for k, v in sorted(values.items())], width, 1)
    print("\nMetrics")
    rows = []
    histories = []
    for key in sorted(found.metrics):  # summarized a batch at a time: memory stays that of a batch
        history, batches = _tallied(store.stream_history(found, key), tallies.get(key))
        summary = None
        for batch in batches:
            summary = merge_summaries(summary, summarize(batch))
        histories.append(history)
        if summary is None or is_system(key):  # system metrics have their own section
            continue
        rows.append(
            (
                "  " + history.key,
                format_value(summary.latest.value),
                str(summary.latest.step),
                f"{format_value(summary.min_value)} @{summary.min_step}",
                f"{format_value(summary.max_value)} @{summary.max_step}",
                str(summary.count),
            )
        )
    print_table(("  KEY", "LAST", "STEP", "MIN", "MAX", "POINTS"), rows, width, 0)
    if system:
        print("\nSystem")
        print_table(("  QUANTITY", "UNIT", "LAST", "MEAN", "MAX", "POINTS"),
                    [("  " + q.label, q.unit, *_system_cells(tallies[q.key])) for q in system], width, 0)
    problems = problems_after_full_read(found, histories)
    if problems:
        print("\nProblems")
        for problem in problems:
            print(f"  {visible(str(problem))}")
    return 0


def _tallied(stream, tally: SystemSummary | None):
    """A metric's (history, batches) stream that also adds each batch to `tally` (a system
    metric's last, mean and max) as it goes past: one read of the history serves both."""
    history, batches = stream
    if tally is None:
        return history, batches

    def counted():
        for batch in batches:
            tally.add(batch)
            yield batch

    return history, counted()


def _system_cells(tally: SystemSummary) -> tuple[str, str, str, str]:
    last = "" if tally.last is None else format_value(tally.last.value)
    return last, format_value(tally.mean), format_value(tally.peak), str(tally.points)


def _system_object(system: list[SystemQuantity], tallies: dict[str, SystemSummary]) -> dict:
    """`show --json`'s "system": per system metric key, what it measures and its last, mean and
    max (NaN and infinities as MLflow's JSON spells them)."""
    out = {}
    for quantity in system:
        tally = tallies[quantity.key]
        out[quantity.key] = {
            "group": quantity.group, "quantity": quantity.quantity, "unit": quantity.unit,
            "gpu": quantity.gpu, "node": quantity.node,
            "last": None if tally.last is None else json_number(tally.last.value),
            "mean": json_number(tally.mean), "max": json_number(tally.peak), "points": tally.points,
        }
    return out
