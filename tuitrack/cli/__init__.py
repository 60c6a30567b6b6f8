"""The `tuitrack` command: `tuitrack [STORE]` opens the app; `tuitrack ls|show ...` are its
scriptable twins. Exit codes: 0 done, 1 a run or experiment was not found, 2 bad usage or a STORE
that is not a store.
"""

from __future__ import annotations

import argparse
import sys

from tuitrack import __version__
from tuitrack.cli import artifacts, browse, demo, gc, ls, prune, show
from tuitrack.cli.arguments import OneLineErrors
from tuitrack.cli.edit import delete, note, rename, restore, tag
from tuitrack.cli.terminal import visible_output
from tuitrack.safe_text import visible
from tuitrack.cli.store_format import with_default_store
from tuitrack.store import StoreError

COMMANDS = {
    "ls": ls, "show": show, "tag": tag, "note": note, "rename": rename,
    "delete": delete, "restore": restore, "prune": prune, "gc": gc, "artifacts": artifacts, "demo": demo,
}
EXIT_USAGE = 2
# Commands whose STORE may be left out for $MLFLOW_TRACKING_URI (not demo: it writes simulated
# runs, which belong in a store named on purpose).
TAKE_STORE = set(COMMANDS) - {"demo"}
SUBPARSERS: dict[str, argparse.ArgumentParser] = {}


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineErrors(
        prog="tuitrack",
        description="Browse and tidy MLflow experiment runs in the terminal.",
        epilog="Commands: " + ", ".join(f"{name} ({m.HELP})" for name, m in COMMANDS.items())
        + ". 'tuitrack COMMAND --help' for each.",
    )
    parser.add_argument("--version", action="version", version=f"tuitrack {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, module in COMMANDS.items():
        SUBPARSERS[name] = sub.add_parser(name, help=module.HELP, description=module.HELP)
        module.add_parser(SUBPARSERS[name])
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    parser = build_parser()
    if not argv or argv[0] not in COMMANDS:
        # No command: open the app (`tuitrack`, `tuitrack STORE`, `tuitrack --help`).
        epilog = parser.epilog
        return browse.run(browse.build_parser(epilog).parse_args(argv))
    command = argv[0]
    if command in TAKE_STORE:
        argv = [command, *with_default_store(argv[1:], SUBPARSERS[command])]
    args, rest = parser.parse_known_args(argv)
    if rest:  # said by the command's parser: its --help is where to look
        SUBPARSERS[command].error(f"unrecognized arguments: {' '.join(rest)}")
    try:
        with visible_output():
            return COMMANDS[args.command].run(args)
    except StoreError as exc:
        print(f"tuitrack: {visible(str(exc))}", file=sys.stderr)
        return EXIT_USAGE
    except BrokenPipeError:  # `tuitrack ls ... | head`
        sys.stderr.close()
        return 0
    except KeyboardInterrupt:
        return 130
