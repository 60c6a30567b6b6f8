"""`tuitrack tag|note|rename|delete|restore`: change runs from scripts, as MLflow would.

tag, note, rename and restore never ask. delete asks once on a terminal, listing what will
change; with no terminal it refuses unless given --yes, and changes nothing.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable

from tuitrack.cli.arguments import positive_float
from tuitrack.cli.command import Command
from tuitrack.cli.store_format import add_format_option, add_store_argument, find_run, open_from
from tuitrack.formatting import format_timestamp
from tuitrack.model import NOTE_TAG, Run, RunStatus
from tuitrack.query.staleness import staleness_among
from tuitrack.safe_text import visible
from tuitrack.store import RunNotFound, Store, StoreError
from tuitrack.store.mlflow_file.experiment_delete import cut_short
from tuitrack.store.mlflow_rules import SystemTagRefused, no_such_tag
from tuitrack.store.tag_edits import describe as describe_tag_edits


def store_and_runs(args: argparse.Namespace, ids: list[str]) -> tuple[Store, list[Run]]:
    store = open_from(args)
    runs = []
    for run_id in ids:
        runs.append(find_run(store, run_id))
    return store, runs


def _still_writing(store: Store, running: list[Run], stale_after_min: float) -> list[Run]:
    """The RUNNING runs whose family (the run and its child runs) wrote within `stale_after_min`
    minutes, or whose last write is unknown: the ones the app's d leaves alone too."""
    if not running:
        return []
    now, after = int(time.time() * 1000), int(stale_after_min * 60_000)
    experiments = {e.experiment_id: e for e in store.experiments(include_deleted=True)}
    judges: dict[str, Callable[[Run], bool]] = {}  # experiment id -> is_stale, its runs read once
    writing = []
    for run in running:
        if run.experiment_id not in judges:
            experiment = experiments.get(run.experiment_id)
            listed = store.runs(experiment) if experiment else []
            judges[run.experiment_id] = staleness_among(
                [*listed, *(r for r in running if r.experiment_id == run.experiment_id)],
                store.last_write, now, after)
        if not judges[run.experiment_id](run):
            writing.append(run)
    return writing


def confirm(question: str, yes: bool) -> bool:
    """True when the user agreed (or passed --yes). Without a terminal, only --yes agrees."""
    if yes:
        return True
    if not sys.stdin.isatty():
        print("tuitrack: not a terminal, so not asking: add --yes to go ahead", file=sys.stderr)
        return False
    try:
        answer = input(f"{question} [y/N] ")
    except EOFError:
        return False
    return answer.strip().lower() in ("y", "yes")


def _experiment_instead(args: argparse.Namespace, delete: bool) -> int:
    """delete/restore were given --experiment, or nothing at all."""
    if not args.experiment:
        print("tuitrack: give RUN_IDs or --experiment", file=sys.stderr)
        return 2
    return _experiment(args, delete)


def _experiment(args: argparse.Namespace, delete: bool) -> int:
    """Delete (asking first) or restore one experiment with its runs, as MLflow does."""
    from tuitrack.store.listing import select_experiments

    store = open_from(args)
    experiment = select_experiments(store, args.experiment, include_deleted=True)[0]  # raises if none
    half_done = cut_short(experiment)  # a delete or restore killed half way
    if delete:
        if experiment.is_deleted and not half_done:
            print(f"experiment {experiment.experiment_id} is already deleted", file=sys.stderr)
            return 0
        refusal = store.experiment_refusal(experiment)
        if refusal:  # said before anything is asked
            print(f"tuitrack: {refusal}", file=sys.stderr)
            return 1
        runs = store.runs(experiment)
        running = [r for r in runs if r.status is RunStatus.RUNNING]
        if running and not args.force:
            print(f"tuitrack: {experiment.name} has {len(running)} RUNNING run(s); add --force to delete it anyway",
                  file=sys.stderr)
            return 1
        print(f"Delete experiment {experiment.name} ({experiment.experiment_id}) and its {len(runs)} run(s) "
              "(tuitrack restore --experiment undoes it)", file=sys.stderr)
        if not confirm("Delete?", args.yes):
            return 1
        store.delete_experiment(experiment)
    elif experiment.is_deleted or half_done:
        store.restore_experiment(experiment)  # restores it, or undoes a delete that was cut short
    return 0


def describe(run: Run) -> str:
    status = run.status.name if run.status else "?"
    return f"  {run.run_id[:8]}  {visible(run.run_name or '-'):<24} {status:<9} started {format_timestamp(run.start_time)}"


def guarded(action):
    """Run a change; a refused change or a vanished run is a one-line error with exit code 1."""
    def run(args: argparse.Namespace) -> int:
        try:
            return action(args)
        except RunNotFound as exc:
            print(f"tuitrack: {exc}", file=sys.stderr)
            return 1
        except StoreError as exc:
            if "expected" in str(exc):  # the STORE itself is wrong: let main say it (exit 2)
                raise
            print(f"tuitrack: {exc}", file=sys.stderr)
            return 1
        except OSError as exc:
            print(f"tuitrack: {exc.strerror or exc}: {exc.filename or ''}".rstrip(": "), file=sys.stderr)
            return 1
    return run


def _tag_arguments(parser: argparse.ArgumentParser) -> None:
    add_store_argument(parser)
    add_format_option(parser)
    parser.add_argument("run_id", metavar="RUN_ID")
    parser.add_argument("pairs", metavar="KEY=VALUE", nargs="*", help="tags to set")
    parser.add_argument("--remove", metavar="KEY", nargs="+", default=[], help="tags to remove")
    parser.add_argument("--force", action="store_true", help="allow changing mlflow.* system tags")


@guarded
def _tag(args: argparse.Namespace) -> int:
    tags = {}
    for pair in args.pairs:
        key, sep, value = pair.partition("=")
        if not sep:
            print(f"tuitrack: {pair!r} is not KEY=VALUE", file=sys.stderr)
            return 2
        tags[key] = value
    if not tags and not args.remove:
        print("tuitrack: nothing to do: give KEY=VALUE pairs or --remove KEY", file=sys.stderr)
        return 2
    store, (found,) = store_and_runs(args, [args.run_id])
    refusal = store.refusal("tag", found)
    if refusal:  # what cannot be changed at all (a symlinked tags/ folder) is said first
        print(f"tuitrack: {refusal}", file=sys.stderr)
        return 1
    lacking = [k for k in args.remove if k not in found.tags]
    if lacking:  # refused before anything is written (the app says the same)
        print(f"tuitrack: {no_such_tag(found.run_id, lacking[0])}", file=sys.stderr)
        return 1
    try:
        if tags:
            store.set_tags(found, tags, force=args.force)
        if args.remove:
            store.delete_tags(found, args.remove, force=args.force)
    except SystemTagRefused as exc:
        print(f"tuitrack: {exc}; add --force to change it anyway", file=sys.stderr)
        return 1
    print(f"{found.run_id[:8]}: {describe_tag_edits(tags, args.remove)}", file=sys.stderr)
    return 0


tag = Command("set or remove run tags", _tag_arguments, _tag)

def _note_arguments(parser: argparse.ArgumentParser) -> None:
    add_store_argument(parser)
    add_format_option(parser)
    parser.add_argument("run_id", metavar="RUN_ID")
    parser.add_argument("text", metavar="TEXT", help="the note; '-' reads it from standard input; "
                                                     "an empty TEXT (\"\") removes the note")


@guarded
def _note(args: argparse.Namespace) -> int:
    text = sys.stdin.read() if args.text == "-" else args.text
    store, (found,) = store_and_runs(args, [args.run_id])
    if not text.strip():  # an empty note is no note: removed, as MLflow's UI does
        if NOTE_TAG not in found.tags:
            print(f"{found.run_id[:8]}: has no note; nothing to remove", file=sys.stderr)
            return 0
        store.delete_tags(found, [NOTE_TAG], force=True)
        print(f"{found.run_id[:8]}: note removed", file=sys.stderr)
        return 0
    store.set_note(found, text)
    print(f"{found.run_id[:8]}: note set ({len(text)} characters)", file=sys.stderr)
    return 0


note = Command("set or remove a run's note (mlflow.note.content)", _note_arguments, _note)

def _rename_arguments(parser: argparse.ArgumentParser) -> None:
    add_store_argument(parser)
    add_format_option(parser)
    parser.add_argument("run_id", metavar="RUN_ID")
    parser.add_argument("name", metavar="NAME")


@guarded
def _rename(args: argparse.Namespace) -> int:
    store, (found,) = store_and_runs(args, [args.run_id])
    store.rename_run(found, args.name)
    print(f"{found.run_id[:8]}: renamed {found.run_name or '-'} -> {args.name}", file=sys.stderr)
    return 0


rename = Command("rename a run (meta.yaml and the mlflow.runName tag)", _rename_arguments, _rename)

def _delete_arguments(parser: argparse.ArgumentParser) -> None:
    add_store_argument(parser)
    add_format_option(parser)
    parser.add_argument("run_ids", metavar="RUN_ID", nargs="*")
    parser.add_argument("--experiment", metavar="NAME_OR_ID",
                        help="delete this experiment: its runs are deleted and it moves to .trash")
    parser.add_argument("--yes", "-y", action="store_true", help="do not ask (for scripts)")
    parser.add_argument("--force", action="store_true", help="delete RUNNING runs that still write too")
    parser.add_argument("--stale-after", type=positive_float, default=10.0, metavar="MINUTES",
                        help="a RUNNING run silent this long (its child runs too) is stale, and deleted "
                             "like any other, as the app's d does (default: 10)")


@guarded
def _delete(args: argparse.Namespace) -> int:
    if args.experiment or not args.run_ids:
        return _experiment_instead(args, delete=True)
    store, runs = store_and_runs(args, args.run_ids)
    running = [r for r in runs if r.status is RunStatus.RUNNING and not r.is_deleted]
    writing = [] if args.force else _still_writing(store, running, args.stale_after)
    if writing:
        print(f"tuitrack: {writing[0].run_id[:8]} ({visible(writing[0].run_name)}) is RUNNING and wrote "
              f"within {args.stale_after:g} minutes: a script may still be writing it; add --force to "
              "delete it anyway", file=sys.stderr)
        return 1
    todo = [r for r in runs if not r.is_deleted]
    for run in runs:
        if run.is_deleted:
            print(f"{run.run_id[:8]} is already deleted", file=sys.stderr)
    if not todo:
        return 0
    print(f"Soft-delete {len(todo)} run(s) (tuitrack restore undoes it):", file=sys.stderr)
    for run in todo:
        print(describe(run), file=sys.stderr)
    if not confirm("Delete?", args.yes):
        return 1
    for run in todo:
        store.delete_run(run)
    print(f"deleted {len(todo)} run(s)", file=sys.stderr)
    return 0


delete = Command("soft-delete runs (tuitrack restore undoes it)", _delete_arguments, _delete)

def _restore_arguments(parser: argparse.ArgumentParser) -> None:
    add_store_argument(parser)
    add_format_option(parser)
    parser.add_argument("run_ids", metavar="RUN_ID", nargs="*")
    parser.add_argument("--experiment", metavar="NAME_OR_ID", help="restore this deleted experiment and its runs")
    parser.add_argument("--yes", "-y", action="store_true",
                        help="taken, so that a script may pass what it passes to delete (restore never asks)")


@guarded
def _restore(args: argparse.Namespace) -> int:
    if args.experiment or not args.run_ids:
        return _experiment_instead(args, delete=False)
    store, runs = store_and_runs(args, args.run_ids)
    restored = 0
    for run in runs:
        if run.is_deleted:
            store.restore_run(run)
            restored += 1
        else:
            print(f"{run.run_id[:8]} is not deleted: nothing to restore", file=sys.stderr)
    print(f"restored {restored} run(s)", file=sys.stderr)
    return 0


restore = Command("restore soft-deleted runs", _restore_arguments, _restore)
