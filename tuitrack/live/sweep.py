"""Looking at the whole store again now and then, for what a watcher did not see.

inotify misses things: a run made after the app listed the store but before its watches were in
place, events dropped when the kernel's queue overflows, folders past the watch limit, and
polling sees only the hot parts of a store. A sweep takes a stat fingerprint of every experiment
and run (the store says which files tell a change, `Store.fingerprints`) and hands the paths whose
fingerprint differs from the last sweep's to the same debouncer the watcher feeds.

A sweep of 10,000 runs is about 190,000 stats (a stat of every file a run is read from: 0.6 s
of CPU). It runs once right after watching starts (closing the gap since the listing), then every
`every` seconds, and never more often than keeps its CPU under `MAX_SHARE` of one core (at 10,000
runs, about every two minutes; at 50,000, every ten).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable

from tuitrack.store.base import Store

MAX_SHARE = 0.005  # of one core, at most, spent sweeping (the idle app's budget is 1 %)


class Sweeper:
    def __init__(self, store: Store, hand_on: Callable[[Iterable[str]], None], every: float = 30.0,
                 after: Callable[[], None] = lambda: None):
        self.store = store
        self.hand_on = hand_on  # e.g. Debouncer.add
        self.every = every
        self.after = after  # after each sweep (the watcher looks again at which runs are hot)
        self._sweeping = threading.Lock()  # a queue overflow may ask for a sweep at any time
        self.last_duration = 0.0  # wall seconds the last sweep took
        self.last_cpu = 0.0  # CPU seconds it took (this thread's)
        # path -> the hash of its fingerprint, as the last sweep found it
        self._last: dict[str, int] | None = None
        self._recording = False  # the store records the baseline as it lists (`baseline`)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def works(self) -> bool:
        """False for stores that are asked what changed (databases, servers): nothing to sweep."""
        return self._last is not None

    def baseline(self, known: Callable[[str], bool] = lambda path: True, listing: bool = False) -> None:
        """The fingerprints the first sweep compares with, taken before the runs are listed.
        Paths `known` says no to (experiments listed after... or not at all) are left out, so the
        first sweep reports them. When a `listing` of every run follows, a store that can records
        each run's as the listing reads it (`Store.record_fingerprints`: no pass of its own)."""
        if listing and self.store.record_fingerprints(known):
            self._recording = True
            self._last = {}
            return
        found = self.store.fingerprints()
        self._last = None if found is None else {path: print_ for path, print_ in found.items() if known(path)}

    def _recorded(self) -> None:
        """The listing is over (or a sweep cannot wait for it): its fingerprints become the baseline.
        A run it did not read yet is new to the first sweep, which hands it on."""
        if self._recording:
            self._recording = False
            self._last = self.store.recorded_fingerprints()

    def sweep(self) -> set[str]:
        """The paths whose fingerprint changed, appeared or vanished since the last sweep."""
        with self._sweeping:
            self._recorded()
            if self._last is None:
                return set()
            started, cpu = time.perf_counter(), time.thread_time()
            now = self.store.fingerprints() or {}
            changed = {path for path in now.keys() | self._last.keys() if now.get(path) != self._last.get(path)}
            self._last = now
            self.last_duration = time.perf_counter() - started
            self.last_cpu = time.thread_time() - cpu
            return changed

    def sweep_and_hand_on(self) -> set[str]:
        changed = self.sweep()
        if changed:
            self.hand_on(changed)
        self.after()
        return changed

    def start(self) -> None:
        """Sweep at once, then every `every` seconds, on a thread of its own until `stop` (the
        caller does not wait for the first sweep: it takes seconds on a large store)."""
        if not self.works:
            return
        with self._sweeping:
            self._recorded()
        self._thread = threading.Thread(target=self._run, name="tuitrack-sweep", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            self.sweep_and_hand_on()
        except Exception:  # the store vanished meanwhile: the next sweep tries again
            pass
        while not self._stop.wait(self.interval()):
            try:
                self.sweep_and_hand_on()
            except Exception:  # a sweep that fails (the store vanished) must not end the thread
                continue

    def interval(self) -> float:
        """Seconds until the next sweep: `every`, or longer when a sweep costs much CPU."""
        return max(self.every, self.last_cpu / MAX_SHARE)

    def stop(self) -> None:
        self._stop.set()
