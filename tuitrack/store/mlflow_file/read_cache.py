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

The file is `marshal` data behind a header and a BLAKE2b digest of it: a truncated, corrupt or
foreign file fails the digest or the header before marshal sees a byte of it (marshal is not
meant for untrusted input; this only ever loads bytes tuitrack's own `marshal.dumps` wrote, for
this Python). At 50,000 runs the file is 69 MB: marshal loads it in 0.03 s and decodes every
entry, one by one as its run is asked for, in 0.4 s (JSON: 87 MB, 0.65 s, all at once). Any
failure to read it means an empty cache and one note; it is written again (temp file +
os.replace, 0600 in a 0700 folder), and never grows past MAX_FILE_BYTES.

From HELP_FROM runs a helper process checks and reads runs from the other end of the listing
(read_helper.py: the second core; a check is 900,000 `lstat` calls at 50,000 runs, 1.6 s of one).
"""

from __future__ import annotations

import hashlib
import marshal
import os
import struct
import subprocess
import sys
import tempfile
import time
from array import array
from collections.abc import Callable
from functools import partial
from itertools import chain
from operator import attrgetter

from tuitrack.model import Lifecycle, MetricPoint, Run, RunStatus

FORMAT = 3  # bump when an entry's shape changes: older files are then ignored
MAGIC = b"tuitrack read cache\n"
RACY_NS = 2_000_000_000  # covers filesystems with 1 s and 2 s timestamps, and the kernel's coarse clock
MAX_FILE_BYTES = 256 << 20
MAX_STAMPS = 5_000  # a run with more files than this is read each time (its entry would be huge)
MAX_VALUE_CHARS = 1 << 20  # likewise a run whose params and tags hold more text than this
_MISSING = (1 << 64) - 1  # the size of a stamp for "not there"
_NONE = (_MISSING, 0, 0, 0)
_DIGEST = 32
_FIELDS = attrgetter("st_size", "st_mtime_ns", "st_ctime_ns", "st_ino")  # a stamp, from a stat
LENGTH = struct.Struct("=I")  # the helper's records: each is its length, then marshal data
MET_AFTER = 64  # the helper's records in a row of runs the listing has: they have met, the helper stops
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
    try:
        fd = os.open(run_path, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    except OSError:
        return False
    try:
        try:  # the common case, every file there: C-level loops of lstat calls and fields
            found = list(map(_FIELDS, map(partial(os.lstat, dir_fd=fd), names.split("\0"))))
        except FileNotFoundError:
            found = [_stamp_or_none(name, fd) for name in names.split("\0")]
    except OSError:
        return False
    finally:
        os.close(fd)
    try:
        return array("Q", chain.from_iterable(found)).tobytes() == blob
    except OverflowError:  # a time before 1970
        return False


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


def stat_keys(names: str | list[str], numbers: bytes | array, wanted: tuple[str, ...]) -> tuple | None:
    """The stamps of the `wanted` names as `store.base.stat_key` gives them ((size, mtime_ns,
    inode), or None for missing), from a run's stamp names ("\0"-joined, or a list) and numbers;
    None when one of them was not stamped."""
    places = _places(names, wanted)
    if places is None:
        return None
    if isinstance(numbers, bytes):
        stamps = [_STAMP.unpack_from(numbers, 32 * place) for place in places]
    else:
        stamps = [numbers[4 * place: 4 * place + 4] for place in places]
    return tuple(None if size == _MISSING else (size, mtime, ino) for size, mtime, _, ino in stamps)


_STAMP = struct.Struct("=4Q")  # one stamp in an entry's numbers (array "Q": native order)
_PLACES: dict[tuple[str, tuple[str, ...]], tuple[int, ...] | None] = {}  # most runs share one list of names


def _places(names: str | list[str], wanted: tuple[str, ...]) -> tuple[int, ...] | None:
    key = (names if isinstance(names, str) else "\0".join(names), wanted)
    places = _PLACES.get(key, ())
    if places == ():
        listed = key[0].split("\0")
        places = tuple(listed.index(name) for name in wanted) if all(n in listed for n in wanted) else None
        if len(_PLACES) > 1_000:  # runs of many shapes: start again rather than grow
            _PLACES.clear()
        _PLACES[key] = places
    return places


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
        self._old: dict[str, bytes] | None = None
        self._new: dict[str, bytes] = {}
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

    def _entries(self) -> dict[str, bytes]:
        if self._old is None:
            self._old = {} if self.disabled else self._load()
        return self._old

    def _load(self) -> dict[str, bytes]:
        try:
            fd = os.open(self.path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
        except FileNotFoundError:
            return {}
        except OSError as exc:
            return self._ignored(f"cannot be read ({exc.strerror or exc})")
        try:
            with os.fdopen(fd, "rb") as file:
                data = file.read(MAX_FILE_BYTES + 1)
        except OSError as exc:
            return self._ignored(f"cannot be read ({exc.strerror or exc})")
        head = len(self.header)
        if len(data) > MAX_FILE_BYTES:
            return self._ignored("is too large")
        if not data.startswith(MAGIC):
            return self._ignored("is not a tuitrack read cache")
        if data[:head] != self.header:
            return self._ignored("is of another version or for another store")
        digest, payload = data[head:head + _DIGEST], memoryview(data)[head + _DIGEST:]  # no copy of tens of MiB
        if len(digest) != _DIGEST or hashlib.blake2b(payload, digest_size=_DIGEST).digest() != digest:
            return self._ignored("is truncated or corrupt")
        try:
            entries = marshal.loads(payload)
        except (ValueError, EOFError, TypeError):
            return self._ignored("is corrupt")
        finally:
            payload.release()
        if not isinstance(entries, dict):
            return self._ignored("is corrupt")
        self._digest = bytes(digest)
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
        data = self._entries().get(key)
        news = self._told(key)
        found = self._taken(key, news, run_id, experiment_id)
        if found is not None:  # the helper read the run anew
            if stamped is not None:
                stamped(found[1], found[2])
            return found[0]
        if data is not None:
            try:
                entry = marshal.loads(data)  # bytes tuitrack wrote: the file's digest said so
                verdict = news is True or still_the_same(run_path, entry[0], entry[1])
                self.helped += news is True
                if verdict:
                    run = run_of(entry, run_id, experiment_id)
                    if stamped is not None:
                        stamped(entry[0], entry[1])
                    self._new[key] = data
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
        self._new[key], self.changed = news, True
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
            self._new[key] = entry
        self.changed = True

    # -- writing ----------------------------------------------------------------------------------

    def save(self) -> None:
        """Write what this session read (and entries of experiments it did not list), atomically;
        then `finish`."""
        if self.disabled or self.finished or not self.changed:
            self.finish()
            return
        entries = dict(self._new)
        for key, entry in self._entries().items():
            if key not in entries and key.rpartition("/")[0] not in self._listed:
                entries[key] = entry
        payload = marshal.dumps(entries)
        del entries
        self.finish()  # the entries are in `payload` now: at 50,000 runs a copy less is 65 MB less
        if len(payload) + len(self.header) + _DIGEST > MAX_FILE_BYTES:
            payload = marshal.dumps({})
        try:
            os.makedirs(self.folder, mode=0o700, exist_ok=True)
            if os.stat(self.folder).st_mode & 0o077:
                os.chmod(self.folder, 0o700)
            fd, temp = tempfile.mkstemp(prefix=".tmp-", dir=self.folder)  # 0600
            try:
                with os.fdopen(fd, "wb") as file:  # in pieces: no copy of the payload
                    file.write(self.header)
                    file.write(hashlib.blake2b(payload, digest_size=_DIGEST).digest())
                    file.write(payload)
                os.replace(temp, self.path)
            except BaseException:
                os.unlink(temp)
                raise
        except OSError as exc:
            self.note = f"read cache not saved ({exc.strerror or exc})"

    def finish(self) -> None:
        """The listing is done: let go of the entries (a big store's are tens of MiB). Later reads
        (a live view's) read the store itself."""
        self.finished = True
        self._stop_helper()
        self._old, self._new, self._listed, self._news = {}, {}, set(), {}
