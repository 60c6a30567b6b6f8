"""The lost-update scenario of issue 13, shared by the proof test and bench/bench_concurrent_writes.py.

A real MLflow process ends one run again and again (`set_terminated`, end_time rising by one each
call: MLflow rewrites meta.yaml in place each time) while tuitrack tags, notes and renames the
same run, and a sampler reads meta.yaml as often as it can.

An MLflow update is *lost* when the file goes back to an older end_time and stays there until
MLflow's next write replaces it: nobody put the write back. A fallback that tuitrack repairs
(the value seen before comes back) before MLflow writes again is transient, not a loss.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

MLFLOW_LOOP = """
import os, sys, time
os.environ["MLFLOW_ALLOW_FILE_STORE"] = "true"
from mlflow import MlflowClient
uri, run_id, first, count, seconds, pause = sys.argv[1:7]
first, count, seconds, pause = int(first), int(count), float(seconds), float(pause)
client = MlflowClient(uri)
print("ready", flush=True)
sys.stdin.readline()
deadline = time.monotonic() + seconds
value = None
for i in range(count):
    if time.monotonic() > deadline:
        break
    value = first + i
    client.set_terminated(run_id, status="FINISHED", end_time=value)
    time.sleep(pause)
print("last", value, flush=True)
"""

END_TIME = re.compile(rb"^end_time: (\d+)$", re.M)


class MlflowWriter:
    """The MLflow process: started (MLflow imported) by the constructor, writing after go()."""

    def __init__(self, root: Path, run_id: str, first: int, count: int, seconds: float, pause: float):
        env = {**os.environ, "MLFLOW_ALLOW_FILE_STORE": "true"}
        self.process = subprocess.Popen(
            [sys.executable, "-c", MLFLOW_LOOP, root.as_uri(), run_id, str(first), str(count), str(seconds),
             str(pause)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env)
        assert self.process.stdout is not None and self.process.stdin is not None
        assert self.process.stdout.readline().strip() == "ready"

    def go(self) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write("go\n")
        self.process.stdin.flush()

    def running(self) -> bool:
        return self.process.poll() is None

    def last_written(self) -> int:
        """Waits for the end; the last end_time MLflow wrote."""
        out, _ = self.process.communicate(timeout=120)
        assert self.process.returncode == 0, out
        return int(out.split()[-1])


@dataclass
class Sampler:
    """Reads meta.yaml's end_time in a thread, as often as it can, until stopped."""

    path: Path
    samples: list[int] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)

    def __post_init__(self) -> None:
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                found = END_TIME.search(self.path.read_bytes())
            except OSError:
                found = None
            if found:  # an empty file is MLflow's truncate-then-write in progress
                value = int(found.group(1))
                if not self.samples or self.samples[-1] != value:
                    self.samples.append(value)
            time.sleep(0.0002)

    def stop(self) -> list[int]:
        self._stop.set()
        self._thread.join()
        return self.samples


@dataclass
class Fallback:
    """end_time went back from `high` to `low`; then `resolved_by` came (None: never)."""

    high: int
    low: int
    resolved_by: int | None

    @property
    def lost(self) -> bool:
        """Nobody put MLflow's write back: only its next write replaced the old value."""
        return self.resolved_by != self.high


def fallbacks(samples: list[int]) -> list[Fallback]:
    found: list[Fallback] = []
    high: int | None = None
    current: Fallback | None = None
    for value in samples:
        if high is not None and value < high:
            if current is None:
                current = Fallback(high, value, None)
                found.append(current)
            continue
        if current is not None:
            current.resolved_by = value
            current = None
        high = value
    return found


@dataclass
class Edits:
    """What tuitrack changed, for checking the final state."""

    count: int = 0
    failures: list[str] = field(default_factory=list)
    tags: dict[str, str] = field(default_factory=dict)
    name: str | None = None
    note: str | None = None


def edit_while(store, run_id: str, keep_going, limit: int) -> Edits:
    """Tag, note and rename the run in turn while keep_going() and fewer than `limit` edits."""
    from tuitrack.store.base import StoreError

    edits = Edits()
    while keep_going() and edits.count < limit:
        i = edits.count
        try:
            run = store.find_run(run_id)
            if i % 3 == 0:
                store.set_tags(run, {f"t{i % 17}": f"v{i}"})
                edits.tags[f"t{i % 17}"] = f"v{i}"
            elif i % 3 == 1:
                store.set_note(run, f"note {i}")
                edits.note = f"note {i}"
            else:
                store.rename_run(run, f"name-{i}")
                edits.name = f"name-{i}"
        except StoreError as exc:
            edits.failures.append(str(exc))
        edits.count += 1
    return edits
