"""inotify where changes happen: the store's top, its experiment folders, and the runs that write.

watchdog's recursive observer puts a watch on every folder of the store before it reports
anything: about 300,000 at 50,000 runs, tens of seconds, and past the kernel's budget (shared with
every other program of the user) it silently skips folders. Here one inotify instance (watchdog's
`InotifyFD`, its low-level wrapper) watches chosen folders:

- the root, `.trash` and every experiment folder (new and removed runs, experiment metas);
- for each run that is hot (running, or new since watching began), its folder (meta.yaml) and its
  `metrics/`, `params/` and `tags/` folders with their sub-folders (keys with `/`); or every
  run, while the store is small enough for the whole of it to be watched.

A cold run that changes (another tool tags a finished run) is found by the sweep (live/sweep.py),
which also covers watches the kernel refused: they are counted, and the status says so. The event
callback runs on inotify's reader thread and only hands paths to the debouncer, which coalesces
thousands of appends into a handful of paths.
"""

from __future__ import annotations

import errno
import os
import threading
from collections.abc import Callable, Iterable

from watchdog.observers.inotify_c import InotifyConstants as In
from watchdog.observers.inotify_c import InotifyEvent, InotifyFD

MASK = (In.IN_MODIFY | In.IN_CLOSE_WRITE | In.IN_CREATE | In.IN_DELETE | In.IN_MOVED_FROM | In.IN_MOVED_TO
        | In.IN_DELETE_SELF | In.IN_MOVE_SELF | In.IN_ONLYDIR | In.IN_DONT_FOLLOW | In.IN_EXCL_UNLINK)
RUN_PARTS = ("metrics", "params", "tags")  # where a run's keys live (artifacts are not watched)
RESERVED = frozenset({"tags", "datasets", "traces", "models"})  # inside an experiment: not runs
WHOLE_STORE_BUDGET = 50_000  # watches: a store needing no more than this is watched whole


class _Folder:
    """The callback of one watched folder: paths of what changed in it go to `hand_on`."""

    __slots__ = ("path", "watcher")

    def __init__(self, path: str, watcher: FolderWatcher):
        self.path, self.watcher = path, watcher

    def on_event(self, event: InotifyEvent) -> None:
        name = os.fsdecode(event.name)
        path = os.path.join(self.path, name) if name else self.path
        self.watcher.hand_on((path,))
        if event.is_create and event.is_directory or event.is_moved_to and event.is_directory:
            self.watcher.folder_appeared(self.path, path)

    def on_watch_deleted(self, wd) -> None:
        self.watcher.forget(self.path)

    def on_queue_overflow(self) -> None:
        self.watcher.overflowed()


class FolderWatcher:
    """Watches the top of a folder store and the runs `is_hot` picks, feeding `hand_on`."""

    def __init__(self, root: str, hand_on: Callable[[Iterable[str]], None],
                 run_dirs: Callable[[], list[str]], hot_runs: Callable[[], list[str]],
                 on_overflow: Callable[[], None] = lambda: None, budget: int = WHOLE_STORE_BUDGET):
        self.root = os.path.abspath(root)
        self.hand_on = hand_on
        self.run_dirs = run_dirs  # every run folder the app knows
        self.hot_runs = hot_runs  # the run folders to watch now (running, or written recently)
        self.on_overflow = on_overflow
        self.budget = budget
        self.refused = 0  # watches the kernel would not add (its budget is used up)
        self.whole = False  # every run watched (a small store), or only the hot ones
        self._lock = threading.Lock()
        self._watched: dict[str, int] = {}  # folder -> watch descriptor
        self._runs: set[str] = set()  # run folders watched
        self._fd: InotifyFD | None = None

    # -- starting and stopping ------------------------------------------------------------------

    def start(self) -> None:
        """Watch the top and the experiments, then the runs. Raises OSError when inotify itself
        cannot be had (no instances left); a refused watch only counts."""
        self._fd = InotifyFD()
        self._fd.start()
        self.watch(self.root)
        for base in (self.root, os.path.join(self.root, ".trash")):
            if base != self.root:
                self.watch(base)
            for experiment in _subfolders(base):
                self.watch(experiment)
                self._watch_tree(os.path.join(experiment, "tags"))
        runs = self.run_dirs()
        self.whole = len(runs) * (1 + len(RUN_PARTS)) <= self.budget
        for run_dir in runs if self.whole else self.hot_runs():
            self.watch_run(run_dir)

    def stop(self) -> None:
        if self._fd is not None:
            self._fd.stop()
            self._fd = None

    @property
    def watches(self) -> int:
        return len(self._watched)

    def describe(self) -> str:
        what = "every run" if self.whole else f"{len(self._runs)} active run(s), the rest swept"
        refused = f"; {self.refused} folder(s) not watched (inotify limit), swept" if self.refused else ""
        return f"live (inotify: {what}{refused})"

    # -- watches ------------------------------------------------------------------------------

    def watch(self, folder: str) -> bool:
        fd = self._fd
        if fd is None:
            return False
        with self._lock:
            if folder in self._watched:
                return True
        try:
            wd = fd.add_callback(os.fsencode(folder), MASK, _Folder(folder, self), id_="tuitrack")
        except OSError as exc:
            if exc.errno == errno.ENOSPC:  # out of watches: the sweep covers this folder
                self.refused += 1
            return False  # gone already, or not a folder (ENOENT, ENOTDIR): nothing to watch
        with self._lock:
            self._watched[folder] = wd
        return True

    def unwatch(self, folder: str) -> None:
        fd = self._fd
        with self._lock:
            wd = self._watched.pop(folder, None)
        if fd is not None and wd is not None:
            try:
                fd.remove_callbacks([(wd, "tuitrack")])
            except (OSError, KeyError):
                pass

    def forget(self, folder: str) -> None:
        """The kernel dropped the watch (the folder is gone)."""
        with self._lock:
            self._watched.pop(folder, None)
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

    # -- what the callbacks report -----------------------------------------------------------

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

    def overflowed(self) -> None:
        self.on_overflow()


def _subfolders(folder: str, skip_hidden: bool = True) -> list[str]:
    try:
        with os.scandir(folder) as entries:
            return [e.path for e in entries
                    if not (skip_hidden and e.name.startswith(".")) and e.is_dir(follow_symlinks=False)]
    except OSError:
        return []
