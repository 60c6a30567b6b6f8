"""`tuitrack artifacts STORE RUN [PATH]`: a run's artifacts, listed with sizes, or one printed.

The app's `4` view as a command. Listings are bounded (entries per folder, depth) and say where
they were cut; `--cat` prints at most `--bytes` of a file (its start, or with `--tail N` its last
N lines), escapes made visible; a binary file is described, not printed.
"""

from __future__ import annotations

import argparse
import json
import sys

from tuitrack.cli.arguments import positive_int
from tuitrack.cli.store_format import add_format_option, add_store_argument, find_run, open_from
from tuitrack.formatting import format_bytes
from tuitrack.safe_text import visible
from tuitrack.store import RunNotFound
from tuitrack.store.artifacts import READ_BOUND, ArtifactEntry, ArtifactError
from tuitrack.store.artifacts.kinds import HEAD_BYTES, guess
from tuitrack.store.artifacts.text import chunk_text, last_lines

HELP = "list a run's artifacts with their sizes, or print part of one (--cat)"
MAX_BYTES = 64 * 1024 * 1024


def add_parser(parser: argparse.ArgumentParser) -> None:
    add_store_argument(parser)
    add_format_option(parser)
    parser.add_argument("run_id", metavar="RUN", help="a run id, an unambiguous prefix of one, or a run's name")
    parser.add_argument("path", metavar="PATH", nargs="?", default="",
                        help="a folder to list or (with --cat) a file, relative to the run's artifacts")
    parser.add_argument("--json", action="store_true", help="list as JSON: root, entries {path, kind, size}, cut")
    parser.add_argument("--cat", action="store_true", help="print the file PATH (at most --bytes of it)")
    parser.add_argument("--tail", type=positive_int, metavar="N", help="with --cat: its last N lines")
    parser.add_argument("--bytes", type=positive_int, default=READ_BOUND, metavar="N",
                        help=f"with --cat: read at most N bytes (default {READ_BOUND // 1024} KiB, "
                             f"at most {MAX_BYTES // 2**20} MiB)")


def run(args: argparse.Namespace) -> int:
    store = open_from(args)
    try:
        found = find_run(store, args.run_id)
    except RunNotFound as exc:
        print(f"tuitrack: {exc}", file=sys.stderr)
        return 1
    source = store.artifacts(found)
    try:
        if args.cat or args.tail:
            return _cat(source, args.path, min(args.bytes, MAX_BYTES), args.tail)
        tree = source.walk(args.path)
    except ArtifactError as exc:
        hint = " (--cat prints a file)" if "not a directory" in str(exc) else ""
        print(f"tuitrack: {visible(str(exc))}{hint}", file=sys.stderr)
        return 1
    entries = list(_flat(tree.root))
    if args.json:
        json.dump({"run_id": found.run_id, "root": tree.where,
                   "entries": [{"path": e.path, "kind": e.kind, "size": e.size} for e in entries],
                   "cut": tree.cut}, sys.stdout, ensure_ascii=False)
        sys.stdout.write("\n")
        return 0
    print(f"artifacts of run {found.run_id} at {visible(tree.where)}")
    for entry in entries:
        size = "" if entry.size is None else format_bytes(entry.size)
        note = {"symlink": "  (a symlink; not followed)", "other": "  (not a regular file)"}.get(entry.kind, "")
        shown = visible(entry.path) + ("/" if entry.kind == "folder" else "")
        print(f"{size:>10}  {shown}{note}")
    if not entries:
        print("  (no artifacts)")
    for cut in tree.cut:
        print(f"listing cut: {visible(cut)}")
    return 0


def _flat(root: ArtifactEntry):
    """Every entry below `root`, each folder followed by what it holds (no recursion)."""
    stack = list(reversed(root.children or []))
    while stack:
        entry = stack.pop()
        yield entry
        stack.extend(reversed(entry.children or []))


def _cat(source, path: str, max_bytes: int, tail: int | None) -> int:
    if not path:
        print("tuitrack: --cat needs the PATH of a file", file=sys.stderr)
        return 2
    head = source.read(path, 0, min(HEAD_BYTES, max_bytes))
    chunk = source.read(path, -max_bytes if tail else 0, max_bytes) if not head.whole else head
    kind = guess(path, head.data)
    if tail and kind.kind == "binary":  # a log whose start is garbage (or a hole) may end in text
        kind = guess(path, chunk.data[-HEAD_BYTES:])
    size = "" if head.size is None else f", {format_bytes(head.size)}"
    if kind.kind in ("image", "binary"):
        pixels = f", {kind.dimensions[0]}x{kind.dimensions[1]} pixels" if kind.dimensions else ""
        print(f"{visible(path)}: {kind.what}{size}{pixels}; not printed (binary)")
        return 0
    text = chunk_text(chunk)
    if tail:
        text = last_lines(text, tail)
    sys.stdout.write(visible(text, newlines=True))
    if text and not text.endswith("\n"):
        sys.stdout.write("\n")
    if not chunk.whole:
        part = "last" if tail else "first"
        print(f"tuitrack: {part} {format_bytes(len(chunk.data))} of {visible(path)}{size} "
              f"(--bytes N reads more, --tail N the end)", file=sys.stderr)
    return 0
