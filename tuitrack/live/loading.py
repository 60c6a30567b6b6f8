"""Loading a store for the screen, in the order that lets the screen paint first and stay
responsive: the screen renders what it is told; this reads.

1. the experiments (one meta.yaml each), then a wait until the screen painted them;
2. following begins (a folder store is watched from here on, live/follow.py: each experiment's
   runs as they are listed, so nothing a script writes meanwhile is missed);
3. each experiment's runs, meta only (the tree), the one the user asks for first (`hurry`); the
   screen is told at most every LIST_TELL_EVERY_S; the first experiment with runs (the one the
   screen shows) and one the user asks for before it is listed have their data read at once (4);
4. each experiment's runs' data (the table's columns), DATA_CHUNK runs at a time; the screen is
   told of an experiment's first chunk at once, then at most every TELL_EVERY_S (and at its end),
   and the GIL is handed to the UI thread each time it is told;
5. done: the read cache is saved; last, the disk sizes (every file of every run: the slowest
   and least urgent).

`run` blocks: call it on a worker thread. What it did is told through `LoadListener`, whose
callbacks must be safe to call from any thread (the app posts messages).
"""

from __future__ import annotations

import collections
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from tuitrack.live.follow import Follower
from tuitrack.live.index import RunIndex
from tuitrack.store.listing import gc_paused

DATA_CHUNK = 200  # runs whose data is read between two looks at what the user asked for
# Seconds of reading between two updates of the screen. Runs from the read cache take 60 us each:
# telling (and yielding) every 200 of them was 250 messages and 0.6 s of sleeps at 50,000 runs,
# a seventh of the next open; read from the files, 200 runs take about as long as this anyway.
TELL_EVERY_S = 0.05
# Seconds between two tellings that experiments' runs are listed (after the first, and but for one
# the user asked for): each repaints the tree, and 20 experiments of 50,000 runs from the read
# cache are listed in about 3 s; told together, 5 repaints do the work of 20.
LIST_TELL_EVERY_S = 0.25
PAINT_WAIT = 2.0  # seconds the loader waits for the screen to paint the experiments, at most


@dataclass
class LoadListener:
    """What a StoreLoader tells, from its thread."""

    experiments: Callable[[], None]  # the experiments are listed
    runs: Callable[[str], None]  # an experiment's runs are listed (meta only)
    data: Callable[[str, list[str]], None]  # these runs of this experiment have their data
    done: Callable[[float], None]  # every run has its data (seconds it took)
    note: Callable[[str], None]  # a line for the user (the read cache could not be used)
    sizes: Callable[[str], None]  # disk sizes of this experiment's runs are measured


class StoreLoader:
    def __init__(self, index: RunIndex, follower: Follower | None, listener: LoadListener):
        self.index = index
        self.follower = follower  # None: the store is not followed (--no-watch)
        self.listener = listener
        self.painted = threading.Event()  # the screen sets it once the experiments are on screen
        self._urgent: collections.deque[str] = collections.deque()

    def hurry(self, experiment_id: str) -> None:
        """The user looks at this experiment: list it, and read its data, next."""
        self._urgent.append(experiment_id)

    def run(self, cancelled: Callable[[], bool] = lambda: False) -> None:
        started = time.perf_counter()
        self.painted.clear()
        index, follower, tell = self.index, self.follower, self.listener
        if follower is not None:
            index.store.start_counting_changes()
        experiments = index.load_experiments()
        tell.experiments()
        # Let the UI thread paint the tree before this thread competes with it for the GIL.
        self.painted.wait(timeout=PAINT_WAIT)
        early = False
        if follower is not None:
            # What the runs look like now: once loaded, a sweep finds what changed since (a run
            # changed before its watch was in place) and hands it on.
            early = follower.start_early()
            follower.baseline()
        with gc_paused():  # every run read is kept (50,000 runs: 850 collections, 0.5 s)
            self._read_runs([e.experiment_id for e in experiments], early, cancelled)
        if cancelled():
            return
        tell.done(time.perf_counter() - started)
        note = index.store.save_cache()  # the next open reads only what changed
        if note:
            tell.note(note)
        self._measure_disk(experiments, cancelled)

    def _read_runs(self, experiment_ids: list[str], early: bool, cancelled: Callable[[], bool]) -> None:
        """Steps 3 and 4: each experiment's runs, then their data in chunks. The experiment the
        screen shows first (the first with runs), and one the user asks for that is not listed yet,
        has its data read as soon as it is listed: at 50,000 runs listing the rest takes seconds,
        and the table on screen would have no metrics until then. (One asked for that is listed
        already waits for step 4, in its order: `_next` lets go of a request it cannot serve.)"""
        index, tell = self.index, self.listener
        pending = list(experiment_ids)
        needs_data = list(experiment_ids)  # experiments whose data is still to be read (step 4)
        shown = False  # an experiment with runs had its data read at once (the screen shows it)
        held: list[str] = []  # experiments listed that the screen was not told of yet
        told_at = 0.0
        while pending and not cancelled():
            experiment_id, asked = self._next(pending)
            runs = index.load_runs(experiment_id)
            if early:
                self.follower.listed(runs)
            held.append(experiment_id)
            at_once = asked or not shown
            if at_once or not pending or time.perf_counter() - told_at >= LIST_TELL_EVERY_S:
                for listed in held:
                    tell.runs(listed)
                held, told_at = [], time.perf_counter()
            if at_once:
                shown = shown or bool(runs)
                if self._read_data(experiment_id, cancelled):
                    needs_data.remove(experiment_id)
        pending = needs_data
        while pending and not cancelled():
            experiment_id, _ = self._next(pending)
            if not self._read_data(experiment_id, cancelled):
                pending.append(experiment_id)

    def _read_data(self, experiment_id: str, cancelled: Callable[[], bool]) -> bool:
        """Read one experiment's runs' data in chunks, telling the screen of the first at once, then
        at most every TELL_EVERY_S and at the end. False when it stopped before the end: cancelled,
        or the user moved to another experiment (what was read is told first)."""
        index, tell = self.index, self.listener
        runs = index.runs_of(experiment_id, include_deleted=True)
        unsaid: list[str] = []  # runs read whose data the screen was not told of yet
        told_at = None  # when the screen was last told of this experiment
        for start in range(0, len(runs), DATA_CHUNK):
            if cancelled():
                return False
            unsaid += [r.run_id for r in index.load_data(runs[start : start + DATA_CHUNK])]
            urgent = bool(self._urgent)
            last = urgent or start + DATA_CHUNK >= len(runs)
            if unsaid and (last or told_at is None or time.perf_counter() - told_at >= TELL_EVERY_S):
                tell.data(experiment_id, unsaid)
                unsaid, told_at = [], time.perf_counter()
                time.sleep(0.002)  # hand the GIL to the UI thread: keys first, loading second
            if urgent and start + DATA_CHUNK < len(runs):  # the user moved: serve that one first
                return False
        return True

    def _measure_disk(self, experiments, cancelled: Callable[[], bool]) -> None:
        """How much disk each run takes (for prune and the Disk column), in chunks, yielding to the UI."""
        for experiment in experiments if self.index.store.measures_disk else []:
            runs = self.index.runs_of(experiment.experiment_id, include_deleted=True)
            for start in range(0, len(runs), DATA_CHUNK):
                if cancelled():
                    return
                if self.index.load_disk_sizes(runs[start : start + DATA_CHUNK]):
                    self.listener.sizes(experiment.experiment_id)
                time.sleep(0.002)

    def _next(self, pending: list[str]) -> tuple[str, bool]:
        """The experiment to serve next, and whether the user asked for it."""
        while self._urgent:
            wanted = self._urgent.popleft()
            if wanted in pending:
                pending.remove(wanted)
                return wanted, True
        return pending.pop(0), False
