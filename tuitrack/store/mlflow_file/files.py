"""Small, fast, never-blocking file reads and key-folder walks for the file store.

`open()` builds buffered text objects we do not need; a listing opens tens of thousands of small
files, so this uses `os.open`/`os.read` directly. `O_NONBLOCK` makes a stray FIFO in the store read
as empty instead of hanging the listing.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

_CHUNK = 1 << 16


def read_bytes(path: str) -> bytes:
    """The whole file. Raises OSError."""
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    try:
        chunks = []
        while True:
            chunk = os.read(fd, _CHUNK)
            if not chunk:
                break
            chunks.append(chunk)
            if len(chunk) < _CHUNK:
                break
        return b"".join(chunks)
    finally:
        os.close(fd)


def walk_keys(folder: str, problems: list[tuple[str, str]]) -> Iterator[tuple[str, str]]:
    """(key, path) for every file under a `params/`, `tags/` or `metrics/` folder.

    Keys with `/` are nested folders, as MLflow stores them. Symlinked folders are not followed
    (MLflow's `os.walk` does not follow them either), so a symlink loop cannot trap the walk.
    A missing folder yields nothing; an unreadable entry adds a (key, message) problem.
    """
    stack = [("", folder)]
    while stack:
        prefix, path = stack.pop()
        try:
            entries = list(os.scandir(path))
        except FileNotFoundError:
            continue
        except OSError as exc:
            problems.append((prefix.rstrip("/"), f"cannot list folder ({reason(exc)})"))
            continue
        for entry in entries:
            key = prefix + entry.name
            try:
                if entry.is_file():  # checked first: no system call for a regular file
                    yield key, entry.path
                elif entry.is_dir(follow_symlinks=False):
                    stack.append((key + "/", entry.path))
                elif entry.is_dir():
                    problems.append((key, "a symlinked folder; not followed (MLflow ignores it too)"))
                else:
                    problems.append((key, "not a regular file; ignored"))
            except OSError as exc:
                problems.append((key, f"{reason(exc)}; ignored"))


def reason(exc: OSError) -> str:
    """An OSError as a short lower-case phrase: 'permission denied', 'too many levels of symbolic links'."""
    return exc.strerror.lower() if exc.strerror else str(exc)

