"""A persistent cache of what listing a file store read, so that opening it again costs a stat per file.

One file per store, outside it: `$XDG_CACHE_HOME/tuitrack/<hash of the store's real path>.cache`
(`~/.cache/tuitrack/` by default), never inside the store. It holds, per run folder, the run as it
was read (meta, params, tags, the latest point of each metric) and a stamp of every file and
folder read for it: (size, mtime_ns, ctime_ns, inode), or "missing". A run is taken from the cache
only when every stamp is the same again (`lstat`): a changed, added or removed file changes its
stamp or its folder's. ctime cannot be set by a program, so a file rewritten in place with the
same size and its old mtime put back still differs.

Git's racy-file rule: a file changed within the filesystem's timestamp granularity of when it was
read may change again without its stamp changing, so a run with any stamp that recent (RACY_NS
before its read began, or later) is not kept: it is read again next time. Nor are runs with
problems, or mini-mlflow's: any doubt means read again.

The file is a header, then one record per run (its folder's key and its entry, `marshal` bytes),
then a BLAKE2b digest of the records: a truncated, corrupt or foreign file fails the digest or the
header before marshal sees a byte of it (marshal is not meant for untrusted input; this only ever
loads bytes tuitrack's own `marshal.dumps` wrote, for this Python). At 50,000 runs the file is
69 MB. It is never held whole: it is checked a block at a time (the digest, and where each
record lies), and each entry is read from it (`pread`, from the descriptor the check read: tuitrack
replaces a cache file, never writes into one) and decoded only when its run is asked for (0.4 s
for all of them; JSON: 87 MB, 0.65 s, all at once). Held whole until the save, it had put the
next open of 50,000 runs at 266 MiB (206 now). The new file is written as the listing goes
(runs read anew at once, unchanged ones at the end, copied from the old file a span at a time):
entries are never held as 50,000 objects, which the allocator would not give back. Any failure
to read it means an empty cache and one note; it is written again (temp file + os.replace, 0600
in a 0700 folder), and never grows past MAX_FILE_BYTES.

From HELP_FROM runs a helper process checks and reads runs from the other end of the listing
(read_helper.py: the second core; a check is 900,000 `lstat` calls at 50,000 runs, 1.6 s of one).
"""

from __future__ import annotations

import contextlib
import hashlib
import marshal
import os
import struct
import subprocess
import sys
import tempfile
import time
import weakref
from array import array
from collections.abc import Callable
from functools import partial
from itertools import chain
from operator import attrgetter

from tuitrack.model import Lifecycle, MetricPoint, Run, RunStatus

FORMAT = 4  # bump when an entry's shape changes: older files are then ignored
MAGIC = b"tuitrack read cache\n"
RACY_NS = 2_000_000_000  # covers filesystems with 1 s and 2 s timestamps, and the kernel's coarse clock
MAX_FILE_BYTES = 256 << 20
MAX_STAMPS = 5_000  # a run with more files than this is read each time (its entry would be huge)
MAX_VALUE_CHARS = 1 << 20  # likewise a run whose params and tags hold more text than this
_MISSING = (1 << 64) - 1  # the size of a stamp for "not there"
_NONE = (_MISSING, 0, 0, 0)
_DIGEST = 32
_FIELDS = attrgetter("st_size", "st_mtime_ns", "st_ctime_ns", "st_ino")  # a stamp, from a stat
RECORD = struct.Struct("=II")  # a record of the file: its key's length (bytes), its entry's length
STALE_SECONDS = 3_600  # a temp file this old in the cache folder is a killed session's: removed
LENGTH = struct.Struct("=I")  # the helper's records: each is its length, then marshal data
MET_AFTER = 64  # the helper's records in a row of runs the listing has: they have met, the helper stops
SCAN_BYTES = 1 << 20  # the cache file is checked, and its kept entries copied, this much at a time
NEIGHBOURS_GAP = RECORD.size + 512  # entries this close (a record's head and key between) are read together
HELP_FROM = 2_000  # runs from which a helper process checks and reads beside the listing (read_helper.py)


def cache_folder() -> str:
    base = os.environ.get("XDG_CACHE_HOME") or ""
    if not os.path.isabs(base):  # the XDG spec: a relative value is ignored
        base = os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "tuitrack")


def _within(path: str, folder: str) -> bool:
    return path == folder or path.startswith(folder.rstrip(os.sep) + os.sep)


class Stamps:
    """The stamps of one run's files as they are read: names, and 4 numbers each."""

    __slots__ = ("names", "numbers", "started")

    def __init__(self) -> None:
        self.started = time.time_ns()  # before the first stat: the racy rule counts from here
        self.names: list[str] = []
        self.numbers = array("Q")

    def add(self, name: str, st: os.stat_result | None) -> None:
        self.names.append(name)
        if st is None:
            self.numbers.extend(_NONE)
        else:  # a time before 1970 is stamped as it will never be read (still_the_same refuses it)
            self.numbers.extend((st.st_size, st.st_mtime_ns & _MISSING, st.st_ctime_ns & _MISSING, st.st_ino))

    def racy(self) -> bool:
        """A stamp changed too close to the read to tell a later change from it."""
        limit = self.started - RACY_NS
        numbers = self.numbers
        return any(numbers[i] != _MISSING and numbers[i + 2] >= limit for i in range(0, len(numbers), 4))


def still_the_same(run_path: str, names: str, blob: bytes) -> bool:
    """Every stamped file and folder of the run has the same stamp again (or is still missing)."""
    return stamps_now(run_path, names) == blob


def stamps_now(run_path: str, names: str) -> bytes | None:
    """The stamps of a run's files and folders `names` ("\0"-joined, relative to the run) as they
    are now, as Stamps numbers them; None when the run cannot be looked at, or a time is before 1970."""
    try:
        fd = os.open(run_path, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    except OSError:
        return None
    try:
        try:  # the common case, every file there: C-level loops of lstat calls and fields
            found = list(map(_FIELDS, map(partial(os.lstat, dir_fd=fd), names.split("\0"))))
        except FileNotFoundError:
            found = [_stamp_or_none(name, fd) for name in names.split("\0")]
    except OSError:
        return None
    finally:
        os.close(fd)
    try:
        return array("Q", chain.from_iterable(found)).tobytes()
    except OverflowError:  # a time before 1970
        return None


def _stamp_or_none(name: str, fd: int) -> tuple[int, int, int, int]:
    try:
        return _FIELDS(os.lstat(name, dir_fd=fd))
    except FileNotFoundError:
        return _NONE


def _cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def entry_of(run: Run, stamps: Stamps) -> bytes | None:
    """What the cache keeps of a run just read, or None when it must be read again next time.
    Each entry is marshal bytes of its own, decoded only when its run is asked for: 50,000 runs'
    entries are about 60 MiB so, and would be over 200 MiB as Python objects."""
    if run.problems or run.dialect or len(stamps.names) > MAX_STAMPS or stamps.racy():
        return None
    if sum(map(len, run.params.values())) + sum(map(len, run.tags.values())) > MAX_VALUE_CHARS:
        return None
    fields = (run.run_name, None if run.status is None else run.status.value, run.lifecycle_stage.value,
              run.start_time, run.end_time, run.deleted_time, run.user_id,
              run.artifacts_moved_from or run.artifact_uri)
    metrics = {key: tuple(point) for key, point in run.metrics.items()}
    return marshal.dumps(("\0".join(stamps.names), stamps.numbers.tobytes(), fields, run.params, run.tags, metrics))


def run_of(entry: tuple, run_id: str, experiment_id: str) -> Run:
    """The run an entry holds (a new object: callers may change it). Raises on a malformed entry.
    Its keys and short values are interned as they were when kept (shared_strings.py)."""
    _, _, fields, params, tags, metrics = entry
    name, status, stage, start, end, deleted, user, uri = fields
    return Run(
        run_id=run_id, experiment_id=experiment_id, run_name=name,
        status=None if status is None else RunStatus(status), lifecycle_stage=Lifecycle(stage),
        start_time=start, end_time=end, deleted_time=deleted, user_id=user, artifact_uri=uri,
        params=params, tags=tags,  # new dicts: the entry was decoded for this call
        metrics={key: MetricPoint(*point) for key, point in metrics.items()},
    )


class NewFile:
    """The cache file being written: a temp file in the cache folder, its records appended as
    runs are kept, made the cache at `commit` (os.replace). Errors are kept, not raised: a cache
    that cannot be written never stops a listing."""

    def __init__(self, folder: str, header: bytes):
        self.folder, self.header = folder, header
        self.error: str | None = None  # why it will not be saved
        self._too_large = False  # past MAX_FILE_BYTES: an empty cache is saved instead
        self._file = None
        self._temp: str | None = None
        self._removal: weakref.finalize | None = None  # of the temp file, at the latest when Python exits
        self._digest = hashlib.blake2b(digest_size=_DIGEST)
        self._size = len(header) + _DIGEST

    def add(self, key: str, entry) -> None:
        if self.error is not None or self._too_large:
            return
        name = os.fsencode(key)
        self._size += RECORD.size + len(name) + len(entry)
        if self._size > MAX_FILE_BYTES:
            self._too_large = True
            self.discard()
            return
        record = b"".join((RECORD.pack(len(name), len(entry)), name, entry))  # one update, one write
        try:
            if self._file is None:
                self._open()
            self._digest.update(record)
            self._file.write(record)
        except OSError as exc:
            self.fail(exc.strerror or str(exc))

    def _open(self) -> None:
        os.makedirs(self.folder, mode=0o700, exist_ok=True)
        if os.stat(self.folder).st_mode & 0o077:
            os.chmod(self.folder, 0o700)
        fd, self._temp = tempfile.mkstemp(prefix=".tmp-", dir=self.folder)  # 0600
        # A session that quits while it loads (or is never saved) leaves no temp file behind.
        self._removal = weakref.finalize(self, _remove_quietly, self._temp)
        self._file = os.fdopen(fd, "wb", buffering=1 << 20)
        self._file.write(self.header)

    def commit(self, path: str) -> str | None:
        """Make what was added the cache file at `path`; why not, when it could not be."""
        if self._too_large:  # an empty cache rather than an old one: it is read again
            self._digest = hashlib.blake2b(digest_size=_DIGEST)
        if self.error is None:
            try:
                if self._file is None:
                    self._open()
                self._file.write(self._digest.digest())
                self._file.close()
                os.replace(self._temp, path)
                self._temp = None
                self._removal.detach()
                _remove_stale(self.folder)
            except OSError as exc:
                self.fail(exc.strerror or str(exc))
        error = self.error
        self.discard()
        return error

    def fail(self, why: str) -> None:
        """It will not be saved: `why` is what `commit` says."""
        self.error = why
        self.discard()

    def discard(self) -> None:
        file, removal, self._file, self._temp, self._removal = self._file, self._removal, None, None, None
        try:
            if file is not None:
                file.close()
        except OSError:
            pass
        finally:
            if removal is not None:
                removal()  # once: a detached or done one does nothing


def _remove_quietly(path: str) -> None:
    with contextlib.suppress(OSError):
        os.unlink(path)


def _remove_stale(folder: str) -> None:
    """Temp files of sessions that were killed while they loaded (each is a cache's size)."""
    old = time.time() - STALE_SECONDS
    with contextlib.suppress(OSError), os.scandir(folder) as entries:
        for entry in entries:
            with contextlib.suppress(OSError):
                if entry.name.startswith(".tmp-") and entry.stat(follow_symlinks=False).st_mtime < old:
                    os.unlink(entry.path)


def _parse(buffer, base: int, end: int, found: dict[str, tuple[int, int]]) -> int:
    """Enter in `found` the whole records at the start of `buffer` (which begins at file offset
    `base`; the records end at `end`); returns how many bytes they take. Raises ValueError for a
    record said to run past `end`."""
    unpack, size, at, length = RECORD.unpack_from, RECORD.size, 0, len(buffer)
    while length - at >= size:
        name_length, entry_length = unpack(buffer, at)
        key_end = at + size + name_length
        entry_end = key_end + entry_length
        if base + entry_end > end:
            raise ValueError("a cut record")
        if entry_end > length:
            break
        found[os.fsdecode(bytes(buffer[at + size:key_end]))] = (base + key_end, base + entry_end)
        at = entry_end
    return at


def _scan(fd: int, start: int, end: int) -> tuple[dict[str, tuple[int, int]], bytes]:
    """Where each entry lies in the file's records (bytes start..end), and their digest, read
    SCAN_BYTES at a time: the file is never held whole. Raises ValueError when the records do not
    fill it exactly, OSError when it cannot be read."""
    hasher = hashlib.blake2b(digest_size=_DIGEST)
    found: dict[str, tuple[int, int]] = {}
    pending, base, at = bytearray(), start, start  # pending: the bytes from `base` not parsed yet
    while at < end:
        block = os.pread(fd, min(SCAN_BYTES, end - at), at)
        if not block:
            raise ValueError("a cut file")
        hasher.update(block)
        at += len(block)
        pending += block
        used = _parse(pending, base, end, found)
        del pending[:used]
        base += used
    if pending:
        raise ValueError("a cut record")
    return found, hasher.digest()


class ReadCache:
    """The cache of one store: entries loaded once, kept or replaced as runs are read, saved."""

    def __init__(self, root: str, folder: str | None = None, helper_cores: int = 2):
        self.root = os.path.realpath(root)
        self.folder = folder if folder is not None else cache_folder()
        digest = hashlib.blake2b(os.fsencode(self.root), digest_size=16).hexdigest()
        self.path = os.path.join(self.folder, digest + ".cache")
        self.header = b"%s%d %s %d\n%s\n" % (MAGIC, FORMAT, sys.implementation.cache_tag.encode(),
                                             marshal.version, os.fsencode(self.root))
        self.note: str | None = None  # one line for the user when the cache could not be used
        self.disabled = _within(os.path.realpath(self.folder), self.root)
        if self.disabled:
            self.note = f"read cache not used: its folder {self.folder} is inside the store"
        self._file_closer: weakref.finalize | None = None  # closes the cache file read (its descriptor)
        self._fd = -1  # the cache file read: entries are read from it as they are asked for
        self._old: dict[str, tuple[int, int]] | None = None  # run folder -> where its entry is in the file
        # Run folders this session has an entry for: where it is in the file (unchanged), or None
        # (a new one, written to the new file already).
        self._new: dict[str, tuple[int, int] | None] = {}
        self._file = NewFile(self.folder, self.header)
        self._listed: set[str] = set()  # experiment folders (relative) whose runs were all listed
        self.changed = False
        self.finished = False
        self.hits = self.misses = 0
        self.helper_cores = helper_cores  # a helper process only on machines with this many cores
        self.helped = 0  # hits the helper process checked
        self.read_by_helper = 0  # runs not taken from the cache that the helper read
        self.expected = 0  # run folders a store said it will list
        self._digest: bytes | None = None  # of the file the entries were loaded from
        self._helper: subprocess.Popen | None = None
        self._helper_tried = False
        self._unheard = bytearray()  # the helper's output not yet made into records
        self._news: dict[str, bool | bytes] = {}  # run folder -> what the helper told of it
        self._asked = 0
        self._behind = 0  # the helper's records in a row of runs the listing already has

    # -- reading ----------------------------------------------------------------------------------

    def _entries(self) -> dict[str, tuple[int, int]]:
        if self._old is None:
            self._old = {} if self.disabled else self._load()
        return self._old

    def loaded_digest(self) -> bytes | None:
        """The digest of the cache file the entries were loaded from (loading them); None: none."""
        self._entries()
        return self._digest

    def entry(self, key: str) -> bytes | None:
        """The cache file's entry for run folder `key` (marshal bytes), if it has one."""
        place = self._entries().get(key)
        return None if place is None else self._read(place)

    def _read(self, place: tuple[int, int]) -> bytes | None:
        """An entry's bytes, from the file whose digest was checked (tuitrack replaces a cache
        file, never writes into one: the descriptor's file is as it was checked)."""
        try:
            data = os.pread(self._fd, place[1] - place[0], place[0])
        except OSError:
            return None
        return data if len(data) == place[1] - place[0] else None

    def _load(self) -> dict[str, tuple[int, int]]:
        try:
            fd = os.open(self.path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
        except FileNotFoundError:
            return {}
        except OSError as exc:
            return self._ignored(f"cannot be read ({exc.strerror or exc})")
        closer = weakref.finalize(self, os.close, fd)
        why = None
        try:
            size = os.fstat(fd).st_size
            head = len(self.header)
            start = os.pread(fd, head, 0)
            if size > MAX_FILE_BYTES:
                why = "is too large"
            elif not start.startswith(MAGIC):
                why = "is not a tuitrack read cache"
            elif start != self.header:
                why = "is of another version or for another store"
            elif size < head + _DIGEST:
                why = "is truncated or corrupt"
            else:
                entries, digest = _scan(fd, head, size - _DIGEST)
                if os.pread(fd, _DIGEST, size - _DIGEST) != digest:
                    why = "is truncated or corrupt"
        except ValueError:
            why = "is truncated or corrupt"
        except OSError as exc:
            why = f"cannot be read ({exc.strerror or exc})"
        if why is not None:
            closer()
            return self._ignored(why)
        self._fd, self._file_closer, self._digest = fd, closer, digest
        return entries

    # -- the helper process (read_helper.py) -------------------------------------------------------

    def expect(self, runs: int) -> None:
        """About this many run folders are to be listed (a store says, once it knows): a helper
        process starts when it is worth its start-up."""
        self.expected = max(self.expected, runs)

    def _start_helper(self) -> None:
        if self._helper_tried or self.finished or self.disabled:
            return
        self._helper_tried = True
        if max(self.expected, len(self._entries())) < HELP_FROM or _cores() < self.helper_cores:
            return
        from tuitrack.store.mlflow_file import read_helper  # it imports this module: not at the top

        command = read_helper.helper_command(self.root, self.path, self._digest)
        try:
            helper = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                      stderr=subprocess.DEVNULL, close_fds=True)
        except OSError:
            return
        os.set_blocking(helper.stdout.fileno(), False)
        self._helper = helper

    def _told(self, key: str):
        """What the helper told of this run folder: True (its entry is unchanged), a new entry's
        bytes, or None (nothing yet, or left to the listing)."""
        self._asked += 1
        if self._helper is not None and (key not in self._news or self._asked % 32 == 0):
            self._hear()  # often: a helper whose pipe is full waits
        return self._news.pop(key, None)

    def _hear(self) -> None:
        """Take in every record the helper has written so far, without waiting for more."""
        while self._helper is not None:
            try:
                chunk = os.read(self._helper.stdout.fileno(), 1 << 20)
            except BlockingIOError:
                return
            except OSError:
                chunk = b""
            if not chunk:  # done, or gone: the listing does the rest itself
                self._stop_helper()
                return
            buffer = self._unheard
            buffer += chunk
            at = 0
            while len(buffer) - at >= LENGTH.size:
                size = LENGTH.unpack_from(buffer, at)[0]
                if len(buffer) - at - LENGTH.size < size:
                    break
                key, news = marshal.loads(buffer[at + LENGTH.size: at + LENGTH.size + size])
                at += LENGTH.size + size
                if key in self._new:  # the listing has this run already: the two have met
                    self._behind += 1
                    if self._behind >= MET_AFTER:  # what is left is done too: stop the helper
                        self._stop_helper()
                        return
                elif news is not None:
                    self._news[key], self._behind = news, 0
            del buffer[:at]

    def _stop_helper(self) -> None:
        helper, self._helper = self._helper, None
        if helper is not None:
            helper.kill()
            helper.wait()
            helper.stdout.close()
        self._unheard = bytearray()  # what was heard stays: still true of when the helper found it

    def _ignored(self, why: str) -> dict[str, bytes]:
        self.note = f"read cache {why}; ignored and rebuilt"
        self.changed = True
        return {}

    def run(self, key: str, run_path: str, run_id: str, experiment_id: str,
            stamped: Callable[[str, bytes], None] | None = None) -> Run | None:
        """The cached run of folder `key` (relative to the root), when its files are unchanged.
        `stamped(names, numbers)` is told the stamps that said so."""
        if self.finished:
            return None
        self._start_helper()
        place = self._entries().get(key)
        news = self._told(key)
        found = self._taken(key, news, run_id, experiment_id)
        if found is not None:  # the helper read the run anew
            if stamped is not None:
                stamped(found[1], found[2])
            return found[0]
        data = None if place is None else self._read(place)  # None too when the file cannot be read
        if data is not None:
            try:
                entry = marshal.loads(data)  # bytes tuitrack wrote: the digest said so
                verdict = news is True or still_the_same(run_path, entry[0], entry[1])
                self.helped += news is True
                if verdict:
                    run = run_of(entry, run_id, experiment_id)
                    if stamped is not None:
                        stamped(entry[0], entry[1])
                    self._new[key] = place
                    self.hits += 1
                    return run
            except (TypeError, ValueError, IndexError, AttributeError, EOFError):
                pass  # a malformed entry: read the run
        self.misses += 1
        self.changed = True
        return None

    def helper_read(self, key: str, run_id: str, experiment_id: str) -> tuple[Run, str, bytes] | None:
        """The run of folder `key` as the helper read it (with its stamps' names and numbers),
        when it has: a run listed before the helper got to it needs no reading of its data."""
        if self.finished or self._helper is None and not self._news:
            return None
        return self._taken(key, self._told(key), run_id, experiment_id)

    def _taken(self, key: str, news, run_id: str, experiment_id: str) -> tuple[Run, str, bytes] | None:
        """The run in a new entry the helper told (kept as this session's entry), if it is one."""
        if type(news) is not bytes:
            return None
        try:
            entry = marshal.loads(news)
            found = run_of(entry, run_id, experiment_id), entry[0], entry[1]
        except (TypeError, ValueError, IndexError, AttributeError, EOFError):
            return None
        self._add(key, news)
        self.read_by_helper += 1
        return found

    def listed(self, experiment_folder: str) -> None:
        """Every run folder of this experiment folder was asked for: entries of others are gone."""
        self._listed.add(experiment_folder)

    def keep(self, key: str, run: Run, stamps: Stamps) -> None:
        if self.finished:
            return
        entry = entry_of(run, stamps)
        if entry is not None:
            self._add(key, entry)
        self.changed = True

    def _add(self, key: str, entry: bytes) -> None:
        if not self.disabled:
            self._file.add(key, entry)
        self._new[key], self.changed = None, True

    # -- writing ----------------------------------------------------------------------------------

    def save(self) -> None:
        """Make the new file the cache: the runs read anew are in it already; the unchanged ones
        and those of experiments this session did not list are copied from the old file. Then
        `finish`."""
        if self.disabled or self.finished or not self.changed:
            self.finish()
            return
        kept = [(key, place) for key, place in self._new.items() if place is not None]
        kept += [(key, place) for key, place in self._entries().items()
                 if key not in self._new and key.rpartition("/")[0] not in self._listed]
        add = self._file.add
        for key, entry in self._copied(kept):
            if entry is None:
                self._file.fail("the old cache file could not be read")
                break
            add(key, entry)
        error = self._file.commit(self.path)
        if error is not None:
            self.note = f"read cache not saved ({error})"
        self.finish()

    def finish(self) -> None:
        """The listing is done: let go of the entries (a big store's are tens of MiB, in one
        block: given back to the system) and of a new file not saved. Later reads (a live
        view's) read the store itself."""
        self.finished = True
        self._stop_helper()
        self._file.discard()
        if self._file_closer is not None:
            self._file_closer()
        self._fd, self._old, self._new, self._listed, self._news = -1, {}, {}, set(), {}

    def _copied(self, kept: list[tuple[str, tuple[int, int]]]):
        """(key, entry bytes or None) for entries of the old file, in the file's order, read a span
        of neighbours at a time. The listing asks for them in its own order, which is not the
        file's once a session wrote the runs it read anew first: spans taken in that order ran
        backwards (a failed read, and no cache saved again). Sorted, records never overlap."""
        kept = sorted(kept, key=lambda pair: pair[1])
        at = 0
        while at < len(kept):
            end = at + 1
            while (end < len(kept) and kept[end][1][0] - kept[end - 1][1][1] <= NEIGHBOURS_GAP
                   and kept[end][1][1] - kept[at][1][0] <= SCAN_BYTES):
                end += 1
            first, last = kept[at][1][0], kept[end - 1][1][1]
            span = self._read((first, last))
            for key, (start, stop) in kept[at:end]:
                yield key, None if span is None else span[start - first:stop - first]
            at = end
