"""Following a store while it changes: the one object that chooses how, owns the watchers, the
debouncer and the sweep, reads what changed into the index, and hands on each delta.

Folder stores are watched with inotify where changes happen (live/inotify.py), polled on
network filesystems or when asked (`--poll`), and swept for what either misses (live/sweep.py).
Databases and servers are asked what changed, on their files' events and on a timer. A store
that vanishes (its folder deleted or moved, a disk unmounted) is said to be gone, and nothing is
read from it until it is back: read as empty, it would empty the screen.

A folder store watched by inotify is followed from before its runs are read, so that the screen
is live within a second at any size: `start_early` watches the top and the experiments as soon as
those are listed, `listed` watches each experiment's runs as they are listed (before their data
is read: what they log from then on is seen), and `start`, once everything is loaded, begins
the sweeps. The first sweep compares with fingerprints taken before the listing (`baseline`), or
as it reads each run (through the read cache, whose stamps hold them), so what changed before a
run's watch was in place is found too. Other stores start at `start`.

Everything here runs on worker threads: `start` blocks while watches are set up, and batches
arrive on the debouncer's thread. What the follower tells goes through `Listener`, whose
callbacks must be safe to call from any thread (the app posts messages).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from tuitrack.live.index import Delta, RunIndex
from tuitrack.live.inotify import FolderWatcher
from tuitrack.live.sweep import Sweeper
from tuitrack.live.watcher import AskTimer, Debouncer, FileSetWatcher, Mode, PollWatcher, choose_mode
from tuitrack.model import Run, RunStatus
from tuitrack.store.base import StoreError

HOT_FOR_MS = 15 * 60_000  # a run that wrote this recently is watched closely, running or not


@dataclass
class Listener:
    """What a Follower tells, from its threads."""

    delta: Callable[[Delta], None]  # the index changed like this
    status: Callable[[str], None]  # how the store is followed now ("live (inotify: every run)")
    trouble: Callable[[str | None], None]  # asking the store what changed failed (None: works again)
    gone: Callable[[str | None], None]  # the store went away (its path), or came back (None)
    sizes: Callable[[str, list[str]], None]  # disk sizes of these runs (of this experiment) were measured again


class Follower:
    def __init__(self, index: RunIndex, listener: Listener, clock: Callable[[], float] = time.time,
                 poll: float | None = None):
        self.index = index
        self.listener = listener
        self.clock = clock
        self.poll = poll
        self.gone: str | None = None  # the store's path while it is deleted or moved away
        self.watcher = None  # FolderWatcher, PollWatcher, or the parts that ask a database/server
        self.sweeper = Sweeper(index.store, lambda paths: None)
        self._debouncer: Debouncer | None = None
        self._problem: str | None = None  # why asking the store what changed fails now
        self.started = False  # `start` is done: every part is following the store
        self._mode: Mode | None = None  # how a folder store is watched, once chosen

    @property
    def running(self) -> bool:
        return self._debouncer is not None

    # -- starting and stopping ------------------------------------------------------------------

    def baseline(self) -> None:
        """Before the runs are listed: what they look like now, so that the first sweep after
        watching starts finds what changed in between (a run made before the watches were in
        place). Every run is listed next: the store may record each as it reads it. Experiments
        the index has not listed are left out: the sweep reports them."""
        self.sweeper.baseline(known=self._known, listing=True)

    def _known(self, path: str) -> bool:
        change = self.index.store.classify(path)
        return change is not None and change.experiment_id in self.index.experiments

    def start_early(self) -> bool:
        """Before the runs are listed (and before `baseline`, which takes seconds at 50,000
        runs: what changes meanwhile is listed or seen): a folder store that inotify can watch
        is watched from its top now, and said to be live; `listed` adds the runs. False for
        every other store (polled, a database, a server): `start` starts those."""
        store = self.index.store
        if store.watch_root is None:
            return False
        self._mode = mode = choose_mode(store.watch_root, self.poll)
        if mode.polling:
            return False
        debouncer = self._new_debouncer()
        watcher = FolderWatcher(store.watch_root, debouncer.add, self.hot_run_dirs,
                                on_overflow=self.sweeper.sweep_and_hand_on, budget=mode.watch_budget)
        try:
            watcher.start()
        except OSError as exc:  # no inotify instance to be had: polled once loaded
            self._mode = Mode(True, 2.0, f"inotify unavailable ({exc.strerror or exc})")
            debouncer.stop()
            self._debouncer = None
            return False
        self.watcher = watcher
        self.sweeper.after = watcher.refresh
        self.sweeper.hand_on = debouncer.add
        self.listener.status(watcher.describe())
        return True

    def listed(self, runs: list[Run], cold_too: bool = False) -> None:
        """Runs just listed (meta only): the hot ones watched before their data is read; the
        others (a small store has every run watched) once the store is loaded, or now with
        `cold_too`."""
        watcher = self.watcher
        if isinstance(watcher, FolderWatcher):
            folders = self.index.store.run_dirs(runs)
            watcher.watch_listed(((path, self._is_hot(r)) for r, path in zip(runs, folders)), cold_too)
            self.listener.status(watcher.describe())  # how many runs are watched, so far

    def start(self) -> None:
        """Once the runs are loaded: after `start_early`, the sweeps begin; any other store is
        followed from now on (this blocks while watches are set up)."""
        if isinstance(self.watcher, FolderWatcher):
            self.listed(self.index.all_runs(), cold_too=True)  # the cold runs of a small store
            description = self.watcher.describe()
        else:
            self.listener.status("starting to watch…")
            description = self._start_now()
        self.sweeper.start()  # what changed since the baseline, then now and then
        self.started = True
        self.listener.status(description)

    def _start_now(self) -> str:
        store = self.index.store
        if store.watch_root is None:
            self.watcher, description = self._ask(store, self._new_debouncer())
            return description
        if self.start_early():  # inotify, not started before the listing (a caller that did not)
            self.listed(self.index.all_runs(), cold_too=True)
            return self.watcher.describe()
        mode = self._mode
        debouncer = self._new_debouncer()
        self.watcher = PollWatcher(store.watch_root, debouncer, mode.interval, self.hot_run_dirs, self.all_run_dirs)
        self.watcher.start()
        self.sweeper.hand_on = debouncer.add
        return mode.describe()

    def _new_debouncer(self) -> Debouncer:
        self._debouncer = Debouncer(self._on_batch)
        return self._debouncer

    def _ask(self, store, debouncer: Debouncer) -> tuple[_Parts, str]:
        """A database or a server: file events on the database (if any) and a timer both lead to
        `store.changes`, which asks what differs."""
        interval = self.poll or store.ask_every
        if interval is None and not store.watch_files:
            return _Parts([]), "not watched"
        parts: list = []
        how = []
        if store.watch_files and self.poll is None:
            try:
                events = FileSetWatcher(store.watch_files, debouncer)
                events.start()
                parts.append(events)
                how.append("inotify")
            except OSError as exc:
                interval = interval or 2.0
                how.append(f"inotify unavailable: {exc.strerror or exc}")
        if interval is not None:
            timer = AskTimer(debouncer, interval)
            timer.start()
            parts.append(timer)
            how.append(f"asking every {interval:g}s")
        return _Parts(parts), f"live ({', '.join(how)})"

    def stop(self) -> None:
        if self.watcher is not None:
            self.watcher.stop()
            self.watcher = None
        if self._debouncer is not None:
            self._debouncer.stop()
            self._debouncer = None
        self.sweeper.stop()
        self.sweeper = Sweeper(self.index.store, lambda paths: None)  # a stopped one cannot start again
        self.started = False

    # -- which runs are watched closely ----------------------------------------------------------

    def hot_run_dirs(self) -> list[str]:
        """The runs whose files are watched (or polled) closely: running ones, and those that
        wrote in the last HOT_FOR_MS; the sweep looks after the rest."""
        return self.index.store.run_dirs([r for r in self.index.all_runs() if self._is_hot(r)])

    def _is_hot(self, run: Run) -> bool:
        if run.status is RunStatus.RUNNING and not run.is_deleted:
            return True
        return self.clock() * 1000 - (self.index.last_write(run.run_id) or 0) < HOT_FOR_MS

    def all_run_dirs(self) -> list[str]:
        return self.index.store.run_dirs(self.index.all_runs())

    # -- what changed ---------------------------------------------------------------------------

    def check_gone(self) -> bool:
        """Look whether the store is still there (a stat: call it off the UI thread); True while
        it is gone. The listener hears when it goes and when it comes back."""
        path = self.index.store.gone()
        if path != self.gone:
            self.gone = path
            self.listener.gone(path)
        return path is not None

    def _on_batch(self, paths: set[str]) -> None:
        """On the debouncer's thread: read again what changed, and hand on what is different."""
        store = self.index.store
        if self.check_gone():
            return  # a deleted store would read as empty: keep what was there on screen
        try:
            changes = store.changes(paths)
        except StoreError as exc:
            if str(exc) != self._problem:
                self._problem = str(exc)
                self.listener.trouble(str(exc))
            return
        if self._problem is not None:
            self._problem = None
            self.listener.trouble(None)
        if not changes:
            return
        delta = self.index.apply(changes, now_ms=int(self.clock() * 1000))
        for experiment_id in delta.experiments_reloaded:  # one moved in, or out of the trash
            self.listed(self.index.runs_of(experiment_id, include_deleted=True), cold_too=self.started)
        # Runs read again from scratch have no size yet; runs that grew (appends keep the old
        # size) are measured again, now and then.
        self.index.load_disk_sizes(r for r in map(self.index.run, delta.runs_added | delta.runs_changed) if r)
        grown = self.index.remeasure_disk({run_id for run_id, _ in delta.metrics})
        if delta:
            self.listener.delta(delta)
        for experiment_id in {run.experiment_id for run in grown}:
            self.listener.sizes(experiment_id, [run.run_id for run in grown if run.experiment_id == experiment_id])


class _Parts:
    """Several watchers stopped as one."""

    def __init__(self, parts: list):
        self.parts = parts

    def stop(self) -> None:
        for part in self.parts:
            part.stop()
