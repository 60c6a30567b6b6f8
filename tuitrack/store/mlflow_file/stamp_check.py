"""Whether a read-cache entry's stamps are those of the files now: one `lstat` per file and folder
the run's read took, in C-level loops (at 50,000 runs this is 900,000 calls, 1.6 s of a core: the
listing and its helper process, read_helper.py, share them)."""

from __future__ import annotations

import os
from array import array
from functools import partial
from itertools import chain
from operator import attrgetter

_MISSING = (1 << 64) - 1  # a stamp's size for "not there" (read_cache.py)
_NONE = (_MISSING, 0, 0, 0)
_FIELDS = attrgetter("st_size", "st_mtime_ns", "st_ctime_ns", "st_ino")


def still_the_same(run_path: str, names: str, blob: bytes) -> bool:
    """Every stamped file and folder of the run has the same stamp again (or is still missing)."""
    try:
        fd = os.open(run_path, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    except OSError:
        return False
    try:
        try:  # the common case, every file there
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
