"""inotify where changes happen: the store's top, its experiment folders, and the runs that write.

watchdog's recursive observer puts a watch on every folder of the store before it reports
anything: about 300,000 at 50,000 runs, tens of seconds, and past the kernel's budget (shared with
every other program of the user) it silently skips folders. Here one inotify instance (through
watchdog's ctypes bindings of inotify_init / inotify_add_watch) watches chosen folders:

- the root, `.trash` and every experiment folder (new and removed runs, experiment metas);
- for each run that is hot (running, or new since watching began), its folder (meta.yaml) and its
  `metrics/`, `params/` and `tags/` folders with their sub-folders (keys with `/`); or every
  run, while the store is small enough for the whole of it to be watched.

A cold run that changes (another tool re-tags a finished run) is found by the sweep (live/sweep.py),
which also covers watches the kernel refused: they are counted, and the status says so.

Events are coalesced where they are read: 20 scripts logging 50 points a second make 2,000
events a second (a write and a close each). The reader thread lets them gather for COALESCE_S,
reads them all at once, and hands on one set of the paths they name per read, to the debouncer,
which gathers reads into batches. No Python object is made per event, and none is kept per watch
but its path.
"""

from __future__ import annotations

import ctypes
import errno
import os
import select
import struct
import threading
import time
from collections.abc import Callable, Iterable

from watchdog.observers.inotify_c import InotifyConstants as In
from watchdog.observers.inotify_c import inotify_add_watch, inotify_init, inotify_rm_watch

MASK = (In.IN_MODIFY | In.IN_CLOSE_WRITE | In.IN_CREATE | In.IN_DELETE | In.IN_MOVED_FROM | In.IN_MOVED_TO
        | In.IN_DELETE_SELF | In.IN_MOVE_SELF | In.IN_ONLYDIR | In.IN_DONT_FOLLOW | In.IN_EXCL_UNLINK)
RUN_PARTS = ("metrics", "params", "tags")  # where a run's keys live (artifacts are not watched)
RESERVED = frozenset({"tags", "datasets", "traces", "models"})  # inside an experiment: not runs
WHOLE_STORE_BUDGET = 50_000  # watches: a store needing no more than this is watched whole
COALESCE_S = 0.02  # after an event, how long the reader lets more gather before reading them all
READ_BYTES = 256 * 1024  # one read: about 8,000 events
_HEADER = struct.Struct("iIII")  # struct inotify_event: wd, mask, cookie, length of the name
_NEW_FOLDER = In.IN_CREATE | In.IN_MOVED_TO


def _add_watch(fd: int, folder: str) -> int:
    """inotify_add_watch; OSError with the reason when the kernel says no."""
    wd = inotify_add_watch(fd, os.fsencode(folder), MASK)
    if wd == -1:
        code = ctypes.get_errno()
        raise OSError(code, os.strerror(code))
    return wd


class FolderWatcher:
    """Watches the top of a folder store and the runs it is given, feeding `hand_on`.

    `start` watches the top and the experiments (the listing of runs is not needed for that, so
    watching begins before the runs are read); `watch_listed` then takes the runs as they are
    listed, the hot ones first (watching 10,000 runs costs 0.7 s of CPU: not while they load),
    every one later while the store fits the budget; `refresh` follows which runs are hot."""

    def __init__(self, root: str, hand_on: Callable[[Iterable[str]], None],
                 hot_runs: Callable[[], list[str]] = lambda: [],
                 on_overflow: Callable[[], None] = lambda: None, budget: int = WHOLE_STORE_BUDGET):
        self.root = os.path.abspath(root)
        self.hand_on = hand_on
        self.hot_runs = hot_runs  # the run folders to watch now (running, or written recently)
        self.on_overflow = on_overflow
        self.budget = budget
        self.refused = 0  # watches the kernel would not add (its budget is used up)
        self.overflows = 0  # times the kernel's queue of events overflowed (events were lost)
        self.whole = False  # every run watched (a small store), or only the hot ones
        self._lock = threading.Lock()
        self._watched: dict[str, int] = {}  # folder -> watch descriptor
        self._folder_of: dict[int, str] = {}  # watch descriptor -> folder
        self._runs: set[str] = set()  # run folders watched
        self._fd: int | None = None
        self._wake: tuple[int, int] | None = None  # a pipe that wakes the reader to stop
        self._stopped = threading.Event()

    # -- starting and stopping ------------------------------------------------------------------

    def start(self) -> None:
        """Watch the top and the experiments, and decide whether every run can be watched (from
        how many run folders the experiments hold). Raises OSError when inotify itself cannot be
        had (no instances left); a refused watch only counts."""
        fd = inotify_init()
        if fd == -1:
            code = ctypes.get_errno()
            raise OSError(code, os.strerror(code))
        self._fd, self._wake = fd, os.pipe()
        threading.Thread(target=self._read, args=(fd, self._wake), name="tuitrack-inotify", daemon=True).start()
        self.watch(self.root)
        runs = 0
        for base in (self.root, os.path.join(self.root, ".trash")):
            if base != self.root:
                self.watch(base)
            for experiment in _subfolders(base):
                self.watch(experiment)
                self._watch_tree(os.path.join(experiment, "tags"))
                runs += _count_entries(experiment)
        self.whole = runs * (1 + len(RUN_PARTS)) <= self.budget

    def watch_listed(self, run_dirs: Iterable[tuple[str, bool]], cold_too: bool = True) -> None:
        """Runs, each with whether it is hot: the hot ones watched (before their data is read, so
        that what they log from then on is seen), the others too if the store fits the budget
        and `cold_too`."""
        for run_dir, hot in run_dirs:
            if (hot or (cold_too and self.whole)) and run_dir not in self._runs:
                self.watch_run(run_dir)

    def stop(self) -> None:
        """The reader thread closes the inotify instance (and with it every watch) as it ends."""
        with self._lock:  # not while the reader closes the pipe (it ended on its own)
            wake, self._wake, self._fd = self._wake, None, None
            if wake is not None:
                self._stopped.set()
                os.write(wake[1], b"!")

    @property
    def watches(self) -> int:
        return len(self._watched)

    def describe(self) -> str:
        what = "every run" if self.whole else f"{len(self._runs)} active run(s), the rest swept"
        refused = f"; {self.refused} folder(s) not watched (inotify limit), swept" if self.refused else ""
        return f"live (inotify: {what}{refused})"

    # -- reading events (its own thread) --------------------------------------------------------

    def _read(self, fd: int, wake: tuple[int, int]) -> None:
        poller = select.poll()
        poller.register(fd, select.POLLIN)
        poller.register(wake[0], select.POLLIN)
        try:
            while not self._stopped.is_set():
                poller.poll()
                if self._stopped.is_set():
                    break
                time.sleep(COALESCE_S)  # let the rest of a burst arrive: one read, one hand-on
                try:
                    data = os.read(fd, READ_BYTES)
                except OSError as exc:
                    if exc.errno == errno.EINTR:
                        continue
                    break
                self._handle(data)
        finally:
            with self._lock:
                self._wake = self._fd = None
                for end in (fd, *wake):
                    os.close(end)

    def _handle(self, data: bytes) -> None:
        """The events of one read: the folders they made watched (before anything reads them,
        so nothing written into them is missed), their paths handed on as one set, then an
        overflow (events were lost: the sweep looks at everything)."""
        named: set[tuple[int, bytes]] = set()
        made: list[tuple[int, bytes]] = []
        overflow = False
        at, end, unpack = 0, len(data), _HEADER.unpack_from
        while at + 16 <= end:
            wd, mask, _, length = unpack(data, at)
            name = data[at + 16 : at + 16 + length].rstrip(b"\0")
            at += 16 + length
            if mask & In.IN_Q_OVERFLOW:
                overflow = True
            elif mask & In.IN_IGNORED:  # the watch is gone (its folder deleted, or unwatched)
                self._forget(wd)
            else:
                named.add((wd, name))
                if mask & In.IN_ISDIR and mask & _NEW_FOLDER:
                    made.append((wd, name))
        folders = self._folder_of
        for wd, name in made:
            folder = folders.get(wd)
            if folder is not None:
                self.folder_appeared(folder, os.path.join(folder, os.fsdecode(name)))
        paths = set()
        for wd, name in named:
            folder = folders.get(wd)
            if folder is not None:
                paths.add(os.path.join(folder, os.fsdecode(name)) if name else folder)
        if overflow:
            # Lost events may be points appended to a watched run's metrics: every watched run
            # is read again now (the sweep this asks for finds them too, but walks the store).
            self.overflows += 1
            with self._lock:
                paths.update(self._runs)
        if paths:
            self.hand_on(paths)
        if overflow:
            self.on_overflow()

    # -- watches ------------------------------------------------------------------------------

    def watch(self, folder: str) -> bool:
        fd = self._fd
        if fd is None:
            return False
        with self._lock:
            if folder in self._watched:
                return True
        try:
            wd = _add_watch(fd, folder)
        except OSError as exc:
            if exc.errno == errno.ENOSPC:  # out of watches: the sweep covers this folder
                self.refused += 1
            return False  # gone already, or not a folder (ENOENT, ENOTDIR): nothing to watch
        with self._lock:
            moved = self._folder_of.get(wd)
            if moved is not None and moved != folder:  # the same folder under its new name
                self._watched.pop(moved, None)
            self._watched[folder] = wd
            self._folder_of[wd] = folder
        return True

    def unwatch(self, folder: str) -> None:
        fd = self._fd
        with self._lock:
            wd = self._watched.pop(folder, None)
            if wd is not None:
                self._folder_of.pop(wd, None)
        if fd is not None and wd is not None:
            inotify_rm_watch(fd, wd)  # fails only for a watch the kernel dropped already

    def _forget(self, wd: int) -> None:
        """The kernel dropped the watch (the folder is gone)."""
        with self._lock:
            folder = self._folder_of.pop(wd, None)
            if folder is not None and self._watched.get(folder) == wd:
                del self._watched[folder]
                self._runs.discard(folder)

    def watch_run(self, run_dir: str) -> None:
        with self._lock:
            self._runs.add(run_dir)
        self.watch(run_dir)
        for part in RUN_PARTS:
            self._watch_tree(os.path.join(run_dir, part))

    def unwatch_run(self, run_dir: str) -> None:
        with self._lock:
            self._runs.discard(run_dir)
            folders = [f for f in self._watched if f == run_dir or f.startswith(run_dir + os.sep)]
        for folder in folders:
            self.unwatch(folder)

    def _watch_tree(self, folder: str) -> None:
        stack = [folder]
        while stack:
            current = stack.pop()
            if self.watch(current):
                stack.extend(_subfolders(current, skip_hidden=False))

    def refresh(self) -> None:
        """Watch runs that became hot, stop watching those that cooled (called now and then)."""
        if self.whole or self._fd is None:
            return
        hot = set(self.hot_runs())
        with self._lock:
            watched = set(self._runs)
        for run_dir in hot - watched:
            self.watch_run(run_dir)
        for run_dir in watched - hot:
            self.unwatch_run(run_dir)

    # -- what the events say ------------------------------------------------------------------

    def folder_appeared(self, parent: str, folder: str) -> None:
        """A folder was made in a watched one: a new experiment, a new run, a run's key folder."""
        name = os.path.basename(folder)
        if name.startswith(".") and parent != self.root:
            return  # our own and other tools' temporary folders
        relative = os.path.relpath(folder, self.root).split(os.sep)
        if relative[0] == ".trash":
            relative = relative[1:]
        if len(relative) == 1:  # an experiment (and its tags)
            self.watch(folder)
            self._watch_tree(os.path.join(folder, "tags"))
        elif len(relative) == 2 and relative[1] not in RESERVED:  # a run: new runs are hot
            self.watch_run(folder)
        elif len(relative) >= 3 and relative[2] in RUN_PARTS:
            self._watch_tree(folder)  # a key with `/`, or the metrics/ folder of a new run


def _count_entries(folder: str) -> int:
    """How many entries a folder holds (about as many runs, for an experiment's)."""
    try:
        with os.scandir(folder) as entries:
            return sum(1 for _ in entries)
    except OSError:
        return 0


def _subfolders(folder: str, skip_hidden: bool = True) -> list[str]:
    try:
        with os.scandir(folder) as entries:
            return [e.path for e in entries
                    if not (skip_hidden and e.name.startswith(".")) and e.is_dir(follow_symlinks=False)]
    except OSError:
        return []
