"""The `tuitrack` command: `tuitrack [STORE]` opens the app; `tuitrack ls|show ...` are its
scriptable twins. Exit codes: 0 done, 1 a run or experiment was not found, 2 bad usage or a STORE
that is not a store.
"""

from __future__ import annotations

import argparse
import sys

from tuitrack.cli import browse, demo, gc, ls, prune, show
from tuitrack.cli.edit import delete, note, rename, restore, tag
from tuitrack.cli.numbers import OneLineErrors
from tuitrack.store import StoreError

COMMANDS = {
    "ls": ls, "show": show, "tag": tag, "note": note, "rename": rename,
    "delete": delete, "restore": restore, "prune": prune, "gc": gc, "demo": demo,
}
EXIT_USAGE = 2


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineErrors(
        prog="tuitrack",
        description="Browse and tidy MLflow experiment runs in the terminal.",
        epilog="Commands: " + ", ".join(f"{name} ({m.HELP})" for name, m in COMMANDS.items())
        + ". 'tuitrack COMMAND --help' for each.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, module in COMMANDS.items():
        module.add_parser(sub.add_parser(name, help=module.HELP, description=module.HELP))
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    parser = build_parser()
    if not argv or argv[0] not in COMMANDS:
        # No command: open the app (`tuitrack`, `tuitrack STORE`, `tuitrack --help`).
        epilog = parser.epilog
        return browse.run(browse.build_parser(epilog).parse_args(argv))
    args = parser.parse_args(argv)
    try:
        return COMMANDS[args.command].run(args)
    except StoreError as exc:
        print(f"tuitrack: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except BrokenPipeError:  # `tuitrack ls ... | head`
        sys.stderr.close()
        return 0
    except KeyboardInterrupt:
        return 130
