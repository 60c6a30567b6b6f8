"""Rewriting a file that another process rewrites in place at the same moment, losing neither write.

MLflow (and entrenar) change a run's file by opening it with truncation and writing it whole, with
no lock. tuitrack replaces the file atomically instead, which alone would lose updates both ways:

- their write into the file we are replacing lands in the old inode, which nobody reads again
  once our replace is done: their update is gone;
- they read the file before our replace and write their copy after it: our change is gone.

`rewrite` therefore reads the file (waiting while it is empty or half written), applies the change,
writes the result to a temporary file, compares the file with what it read just before replacing
it, and keeps the old inode open across the replace: whatever was written into it after our read
is read back from it and our change applied on top, and written again. A moment later it checks
that our change is still in the file, and applies it again on top of whatever is there if not.
The change is a function of (fields we first read, fields there now), so it can keep what others
changed: `merge_fields` re-applies a field only where the other writer left it as we first saw it.

What remains (README, "How tuitrack changes a store"): a writer that opened the file before our
replace and writes more than `LATE_WRITE_WAIT` later, or one that read it before our replace and
writes its stale copy more than `VERIFY_AFTER` later, is not seen; the first loses its write, the
second undoes tuitrack's change (and the tuitrack command has already said "done").
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from typing import Any

from tuitrack.store.mlflow_file.files import META_LIMIT, read_bytes
from tuitrack.store.mlflow_file.writer import discard, file_mode, write_temp
from tuitrack.store.mlflow_rules import ChangeRefused

# MLflow truncates, then writes the whole file in one system call: an empty or unparseable file
# is a write in progress. Read again after these pauses (about 0.3 s in all) before giving up.
SETTLE_DELAYS = (0.01, 0.02, 0.04, 0.08, 0.15)
# How long a truncated old inode may stay empty before we take it that its writer died.
LATE_WRITE_WAIT = 1.0
# How soon after our replace we look again for a stale copy written over it. Only for a file
# someone may be writing: one changed in the last QUIET_SECONDS, or whose `busy` says so (a
# RUNNING run): a bulk change of quiet, finished runs (prune) does not wait 20 ms a run.
VERIFY_AFTER = 0.02
QUIET_SECONDS = 10.0
ROUNDS = 12

Parse = Callable[[bytes], "dict[str, Any] | None"]  # None: empty; ValueError: unreadable
Apply = Callable[[dict[str, Any], dict[str, Any]], dict[str, Any]]
_MISSING = object()


class Unsettled(ValueError):
    """The file stayed empty or unreadable for the whole wait."""


def read_settled(path: str, parse: Parse, delays: tuple[float, ...] = SETTLE_DELAYS,
                 limit: int = META_LIMIT) -> tuple[bytes, dict[str, Any]]:
    """The file's bytes and fields, read again while it is empty or does not parse.
    Raises Unsettled with the last reason, or OSError (FileNotFoundError: it is gone; a symlink,
    a file over `limit`: never written through or in part)."""
    why = "stayed empty"
    for delay in (*delays, None):
        data = read_bytes(path, limit)
        try:
            fields = parse(data)
        except ValueError as exc:
            fields, why = None, f"is unreadable ({exc})"
        else:
            why = "stayed empty"
        if fields is not None:
            return data, fields
        if delay is not None:
            time.sleep(delay)
    raise Unsettled(why)


def merge_fields(change: dict[str, Any], remove: tuple[str, ...] = ()) -> Apply:
    """An Apply that sets `change` and drops `remove` on top of the current fields, except where
    another writer changed that field since we first read it (their later value stands)."""

    def apply(base: dict[str, Any], theirs: dict[str, Any]) -> dict[str, Any]:
        out = dict(theirs)  # their field order kept (mini-mlflow's meta.yaml is not sorted)
        for key, value in change.items():
            if theirs.get(key, _MISSING) == base.get(key, _MISSING):
                out[key] = value
        for key in remove:
            if theirs.get(key, _MISSING) == base.get(key, _MISSING):
                out.pop(key, None)
        return out

    return apply


def rewrite(path: str, parse: Parse, apply: Apply, dump: Callable[[dict[str, Any]], bytes],
            keep_mtime: bool = False, busy: Callable[[dict[str, Any]], bool] | None = None,
            limit: int = META_LIMIT) -> dict[str, Any]:
    """Apply a change to the file at `path` without losing a concurrent rewrite; the new fields.
    `busy(fields)`: whether a writer may be at work on it (verified after the replace then).

    Raises Unsettled, FileNotFoundError, ChangeRefused (it kept changing), OSError (disk full...).
    """
    def read(path: str, parse: Parse) -> tuple[bytes, dict[str, Any]]:
        return read_settled(path, parse, limit=limit)

    at_path, base = read(path, parse)
    must_verify = _changed_lately(path) or (busy is not None and busy(base))
    theirs, theirs_at_path = base, True
    verified = False
    written: dict[str, Any] | None = None  # what we wrote last: it holds our change already
    for _ in range(ROUNDS):
        fields = theirs if theirs == written else apply(base, theirs)
        if fields == theirs and theirs_at_path:  # our change is in the file
            if verified or not must_verify:
                return fields
            time.sleep(VERIFY_AFTER)  # a writer holding a stale copy writes it about now
            at_path, theirs = read(path, parse)
            verified = True
            continue
        verified = False
        data = dump(fields)
        outcome = _replace(path, data, at_path, parse, keep_mtime, limit)
        if outcome is _CHANGED:  # written since we read it: start from what is there now
            at_path, theirs = read(path, parse)
            theirs_at_path, must_verify = True, True
        elif outcome is None:
            at_path, theirs, theirs_at_path = data, fields, True
            written = fields
        else:  # written into the file we replaced: put that write back, with our change
            at_path, theirs, theirs_at_path = data, outcome, False
            written, must_verify = fields, True
    raise ChangeRefused(f"{os.path.basename(path)} in {os.path.basename(os.path.dirname(path))} "
                        "kept changing; try again")


_CHANGED = object()


def _changed_lately(path: str) -> bool:
    try:
        return os.stat(path).st_mtime > time.time() - QUIET_SECONDS
    except OSError:
        return True


def _replace(path: str, data: bytes, expected: bytes, parse: Parse, keep_mtime: bool, limit: int) -> Any:
    """Replace the file with `data` if it still holds `expected`. _CHANGED if it did not (nothing
    written); else the fields written into the old file after our read (lost unless re-applied),
    or None."""
    # Not synced yet: the time between our read and our replace is a window for lost writes,
    # and fsync can take tens of milliseconds. The file is synced once it is in place.
    temp = write_temp(os.path.dirname(path), data, file_mode(path), durable=False)
    try:
        old = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_NOFOLLOW)
    except BaseException:
        discard(temp)
        raise
    try:
        if _read_fd(old, limit) != expected:
            discard(temp)
            return _CHANGED
        stamp = os.fstat(old)
        try:
            os.replace(temp, path)
        except BaseException:
            discard(temp)
            raise
        late = _late_write(old, expected, parse, limit)
    finally:
        os.close(old)
    if keep_mtime:
        os.utime(path, ns=(stamp.st_atime_ns, stamp.st_mtime_ns))
    _sync(path)
    return late


def _sync(path: str) -> None:
    """Put the file now at `path` on disk (ours, or a newer one: syncing that does no harm)."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _late_write(fd: int, expected: bytes, parse: Parse, limit: int) -> dict[str, Any] | None:
    """What a writer put into the replaced file after we read it, or None if nothing.
    A truncated (empty) file means a write is coming: wait for it a little."""
    deadline = time.monotonic() + LATE_WRITE_WAIT
    pause = 0.001
    while True:
        data = _read_fd(fd, limit)
        if data == expected:
            return None
        try:
            fields = parse(data)
        except ValueError:
            fields = None
        if fields is not None:
            return fields
        if time.monotonic() > deadline:
            return None  # it stayed empty: its writer died after truncating, nothing to keep
        time.sleep(pause)
        pause = min(pause * 2, 0.05)


def _read_fd(fd: int, limit: int) -> bytes:
    """The file's bytes, at most `limit` + 1 of them (more than that is never what was read)."""
    chunks, offset = [], 0
    while offset <= limit and (chunk := os.pread(fd, min(1 << 16, limit + 1 - offset), offset)):
        chunks.append(chunk)
        offset += len(chunk)
    return b"".join(chunks)
