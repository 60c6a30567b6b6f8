"""Checking a read-cache entry's stamps against the files now; and a helper process that checks
them from the other end of the cache while the listing checks from its end.

Opening a 50,000-run store again is 900,000 `lstat` calls (one per file and folder read): 1.6 s
of one core, the floor of a single process (threads do not help: each call takes and gives back
the GIL, and two threads took longer than one). A second process does: the read cache starts
this file as a script (`python -I -S stamp_check.py ...`: the standard library only, no
tuitrack import, 20 ms to start) when it loads more than HELP_FROM entries. The helper reads the
same cache file (it checks the digest the cache read is the one it reads), checks the entries in
reverse key order, and writes one byte per entry to its stdout: UNCHANGED, CHANGED, or UNCHECKED
for a RUNNING run, which the listing checks itself just before it watches the run's files (a
point appended between a check long before and the watch would go unseen). The listing takes a
verdict that has arrived and checks the others itself, so it never waits for the helper; a
helper that is slow, fails or is killed costs nothing but its CPU.
"""

from __future__ import annotations

import hashlib
import marshal
import os
import sys
from array import array
from functools import partial
from itertools import chain
from operator import attrgetter

_MISSING = (1 << 64) - 1  # a stamp's size for "not there" (read_cache.py)
_NONE = (_MISSING, 0, 0, 0)
_FIELDS = attrgetter("st_size", "st_mtime_ns", "st_ctime_ns", "st_ino")
BATCH = 256  # verdicts written at once
CHANGED, UNCHANGED, UNCHECKED = 0, 1, 2
RUNNING = 1  # model.RunStatus.RUNNING.value, as an entry holds it (no tuitrack import here)


def still_the_same(run_path: str, names: str, blob: bytes) -> bool:
    """Every stamped file and folder of the run has the same stamp again (or is still missing)."""
    try:
        fd = os.open(run_path, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    except OSError:
        return False
    try:
        try:  # the common case, every file there: C-level loops of lstat calls and fields
            found = list(map(_FIELDS, map(partial(os.lstat, dir_fd=fd), names.split("\0"))))
        except FileNotFoundError:
            try:
                found = [_fields_or_none(name, fd) for name in names.split("\0")]
            except OSError:
                return False
        except OSError:
            return False
    finally:
        os.close(fd)
    try:
        return array("Q", chain.from_iterable(found)).tobytes() == blob
    except OverflowError:  # a time before 1970
        return False


def _fields_or_none(name: str, fd: int) -> tuple[int, int, int, int]:
    try:
        return _FIELDS(os.lstat(name, dir_fd=fd))
    except FileNotFoundError:
        return _NONE


def helper_command(cache_path: str, header_bytes: int, digest: bytes, root: str) -> list[str]:
    """The command that starts a helper for the cache file at `cache_path`."""
    return [sys.executable, "-I", "-S", os.path.abspath(__file__), cache_path, str(header_bytes), digest.hex(), root]


def helper_order(keys) -> list[str]:
    """The order the helper checks entries in (its verdicts come in this order)."""
    return sorted(keys, reverse=True)


def _serve(cache_path: str, header_bytes: int, digest_hex: str, root: str, limit: int = 256 << 20) -> None:
    with open(os.open(cache_path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC), "rb") as file:
        data = file.read(limit + 1)
    digest = bytes.fromhex(digest_hex)
    payload = memoryview(data)[header_bytes + len(digest):]
    if data[header_bytes:header_bytes + len(digest)] != digest or \
            hashlib.blake2b(payload, digest_size=len(digest)).digest() != digest:
        return  # not the file the cache read (replaced meanwhile): no verdicts
    entries = marshal.loads(payload)
    keys = helper_order(entries)
    for start in range(0, len(keys), BATCH):
        verdicts = bytearray()
        for key in keys[start:start + BATCH]:
            try:
                names, blob, fields = marshal.loads(entries[key])[:3]
                if fields[1] == RUNNING:
                    verdicts.append(UNCHECKED)
                else:
                    verdicts.append(UNCHANGED if still_the_same(os.path.join(root, key), names, blob) else CHANGED)
            except (TypeError, ValueError, IndexError, EOFError):
                verdicts.append(CHANGED)
        os.write(1, verdicts)  # a closed pipe (the listing is done) ends the helper here


if __name__ == "__main__":
    try:
        _serve(sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4])
    except (OSError, ValueError, EOFError, TypeError, IndexError):
        pass  # the listing checks what it did not hear about itself
