"""Small, fast, bounded, never-blocking file reads and key-folder walks for the file store.

`open()` builds buffered text objects we do not need; a listing opens tens of thousands of small
files, so this uses `os.open`/`os.read` directly. Every read has a bound and stops one byte past
it, whatever the file claims to hold (a sparse 3 GiB file costs nothing to make): a bigger file is
a `FileTooLarge` error, which callers turn into a problem naming the file. Only regular files are
read (a FIFO or a device would block or never end), and never through a symlink: the last path
component is opened with `O_NOFOLLOW`, and the files of a `params/`, `tags/` or `metrics/` folder
are opened relative to that folder's own descriptor, so a folder swapped for a symlink between the
listing and the read is refused too.
"""

from __future__ import annotations

import errno
import os
import stat
from collections.abc import Callable, Iterator

from tuitrack.store.mlflow_rules import ChangeRefused

_CHUNK = 1 << 16
KiB = 1 << 10
MiB = 1 << 20
# The most tuitrack reads of each kind of file (README, "How tuitrack reads a store"). MLflow's own
# limits give the scale: param values up to 6,000 characters, tag values up to 8,000 (so at most
# 24 and 32 KB of UTF-8); a hand-written note may be longer, hence the roomier tag bound.
META_LIMIT = 64 * KiB
PARAM_LIMIT = 64 * KiB
TAG_LIMIT = 1 * MiB
READ_FLAGS = os.O_RDONLY | os.O_NONBLOCK | os.O_NOFOLLOW | os.O_CLOEXEC
DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
SYMLINK_NOT_READ = "a symlink; not read (tuitrack never reads or writes through a symlink)"


class FileTooLarge(OSError):
    """A file over the bound tuitrack reads of it."""

    def __init__(self, limit: int):
        super().__init__(errno.EFBIG, f"larger than {format_size(limit)}, the most tuitrack reads of such a file")


class NotRegularFile(OSError):
    def __init__(self) -> None:
        super().__init__(errno.EINVAL, "not a regular file")


def format_size(size: int) -> str:
    """1536 -> '1.5 KiB'; 1 << 30 -> '1 GiB'."""
    for unit, scale in (("GiB", 1 << 30), ("MiB", MiB), ("KiB", KiB)):
        if round(size / scale, 1) >= 1:
            text = f"{size / scale:.1f}".removesuffix(".0")
            return f"{text} {unit}"
    return f"{size} bytes"


def open_regular(path: str, dir_fd: int | None = None, check_kind: bool = True) -> int:
    """A descriptor on a regular file, not through a symlink (ELOOP) and never blocking.
    `check_kind` False: the caller asks what the file is only if its read looks odd (a FIFO opened
    with O_NONBLOCK reads as empty; a device never ends, and the read's bound stops it)."""
    try:
        fd = os.open(path, READ_FLAGS, dir_fd=dir_fd)
    except OSError as exc:
        raise said_plainly(exc, path, dir_fd) from None
    if not check_kind:
        return fd
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            if stat.S_ISDIR(os.fstat(fd).st_mode):
                raise IsADirectoryError(errno.EISDIR, "is a folder")
            raise NotRegularFile()
    except BaseException:
        os.close(fd)
        raise
    return fd


def said_plainly(exc: OSError, path: str, dir_fd: int | None = None) -> OSError:
    """The error of opening `path` with READ_FLAGS, a symlink's ELOOP said as what it is."""
    if exc.errno == errno.ELOOP and _is_symlink(path, dir_fd):
        return OSError(errno.ELOOP, SYMLINK_NOT_READ)
    return exc


def read_fd(fd: int, limit: int) -> bytes:
    """At most `limit` bytes from `fd`'s position; FileTooLarge if there are more."""
    chunks = []
    left = limit + 1
    while left > 0:
        wanted = min(_CHUNK, left)
        chunk = os.read(fd, wanted)
        chunks.append(chunk)
        left -= len(chunk)
        if len(chunk) < wanted:  # the end of the file (a regular file's reads are never short before it)
            break
    if left <= 0:
        raise FileTooLarge(limit)
    return b"".join(chunks)


def read_bytes(path: str, limit: int = META_LIMIT, dir_fd: int | None = None) -> bytes:
    """The whole file, if it is a regular file (not a symlink) of at most `limit` bytes.
    Raises OSError: FileTooLarge, NotRegularFile, or ELOOP for a symlink.

    What the file is, is asked (fstat) only when the read looks odd, empty or too long: a FIFO
    opened with O_NONBLOCK reads as empty, a device as too long, a folder fails to read. A listing
    opens tens of thousands of files; most need no more than open, read, close."""
    fd = open_regular(path, dir_fd, check_kind=False)
    try:
        try:
            data = read_fd(fd, limit)
        except FileTooLarge:
            _refuse_irregular(fd)
            raise
        if not data:
            _refuse_irregular(fd)
        return data
    finally:
        os.close(fd)


def stat_and_read(path: str, limit: int, dir_fd: int | None = None) -> tuple[os.stat_result, bytes]:
    """`read_bytes`, and the file's stat from before the read (what the read cache stamps it by:
    a change after the stat changes the stamp, so the stamp never vouches for newer bytes)."""
    fd = open_regular(path, dir_fd, check_kind=False)
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            if stat.S_ISDIR(st.st_mode):
                raise IsADirectoryError(errno.EISDIR, "is a folder")
            raise NotRegularFile()
        return st, read_fd(fd, limit)
    finally:
        os.close(fd)


def _refuse_irregular(fd: int) -> None:
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        raise NotRegularFile()


def hole_end(fd: int, position: int, end: int) -> int:
    """Where data starts again after `position`, if it is in a hole of a sparse file (else
    `position`): a hole reads as NULs, so a reader of garbage may skip it unread."""
    try:
        return min(os.lseek(fd, position, os.SEEK_DATA), end)
    except OSError:  # ENXIO: only a hole until the end; or SEEK_DATA unsupported
        try:
            return end if os.lseek(fd, position, os.SEEK_HOLE) == position else position
        except OSError:
            return position


def open_beneath(base: str, relative: str) -> int:
    """`open_regular` of `base/relative` where no component below `base` may be a symlink
    (each folder is opened with O_NOFOLLOW, relative to the one before)."""
    *folders, name = relative.split("/")
    if not folders:
        return open_regular(os.path.join(base, name))
    fd = None  # `base` itself may be a symlink (a symlinked run folder); nothing below it may
    try:
        for folder in folders:
            path = os.path.join(base, folder) if fd is None else folder
            try:
                inner = os.open(path, DIR_FLAGS, dir_fd=fd)
            except OSError as exc:
                if exc.errno in (errno.ELOOP, errno.ENOTDIR) and _is_symlink(path, fd):
                    raise OSError(errno.ELOOP, f"{folder} is " + SYMLINK_NOT_READ) from None
                raise
            if fd is not None:
                os.close(fd)
            fd = inner
        return open_regular(name, fd)
    finally:
        if fd is not None:
            os.close(fd)


def read_head(path: str, size: int, follow: bool = False) -> bytes:
    """The first `size` bytes of a regular file (b"" for anything else, a FIFO never blocks):
    enough to recognise a format. `follow`: the path itself may be a symlink (what the user typed)."""
    try:
        fd = os.open(path, READ_FLAGS & ~os.O_NOFOLLOW if follow else READ_FLAGS)
    except OSError:
        return b""
    try:
        return os.read(fd, size) if stat.S_ISREG(os.fstat(fd).st_mode) else b""
    except OSError:
        return b""
    finally:
        os.close(fd)


def _is_symlink(path: str, dir_fd: int | None) -> bool:
    try:
        return stat.S_ISLNK(os.lstat(path, dir_fd=dir_fd).st_mode)
    except OSError:
        return False


def walk_keys(folder: str, problems: list[tuple[str, str]],
              on_folder: Callable[[str, os.stat_result | None], None] | None = None,
              ) -> Iterator[tuple[str, int, str]]:
    """(key, dir_fd, name) for every file under a `params/`, `tags/` or `metrics/` folder: open
    it with `open_regular(name, dir_fd)` (or `read_bytes`) before asking for the next one.

    Keys with `/` are nested folders, as MLflow stores them. Symlinks are not followed, neither the
    folder itself nor anything in it (MLflow's `os.walk` does not follow symlinked folders either),
    so a symlink loop cannot trap the walk and nothing outside the run is read. A missing folder
    yields nothing; a symlink or an unreadable entry adds a (key, message) problem.
    `on_folder(prefix, stat)`: told of each folder opened ("" for `folder` itself, whose stat is
    None when it is missing), before it is listed: the read cache's stamps.
    """
    try:
        top = os.open(folder, DIR_FLAGS)
    except FileNotFoundError:
        if on_folder is not None:
            on_folder("", None)
        return
    except OSError as exc:
        if _is_symlink(folder, None):
            problems.append(("", "the folder is " + SYMLINK_NOT_READ))
        else:
            problems.append(("", f"cannot list folder ({reason(exc)})"))
        return
    stack: list[tuple[str, int, Iterator[os.DirEntry]]] = []

    def enter(prefix: str, fd: int) -> None:
        try:
            if on_folder is not None:
                on_folder(prefix.rstrip("/"), os.fstat(fd))
            entries = list(os.scandir(fd))
        except OSError as exc:
            problems.append((prefix.rstrip("/"), f"cannot list folder ({reason(exc)})"))
            entries = []
        stack.append((prefix, fd, iter(entries)))

    enter("", top)
    try:
        while stack:  # depth first: one descriptor open per level, however wide a folder is
            prefix, fd, entries = stack[-1]
            entry = next(entries, None)
            if entry is None:
                stack.pop()
                os.close(fd)
                continue
            key = prefix + entry.name
            try:
                if entry.is_file(follow_symlinks=False):  # d_type: no system call
                    yield key, fd, entry.name
                elif entry.is_dir(follow_symlinks=False):
                    enter(key + "/", os.open(entry.name, DIR_FLAGS, dir_fd=fd))
                elif entry.is_dir():
                    problems.append((key, "a symlinked folder; not followed (MLflow ignores it too)"))
                elif entry.is_symlink():
                    problems.append((key, SYMLINK_NOT_READ))
                else:
                    problems.append((key, "not a regular file; ignored"))
            except OSError as exc:
                problems.append((key, f"{reason(exc)}; ignored"))
    finally:
        for _, fd, _ in stack:
            os.close(fd)


def symlinked_parts(run_dir: str, kinds: tuple[str, ...] = ("params", "tags", "metrics")) -> list[str]:
    """The parts of a run folder that are symlinks: meta.yaml, a key folder, or anything in one
    (relative paths). Empty for a healthy run."""
    found = []
    if _is_symlink(os.path.join(run_dir, "meta.yaml"), None):
        found.append("meta.yaml")
    for kind in kinds:
        path = os.path.join(run_dir, kind)
        if _is_symlink(path, None):
            found.append(kind)
            continue
        stack = [path]
        while stack:
            folder = stack.pop()
            try:
                entries = list(os.scandir(folder))
            except OSError:
                continue
            for entry in entries:
                if entry.is_symlink():
                    found.append(os.path.relpath(entry.path, run_dir))
                elif entry.is_dir(follow_symlinks=False):
                    stack.append(entry.path)
    return found


def refuse_symlinked_parts(run_dir: str) -> None:
    """Called before any change to a run: a run with a symlinked part is not written through
    (a tag written or removed there could change a file outside the store)."""
    found = symlinked_parts(os.fspath(run_dir))
    if found:
        more = f" (and {len(found) - 1} more)" if len(found) > 1 else ""
        raise ChangeRefused(f"{os.path.basename(os.fspath(run_dir))}: {found[0]}{more} is a symlink; "
                            "tuitrack changes nothing through a symlink (replace it with the real file or folder)")


def reason(exc: OSError) -> str:
    """An OSError as a short lower-case phrase: 'permission denied', 'too many levels of symbolic links'."""
    if exc.strerror and exc.strerror[:1].islower():  # our own messages, already phrased
        return exc.strerror
    return exc.strerror.lower() if exc.strerror else str(exc)
