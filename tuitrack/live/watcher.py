"""Noticing changes in a store folder: inotify through watchdog, or polling where inotify is blind.

Either way the result is the same: batches of changed paths, handed to a callback on the
watcher's own thread, at most one batch per `debounce` seconds. A training script appending a
thousand metric lines a second makes four thousand inotify events a second; the callback sees
one batch of a handful of paths.

inotify sees nothing of writes made by other machines on NFS, SMB or SSHFS: `choose_mode` polls
there, and `--poll SECONDS` forces polling. Folder stores are otherwise watched where they change
(live/inotify.py) and swept for the rest (live/sweep.py).
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

NETWORK_FILESYSTEMS = frozenset(
    "nfs nfs4 cifs smb3 smbfs fuse.sshfs sshfs 9p lustre gpfs fuse.gcsfuse fuse.s3fs afs ceph glusterfs".split()
)
WATCH_LIMIT_FILE = "/proc/sys/fs/inotify/max_user_watches"

Batch = Callable[[set[str]], None]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Mode:
    """How the store is watched, and why: shown in the status bar."""

    polling: bool
    interval: float
    reason: str
    watch_budget: int = 50_000  # inotify watches tuitrack may take (the kernel's limit is shared)

    def describe(self) -> str:
        if not self.polling:
            return "live (inotify)"
        return f"live (polling every {self.interval:g}s: {self.reason})"


def filesystem_type(path: str, mounts_file: str = "/proc/mounts") -> str | None:
    """The filesystem type of the mount holding `path` (Linux), or None if unknown."""
    try:
        with open(mounts_file) as f:
            mounts = [line.split() for line in f]
    except OSError:
        return None
    path = os.path.realpath(path)
    best, kind = "", None
    for fields in mounts:
        if len(fields) < 3:
            continue
        point = fields[1].replace("\\040", " ")
        if (path == point or path.startswith(point.rstrip("/") + "/")) and len(point) >= len(best):
            best, kind = point, fields[2]
    return kind


def choose_mode(root: str, poll: float | None = None, mounts_file: str = "/proc/mounts",
                limit_file: str = WATCH_LIMIT_FILE) -> Mode:
    """inotify unless asked to poll or on a network filesystem; inotify takes at most half the
    kernel's watch limit (other programs of the user need watches too). A store needing more is
    watched where it changes and swept for the rest (live/inotify.py), not polled."""
    if poll is not None:
        return Mode(True, poll, "asked with --poll")
    kind = filesystem_type(root, mounts_file)
    if kind in NETWORK_FILESYSTEMS:
        return Mode(True, 2.0, f"{kind} filesystem: inotify cannot see other machines' writes")
    try:
        with open(limit_file) as f:
            limit = int(f.read().strip())
    except (OSError, ValueError):
        limit = None
    budget = Mode.watch_budget if limit is None else min(Mode.watch_budget, limit // 2)
    return Mode(False, 0.0, "", watch_budget=budget)


class Debouncer:
    """Collects paths from any thread; calls `on_batch` with them once the burst has settled for
    `delay` seconds, or every `max_wait` seconds during a long burst (so a steady writer still
    updates the screen)."""

    def __init__(self, on_batch: Batch, delay: float = 0.03, max_wait: float = 0.1):
        self.on_batch = on_batch
        self.delay = delay
        self.max_wait = max_wait
        self._paths: set[str] = set()
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._stopped = False
        self._thread = threading.Thread(target=self._run, name="tuitrack-debounce", daemon=True)
        self._thread.start()

    def add(self, paths: Iterable[str]) -> None:
        with self._lock:
            self._paths.update(paths)
        self._wake.set()

    def _run(self) -> None:
        while not self._stopped:
            self._wake.wait()
            first = time.monotonic()
            while not self._stopped:
                self._wake.clear()
                if self._wake.wait(self.delay) is False or time.monotonic() - first >= self.max_wait:
                    break
            with self._lock:
                paths, self._paths = self._paths, set()
            if paths and not self._stopped:
                try:
                    self.on_batch(paths)
                except Exception:  # a bad batch must not stop watching
                    log.exception("handling changed paths failed")

    def stop(self) -> None:
        self._stopped = True
        self._wake.set()


class FileSetWatcher:
    """watchdog on the folders holding a few files (a database and its journal), passing on only
    events about those files: the database's own folder may be busy with artifacts."""

    def __init__(self, files: Iterable[str], debouncer: Debouncer):
        from watchdog.events import FileSystemEventHandler
        from watchdog.observers import Observer

        wanted = {os.path.abspath(f) for f in files}

        class Handler(FileSystemEventHandler):
            def on_any_event(self, event) -> None:
                paths = {os.fsdecode(event.src_path), os.fsdecode(getattr(event, "dest_path", "") or "")}
                hits = paths & wanted
                if hits:
                    debouncer.add(hits)

        self.observer = Observer()
        self.observer.daemon = True
        for folder in {os.path.dirname(f) for f in wanted}:
            self.observer.schedule(Handler(), folder, recursive=False)

    def start(self) -> None:
        self.observer.start()

    def stop(self) -> None:
        self.observer.stop()
        self.observer.join(timeout=2)


class AskTimer:
    """Every `interval` seconds, a batch with no paths: the store is asked what changed (a
    tracking server has no files to watch; a database is asked as a backstop to its events)."""

    def __init__(self, debouncer: Debouncer, interval: float):
        self.debouncer = debouncer
        self.interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="tuitrack-ask", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self.debouncer.add((ASK,))

    def stop(self) -> None:
        self._stop.set()


ASK = "<ask the store>"  # the path an AskTimer batch carries; stores that are asked ignore paths


class PollWatcher:
    """Checks the store with `stat` every `interval` seconds, in proportion to what is running.

    Each round: the root and `.trash` listings, the files directly in them and in each of their
    folders (meta.yaml; other trackers keep whole runs there), each experiment folder's mtime (a
    run folder added or removed changes it; only then is that experiment listed again), and every file of the
    runs `hot_runs()` names (the running ones, whose metric files grow). Every `full_every`
    rounds, every run's meta.yaml too (a finished run renamed, tagged or deleted elsewhere).
    """

    def __init__(self, root: str, debouncer: Debouncer, interval: float,
                 hot_runs: Callable[[], list[str]], all_runs: Callable[[], list[str]], full_every: int = 10):
        self.root = root
        self.debouncer = debouncer
        self.interval = interval
        self.hot_runs = hot_runs
        self.all_runs = all_runs
        self.full_every = full_every
        self._stats: dict[str, tuple[int, int]] = {}  # path -> (mtime_ns, size)
        self._listings: dict[str, set[str]] = {}  # experiment folder -> its sub-folder names
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="tuitrack-poll", daemon=True)

    def start(self) -> None:
        self.poll_once(full=True)
        self._thread.start()

    def _run(self) -> None:
        rounds = 0
        while not self._stop.wait(self.interval):
            rounds += 1
            try:
                changed = self.poll_once(full=rounds % self.full_every == 0)
            except Exception:
                log.exception("polling the store failed")
                continue
            if changed:
                self.debouncer.add(changed)

    def poll_once(self, full: bool = False) -> set[str]:
        """Paths that changed since the last round (the first round reports nothing)."""
        first = not self._stats
        stats: dict[str, tuple[int, int]] = {}
        changed: set[str] = set()
        for base in (self.root, os.path.join(self.root, ".trash")):
            _stat_files_in(base, stats)  # entrenar's run records live at the top
            for experiment in _subfolders(base):
                _stat(experiment, stats)
                _stat_files_in(experiment, stats)  # meta.yaml; fetch_ml's meta.bin and metrics.bin
                if stats.get(experiment) != self._stats.get(experiment) or experiment not in self._listings:
                    names = {os.path.basename(p) for p in _subfolders(experiment)}
                    before = self._listings.get(experiment, names if first else set())
                    changed |= {os.path.join(experiment, n) for n in names ^ before}
                    self._listings[experiment] = names
        for run_dir in self.hot_runs():
            _stat(os.path.join(run_dir, "meta.yaml"), stats)
            for folder in ("metrics", "params", "tags"):
                for path in _files_under(os.path.join(run_dir, folder)):
                    _stat(path, stats)
        metas = self.all_runs() if full else []
        for run_dir in metas:
            _stat(os.path.join(run_dir, "meta.yaml"), stats)
        if not full:  # what only full rounds look at is not "gone" in the others
            for path, value in self._stats.items():
                stats.setdefault(path, value) if path.endswith("meta.yaml") else None
        if not first:
            changed |= {p for p, v in stats.items() if self._stats.get(p, v) != v or p not in self._stats}
            changed |= self._stats.keys() - stats.keys()
        self._stats = stats
        self._listings = {k: v for k, v in self._listings.items() if os.path.dirname(k) in (self.root, os.path.join(self.root, ".trash"))}
        return changed

    def stop(self) -> None:
        self._stop.set()


def _subfolders(folder: str) -> list[str]:
    try:
        with os.scandir(folder) as entries:
            return [e.path for e in entries if not e.name.startswith(".") and e.is_dir(follow_symlinks=False)]
    except OSError:
        return []


def _files_under(folder: str) -> list[str]:
    out = []
    stack = [folder]
    while stack:
        try:
            with os.scandir(stack.pop()) as entries:
                for entry in entries:
                    if entry.is_dir(follow_symlinks=False):
                        stack.append(entry.path)
                    else:
                        out.append(entry.path)
        except OSError:
            continue
    return out


def _stat_files_in(folder: str, out: dict[str, tuple[int, int]]) -> None:
    """Stat the regular files directly in `folder` (symlinks are not followed)."""
    try:
        with os.scandir(folder) as entries:
            for entry in entries:
                if entry.is_file(follow_symlinks=False):
                    st = entry.stat(follow_symlinks=False)
                    out[entry.path] = (st.st_mtime_ns, st.st_size)
    except OSError:
        return


def _stat(path: str, out: dict[str, tuple[int, int]]) -> None:
    try:
        st = os.stat(path, follow_symlinks=False)
    except OSError:
        return
    out[path] = (st.st_mtime_ns, st.st_size)
